/* secrets: see secrets.h.
 *
 * Each rule is a POSIX extended regex plus "needles": literal words of which at least one must
 * appear (ignoring case) before the regex runs, so the cost on long ordinary texts is a few
 * substring searches per chunk. Texts are scanned in CHUNK-byte windows that overlap by OVERLAP
 * bytes, longer than any match a rule needs, so a secret straddling a border is whole in one
 * window. */
#include "secrets.h"

#include <ctype.h>
#include <jansson.h>
#include <pthread.h>
#include <regex.h>
#include <stdlib.h>
#include <string.h>

#include "../store/store.h"

#define CHUNK   (64u << 10)
#define OVERLAP 2048u

typedef struct {
    const char *name;
    const char *needles; /* '|'-separated literals, any case */
    const char *re;
    int icase;
} secret_rule;

/* Sources: gitleaks config/gitleaks.toml (rule ids in brackets) and detect-secrets plugins. */
static const secret_rule rules[] = {
    /* [aws-access-token] */
    {"aws-access-key-id", "AKIA|ASIA|ABIA|ACCA|AGPA|AIDA|AROA|AIPA|ANPA|ANVA|APKA",
     "(^|[^A-Z0-9])(AKIA|ASIA|ABIA|ACCA|AGPA|AIDA|AROA|AIPA|ANPA|ANVA|APKA)[A-Z0-9]{16}([^A-Z0-9]|$)", 0},
    /* detect-secrets AWSKeyDetector: the secret next to its keyword */
    {"aws-secret-key", "aws", "aws[^\n]{0,20}(secret|key)[^\n]{0,25}[^A-Za-z0-9/+][A-Za-z0-9/+]{40}([^A-Za-z0-9/+=]|$)",
     1},
    /* [github-pat], [github-oauth], [github-app-token], [github-refresh-token], [github-fine-grained-pat] */
    {"github-token", "ghp_|gho_|ghu_|ghs_|ghr_", "gh[pousr]_[A-Za-z0-9]{36}", 0},
    {"github-token", "github_pat_", "github_pat_[A-Za-z0-9_]{60,}", 0},
    /* [gitlab-pat] */
    {"gitlab-token", "glpat-", "glpat-[A-Za-z0-9_-]{20,}", 0},
    /* [slack-bot-token], [slack-user-token]..., [slack-webhook-url] */
    {"slack-token", "xox", "xox[abposr]-[A-Za-z0-9-]{10,}", 0},
    {"slack-webhook", "hooks.slack.com", "hooks\\.slack\\.com/(services|workflows)/[A-Za-z0-9+/_-]{20,}", 0},
    /* [stripe-access-token] */
    {"stripe-key", "sk_live_|sk_test_|rk_live_|rk_test_", "[sr]k_(live|test)_[A-Za-z0-9]{20,}", 0},
    /* [openai-api-key], [anthropic-api-key] */
    {"openai-anthropic-key", "sk-", "(^|[^A-Za-z0-9_-])sk-[A-Za-z0-9_-]{32,}", 0},
    /* [gcp-api-key] */
    {"google-api-key", "AIza", "AIza[0-9A-Za-z_-]{35}", 0},
    /* [private-key]; detect-secrets PrivateKeyDetector */
    {"private-key", "PRIVATE KEY", "-----BEGIN[ A-Z0-9]*PRIVATE KEY( BLOCK)?-----", 0},
    /* [jwt] (gitleaks anchors it with \b); detect-secrets JwtTokenDetector. Not after a token
     * character: unanchored, each "eyJ" in a long run began a scan to the run's end (quadratic) */
    {"jwt", "eyJ", "(^|[^A-Za-z0-9_-])eyJ[A-Za-z0-9_-]{8,}\\.eyJ[A-Za-z0-9_-]{8,}\\.[A-Za-z0-9_-]{8,}", 0},
    /* [npm-access-token] */
    {"npm-token", "npm_", "(^|[^A-Za-z0-9_])npm_[A-Za-z0-9]{36}", 0},
    /* [pypi-upload-token] */
    {"pypi-token", "pypi-AgEIcHlwaS5vcmc", "pypi-AgEIcHlwaS5vcmc[A-Za-z0-9_-]{50,}", 0},
    /* [sendgrid-api-token] */
    {"sendgrid-key", "SG.", "SG\\.[A-Za-z0-9_-]{22}\\.[A-Za-z0-9_-]{43}", 0},
    /* [twilio-api-key] */
    {"twilio-key", "SK", "(^|[^A-Za-z0-9])SK[0-9a-fA-F]{32}([^A-Za-z0-9]|$)", 0},
    /* [telegram-bot-api-token] */
    {"telegram-bot-token", ":A", "(^|[^0-9])[0-9]{5,16}:A[A-Za-z0-9_-]{34}([^A-Za-z0-9_-]|$)", 0},
    /* [azure-storage-account-key]-like connection strings */
    {"azure-storage-key", "AccountKey=", "AccountKey=[A-Za-z0-9+/]{86}==", 0},
    /* detect-secrets BasicAuthDetector: scheme://user:password@host. The scheme is bounded: each
     * letter of a long word before "://" began a scan to its end (quadratic) */
    {"url-credentials", "://", "[a-z][a-z0-9+.-]{0,31}://[^/[:space:]:@]+:[^/[:space:]:@$<{]{3,}@[^[:space:]]", 1},
    /* detect-secrets KeywordDetector; gitleaks [generic-api-key]: a value assigned to a password,
     * secret, token or key name. Placeholders (${X}, <x>, {{x}}, ***, %s) and calls do not count.
     * The name around the keyword is bounded (64 each side): unbounded, each '.' or '-' in a long
     * identifier run began a scan to the end of the window (quadratic: 1 MiB of "key." took a
     * minute, holding capture). */
    {"password-assignment", "pass|pwd|secret|token|key|credential|auth",
     "(^|[^A-Za-z0-9_])[A-Za-z0-9_.-]{0,64}(password|passwd|passphrase|pwd|secret|token|api[_-]?key|access[_-]?key|"
     "private[_-]?key|auth[_-]?key|credentials?)[A-Za-z0-9_.-]{0,64}[\"']?[ \t]*(=|:=|:|=>)[ \t]*"
     "(\"[^\"$<{*%\n][^\"\n]{5,}\"|'[^'$<{*%\n][^'\n]{5,}'|[^[:space:]\"'$<{*%()][^[:space:]\"'()]{5,}([[:space:];,]|$)"
     ")",
     1},
};
#define NRULES (sizeof rules / sizeof rules[0])

