/* Text kinds by rules: each kind on typical clips, and prose left alone. */
#include "../src/capture/textkind.h"
#include "testutil.h"

static void expect_kind(const char *text, const char *kind) {
    const char *lang;
    const char *k = textkind_classify(text, strlen(text), &lang);
    if (!kind) cr_expect_null(k, "'%s' should be prose, got %s", text, k ? k : "");
    else cr_expect(k && !strcmp(k, kind), "'%s' should be %s, got %s", text, kind, k ? k : "prose");
}

Test(textkind, kinds) {
    expect_kind("https://example.com/path?q=1&r=two#frag", "url");
    expect_kind("www.debian.org/releases", "url");
    expect_kind("  user.name+tag@example.co.uk \n", "email");
    expect_kind("+49 (0)30 1234-5678", "phone");
    expect_kind("#ff00aa", "color");
    expect_kind("rgba(10, 20, 30, 0.5)", "color");
    expect_kind("1,234,567.89", "number");
    expect_kind("42", "number");
    expect_kind("/home/user/Documents/report-2024.pdf", "path");
    expect_kind("~/.config/clipseek/config", "path");
    expect_kind("C:\\Users\\me\\file.txt", "path");
    expect_kind("{\"key\": [1, 2, 3]}", "json");
    expect_kind("$ sudo apt-get install -y xclip", "command");
    expect_kind("git commit -m \"fix\"", "command");
    expect_kind("ssh-keygen -t ed25519 -C work", "command");
    expect_kind("well - maybe not", NULL);
    expect_kind("AKIAIOSFODNN7EXAMPLE", "secret");
    expect_kind("token: ghp_abcdefghijklmnopqrstuvwxyz0123456789AB", "secret");
    expect_kind("4111 1111 1111 1111", "secret");
    expect_kind("-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEAAAA\n-----END OPENSSH PRIVATE KEY-----", "secret");
    expect_kind("the quick brown fox jumps over the lazy dog", NULL);
    expect_kind("Meeting moved to 3pm, see you there.", NULL);
    expect_kind("4111 1111 1111 1112", "phone"); /* fails Luhn: not a card */
}

Test(textkind, code_and_language) {
    const char *lang;
    const char *py = "def f(x):\n    return x ** 2\n\nprint(f(3))\n";
    cr_assert_str_eq(textkind_classify(py, strlen(py), &lang), "code");
    cr_assert_str_eq(lang, "python");
    const char *c = "#include <stdio.h>\nint main(void) {\n    puts(\"hi\");\n    return 0;\n}\n";
    cr_assert_str_eq(textkind_classify(c, strlen(c), &lang), "code");
    cr_assert_str_eq(lang, "c");
    const char *js = "const add = (a, b) => a + b;\nconsole.log(add(1, 2));\n";
    cr_assert_str_eq(textkind_classify(js, strlen(js), &lang), "code");
    cr_assert_str_eq(lang, "javascript");
    const char *prose = "Dear team,\nthe report is attached.\nBest regards";
    cr_assert_null(textkind_classify(prose, strlen(prose), &lang));
    cr_assert_null(textkind_classify("", 0, &lang));
}
