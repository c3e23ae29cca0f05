/* SPDX-License-Identifier: MIT */
/*
 * tests/unit/run/test_pool.c: the worker pool's bounded queue — a full
 * queue refuses with ERR_BUSY and accepts again once workers catch up —
 * and draining (bounded wait, left-over jobs dropped, not run).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <pthread.h>
#include <stdatomic.h>
#include <string.h>
#include <unistd.h>

#include "engine/run/runtime_int.h"

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
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
