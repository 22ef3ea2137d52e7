/* cs_log: the log of a long-running process (the daemon and its workers), with a settable sink.
 *
 * Library code never writes to stdout or stderr: it calls cs_log, and main decides where the
 * lines go by installing a sink (`clipseek daemon` writes them to stderr with a time stamp). With
 * no sink installed every line is discarded, so tests and one-shot commands stay quiet.
 * Thread-safe: the sink is called under a lock, one whole line at a time, so lines from several
 * threads never interleave. */
#ifndef CS_LOG_H
#define CS_LOG_H

typedef enum cs_log_level { CS_LOG_DEBUG, CS_LOG_INFO, CS_LOG_WARN, CS_LOG_ERROR } cs_log_level;

/* Receives one formatted line (no trailing newline; control characters already replaced by
 * '?'). msg is borrowed: valid during the call only. */
typedef void (*cs_log_sink)(cs_log_level level, const char *msg, void *arg);

/* Installs sink (NULL: discard everything) for lines at min_level or above; arg is passed to
 * it. Replaces any earlier sink. */
void cs_log_set_sink(cs_log_sink sink, void *arg, cs_log_level min_level);

/* Formats one line (at most 2047 bytes, the rest cut) and hands it to the sink, if any. */
void cs_log(cs_log_level level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#endif
