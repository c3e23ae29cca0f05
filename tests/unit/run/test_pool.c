/* SPDX-License-Identifier: MIT */
/*
 * tests/unit/run/test_pool.c: the worker pool's bounded queue — a full
 * queue refuses with ERR_BUSY and accepts again once workers catch up —
 * and draining (bounded wait, left-over jobs dropped, not run); workers
 * started by jobs and ended when idle, without a job left behind.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "engine/run/runtime_int.h"
#include "tasks.h"

struct gate {
    pthread_mutex_t mu;
    pthread_cond_t  cv;
    int             open;
    atomic_int      ran, dropped;
};

static void
job_wait_gate(void *arg)
{
    struct gate *g = arg;

    pthread_mutex_lock(&g->mu);
    while (!g->open)
        pthread_cond_wait(&g->cv, &g->mu);
    pthread_mutex_unlock(&g->mu);
    atomic_fetch_add(&g->ran, 1);
}

static void
job_dropped(void *arg)
{
    struct gate *g = arg;

    atomic_fetch_add(&g->dropped, 1);
}

static void
gate_open(struct gate *g)
{
    pthread_mutex_lock(&g->mu);
    g->open = 1;
    pthread_cond_broadcast(&g->cv);
    pthread_mutex_unlock(&g->mu);
}

static void
wait_running(struct eng_pool *p, unsigned want)
{
    unsigned running = 0;
    int      i;

    for (i = 0; i < 500; i++) {
        eng_pool_counts(p, NULL, &running);
        if (running == want)
            return;
        usleep(2000);
    }
    fail_msg("workers running: %u, expected %u", running, want);
}

static void
pool_should_refuse_when_queue_is_full_then_recover(void **state)
{
    struct gate g = { PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, 0, 0,
        0 };
    struct eng_pool *p = NULL;
    struct errbuf    eb = { 0 };
    unsigned         depth = 0;
    int              i;

    (void)state;
    assert_int_equal(eng_pool_new(2, 3, &p, &eb), 0);
    /* two jobs occupy both workers, three fill the queue */
    for (i = 0; i < 2; i++)
        assert_int_equal(eng_pool_submit(p, job_wait_gate, job_dropped, &g), 0);
    wait_running(p, 2);
    for (i = 0; i < 3; i++)
        assert_int_equal(eng_pool_submit(p, job_wait_gate, job_dropped, &g), 0);
    eng_pool_counts(p, &depth, NULL);
    assert_int_equal(depth, 3);
    assert_int_equal(eng_pool_submit(p, job_wait_gate, job_dropped, &g),
        ERR_BUSY);
    gate_open(&g);
    for (i = 0; i < 500 && atomic_load(&g.ran) < 5; i++)
        usleep(2000);
    assert_int_equal(atomic_load(&g.ran), 5);
    /* recovered: accepts again and runs it */
    assert_int_equal(eng_pool_submit(p, job_wait_gate, job_dropped, &g), 0);
    assert_int_equal(eng_pool_drain(p, 5.0), 0);
    assert_int_equal(atomic_load(&g.ran), 6);
    assert_int_equal(atomic_load(&g.dropped), 0);
    eng_pool_free(p);
}

static void
pool_drain_should_drop_queued_jobs_after_timeout(void **state)
{
    struct gate g = { PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, 0, 0,
        0 };
    struct eng_pool *p = NULL;
    struct errbuf    eb = { 0 };
    int              i, left;

    (void)state;
    assert_int_equal(eng_pool_new(1, 10, &p, &eb), 0);
    for (i = 0; i < 4; i++)
        assert_int_equal(eng_pool_submit(p, job_wait_gate, job_dropped, &g), 0);
    wait_running(p, 1);
    left = eng_pool_drain(p, 0.2);
    /* one still running, three dropped */
    assert_int_equal(left, 4);
    assert_int_equal(atomic_load(&g.dropped), 3);
    /* draining: no new work */
    assert_int_equal(eng_pool_submit(p, job_wait_gate, job_dropped, &g),
        ERR_BUSY);
    gate_open(&g);
    eng_pool_free(p);
    assert_int_equal(atomic_load(&g.ran), 1);
}

/* Waits (at most 5 s) until the pool runs want workers. */
static unsigned
workers_become(struct eng_pool *p, unsigned want)
{
    int i;

    for (i = 0; i < 500 && eng_pool_workers(p) != want; i++)
        usleep(10000);
    return eng_pool_workers(p);
}

/* A new pool runs no worker; jobs that find them all busy start more, up
 * to the limit; once they have had nothing to do for a while they all
 * end, and the next job starts one again. */
