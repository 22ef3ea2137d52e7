/* cs_clock: see cs_clock.h. */
#include "cs_clock.h"

#include <time.h>

double cs_mono_ms(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec * 1e3 + t.tv_nsec * 1e-6;
}
