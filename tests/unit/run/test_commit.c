/* SPDX-License-Identifier: MIT */
/*
 * tests/unit/run/test_commit.c: the committer (engine/run/commit.c) on a
 * real SQLite store: every item is completed once, in the order added, on
 * the committer's thread, after its commit; a flush waits for what was
 * added; the thread ends when idle and the next item starts another; free
 * completes what is still queued.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "engine/run/runtime_int.h"

#define NITEMS 200

struct item {
    struct rt_commit_item it;
    long long             run; /* the run it committed */
    pthread_t             by;  /* who completed it */
    int                   rc;
};

struct env {
    char                *dir;
    struct eng_store    *st;
    struct rt_committer *c;
    struct item          items[NITEMS];
    pthread_mutex_t      mu;
    pthread_cond_t       cv;
    int                  gate; /* 1: done callbacks may return */
    int                  order[NITEMS];
    int                  ndone;
};

static struct env *cur;

static void
item_done(struct rt_commit_item *it, int rc, const struct errbuf *eb)
{
    struct item *x = (struct item *)it;

    (void)eb;
    pthread_mutex_lock(&cur->mu);
    while (!cur->gate)
        pthread_cond_wait(&cur->cv, &cur->mu);
    x->rc = rc;
    x->by = pthread_self();
    cur->order[cur->ndone++] = (int)(x - cur->items);
    pthread_cond_broadcast(&cur->cv);
    pthread_mutex_unlock(&cur->mu);
}

/* Commits a run for item i and queues the item. */
static void
add(struct env *e, int i)
{
    struct errbuf eb = { 0 };

    assert_int_equal(eng_store_run_insert(e->st, "A", "manual", "{}", NULL,
                         "queued", 1000 + i, &e->items[i].run, &eb),
        0);
    e->items[i].it.seq = eng_store_mark(e->st);
    e->items[i].it.done = item_done;
    e->items[i].rc = -1;
    rt_committer_add(e->c, &e->items[i].it);
}

static void
set_gate(struct env *e, int open)
{
    pthread_mutex_lock(&e->mu);
    e->gate = open;
    pthread_cond_broadcast(&e->cv);
    pthread_mutex_unlock(&e->mu);
}

static int
setup(void **state)
{
    struct env   *e = calloc(1, sizeof(*e));
    char          tmpl[] = "/tmp/herald-commit-XXXXXX";
    struct errbuf eb = { 0 };

    e->dir = strdup(mkdtemp(tmpl));
    if (eng_store_open(e->dir, &e->st, &eb) != 0
        || rt_committer_new(e->st, &e->c, &eb) != 0) {
        print_error("setup: %s\n", eb.msg);
        return -1;
    }
    pthread_mutex_init(&e->mu, NULL);
    pthread_cond_init(&e->cv, NULL);
    e->gate = 1;
    cur = e;
    *state = e;
    return 0;
}

static int
teardown(void **state)
{
    struct env *e = *state;
    char        cmd[256];

    rt_committer_free(e->c);
    eng_store_close(e->st);
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", e->dir);
    if (system(cmd) != 0)
        return -1;
    pthread_cond_destroy(&e->cv);
    pthread_mutex_destroy(&e->mu);
    free(e->dir);
    free(e);
    return 0;
}

static void
items_should_complete_once_in_order_on_the_committer_thread(void **state)
{
    struct env   *e = *state;
    cJSON        *run = NULL;
    struct errbuf eb = { 0 };

    /* the first batch holds the thread: the rest queue up behind it */
    set_gate(e, 0);
    for (int i = 0; i < NITEMS; i++)
        add(e, i);
    set_gate(e, 1);
    rt_committer_flush(e->c);
    assert_int_equal(e->ndone, NITEMS);
    for (int i = 0; i < NITEMS; i++) {
        assert_int_equal(e->order[i], i);
        assert_int_equal(e->items[i].rc, 0);
        assert_false(pthread_equal(e->items[i].by, pthread_self()));
    }
    /* what each item committed is there */
    assert_int_equal(eng_store_run_get(e->st, e->items[NITEMS - 1].run, &run,
                         &eb),
        0);
    cJSON_Delete(run);
}

static void
flush_should_wait_for_items_added_before_it(void **state)
{
    struct env *e = *state;

    set_gate(e, 0);
    add(e, 0);
    add(e, 1);
    pthread_mutex_lock(&e->mu);
    assert_int_equal(e->ndone, 0); /* held at the gate */
    pthread_mutex_unlock(&e->mu);
    set_gate(e, 1);
    rt_committer_flush(e->c);
    assert_int_equal(e->ndone, 2);
    rt_committer_flush(e->c); /* nothing added: returns at once */
    assert_int_equal(e->ndone, 2);
}

static void
thread_should_end_when_idle_and_start_again(void **state)
{
    struct env *e = *state;

    rt_committer_idle_exit(e->c, 0.05);
    assert_int_equal(rt_committer_live(e->c), 0); /* none before work */
    add(e, 0);
    rt_committer_flush(e->c);
    for (int i = 0; i < 200 && rt_committer_live(e->c); i++)
        usleep(10000);
    assert_int_equal(rt_committer_live(e->c), 0);
    rt_committer_tick(e->c); /* joins it */
    /* an item after the end is not stranded */
    add(e, 1);
    rt_committer_flush(e->c);
    assert_int_equal(e->ndone, 2);
    assert_int_equal(e->items[1].rc, 0);
}

static void *
free_later(void *arg)
{
    struct env *e = arg;

    usleep(50000);
    set_gate(e, 1);
    return NULL;
}

static void
free_should_complete_what_is_queued(void **state)
{
    struct env *e = *state;
    pthread_t   t;

    set_gate(e, 0);
    for (int i = 0; i < 20; i++)
        add(e, i);
    pthread_create(&t, NULL, free_later, e);
    rt_committer_free(e->c); /* waits for the gate, then completes all */
    e->c = NULL;
    pthread_join(t, NULL);
    assert_int_equal(e->ndone, 20);
    for (int i = 0; i < 20; i++)
        assert_int_equal(e->items[i].rc, 0);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(
            items_should_complete_once_in_order_on_the_committer_thread, setup,
            teardown),
        cmocka_unit_test_setup_teardown(
            flush_should_wait_for_items_added_before_it, setup, teardown),
        cmocka_unit_test_setup_teardown(
            thread_should_end_when_idle_and_start_again, setup, teardown),
        cmocka_unit_test_setup_teardown(free_should_complete_what_is_queued,
            setup, teardown),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
