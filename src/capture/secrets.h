/* secrets: does a text contain a credential (a key, a token, a password, a card number)?
 *
 * The rule families follow the two best-kept open scanners, gitleaks' default rules
 * (config/gitleaks.toml) and Yelp's detect-secrets plugins; the patterns are our own, written for
 * POSIX extended regexes and for clipboard text rather than source trees:
 *   - provider tokens of a known shape: AWS access key ids (AKIA/ASIA...), GitHub, GitLab, Slack
 *     (tokens and webhooks), Stripe, OpenAI / Anthropic, Google API keys, npm, PyPI, SendGrid,
 *     Twilio, Telegram bot tokens, Azure storage account keys, JWTs;
 *   - private key blocks (PEM, OpenSSH, PGP) and GCP service-account JSON;
 *   - an AWS secret access key: 40 base64 characters next to an aws/secret keyword or an AWS
 *     access key id (detect-secrets' AWSKeyDetector);
 *   - assignments to a password, secret, token or API-key name: `DB_PASSWORD=...`,
 *     `api_key: "..."`, `"client_secret": "..."` (detect-secrets' KeywordDetector; placeholders
 *     such as ${VAR}, <value>, *** or an empty value do not count);
 *   - credentials in a URL, scheme://user:password@host (detect-secrets' BasicAuthDetector);
 *   - payment card numbers anywhere in the text (13-19 digits, optionally grouped by single
 *     spaces or dashes, a card network's leading digit, Luhn-valid).
 * Any size of text is scanned, in overlapping chunks, so a secret at the end of a 2 MB text or
 * across a chunk border is found. Thread-safe (patterns are compiled once). */
#ifndef SECRETS_H
#define SECRETS_H

#include <stddef.h>

/* Returns 1 when text (len bytes, need not be NUL-terminated) holds a secret, else 0. *rule (may
 * be NULL) gets the name of the first rule that matched (a static string), e.g. "aws-secret-key".
 * Returns -1 when the patterns could not be compiled (a broken C library): callers that guard
 * privacy treat that as a secret. */
int secrets_find(const char *text, size_t len, const char **rule);

/* What output shows instead of a secret: 8 bullets (UTF-8), which say nothing of its length. */
#define SECRETS_MASK                                                                                   \
    "\xe2\x80\xa2\xe2\x80\xa2\xe2\x80\xa2\xe2\x80\xa2\xe2\x80\xa2\xe2\x80\xa2\xe2\x80\xa2\xe2\x80\xa2"

struct store_entry;
/* Hides a secret in output (list, pick, search, unless --reveal): a text entry whose text kind is
 * secret gets SECRETS_MASK as its text, and an image whose OCR text holds a secret (or when the
 * detector fails) the same as OCR text, as the web page does. The replaced strings are freed.
 * Returns 1 if something was masked. */
int secrets_mask_entry(struct store_entry *e);

struct json_t;
/* An entry's JSON object (store_entry_json) that output shows masked: sets "masked": true and, for
 * a text secret, drops "size" and "sha256", which would tell the secret's length and give a hash
 * that finds a short password by trying them all. */
void secrets_mask_json(struct json_t *o, const struct store_entry *e);

#endif
