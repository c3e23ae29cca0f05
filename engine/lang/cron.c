/* SPDX-License-Identifier: MIT */
/*
 * engine/lang/cron.c: the cron entries of "event timer cron
 * cron-entry "m h dom mon dow"": parsing the five standard fields (numbers,
 * "*", ranges, lists, steps, month and weekday names) and computing the
 * next minute that matches, in the process's local time zone.
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "engine/lang/cron.h"

static const char *const cron_field_name[5] = { "minute", "hour",
    "day of month", "month", "day of week" };
static const int         cron_lo[5] = { 0, 0, 1, 1, 0 };
static const int         cron_hi[5] = { 59, 23, 31, 12, 7 };

static const char *const cron_months[12] = { "jan", "feb", "mar", "apr", "may",
    "jun", "jul", "aug", "sep", "oct", "nov", "dec" };
static const char *const cron_days[7] = { "sun", "mon", "tue", "wed", "thu",
    "fri", "sat" };

/* Reads a number or (months, weekdays) a three-letter name at *pp. */
static int
cron_value(const char **pp, int field, int *v)
{
    const char *p = *pp;
    int         i;

    if (isdigit((unsigned char)*p)) {
        long n = 0;

        while (isdigit((unsigned char)*p) && n < 1000)
            n = n * 10 + (*p++ - '0');
        *v = (int)n;
        *pp = p;
        return 0;
    }
    if (field == 3) {
        for (i = 0; i < 12; i++)
            if (strncasecmp(p, cron_months[i], 3) == 0) {
                *v = i + 1;
                *pp = p + 3;
                return 0;
            }
    } else if (field == 4) {
        for (i = 0; i < 7; i++)
            if (strncasecmp(p, cron_days[i], 3) == 0) {
                *v = i;
                *pp = p + 3;
                return 0;
            }
    }
    return -1;
}

/* Parses one field (text of length len) into the bit set *bits. */
static int
cron_field(const char *text, size_t len, int field, uint64_t *bits, int *any,
    struct errbuf *eb)
{
    char        tmp[128];
    const char *p, *item;
    int         lo = cron_lo[field], hi = cron_hi[field];

    if (len == 0 || len >= sizeof(tmp))
        return err_set(eb, ERR_INVAL, "invalid_cron",
            "cron %s field is empty or too long", cron_field_name[field]);
    memcpy(tmp, text, len);
    tmp[len] = '\0';
    *bits = 0;
    *any = 0;
    item = tmp;
    for (;;) {
        int a, b, step = 1, star = 0, v;

        p = item;
        if (*p == '*') {
            star = 1;
            a = lo;
            b = hi;
            p++;
        } else {
            if (cron_value(&p, field, &a) != 0)
                goto bad;
            b = a;
            if (*p == '-') {
                p++;
                if (cron_value(&p, field, &b) != 0)
                    goto bad;
            }
        }
        if (*p == '/') {
            p++;
            if (!isdigit((unsigned char)*p))
                goto bad;
            step = 0;
            while (isdigit((unsigned char)*p) && step < 1000)
                step = step * 10 + (*p++ - '0');
            if (step == 0)
                return err_set(eb, ERR_INVAL, "invalid_cron",
                    "cron %s field \"%s\": a step must be at least 1",
                    cron_field_name[field], tmp);
            if (!star && b == a)
                b = hi; /* "5/15" means 5-max/15 */
        }
        if (*p != ',' && *p != '\0')
            goto bad;
        if (a < lo || a > hi || b < lo || b > hi)
            return err_set(eb, ERR_INVAL, "invalid_cron",
                "cron %s field \"%s\": value out of range %d-%d",
                cron_field_name[field], tmp, lo, hi);
        if (a > b)
            return err_set(eb, ERR_INVAL, "invalid_cron",
                "cron %s field \"%s\": range %d-%d goes backwards",
                cron_field_name[field], tmp, a, b);
        if (star)
            *any = 1; /* as in Vixie cron, also for a stepped star */
        for (v = a; v <= b; v += step)
            *bits |= (uint64_t)1 << v;
        if (*p == '\0')
            break;
        item = p + 1;
    }
    return 0;
bad:
    return err_set(eb, ERR_INVAL, "invalid_cron",
        "cron %s field \"%s\" is not valid: expected a number%s, \"*\", a "
        "range a-b, a list a,b or a step */n",
        cron_field_name[field], tmp,
        field == 3       ? " or month name (jan)"
            : field == 4 ? " or day name (sun)"
                         : "");
}

