/*
 * fado_clock: the monotonic clock in milliseconds, for timeouts, back-off
 * and the durations the logs report. Header only: every caller is hot.
 */

#ifndef FADO_CLOCK_H
#define FADO_CLOCK_H

#include <time.h>

/* Whole milliseconds, for deadlines. */
static inline long long
fado_clock_ms(void)
{
    struct timespec  ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long) ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Fractions of a millisecond, for durations. */
static inline double
fado_clock_fms(void)
{
    struct timespec  ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double) ts.tv_sec * 1e3 + (double) ts.tv_nsec / 1e6;
}

#endif /* FADO_CLOCK_H */
