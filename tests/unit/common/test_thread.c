/* SPDX-License-Identifier: MIT */
/*
 * tests/unit/common/test_thread.c: common/thread.h runs the function with
 * its argument on a stack of its own, under the name given, with a guard
 * page below the stack, and hands the whole mapping back when joined; and
 * a struct thr_set starts threads in free slots up to its max, joins the
 * ones that left (the last one too, leaving none), and once closed
 * starts and joins nothing until thr_set_fini.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include "common/thread.h"

struct seen {
    void     *arg;
    uintptr_t local; /* the address of a local: where the stack is */
    char      name[16];
};

static void *
look(void *arg)
{
    struct seen *s = arg;
    char         here = 0;

    s->arg = arg;
    s->local = (uintptr_t)&here;
    pthread_getname_np(pthread_self(), s->name, sizeof(s->name));
    return NULL;
}

/* 1 if [p, p + len) is mapped (msync fails with ENOMEM where it is not). */
static int
mapped(void *p, size_t len)
{
    return msync(p, len, MS_ASYNC) == 0 || errno != ENOMEM;
}

static void
thread_should_run_on_its_stack_and_give_it_back(void **state)
{
    struct thr  t;
    struct seen s = { 0 };
    size_t      page = (size_t)sysconf(_SC_PAGESIZE);
    void       *map;
    size_t      len;

    (void)state;
    assert_int_equal(thr_start(&t, "herald-test", look, &s), 0);
    assert_true(thr_started(&t));
    map = t.map;
    len = t.len;
    thr_join(&t);
    assert_false(thr_started(&t));
    assert_ptr_equal(s.arg, &s);
    assert_string_equal(s.name, "herald-test");
    /* it ran above the guard page of the mapping */
    assert_true(s.local > (uintptr_t)map + page);
    assert_true(s.local < (uintptr_t)map + len);
    /* and the mapping is gone */
    assert_false(mapped(map, page));
    assert_false(mapped((char *)map + len - page, page));
    /* joining again (or a thread never started) does nothing */
    thr_join(&t);
}

/* The permissions /proc/self/maps shows for the mapping that starts at
 * p, into perm (5 bytes); 0 if found. */
static int
maps_perm(void *p, char *perm)
{
    FILE         *f = fopen("/proc/self/maps", "r");
    char          line[512];
    unsigned long lo, hi;
    int           rc = -1;

    if (f == NULL)
        return -1;
    while (rc != 0 && fgets(line, sizeof(line), f) != NULL)
        if (sscanf(line, "%lx-%lx %4s", &lo, &hi, perm) == 3
            && lo == (unsigned long)(uintptr_t)p)
            rc = 0;
    fclose(f);
    return rc;
}

static void
stack_should_have_a_guard_page_below_it(void **state)
{
    struct thr  t;
    struct seen s = { 0 };
    size_t      page = (size_t)sysconf(_SC_PAGESIZE);
    char        perm[8] = "";

    (void)state;
    assert_int_equal(thr_start(&t, NULL, look, &s), 0);
    /* an overflow faults there instead of writing into the next mapping */
    assert_int_equal(maps_perm(t.map, perm), 0);
    assert_string_equal(perm, "---p");
    assert_int_equal(maps_perm((char *)t.map + page, perm), 0);
    assert_string_equal(perm, "rw-p");
    thr_join(&t);
}

/* ---- thread sets ------------------------------------------------------- */

#define CREW_MAX 4

enum crew_order { CREW_NONE, CREW_LEAVE };

/* The owner of a set: its mutex, and per slot what the thread there saw
 * and what it was told. */
struct crew {
    pthread_mutex_t mu;
    pthread_cond_t  cv;
    struct thr_set  set;
    int             quit;
    enum crew_order order[CREW_MAX];
    unsigned        ran[CREW_MAX];      /* threads that ran in the slot */
    unsigned        answered[CREW_MAX]; /* thr_set_leave calls there */
    void           *arg[CREW_MAX];
    char            name[CREW_MAX][16];
};

/* A crew member: waits for an order under mu; told to leave, it leaves
 * the set and returns. */
static void
crew_main(void *arg, unsigned slot)
{
    struct crew *c = arg;

    pthread_mutex_lock(&c->mu);
    c->ran[slot]++;
    c->arg[slot] = arg;
    pthread_getname_np(pthread_self(), c->name[slot], sizeof(c->name[slot]));
    pthread_cond_broadcast(&c->cv);
    for (;;) {
        while (c->order[slot] == CREW_NONE && !c->quit)
            pthread_cond_wait(&c->cv, &c->mu);
        if (c->quit)
            break;
        c->order[slot] = CREW_NONE;
        thr_set_leave(&c->set, slot);
        c->answered[slot]++;
        pthread_cond_broadcast(&c->cv);
        break;
    }
    pthread_mutex_unlock(&c->mu);
}

