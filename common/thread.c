/* SPDX-License-Identifier: MIT */
/*
 * common/thread.c: threads on stacks mapped here and unmapped at join
 * (common/thread.h says why).
 */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
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

/* ---- thread sets -------------------------------------------------------- */

int
thr_set_init(struct thr_set *s, unsigned max, const char *name,
    void (*fn)(void *arg, unsigned slot), void *arg)
{
    unsigned i;

    memset(s, 0, sizeof(*s));
    if (max == 0)
        return EINVAL;
    if ((s->slot = calloc(max, sizeof(*s->slot))) == NULL)
        return ENOMEM;
    for (i = 0; i < max; i++) {
        s->slot[i].set = s;
        s->slot[i].i = i;
        s->slot[i].state = THR_FREE;
    }
    s->max = max;
    if (name != NULL)
        snprintf(s->name, sizeof(s->name), "%s", name);
    s->fn = fn;
    s->arg = arg;
    return 0;
}

/* A slot's thread: fn and arg do not change while it runs, and the slot
 * is not touched after fn returns (its joiner may reuse it). */
static void *
thr_set_main(void *p)
{
    struct thr_slot *sl = p;

    sl->set->fn(sl->set->arg, sl->i);
    return NULL;
}

int
thr_set_start(struct thr_set *s, unsigned *slot)
{
    struct thr_slot *sl = NULL;
    unsigned         i;
    int              rc;

    if (s->closed)
        return ECANCELED;
    if (s->live >= s->max)
        return EBUSY;
    for (i = 0; i < s->max; i++) {
        if (s->slot[i].state == THR_FREE) {
            sl = &s->slot[i];
            break;
        }
        if (s->slot[i].state == THR_DONE && sl == NULL)
            sl = &s->slot[i];
    }
    if (sl == NULL)
        return EBUSY;
    if (sl->state == THR_DONE) {
        thr_join(&sl->thr);
        sl->state = THR_FREE;
    }
    if ((rc = thr_start(&sl->thr, s->name[0] != '\0' ? s->name : NULL,
             thr_set_main, sl))
        != 0)
        return rc;
    sl->state = THR_LIVE;
    s->live++;
    *slot = sl->i;
    return 0;
}

int
thr_set_wake(struct thr_set *s, pthread_cond_t *cv)
{
    unsigned slot;

    if (s->live > 0) {
        pthread_cond_broadcast(cv);
        return 0;
    }
    return thr_set_start(s, &slot);
}

void
thr_set_reap(struct thr_set *s)
{
    unsigned i;

    for (i = 0; !s->closed && i < s->max; i++)
        if (s->slot[i].state == THR_DONE) {
            thr_join(&s->slot[i].thr);
            s->slot[i].state = THR_FREE;
        }
}

void
thr_set_leave(struct thr_set *s, unsigned self)
{
    s->live--;
    s->slot[self].state = THR_DONE;
}

unsigned
thr_set_live(const struct thr_set *s)
{
    return s->live;
}

void
thr_set_close(struct thr_set *s)
{
    s->closed = 1;
}

void
thr_set_fini(struct thr_set *s)
{
    unsigned i;

    for (i = 0; s->slot != NULL && i < s->max; i++)
        thr_join(&s->slot[i].thr);
    free(s->slot);
    memset(s, 0, sizeof(*s));
}

void
thr_cond_wait_s(pthread_cond_t *cv, pthread_mutex_t *mu, double secs)
{
    struct timespec ts;

    clock_gettime(CLOCK_REALTIME, &ts);
    ts.tv_sec += (time_t)secs;
    ts.tv_nsec += (long)((secs - (double)(time_t)secs) * 1e9);
    if (ts.tv_nsec >= 1000000000L) {
        ts.tv_sec++;
        ts.tv_nsec -= 1000000000L;
    }
    pthread_cond_timedwait(cv, mu, &ts);
}
