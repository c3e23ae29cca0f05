/* SPDX-License-Identifier: MIT */
/*
 * engine/lang/cron.h: 5-field cron entries (engine/lang/cron.c).
 * The applet parser validates "event timer cron" entries with the same
 * parser the timers run them with.
 */
#ifndef HERALD_ENGINE_CRON_H
#define HERALD_ENGINE_CRON_H

#include <stdint.h>
#include <time.h>

#include "common/err.h"

struct eng_cron {
    uint64_t minute;  /* bit i: minute i (0-59) */
    uint32_t hour;    /* 0-23 */
    uint32_t dom;     /* 1-31 */
    uint16_t month;   /* 1-12 */
    uint8_t  dow;     /* 0-6, Sunday = 0 (7 accepted as Sunday) */
    int      dom_any; /* field was "*" (or "*" with a step) */
    int      dow_any;
};
/* "m h dom mon dow": numbers, "*", ranges a-b, lists, steps (*\/n, a-b/n),
 * month and day names (jan, sun). Errors: ERR_INVAL naming the field and
 * the bad text. */
int eng_cron_parse(const char *s, struct eng_cron *out, struct errbuf *eb);
/* First matching minute strictly after `after`, in local time (TZ); -1 if
 * none within 8 years (e.g. "0 0 31 2 *"). When both dom and dow are
 * restricted a day matches either (Vixie cron). */
time_t eng_cron_next(const struct eng_cron *c, time_t after);

#endif
