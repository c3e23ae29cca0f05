/* SPDX-License-Identifier: MIT */
/*
 * engine/clock.h: the engine's clocks and its time format, shared by the
 * runtime and the store (which must not include the runtime's headers).
 */
#ifndef HERALD_ENGINE_CLOCK_H
#define HERALD_ENGINE_CLOCK_H

#include <stddef.h>

/* Milliseconds since the epoch (CLOCK_REALTIME) and a monotonic clock. */
long long eng_now_ms(void);
double    eng_mono(void);
/* RFC 3339 UTC with milliseconds into out (>= 32 bytes). */
void eng_time_fmt(long long ms, char *out, size_t n);

#endif
