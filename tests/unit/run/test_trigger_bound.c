/* SPDX-License-Identifier: MIT */
/*
 * tests/unit/run/test_trigger_bound.c: the per-applet bound on queued runs
 * (engine/run/trigger_bound.c) — syslog and timer triggers are dropped and
 * counted when the applet's queue is full, manual ones never; a started
 * run frees its slot; ratelimit drops are counted apart; a report is due
 * at most once per interval per applet and a flush reports the rest;
 * deleted applets are forgotten, the totals are not.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>

#include "engine/run/runtime.h"
#include "engine/run/runtime_int.h"

#define T0 1000000LL

static struct eng_tbound *
tb_new(unsigned bound)
{
    struct eng_tbound *tb = NULL;
    struct errbuf      eb = { 0 };

    assert_int_equal(eng_tbound_new(bound, 10.0, T0, &tb, &eb), 0);
    return tb;
}

static void
bound_should_drop_syslog_and_timer_triggers_when_the_queue_is_full(void **state)
{
    struct eng_tbound       *tb = tb_new(2);
    struct eng_drop_report   rep;
    struct eng_trigger_drops d;

    (void)state;
    assert_int_equal(eng_tbound_take(tb, "A", ENG_DROP_SYSLOG, T0, &rep), 1);
    assert_int_equal(eng_tbound_take(tb, "A", ENG_DROP_TIMER, T0, &rep), 1);
    assert_int_equal(rep.due, 0);
    /* full: dropped, and the first drop is reported at once */
    assert_int_equal(eng_tbound_take(tb, "A", ENG_DROP_SYSLOG, T0 + 1, &rep),
        0);
    assert_int_equal(rep.due, 1);
    assert_string_equal(rep.applet, "A");
    assert_int_equal(rep.n[ENG_DROP_SYSLOG][ENG_DROP_QUEUE_FULL], 1);
    assert_int_equal(rep.queued, 2);
    assert_int_equal(rep.bound, 2);
    assert_int_equal(eng_tbound_take(tb, "A", ENG_DROP_TIMER, T0 + 2, &rep), 0);
    assert_int_equal(rep.due, 0);
    /* another applet has its own queue */
    assert_int_equal(eng_tbound_take(tb, "B", ENG_DROP_SYSLOG, T0, &rep), 1);
    /* a manual run is never dropped, and counts as queued */
    assert_int_equal(eng_tbound_take(tb, "A", ENG_DROP_NONE, T0, &rep), 1);
    eng_tbound_get(tb, "A", &d);
    assert_int_equal(d.syslog, 1);
    assert_int_equal(d.timer, 1);
    assert_int_equal(d.queue_full, 2);
    assert_int_equal(d.ratelimited, 0);
    assert_int_equal(d.queued, 3);
    assert_int_equal(d.last_ms, T0 + 2);
    assert_int_equal(d.since_ms, T0);
    eng_tbound_free(tb);
}

static void
bound_should_take_again_once_a_run_started(void **state)
{
    struct eng_tbound       *tb = tb_new(1);
    struct eng_drop_report   rep;
    struct eng_trigger_drops d;

    (void)state;
    assert_int_equal(eng_tbound_take(tb, "A", ENG_DROP_SYSLOG, T0, &rep), 1);
    assert_int_equal(eng_tbound_take(tb, "A", ENG_DROP_SYSLOG, T0, &rep), 0);
    eng_tbound_give(tb, "A"); /* the run started */
    assert_int_equal(eng_tbound_take(tb, "A", ENG_DROP_SYSLOG, T0, &rep), 1);
    eng_tbound_give(tb, "A");
    eng_tbound_give(tb, "A"); /* one too many: no underflow */
    eng_tbound_give(tb, "nobody");
    eng_tbound_get(tb, "A", &d);
    assert_int_equal(d.queued, 0);
    assert_int_equal(d.syslog, 1);
    eng_tbound_free(tb);
}

