/* SPDX-License-Identifier: MIT */
/*
 * common/thread.c: threads on stacks mapped here and unmapped at join
 * (common/thread.h says why).
 */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "common/thread.h"

/* The stack size pthread_create would use (RLIMIT_STACK, usually 8 MB,
 * of which only the touched pages ever become resident). */
static size_t
thr_stack_size(void)
{
    pthread_attr_t a;
    size_t         sz = 0;

    if (pthread_getattr_default_np(&a) == 0) {
        pthread_attr_getstacksize(&a, &sz);
        pthread_attr_destroy(&a);
    }
    if (sz < 256 * 1024)
        sz = 8 * 1024 * 1024;
    if (sz > 64 * 1024 * 1024)
        sz = 64 * 1024 * 1024;
    return sz;
}

/* The thread names itself first: whatever fn does, it does under the
 * name (ps -L, top, perf). */
static void *
thr_main(void *p)
{
    struct thr *t = p;

    if (t->name[0] != '\0')
        pthread_setname_np(pthread_self(), t->name);
    return t->fn(t->arg);
}

int
thr_start(struct thr *t, const char *name, void *(*fn)(void *), void *arg)
{
    size_t         page = (size_t)sysconf(_SC_PAGESIZE);
    size_t         sz = thr_stack_size();
    pthread_attr_t a;
    void          *map;
    int            rc;

    memset(t, 0, sizeof(*t));
    t->fn = fn;
    t->arg = arg;
    if (name != NULL)
        snprintf(t->name, sizeof(t->name), "%s", name);
    sz = (sz + page - 1) / page * page;
    /* reserved, not committed: pages come as the thread touches them */
    map = mmap(NULL, sz + page, PROT_READ | PROT_WRITE,
        MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE | MAP_STACK, -1, 0);
    if (map == MAP_FAILED)
        return errno != 0 ? errno : ENOMEM;
    /* the guard page: an overflow faults instead of writing past it */
    if (mprotect(map, page, PROT_NONE) != 0) {
        rc = errno;
        munmap(map, sz + page);
        return rc;
    }
    if ((rc = pthread_attr_init(&a)) != 0) {
        munmap(map, sz + page);
        return rc;
    }
    rc = pthread_attr_setstack(&a, (char *)map + page, sz);
    if (rc == 0)
        rc = pthread_create(&t->id, &a, thr_main, t);
    pthread_attr_destroy(&a);
    if (rc != 0) {
        munmap(map, sz + page);
        memset(t, 0, sizeof(*t));
        return rc;
    }
    t->map = map;
    t->len = sz + page;
    return 0;
}

void
thr_join(struct thr *t)
{
    if (t->map == NULL)
        return;
    pthread_join(t->id, NULL);
    /* glibc does not reuse or free a stack it was given: once joined, the
     * thread no longer runs on it */
    munmap(t->map, t->len);
    memset(t, 0, sizeof(*t));
}

int
thr_started(const struct thr *t)
{
    return t->map != NULL;
}
