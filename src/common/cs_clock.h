/* cs_clock: a monotonic clock for measuring durations (not wall time: store_now_ms). */
#ifndef CS_CLOCK_H
#define CS_CLOCK_H

/* Milliseconds on CLOCK_MONOTONIC, from an arbitrary start: subtract two readings. */
double cs_mono_ms(void);

#endif
