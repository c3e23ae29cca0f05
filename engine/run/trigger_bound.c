/* SPDX-License-Identifier: MIT */
/*
 * engine/run/trigger_bound.c: how many runs of each applet wait in the
 * queue, the bound that syslog and timer triggers respect, and what they
 * dropped (see runtime_int.h). A table of applets under one mutex; no I/O,
 * so that runtime.c logs the reports and the unit tests read them.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine/run/runtime.h"
#include "engine/run/runtime_int.h"

struct tb_ent {
    char     *applet;
    unsigned  queued;                          /* runs not started yet */
    long long n[ENG_DROP_NSRC][ENG_DROP_NWHY]; /* since counting began */
    long long w[ENG_DROP_NSRC][ENG_DROP_NWHY]; /* not reported yet */
    long long first_ms;                        /* first unreported drop */
    long long last_ms;                         /* last drop, 0: none */
    long long reported_ms;                     /* last report, 0: none */
};

struct eng_tbound {
    pthread_mutex_t mu;
    unsigned        bound;
    long long       interval_ms;
    long long       since_ms;
    long long       total[ENG_DROP_NSRC][ENG_DROP_NWHY];
    long long       last_ms;
    struct tb_ent  *e;
    size_t          n, cap;
};

int
eng_tbound_new(unsigned bound, double interval_s, long long now_ms,
    struct eng_tbound **out, struct errbuf *eb)
{
    struct eng_tbound *tb;

    *out = NULL;
    if (bound == 0)
        return err_set(eb, ERR_INVAL, "invalid_config",
            "the trigger queue bound must be at least 1");
    if ((tb = calloc(1, sizeof(*tb))) == NULL)
        return err_set(eb, ERR_NOMEM, "nomem", "out of memory");
    pthread_mutex_init(&tb->mu, NULL);
    tb->bound = bound;
    tb->interval_ms = (long long)(interval_s * 1000);
    tb->since_ms = now_ms;
    *out = tb;
    return 0;
}

void
eng_tbound_free(struct eng_tbound *tb)
{
    size_t i;

    if (tb == NULL)
        return;
    for (i = 0; i < tb->n; i++)
        free(tb->e[i].applet);
    free(tb->e);
    pthread_mutex_destroy(&tb->mu);
    free(tb);
}

/* The applet's entry, created if need be; NULL when out of memory. Called
 * with tb->mu held. */
static struct tb_ent *
tb_ent(struct eng_tbound *tb, const char *applet, int create)
{
    struct tb_ent *e;
    size_t         i;

    for (i = 0; i < tb->n; i++)
        if (strcmp(tb->e[i].applet, applet) == 0)
            return &tb->e[i];
    if (!create)
        return NULL;
    if (tb->n == tb->cap) {
        size_t cap = tb->cap ? tb->cap * 2 : 16;

        if ((e = realloc(tb->e, cap * sizeof(*e))) == NULL)
            return NULL;
        tb->e = e;
        tb->cap = cap;
    }
    e = &tb->e[tb->n];
    memset(e, 0, sizeof(*e));
    if ((e->applet = strdup(applet)) == NULL)
        return NULL;
    tb->n++;
    return e;
}

/* Moves e's unreported drops into rep and starts a new window. */
static void
tb_report(struct eng_tbound *tb, struct tb_ent *e, long long now_ms,
    struct eng_drop_report *rep)
{
    snprintf(rep->applet, sizeof(rep->applet), "%s", e->applet);
    memcpy(rep->n, e->w, sizeof(rep->n));
    rep->seconds = (double)(now_ms - e->first_ms) / 1000;
    rep->queued = e->queued;
    rep->bound = tb->bound;
    rep->due = 1;
    memset(e->w, 0, sizeof(e->w));
    e->first_ms = 0;
    e->reported_ms = now_ms;
}

static int
tb_pending(const struct tb_ent *e)
{
    int s, w;

    for (s = 0; s < ENG_DROP_NSRC; s++)
        for (w = 0; w < ENG_DROP_NWHY; w++)
            if (e->w[s][w] != 0)
                return 1;
    return 0;
}

static void
tb_count(struct eng_tbound *tb, struct tb_ent *e, int src, int why,
    long long now_ms, struct eng_drop_report *rep)
{
    e->n[src][why]++;
    tb->total[src][why]++;
    if (!tb_pending(e))
        e->first_ms = now_ms;
    e->w[src][why]++;
    e->last_ms = tb->last_ms = now_ms;
    if (e->reported_ms == 0 || now_ms - e->reported_ms >= tb->interval_ms)
        tb_report(tb, e, now_ms, rep);
}