static void
bound_should_report_at_most_once_per_interval_and_flush_the_rest(void **state)
{
    struct eng_tbound     *tb = tb_new(1);
    struct eng_drop_report rep, reps[4];
    long long              t;
    int                    due = 0, i;

    (void)state;
    assert_int_equal(eng_tbound_take(tb, "A", ENG_DROP_SYSLOG, T0, &rep), 1);
    /* 10,000 drops within 5 s: one report, the first */
    for (i = 0; i < 10000; i++) {
        t = T0 + i / 2;
        assert_int_equal(eng_tbound_take(tb, "A", ENG_DROP_SYSLOG, t, &rep), 0);
        due += rep.due;
    }
    assert_int_equal(due, 1);
    /* not yet an interval since that report: nothing to flush */
    assert_int_equal(eng_tbound_flush(tb, T0 + 9999, reps, 4), 0);
    assert_int_equal(eng_tbound_flush(tb, T0 + 10000, reps, 4), 1);
    assert_int_equal(reps[0].due, 1);
    assert_string_equal(reps[0].applet, "A");
    assert_int_equal(reps[0].n[ENG_DROP_SYSLOG][ENG_DROP_QUEUE_FULL], 9999);
    assert_true(reps[0].seconds > 9.9 && reps[0].seconds < 10.1);
    /* reported: nothing left */
    assert_int_equal(eng_tbound_flush(tb, T0 + 60000, reps, 4), 0);
    /* a drop an interval after the last report is reported at once */
    eng_tbound_drop(tb, "A", ENG_DROP_TIMER, ENG_DROP_RATELIMIT, T0 + 20000,
        &rep);
    assert_int_equal(rep.due, 1);
    assert_int_equal(rep.n[ENG_DROP_TIMER][ENG_DROP_RATELIMIT], 1);
    assert_int_equal(rep.n[ENG_DROP_SYSLOG][ENG_DROP_QUEUE_FULL], 0);
    eng_tbound_free(tb);
}

static void
bound_should_count_ratelimit_drops_apart_and_keep_totals(void **state)
{
    struct eng_tbound       *tb = tb_new(4);
    struct eng_drop_report   rep;
    struct eng_trigger_drops d;
    const char              *keep[] = { "B" };

    (void)state;
    eng_tbound_drop(tb, "A", ENG_DROP_SYSLOG, ENG_DROP_RATELIMIT, T0, &rep);
    eng_tbound_drop(tb, "B", ENG_DROP_TIMER, ENG_DROP_RATELIMIT, T0, &rep);
    eng_tbound_drop(tb, "B", ENG_DROP_NONE, ENG_DROP_RATELIMIT, T0, &rep);
    assert_int_equal(rep.due, 0); /* not a bounded trigger: ignored */
    eng_tbound_get(tb, "A", &d);
    assert_int_equal(d.syslog, 1);
    assert_int_equal(d.ratelimited, 1);
    assert_int_equal(d.queue_full, 0);
    assert_int_equal(d.queued, 0);
    /* A was deleted: its counts go, the totals stay */
    eng_tbound_forget(tb, keep, 1);
    eng_tbound_get(tb, "A", &d);
    assert_int_equal(d.syslog, 0);
    assert_int_equal(d.last_ms, 0);
    assert_int_equal(d.since_ms, T0);
    eng_tbound_get(tb, "B", &d);
    assert_int_equal(d.timer, 1);
    eng_tbound_get(tb, NULL, &d);
    assert_int_equal(d.syslog, 1);
    assert_int_equal(d.timer, 1);
    assert_int_equal(d.ratelimited, 2);
    eng_tbound_free(tb);
}

static void
bound_should_refuse_zero_with_a_message(void **state)
{
    struct eng_tbound *tb = NULL;
    struct errbuf      eb = { 0 };

    (void)state;
    assert_int_equal(eng_tbound_new(0, 10.0, T0, &tb, &eb), ERR_INVAL);
    assert_non_null(strstr(eb.msg, "at least 1"));
    assert_null(tb);
    eng_tbound_free(NULL);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(
            bound_should_drop_syslog_and_timer_triggers_when_the_queue_is_full),
        cmocka_unit_test(bound_should_take_again_once_a_run_started),
        cmocka_unit_test(
            bound_should_report_at_most_once_per_interval_and_flush_the_rest),
        cmocka_unit_test(
            bound_should_count_ratelimit_drops_apart_and_keep_totals),
        cmocka_unit_test(bound_should_refuse_zero_with_a_message),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
