/* Label files and user rules: parsing, errors that name the line, matching. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../src/config/rules.h"
#include "../src/organize/labels.h"

static const char *tmp_config(const char *text) {
    static char path[64];
    snprintf(path, sizeof path, "/tmp/clipseek-rules-%d", (int)getpid());
    FILE *f = fopen(path, "w");
    cr_assert(f);
    fputs(text, f);
    fclose(f);
    return path;
}

Test(labels, parse_and_digest) {
    labels *l;
    cs_err e;
    const char *t = "# comment\nscreenshot: a screenshot | a screen capture\n\nphoto : a photo\n";
    cr_assert_eq(labels_parse(t, strlen(t), "x", &l, &e), 0, "%s", e.msg);
    cr_assert_eq(labels_count(l), 2);
    cr_assert_str_eq(labels_name(l, 0), "screenshot");
    cr_assert_str_eq(labels_name(l, 1), "photo");
    labels *l2;
    const char *t2 = "screenshot:a screenshot|a screen capture\nphoto: a photo # same, other spacing\n";
    cr_assert_eq(labels_parse(t2, strlen(t2), "x", &l2, &e), 0, "%s", e.msg);
    cr_assert_str_eq(labels_digest(l), labels_digest(l2));
    float conf, v[4] = {1, 0, 0, 0};
    cr_assert_eq(labels_classify(l, v, 4, &conf), -1, "not embedded yet");
    labels_free(l);
    labels_free(l2);
}

Test(labels, errors_name_the_line) {
    labels *l;
    cs_err e;
    struct { const char *text, *want; } cases[] = {
        {"photo a photo\n", "x:1: expected LABEL"},
        {"ok: a\nphoto:\n", "x:2: label 'photo' has no prompt"},
        {"a: x\na: y\n", "x:2: label 'a' given twice"},
        {"this label is far too long to be one: x\n", "x:1: a label is 1-31 bytes"},
        {"\n# nothing\n", "x: no labels"},
        {"\xff: x\n", "x: not UTF-8"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        cr_assert_eq(labels_parse(cases[i].text, strlen(cases[i].text), "x", &l, &e), -1, "case %zu", i);
        cr_assert(strstr(e.msg, cases[i].want), "case %zu: %s", i, e.msg);
    }
}

Test(labels, builtin_set) {
    labels *l;
    cs_err e;
    setenv("XDG_CONFIG_HOME", "/nonexistent", 1);
    cr_assert_eq(labels_load(NULL, &l, &e), 0, "%s", e.msg);
    cr_assert_geq(labels_count(l), 10);
    cr_assert_str_eq(labels_name(l, 0), "screenshot");
    labels_free(l);
}

Test(rules, parse_errors) {
    struct { const char *text, *want; } cases[] = {
        {"rule = kind:url\n", ":1: a rule is MATCH"},
        {"rule = -> pin\n", ":1: a rule needs at least one matcher"},
        {"rule = kind:url ->\n", ":1: a rule needs at least one matcher and one action"},
        {"rule = colour:red -> pin\n", ":1: unknown matcher 'colour'"},
        {"rule = kind:url -> expire:7y\n", ":1: bad action 'expire:7y'"},
        {"rule = kind:url -> ignore tag:x\n", ":1: ignore cannot be combined"},
        {"\nrule = regex:( -> pin\n", ":2: regex:"},
        {"rule = regex:\"a b -> pin\n", ":1: unbalanced quote"},
        {"collection_threshold = 1.5\n", ":1: collection_threshold is a cosine"},
        {"ocr = maybe\n", ":1: ocr is true or false"},
        {"ocr_lang = ../../etc\n", ":1: ocr_lang is like eng"},
        /* patterns that make glibc's regex engine blow up (found by fuzzing) */
        {"rule = regex:l+++++++++ -> pin\n", ":1: regex: a repetition of a repetition"},
        {"ignore_text = ^[]6= ^[]60+++++\n", ":1: ignore_text: a repetition of a repetition"},
        {"ignore_text = (a{99}){99}\n", ":1: ignore_text: a repetition of a repetition"},
        {"ignore_text = a{1000}\n", ":1: ignore_text: a bound above 100"},
        {"max_age_days = 555555555555\n", ":1: max_age_days needs a whole number from 0 to 10000000"}, /* fuzzing */
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        rules *r;
        cs_err e;
        cr_assert_eq(rules_load(tmp_config(cases[i].text), &r, &e), -1, "case %zu", i);
        cr_assert(strstr(e.msg, cases[i].want), "case %zu: %s", i, e.msg);
    }
}

Test(rules, ignore_rules_reject) {
    rules *r;
    cs_err e;
    const char *cfg = "rule = source:*pass* -> ignore\n"
                      "rule = kind:email regex:@corp\\.example$ -> ignore\n"
                      "rule = regex:\"^secret word\" -> ignore\n"
                      "rule = category:photo -> ignore\n" /* runs after categorising, not at store time */
                      "rule = kind:url -> tag:link\n"
                      "ocr_lang = eng+deu\nduplicate_threshold = 0.9\n";
    cr_assert_eq(rules_load(tmp_config(cfg), &r, &e), 0, "%s", e.msg);
    rules *ok;
    const char *tame = "ignore_text = ^[0-9]{6}$\nignore_text = ^(foo|bar)+[]a-z]*$\n";
    cr_assert_eq(rules_parse(tame, strlen(tame), "tame", &ok, &e), 0, "ordinary patterns pass: %s", e.msg);
    rules_free(ok);
    const unsigned char t[] = "hello";
    cr_assert_not_null(rules_reject(r, "text", NULL, t, 5, "KeePassXC"));
    cr_assert_null(rules_reject(r, "text", NULL, t, 5, "firefox"));
    const unsigned char m[] = "bob@corp.example";
    cr_assert_not_null(rules_reject(r, "text", "email", m, sizeof m - 1, NULL));
    cr_assert_null(rules_reject(r, "text", "url", m, sizeof m - 1, NULL), "kind must match too");
    const unsigned char s[] = "secret word inside";
    cr_assert_not_null(rules_reject(r, "text", NULL, s, sizeof s - 1, NULL));
    cr_assert_null(rules_reject(r, "image", NULL, (const unsigned char *)"\x89PNG", 4, NULL), "category rules wait");
    org_settings o = rules_org(r);
    cr_assert_str_eq(o.ocr_lang, "eng+deu");
    cr_assert_float_eq(o.duplicate_threshold, 0.9f, 1e-6);
    cr_assert_float_eq(o.collection_threshold, 0.85f, 1e-6);
    rules_free(r);
}

/* A config-named file that is a FIFO: opening it for reading waits for a writer forever, so
 * `labels = <a FIFO>` hung organize. It must be refused at once, naming what it is. (The
 * timeout turns a hang into a failure.) */
Test(labels, fifo_config_files_are_refused_not_waited_on, .timeout = 10) {
    char path[64];
    snprintf(path, sizeof path, "/tmp/clipseek-fifo-%d", (int)getpid());
    unlink(path);
    cr_assert_eq(mkfifo(path, 0600), 0);
    labels *l = NULL;
    cs_err e;
    int rc = labels_load(path, &l, &e);
    cr_assert_eq(rc, -1);
    cr_assert(strstr(e.msg, path) && strstr(e.msg, "a FIFO, not a regular file"), "%s", e.msg);
    rules *r = NULL;
    rc = rules_load(path, &r, &e);
    unlink(path);
    cr_assert_eq(rc, -1, "a config path naming a FIFO is an error, not an empty config");
    cr_assert(strstr(e.msg, "a FIFO"), "%s", e.msg);
    rules_free(r);
}
