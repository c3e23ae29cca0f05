/* SPDX-License-Identifier: MIT */
/*
 * tests/unit/run/test_timers.c: the timer thread runs only while there is
 * a timer or a kick (an idle herald without timer applets has none): a
 * kick starts it and calls the kicked callback; a watchdog fires on time
 * and again; removing the timers ends the thread, and eng_timers_reap
 * joins it; eng_timers_free stops a live one.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdatomic.h>
#include <unistd.h>

#include "engine/lang/applet.h"
#include "engine/run/runtime_int.h"
#include "tasks.h"

struct seen {
    atomic_int fired, kicked, wrong;
};

static void
on_fire(void *ud, const struct eng_timer_fire *f)
{
    struct seen *s = ud;

    /* no cmocka assertion off the test's thread */
    if (strcmp(f->applet, "Tick") != 0 || f->type != ENG_EV_TIMER_WATCHDOG)
        atomic_fetch_add(&s->wrong, 1);
    atomic_fetch_add(&s->fired, 1);
}

static void
on_kick(void *ud)
{
    struct seen *s = ud;

    atomic_fetch_add(&s->kicked, 1);
}

/* Waits (at most 5 s) until *v reaches want; returns it. */
static int
reaches(atomic_int *v, int want)
{
    for (int i = 0; i < 500 && atomic_load(v) < want; i++)
        usleep(10000);
    return atomic_load(v);
}

/* Waits (at most 5 s) until a timer thread runs (it names itself). */
static int
timer_thread_runs(void)
{
    for (int i = 0; i < 500 && tasks_named("herald-timer") != 1; i++)
        usleep(10000);
    return tasks_named("herald-timer") == 1;
}

/* Waits (at most 5 s, reaping) until no timer thread is left. */
static int
timer_thread_ends(struct eng_timers *t)
{
    for (int i = 0; i < 500; i++) {
        eng_timers_reap(t);
        if (tasks_named("herald-timer") == 0)
            return 1;
        usleep(10000);
    }
    return 0;
}

static void
timers_should_run_a_thread_only_while_needed(void **state)
{
    struct eng_timers   *t = NULL;
    struct seen          s = { 0 };
    struct errbuf        eb;
    struct eng_timer_def d = { "Tick", 0, ENG_EV_TIMER_WATCHDOG, 0.1, NULL,
        "event manager applet Tick" };

    (void)state;
    assert_int_equal(eng_timers_new(on_fire, on_kick, &s, &t, &eb), 0);
    assert_int_equal(tasks_named("herald-timer"), 0);

    /* a kick with no timer: the callback runs, then the thread ends */
    eng_timers_kick(t);
    assert_int_equal(reaches(&s.kicked, 1), 1);
    assert_true(timer_thread_ends(t));
    assert_int_equal(atomic_load(&s.fired), 0);

    /* a 0.1 s watchdog fires again and again */
    assert_int_equal(eng_timers_set(t, &d, 1, &eb), 0);
    assert_true(timer_thread_runs());
    assert_true(reaches(&s.fired, 3) >= 3);
    assert_int_equal(atomic_load(&s.wrong), 0);

    /* without timers the thread ends, and nothing fires any more */
    assert_int_equal(eng_timers_set(t, NULL, 0, &eb), 0);
    assert_true(timer_thread_ends(t));
    {
        int n = atomic_load(&s.fired);

        usleep(300000);
        assert_int_equal(atomic_load(&s.fired), n);
    }

    /* and comes back for the next timer; free stops it */
    assert_int_equal(eng_timers_set(t, &d, 1, &eb), 0);
    assert_true(timer_thread_runs());
    eng_timers_free(t);
    assert_int_equal(tasks_named("herald-timer"), 0);
    assert_int_equal(atomic_load(&s.kicked), 1);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(timers_should_run_a_thread_only_while_needed),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
