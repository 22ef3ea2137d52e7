/* textkind: what a piece of copied text is, by rules (no model needed).
 *
 * Kinds, checked in this order (the first that fits wins):
 *   secret   anything secrets_find (secrets.h) finds anywhere in the text, whatever its size:
 *            provider tokens, private keys, AWS secret keys, password/token assignments,
 *            credentials in URLs, card numbers (also inside a sentence)
 *   url      one token with a scheme (http, https, ftp, file, ssh, git) or starting with www.
 *   email    one token local@domain.tld
 *   phone    one line of 7-15 digits with +, spaces, dashes, dots or parentheses
 *   color    #rgb, #rrggbb, #rrggbbaa, rgb()/rgba()/hsl()/hsla()
 *   number   one number (sign, decimals, thousands separators, exponent)
 *   path     one line starting with /, ~/ or a drive letter, with a separator
 *   json     an object or array that parses as JSON
 *   command  one line starting with "$ ", a common command (git, sudo, apt, docker, ...), or a
 *            lowercase program name followed by an option ("ssh-keygen -t ed25519")
 *   code     several lines that look like a program; *lang gets a guess
 *            (python, c, javascript, shell, sql, rust, go, java, html, css) or "unknown"
 * NULL: ordinary prose. */
#ifndef TEXTKIND_H
#define TEXTKIND_H

#include <stddef.h>

/* Classifies UTF-8 text. The other kinds are looked for in texts up to 1 MiB (they describe a
 * clip, not a book). Returns a static kind name or NULL; *lang (may be NULL) gets the code
 * language for "code", else NULL. */
const char *textkind_classify(const char *text, size_t len, const char **lang);

#endif
