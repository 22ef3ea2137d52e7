/* blisarch: which BLIS configuration to force when BLIS itself would pick the plain-C one.
 *
 * Why: BLIS chooses its kernels at run time from cpuid, but only among the CPUs it knew when it
 * was released. Debian 12's BLIS 0.9.0 predates Zen 5 (AMD family 0x1A): on such a CPU it falls
 * back to "generic", portable C without SIMD kernels, though the CPU runs the AVX2/FMA kernels of
 * "zen3" (or "haswell") fine. Measured on a Zen 5 EPYC, one thread, F32 towers (ms, image b1 /
 * image b8 per image / text 8 tokens / text 77 tokens): generic 330 / 361 / 37 / 71, zen3 117 /
 * 137 / 11 / 67, haswell 111 / 168 / 14 / 60, skx 135 / 124 / 81 / 70 (its AVX-512 kernel is
 * slow on few rows). So zen3 where BLIS does not know a newer AMD CPU.
 *
 * The rule (blisarch_choose), on facts read from cpuid before BLIS is first called:
 *   - BLIS_ARCH_TYPE already in the environment: the user's choice wins, leave BLIS alone;
 *   - no AVX2 + FMA (with the OS saving the YMM registers): leave BLIS alone;
 *   - AuthenticAMD, family above 0x19 (newer than BLIS 0.9.0 knows): "zen3", else "zen2", else
 *     "haswell", the first of them the library was built with;
 *   - AuthenticAMD up to 0x19 and GenuineIntel: BLIS recognises them itself; leave it alone;
 *   - any other vendor (BLIS only tells Intel and AMD apart, so it takes generic): "haswell".
 * BLIS reads BLIS_ARCH_TYPE (the index of a configuration in its own list) once, when it
 * initialises; the caller sets it before that (ops_blis.c, ops_blis_arch_once).
 *
 * Pure: blisarch_choose reads only its arguments; blisarch_probe reads cpuid and the environment. */
#ifndef BLISARCH_H
#define BLISARCH_H

typedef struct {
    char vendor[13]; /* cpuid leaf 0: "AuthenticAMD", "GenuineIntel", ... ("" when unknown) */
    unsigned family; /* display family (base + extended): 0x19 Zen 3/4, 0x1A Zen 5 */
    unsigned model;  /* display model (informational) */
    int avx2_fma;    /* AVX2 and FMA present, and the OS saves the YMM state (XCR0) */
    int user_set;    /* BLIS_ARCH_TYPE is already in the environment */
} blisarch_cpu;

/* Fills *c for the CPU this runs on. Returns 0, or -1 where cpuid is not available (not x86);
 * then *c says "no AVX2" and blisarch_choose returns -1. */
int blisarch_probe(blisarch_cpu *c);

/* The configuration to force for c: an index into names[0..n) (BLIS's configuration names by
 * arch id, NULL for one the library was not built with), or -1 to leave BLIS's own choice. */
int blisarch_choose(const blisarch_cpu *c, const char *const *names, int n);

#endif
