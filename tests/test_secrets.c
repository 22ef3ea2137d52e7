/* secrets: the forms a secret takes in copied text (each classified "secret"), ordinary text that
 * must not be, any size of text (chunk borders, a key at the end of 2 MB), and the policy:
 * store_secrets = false refuses what the detector finds; min_length and whitespace-only clips. */
#include "../src/capture/capture.h"
#include "../src/config/rules.h"
#include "../src/capture/secrets.h"
#include "../src/capture/textkind.h"
#include "testutil.h"

#include <time.h>

static void expect_secret(const char *text, const char *rule) {
    const char *r = NULL;
    int s = secrets_find(text, strlen(text), &r);
    cr_expect_eq(s, 1, "'%s' should be a secret", text);
    if (s == 1 && rule) cr_expect_str_eq(r, rule, "'%s': rule %s, expected %s", text, r, rule);
    const char *k = textkind_classify(text, strlen(text), NULL);
    cr_expect(k && !strcmp(k, "secret"), "'%s' should classify as secret, got %s", text, k ? k : "prose");
}

static void expect_clean(const char *text) {
    const char *r = NULL;
    cr_expect_eq(secrets_find(text, strlen(text), &r), 0, "'%s' is not a secret (rule %s)", text, r ? r : "");
}

Test(secrets, issue_forms) {
    /* a card number inside a sentence, and followed by a name */
    expect_secret("Please charge my card 4111 1111 1111 1111 for the order, thanks.", "card-number");
    expect_secret("4111111111111111 John Doe", "card-number");
    expect_secret("card: 5500-0000-0000-0004 exp 12/29", "card-number");
    expect_secret("amex 378282246310005.", "card-number");
    /* an AWS secret access key: with its keyword, as a credentials file line, and bare */
    expect_secret("aws_secret_access_key = wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY", "aws-secret-key");
    expect_secret("AWS Secret Access Key: wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY\n", "aws-secret-key");
    expect_secret("wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY", "aws-secret-key");
    /* *_PASSWORD= / *_SECRET= / *_TOKEN= lines */
    expect_secret("DB_PASSWORD=s3cr3t-Pa55", "password-assignment");
    expect_secret("export CLIENT_SECRET=abcdef123456", "password-assignment");
    expect_secret("HOST=db\nGITHUB_TOKEN=0123456789abcdef\nPORT=5432", "password-assignment");
    expect_secret("password: \"correct horse battery\"", "password-assignment");
    expect_secret("{\"api_key\": \"a1b2c3d4e5f6\"}", "password-assignment");
}

Test(secrets, provider_tokens) {
    expect_secret("AKIAIOSFODNN7EXAMPLE", "aws-access-key-id");
    expect_secret("token: ghp_abcdefghijklmnopqrstuvwxyz0123456789AB", "github-token");
    expect_secret("glpat-abcdefghij0123456789", "gitlab-token");
    expect_secret("xoxb-1234567890-abcdefghij", "slack-token");
    expect_secret("https://hooks.slack.com/services/T000/B000/XXXXXXXXXXXXXXXXXXXXXXXX", "slack-webhook");
    expect_secret("sk_live_abcdefghijklmnopqrstuvwx", "stripe-key");
    expect_secret("OPENAI_KEY sk-proj-abcdefghijklmnopqrstuvwxyz0123456789", NULL);
    expect_secret("AIzaSyA1234567890abcdefghijklmnopqrstuv", "google-api-key");
    expect_secret("-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEAAAA\n-----END OPENSSH PRIVATE KEY-----", "private-key");
    expect_secret("-----BEGIN PGP PRIVATE KEY BLOCK-----", "private-key");
    expect_secret("eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0In0.abcdefghijklmnop", "jwt");
    expect_secret("Authorization: Bearer eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0In0.abcdefghijklmnop", "jwt");
    expect_secret("{\"id_token\":\"eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0In0.abcdefghijklmnop\"}", NULL);
    expect_secret("npm_abcdefghijklmnopqrstuvwxyz0123456789", "npm-token");
    expect_secret("SG.abcdefghijklmnopqrstuv.abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG", "sendgrid-key");
    expect_secret("123456789:AAabcdefghijklmnopqrstuvwxyz0123456", "telegram-bot-token");
    expect_secret("git clone https://alice:hunter22@git.example.com/repo.git", "url-credentials");
}

Test(secrets, ordinary_text) {
    expect_clean("the quick brown fox jumps over the lazy dog");
    expect_clean("Order 4111 1111 1111 1112 shipped"); /* fails Luhn */
    expect_clean("call +49 30 1234 5678 9012 3");      /* a phone number, not a card */
    expect_clean("Password: see the wiki");
    expect_clean("DB_PASSWORD=${DB_PASSWORD}");
    expect_clean("password = get_password()");
    expect_clean("the token is in the vault");
    expect_clean("https://example.com/a/b?c=d");
    expect_clean("da39a3ee5e6b4b0d3255bfef95601890afd80709"); /* a SHA-1: hex, one case */
    expect_clean("Meeting moved to 3pm, see you there.");
    expect_clean("");
}

/* A secret at every position around the 64 KiB chunk borders is found. */
Test(secrets, chunk_borders) {
    const char *key = "AKIAIOSFODNN7EXAMPLE";
    size_t n = (200u << 10);
    char *t = malloc(n + 1);
    cr_assert_not_null(t);
    size_t borders[] = {(64u << 10) - 10, (64u << 10) - 2048 + 62 * 1024 - 5, 62u * 1024 * 2 + 64 * 1024 - 3};
    for (size_t b = 0; b < sizeof borders / sizeof borders[0]; b++)
        for (size_t d = 0; d < 24; d += 3) {
            memset(t, 'a', n);
            for (size_t i = 80; i < n; i += 81) t[i] = ' ';
            t[n] = 0;
            size_t at = borders[b] + d;
            t[at - 1] = ' ';
            memcpy(t + at, key, strlen(key));
            t[at + strlen(key)] = ' ';
            cr_expect_eq(secrets_find(t, n, NULL), 1, "key at %zu not found", at);
        }
    memset(t, 'a', n);
    cr_expect_eq(secrets_find(t, n, NULL), 0);
    free(t);
}