static void
crew_init(struct crew *c, unsigned max)
{
    memset(c, 0, sizeof(*c));
    pthread_mutex_init(&c->mu, NULL);
    pthread_cond_init(&c->cv, NULL);
    assert_int_equal(thr_set_init(&c->set, max, "herald-crew", crew_main, c),
        0);
}

/* Tells every thread to end, and joins them. */
static void
crew_fini(struct crew *c)
{
    pthread_mutex_lock(&c->mu);
    c->quit = 1;
    thr_set_close(&c->set);
    pthread_cond_broadcast(&c->cv);
    pthread_mutex_unlock(&c->mu);
    thr_set_fini(&c->set);
    assert_null(c->set.slot);
    pthread_cond_destroy(&c->cv);
    pthread_mutex_destroy(&c->mu);
}

/* Waits (under mu, at most 5 s) until *v reaches want. */
static void
crew_wait(struct crew *c, const unsigned *v, unsigned want)
{
    struct timespec ts;

    clock_gettime(CLOCK_REALTIME, &ts);
    ts.tv_sec += 5;
    while (*v < want)
        if (pthread_cond_timedwait(&c->cv, &c->mu, &ts) == ETIMEDOUT)
            fail_msg("waited 5 s for %u, have %u", want, *v);
}

/* Starts a thread (under mu) and waits until it runs; returns its slot. */
static unsigned
crew_start(struct crew *c)
{
    unsigned slot = CREW_MAX;

    assert_int_equal(thr_set_start(&c->set, &slot), 0);
    assert_true(slot < c->set.max);
    assert_int_equal(c->set.slot[slot].state, THR_LIVE);
    crew_wait(c, &c->ran[slot], c->ran[slot] + 1);
    return slot;
}

/* Tells the thread in slot to leave (under mu) and waits until it has. */
static void
crew_leave(struct crew *c, unsigned slot)
{
    unsigned n = c->answered[slot];

    c->order[slot] = CREW_LEAVE;
    pthread_cond_broadcast(&c->cv);
    crew_wait(c, &c->answered[slot], n + 1);
}

static void
set_should_start_threads_in_free_slots_up_to_max(void **state)
{
    struct crew c;
    unsigned    i, slot, seen = 0;

    (void)state;
    crew_init(&c, 3);
    pthread_mutex_lock(&c.mu);
    assert_int_equal(thr_set_live(&c.set), 0);
    for (i = 0; i < 3; i++) {
        slot = crew_start(&c);
        assert_false(seen & (1u << slot)); /* a slot of its own */
        seen |= 1u << slot;
        assert_ptr_equal(c.arg[slot], &c);
        assert_string_equal(c.name[slot], "herald-crew");
        assert_int_equal(thr_set_live(&c.set), i + 1);
    }
    /* all of them run: no fourth, and nothing changes */
    slot = CREW_MAX;
    assert_int_equal(thr_set_start(&c.set, &slot), EBUSY);
    assert_int_equal(slot, CREW_MAX);
    assert_int_equal(thr_set_live(&c.set), 3);
    pthread_mutex_unlock(&c.mu);
    crew_fini(&c);
}

static void
set_should_join_a_thread_that_left(void **state)
{
    struct crew c;
    unsigned    a, b;

    (void)state;
    crew_init(&c, 2);
    pthread_mutex_lock(&c.mu);
    a = crew_start(&c);
    b = crew_start(&c);
    /* it leaves, to be joined */
    crew_leave(&c, a);
    assert_int_equal(c.set.slot[a].state, THR_DONE);
    assert_true(thr_started(&c.set.slot[a].thr));
    assert_int_equal(thr_set_live(&c.set), 1);
    thr_set_reap(&c.set);
    assert_int_equal(c.set.slot[a].state, THR_FREE);
    assert_false(thr_started(&c.set.slot[a].thr));
    assert_int_equal(c.set.slot[b].state, THR_LIVE);
    /* the slot is free for the next one */
    assert_int_equal(crew_start(&c), a);
    assert_int_equal(c.ran[a], 2);
    pthread_mutex_unlock(&c.mu);
    crew_fini(&c);
}

static void
set_should_reuse_the_slot_of_an_ended_thread_when_none_is_free(void **state)
{
    struct crew c;
    unsigned    a, b;

    (void)state;
    crew_init(&c, 2);
    pthread_mutex_lock(&c.mu);
    a = crew_start(&c);
    b = crew_start(&c);
    crew_leave(&c, a);
    /* not reaped: start joins it and runs the new thread there */
    assert_int_equal(crew_start(&c), a);
    assert_int_equal(c.ran[a], 2);
    assert_int_equal(c.set.slot[b].state, THR_LIVE);
    assert_int_equal(thr_set_live(&c.set), 2);
    pthread_mutex_unlock(&c.mu);
    crew_fini(&c);
}

