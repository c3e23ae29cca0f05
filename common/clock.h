/* SPDX-License-Identifier: MIT */
/*
 * common/clock.h: wall and monotonic clocks and the time format of runs,
 * the outbox and the store.
 */
#ifndef HERALD_COMMON_CLOCK_H
#define HERALD_COMMON_CLOCK_H

#include <stddef.h>

/* Milliseconds since the epoch (CLOCK_REALTIME) and a monotonic clock. */
long long clock_now_ms(void);
double    clock_mono(void);
/* RFC 3339 UTC with milliseconds into out (>= 32 bytes). */
void clock_time_fmt(long long ms, char *out, size_t n);

#endif