/* Adversarial near-matches: identifier runs full of keywords and '.'/'-' starts but no assignment.
 * Each such start once kept the password rule's regex alive to the end of its 64 KiB window
 * (quadratic: 128 KiB of "key." took 9 s, 1 MiB over a minute), holding capture that long; the
 * same for runs of "eyJ" (jwt, 12 s for 128 KiB) and long scheme-like words (26 s). Half a
 * MiB of each shape, with a real assignment at its end, must classify in bounded time. */
Test(secrets, near_matches_bounded_time, .timeout = 30) {
    static char scheme[20004]; /* a long run of scheme letters before "://" (url-credentials) */
    memset(scheme, 'a', 20000);
    memcpy(scheme + 20000, "://", 4);
    const char *units[] = {"key.", "token-a.b_", "x.secret_", "-pwd-", "eyJa" /* jwt */, scheme};
    const char *tail = "\nDB_PASSWORD=s3cr3t-Pa55\n";
    size_t n = 512u << 10;
    char *t = malloc(n + 64);
    cr_assert_not_null(t);
    for (size_t u = 0; u < sizeof units / sizeof units[0]; u++) {
        size_t ul = strlen(units[u]), off = 0;
        while (off + ul <= n) { memcpy(t + off, units[u], ul); off += ul; }
        strcpy(t + off, tail);
        struct timespec a, b;
        clock_gettime(CLOCK_MONOTONIC, &a);
        const char *r = NULL;
        int f = secrets_find(t, off + strlen(tail), &r);
        clock_gettime(CLOCK_MONOTONIC, &b);
        double s = (double)(b.tv_sec - a.tv_sec) + (double)(b.tv_nsec - a.tv_nsec) / 1e9;
        cr_expect_eq(f, 1, "'%s' x %zu: the assignment at the end is found", units[u], n / ul);
        cr_expect_lt(s, 5.0, "'%s' x %zu took %.1f s", units[u], n / ul, s);
    }
    free(t);
}

/* 2 MB of prose with a private key at its end is refused under store_secrets = false. */
Test(secrets, large_text_refused) {
    size_t n = 2u << 20;
    const char *tail = "\n-----BEGIN RSA PRIVATE KEY-----\nMIIEowIBAAKCAQEA\n-----END RSA PRIVATE KEY-----\n";
    char *t = malloc(n + 1);
    cr_assert_not_null(t);
    const char *line = "The quarterly report covers sales, returns and the outlook for next year.\n";
    size_t ll = strlen(line), off = 0;
    while (off + ll < n - strlen(tail)) { memcpy(t + off, line, ll); off += ll; }
    memcpy(t + off, tail, strlen(tail));
    off += strlen(tail);
    t[off] = 0;
    capture_kind k;
    cs_err e;
    cr_assert_eq(capture_classify((const unsigned char *)t, off, "UTF8_STRING", NULL, &k, &e), 0, "%s", e.msg);
    cr_expect_str_eq(k.kind, "text");
    cr_assert_not_null(k.subkind);
    cr_expect_str_eq(k.subkind, "secret");
    const char *conf = "store_secrets = false\n";
    rules *r;
    cr_assert_eq(rules_parse(conf, strlen(conf), "test", &r, &e), 0, "%s", e.msg);
    const char *why = rules_reject(r, k.kind, k.subkind, (const unsigned char *)t, off, NULL);
    cr_expect(why && strstr(why, "secret"), "refused: %s", why ? why : "(stored)");
    rules_free(r);
    /* the same text without the key is not a secret */
    t[off - strlen(tail)] = 0;
    cr_assert_eq(capture_classify((const unsigned char *)t, off - strlen(tail), "UTF8_STRING", NULL, &k, &e), 0);
    cr_expect_null(k.subkind);
    free(t);
}

Test(rules, min_length_and_whitespace) {
    cs_err e;
    rules *def, *r5;
    cr_assert_eq(rules_parse("", 0, "test", &def, &e), 0);
    const char *conf = "min_length = 5\n";
    cr_assert_eq(rules_parse(conf, strlen(conf), "test", &r5, &e), 0, "%s", e.msg);
#define REJ(r, s) rules_reject(r, "text", NULL, (const unsigned char *)(s), strlen(s), NULL)
    cr_expect_not_null(REJ(def, " \n\t "), "whitespace-only is never stored");
    cr_expect_null(REJ(def, "x"));
    cr_expect_not_null(REJ(r5, "  abcd  "), "4 characters < min_length 5");
    cr_expect_null(REJ(r5, "abcde"));
    cr_expect_null(REJ(r5, "ééééé"), "characters, not bytes");
    cr_expect_null(rules_reject(r5, "image", NULL, (const unsigned char *)"ab", 2, NULL), "images are not text");
#undef REJ
    rules *bad;
    const char *b1 = "min_length = -1\n", *b2 = "debounce_ms = lots\n";
    cr_expect_eq(rules_parse(b1, strlen(b1), "test", &bad, &e), -1);
    cr_expect(strstr(e.msg, "min_length") != NULL, "%s", e.msg);
    cr_expect_eq(rules_parse(b2, strlen(b2), "test", &bad, &e), -1);
    cr_expect_eq(rules_debounce_ms(def), 300);
    rules_free(def);
    rules_free(r5);
}