static regex_t rx[NRULES];
static int compiled_ok;
static pthread_once_t once = PTHREAD_ONCE_INIT;

static void compile_all(void) {
    compiled_ok = 1;
    for (size_t i = 0; i < NRULES; i++)
        compiled_ok &= regcomp(&rx[i], rules[i].re, REG_EXTENDED | REG_NOSUB | (rules[i].icase ? REG_ICASE : 0)) == 0;
}

/* lower is the chunk in lower case: strstr on it is much faster than strcasestr */
static int any_needle(const char *lower, const char *needles) {
    char one[64];
    for (const char *p = needles; *p;) {
        size_t l = strcspn(p, "|");
        if (l < sizeof one) {
            for (size_t i = 0; i < l; i++) one[i] = (char)tolower((unsigned char)p[i]);
            one[l] = 0;
            if (strstr(lower, one)) return 1;
        }
        p += l;
        if (*p == '|') p++;
    }
    return 0;
}

static int luhn(const int *d, int n) {
    int sum = 0;
    for (int i = n - 1, k = 0; i >= 0; i--, k++) {
        int v = d[i];
        if (k % 2) {
            v *= 2;
            if (v > 9) v -= 9;
        }
        sum += v;
    }
    return sum % 10 == 0;
}

/* Payment card numbers anywhere: a run of 13-19 digits not touching other digits or letters,
 * its digits optionally separated by single spaces or dashes, starting with a card network's
 * digit (2 Mastercard, 3 Amex/Diners/JCB, 4 Visa, 5 Mastercard, 6 Discover/UnionPay/Maestro), and
 * Luhn-valid. Every start position is tried, so "4111111111111111 John Doe" and "my card is
 * 4111-1111-1111-1111." are found; a longer number is tried at each of its lengths. */
