/* SPDX-License-Identifier: MIT */
/*
 * tests/unit/run/test_cron.c: cron entries of "event timer cron" —
 * field parsing (ranges, lists, steps, names, errors that name the field)
 * and next-fire computation — and the first fire of the other timers.
 * Runs in TZ=UTC so the expected instants are fixed.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "engine/lang/applet.h"
#include "engine/run/runtime_int.h"

/* 2026-11-27 17:00:30 UTC, a Friday */
#define T0 ((time_t)1795798830)

static time_t
utc(int y, int mo, int d, int h, int mi)
{
    struct tm tm = { 0 };

    tm.tm_year = y - 1900;
    tm.tm_mon = mo - 1;
    tm.tm_mday = d;
    tm.tm_hour = h;
    tm.tm_min = mi;
    return timegm(&tm);
}

static struct eng_cron
parse_ok(const char *s)
{
    struct eng_cron c;
    struct errbuf   eb = { 0 };

    if (eng_cron_parse(s, &c, &eb) != 0)
        fail_msg("cron \"%s\": %s", s, eb.msg);
    return c;
}

static void
cron_should_parse_ranges_lists_steps_and_names(void **state)
{
    struct eng_cron c;

    (void)state;
    c = parse_ok("*/15 9-17 * * mon-fri");
    assert_true(
        c.minute == ((1ULL << 0) | (1ULL << 15) | (1ULL << 30) | (1ULL << 45)));
    assert_int_equal(c.hour, 0x3fe00); /* 9..17 */
    assert_int_equal(c.dow, 0x3e);     /* 1..5 */
    assert_true(c.dom_any);
    assert_false(c.dow_any);
    c = parse_ok("0,30 0 1,15 jan,JUL 7");
    assert_true(c.minute == ((1ULL << 0) | (1ULL << 30)));
    assert_int_equal(c.dom, (1u << 1) | (1u << 15));
    assert_int_equal(c.month, (1u << 1) | (1u << 7));
    assert_int_equal(c.dow, 1); /* 7 is Sunday */
    c = parse_ok("5-20/5 * * * *");
    assert_true(
        c.minute == ((1ULL << 5) | (1ULL << 10) | (1ULL << 15) | (1ULL << 20)));
}

static void
cron_should_reject_bad_entries_naming_the_field(void **state)
{
    struct eng_cron c;
    struct errbuf   eb = { 0 };

    (void)state;
    assert_int_equal(eng_cron_parse("* * * *", &c, &eb), ERR_INVAL);
    assert_non_null(strstr(eb.msg, "expected 5"));
    assert_int_equal(eng_cron_parse("60 * * * *", &c, &eb), ERR_INVAL);
    assert_non_null(strstr(eb.msg, "minute"));
    assert_non_null(strstr(eb.msg, "0-59"));
    assert_int_equal(eng_cron_parse("0 24 * * *", &c, &eb), ERR_INVAL);
    assert_non_null(strstr(eb.msg, "hour"));
    assert_int_equal(eng_cron_parse("0 0 0 * *", &c, &eb), ERR_INVAL);
    assert_non_null(strstr(eb.msg, "day of month"));
    assert_int_equal(eng_cron_parse("0 0 * foo *", &c, &eb), ERR_INVAL);
    assert_non_null(strstr(eb.msg, "month"));
    assert_int_equal(eng_cron_parse("*/0 * * * *", &c, &eb), ERR_INVAL);
    assert_non_null(strstr(eb.msg, "step"));
    assert_int_equal(eng_cron_parse("5-1 * * * *", &c, &eb), ERR_INVAL);
    assert_non_null(strstr(eb.msg, "backwards"));
    assert_int_equal(eng_cron_parse("* * * * * *", &c, &eb), ERR_INVAL);
    assert_non_null(strstr(eb.msg, "more than 5"));
}

static void
cron_next_should_find_the_following_matching_minute(void **state)
{
    struct eng_cron c;

    (void)state;
    assert_int_equal((long long)T0, (long long)utc(2026, 11, 27, 17, 0) + 30);
    c = parse_ok("* * * * *");
    assert_int_equal(eng_cron_next(&c, T0), utc(2026, 11, 27, 17, 1));
    c = parse_ok("*/15 * * * *");
    assert_int_equal(eng_cron_next(&c, T0), utc(2026, 11, 27, 17, 15));
    /* exactly on a match: strictly after */
    assert_int_equal(eng_cron_next(&c, utc(2026, 11, 27, 17, 15)),
        utc(2026, 11, 27, 17, 30));
    c = parse_ok("30 8 * * mon-fri"); /* Friday 17:00 -> Monday 08:30 */
    assert_int_equal(eng_cron_next(&c, T0), utc(2026, 11, 30, 8, 30));
    c = parse_ok("0 0 1 jan *"); /* next new year */
    assert_int_equal(eng_cron_next(&c, T0), utc(2027, 1, 1, 0, 0));
    c = parse_ok("0 12 29 feb *"); /* leap day: 2028 */
    assert_int_equal(eng_cron_next(&c, T0), utc(2028, 2, 29, 12, 0));
    c = parse_ok("0 0 13 * fri"); /* dom OR dow (Vixie) */
    assert_int_equal(eng_cron_next(&c, T0), utc(2026, 12, 4, 0, 0));
    c = parse_ok("0 0 31 2 *"); /* never */
    assert_int_equal(eng_cron_next(&c, T0), -1);
}

static void
timer_first_fire_should_follow_the_timer_type(void **state)
{
    struct eng_timer_def d = { "a", 0, ENG_EV_TIMER_WATCHDOG, 60, NULL, "" };
    struct eng_cron      c = parse_ok("0 * * * *");

    (void)state;
    assert_int_equal(eng_timer_first(&d, NULL, T0), T0 + 60);
    d.type = ENG_EV_TIMER_COUNTDOWN;
    d.time = 5;
    assert_int_equal(eng_timer_first(&d, NULL, T0), T0 + 5);
    d.type = ENG_EV_TIMER_ABSOLUTE;
    d.time = (double)T0 + 3600;
    assert_int_equal(eng_timer_first(&d, NULL, T0), T0 + 3600);
    d.time = (double)T0 - 1; /* in the past: never */
    assert_int_equal(eng_timer_first(&d, NULL, T0), -1);
    d.type = ENG_EV_TIMER_CRON;
    assert_int_equal(eng_timer_first(&d, &c, T0), utc(2026, 11, 27, 18, 0));
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(cron_should_parse_ranges_lists_steps_and_names),
        cmocka_unit_test(cron_should_reject_bad_entries_naming_the_field),
        cmocka_unit_test(cron_next_should_find_the_following_matching_minute),
        cmocka_unit_test(timer_first_fire_should_follow_the_timer_type),
    };

    setenv("TZ", "UTC", 1);
    tzset();
    return cmocka_run_group_tests(tests, NULL, NULL);
}
