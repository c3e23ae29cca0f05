/* SPDX-License-Identifier: MIT */
/*
 * engine/run/commit.c: the committer (runtime_int.h). One thread syncs the
 * store for every item queued while it synced last, then completes them in
 * order: a burst of webhooks costs one fdatasync per batch, and no HTTP
 * thread sleeps on the disk or on the store's sync lock.
 *
 * Nothing is stranded by the thread ending: it decides under mu, seeing
 * nothing queued, and an add after that finds no thread live and starts
 * one (common/thread.h).
 */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <time.h>

#include "common/clock.h"
#include "common/log.h"
#include "common/thread.h"
#include "engine/run/runtime_int.h"

#define COMMIT_IDLE_EXIT 10.0

struct rt_committer {
    struct eng_store      *st;
    pthread_mutex_t        mu;
    pthread_cond_t         work; /* an item was queued, or closing */
    pthread_cond_t         done; /* a batch was completed */
    struct rt_commit_item *head, *tail;
    unsigned long long     added, completed; /* items, for flush */
    int                    closing;
    struct thr_set         thread; /* one slot; under mu */
    double                 idle_exit;
};

/* Syncs once for the batch, then completes its items in order. */
static void
commit_batch(struct rt_committer *c, struct rt_commit_item *it)
{
    struct errbuf          eb;
    struct rt_commit_item *next;
    long long              upto = 0;
    int                    rc;

    for (struct rt_commit_item *i = it; i != NULL; i = i->next)
        if (i->seq > upto)
            upto = i->seq;
    err_clear(&eb);
    rc = eng_store_durable(c->st, upto, &eb);
    for (; it != NULL; it = next) {
        next = it->next;
        it->done(it, rc, &eb);
    }
}

static void
commit_main(void *arg, unsigned slot)
{
    struct rt_committer   *c = arg;
    struct rt_commit_item *batch;
    unsigned long long     n;
    double                 idle_since = clock_mono(), left;

    pthread_mutex_lock(&c->mu);
    for (;;) {
        while (c->head == NULL && !c->closing) {
            left = c->idle_exit - (clock_mono() - idle_since);
            if (left <= 0) {
                /* nothing queued (under mu): an add from now on finds
                 * no thread live and starts one */
                thr_set_leave(&c->thread, slot);
                pthread_mutex_unlock(&c->mu);
                return;
            }
            thr_cond_wait_s(&c->work, &c->mu, left);
        }
        if (c->head == NULL) /* closing, nothing left */
            break;
        batch = c->head;
        c->head = c->tail = NULL;
        n = c->added;
        pthread_mutex_unlock(&c->mu);
        commit_batch(c, batch);
        pthread_mutex_lock(&c->mu);
        c->completed = n;
        idle_since = clock_mono();
        pthread_cond_broadcast(&c->done);
    }
    pthread_mutex_unlock(&c->mu);
}

int
rt_committer_new(struct eng_store *st, struct rt_committer **out,
    struct errbuf *eb)
{
    struct rt_committer *c;

    *out = NULL;
    if ((c = calloc(1, sizeof(*c))) == NULL
        || thr_set_init(&c->thread, 1, "herald-commit", commit_main, c) != 0) {
        free(c);
        return err_set(eb, ERR_NOMEM, "nomem", "out of memory");
    }
    c->st = st;
    c->idle_exit = COMMIT_IDLE_EXIT;
    pthread_mutex_init(&c->mu, NULL);
    pthread_cond_init(&c->work, NULL);
    pthread_cond_init(&c->done, NULL);
    *out = c;
    return 0;
}

void
rt_committer_add(struct rt_committer *c, struct rt_commit_item *it)
{
    struct errbuf eb;
    unsigned      slot;
    int           rc;

    it->next = NULL;
    pthread_mutex_lock(&c->mu);
    if (thr_set_live(&c->thread) == 0
        && (rc = thr_set_start(&c->thread, &slot)) != 0) {
        /* no thread: this caller syncs for itself (it is counted as
         * added and completed at once, so a flush does not wait for it) */
        pthread_mutex_unlock(&c->mu);
        log_debug("runtime", "event=committer-start-failed error=%d", rc);
        err_clear(&eb);
        rc = eng_store_durable(c->st, it->seq, &eb);
        it->done(it, rc, &eb);
        return;
    }
    if (c->tail != NULL)
        c->tail->next = it;
    else
        c->head = it;
    c->tail = it;
    c->added++;
    pthread_cond_signal(&c->work);
    pthread_mutex_unlock(&c->mu);
}

void
rt_committer_flush(struct rt_committer *c)
{
    unsigned long long n;

    if (c == NULL)
        return;
    pthread_mutex_lock(&c->mu);
    n = c->added;
    while (c->completed < n && thr_set_live(&c->thread) > 0)
        pthread_cond_wait(&c->done, &c->mu);
    pthread_mutex_unlock(&c->mu);
}

void
rt_committer_tick(struct rt_committer *c)
{
    if (c == NULL)
        return;
    pthread_mutex_lock(&c->mu);
    thr_set_reap(&c->thread);
    pthread_mutex_unlock(&c->mu);
}

void
rt_committer_idle_exit(struct rt_committer *c, double seconds)
{
    pthread_mutex_lock(&c->mu);
    c->idle_exit = seconds;
    pthread_mutex_unlock(&c->mu);
}

int
rt_committer_live(struct rt_committer *c)
{
    int n;

    pthread_mutex_lock(&c->mu);
    n = thr_set_live(&c->thread) > 0;
    pthread_mutex_unlock(&c->mu);
    return n;
}

void
rt_committer_free(struct rt_committer *c)
{
    if (c == NULL)
        return;
    pthread_mutex_lock(&c->mu);
    c->closing = 1;
    thr_set_close(&c->thread);
    pthread_cond_broadcast(&c->work);
    pthread_mutex_unlock(&c->mu);
    thr_set_fini(&c->thread); /* the thread completes what is queued */
    if (c->head != NULL)      /* none was live to take them */
        commit_batch(c, c->head);
    pthread_cond_destroy(&c->work);
    pthread_cond_destroy(&c->done);
    pthread_mutex_destroy(&c->mu);
    free(c);
}
