/* SPDX-License-Identifier: MIT */
/*
 * engine/run/pool.c: worker threads taking jobs from a bounded FIFO ring. A
 * full ring refuses new jobs with ERR_BUSY instead of blocking the caller
 * (the HTTP side turns that into 429 + Retry-After). Draining stops
 * intake, waits a bounded time, then drops what is left.
 *
 * The workers are elastic: none runs from the start; a job queued while
 * more jobs wait than workers wait or start starts one, up to the
 * configured count; a worker that found no job for idle_exit seconds
 * ends, the last one too, so an idle pool has no thread. An idle thread
 * costs ~64 KB resident (stack, and the static TLS glibc zero-fills in
 * each), and its stack goes back when it is joined (common/thread.h): by
 * a worker going idle, or by eng_pool_tick once none is left.
 *
 * Nothing is stranded by a worker that ends: it decides under mu, seeing
 * no job queued, and stops counting as waiting before it does; a job
 * queued after that finds it neither waiting nor starting, so the submit
 * starts a worker.
 */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/clock.h"
#include "common/log.h"
#include "common/thread.h"
#include "engine/run/runtime_int.h"

struct pool_job {
    void (*run)(void *);
    void (*drop)(void *);
    void *arg;
};

/* How long a worker waits for a job before it ends. */
#define POOL_IDLE_EXIT 10.0

struct eng_pool {
    pthread_mutex_t  mu;
    pthread_cond_t   work; /* a job was queued, a worker ended, or
                              stopping */
    pthread_cond_t   idle; /* a job finished */
    struct pool_job *ring;
    unsigned         cap, head, count;
    unsigned         running;
    int              accepting;
    int              stopping;
    struct thr_set   workers;  /* under mu; closed once stopping */
    unsigned         waiting;  /* live workers waiting for a job */
    unsigned         starting; /* started, not at their first look
                                  yet: each takes a job too */
    double           idle_exit;
};

static void pool_main(void *arg, unsigned slot);

/* Starts a worker (under mu) unless stopping or all of them run already.
 * Returns 0 or an errno value (common/thread.h). */
static int
pool_spawn_locked(struct eng_pool *p)
{
    unsigned slot;
    int      rc;

    if ((rc = thr_set_start(&p->workers, &slot)) == 0)
        p->starting++;
    return rc;
}

/* The worker in slot self ends (under mu). */
static void
pool_leave_locked(struct eng_pool *p, unsigned self)
{
    thr_set_leave(&p->workers, self);
    log_debug("pool", "event=worker_end live=%u", thr_set_live(&p->workers));
    pthread_cond_signal(&p->work); /* someone joins this one, if any */
}

static void
pool_main(void *arg, unsigned slot)
{
    struct eng_pool *p = arg;
    struct pool_job  j;
    double           idle_since = clock_mono(), left;

    pthread_mutex_lock(&p->mu);
    p->starting--;
    for (;;) {
        while (p->count == 0 && !p->stopping) {
            thr_set_reap(&p->workers);
            left = p->idle_exit - (clock_mono() - idle_since);
            if (left <= 0) {
                /* no job queued (checked under mu), and this worker is
                 * not waiting: a job queued from now on is for the
                 * others, or starts one */
                pool_leave_locked(p, slot);
                pthread_mutex_unlock(&p->mu);
                return;
            }
            p->waiting++;
            thr_cond_wait_s(&p->work, &p->mu, left);
            p->waiting--;
        }
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
        idle_since = clock_mono();
        pthread_cond_broadcast(&p->idle);
    }
    pthread_mutex_unlock(&p->mu);
}

int
eng_pool_new(unsigned workers, unsigned qsize, struct eng_pool **out,
    struct errbuf *eb)
{
    struct eng_pool *p;

    *out = NULL;
    if (workers == 0 || workers > 1024)
        return err_set(eb, ERR_INVAL, "invalid_workers",
            "worker count %u is out of range (1-1024)", workers);
    if (qsize == 0 || qsize > 1000000)
        return err_set(eb, ERR_INVAL, "invalid_queue_size",
            "queue size %u is out of range (1-1000000)", qsize);
    if ((p = calloc(1, sizeof(*p))) == NULL)
        return err_set(eb, ERR_NOMEM, "nomem", "out of memory");
    if ((p->ring = calloc(qsize, sizeof(*p->ring))) == NULL
        || thr_set_init(&p->workers, workers, "herald-run", pool_main, p)
            != 0) {
        free(p->ring);
        free(p);
        return err_set(eb, ERR_NOMEM, "nomem", "out of memory");
    }
    p->cap = qsize;
    p->idle_exit = POOL_IDLE_EXIT;
    p->accepting = 1;
    pthread_mutex_init(&p->mu, NULL);
    pthread_cond_init(&p->work, NULL);
    pthread_cond_init(&p->idle, NULL);
    /* no worker yet: jobs start them */
    *out = p;
    return 0;
}

void
eng_pool_idle_exit(struct eng_pool *p, double seconds)
{
    pthread_mutex_lock(&p->mu);
    p->idle_exit = seconds;
    pthread_cond_broadcast(&p->work); /* waiting workers count anew */
    pthread_mutex_unlock(&p->mu);
}

unsigned
eng_pool_workers(struct eng_pool *p)
{
    unsigned n;

    pthread_mutex_lock(&p->mu);
    n = thr_set_live(&p->workers);
    pthread_mutex_unlock(&p->mu);
    return n;
}

void
eng_pool_tick(struct eng_pool *p)
{
    int rc;

    pthread_mutex_lock(&p->mu);
    thr_set_reap(&p->workers);
    if (p->count > 0 && thr_set_live(&p->workers) == 0
        && (rc = pool_spawn_locked(p)) != 0 && rc != ECANCELED)
        log_warn("pool",
            "event=worker_start_failed live=0 queued=%u "
            "error=\"%s\" note=\"retried in a second\"",
            p->count, strerror(rc));
    pthread_mutex_unlock(&p->mu);
}

int
eng_pool_submit(struct eng_pool *p, void (*run)(void *arg),
    void (*drop)(void *arg), void *arg)
{
    int rc;

    pthread_mutex_lock(&p->mu);
    if (!p->accepting || p->count == p->cap) {
        pthread_mutex_unlock(&p->mu);
        return ERR_BUSY;
    }
    p->ring[(p->head + p->count) % p->cap] =
        (struct pool_job){ run, drop, arg };
    p->count++;
    /* more jobs wait than workers do: one more worker unless all of them
     * run (a failure to start it only slows the queue down: the running
     * ones take the job, or, with none running, the one eng_pool_tick
     * starts) */
    if (p->count > p->waiting + p->starting && (rc = pool_spawn_locked(p)) != 0
        && rc != EBUSY)
        log_debug("pool", "event=worker_start_failed live=%u",
            thr_set_live(&p->workers));
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
    if (p == NULL)
        return;
    pthread_mutex_lock(&p->mu);
    p->accepting = 0;
    p->stopping = 1;
    thr_set_close(&p->workers);
    pthread_cond_broadcast(&p->work);
    pthread_mutex_unlock(&p->mu);
    /* closed: no worker is started or joined but here */
    thr_set_fini(&p->workers);
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