/* The last thread leaves as any other: none is left, and it is joined by
 * whoever reaps next (the owner's tick). */
static void
last_thread_should_leave_none_live(void **state)
{
    struct crew c;
    unsigned    a, b;

    (void)state;
    crew_init(&c, 2);
    pthread_mutex_lock(&c.mu);
    a = crew_start(&c);
    b = crew_start(&c);
    crew_leave(&c, a);
    crew_leave(&c, b);
    assert_int_equal(thr_set_live(&c.set), 0);
    assert_int_equal(c.set.slot[a].state, THR_DONE);
    assert_int_equal(c.set.slot[b].state, THR_DONE);
    assert_int_equal(c.ran[a] + c.ran[b], 2); /* nothing else ran */
    thr_set_reap(&c.set);
    assert_int_equal(c.set.slot[a].state, THR_FREE);
    assert_int_equal(c.set.slot[b].state, THR_FREE);
    assert_false(thr_started(&c.set.slot[b].thr));
    /* and the next start runs one again */
    crew_start(&c);
    assert_int_equal(thr_set_live(&c.set), 1);
    pthread_mutex_unlock(&c.mu);
    crew_fini(&c);
}

static void
closed_set_should_leave_starting_and_joining_to_fini(void **state)
{
    struct crew c;
    unsigned    a, b, slot = CREW_MAX;

    (void)state;
    crew_init(&c, 3);
    pthread_mutex_lock(&c.mu);
    a = crew_start(&c);
    b = crew_start(&c);
    crew_leave(&c, a);
    thr_set_close(&c.set);
    assert_int_equal(thr_set_start(&c.set, &slot), ECANCELED);
    assert_int_equal(slot, CREW_MAX);
    /* the ended one stays for thr_set_fini */
    thr_set_reap(&c.set);
    assert_int_equal(c.set.slot[a].state, THR_DONE);
    assert_true(thr_started(&c.set.slot[a].thr));
    /* the last one leaves too */
    crew_leave(&c, b);
    assert_int_equal(thr_set_live(&c.set), 0);
    assert_int_equal(c.ran[a] + c.ran[b], 2);
    pthread_mutex_unlock(&c.mu);
    crew_fini(&c); /* joins both */
}

/* The slot of the set's one live thread, once it runs (under mu). */
static unsigned
crew_live_one(struct crew *c)
{
    unsigned slot;

    assert_int_equal(thr_set_live(&c->set), 1);
    for (slot = 0; slot < c->set.max; slot++)
        if (c->set.slot[slot].state == THR_LIVE)
            break;
    assert_true(slot < c->set.max);
    crew_wait(c, &c->ran[slot], 1);
    return slot;
}

/* thr_set_wake starts a thread when none is live, wakes the live one
 * otherwise (no second thread), starts one again once the last left, and
 * refuses once the set is closed. */
static void
wake_should_start_a_thread_only_when_none_is_live(void **state)
{
    struct crew c;
    unsigned    i, slot;

    (void)state;
    crew_init(&c, 2);
    pthread_mutex_lock(&c.mu);
    assert_int_equal(thr_set_wake(&c.set, &c.cv), 0);
    slot = crew_live_one(&c);
    for (i = 0; i < 3; i++)
        assert_int_equal(thr_set_wake(&c.set, &c.cv), 0);
    assert_int_equal(thr_set_live(&c.set), 1);
    crew_leave(&c, slot);
    assert_int_equal(thr_set_live(&c.set), 0);
    assert_int_equal(thr_set_wake(&c.set, &c.cv), 0);
    crew_leave(&c, crew_live_one(&c));
    assert_int_equal(c.ran[0] + c.ran[1], 2);
    thr_set_close(&c.set);
    assert_int_equal(thr_set_wake(&c.set, &c.cv), ECANCELED);
    assert_int_equal(thr_set_live(&c.set), 0);
    pthread_mutex_unlock(&c.mu);
    crew_fini(&c);
}

static void
set_should_refuse_zero_threads(void **state)
{
    struct thr_set s;

    (void)state;
    assert_int_equal(thr_set_init(&s, 0, NULL, crew_main, NULL), EINVAL);
    thr_set_fini(&s); /* a set that failed to init is a no-op */
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(thread_should_run_on_its_stack_and_give_it_back),
        cmocka_unit_test(stack_should_have_a_guard_page_below_it),
        cmocka_unit_test(set_should_start_threads_in_free_slots_up_to_max),
        cmocka_unit_test(set_should_join_a_thread_that_left),
        cmocka_unit_test(
            set_should_reuse_the_slot_of_an_ended_thread_when_none_is_free),
        cmocka_unit_test(last_thread_should_leave_none_live),
        cmocka_unit_test(closed_set_should_leave_starting_and_joining_to_fini),
        cmocka_unit_test(wake_should_start_a_thread_only_when_none_is_live),
        cmocka_unit_test(set_should_refuse_zero_threads),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