static void
pool_workers_should_start_with_jobs_and_end_when_idle(void **state)
{
    struct gate g = { PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, 0, 0,
        0 };
    struct eng_pool *p = NULL;
    struct errbuf    eb = { 0 };
    int              i;

    (void)state;
    assert_int_equal(eng_pool_new(3, 10, &p, &eb), 0);
    eng_pool_idle_exit(p, 0.05);
    assert_int_equal(eng_pool_workers(p), 0);
    for (i = 1; i <= 3; i++) {
        assert_int_equal(eng_pool_submit(p, job_wait_gate, job_dropped, &g), 0);
        wait_running(p, (unsigned)i);
        assert_int_equal(eng_pool_workers(p), (unsigned)i);
    }
    /* at the limit: queued */
    assert_int_equal(eng_pool_submit(p, job_wait_gate, job_dropped, &g), 0);
    assert_int_equal(eng_pool_workers(p), 3);
    gate_open(&g);
    assert_int_equal(workers_become(p, 0), 0);
    assert_int_equal(atomic_load(&g.ran), 4);
    eng_pool_tick(p); /* joins the last one */
    assert_int_equal(eng_pool_submit(p, job_wait_gate, job_dropped, &g), 0);
    assert_int_equal(eng_pool_drain(p, 5.0), 0);
    assert_int_equal(atomic_load(&g.ran), 5);
    assert_int_equal(workers_become(p, 0), 0);
    eng_pool_free(p);
}

static void
job_note_tid(void *arg)
{
    atomic_int *tid = arg;

    atomic_store(tid, (int)gettid());
}

/* The last worker, once idle, ends: the pool has no thread, the tick
 * joins it (its stack goes back: no thread is left to do it), and the
 * next job runs on a new thread. */
static void
last_worker_should_end_when_idle_and_the_next_job_start_one(void **state)
{
    struct eng_pool *p = NULL;
    struct errbuf    eb = { 0 };
    atomic_int       first = 0, second = 0;
    int              i;

    (void)state;
    assert_int_equal(eng_pool_new(2, 10, &p, &eb), 0);
    eng_pool_idle_exit(p, 0.02);
    assert_int_equal(eng_pool_submit(p, job_note_tid, NULL, &first), 0);
    for (i = 0; i < 500 && atomic_load(&first) == 0; i++)
        usleep(2000);
    assert_int_equal(workers_become(p, 0), 0);
    eng_pool_tick(p);
    assert_int_equal(tasks_named("herald-run"), 0);
    assert_int_equal(eng_pool_submit(p, job_note_tid, NULL, &second), 0);
    for (i = 0; i < 500 && atomic_load(&second) == 0; i++)
        usleep(2000);
    assert_int_not_equal(atomic_load(&first), 0);
    assert_int_not_equal(atomic_load(&second), 0);
    assert_int_not_equal(atomic_load(&second), atomic_load(&first));
    eng_pool_free(p);
}

/* Workers end as soon as they are idle while jobs keep coming at varying
 * gaps: a job queued as a worker decides to end still runs. */
static void
no_job_should_wait_for_a_worker_that_ended(void **state)
{
    struct gate g = { PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, 1, 0,
        0 };
    struct eng_pool *p = NULL;
    struct errbuf    eb = { 0 };
    int              i, k, n = 0;

    (void)state;
    assert_int_equal(eng_pool_new(3, 64, &p, &eb), 0);
    eng_pool_idle_exit(p, 0.001);
    for (i = 0; i < 300; i++) {
        for (k = 0; k <= i % 3; k++, n++)
            assert_int_equal(eng_pool_submit(p, job_wait_gate, job_dropped, &g),
                0);
        usleep((useconds_t)(i % 7) * 700);
        if (i % 50 == 49) /* the queue never fills */
            for (k = 0; k < 500 && atomic_load(&g.ran) < n; k++)
                usleep(2000);
    }
    for (k = 0; k < 2500 && atomic_load(&g.ran) < n; k++)
        usleep(2000);
    assert_int_equal(atomic_load(&g.ran), n);
    assert_int_equal(workers_become(p, 0), 0);
    eng_pool_free(p);
    assert_int_equal(atomic_load(&g.dropped), 0);
}

static void
pool_should_reject_bad_sizes_with_a_message(void **state)
{
    struct eng_pool *p = NULL;
    struct errbuf    eb = { 0 };

    (void)state;
    assert_int_equal(eng_pool_new(0, 10, &p, &eb), ERR_INVAL);
    assert_non_null(strstr(eb.msg, "worker count"));
    assert_int_equal(eng_pool_new(2, 0, &p, &eb), ERR_INVAL);
    assert_non_null(strstr(eb.msg, "queue size"));
    assert_null(p);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(pool_should_refuse_when_queue_is_full_then_recover),
        cmocka_unit_test(pool_drain_should_drop_queued_jobs_after_timeout),
        cmocka_unit_test(pool_should_reject_bad_sizes_with_a_message),
        cmocka_unit_test(pool_workers_should_start_with_jobs_and_end_when_idle),
        cmocka_unit_test(no_job_should_wait_for_a_worker_that_ended),
        cmocka_unit_test(
            last_worker_should_end_when_idle_and_the_next_job_start_one),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
