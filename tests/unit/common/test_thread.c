/* SPDX-License-Identifier: MIT */
/*
 * tests/unit/common/test_thread.c: common/thread.h runs the function with
 * its argument on a stack of its own, under the name given, with a guard
 * page below the stack, and hands the whole mapping back when joined.
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

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(thread_should_run_on_its_stack_and_give_it_back),
        cmocka_unit_test(stack_should_have_a_guard_page_below_it),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