int
eng_cron_parse(const char *s, struct eng_cron *out, struct errbuf *eb)
{
    const char *p = s, *start[5];
    size_t      len[5];
    uint64_t    bits[5];
    int         any[5], i, rc;

    memset(out, 0, sizeof(*out));
    if (s == NULL)
        return err_set(eb, ERR_INVAL, "invalid_cron", "cron entry missing");
    for (i = 0; i < 5; i++) {
        while (*p == ' ' || *p == '\t')
            p++;
        if (*p == '\0')
            return err_set(eb, ERR_INVAL, "invalid_cron",
                "cron entry \"%s\" has %d field%s; expected 5 "
                "(minute hour day-of-month month day-of-week)",
                s, i, i == 1 ? "" : "s");
        start[i] = p;
        while (*p != '\0' && *p != ' ' && *p != '\t')
            p++;
        len[i] = (size_t)(p - start[i]);
    }
    while (*p == ' ' || *p == '\t')
        p++;
    if (*p != '\0')
        return err_set(eb, ERR_INVAL, "invalid_cron",
            "cron entry \"%s\" has more than 5 fields (minute hour "
            "day-of-month month day-of-week)",
            s);
    for (i = 0; i < 5; i++)
        if ((rc = cron_field(start[i], len[i], i, &bits[i], &any[i], eb)) != 0)
            return rc;
    out->minute = bits[0];
    out->hour = (uint32_t)bits[1];
    out->dom = (uint32_t)bits[2];
    out->month = (uint16_t)bits[3];
    if (bits[4] & ((uint64_t)1 << 7))
        bits[4] |= 1; /* 7 is Sunday too */
    out->dow = (uint8_t)(bits[4] & 0x7f);
    out->dom_any = any[2];
    out->dow_any = any[4];
    return 0;
}

static int
cron_day_ok(const struct eng_cron *c, const struct tm *tm)
{
    int dom = (c->dom >> tm->tm_mday) & 1;
    int dow = (c->dow >> tm->tm_wday) & 1;

    if (c->dom_any && c->dow_any)
        return 1;
    if (c->dom_any)
        return dow;
    if (c->dow_any)
        return dom;
    return dom || dow;
}

time_t
eng_cron_next(const struct eng_cron *c, time_t after)
{
    struct tm tm;
    time_t    t;
    int       guard;

    t = after - (after % 60) + 60; /* next whole minute */
    localtime_r(&t, &tm);
    tm.tm_sec = 0;
    for (guard = 0; guard < 8 * 366 * 24 + 100000; guard++) {
        if (!((c->month >> (tm.tm_mon + 1)) & 1)) {
            tm.tm_mon++;
            tm.tm_mday = 1;
            tm.tm_hour = 0;
            tm.tm_min = 0;
        } else if (!cron_day_ok(c, &tm)) {
            tm.tm_mday++;
            tm.tm_hour = 0;
            tm.tm_min = 0;
        } else if (!((c->hour >> tm.tm_hour) & 1)) {
            tm.tm_hour++;
            tm.tm_min = 0;
        } else if (!((c->minute >> tm.tm_min) & 1)) {
            tm.tm_min++;
        } else {
            t = mktime(&tm);
            if (t > after)
                return t;
            tm.tm_min++;
        }
        tm.tm_isdst = -1;
        t = mktime(&tm); /* normalise overflowing fields */
        if (t == (time_t)-1 || t - after > (time_t)8 * 366 * 86400)
            return -1;
        localtime_r(&t, &tm);
    }
    return -1;
}
