/* textkind: see textkind.h. Patterns are POSIX extended regexes compiled once; every check but the
 * secret scan (secrets.h, on the whole text) runs on the text trimmed of surrounding whitespace. */
#include "textkind.h"

#include "secrets.h"

#include <ctype.h>
#include <jansson.h>
#include <pthread.h>
#include <regex.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    const char *kind, *re;
} simple;
static const simple simple_res[] = {
    {"url", "^((https?|ftp|file|ssh|git)://[^[:space:]]+|www\\.[^[:space:]]+\\.[a-z]{2,}[^[:space:]]*)$"},
    {"email", "^[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\\.[A-Za-z]{2,}$"},
    {"phone", "^\\+?[0-9 ().-]{7,24}$"},
    {"color", "^(#([0-9A-Fa-f]{3}|[0-9A-Fa-f]{4}|[0-9A-Fa-f]{6}|[0-9A-Fa-f]{8})|(rgba?|hsla?)\\([^)]*\\))$"},
    {"number", "^[-+]?([0-9]{1,3}([,' _][0-9]{3})+|[0-9]+)([.,][0-9]+)?([eE][-+]?[0-9]+)?$"},
    {"path", "^(~?/|[A-Za-z]:\\\\)[^\n]*[/\\\\][^\n]*$|^~?/[^\n/]+$"},
    {"command", "^(\\$ "
                "|(sudo|git|apt|apt-get|docker|kubectl|ssh|scp|curl|wget|make|cd|ls|rm|cp|mv|npm|pip|python3?|cargo|go|"
                "systemctl|journalctl|tar|grep|find|chmod|chown|export) )[^\n]*$"},
    /* any lowercase program followed by an option: "ssh-keygen -t ed25519", "ffmpeg -i in.mp4 ..." */
    {"command", "^[a-z][a-z0-9_.-]*( [^ \n]+)* --?[A-Za-z][^\n]*$"},
};
#define NSIMPLE (sizeof simple_res / sizeof simple_res[0])

static regex_t simple_rx[NSIMPLE];
static int compiled_ok;
static pthread_once_t once = PTHREAD_ONCE_INIT;

static void compile_all(void) {
    compiled_ok = 1;
    for (size_t i = 0; i < NSIMPLE; i++)
        compiled_ok &= regcomp(&simple_rx[i], simple_res[i].re, REG_EXTENDED | REG_NOSUB) == 0;
}

static int count(const char *t, const char *needle) {
    int c = 0;
    for (const char *p = t; (p = strstr(p, needle)); p += strlen(needle)) c++;
    return c;
}

static const char *guess_lang(const char *t) {
    if (!strncmp(t, "#!/bin/sh", 9) || !strncmp(t, "#!/bin/bash", 11) || !strncmp(t, "#!/usr/bin/env bash", 19))
        return "shell";
    if (strstr(t, "#include") || strstr(t, "int main(")) return "c";
    if (strstr(t, "fn ") && (strstr(t, "let ") || strstr(t, "->")) && strstr(t, "{")) return "rust";
    if (strstr(t, "package ") && strstr(t, "func ")) return "go";
    if (strstr(t, "public class ") || strstr(t, "public static void")) return "java";
    if (strstr(t, "def ") || (strstr(t, "import ") && strstr(t, ":\n"))) return "python";
    if (strstr(t, "function ") || strstr(t, "=>") || strstr(t, "const ") || strstr(t, "console.log"))
        return "javascript";
    if (strstr(t, "<html") || strstr(t, "<div") || strstr(t, "</")) return "html";
    char up[64];
    size_t k = 0;
    for (const char *p = t; *p && k < sizeof up - 1; p++) up[k++] = (char)toupper((unsigned char)*p);
    up[k] = 0;
    if ((strstr(up, "SELECT ") && strstr(up, " FROM ")) || strstr(up, "INSERT INTO") || strstr(up, "CREATE TABLE"))
        return "sql";
    if (strstr(t, "{") && strstr(t, ":") && strstr(t, ";") && !strstr(t, "(")) return "css";
    return "unknown";
}

static int looks_like_code(const char *t) {
    int lines = count(t, "\n") + 1;
    if (lines < 2) return 0;
    int marks = count(t, ";\n") + count(t, "{\n") + count(t, "}\n") + count(t, "):\n") + count(t, "    ") / 2 +
                count(t, "\t") + count(t, "return ") + count(t, "def ") + count(t, "#include") + count(t, "function ") +
                count(t, "import ") + count(t, "const ") + count(t, " = ");
    return marks * 2 >= lines;
}

const char *textkind_classify(const char *text, size_t len, const char **lang) {
    if (lang) *lang = NULL;
    pthread_once(&once, compile_all);
    if (len == 0) return NULL;
    /* secrets first, over the whole text whatever its size: store_secrets = false must hold for
     * a private key at the end of a 2 MB paste too (a broken regex library counts as a secret) */
    if (secrets_find(text, len, NULL) != 0) return "secret";
    if (!compiled_ok) return NULL;
    while (len && isspace((unsigned char)*text)) {
        text++;
        len--;
    }
    while (len && isspace((unsigned char)text[len - 1])) len--;
    if (len == 0 || len > (1u << 20)) return NULL; /* rules are for clips, not books */
    char *t = malloc(len + 1);
    if (!t) return NULL;
    memcpy(t, text, len);
    t[len] = 0;
    const char *kind = NULL;
    int one_line = !memchr(t, '\n', len);
    for (size_t i = 0; i < NSIMPLE && !kind; i++) {
        /* number beats phone for plain integers; phone needs a separator or a '+' */
        if (!strcmp(simple_res[i].kind, "phone") &&
            (!one_line || !strpbrk(t, "+ ()-.") || strspn(t, "0123456789") == len))
            continue;
        if ((one_line || !strcmp(simple_res[i].kind, "path")) && regexec(&simple_rx[i], t, 0, NULL, 0) == 0)
            kind = simple_res[i].kind;
    }
    if (!kind && (t[0] == '{' || t[0] == '[')) {
        json_t *j = json_loadb(t, len, JSON_DECODE_ANY, NULL);
        if (j) {
            kind = "json";
            json_decref(j);
        }
    }
    if (!kind && looks_like_code(t)) {
        kind = "code";
        if (lang) *lang = guess_lang(t);
    }
    free(t);
    return kind;
}
