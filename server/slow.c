/* SPDX-License-Identifier: MIT */
/*
 * server/slow.c: threads for the handlers that may block for long
 * (SRV_ROUTE_SLOW, srv_int.h): a probe of a mail server, a test mail, a
 * run that waits for its outcome. Their connections are suspended
 * (srv_defer) while a thread of this set runs the handler, which answers
 * into the request's late response (srv_resume). The threads are elastic
 * (common/thread.h): started by requests, ended after 10 s without one.
 */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/clock.h"
#include "common/log.h"
#include "common/thread.h"
#include "server/srv_int.h"

#define SLOW_IDLE_EXIT 10.0

struct srv_slow {
    pthread_mutex_t mu;
    pthread_cond_t  work; /* a request was queued, or closing */
    struct srv_req *head, *tail;
    unsigned        queued, waiting, starting;
    int             closing;
    struct thr_set  threads; /* under mu */
};

static void
slow_main(void *arg, unsigned slot)
{
    struct srv_slow *w = arg;
    struct srv_req  *rq;
    double           idle_since = clock_mono(), left;

    pthread_mutex_lock(&w->mu);
    w->starting--;
    for (;;) {
        while (w->head == NULL && !w->closing) {
            thr_set_reap(&w->threads);
            left = SLOW_IDLE_EXIT - (clock_mono() - idle_since);
            if (left <= 0) {
                /* nothing queued, and not waiting: a request from now on
                 * finds one thread fewer and starts one */
                thr_set_leave(&w->threads, slot);
                pthread_cond_signal(&w->work); /* to join this one */
                pthread_mutex_unlock(&w->mu);
                return;
            }
            w->waiting++;
            thr_cond_wait_s(&w->work, &w->mu, left);
            w->waiting--;
        }
        if (w->head == NULL) /* closing */
            break;
        rq = w->head;
        if ((w->head = rq->slow_next) == NULL)
            w->tail = NULL;
        w->queued--;
        pthread_mutex_unlock(&w->mu);
        rq->slow_fn(rq, &rq->late);
        if (rq->late.status == 0)
            srv_reply_errorf(&rq->late, ERR_INTERNAL, "internal",
                "the handler gave no answer");
        srv_resume(rq); /* rq is the connection's again */
        pthread_mutex_lock(&w->mu);
        idle_since = clock_mono();
    }
    pthread_mutex_unlock(&w->mu);
}

int
srv_slow_new(struct srv_slow **out)
{
    struct srv_slow *w;

    *out = NULL;
    if ((w = calloc(1, sizeof(*w))) == NULL)
        return ENOMEM;
    if (thr_set_init(&w->threads, SRV_SLOW_THREADS, "herald-slow", slow_main, w)
        != 0) {
        free(w);
        return ENOMEM;
    }
    pthread_mutex_init(&w->mu, NULL);
    pthread_cond_init(&w->work, NULL);
    *out = w;
    return 0;
}

void
srv_slow_run(struct srv *s, struct srv_req *rq, struct srv_resp *rs,
    srv_handler fn)
{
    struct srv_slow *w = s->slow;
    unsigned         slot;
    int              rc = 0;

    if (w == NULL || !srv_defer_begin(rq)) {
        fn(rq, rs); /* stopping: as before, on this thread */
        return;
    }
    pthread_mutex_lock(&w->mu);
    if (w->queued >= SRV_SLOW_QUEUED) {
        pthread_mutex_unlock(&w->mu);
        srv_defer_cancel(rq);
        srv_reply_errorf(rs, ERR_BUSY, "busy",
            "%d slow requests (mail server probes, test mails, runs that "
            "wait) are waiting already; retry later",
            SRV_SLOW_QUEUED);
        return;
    }
    /* more wait than threads do: one more (a failure only slows them
     * down while one runs; with none, the request is answered here) */
    if (w->queued + 1 > w->waiting + w->starting
        && (rc = thr_set_start(&w->threads, &slot)) == 0)
        w->starting++;
    if (rc != 0 && thr_set_live(&w->threads) == 0) {
        pthread_mutex_unlock(&w->mu);
        srv_defer_cancel(rq);
        log_warn("http", "event=slow-thread-failed error=\"%s\"", strerror(rc));
        fn(rq, rs);
        return;
    }
    srv_defer(rq);
    rq->slow_fn = fn;
    rq->slow_next = NULL;
    if (w->tail != NULL)
        w->tail->slow_next = rq;
    else
        w->head = rq;
    w->tail = rq;
    w->queued++;
    pthread_cond_signal(&w->work);
    pthread_mutex_unlock(&w->mu);
}

void
srv_slow_tick(struct srv_slow *w)
{
    if (w == NULL)
        return;
    pthread_mutex_lock(&w->mu);
    thr_set_reap(&w->threads);
    pthread_mutex_unlock(&w->mu);
}

void
srv_slow_free(struct srv_slow *w)
{
    if (w == NULL)
        return;
    pthread_mutex_lock(&w->mu);
    w->closing = 1;
    thr_set_close(&w->threads);
    pthread_cond_broadcast(&w->work);
    pthread_mutex_unlock(&w->mu);
    thr_set_fini(&w->threads);
    pthread_cond_destroy(&w->work);
    pthread_mutex_destroy(&w->mu);
    free(w);
}
