/* SPDX-License-Identifier: MIT */
/*
 * common/clock.c: clocks and the time format (no state).
 */
#include <stdio.h>
#include <time.h>

#include "common/clock.h"

long long
clock_now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_REALTIME, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

double
clock_mono(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

void
clock_time_fmt(long long ms, char *out, size_t n)
{
    time_t    t = (time_t)(ms / 1000);
    struct tm tm;

    gmtime_r(&t, &tm);
    /* the moduli only tell the compiler how wide each field can get */
    snprintf(out, n, "%04u-%02u-%02uT%02u:%02u:%02u.%03uZ",
        (unsigned)(tm.tm_year + 1900) % 10000u,
        (unsigned)(tm.tm_mon + 1) % 100u, (unsigned)tm.tm_mday % 100u,
        (unsigned)tm.tm_hour % 100u, (unsigned)tm.tm_min % 100u,
        (unsigned)tm.tm_sec % 100u, (unsigned)((ms % 1000 + 1000) % 1000));
}
