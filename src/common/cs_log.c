/* cs_log: see cs_log.h. */
#include "cs_log.h"

#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>

static pthread_mutex_t g_lock = PTHREAD_MUTEX_INITIALIZER;
static cs_log_sink g_sink;
static void *g_arg;
static cs_log_level g_min = CS_LOG_INFO;

void cs_log_set_sink(cs_log_sink sink, void *arg, cs_log_level min_level) {
    pthread_mutex_lock(&g_lock);
    g_sink = sink;
    g_arg = arg;
    g_min = min_level;
    pthread_mutex_unlock(&g_lock);
}

void cs_log(cs_log_level level, const char *fmt, ...) {
    char line[2048];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    /* a line carries names from the clipboard and from files: an ESC sequence must not reach a
     * terminal, and a newline must not forge a second log line */
    for (char *c = line; *c; c++)
        if ((unsigned char)*c < 0x20 || *c == 0x7f) *c = '?';
    pthread_mutex_lock(&g_lock);
    if (g_sink && level >= g_min) g_sink(level, line, g_arg);
    pthread_mutex_unlock(&g_lock);
}
