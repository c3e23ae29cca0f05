/* SPDX-License-Identifier: MIT */
/*
 * engine/run/trigger_timer.c: the timer events of EEM applets — watchdog
 * (every S seconds), countdown (once, S seconds after registration),
 * absolute (once, at epoch time T) and cron — on one thread that sleeps
 * until the earliest deadline. The same thread calls the kick callback
 * soon after eng_timers_kick (the runtime re-registers changed applets
 * there, after the store write that kicked). The thread runs only while
 * there is a timer or a kick: without timer applets herald has no thread
 * for them (its stack and TLS go back, common/thread.h).
 */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/log.h"
#include "common/thread.h"
#include "engine/lang/applet.h"
#include "engine/run/runtime_int.h"

struct tm_reg {
    char           *applet;
    char           *identity;
    size_t          event;
    int             type;
    double          time;
    struct eng_cron cron;
    double          next; /* epoch seconds; < 0: never again */
};

struct eng_timers {
    pthread_mutex_t mu;
    pthread_cond_t  cv;
    struct tm_reg  *regs;
    size_t          n;
    int             stop;
    int             kick;
    struct thr_set  thread; /* one, under mu */
    void (*fire)(void *, const struct eng_timer_fire *);
    void (*kicked)(void *);
    void *ud;
};

static double
now_s(void)
{
    return (double)clock_now_ms() / 1000.0;
}

time_t
eng_timer_first(const struct eng_timer_def *d, const struct eng_cron *cron,
    time_t now)
{
    double t = d->time < 0.1 ? 0.1 : d->time;

    switch (d->type) {
    case ENG_EV_TIMER_WATCHDOG:
    case ENG_EV_TIMER_COUNTDOWN:
        return now + (time_t)(t + 0.5);
    case ENG_EV_TIMER_ABSOLUTE:
        return d->time > (double)now ? (time_t)d->time : -1;
    case ENG_EV_TIMER_CRON:
        return cron ? eng_cron_next(cron, now) : -1;
    default:
        return -1;
    }
}

static double
reg_first(const struct tm_reg *r, double now)
{
    double t = r->time < 0.1 ? 0.1 : r->time;

    switch (r->type) {
    case ENG_EV_TIMER_WATCHDOG:
    case ENG_EV_TIMER_COUNTDOWN:
        return now + t;
    case ENG_EV_TIMER_ABSOLUTE:
        return r->time > now ? r->time : -1;
    case ENG_EV_TIMER_CRON: {
        time_t n = eng_cron_next(&r->cron, (time_t)now);

        return n < 0 ? -1 : (double)n;
    }
    default:
        return -1;
    }
}

static void
reg_clear(struct tm_reg *r)
{
    free(r->applet);
    free(r->identity);
}

static void
tm_main(void *arg, unsigned slot)
{
    struct eng_timers     *t = arg;
    struct eng_timer_fire *due = NULL;
    char                 **names = NULL;
    size_t                 ndue, i, cap = 0;
    struct timespec        ts;
    double                 now, wake;
    int                    kicked;

    pthread_mutex_lock(&t->mu);
    while (!t->stop) {
        now = now_s();
        ndue = 0;
        if (cap < t->n) {
            struct eng_timer_fire *nd = realloc(due, t->n * sizeof(*due));
            char                 **nn = realloc(names, t->n * sizeof(*nn));

            if (nd != NULL)
                due = nd;
            if (nn != NULL)
                names = nn;
            if (nd != NULL && nn != NULL)
                cap = t->n;
        }
        for (i = 0; i < t->n && ndue < cap; i++) {
            struct tm_reg *r = &t->regs[i];

            if (r->next < 0 || r->next > now)
                continue;
            due[ndue] = (struct eng_timer_fire){ NULL, r->event, r->type,
                (time_t)r->next, 0 };
            if (r->type == ENG_EV_TIMER_WATCHDOG) {
                double p = r->time < 0.1 ? 0.1 : r->time;

                r->next += p;
                if (r->next <= now) /* we slept through some: skip them */
                    r->next = now + p;
            } else if (r->type == ENG_EV_TIMER_CRON) {
                r->next = reg_first(r, now);
            } else {
                r->next = -1;
            }
            due[ndue].remain = r->next < 0 ? 0 : r->next - now;
            names[ndue] = strdup(r->applet);
            if (names[ndue] != NULL)
                ndue++;
        }
        kicked = t->kick;
        t->kick = 0;
        pthread_mutex_unlock(&t->mu);
        for (i = 0; i < ndue; i++) {
            due[i].applet = names[i];
            t->fire(t->ud, &due[i]);
            free(names[i]);
        }
        if (kicked && t->kicked != NULL)
            t->kicked(t->ud);
        pthread_mutex_lock(&t->mu);
        if (t->stop)
            break;
        wake = -1;
        for (i = 0; i < t->n; i++)
            if (t->regs[i].next >= 0 && (wake < 0 || t->regs[i].next < wake))
                wake = t->regs[i].next;
        if (wake < 0 && !t->kick) /* nothing will ever be due: end */
            break;
        now = now_s();
        if (wake < 0 || wake - now > 30) /* re-check: the clock may jump */
            wake = now + 30;
        if (wake <= now || t->kick)
            continue;
        ts.tv_sec = (time_t)wake;
        ts.tv_nsec = (long)((wake - (double)(time_t)wake) * 1e9);
        pthread_cond_timedwait(&t->cv, &t->mu, &ts);
    }
    if (!t->stop)
        thr_set_leave(&t->thread, slot);
    pthread_mutex_unlock(&t->mu);
    free(due);
    free(names);
}

