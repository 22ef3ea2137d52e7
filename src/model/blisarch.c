/* blisarch: the BLIS configuration to force on CPUs newer than the library (see blisarch.h).
 * Compiled in every build (it needs no BLIS); only the builds that link BLIS call it. */
#include "blisarch.h"

#include <stdlib.h>
#include <string.h>

#if defined(__x86_64__) || defined(__i386__)
#include <cpuid.h>
#endif

int blisarch_probe(blisarch_cpu *c) {
    memset(c, 0, sizeof *c);
    c->user_set = getenv("BLIS_ARCH_TYPE") != NULL;
#if defined(__x86_64__) || defined(__i386__)
    unsigned a, b, cx, d;
    if (!__get_cpuid(0, &a, &b, &cx, &d)) return -1;
    unsigned maxleaf = a;
    memcpy(c->vendor, &b, 4);
    memcpy(c->vendor + 4, &d, 4);
    memcpy(c->vendor + 8, &cx, 4);
    c->vendor[12] = '\0';
    if (!__get_cpuid(1, &a, &b, &cx, &d)) return 0;
    unsigned base = (a >> 8) & 0xf, ext = (a >> 20) & 0xff, model = (a >> 4) & 0xf, emodel = (a >> 16) & 0xf;
    c->family = base == 0xf ? base + ext : base;
    c->model = base == 0xf || base == 0x6 ? (emodel << 4) | model : model;
    int fma = (cx >> 12) & 1, osxsave = (cx >> 27) & 1, avx = (cx >> 28) & 1, avx2 = 0, ymm = 0;
    if (maxleaf >= 7) {
        __cpuid_count(7, 0, a, b, cx, d);
        avx2 = (b >> 5) & 1;
    }
    if (osxsave) {
        /* XCR0: the OS saves the SSE (bit 1) and AVX (bit 2) state; xgetbv by hand, as _xgetbv
         * needs -mxsave, which a portable build (ARCH=) does not pass */
        unsigned lo, hi;
        __asm__ volatile("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
        ymm = (lo & 6) == 6;
    }
    c->avx2_fma = fma && avx && avx2 && ymm;
    return 0;
#else
    return -1;
#endif
}

/* the id of the first of want[] that names[] offers, or -1 */
static int first_of(const char *const *want, int nwant, const char *const *names, int n) {
    for (int w = 0; w < nwant; w++)
        for (int id = 0; id < n; id++)
            if (names[id] && !strcmp(names[id], want[w])) return id;
    return -1;
}

int blisarch_choose(const blisarch_cpu *c, const char *const *names, int n) {
    if (!c || !names || n < 1 || c->user_set || !c->avx2_fma) return -1;
    if (!strcmp(c->vendor, "GenuineIntel")) return -1; /* BLIS 0.9.0: skx, knl, haswell, ... */
    if (!strcmp(c->vendor, "AuthenticAMD")) {
        if (c->family <= 0x19) return -1; /* BLIS 0.9.0: zen3 (0x19), zen2 / zen (0x17), older */
        static const char *const amd[] = {"zen3", "zen2", "haswell"};
        return first_of(amd, 3, names, n);
    }
    /* another vendor (Hygon, Zhaoxin, a hypervisor's own string): BLIS takes generic */
    static const char *const other[] = {"haswell"};
    return first_of(other, 1, names, n);
}
