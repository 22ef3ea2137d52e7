/* The BLIS configuration forced on CPUs newer than BLIS (src/model/blisarch.h): the rule on made-up
 * CPUs, against a list of configuration names shaped like BLIS 0.9.0's, and on this machine the
 * configuration BLIS runs after it initialises (not the plain-C "generic" where AVX2 + FMA are
 * there; run without a BLIS_ARCH_TYPE of your own that names generic). */
#include <string.h>

#include "../src/model/blisarch.h"
#include "../src/model/ops.h"
#include "testutil.h"

/* made-up lists of configuration names by arch id (BLIS 0.9.0's x86 ones in its order, then
 * generic; its real list has the ARM and POWER ones between); NULL: not built in the library */
static const char *const blis_names[] = {"skx",         "knl",        "knc",       "haswell", "sandybridge",
                                         "penryn",      "zen3",       "zen2",      "zen",     "excavator",
                                         "steamroller", "piledriver", "bulldozer", "generic"};
#define NNAMES ((int)(sizeof blis_names / sizeof blis_names[0]))

static blisarch_cpu cpu(const char *vendor, unsigned family, int avx2_fma, int user_set) {
    blisarch_cpu c;
    memset(&c, 0, sizeof c);
    snprintf(c.vendor, sizeof c.vendor, "%s", vendor);
    c.family = family;
    c.avx2_fma = avx2_fma;
    c.user_set = user_set;
    return c;
}

static int id_of(const char *const *names, int n, const char *name) {
    for (int i = 0; i < n; i++)
        if (names[i] && !strcmp(names[i], name)) return i;
    return -1;
}

Test(blisarch, zen5_gets_zen3) {
    blisarch_cpu c = cpu("AuthenticAMD", 0x1A, 1, 0);
    int id = blisarch_choose(&c, blis_names, NNAMES);
    cr_assert_eq(id, id_of(blis_names, NNAMES, "zen3"), "AMD family 0x1A: %d", id);
    /* a later family too, and the id is looked up by name: another order gives another id */
    const char *const shuffled[] = {"generic", "haswell", "zen2", "zen3"};
    c.family = 0x1B;
    cr_assert_eq(blisarch_choose(&c, shuffled, 4), 3);
}

Test(blisarch, zen3_missing_falls_back_to_zen2_then_haswell) {
    blisarch_cpu c = cpu("AuthenticAMD", 0x1A, 1, 0);
    const char *no_zen3[] = {"skx", "haswell", NULL, "zen2", "generic"};
    cr_assert_eq(blisarch_choose(&c, no_zen3, 5), 3);
    const char *no_zen[] = {"skx", "haswell", NULL, NULL, "generic"};
    cr_assert_eq(blisarch_choose(&c, no_zen, 5), 1);
    const char *generic_only[] = {NULL, NULL, "generic"};
    cr_assert_eq(blisarch_choose(&c, generic_only, 3), -1);
}

Test(blisarch, cpus_blis_knows_are_left_alone) {
    blisarch_cpu zen34 = cpu("AuthenticAMD", 0x19, 1, 0), zen2 = cpu("AuthenticAMD", 0x17, 1, 0),
                 intel = cpu("GenuineIntel", 6, 1, 0);
    cr_assert_eq(blisarch_choose(&zen34, blis_names, NNAMES), -1, "AMD family 0x19");
    cr_assert_eq(blisarch_choose(&zen2, blis_names, NNAMES), -1, "AMD family 0x17");
    cr_assert_eq(blisarch_choose(&intel, blis_names, NNAMES), -1, "Intel");
}

Test(blisarch, other_vendor_with_avx2_gets_haswell) {
    blisarch_cpu c = cpu("HygonGenuine", 0x18, 1, 0);
    cr_assert_eq(blisarch_choose(&c, blis_names, NNAMES), id_of(blis_names, NNAMES, "haswell"));
}

Test(blisarch, no_avx2_fma_is_left_alone) {
    blisarch_cpu amd = cpu("AuthenticAMD", 0x1A, 0, 0), other = cpu("HygonGenuine", 0x18, 0, 0);
    cr_assert_eq(blisarch_choose(&amd, blis_names, NNAMES), -1);
    cr_assert_eq(blisarch_choose(&other, blis_names, NNAMES), -1);
}

Test(blisarch, user_setting_wins) {
    blisarch_cpu amd = cpu("AuthenticAMD", 0x1A, 1, 1), other = cpu("HygonGenuine", 0x18, 1, 1);
    cr_assert_eq(blisarch_choose(&amd, blis_names, NNAMES), -1);
    cr_assert_eq(blisarch_choose(&other, blis_names, NNAMES), -1);
    cr_assert_eq(blisarch_choose(NULL, blis_names, NNAMES), -1);
    cr_assert_eq(blisarch_choose(&amd, NULL, 0), -1);
}

/* On this machine: with AVX2 + FMA, BLIS runs a configuration with SIMD kernels, whatever its own
 * cpuid table knows (on an AMD family above 0x19, zen3). */
Test(blisarch, this_machine_is_not_generic) {
    const char *cfg = ops_blis_config();
    if (!cfg) {
        cr_skip_test("this build has no BLIS");
        return;
    }
    blisarch_cpu c;
    if (blisarch_probe(&c) || !c.avx2_fma) {
        cr_skip_test("no AVX2 + FMA here: BLIS's own choice stands (%s)", cfg);
        return;
    }
    cr_log_info("%s family 0x%X model 0x%X: BLIS configuration %s\n", c.vendor, c.family, c.model, cfg);
    cr_assert_str_neq(cfg, "generic", "%s family 0x%X runs BLIS's plain C", c.vendor, c.family);
    if (!strcmp(c.vendor, "AuthenticAMD") && c.family > 0x19) cr_assert_str_eq(cfg, "zen3");
    /* the name reported to the user says it too */
    cr_assert(strstr(ops_blas_name(), cfg), "%s", ops_blas_name());
}