/* Under t->mu: the thread looks at the registrations and the kick again,
 * started if it had ended. */
static void
tm_wake(struct eng_timers *t)
{
    int rc;

    if ((rc = thr_set_wake(&t->thread, &t->cv)) != 0 && rc != ECANCELED)
        log_warn("timer",
            "event=thread-start-failed error=\"%s\" note=\"tried again "
            "every second\"",
            strerror(rc));
}

int
eng_timers_new(void (*fire)(void *ud, const struct eng_timer_fire *f),
    void (*kicked)(void *ud), void *ud, struct eng_timers **out,
    struct errbuf *eb)
{
    struct eng_timers *t;

    *out = NULL;
    if ((t = calloc(1, sizeof(*t))) == NULL)
        return err_set(eb, ERR_NOMEM, "nomem", "out of memory");
    t->fire = fire;
    t->kicked = kicked;
    t->ud = ud;
    if (thr_set_init(&t->thread, 1, "herald-timer", tm_main, t) != 0) {
        free(t);
        return err_set(eb, ERR_NOMEM, "nomem", "out of memory");
    }
    pthread_mutex_init(&t->mu, NULL);
    pthread_cond_init(&t->cv, NULL);
    *out = t;
    return 0;
}

int
eng_timers_set(struct eng_timers *t, const struct eng_timer_def *d, size_t n,
    struct errbuf *eb)
{
    struct tm_reg *regs;
    size_t         i, j;
    double         now = now_s();
    int            rc = 0;

    if ((regs = calloc(n ? n : 1, sizeof(*regs))) == NULL)
        return err_set(eb, ERR_NOMEM, "nomem", "out of memory");
    for (i = 0; i < n; i++) {
        struct tm_reg *r = &regs[i];

        r->applet = strdup(d[i].applet);
        r->identity = strdup(d[i].identity ? d[i].identity : "");
        r->event = d[i].event;
        r->type = d[i].type;
        r->time = d[i].time;
        if (r->applet == NULL || r->identity == NULL) {
            rc = err_set(eb, ERR_NOMEM, "nomem", "out of memory");
            goto fail;
        }
        if (r->type == ENG_EV_TIMER_CRON
            && (rc = eng_cron_parse(d[i].cron_entry, &r->cron, eb)) != 0) {
            char m[sizeof(eb->msg)];

            if (eb != NULL) {
                memcpy(m, eb->msg, sizeof(m));
                snprintf(eb->msg, sizeof(eb->msg), "applet %.64s: %.680s",
                    d[i].applet, m);
            }
            goto fail;
        }
    }
    pthread_mutex_lock(&t->mu);
    for (i = 0; i < n; i++) {
        regs[i].next = -2;
        for (j = 0; j < t->n; j++)
            if (strcmp(t->regs[j].applet, regs[i].applet) == 0
                && t->regs[j].event == regs[i].event
                && strcmp(t->regs[j].identity, regs[i].identity) == 0) {
                regs[i].next = t->regs[j].next;
                break;
            }
        if (regs[i].next == -2)
            regs[i].next = reg_first(&regs[i], now);
    }
    for (j = 0; j < t->n; j++)
        reg_clear(&t->regs[j]);
    free(t->regs);
    t->regs = regs;
    t->n = n;
    if (n > 0)
        tm_wake(t);
    else /* a live thread ends now rather than at its next check */
        pthread_cond_broadcast(&t->cv);
    pthread_mutex_unlock(&t->mu);
    log_info("timer", "event=registered timers=%zu", n);
    return 0;
fail:
    for (i = 0; i < n; i++)
        reg_clear(&regs[i]);
    free(regs);
    return rc;
}

void
eng_timers_kick(struct eng_timers *t)
{
    pthread_mutex_lock(&t->mu);
    t->kick = 1;
    tm_wake(t);
    pthread_mutex_unlock(&t->mu);
}

void
eng_timers_reap(struct eng_timers *t)
{
    if (t == NULL)
        return;
    pthread_mutex_lock(&t->mu);
    thr_set_reap(&t->thread);
    if ((t->n > 0 || t->kick) && thr_set_live(&t->thread) == 0)
        tm_wake(t); /* it could not be started: try again */
    pthread_mutex_unlock(&t->mu);
}

void
eng_timers_free(struct eng_timers *t)
{
    size_t i;

    if (t == NULL)
        return;
    pthread_mutex_lock(&t->mu);
    t->stop = 1;
    thr_set_close(&t->thread);
    pthread_cond_broadcast(&t->cv);
    pthread_mutex_unlock(&t->mu);
    thr_set_fini(&t->thread);
    for (i = 0; i < t->n; i++)
        reg_clear(&t->regs[i]);
    free(t->regs);
    pthread_cond_destroy(&t->cv);
    pthread_mutex_destroy(&t->mu);
    free(t);
}