static int has_card(const char *t, size_t n) {
    for (size_t i = 0; i < n; i++) {
        if (!isdigit((unsigned char)t[i])) continue;
        if (i > 0 && (isalnum((unsigned char)t[i - 1]) || t[i - 1] == '+' /* a phone number */ ||
                      ((t[i - 1] == '-' || t[i - 1] == '.') && i > 1 && isdigit((unsigned char)t[i - 2]))))
            continue; /* not the start of a number */
        if (t[i] < '2' || t[i] > '6') continue;
        int d[19], k = 0;
        size_t j = i;
        while (j < n && k < 19) {
            if (isdigit((unsigned char)t[j])) {
                d[k++] = t[j] - '0';
                j++;
            } else if ((t[j] == ' ' || t[j] == '-') && j + 1 < n && isdigit((unsigned char)t[j + 1]) && j > i)
                j++;
            else
                break;
            /* the number may end here: the next byte must not continue it */
            int ends = j >= n ||
                       (!isalnum((unsigned char)t[j]) && !((t[j] == ' ' || t[j] == '-' || t[j] == '.' || t[j] == ',') &&
                                                           j + 1 < n && isdigit((unsigned char)t[j + 1])));
            if (k >= 13 && ends && luhn(d, k)) return 1;
        }
    }
    return 0;
}

/* The bare secret of an AWS key pair (or a similar credential) copied on its own: one token of
 * exactly 40 base64 characters mixing upper case, lower case and digits (detect-secrets'
 * Base64HighEntropyString, narrowed to the 40-character shape AWS uses). */
static int bare_aws_secret(const char *t, size_t n) {
    while (n && isspace((unsigned char)*t)) {
        t++;
        n--;
    }
    while (n && isspace((unsigned char)t[n - 1])) n--;
    if (n != 40) return 0;
    int up = 0, lo = 0, dg = 0;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)t[i];
        if (isupper(c))
            up = 1;
        else if (islower(c))
            lo = 1;
        else if (isdigit(c))
            dg = 1;
        else if (c != '/' && c != '+')
            return 0;
    }
    return up && lo && dg;
}

int secrets_find(const char *text, size_t len, const char **rule) {
    if (rule) *rule = NULL;
    pthread_once(&once, compile_all);
    if (!compiled_ok) return -1;
    if (!text || len == 0) return 0;
    if (bare_aws_secret(text, len)) {
        if (rule) *rule = "aws-secret-key";
        return 1;
    }
    if (has_card(text, len)) {
        if (rule) *rule = "card-number";
        return 1;
    }
    size_t bn = (len < CHUNK ? len : CHUNK) + 1;
    char *buf = malloc(2 * bn), *lower = buf + bn;
    if (!buf) return -1;
    int found = 0;
    for (size_t off = 0; off < len && !found;) {
        size_t n = len - off < CHUNK ? len - off : CHUNK;
        memcpy(buf, text + off, n);
        buf[n] = 0;
        /* a NUL inside would hide the rest of the chunk from the regexes: make it a newline */
        for (char *z = memchr(buf, 0, n); z; z = memchr(z, 0, n - (size_t)(z - buf))) *z = '\n';
        for (size_t i = 0; i <= n; i++) lower[i] = (char)tolower((unsigned char)buf[i]);
        for (size_t i = 0; i < NRULES && !found; i++)
            if (any_needle(lower, rules[i].needles) && regexec(&rx[i], buf, 0, NULL, 0) == 0) {
                found = 1;
                if (rule) *rule = rules[i].name;
            }
        if (off + n >= len) break;
        off += n - OVERLAP;
    }
    free(buf);
    return found;
}

int secrets_mask_entry(store_entry *e) {
    int masked = 0;
    /* without memory for the mask the string is emptied in place: never shown as it is */
    if (e->text && e->subkind && !strcmp(e->subkind, "secret")) {
        char *m = strdup(SECRETS_MASK);
        if (m) {
            free(e->text);
            e->text = m;
        } else
            e->text[0] = 0;
        masked = 1;
    }
    if (e->ocr_text && *e->ocr_text && secrets_find(e->ocr_text, strlen(e->ocr_text), NULL) != 0) {
        char *m = strdup(SECRETS_MASK);
        if (m) {
            free(e->ocr_text);
            e->ocr_text = m;
        } else
            e->ocr_text[0] = 0; /* "" (no text read) rather than the secret */
        masked = 1;
    }
    return masked;
}

void secrets_mask_json(json_t *o, const store_entry *e) {
    json_object_set_new(o, "masked", json_true());
    if (e->subkind && !strcmp(e->subkind, "secret")) {
        json_object_del(o, "size");
        json_object_del(o, "sha256");
    }
}