int
eng_tbound_take(struct eng_tbound *tb, const char *applet, int src,
    long long now_ms, struct eng_drop_report *rep)
{
    struct tb_ent *e;
    int            rc = 1;

    memset(rep, 0, sizeof(*rep));
    pthread_mutex_lock(&tb->mu);
    if ((e = tb_ent(tb, applet, 1)) == NULL) {
        rc = ERR_NOMEM;
    } else if (src != ENG_DROP_NONE && e->queued >= tb->bound) {
        tb_count(tb, e, src, ENG_DROP_QUEUE_FULL, now_ms, rep);
        rc = 0;
    } else {
        e->queued++;
    }
    pthread_mutex_unlock(&tb->mu);
    return rc;
}

void
eng_tbound_give(struct eng_tbound *tb, const char *applet)
{
    struct tb_ent *e;

    pthread_mutex_lock(&tb->mu);
    if ((e = tb_ent(tb, applet, 0)) != NULL && e->queued > 0)
        e->queued--;
    pthread_mutex_unlock(&tb->mu);
}

void
eng_tbound_drop(struct eng_tbound *tb, const char *applet, int src, int why,
    long long now_ms, struct eng_drop_report *rep)
{
    struct tb_ent *e;

    memset(rep, 0, sizeof(*rep));
    if (src < 0 || src >= ENG_DROP_NSRC || why < 0 || why >= ENG_DROP_NWHY)
        return;
    pthread_mutex_lock(&tb->mu);
    if ((e = tb_ent(tb, applet, 1)) != NULL) {
        tb_count(tb, e, src, why, now_ms, rep);
    } else { /* out of memory: still in the totals */
        tb->total[src][why]++;
        tb->last_ms = now_ms;
    }
    pthread_mutex_unlock(&tb->mu);
}

size_t
eng_tbound_flush(struct eng_tbound *tb, long long now_ms,
    struct eng_drop_report *reps, size_t max)
{
    size_t i, k = 0;

    pthread_mutex_lock(&tb->mu);
    for (i = 0; i < tb->n && k < max; i++) {
        struct tb_ent *e = &tb->e[i];

        if (tb_pending(e) && now_ms - e->reported_ms >= tb->interval_ms) {
            memset(&reps[k], 0, sizeof(reps[k]));
            tb_report(tb, e, now_ms, &reps[k++]);
        }
    }
    pthread_mutex_unlock(&tb->mu);
    return k;
}

static void
tb_fill(struct eng_trigger_drops *d, long long n[ENG_DROP_NSRC][ENG_DROP_NWHY],
    long long last_ms, long long since_ms)
{
    d->syslog = n[ENG_DROP_SYSLOG][ENG_DROP_QUEUE_FULL]
        + n[ENG_DROP_SYSLOG][ENG_DROP_RATELIMIT];
    d->timer = n[ENG_DROP_TIMER][ENG_DROP_QUEUE_FULL]
        + n[ENG_DROP_TIMER][ENG_DROP_RATELIMIT];
    d->application = n[ENG_DROP_APPLICATION][ENG_DROP_QUEUE_FULL]
        + n[ENG_DROP_APPLICATION][ENG_DROP_RATELIMIT];
    d->queue_full = n[ENG_DROP_SYSLOG][ENG_DROP_QUEUE_FULL]
        + n[ENG_DROP_TIMER][ENG_DROP_QUEUE_FULL]
        + n[ENG_DROP_APPLICATION][ENG_DROP_QUEUE_FULL];
    d->ratelimited = n[ENG_DROP_SYSLOG][ENG_DROP_RATELIMIT]
        + n[ENG_DROP_TIMER][ENG_DROP_RATELIMIT]
        + n[ENG_DROP_APPLICATION][ENG_DROP_RATELIMIT];
    d->last_ms = last_ms;
    d->since_ms = since_ms;
}

void
eng_tbound_get(struct eng_tbound *tb, const char *applet,
    struct eng_trigger_drops *out)
{
    static long long zero[ENG_DROP_NSRC][ENG_DROP_NWHY];
    struct tb_ent   *e;

    memset(out, 0, sizeof(*out));
    pthread_mutex_lock(&tb->mu);
    if (applet == NULL) {
        size_t i;

        tb_fill(out, tb->total, tb->last_ms, tb->since_ms);
        for (i = 0; i < tb->n; i++)
            out->queued += tb->e[i].queued;
    } else if ((e = tb_ent(tb, applet, 0)) != NULL) {
        tb_fill(out, e->n, e->last_ms, tb->since_ms);
        out->queued = e->queued;
    } else {
        tb_fill(out, zero, 0, tb->since_ms);
    }
    pthread_mutex_unlock(&tb->mu);
}

void
eng_tbound_forget(struct eng_tbound *tb, const char *const *keep, size_t n)
{
    size_t i, k;

    pthread_mutex_lock(&tb->mu);
    for (i = 0; i < tb->n;) {
        for (k = 0; k < n; k++)
            if (strcmp(keep[k], tb->e[i].applet) == 0)
                break;
        if (k == n && tb->e[i].queued == 0) {
            free(tb->e[i].applet);
            tb->e[i] = tb->e[--tb->n];
        } else {
            i++;
        }
    }
    pthread_mutex_unlock(&tb->mu);
}
