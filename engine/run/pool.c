/* SPDX-License-Identifier: MIT */
/*
 * engine/run/pool.c: a fixed set of worker threads taking jobs from a bounded
 * FIFO ring. A full ring refuses new jobs with ERR_BUSY instead of
 * blocking the caller (the HTTP side turns that into 429 + Retry-After).
 * Draining stops intake, waits a bounded time, then drops what is left.
 */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/log.h"
#include "engine/run/runtime_int.h"

struct pool_job {
    void (*run)(void *);
    void (*drop)(void *);
    void *arg;
};

struct eng_pool {
    pthread_mutex_t  mu;
    pthread_cond_t   work; /* a job was queued, or stopping */
    pthread_cond_t   idle; /* a job finished */
    struct pool_job *ring;
    unsigned         cap, head, count;
    unsigned         running;
    int              accepting;
    int              stopping;
    pthread_t       *threads;
    unsigned         nthreads;
};

static void *
pool_main(void *arg)
{
    struct eng_pool *p = arg;
    struct pool_job  j;

    pthread_mutex_lock(&p->mu);
    for (;;) {
        while (p->count == 0 && !p->stopping)
            pthread_cond_wait(&p->work, &p->mu);
        if (p->count == 0 && p->stopping)
            break;
        j = p->ring[p->head];
        p->head = (p->head + 1) % p->cap;
        p->count--;
        p->running++;
        pthread_mutex_unlock(&p->mu);
        j.run(j.arg);
        pthread_mutex_lock(&p->mu);
        p->running--;
        pthread_cond_broadcast(&p->idle);
    }
    pthread_mutex_unlock(&p->mu);
    return NULL;
}

int
eng_pool_new(unsigned workers, unsigned qsize, struct eng_pool **out,
    struct errbuf *eb)
{
    struct eng_pool *p;
    unsigned         i;
    int              rc;

    *out = NULL;
    if (workers == 0 || workers > 1024)
        return err_set(eb, ERR_INVAL, "invalid_workers",
            "worker count %u is out of range (1-1024)", workers);
    if (qsize == 0 || qsize > 1000000)
        return err_set(eb, ERR_INVAL, "invalid_queue_size",
            "queue size %u is out of range (1-1000000)", qsize);
    if ((p = calloc(1, sizeof(*p))) == NULL)
        return err_set(eb, ERR_NOMEM, "nomem", "out of memory");
    p->ring = calloc(qsize, sizeof(*p->ring));
    p->threads = calloc(workers, sizeof(*p->threads));
    if (p->ring == NULL || p->threads == NULL) {
        free(p->ring);
        free(p->threads);
        free(p);
        return err_set(eb, ERR_NOMEM, "nomem", "out of memory");
    }
    p->cap = qsize;
    p->accepting = 1;
    pthread_mutex_init(&p->mu, NULL);
    pthread_cond_init(&p->work, NULL);
    pthread_cond_init(&p->idle, NULL);
    for (i = 0; i < workers; i++) {
        if ((rc = pthread_create(&p->threads[i], NULL, pool_main, p)) != 0) {
            eng_pool_free(p);
            return err_set(eb, ERR_INTERNAL, "thread",
                "cannot start worker thread %u: %s", i, strerror(rc));
        }
        pthread_setname_np(p->threads[i], "herald-run");
        p->nthreads++;
    }
    *out = p;
    return 0;
}

int
eng_pool_submit(struct eng_pool *p, void (*run)(void *arg),
    void (*drop)(void *arg), void *arg)
{
    pthread_mutex_lock(&p->mu);
    if (!p->accepting || p->count == p->cap) {
        pthread_mutex_unlock(&p->mu);
        return ERR_BUSY;
    }
    p->ring[(p->head + p->count) % p->cap] =
        (struct pool_job){ run, drop, arg };
    p->count++;
    pthread_cond_signal(&p->work);
    pthread_mutex_unlock(&p->mu);
    return 0;
}

int
eng_pool_drain(struct eng_pool *p, double timeout_s)
{
    struct timespec  ts;
    struct pool_job *left = NULL;
    unsigned         nleft = 0, i;
    int              rc;

    clock_gettime(CLOCK_REALTIME, &ts);
    ts.tv_sec += (time_t)timeout_s;
    ts.tv_nsec += (long)((timeout_s - (double)(time_t)timeout_s) * 1e9);
    if (ts.tv_nsec >= 1000000000L) {
        ts.tv_sec++;
        ts.tv_nsec -= 1000000000L;
    }
    pthread_mutex_lock(&p->mu);
    p->accepting = 0;
    while (p->count > 0 || p->running > 0) {
        if (pthread_cond_timedwait(&p->idle, &p->mu, &ts) == ETIMEDOUT)
            break;
    }
    if (p->count > 0 && (left = calloc(p->count, sizeof(*left))) != NULL) {
        while (p->count > 0) {
            left[nleft++] = p->ring[p->head];
            p->head = (p->head + 1) % p->cap;
            p->count--;
        }
    }
    rc = (int)(nleft + p->running + p->count);
    pthread_mutex_unlock(&p->mu);
    for (i = 0; i < nleft; i++)
        if (left[i].drop != NULL)
            left[i].drop(left[i].arg);
    free(left);
    return rc;
}

void
eng_pool_free(struct eng_pool *p)
{
    unsigned i;

    if (p == NULL)
        return;
    pthread_mutex_lock(&p->mu);
    p->accepting = 0;
    p->stopping = 1;
    pthread_cond_broadcast(&p->work);
    pthread_mutex_unlock(&p->mu);
    for (i = 0; i < p->nthreads; i++)
        pthread_join(p->threads[i], NULL);
    /* jobs still queued (free without drain): drop them */
    while (p->count > 0) {
        struct pool_job j = p->ring[p->head];

        p->head = (p->head + 1) % p->cap;
        p->count--;
        if (j.drop != NULL)
            j.drop(j.arg);
    }
    pthread_cond_destroy(&p->work);
    pthread_cond_destroy(&p->idle);
    pthread_mutex_destroy(&p->mu);
    free(p->ring);
    free(p->threads);
    free(p);
}

void
eng_pool_counts(struct eng_pool *p, unsigned *depth, unsigned *running)
{
    pthread_mutex_lock(&p->mu);
    if (depth != NULL)
        *depth = p->count;
    if (running != NULL)
        *running = p->running;
    pthread_mutex_unlock(&p->mu);
}
