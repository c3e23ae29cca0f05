/* SPDX-License-Identifier: MIT */
/*
 * engine/run/runtime.c: ties the runtime together (see runtime.h). A trigger
 * (manual run, webhook, syslog match, timer) takes the parsed applet from
 * the configuration cache (cfg_cache.h: read and parsed once per change of
 * the configuration, as are the variables runs read), applies its
 * ratelimit, records a "queued" run with its trigger data, and submits a
 * job to the worker pool; a worker runs the interpreter with
 * hooks for the environment, mail (-> outbox), syslog, context and policy,
 * and records the outcome. Also the default outbox transport over
 * engine/smtp/smtp.h, which keeps sessions open between messages.
 *
 * Several instances on one database (PostgreSQL, docs/storage.md): timers
 * fire only on the leader (eng_store_leader), every instance keeps
 * counting them; eng_runtime_tick takes over the runs of dead instances.
 * When the database cannot be reached (ERR_UNAVAILABLE, never on SQLite),
 * a trigger fails with it (the server answers 503) before anything is
 * queued, and a run already accepted is held back rather than lost: a
 * worker that cannot mark it started, or whose run lost the database on
 * the way (its mail could not be queued, a variable could not be read),
 * keeps it in rt->deferred, and a run's outcome that could not be written
 * waits in rt->pending; eng_runtime_tick retries both once the database
 * answers. A run held back mid-way runs again from its start, so an
 * action before the loss may be repeated (delivery is at least once).
 */
#include <ctype.h>
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "common/buf.h"
#include "common/log.h"
#include "common/metrics.h"
#include "common/redact.h"
#include "common/sec.h"
#include "engine/lang/applet.h"
#include "engine/run/interp.h"
#include "engine/mail/mail.h"
#include "engine/run/cfg_cache.h"
#include "engine/run/runtime.h"
#include "engine/run/runtime_int.h"
#include "engine/smtp/smtp.h"
#include "engine/store/store.h"
#include "pki/pki.h"

#define IDEM_WINDOW_MS (24LL * 3600 * 1000)
#define IDEM_KEY_MAX   128
/* "policy NAME" from another applet: event none, recorded as "policy" */
#define RT_EV_POLICY (-1)
/* an application event published by a run (publish-event): bounded and
 * counted like syslog and timer triggers */
#define RT_EV_PUBLISHED (-2)
/* the least time between two "triggers-dropped" lines of one applet */
#define DROP_LOG_S 10.0
/* After the database was lost, runs of other instances are not taken
 * over for this long: every live instance renews its leases (they may
 * have passed while nobody could reach the database) first. */
#define RT_ADOPT_GRACE_MS 5000LL
/* rt_maintain: the recheck this often, the first one this long after the
 * start */
#define RT_MAINT_MS       10000LL
#define RT_MAINT_FIRST_MS 5000LL

struct rl_entry {
    char     *applet;
    size_t    event;
    long long last_ms;
};

struct sl_reg {
    char                   *applet;
    size_t                  event;
    struct eng_syslog_match m;
};

struct app_reg { /* one "event application" */
    char    *applet;
    size_t   event;
    unsigned sub_system, type;
};

struct rt_job;

/* A store write held back while the database could not be reached
 * (eng_runtime_tick retries it): a run's outcome, or a run to requeue. */
struct rt_pending {
    struct rt_pending *next;
    long long          id;
    int                requeue;         /* 1: applet, replay; 0: end */
    char              *applet, *replay; /* requeue (replay: a secret) */
    struct eng_run_end end;             /* its strings are str[] */
    char              *str[6];
};

struct eng_runtime {
    struct eng_store           *st;
    struct eng_trustcache      *tc;
    struct eng_runtime_opts     o;
    char                       *syslog_listen;
    struct eng_pool            *pool;
    struct rt_committer        *committer; /* webhooks acknowledged on disk */
    struct eng_outbox          *ob;
    struct eng_timers          *timers;
    struct eng_syslog_listener *sl;
    struct eng_tbound          *tb;      /* queued runs, dropped triggers */
    pthread_mutex_t             mu;      /* rl */
    pthread_mutex_t             idem_mu; /* idempotency check + insert */
    struct rl_entry            *rl;
    size_t                      nrl;
    pthread_mutex_t             sl_mu; /* sl_regs, app_regs */
    struct sl_reg              *sl_regs;
    size_t                      nsl;
    struct app_reg             *app_regs;
    size_t                      napp;
    atomic_int                  cancel;
    atomic_int                  draining;
    int                         drained;
    int                         started;
    atomic_llong                n_started, n_busy, n_ratelimited;
    pthread_mutex_t             reg_mu;      /* one re-registration at a time */
    pthread_mutex_t             kick_mu;     /* leaf lock: kick_timers */
    struct eng_timers          *kick_timers; /* rt->timers, for the hook */
    uint64_t                    applets_fp;  /* of the registered set */
    long long                   last_prune_ms;
    long long                   next_maint_ms; /* rt_maintain */
    struct eng_hook_seen       *hook_seen;     /* verified webhook signatures */
    /* parsed applets and variables, between configuration changes (the
     * store's watch callback, on_db_change, invalidates it) */
    struct eng_cfg_cache *cache;
    /* held back while the database could not be reached (leaf lock):
     * runs to run again, in order, and store writes to retry */
    pthread_mutex_t    defer_mu;
    struct rt_job     *deferred, *deferred_tail;
    struct rt_pending *pending;
    unsigned           ndeferred, npending;
    long long          db_down_ms; /* eng_runtime_tick: last seen down */
};

struct rt_job {
    struct eng_runtime *rt;
    long long           id;
    struct eng_applet  *applet;
    size_t              event;
    struct eng_vars     vars;
    char               *slot;  /* applet whose queue slot it holds */
    unsigned            depth; /* published events that led to it */
    pthread_mutex_t     mu;
    pthread_cond_t      cv;
    int                 refs;
    int                 done; /* 1 ran, 2 dropped */
    char                status[16];
    int                 exit_status;
    char               *output;
    int                 unavailable; /* the run lost the database (worker) */
    struct rt_job      *dnext;       /* in rt->deferred */
};

static const char *
trigger_name(int type)
{
    switch (type) {
    case RT_EV_POLICY:
        return "policy";
    case ENG_EV_NONE:
        return "manual";
    case ENG_EV_SYSLOG:
        return "syslog";
    case ENG_EV_WEBHOOK:
        return "webhook";
    case RT_EV_PUBLISHED:
    case ENG_EV_APPLICATION:
        return "application";
    default:
        return "timer";
    }
}

/* ---- jobs --------------------------------------------------------------- */

static void
job_unref(struct rt_job *j)
{
    int last;

    pthread_mutex_lock(&j->mu);
    last = --j->refs == 0;
    pthread_mutex_unlock(&j->mu);
    if (!last)
        return;
    eng_applet_free(j->applet);
    eng_vars_free(&j->vars);
    free(j->slot);
    free(j->output);
    pthread_mutex_destroy(&j->mu);
    pthread_cond_destroy(&j->cv);
    free(j);
}

static void
job_done(struct rt_job *j, int how, const char *status, int exit_status,
    const char *output)
{
    pthread_mutex_lock(&j->mu);
    j->done = how;
    snprintf(j->status, sizeof(j->status), "%s", status);
    j->exit_status = exit_status;
    if (output != NULL)
        j->output = strdup(output);
    pthread_cond_broadcast(&j->cv);
    pthread_mutex_unlock(&j->mu);
}

/* The job leaves the queue (it starts, or is dropped at drain): its
 * applet's slot is free for the next trigger. */
static void
job_unqueue(struct rt_job *j)
{
    if (j->slot == NULL)
        return;
    eng_tbound_give(j->rt->tb, j->slot);
    free(j->slot);
    j->slot = NULL;
}

/* ---- interpreter hooks -------------------------------------------------- */

static char *
hook_env_get(void *ud, const char *name, int *secret)
{
    struct rt_job *j = ud;
    char          *r = NULL;
    int            rc, sec = 0;

    if ((rc = eng_cfg_cache_env(j->rt->cache, name, &r, &sec, NULL)) != 0) {
        if (rc == ERR_UNAVAILABLE) /* not "unset": the run waits */
            j->unavailable = 1;
        return NULL;
    }
    *secret = sec;
    return r;
}

static int
hook_mail(void *ud, const struct eng_mail_req *req, cJSON *trace,
    struct smtp_result *res)
{
    struct rt_job      *j = ud;
    struct eng_runtime *rt = j->rt;
    struct errbuf       eb;
    long long           oid = 0;
    int                 rc;

    memset(res, 0, sizeof(*res));
    err_clear(&eb);
    if ((rc = eng_outbox_put(rt->ob, j->id, eng_applet_name(j->applet), req,
             rt->o.mail_wait == ENG_MAIL_WAIT_DELIVERY, &oid, &eb))
        != 0) {
        if (rc == ERR_UNAVAILABLE) /* the run waits for the database */
            j->unavailable = 1;
        res->rc = rc;
        res->permanent = 1;
        snprintf(res->klass, sizeof(res->klass), "outbox");
        snprintf(res->message, sizeof(res->message),
            "the message could not be queued: %.700s", eb.msg);
        return rc;
    }
    if (trace != NULL) {
        cJSON_AddNumberToObject(trace, "outbox_id", (double)oid);
        cJSON_AddStringToObject(trace, "mail_wait",
            rt->o.mail_wait == ENG_MAIL_WAIT_DELIVERY ? "delivery" : "queue");
    }
    log_info("runtime", "event=mail-queued run=%lld outbox=%lld", j->id, oid);
    if (rt->o.mail_wait != ENG_MAIL_WAIT_DELIVERY)
        return 0;
    rc = eng_outbox_deliver_now(rt->ob, oid, trace, res);
    if (rc != 0 && !res->permanent && trace != NULL)
        cJSON_AddStringToObject(trace, "outbox_state", "queued for retry");
    return rc;
}

static void
hook_syslog(void *ud, int priority, const char *line)
{
    int lvl = priority <= 3 ? LOG_ERR
        : priority == 4     ? LOG_WARN
        : priority <= 6     ? LOG_INFO
                            : LOG_DEBUG;

    (void)ud;
    log_ios(lvl, "%s", line);
}

static int
hook_ctx_save(void *ud, const char *key, const cJSON *vars)
{
    struct rt_job *j = ud;
    char          *s = cJSON_PrintUnformatted(vars);
    int            rc;

    if (s == NULL)
        return ERR_NOMEM;
    rc = eng_store_ctx_save(j->rt->st, key, s);
    free(s);
    if (rc == ERR_UNAVAILABLE)
        j->unavailable = 1;
    return rc;
}

static cJSON *
hook_ctx_get(void *ud, const char *key)
{
    struct rt_job *j = ud;
    char          *s = eng_store_ctx_get(j->rt->st, key);
    cJSON         *o = s ? cJSON_Parse(s) : NULL;

    if (s == NULL && eng_store_ready(j->rt->st, NULL) != 1)
        j->unavailable = 1; /* not "nothing saved" */
    free(s);
    return o;
}

static int  rt_run_get(struct eng_runtime *rt, long long id, cJSON **out,
     struct errbuf *eb);
static void rt_note_pending(cJSON *run);
static int  rt_trigger_d(struct eng_runtime *rt, const char *name, int evtype,
     struct eng_applet *a, struct eng_vars *vars, int wait, unsigned depth,
     struct eng_ack **ack, struct eng_run_info *out, struct errbuf *eb);
#define rt_trigger(rt, name, evtype, a, vars, wait, out, eb)                   \
    rt_trigger_d(rt, name, evtype, a, vars, wait, 0, NULL, out, eb)
static int rt_publish(struct eng_runtime *rt, int evtype, unsigned depth,
    unsigned sub_system, unsigned type, const char *const *data, size_t ndata,
    struct eng_app_run **runs, size_t *nruns, struct errbuf *eb);

static int
hook_policy(void *ud, const char *name, const char *args)
{
    struct rt_job      *j = ud;
    struct eng_run_info ri;
    struct errbuf       eb;
    struct eng_vars     vs = { 0 };
    char nm[24], *copy = args ? strdup(args) : NULL, *tok, *save = NULL;
    int  n = 0, rc;

    memset(&ri, 0, sizeof(ri));
    err_clear(&eb);
    for (tok = copy ? strtok_r(copy, " \t", &save) : NULL;
         tok != NULL && n < ENG_RUN_MAX_ARGS;
         tok = strtok_r(NULL, " \t", &save)) {
        snprintf(nm, sizeof(nm), "_none_arg%d", ++n);
        eng_vars_add(&vs, nm, tok);
    }
    free(copy);
    snprintf(nm, sizeof(nm), "%d", n);
    eng_vars_add(&vs, "_none_argc", nm);
    rc = rt_trigger(j->rt, name, RT_EV_POLICY, NULL, &vs, 0, &ri, &eb);
    if (rc == ERR_UNAVAILABLE)
        j->unavailable = 1;
    eng_vars_free(&vs);
    eng_run_info_clear(&ri);
    if (rc != 0)
        log_warn("runtime",
            "event=policy-failed run=%lld applet=%s "
            "reason=\"%s\"",
            j->id, name, eb.msg);
    return rc;
}

/* publish-event: the applets whose "event application" matches run as
 * their own jobs (never inside this one), bounded and ratelimited like
 * syslog triggers; a chain of ENG_APP_DEPTH_MAX published events ends
 * here. */
static int
hook_publish(void *ud, unsigned sub_system, unsigned type,
    const char *const *data, size_t ndata, cJSON *entry, char *msg,
    size_t msglen)
{
    struct rt_job      *j = ud;
    struct eng_app_run *runs = NULL;
    struct errbuf       eb;
    cJSON              *arr;
    size_t              n = 0, i;
    int                 rc;

    err_clear(&eb);
    if (j->depth >= ENG_APP_DEPTH_MAX) {
        snprintf(msg, msglen,
            "this run was started by a chain of %u "
            "published events (the limit): an applet that publishes the "
            "event that fires it loops; give its event a ratelimit, or "
            "publish another event",
            j->depth);
        log_warn("runtime",
            "event=publish-loop run=%lld applet=%s "
            "depth=%u",
            j->id, eng_applet_name(j->applet), j->depth);
        return ERR_BUSY;
    }
    rc = rt_publish(j->rt, RT_EV_PUBLISHED, j->depth + 1, sub_system, type,
        data, ndata, &runs, &n, &eb);
    if (rc == ERR_UNAVAILABLE)
        j->unavailable = 1;
    if (rc != 0) {
        snprintf(msg, msglen, "%s", eb.msg);
        return rc;
    }
    if (entry != NULL && (arr = cJSON_AddArrayToObject(entry, "runs")) != NULL)
        for (i = 0; i < n; i++) {
            cJSON *o = cJSON_CreateObject();

            if (o == NULL)
                break;
            cJSON_AddStringToObject(o, "applet", runs[i].applet);
            if (runs[i].id > 0)
                cJSON_AddNumberToObject(o, "run_id", (double)runs[i].id);
            cJSON_AddStringToObject(o, "status", runs[i].status);
            cJSON_AddItemToArray(arr, o);
        }
    free(runs);
    return 0;
}

/* ---- the worker --------------------------------------------------------- */

static void job_run(void *arg);
static void job_drop(void *arg);

/* Holds j back until the database answers again (eng_runtime_tick submits
 * it again); the caller's reference moves to the list. A caller waiting
 * for it hears "queued", as at a drain. */
static void
rt_defer(struct eng_runtime *rt, struct rt_job *j, const char *why)
{
    log_warn("runtime",
        "event=run-deferred run=%lld applet=%s reason=\"%s\" "
        "note=\"the run starts again from its beginning once the database "
        "answers\"",
        j->id, eng_applet_name(j->applet), why);
    job_done(j, 2, "queued", 0, NULL);
    pthread_mutex_lock(&rt->defer_mu);
    j->dnext = NULL;
    if (rt->deferred_tail != NULL)
        rt->deferred_tail->dnext = j;
    else
        rt->deferred = j;
    rt->deferred_tail = j;
    rt->ndeferred++;
    pthread_mutex_unlock(&rt->defer_mu);
}

static void
rt_pending_free(struct rt_pending *p)
{
    size_t i;

    if (p == NULL)
        return;
    free(p->applet);
    sec_free_str(p->replay);
    for (i = 0; i < 6; i++)
        free(p->str[i]);
    free(p);
}

/* Keeps a store write that failed for want of the database: the outcome
 * e of run id, or (applet != NULL) the run to requeue. */
static void
rt_pend(struct eng_runtime *rt, long long id, const struct eng_run_end *e,
    const char *applet, const char *replay)
{
    struct rt_pending *p = calloc(1, sizeof(*p));
    const char        *src[6] = { NULL };
    size_t             i;
    int                oom = p == NULL;

    if (e != NULL) {
        src[0] = e->status;
        src[1] = e->failed_label;
        src[2] = e->error_class;
        src[3] = e->error;
        src[4] = e->output;
        src[5] = e->trace;
    }
    if (p != NULL) {
        p->id = id;
        p->requeue = applet != NULL;
        if ((applet != NULL && (p->applet = strdup(applet)) == NULL)
            || (replay != NULL && (p->replay = strdup(replay)) == NULL))
            oom = 1;
        for (i = 0; i < 6; i++)
            if (src[i] != NULL && (p->str[i] = strdup(src[i])) == NULL)
                oom = 1;
        if (e != NULL)
            p->end =
                (struct eng_run_end){ p->str[0], e->ended_ms, e->exit_status,
                    p->str[1], p->str[2], p->str[3], p->str[4], p->str[5] };
    }
    if (oom) {
        log_err("runtime",
            "event=run-record-lost run=%lld reason=\"out of memory while "
            "the database could not be reached\"",
            id);
        rt_pending_free(p);
        return;
    }
    pthread_mutex_lock(&rt->defer_mu);
    p->next = rt->pending;
    rt->pending = p;
    rt->npending++;
    pthread_mutex_unlock(&rt->defer_mu);
}

static void
job_run(void *arg)
{
    struct rt_job          *j = arg;
    struct eng_runtime     *rt = j->rt;
    const struct eng_event *ev = eng_applet_event_count(j->applet) > j->event
        ? eng_applet_event(j->applet, j->event)
        : NULL;
    struct eng_run_env      env;
    struct eng_run_result   res;
    struct eng_run_end      end;
    struct errbuf           eb;
    char                   *trace = NULL;
    const char             *status;
    int                     frc;

    err_clear(&eb);
    job_unqueue(j);
    if (eng_store_run_start(rt->st, j->id, clock_now_ms(), &eb)
        == ERR_UNAVAILABLE) {
        rt_defer(rt, j, eb.msg);
        return;
    }
    atomic_fetch_add(&rt->n_started, 1);
    j->unavailable = 0;
    memset(&env, 0, sizeof(env));
    env.env_get = hook_env_get;
    env.mail = hook_mail;
    env.syslog = hook_syslog;
    env.context_save = hook_ctx_save;
    env.context_retrieve = hook_ctx_get;
    env.policy = hook_policy;
    env.publish = hook_publish;
    env.ud = j;
    env.maxrun = ev ? ev->maxrun : 0;
    env.cancel = &rt->cancel;
    memset(&res, 0, sizeof(res));
    log_debug("runtime", "event=run-start run=%lld applet=%s", j->id,
        eng_applet_name(j->applet));
    if (eng_interp_run(j->applet, j->vars.v, j->vars.n, &env, &res) != 0
        && res.error[0] == '\0') {
        res.status = ENG_RUN_ABORT;
        snprintf(res.error_class, sizeof(res.error_class), "internal");
        snprintf(res.error, sizeof(res.error), "out of memory");
    }
    if (j->unavailable) {
        /* its mail, a variable or a context could not be read or written:
         * not the applet's failure; it runs again */
        eng_run_result_clear(&res);
        rt_defer(rt, j, "the database could not be reached during the run");
        return;
    }
    status = eng_run_status_name(res.status);
    if (res.trace != NULL)
        trace = cJSON_PrintUnformatted(res.trace);
    end = (struct eng_run_end){ status, clock_now_ms(), res.exit_status,
        res.failed_label, res.error_class, res.error, buf_str(&res.output),
        trace };
    err_clear(&eb);
    if ((frc = eng_store_run_finish(rt->st, j->id, &end, &eb))
        == ERR_UNAVAILABLE)
        rt_pend(rt, j->id, &end, NULL, NULL); /* written when it is back */
    else if (frc != 0)
        log_err("runtime", "event=run-record-failed run=%lld reason=\"%s\"",
            j->id, eb.msg);
    log_info("runtime", "event=run-end run=%lld applet=%s status=%s%s%s", j->id,
        eng_applet_name(j->applet), status,
        res.failed_label[0] ? " label=" : "", res.failed_label);
    metrics_run(eng_applet_name(j->applet), status);
    job_done(j, 1, status, res.exit_status, buf_str(&res.output));
    free(trace);
    eng_run_result_clear(&res);
    job_unref(j);
}

static void
job_drop(void *arg)
{
    struct rt_job *j = arg;

    /* the run stays "queued" with its replay record; the next start
     * re-queues it */
    job_unqueue(j);
    job_done(j, 2, "queued", 0, NULL);
    job_unref(j);
}

/* ---- triggers ----------------------------------------------------------- */

/* The applet name, parsed (a reference: eng_applet_free), from the
 * configuration cache. */
static int
load_applet(struct eng_runtime *rt, const char *name, struct eng_applet **a,
    struct errbuf *eb)
{
    int rc = eng_cfg_cache_applet(rt->cache, name, a, NULL, NULL, eb);

    if (rc == ERR_NOTFOUND)
        err_set(eb, rc, "not_found", "no applet named \"%s\"", name);
    else if (rc == ERR_INVAL) {
        char m[sizeof(eb->msg)];

        snprintf(m, sizeof(m), "%s", eb ? eb->msg : "");
        rc = err_set(eb, ERR_INVAL, "invalid_applet",
            "stored applet \"%.64s\" does not parse: %.600s", name, m);
    }
    return rc;
}

static size_t
find_event(const struct eng_applet *a, int type)
{
    size_t i, n = eng_applet_event_count(a);

    for (i = 0; i < n; i++)
        if (eng_applet_event(a, i)->type == type)
            return i;
    return n;
}

/* 1 if the trigger falls inside the ratelimit window (and is dropped). */
static int
ratelimited(struct eng_runtime *rt, const char *applet, size_t event,
    double window, long long now)
{
    size_t i;
    int    hit = 0;

    if (window <= 0)
        return 0;
    pthread_mutex_lock(&rt->mu);
    for (i = 0; i < rt->nrl; i++)
        if (rt->rl[i].event == event && strcmp(rt->rl[i].applet, applet) == 0)
            break;
    if (i < rt->nrl) {
        if ((double)(now - rt->rl[i].last_ms) < window * 1000)
            hit = 1;
        else
            rt->rl[i].last_ms = now;
    } else {
        struct rl_entry *n = realloc(rt->rl, (rt->nrl + 1) * sizeof(*n));

        if (n != NULL) {
            rt->rl = n;
            if ((n[rt->nrl].applet = strdup(applet)) != NULL) {
                n[rt->nrl].event = event;
                n[rt->nrl].last_ms = now;
                rt->nrl++;
            }
        }
    }
    pthread_mutex_unlock(&rt->mu);
    return hit;
}

/* "name":value for a JSON object being written into b ("," first unless
 * it is the first member). */
static void
vars_json_member(struct buf *b, int *err, const char *name, const char *value)
{
    if (b->len > 0 && b->p[b->len - 1] != '{')
        *err |= buf_putc(b, ',');
    *err |= buf_json_str(b, name);
    *err |= buf_putc(b, ':');
    *err |= buf_json_str(b, value);
}

/* Room for the variables as JSON, unescaped: one allocation for the
 * usual text. */
static size_t
vars_json_size(const struct eng_vars *vs)
{
    size_t i, n = 64;

    for (i = 0; i < vs->n; i++)
        n += strlen(vs->v[i].name) + strlen(vs->v[i].value) + 6;
    return n;
}

/* Trigger data for the run record: the variables, secrets masked. Written
 * as text (common/buf.h), the same text a cJSON tree would print, without
 * a node and a copy per variable: a webhook's request makes this and the
 * replay record below. NULL when out of memory. */
static char *
vars_masked_json(const struct eng_vars *vs)
{
    struct buf b = BUF_INIT;
    size_t     i;
    int        err = buf_reserve(&b, vars_json_size(vs)) | buf_putc(&b, '{');

    for (i = 0; i < vs->n; i++) {
        const char *n = vs->v[i].name, *v = vs->v[i].value;
        char       *t = NULL;

        if (redact_key_is_secret(n))
            vars_json_member(&b, &err, n, REDACT_MASK);
        else if (*v == '{' || *v == '[')
            /* a JSON body or field: mask secrets inside it */
            vars_json_member(&b, &err, n, (t = redact_json_text(v)) ? t : v);
        else if (strncmp(n, "_none_arg", 9) == 0)
            vars_json_member(&b, &err, n, (t = redact_server(v)) ? t : "");
        else
            vars_json_member(&b, &err, n, v);
        free(t);
    }
    err |= buf_putc(&b, '}');
    if (err) {
        buf_free(&b);
        return NULL;
    }
    return buf_take(&b);
}

/* The replay record: {"event":N,"type":N,"vars":{...}}, as text. */
static char *
vars_replay_json(const struct eng_vars *vs, size_t event, int evtype)
{
    struct buf b = BUF_INIT;
    size_t     i;
    int        err = buf_reserve(&b, vars_json_size(vs))
        | buf_printf(&b, "{\"event\":%zu,\"type\":%d,\"vars\":{", event,
            evtype);

    for (i = 0; i < vs->n; i++)
        vars_json_member(&b, &err, vs->v[i].name, vs->v[i].value);
    err |= buf_puts(&b, "}}");
    if (err) {
        if (b.p != NULL)
            sec_wipe(b.p, b.len);
        buf_free(&b);
        return NULL;
    }
    return buf_take(&b);
}

static int
add_event_vars(struct eng_vars *vs, int evtype, long long id, long long now)
{
    char t[40];
    int  rc = 0;

    snprintf(t, sizeof(t), "%d", evtype);
    rc |= eng_vars_add(vs, "_event_type", t);
    rc |= eng_vars_add(vs, "_event_type_string", eng_event_type_name(evtype));
    snprintf(t, sizeof(t), "%lld", now / 1000);
    rc |= eng_vars_add(vs, "_event_pub_sec", t);
    snprintf(t, sizeof(t), "%lld", now % 1000);
    rc |= eng_vars_add(vs, "_event_pub_msec", t);
    clock_time_fmt(now, t, sizeof(t));
    rc |= eng_vars_add(vs, "_event_pub_time", t);
    if (id > 0) {
        snprintf(t, sizeof(t), "%lld", id);
        rc |= eng_vars_add(vs, "_event_id", t);
    }
    return rc ? ERR_NOMEM : 0;
}

/* Submits a recorded run. Takes a (applet) and the queue slot of applet
 * slot (held by the caller, or NULL), even on failure; moves *vars. */
static int
rt_submit(struct eng_runtime *rt, long long id, struct eng_applet *a,
    const char *slot, size_t event, struct eng_vars *vars, unsigned depth,
    struct rt_job **jout)
{
    struct rt_job *j;

    if ((j = calloc(1, sizeof(*j))) == NULL
        || (slot != NULL && (j->slot = strdup(slot)) == NULL)) {
        free(j);
        if (slot != NULL)
            eng_tbound_give(rt->tb, slot);
        eng_applet_free(a);
        return ERR_NOMEM;
    }
    j->rt = rt;
    j->id = id;
    j->applet = a;
    j->event = event;
    j->depth = depth;
    j->vars = *vars;
    memset(vars, 0, sizeof(*vars));
    j->refs = jout ? 2 : 1;
    snprintf(j->status, sizeof(j->status), "queued");
    pthread_mutex_init(&j->mu, NULL);
    pthread_cond_init(&j->cv, NULL);
    if (eng_pool_submit(rt->pool, job_run, job_drop, j) != 0) {
        j->refs = 1;
        job_unqueue(j);
        job_unref(j);
        return ERR_BUSY;
    }
    if (jout)
        *jout = j;
    return 0;
}

/* What the trigger queue bound and the drop counts call a trigger. */
static int
drop_src(int evtype)
{
    if (evtype == ENG_EV_SYSLOG)
        return ENG_DROP_SYSLOG;
    if (evtype >= ENG_EV_TIMER_WATCHDOG && evtype <= ENG_EV_TIMER_CRON)
        return ENG_DROP_TIMER;
    if (evtype == RT_EV_PUBLISHED)
        return ENG_DROP_APPLICATION;
    return ENG_DROP_NONE;
}

static void
log_drops(const struct eng_drop_report *r)
{
    long long sl = r->n[ENG_DROP_SYSLOG][ENG_DROP_QUEUE_FULL]
        + r->n[ENG_DROP_SYSLOG][ENG_DROP_RATELIMIT];
    long long tm = r->n[ENG_DROP_TIMER][ENG_DROP_QUEUE_FULL]
        + r->n[ENG_DROP_TIMER][ENG_DROP_RATELIMIT];
    long long ap = r->n[ENG_DROP_APPLICATION][ENG_DROP_QUEUE_FULL]
        + r->n[ENG_DROP_APPLICATION][ENG_DROP_RATELIMIT];
    long long qf = r->n[ENG_DROP_SYSLOG][ENG_DROP_QUEUE_FULL]
        + r->n[ENG_DROP_TIMER][ENG_DROP_QUEUE_FULL]
        + r->n[ENG_DROP_APPLICATION][ENG_DROP_QUEUE_FULL];

    if (!r->due)
        return;
    log_warn("runtime",
        "event=triggers-dropped applet=%s syslog=%lld "
        "timer=%lld application=%lld queue_full=%lld ratelimited=%lld "
        "seconds=%.1f queued=%u bound=%u note=\"%lld syslog, %lld timer "
        "and %lld published events dropped without a run in the last "
        "%.1f s: %s; counts in GET /api/v1/applets/%s\"",
        r->applet, sl, tm, ap, qf, sl + tm + ap - qf, r->seconds, r->queued,
        r->bound, sl, tm, ap, r->seconds,
        qf > 0 ? "the applet had as many runs queued as the bound "
                 "(--trigger-queue); make its action faster, give the event a "
                 "ratelimit or raise the bound"
               : "the event's ratelimit applies",
        r->applet);
}

/* Takes a queue slot of applet name for a trigger. Returns 1 (taken), 0
 * (dropped and counted: out->status "dropped") or ERR_NOMEM. */
static int
rt_take(struct eng_runtime *rt, const char *name, int src, long long now,
    struct eng_run_info *out, struct errbuf *eb)
{
    struct eng_drop_report rep;
    int                    rc;

    rc = eng_tbound_take(rt->tb, name, src, now, &rep);
    log_drops(&rep);
    if (rc < 0)
        return err_set(eb, ERR_NOMEM, "nomem", "out of memory");
    if (rc == 0)
        snprintf(out->status, sizeof(out->status), "dropped");
    return rc;
}

/* Hands run id (queued, on disk) to the pool; a (taken), the slot of name
 * and vars (moved) go with it. On failure the run's record is deleted:
 * ERR_BUSY (the run queue is full, or herald stops) or ERR_NOMEM. */
static int
rt_launch(struct eng_runtime *rt, long long id, struct eng_applet *a,
    const char *name, size_t event, struct eng_vars *vars, unsigned depth,
    struct rt_job **jp, struct errbuf *eb)
{
    unsigned n = 0;
    int      rc;

    if ((rc = rt_submit(rt, id, a, name, event, vars, depth, jp)) == 0)
        return 0;
    eng_store_run_delete(rt->st, id);
    atomic_fetch_add(&rt->n_busy, 1);
    eng_pool_counts(rt->pool, &n, NULL);
    return err_set(eb, rc, rc == ERR_BUSY ? "busy" : "nomem",
        rc == ERR_BUSY ? "the run queue is full (%u jobs waiting); retry later"
                       : "out of memory (%u)",
        n);
}

/* A trigger's queued run waiting for the committer (runtime.h). */
struct eng_ack {
    struct rt_commit_item item; /* first: the committer's view */
    struct eng_runtime   *rt;
    long long             id;
    struct eng_applet    *a;
    char                 *name; /* the applet, and its trigger queue slot */
    size_t                event;
    unsigned              depth;
    struct eng_vars       vs;
    eng_ack_fn            fn;
    void                 *ud;
};

/* The committer synced (rc 0) or could not (rc, seb): the run goes to the
 * pool, or its record goes, and the caller is told. */
static void
ack_done(struct rt_commit_item *it, int rc, const struct errbuf *seb)
{
    struct eng_ack *k = (struct eng_ack *)it;
    struct errbuf   eb;

    err_clear(&eb);
    if (rc == 0) {
        rc = rt_launch(k->rt, k->id, k->a, k->name, k->event, &k->vs, k->depth,
            NULL, &eb);
    } else {
        eb = *seb;
        eng_store_run_delete(k->rt->st, k->id);
        eng_tbound_give(k->rt->tb, k->name);
        eng_applet_free(k->a);
    }
    k->fn(k->ud, rc, rc == 0 ? k->id : 0, &eb);
    eng_vars_free(&k->vs);
    free(k->name);
    free(k);
}

void
eng_runtime_ack_submit(struct eng_runtime *rt, struct eng_ack *ack,
    eng_ack_fn fn, void *ud)
{
    ack->fn = fn;
    ack->ud = ud;
    rt_committer_add(rt->committer, &ack->item);
}

/* Fires applet name (a: already parsed, taken; or NULL to load it). vars
 * holds the trigger's variables (borrowed; copied). A syslog or timer
 * trigger that finds name's queue full, or that its ratelimit drops,
 * returns 0 with out->id 0 and status "dropped" or "ratelimited", and
 * leaves no run record (see runtime.h). With ack (and not wait), a queued
 * run is not synced and submitted here: *ack gets it, for the committer
 * (eng_runtime_ack_submit). */
static int
rt_trigger_d(struct eng_runtime *rt, const char *name, int evtype,
    struct eng_applet *a, struct eng_vars *vars, int wait, unsigned depth,
    struct eng_ack **ack, struct eng_run_info *out, struct errbuf *eb)
{
    const struct eng_event *ev;
    struct eng_vars         vs = { 0 };
    struct eng_drop_report  rep;
    struct rt_job          *j = NULL;
    char                   *td = NULL, *replay = NULL;
    const char             *trig;
    long long               now = clock_now_ms(), id = 0;
    size_t                  event, i;
    int                     rc, src = drop_src(evtype), slot = 0;

    memset(out, 0, sizeof(*out));
    if (atomic_load(&rt->draining) || rt->pool == NULL) {
        eng_applet_free(a);
        atomic_fetch_add(&rt->n_busy, 1);
        return err_set(eb, ERR_BUSY, "busy",
            "herald is not taking runs (starting or shutting down)");
    }
    /* a syslog or timer trigger takes its slot before anything costly (a
     * flood must not reach the store); the others once the applet is
     * known to exist */
    if (src != ENG_DROP_NONE
        && (rc = rt_take(rt, name, src, now, out, eb)) <= 0) {
        eng_applet_free(a);
        return rc;
    }
    slot = src != ENG_DROP_NONE;
    if (a == NULL && (rc = load_applet(rt, name, &a, eb)) != 0)
        goto out;
    if (!slot) {
        if ((rc = rt_take(rt, name, src, now, out, eb)) < 0)
            goto out;
        slot = 1;
    }
    trig = trigger_name(evtype);
    if (evtype == RT_EV_POLICY)
        evtype = ENG_EV_NONE;
    else if (evtype == RT_EV_PUBLISHED)
        evtype = ENG_EV_APPLICATION;
    event = find_event(a, evtype);
    if (event == eng_applet_event_count(a))
        event = 0; /* a manual run of an applet without "event none" */
    ev = eng_applet_event_count(a) > 0 ? eng_applet_event(a, event) : NULL;
    for (i = 0; i < vars->n; i++)
        if ((rc = eng_vars_add(&vs, vars->v[i].name, vars->v[i].value)) != 0)
            goto nomem;
    if ((rc = add_event_vars(&vs, evtype, 0, now)) != 0)
        goto nomem;
    td = vars_masked_json(&vs);
    replay = vars_replay_json(&vs, event, evtype);
    if (td == NULL || replay == NULL)
        goto nomem;
    if (ev != NULL && ratelimited(rt, name, event, ev->ratelimit, now)) {
        atomic_fetch_add(&rt->n_ratelimited, 1);
        snprintf(out->status, sizeof(out->status), "ratelimited");
        if (src != ENG_DROP_NONE) { /* counted, not recorded */
            eng_tbound_drop(rt->tb, name, src, ENG_DROP_RATELIMIT, now, &rep);
            log_drops(&rep);
            rc = 0;
            goto out;
        }
        rc = eng_store_run_insert(rt->st, name, trig, td, NULL, "ratelimited",
            now, &id, eb);
        log_info("runtime",
            "event=ratelimited applet=%s run=%lld "
            "window_s=%g",
            name, id, ev->ratelimit);
        out->id = id;
        if (rc == 0 && wait) {
            out->output = strdup("");
            eng_store_run_get(rt->st, id, &out->run, NULL);
        }
        goto out;
    }
    if ((rc = eng_store_run_insert(rt->st, name, trig, td, replay, "queued",
             now, &id, eb))
        != 0)
        goto out;
    if ((rc = add_event_vars(&vs, evtype, id, now)) != 0) {
        eng_store_run_delete(rt->st, id);
        goto nomem;
    }
    if (ack != NULL && !wait) {
        struct eng_ack *k = calloc(1, sizeof(*k));

        if (k == NULL || (k->name = strdup(name)) == NULL) {
            free(k);
            eng_store_run_delete(rt->st, id);
            goto nomem;
        }
        k->item.seq = eng_store_mark(rt->st);
        k->item.done = ack_done;
        k->rt = rt;
        k->id = id;
        k->a = a;
        k->event = event;
        k->depth = depth;
        k->vs = vs;
        memset(&vs, 0, sizeof(vs));
        a = NULL;
        slot = 0; /* the ack's now */
        *ack = k;
    } else {
        /* the trigger is acknowledged when this returns: the queued run
         * (with what it needs to run again) is on disk first; what the
         * run then writes, its mail included, needs no sync of its own
         * (outbox.c) */
        if ((rc = eng_store_durable(rt->st, eng_store_mark(rt->st), eb)) != 0) {
            eng_store_run_delete(rt->st, id);
            goto out;
        }
        rc =
            rt_launch(rt, id, a, name, event, &vs, depth, wait ? &j : NULL, eb);
        a = NULL;
        slot = 0;
        if (rc != 0)
            goto out;
    }
    out->id = id;
    snprintf(out->status, sizeof(out->status), "queued");
    if (j != NULL) {
        pthread_mutex_lock(&j->mu);
        while (!j->done)
            pthread_cond_wait(&j->cv, &j->mu);
        snprintf(out->status, sizeof(out->status), "%s", j->status);
        out->exit_status = j->exit_status;
        out->output = j->output ? strdup(j->output) : strdup("");
        pthread_mutex_unlock(&j->mu);
        job_unref(j);
        /* a synchronous caller learns the outcome: have it on disk */
        eng_store_durable(rt->st, eng_store_mark(rt->st), NULL);
        rt_run_get(rt, id, &out->run, NULL);
        rt_note_pending(out->run);
    }
    goto out;
nomem:
    rc = err_set(eb, ERR_NOMEM, "nomem", "out of memory");
out:
    if (slot)
        eng_tbound_give(rt->tb, name);
    eng_applet_free(a);
    eng_vars_free(&vs);
    free(td);
    if (replay != NULL)
        sec_wipe(replay, strlen(replay));
    free(replay);
    return rc;
}

/* A synchronous run whose mail is only queued says so plainly. */
static void
rt_note_pending(cJSON *run)
{
    const cJSON *d = cJSON_GetObjectItemCaseSensitive(run, "delivery");

    if (cJSON_IsString(d) && strcmp(d->valuestring, "pending") == 0)
        cJSON_AddStringToObject(run, "note",
            "the mail is queued in the "
            "outbox, not delivered yet: the run's \"delivery\" (GET "
            "/api/v1/runs/{id}) follows it, or run with \"wait\": "
            "\"delivery\" to wait for the first attempt");
}

void
eng_run_info_clear(struct eng_run_info *ri)
{
    if (ri == NULL)
        return;
    free(ri->output);
    cJSON_Delete(ri->run);
    memset(ri, 0, sizeof(*ri));
}

int
eng_runtime_run(struct eng_runtime *rt, const char *name,
    const char *const *args, size_t nargs, int wait, struct eng_run_info *out,
    struct errbuf *eb)
{
    struct eng_vars vs = { 0 };
    char            nm[24];
    size_t          i;
    int             rc = 0;

    memset(out, 0, sizeof(*out));
    if (nargs > ENG_RUN_MAX_ARGS)
        return err_field(eb, ERR_INVAL, "args", "invalid_field",
            "%zu arguments given; an applet takes at most %d", nargs,
            ENG_RUN_MAX_ARGS);
    for (i = 0; i < nargs; i++) {
        if (args[i] == NULL)
            return err_field(eb, ERR_INVAL, "args", "invalid_field",
                "argument %zu is not a string", i + 1);
        snprintf(nm, sizeof(nm), "_none_arg%zu", i + 1);
        rc |= eng_vars_add(&vs, nm, args[i]);
    }
    snprintf(nm, sizeof(nm), "%zu", nargs);
    rc |= eng_vars_add(&vs, "_none_argc", nm);
    if (rc == 0)
        rc = rt_trigger(rt, name, ENG_EV_NONE, NULL, &vs, wait, out, eb);
    else
        rc = err_set(eb, ERR_NOMEM, "nomem", "out of memory");
    eng_vars_free(&vs);
    return rc;
}

/* ---- webhooks ----------------------------------------------------------- */

/* Authenticates rq (see eng_runtime_webhook_auth); with the body, also the
 * signature and the replay check. On success, *ap (if not NULL) gets the
 * parsed applet (eng_applet_free). */
static int
hook_auth(struct eng_runtime *rt, const struct eng_hook_req *rq, int have_body,
    struct eng_applet **ap, struct errbuf *eb)
{
    struct eng_applet   *a = NULL;
    struct eng_hook_auth ha;
    char                *token = NULL, *secret = NULL;
    long long            now = clock_now_ms() / 1000;
    int                  rc;

    if (ap != NULL)
        *ap = NULL;
    if ((rc = eng_hook_parse(rq->authorization, rq->timestamp, rq->signature,
             now, &ha, eb))
        != 0)
        return rc;
    rc = eng_cfg_cache_applet(rt->cache, rq->applet, &a, &token, &secret, eb);
    if (rc == ERR_NOTFOUND) {
        rc = err_set(eb, ERR_AUTH, "denied", "no applet named \"%.64s\"",
            rq->applet);
        goto out;
    } else if (rc == ERR_INVAL) {
        rc = err_set(eb, ERR_AUTH, "denied",
            "the stored applet does not "
            "parse (fix it with PUT /api/v1/applets/{name})");
        goto out;
    } else if (rc != 0) {
        goto out;
    }
    if (find_event(a, ENG_EV_WEBHOOK) == eng_applet_event_count(a)) {
        rc = err_set(eb, ERR_AUTH, "denied",
            "the applet has no \"event webhook\"");
        goto out;
    }
    if (token == NULL && secret == NULL) {
        rc = err_set(eb, ERR_AUTH, "denied",
            "the applet has no webhook "
            "credentials yet; create them with PUT "
            "/api/v1/applets/{name}/webhook");
        goto out;
    }
    if ((rc = eng_hook_verify(&ha, token, secret, rq->body, rq->len, have_body,
             eb))
        != 0)
        goto out;
    if (have_body && ha.mode == ENG_HOOK_SIGNED) {
        rc = eng_hook_seen_add(rt->hook_seen, rq->applet, ha.sig, ha.ts, now);
        if (rc == 1)
            rc = err_set(eb, ERR_AUTH, "unauthorized",
                "replayed: this "
                "signature was already accepted in the last %d s; sign each "
                "delivery with its own X-Herald-Timestamp (use an "
                "Idempotency-Key to make retries safe)",
                ENG_HOOK_SKEW_S);
        else if (rc == ERR_BUSY)
            rc = err_set(eb, ERR_BUSY, "busy",
                "more than %d signed "
                "deliveries for this applet in %d s; retry later",
                ENG_HOOK_SEEN_MAX, ENG_HOOK_SKEW_S);
        else if (rc != 0)
            rc = err_set(eb, rc, "nomem", "out of memory");
        if (rc != 0)
            goto out;
    }
    if (ap != NULL) {
        *ap = a;
        a = NULL;
    }
out:
    sec_wipe(&ha, sizeof(ha));
    eng_applet_free(a);
    sec_free_str(token);
    sec_free_str(secret);
    return rc;
}

int
eng_runtime_webhook_auth(struct eng_runtime *rt, const struct eng_hook_req *rq,
    struct errbuf *eb)
{
    if (atomic_load(&rt->draining))
        return err_set(eb, ERR_BUSY, "busy", "herald is shutting down");
    return hook_auth(rt, rq, 0, NULL, eb);
}

int
eng_runtime_webhook(struct eng_runtime *rt, const struct eng_hook_req *rq,
    long long *run_id, int *duplicate, struct errbuf *eb)
{
    return eng_runtime_webhook_begin(rt, rq, run_id, duplicate, NULL, eb);
}

int
eng_runtime_webhook_begin(struct eng_runtime *rt, const struct eng_hook_req *rq,
    long long *run_id, int *duplicate, struct eng_ack **ack, struct errbuf *eb)
{
    struct eng_applet  *a = NULL;
    struct eng_vars     vs = { 0 };
    struct eng_run_info ri;
    const char         *k = rq->idempotency_key;
    const char         *body = rq->body != NULL ? rq->body : "";
    long long           prev = 0;
    int                 rc, locked = 0;
    size_t              i;

    *run_id = 0;
    *duplicate = 0;
    if (ack != NULL)
        *ack = NULL;
    memset(&ri, 0, sizeof(ri));
    if (atomic_load(&rt->draining))
        return err_set(eb, ERR_BUSY, "busy", "herald is shutting down");
    {
        struct eng_hook_req r = *rq;

        r.body = body;
        if ((rc = hook_auth(rt, &r, 1, &a, eb)) != 0)
            goto out;
    }
    if (rq->body_check != NULL
        && (rc = rq->body_check(rq->body_check_ud, body, rq->len,
                rq->content_type, eb))
            != 0)
        goto out;
    if (k != NULL && *k != '\0') {
        if (strlen(k) > IDEM_KEY_MAX) {
            rc = err_field(eb, ERR_INVAL, "Idempotency-Key", "invalid_field",
                "Idempotency-Key is longer than %d bytes", IDEM_KEY_MAX);
            goto out;
        }
        for (i = 0; k[i]; i++)
            if ((unsigned char)k[i] < 32 || (unsigned char)k[i] > 126) {
                rc = err_field(eb, ERR_INVAL, "Idempotency-Key",
                    "invalid_field", "Idempotency-Key must be printable ASCII");
                goto out;
            }
    }
    if ((rc = eng_webhook_vars(body, rq->len, rq->content_type, &vs, eb)) != 0)
        goto out;
    if (k != NULL && *k != '\0') {
        int seen;

        pthread_mutex_lock(&rt->idem_mu);
        locked = 1;
        seen = eng_store_idem_get(rt->st, rq->applet, k,
            clock_now_ms() - IDEM_WINDOW_MS, &prev);
        if (seen < 0) {
            /* the key cannot be checked: refuse rather than risk a
             * second run (the sender retries with the same key) */
            rc = seen == ERR_UNAVAILABLE
                ? err_set(eb, ERR_UNAVAILABLE, "database_unavailable",
                    "the database cannot be reached to check the "
                    "Idempotency-Key; retry later")
                : err_set(eb, ERR_DB, "internal",
                    "the Idempotency-Key could not be checked");
            goto out;
        }
        if (seen == 1) {
            *run_id = prev;
            *duplicate = 1;
            log_info("runtime", "event=webhook-duplicate applet=%s run=%lld",
                rq->applet, prev);
            goto out;
        }
    }
    /* a key may name only a run on disk: the one it names now is synced
     * before the key is stored (and idem_mu keeps a repeat out meanwhile) */
    rc = rt_trigger_d(rt, rq->applet, ENG_EV_WEBHOOK, a, &vs, 0, 0,
        locked ? NULL : ack, &ri, eb);
    a = NULL;
    if (rc == 0) {
        *run_id = ri.id;
        if (k != NULL && *k != '\0')
            eng_store_idem_put(rt->st, rq->applet, k, ri.id, clock_now_ms());
    }
out:
    if (locked)
        pthread_mutex_unlock(&rt->idem_mu);
    eng_run_info_clear(&ri);
    eng_vars_free(&vs);
    eng_applet_free(a);
    return rc;
}

/* A new random secret: nbytes as lower-case hex, in a new string. */
static int
hook_random_hex(size_t nbytes, char **out, struct errbuf *eb)
{
    unsigned char raw[32];
    char         *t;
    size_t        i;

    *out = NULL;
    if (nbytes > sizeof(raw))
        return err_set(eb, ERR_INTERNAL, "internal", "secret too long");
    if (getrandom(raw, nbytes, 0) != (ssize_t)nbytes)
        return err_set(eb, ERR_IO, "io", "no randomness: %s", strerror(errno));
    if ((t = malloc(nbytes * 2 + 1)) == NULL) {
        sec_wipe(raw, sizeof(raw));
        return err_set(eb, ERR_NOMEM, "nomem", "out of memory");
    }
    for (i = 0; i < nbytes; i++)
        snprintf(t + 2 * i, 3, "%02x", raw[i]);
    sec_wipe(raw, sizeof(raw));
    *out = t;
    return 0;
}

static void
hook_free_secret(char *s)
{
    if (s != NULL) {
        sec_wipe(s, strlen(s));
        free(s);
    }
}

int
eng_runtime_webhook_token(struct eng_runtime *rt, const char *name,
    char **token, char **secret, struct errbuf *eb)
{
    unsigned char d[PKI_SHA256_LEN];
    char          hex[2 * PKI_SHA256_LEN + 1];
    char         *t = NULL, *sk = NULL;
    size_t        i;
    int           rc;

    *token = NULL;
    *secret = NULL;
    if ((rc = hook_random_hex(24, &t, eb)) != 0
        || (rc = hook_random_hex(32, &sk, eb)) != 0)
        goto out;
    if (pki_sha256(t, strlen(t), d) != 0) {
        rc = err_set(eb, ERR_INTERNAL, "internal", "cannot hash the token");
        goto out;
    }
    for (i = 0; i < sizeof(d); i++)
        snprintf(hex + 2 * i, 3, "%02x", d[i]);
    if ((rc = eng_store_token_set(rt->st, name, hex, sk, eb)) != 0)
        goto out;
    log_info("runtime", "event=webhook-token-set applet=%s", name);
    *token = t;
    *secret = sk;
    t = sk = NULL;
out:
    sec_wipe(d, sizeof(d));
    sec_wipe(hex, sizeof(hex));
    hook_free_secret(t);
    hook_free_secret(sk);
    return rc;
}

/* ---- syslog and timers -------------------------------------------------- */

static void
on_syslog(void *ud, const struct eng_syslog_msg *m)
{
    struct eng_runtime *rt = ud;
    char              **fire = NULL;
    size_t              nfire = 0, i;
    double              now = clock_mono();

    pthread_mutex_lock(&rt->sl_mu);
    if (rt->nsl > 0 && (fire = calloc(rt->nsl, sizeof(*fire))) != NULL)
        for (i = 0; i < rt->nsl; i++)
            if (eng_syslog_match_feed(&rt->sl_regs[i].m, m, now))
                fire[nfire++] = strdup(rt->sl_regs[i].applet);
    pthread_mutex_unlock(&rt->sl_mu);
    for (i = 0; i < nfire; i++) {
        struct eng_vars     vs = { 0 };
        struct eng_run_info ri;
        struct errbuf       eb;
        char                t[16];

        err_clear(&eb);
        if (fire[i] == NULL)
            continue;
        eng_vars_addn(&vs, "_syslog_msg", m->msg, m->msg_len);
        snprintf(t, sizeof(t), "%d", m->cisco ? m->csev : m->severity);
        eng_vars_add(&vs, "_syslog_severity", t);
        /* a Cisco line's facility is its name (LINK); else PRI's number */
        if (m->cisco) {
            eng_vars_add(&vs, "_syslog_facility", m->cfacility);
        } else {
            snprintf(t, sizeof(t), "%d", m->facility);
            eng_vars_add(&vs, "_syslog_facility", t);
        }
        eng_vars_add(&vs, "_syslog_subfacility", m->csubfacility);
        eng_vars_add(&vs, "_syslog_mnemonic", m->mnemonic);
        eng_vars_add(&vs, "_syslog_seq", m->seq);
        snprintf(t, sizeof(t), "%d", m->pri);
        eng_vars_add(&vs, "_syslog_pri", t);
        eng_vars_add(&vs, "_syslog_host",
            m->host[0] != '\0' ? m->host : m->source_ip);
        eng_vars_add(&vs, "_syslog_source_ip", m->source_ip);
        eng_vars_add(&vs, "_syslog_timestamp", m->timestamp);
        eng_vars_add(&vs, "_syslog_app", m->app);
        if (rt_trigger(rt, fire[i], ENG_EV_SYSLOG, NULL, &vs, 0, &ri, &eb) != 0)
            log_warn("runtime",
                "event=syslog-trigger-failed applet=%s "
                "reason=\"%s\"",
                fire[i], eb.msg);
        eng_run_info_clear(&ri);
        eng_vars_free(&vs);
        free(fire[i]);
    }
    free(fire);
}

/* Fires the applets registered for sub_system/type (see
 * eng_runtime_publish); evtype ENG_EV_APPLICATION (a caller to answer)
 * or RT_EV_PUBLISHED (a run: bound and drops apply). */
static int
rt_publish(struct eng_runtime *rt, int evtype, unsigned depth,
    unsigned sub_system, unsigned type, const char *const *data, size_t ndata,
    struct eng_app_run **runs, size_t *nruns, struct errbuf *eb)
{
    struct eng_app_run *r = NULL;
    struct eng_vars     vs = { 0 };
    char              **fire = NULL, t[24];
    size_t              nfire = 0, i;
    int                 rc = 0, oom = 0;

    *runs = NULL;
    *nruns = 0;
    if (sub_system < 1 || sub_system > 999)
        return err_field(eb, ERR_INVAL, "sub_system", "invalid_field",
            "sub_system %u is not a number from 1 to 999", sub_system);
    if (type < 1 || type > 999)
        return err_field(eb, ERR_INVAL, "type", "invalid_field",
            "type %u is not a number from 1 to 999", type);
    if (ndata > ENG_APP_DATA_MAX)
        return err_field(eb, ERR_INVAL, "data", "invalid_field",
            "%zu data given; an application event carries at most %d", ndata,
            ENG_APP_DATA_MAX);
    pthread_mutex_lock(&rt->sl_mu);
    if (rt->napp > 0 && (fire = calloc(rt->napp, sizeof(*fire))) == NULL)
        oom = 1;
    for (i = 0; fire != NULL && i < rt->napp; i++) {
        size_t k;

        if (rt->app_regs[i].sub_system != sub_system
            || rt->app_regs[i].type != type)
            continue;
        for (k = 0; k < nfire; k++) /* once per applet */
            if (fire[k] != NULL && strcmp(fire[k], rt->app_regs[i].applet) == 0)
                break;
        if (k == nfire)
            fire[nfire++] = strdup(rt->app_regs[i].applet);
    }
    pthread_mutex_unlock(&rt->sl_mu);
    if (oom)
        return err_set(eb, ERR_NOMEM, "nomem", "out of memory");
    snprintf(t, sizeof(t), "%u", sub_system);
    rc |= eng_vars_add(&vs, "_application_sub_system", t);
    snprintf(t, sizeof(t), "%u", type);
    rc |= eng_vars_add(&vs, "_application_type", t);
    for (i = 0; i < ENG_APP_DATA_MAX; i++) {
        snprintf(t, sizeof(t), "_application_data%zu", i + 1);
        rc |= eng_vars_add(&vs, t, i < ndata && data[i] ? data[i] : "");
    }
    if (rc != 0 || (nfire > 0 && (r = calloc(nfire, sizeof(*r))) == NULL)) {
        rc = err_set(eb, ERR_NOMEM, "nomem", "out of memory");
        goto out;
    }
    for (i = 0; i < nfire; i++) {
        struct eng_run_info ri;
        struct errbuf       te;
        int                 trc;

        err_clear(&te);
        if (fire[i] == NULL)
            continue;
        if ((trc = rt_trigger_d(rt, fire[i], evtype, NULL, &vs, 0, depth, NULL,
                 &ri, &te))
            != 0) {
            log_warn("runtime",
                "event=application-trigger-failed "
                "applet=%s reason=\"%s\"",
                fire[i], te.msg);
            /* a caller hears of a full queue or a database it cannot
             * reach (nothing was queued: retry); one applet that no
             * longer parses does not stop the others */
            if (trc == ERR_UNAVAILABLE && rc == 0 && *nruns == 0)
                rc = err_set(eb, ERR_UNAVAILABLE,
                    te.code[0] ? te.code : "database_unavailable", "%s",
                    te.msg);
            else if (te.code[0] != '\0' && strcmp(te.code, "busy") == 0
                && rc == 0 && *nruns == 0)
                rc = err_set(eb, ERR_BUSY, "busy", "%s", te.msg);
            eng_run_info_clear(&ri);
            continue;
        }
        snprintf(r[*nruns].applet, sizeof(r[*nruns].applet), "%s", fire[i]);
        r[*nruns].id = ri.id;
        snprintf(r[*nruns].status, sizeof(r[*nruns].status), "%s", ri.status);
        (*nruns)++;
        eng_run_info_clear(&ri);
    }
    if (*nruns > 0)
        rc = 0;
    log_info("runtime",
        "event=application-published sub_system=%u "
        "type=%u applets=%zu depth=%u",
        sub_system, type, nfire, depth);
out:
    for (i = 0; i < nfire; i++)
        free(fire[i]);
    free(fire);
    eng_vars_free(&vs);
    if (rc != 0 || *nruns == 0) {
        free(r);
        r = NULL;
        if (rc != 0)
            *nruns = 0;
    }
    *runs = r;
    return rc;
}

int
eng_runtime_publish(struct eng_runtime *rt, unsigned sub_system, unsigned type,
    const char *const *data, size_t ndata, struct eng_app_run **runs,
    size_t *nruns, struct errbuf *eb)
{
    return rt_publish(rt, ENG_EV_APPLICATION, 0, sub_system, type, data, ndata,
        runs, nruns, eb);
}

static const char *
timer_type_name(int type)
{
    switch (type) {
    case ENG_EV_TIMER_WATCHDOG:
        return "watchdog";
    case ENG_EV_TIMER_COUNTDOWN:
        return "countdown";
    case ENG_EV_TIMER_ABSOLUTE:
        return "absolute";
    case ENG_EV_TIMER_CRON:
        return "cron";
    default:
        return "unknown";
    }
}

static void
on_timer(void *ud, const struct eng_timer_fire *f)
{
    struct eng_runtime *rt = ud;
    struct eng_vars     vs = { 0 };
    struct eng_run_info ri;
    struct errbuf       eb;
    char                t[32];

    err_clear(&eb);
    /* once per cluster: every instance counts the timer (a new leader
     * carries on where the last one stopped), only the leader fires it.
     * SQLite: always the leader. */
    if (eng_store_leader(rt->st) != 1) {
        log_debug("runtime",
            "event=timer-skipped applet=%s type=%s reason=\"another "
            "instance is the timer leader\"",
            f->applet, timer_type_name(f->type));
        return;
    }
    eng_vars_add(&vs, "_timer_type", timer_type_name(f->type));
    snprintf(t, sizeof(t), "%lld", (long long)f->when);
    eng_vars_add(&vs, "_timer_time", t);
    snprintf(t, sizeof(t), "%.0f", f->remain);
    eng_vars_add(&vs, "_timer_remain", t);
    if (rt_trigger(rt, f->applet, f->type, NULL, &vs, 0, &ri, &eb) != 0)
        log_warn("runtime",
            "event=timer-trigger-failed applet=%s "
            "reason=\"%s\"",
            f->applet, eb.msg);
    eng_run_info_clear(&ri);
    eng_vars_free(&vs);
}

static uint64_t
fnv(uint64_t h, const char *s)
{
    for (; s != NULL && *s; s++)
        h = (h ^ (unsigned char)*s) * 1099511628211ULL;
    return (h ^ 0xff) * 1099511628211ULL;
}

/* Fingerprint of what registration depends on: applets and environment
 * (event lines may use $variables). 0 if the store cannot be read. */
static uint64_t
applets_fingerprint(struct eng_runtime *rt, const struct eng_applet_rec *recs,
    size_t n)
{
    struct eng_env_var *vars = NULL;
    size_t              nv = 0, i;
    uint64_t            h = 14695981039346656037ULL;

    for (i = 0; i < n; i++)
        h = fnv(fnv(h, recs[i].name), recs[i].text);
    if (eng_store_env_list(rt->st, &vars, &nv, NULL) != 0)
        return 0;
    for (i = 0; i < nv; i++)
        h = fnv(fnv(h, vars[i].name), vars[i].value);
    eng_env_vars_free(vars, nv);
    return h;
}

/* Reports drops since an applet's last "triggers-dropped" line and
 * re-registers the applets if they changed behind our back (an API route
 * that did not call eng_runtime_applets_changed, a config import, another
 * instance): after a store change (the timer thread's kick) and every
 * RT_MAINT_MS (rt_maintain). */
static void
rt_recheck(void *ud)
{
    struct eng_runtime    *rt = ud;
    struct eng_applet_rec *recs = NULL;
    struct eng_drop_report reps[16];
    struct errbuf          eb;
    size_t                 n = 0, i;
    long long              now = clock_now_ms();

    err_clear(&eb);
    do {
        n = eng_tbound_flush(rt->tb, now, reps, 16);
        for (i = 0; i < n; i++)
            log_drops(&reps[i]);
    } while (n == 16);
    n = 0;
    if (eng_store_applet_list(rt->st, &recs, &n, &eb) == 0) {
        uint64_t fp = applets_fingerprint(rt, recs, n), old;

        eng_applet_recs_free(recs, n);
        pthread_mutex_lock(&rt->reg_mu);
        old = rt->applets_fp;
        pthread_mutex_unlock(&rt->reg_mu);
        if (fp != 0 && fp != old && eng_runtime_applets_changed(rt, &eb) != 0)
            log_warn("runtime", "event=reregister-failed reason=\"%s\"",
                eb.msg);
    }
}

/* From eng_runtime_tick: every RT_MAINT_MS the recheck, and the run
 * history pruned once an hour (the first time shortly after the start). */
static void
rt_maintain(struct eng_runtime *rt, long long now)
{
    struct errbuf eb;
    int           k;

    if (now < rt->next_maint_ms)
        return;
    rt->next_maint_ms = now + RT_MAINT_MS;
    rt_recheck(rt);
    if (rt->last_prune_ms != 0 && now - rt->last_prune_ms < 3600 * 1000LL)
        return;
    rt->last_prune_ms = now;
    err_clear(&eb);
    k = eng_runtime_runs_prune(rt, rt->o.retention_days, &eb);
    if (k > 0)
        log_info("runtime", "event=runs-pruned count=%d retention_days=%u", k,
            rt->o.retention_days);
}

/* An applet or variable row changed (store write in progress): have the
 * timer thread re-register right after it. Runs with the store locked. */
static void
on_db_change(void *ud, const char *table)
{
    struct eng_runtime *rt = ud;

    (void)table;
    eng_cfg_cache_invalidate(rt->cache);
    pthread_mutex_lock(&rt->kick_mu);
    if (rt->kick_timers != NULL)
        eng_timers_kick(rt->kick_timers);
    pthread_mutex_unlock(&rt->kick_mu);
}

static char *
env_lookup(void *ud, const char *name, char **shown)
{
    struct eng_runtime *rt = ud;
    char               *r = NULL;
    int                 oom = 0, secret = 0;

    if (eng_cfg_cache_env(rt->cache, name, &r, &secret, NULL) != 0)
        return NULL;
    /* an event sees a secret masked, as every other use but mail server */
    *shown = eng_secret_shown(r, secret, &oom);
    return r;
}

int
eng_runtime_applets_changed(struct eng_runtime *rt, struct errbuf *eb)
{
    struct eng_applet_rec *recs = NULL;
    struct eng_timer_def  *defs = NULL;
    struct sl_reg         *regs = NULL, *old;
    struct app_reg        *apps = NULL, *oldapps;
    struct eng_applet    **parsed = NULL;
    char                 **crons = NULL;
    size_t                 n = 0, i, e, nd = 0, nr = 0, cap = 0, nold, na = 0;
    int                    rc;

    pthread_mutex_lock(&rt->reg_mu);
    if ((rc = eng_store_applet_list(rt->st, &recs, &n, eb)) != 0) {
        pthread_mutex_unlock(&rt->reg_mu);
        return rc;
    }
    parsed = calloc(n ? n : 1, sizeof(*parsed));
    for (i = 0; parsed != NULL && i < n; i++) {
        struct errbuf pe;

        err_clear(&pe);
        if (eng_applet_parse(recs[i].text, strlen(recs[i].text), 1, &parsed[i],
                &pe)
            != 0) {
            log_warn("runtime",
                "event=register-skip applet=%s "
                "reason=\"%s\"",
                recs[i].name, pe.msg);
            continue;
        }
        cap += eng_applet_event_count(parsed[i]);
    }
    defs = calloc(cap ? cap : 1, sizeof(*defs));
    crons = calloc(cap ? cap : 1, sizeof(*crons));
    regs = calloc(cap ? cap : 1, sizeof(*regs));
    apps = calloc(cap ? cap : 1, sizeof(*apps));
    if (parsed == NULL || defs == NULL || regs == NULL || crons == NULL
        || apps == NULL) {
        rc = err_set(eb, ERR_NOMEM, "nomem", "out of memory");
        goto out;
    }
    for (i = 0; i < n; i++) {
        for (e = 0; parsed[i] && e < eng_applet_event_count(parsed[i]); e++) {
            const struct eng_event *ev = eng_applet_event(parsed[i], e);
            struct errbuf           pe;
            char                   *x = NULL;

            err_clear(&pe);
            if (ev->type == ENG_EV_APPLICATION) {
                if ((apps[na].applet = strdup(recs[i].name)) != NULL) {
                    apps[na].event = e;
                    apps[na].sub_system = ev->sub_system;
                    apps[na].type = ev->app_type;
                    na++;
                }
            } else if (ev->type == ENG_EV_SYSLOG) {
                if (eng_expand(ev->pattern ? ev->pattern : "", env_lookup, rt,
                        0, &x, &pe)
                        != 0
                    || eng_syslog_match_init(&regs[nr].m, x, ev->occurs,
                           ev->period, ev->priority, &pe)
                        != 0) {
                    eng_syslog_match_free(&regs[nr].m);
                    log_warn("runtime",
                        "event=register-skip applet=%s "
                        "reason=\"%s\"",
                        recs[i].name, pe.msg);
                } else {
                    regs[nr].applet = strdup(recs[i].name);
                    regs[nr].event = e;
                    nr++;
                }
                free(x);
            } else if (ev->type >= ENG_EV_TIMER_WATCHDOG
                && ev->type <= ENG_EV_TIMER_CRON) {
                struct eng_cron c;

                if (ev->type == ENG_EV_TIMER_CRON
                    && (eng_expand(ev->cron_entry ? ev->cron_entry : "",
                            env_lookup, rt, 0, &x, &pe)
                            != 0
                        || eng_cron_parse(x, &c, &pe) != 0)) {
                    log_warn("runtime",
                        "event=register-skip applet=%s "
                        "reason=\"%s\"",
                        recs[i].name, pe.msg);
                    free(x);
                    continue;
                }
                crons[nd] = x;
                defs[nd] = (struct eng_timer_def){ recs[i].name, e, ev->type,
                    ev->time, x, recs[i].text };
                nd++;
            }
        }
    }
    if (rt->timers != NULL
        && (rc = eng_timers_set(rt->timers, defs, nd, eb)) != 0)
        goto out;
    rt->applets_fp = applets_fingerprint(rt, recs, n);
    pthread_mutex_lock(&rt->sl_mu);
    old = rt->sl_regs;
    nold = rt->nsl;
    rt->sl_regs = regs;
    rt->nsl = nr;
    oldapps = rt->app_regs;
    rt->app_regs = apps;
    apps = oldapps;
    i = rt->napp;
    rt->napp = na;
    na = i;
    pthread_mutex_unlock(&rt->sl_mu);
    regs = old;
    nr = nold;
    /* ratelimit windows of deleted applets are forgotten */
    pthread_mutex_lock(&rt->mu);
    for (i = 0; i < rt->nrl;) {
        size_t k;

        for (k = 0; k < n; k++)
            if (strcmp(recs[k].name, rt->rl[i].applet) == 0)
                break;
        if (k == n) {
            free(rt->rl[i].applet);
            rt->rl[i] = rt->rl[--rt->nrl];
        } else {
            i++;
        }
    }
    pthread_mutex_unlock(&rt->mu);
    /* and so are their drop counts */
    {
        const char **keep = calloc(n ? n : 1, sizeof(*keep));

        for (i = 0; keep != NULL && i < n; i++)
            keep[i] = recs[i].name;
        if (keep != NULL)
            eng_tbound_forget(rt->tb, keep, n);
        free(keep);
    }
    log_info("runtime",
        "event=applets-registered applets=%zu timers=%zu "
        "syslog=%zu application=%zu",
        n, nd, rt->nsl, rt->napp);
out:
    for (i = 0; apps != NULL && i < na; i++)
        free(apps[i].applet);
    free(apps);
    for (i = 0; regs != NULL && i < nr; i++) {
        free(regs[i].applet);
        eng_syslog_match_free(&regs[i].m);
    }
    free(regs);
    for (i = 0; crons != NULL && i < nd; i++)
        free(crons[i]);
    free(crons);
    free(defs);
    for (i = 0; parsed != NULL && i < n; i++)
        eng_applet_free(parsed[i]);
    free(parsed);
    eng_applet_recs_free(recs, n);
    pthread_mutex_unlock(&rt->reg_mu);
    return rc;
}

/* ---- the outbox's transport: the one delivery path (engine/mail) ------ */

static int
tr_open(void *ud, const struct eng_mail_req *req, void **sess, cJSON *trace,
    struct smtp_result *res)
{
    struct eng_runtime   *rt = ud;
    struct eng_mail_sess *s = NULL;
    int                   rc;

    rc = eng_mail_open(rt->tc, req, &s, trace, res, NULL);
    *sess = s;
    return rc;
}

static int
tr_send(void *ud, void *sess, const struct eng_mail_req *req, cJSON *trace,
    struct smtp_result *res)
{
    (void)ud;
    return eng_mail_deliver(sess, req, trace, res, NULL);
}

/* A claimed batch in fewer round trips (eng_mail_deliver_batch). */
static size_t
tr_send_batch(void *ud, void *sess, const struct eng_mail_req *const *reqs,
    size_t n, cJSON *const *traces, struct smtp_result *res)
{
    (void)ud;
    return eng_mail_deliver_batch(sess, reqs, n, traces, res);
}

static int
tr_usable(void *ud, void *sess)
{
    (void)ud;
    return eng_mail_usable(sess);
}

static void
tr_close(void *ud, void *sess)
{
    (void)ud;
    eng_mail_close(sess);
}

/* ---- lifecycle ----------------------------------------------------------- */

static int
env_uint(const char *name, unsigned def, unsigned lo, unsigned hi,
    unsigned *out, struct errbuf *eb)
{
    const char *s = getenv(name);
    char       *end;
    long        v;

    *out = def;
    if (s == NULL || *s == '\0')
        return 0;
    errno = 0;
    v = strtol(s, &end, 10);
    if (*end != '\0' || errno != 0 || v < (long)lo || v > (long)hi)
        return err_set(eb, ERR_INVAL, "invalid_config",
            "%s=\"%s\" is not a number between %u and %u", name, s, lo, hi);
    *out = (unsigned)v;
    return 0;
}

int
eng_runtime_opts_resolve(struct eng_runtime_opts *o, struct errbuf *eb)
{
    unsigned    v;
    long        ncpu = sysconf(_SC_NPROCESSORS_ONLN);
    const char *s;
    int         rc;

    if (o->workers == 0) {
        if ((rc = env_uint("HERALD_WORKERS", ncpu < 2 ? 2 : (unsigned)ncpu, 1,
                 256, &v, eb))
            != 0)
            return rc;
        o->workers = v;
    }
    if (o->queue_size == 0) {
        if ((rc = env_uint("HERALD_QUEUE_SIZE", 1024, 1, 1000000, &v, eb)) != 0)
            return rc;
        o->queue_size = v;
    }
    if (o->retention_days == 0) {
        if ((rc = env_uint("HERALD_RUN_RETENTION_DAYS", 30, 1, 36500, &v, eb))
            != 0)
            return rc;
        o->retention_days = v;
    }
    if (o->mail_lifetime <= 0) {
        if ((rc = env_uint("HERALD_MAIL_LIFETIME", 86400, 1, 30 * 86400, &v,
                 eb))
            != 0)
            return rc;
        o->mail_lifetime = v;
    }
    if (o->mail_wait == ENG_MAIL_WAIT_DEFAULT) {
        s = getenv("HERALD_MAIL_WAIT");
        if (s == NULL || *s == '\0' || strcmp(s, "queue") == 0)
            o->mail_wait = ENG_MAIL_WAIT_QUEUE;
        else if (strcmp(s, "delivery") == 0)
            o->mail_wait = ENG_MAIL_WAIT_DELIVERY;
        else
            return err_set(eb, ERR_INVAL, "invalid_config",
                "HERALD_MAIL_WAIT=\"%s\" must be \"queue\" or \"delivery\"", s);
    }
    if (o->mail_senders == 0) {
        /* one open SMTP session per sender thread */
        if ((rc = env_uint("HERALD_MAIL_SENDERS", 8, 1, 64, &v, eb)) != 0)
            return rc;
        o->mail_senders = v;
    }
    if (o->trigger_queue == 0) {
        if ((rc = env_uint("HERALD_TRIGGER_QUEUE", 16, 1, 1000000, &v, eb))
            != 0)
            return rc;
        o->trigger_queue = v;
    }
    if (o->syslog_listen == NULL)
        o->syslog_listen = getenv("HERALD_SYSLOG_LISTEN");
    return 0;
}

/* The outbox's credentials: a mail action's server parameter expanded
 * against the current environment only (a local variable of the run that
 * queued the message is gone). */
static int
tr_credentials(void *ud, const char *source, char **server, struct errbuf *eb)
{
    struct errbuf xe;
    int           rc;

    err_clear(&xe);
    if ((rc = eng_expand(source, env_lookup, ud, 1, server, &xe)) == 0)
        return 0;
    if (rc == ERR_NOMEM)
        return err_set(eb, ERR_NOMEM, "nomem", "out of memory");
    return err_set(eb, ERR_EXISTS, "credentials_gone",
        "the message no "
        "longer holds its password (a sent or dead message keeps none), and "
        "its server \"%s\" cannot be taken from the environment again: "
        "$%s is not an environment variable. Define it, or run the applet "
        "again",
        source, xe.field);
}

int
eng_runtime_new(struct eng_store *st, struct eng_trustcache *tc,
    const struct eng_runtime_opts *opts, struct eng_runtime **out,
    struct errbuf *eb)
{
    struct eng_runtime         *rt;
    struct eng_runtime_opts     o;
    struct eng_outbox_transport t = { tr_open, tr_send, tr_usable, tr_close,
        NULL, tr_credentials, tr_send_batch };
    struct eng_outbox_opts      oo;
    int                         rc;

    *out = NULL;
    memset(&o, 0, sizeof(o));
    if (opts != NULL)
        o = *opts;
    if ((rc = eng_runtime_opts_resolve(&o, eb)) != 0)
        return rc;
    if ((rt = calloc(1, sizeof(*rt))) == NULL)
        return err_set(eb, ERR_NOMEM, "nomem", "out of memory");
    rt->st = st;
    rt->tc = tc;
    if (o.syslog_listen != NULL && *o.syslog_listen != '\0'
        && strcmp(o.syslog_listen, "off") != 0)
        rt->syslog_listen = strdup(o.syslog_listen);
    o.syslog_listen = NULL;
    rt->o = o;
    pthread_mutex_init(&rt->mu, NULL);
    pthread_mutex_init(&rt->sl_mu, NULL);
    pthread_mutex_init(&rt->reg_mu, NULL);
    pthread_mutex_init(&rt->idem_mu, NULL);
    pthread_mutex_init(&rt->kick_mu, NULL);
    pthread_mutex_init(&rt->defer_mu, NULL);
    memset(&oo, 0, sizeof(oo));
    oo.lifetime = o.mail_lifetime;
    oo.senders = o.mail_senders;
    t.ud = rt;
    if ((rc = eng_tbound_new(o.trigger_queue, DROP_LOG_S, clock_now_ms(),
             &rt->tb, eb))
        != 0)
        goto fail;
    if ((rc = eng_outbox_new(rt->st, &t, &oo, &rt->ob, eb)) != 0)
        goto fail;
    if ((rc = rt_committer_new(st, &rt->committer, eb)) != 0)
        goto fail;
    if (eng_hook_seen_new(&rt->hook_seen) != 0
        || eng_cfg_cache_new(st, &rt->cache) != 0) {
        rc = err_set(eb, ERR_NOMEM, "nomem", "out of memory");
        goto fail;
    }
    *out = rt;
    return 0;
fail:
    eng_runtime_free(rt);
    return rc;
}

static void
on_requeue(void *ud, long long id, const char *applet, const char *trigger,
    const char *replay)
{
    struct eng_runtime    *rt = ud;
    struct eng_applet     *a = NULL;
    struct eng_vars        vs = { 0 };
    struct eng_run_end     end;
    struct eng_drop_report rep;
    struct errbuf          eb;
    cJSON                 *r = replay ? cJSON_Parse(replay) : NULL, *it, *v;
    size_t                 event = 0;
    const char            *why = NULL;
    int                    rc;

    (void)trigger;
    err_clear(&eb);
    if (r == NULL) {
        why = "the run's trigger data was lost";
    } else if ((rc = load_applet(rt, applet, &a, &eb)) == ERR_UNAVAILABLE) {
        /* not the run's fault: requeued once the database answers */
        rt_pend(rt, id, NULL, applet, replay);
        cJSON_Delete(r);
        return;
    } else if (rc != 0) {
        why = eb.msg;
    } else {
        v = cJSON_GetObjectItemCaseSensitive(r, "event");
        event = cJSON_IsNumber(v) ? (size_t)v->valuedouble : 0;
        char idtxt[24];

        cJSON_ArrayForEach(it,
            cJSON_GetObjectItemCaseSensitive(r, "vars")) if (cJSON_IsString(it))
            eng_vars_add(&vs, it->string, it->valuestring);
        snprintf(idtxt, sizeof(idtxt), "%lld", id);
        eng_vars_add(&vs, "_event_id", idtxt);
        /* a run already recorded takes its slot whatever the bound */
        if (eng_tbound_take(rt->tb, applet, ENG_DROP_NONE, clock_now_ms(), &rep)
            != 1) {
            eng_applet_free(a);
            why = "out of memory";
        } else if (rt_submit(rt, id, a, applet, event, &vs, 0, NULL) != 0) {
            why = "the run queue is full";
        }
        a = NULL;
    }
    if (why != NULL) {
        end = (struct eng_run_end){ "abort", clock_now_ms(), 0, NULL,
            "interrupted", why, NULL, NULL };
        if (eng_store_run_finish(rt->st, id, &end, NULL) == ERR_UNAVAILABLE)
            rt_pend(rt, id, &end, NULL, NULL);
    } else {
        log_info("runtime", "event=run-requeued run=%lld applet=%s", id,
            applet);
    }
    eng_applet_free(a);
    eng_vars_free(&vs);
    cJSON_Delete(r);
}

int
eng_runtime_start(struct eng_runtime *rt, struct errbuf *eb)
{
    int rc;

    if (rt->started)
        return 0;
    if ((rc = eng_pool_new(rt->o.workers, rt->o.queue_size, &rt->pool, eb))
        != 0)
        return rc;
    rt->started = 1;
    if ((rc = eng_outbox_start(rt->ob, eb)) != 0)
        return rc;
    if ((rc = eng_timers_new(on_timer, rt_recheck, rt, &rt->timers, eb)) != 0)
        return rc;
    rt->next_maint_ms = clock_now_ms() + RT_MAINT_FIRST_MS;
    pthread_mutex_lock(&rt->kick_mu);
    rt->kick_timers = rt->timers;
    pthread_mutex_unlock(&rt->kick_mu);
    eng_store_watch(rt->st, on_db_change, rt);
    /* from now on every change is told: the cache may keep what it reads */
    eng_cfg_cache_enable(rt->cache, 1);
    if ((rc = eng_runtime_applets_changed(rt, eb)) != 0)
        return rc;
    if (rt->syslog_listen != NULL
        && (rc = eng_syslog_listen(rt->syslog_listen, on_syslog, rt, &rt->sl,
                eb))
            != 0)
        return rc;
    if ((rc = eng_store_runs_recover(rt->st, clock_now_ms(), on_requeue, rt,
             eb))
        != 0)
        return rc;
    log_info("runtime",
        "event=start workers=%u queue=%u "
        "trigger_queue=%u mail_wait=%s syslog=%s",
        rt->o.workers, rt->o.queue_size, rt->o.trigger_queue,
        rt->o.mail_wait == ENG_MAIL_WAIT_DELIVERY ? "delivery" : "queue",
        rt->syslog_listen ? rt->syslog_listen : "off");
    return 0;
}

/* ---- held back while the database could not be reached ------------------ */

/* Writes the held outcomes and requeues the held runs of others, then
 * submits the held runs again, while the database answers. */
static void
rt_held_retry(struct eng_runtime *rt)
{
    struct rt_pending *p, *keep = NULL;
    struct rt_job     *j;
    struct errbuf      eb;
    unsigned           nkeep = 0, done = 0, resub = 0;
    int                rc, down = 0;

    pthread_mutex_lock(&rt->defer_mu);
    p = rt->pending;
    rt->pending = NULL;
    rt->npending = 0;
    pthread_mutex_unlock(&rt->defer_mu);
    while (p != NULL) {
        struct rt_pending *next = p->next;

        err_clear(&eb);
        if (down) {
            rc = ERR_UNAVAILABLE;
        } else if (p->requeue) {
            /* on_requeue holds it again if the database is lost anew */
            on_requeue(rt, p->id, p->applet, NULL, p->replay);
            rc = 0;
        } else if ((rc = eng_store_run_finish(rt->st, p->id, &p->end, &eb)) != 0
            && rc != ERR_UNAVAILABLE) {
            log_err("runtime", "event=run-record-failed run=%lld reason=\"%s\"",
                p->id, eb.msg);
        }
        if (rc == ERR_UNAVAILABLE) {
            down = 1;
            p->next = keep;
            keep = p;
            nkeep++;
        } else {
            done++;
            rt_pending_free(p);
        }
        p = next;
    }
    if (keep != NULL) {
        pthread_mutex_lock(&rt->defer_mu);
        for (p = keep; p->next != NULL; p = p->next)
            ;
        p->next = rt->pending;
        rt->pending = keep;
        rt->npending += nkeep;
        pthread_mutex_unlock(&rt->defer_mu);
        return;
    }
    /* the held runs go back to the pool, oldest first, while it has room */
    for (;;) {
        pthread_mutex_lock(&rt->defer_mu);
        if ((j = rt->deferred) != NULL
            && eng_pool_submit(rt->pool, job_run, job_drop, j) == 0) {
            rt->deferred = j->dnext;
            if (rt->deferred == NULL)
                rt->deferred_tail = NULL;
            rt->ndeferred--;
            resub++;
        } else {
            j = NULL;
        }
        pthread_mutex_unlock(&rt->defer_mu);
        if (j == NULL)
            break;
    }
    if (done + resub > 0)
        log_info("runtime",
            "event=held-resumed records=%u runs=%u note=\"the database "
            "answers again\"",
            done, resub);
}

/* At free: what is still held stays in the database as it is (queued or
 * running, with a replay record): the next start, or another instance
 * once this one's leases expire, runs it again. */
static void
rt_held_release(struct eng_runtime *rt)
{
    struct rt_pending *p;
    struct rt_job     *j;

    pthread_mutex_lock(&rt->defer_mu);
    p = rt->pending;
    j = rt->deferred;
    rt->pending = NULL;
    rt->deferred = rt->deferred_tail = NULL;
    rt->npending = rt->ndeferred = 0;
    pthread_mutex_unlock(&rt->defer_mu);
    while (p != NULL) {
        struct rt_pending *next = p->next;

        log_warn("runtime",
            "event=run-record-lost run=%lld note=\"its %s could not be "
            "written (no database)\"",
            p->id, p->requeue ? "requeue" : "outcome");
        rt_pending_free(p);
        p = next;
    }
    while (j != NULL) {
        struct rt_job *next = j->dnext;

        job_unref(j);
        j = next;
    }
}

int
eng_runtime_tick(struct eng_runtime *rt, long long now_ms, struct errbuf *eb)
{
    if (rt == NULL || !rt->started || rt->pool == NULL
        || atomic_load(&rt->draining))
        return 0;
    eng_pool_tick(rt->pool); /* idle: no worker left */
    rt_committer_tick(rt->committer);
    eng_outbox_tick(rt->ob, now_ms); /* idle: no sender left */
    pthread_mutex_lock(&rt->reg_mu);
    eng_timers_reap(rt->timers); /* no timer applet: no thread left */
    pthread_mutex_unlock(&rt->reg_mu);
    if (eng_store_ready(rt->st, NULL) != 1) {
        rt->db_down_ms = now_ms; /* eng_store_tick reconnects */
        return 0;
    }
    rt_held_retry(rt);
    rt_maintain(rt, now_ms);
    if (rt->db_down_ms > 0 && now_ms - rt->db_down_ms < RT_ADOPT_GRACE_MS)
        return 0;
    return eng_store_runs_adopt(rt->st, now_ms, on_requeue, rt, eb);
}

int
eng_runtime_drain(struct eng_runtime *rt, double timeout_s)
{
    struct eng_syslog_listener *l;
    struct eng_timers          *t;
    int                         left = 0;
    unsigned                    held;

    if (rt == NULL || rt->drained)
        return 0;
    atomic_store(&rt->draining, 1);
    /* detach under the locks their users take, then stop (joins) */
    pthread_mutex_lock(&rt->sl_mu);
    l = rt->sl;
    rt->sl = NULL;
    pthread_mutex_unlock(&rt->sl_mu);
    eng_syslog_stop(l);
    /* changes go untold from here: runs still draining read the store */
    eng_cfg_cache_enable(rt->cache, 0);
    if (rt->st != NULL)
        eng_store_watch(rt->st, NULL, NULL);
    pthread_mutex_lock(&rt->kick_mu);
    rt->kick_timers = NULL;
    pthread_mutex_unlock(&rt->kick_mu);
    pthread_mutex_lock(&rt->reg_mu);
    t = rt->timers;
    rt->timers = NULL;
    pthread_mutex_unlock(&rt->reg_mu);
    eng_timers_free(t);
    /* the pool stays allocated (a drained pool refuses jobs with
     * ERR_BUSY) until eng_runtime_free, so that concurrent triggers never
     * see it freed */
    /* triggers acknowledged before the drain get their runs */
    rt_committer_flush(rt->committer);
    if (rt->pool != NULL) {
        left = eng_pool_drain(rt->pool, timeout_s);
        if (left > 0) {
            log_warn("runtime",
                "event=drain-timeout left=%d note=\"runs "
                "still running are cancelled; queued runs resume at the "
                "next start\"",
                left);
            atomic_store(&rt->cancel, 1);
        }
    }
    rt->drained = 1;
    pthread_mutex_lock(&rt->defer_mu);
    held = rt->ndeferred;
    pthread_mutex_unlock(&rt->defer_mu);
    if (held > 0)
        log_warn("runtime",
            "event=drain-held runs=%u note=\"runs held back while the "
            "database could not be reached stay queued in it; the next "
            "start (or another instance) runs them\"",
            held);
    log_info("runtime", "event=drained left=%d", left + (int)held);
    return left + (int)held;
}

void
eng_runtime_free(struct eng_runtime *rt)
{
    size_t i;

    if (rt == NULL)
        return;
    eng_runtime_drain(rt, 5.0);
    /* what it still holds meets a drained pool: answered busy */
    rt_committer_free(rt->committer);
    eng_pool_free(rt->pool); /* joins: cancelled runs end quickly */
    rt->pool = NULL;
    rt_held_release(rt);
    eng_outbox_free(rt->ob);
    eng_hook_seen_free(rt->hook_seen);
    eng_cfg_cache_free(rt->cache);
    eng_tbound_free(rt->tb);
    for (i = 0; i < rt->nrl; i++)
        free(rt->rl[i].applet);
    free(rt->rl);
    for (i = 0; i < rt->nsl; i++) {
        free(rt->sl_regs[i].applet);
        eng_syslog_match_free(&rt->sl_regs[i].m);
    }
    free(rt->sl_regs);
    for (i = 0; i < rt->napp; i++)
        free(rt->app_regs[i].applet);
    free(rt->app_regs);
    free(rt->syslog_listen);
    pthread_mutex_destroy(&rt->mu);
    pthread_mutex_destroy(&rt->sl_mu);
    pthread_mutex_destroy(&rt->reg_mu);
    pthread_mutex_destroy(&rt->idem_mu);
    pthread_mutex_destroy(&rt->kick_mu);
    pthread_mutex_destroy(&rt->defer_mu);
    free(rt);
}

/* ---- queries -------------------------------------------------------------- */

int
eng_runtime_runs_list(struct eng_runtime *rt, const struct eng_run_filter *f,
    cJSON **out, struct errbuf *eb)
{
    return eng_store_runs_list(rt->st, f, out, eb);
}

/* The outbox id of a trace entry of a mail action that queued its
 * message, or 0. */
static long long
trace_outbox_id(const cJSON *e)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(e, "action");

    if (!cJSON_IsString(v) || strcmp(v->valuestring, "mail") != 0)
        return 0;
    v = cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(e,
                                             "smtp"),
        "outbox_id");
    return cJSON_IsNumber(v) && v->valuedouble >= 1 ? (long long)v->valuedouble
                                                    : 0;
}

/* Run id from the store with each mail action's trace entry carrying its
 * message's fate, read live from the outbox ("delivery"). */
static int
rt_run_get(struct eng_runtime *rt, long long id, cJSON **out, struct errbuf *eb)
{
    cJSON    *e, *d;
    long long oid;
    int       rc;

    if ((rc = eng_store_run_get(rt->st, id, out, eb)) != 0)
        return rc;
    cJSON_ArrayForEach(e, cJSON_GetObjectItemCaseSensitive(*out, "trace"))
    {
        if ((oid = trace_outbox_id(e)) == 0)
            continue;
        if (eng_outbox_delivery(rt->ob, oid, &d, NULL) == 0)
            cJSON_AddItemToObject(e, "delivery", d);
    }
    return 0;
}

int
eng_runtime_run_get(struct eng_runtime *rt, long long id, cJSON **out,
    struct errbuf *eb)
{
    return rt_run_get(rt, id, out, eb);
}

/* 1 when every message of a run (its Run object) had its first attempt
 * end (or cannot be read). */
static int
rt_first_attempts_done(struct eng_runtime *rt, const cJSON *run)
{
    const cJSON *e;
    char         state[16];
    unsigned     att;
    long long    oid;

    cJSON_ArrayForEach(e, cJSON_GetObjectItemCaseSensitive(run, "trace"))
    {
        if ((oid = trace_outbox_id(e)) == 0)
            continue;
        if (eng_outbox_state(rt->ob, oid, state, sizeof(state), &att, NULL)
            != 0)
            continue;
        if (att == 0 || strcmp(state, "sending") == 0)
            return 0;
    }
    return 1;
}

int
eng_runtime_run_wait_delivery(struct eng_runtime *rt, long long id,
    double timeout_s, cJSON **out, struct errbuf *eb)
{
    struct timespec ts = { 0, 20 * 1000000L };
    double          deadline = clock_mono() + timeout_s;
    cJSON          *run = NULL;
    int             rc, done;

    *out = NULL;
    if ((rc = eng_store_run_get(rt->st, id, &run, eb)) != 0)
        return rc;
    while (!(done = rt_first_attempts_done(rt, run)) && clock_mono() < deadline
        && !atomic_load(&rt->draining))
        nanosleep(&ts, NULL);
    cJSON_Delete(run);
    if ((rc = rt_run_get(rt, id, &run, eb)) != 0)
        return rc;
    if (!done)
        cJSON_AddStringToObject(run, "note",
            "the first delivery attempt "
            "had not ended when the wait was over; the mail stays queued: "
            "GET /api/v1/runs/{id} shows its delivery");
    *out = run;
    return 0;
}

int
eng_runtime_runs_prune(struct eng_runtime *rt, unsigned days, struct errbuf *eb)
{
    if (days == 0)
        days = rt->o.retention_days;
    return eng_store_runs_prune(rt->st,
        clock_now_ms() - (long long)days * 86400000LL, eb);
}

int
eng_runtime_outbox_list(struct eng_runtime *rt, const char *state, cJSON **out,
    struct errbuf *eb)
{
    return eng_outbox_list(rt->ob, state, out, eb);
}

int
eng_runtime_outbox_get(struct eng_runtime *rt, long long id, cJSON **out,
    struct errbuf *eb)
{
    return eng_outbox_get(rt->ob, id, out, eb);
}

int
eng_runtime_outbox_resend(struct eng_runtime *rt, long long id, int *renewed,
    struct errbuf *eb)
{
    return eng_outbox_resend(rt->ob, id, renewed, eb);
}

long long
eng_runtime_activity(struct eng_runtime *rt)
{
    long long sent, deferred, dead;

    eng_outbox_counts(rt->ob, &sent, &deferred, &dead, NULL);
    return atomic_load(&rt->n_started) + atomic_load(&rt->n_ratelimited) + sent
        + deferred + dead;
}

void
eng_runtime_stats(struct eng_runtime *rt, struct eng_runtime_stats *s)
{
    memset(s, 0, sizeof(*s));
    s->workers = rt->o.workers;
    s->queue_size = rt->o.queue_size;
    if (rt->pool != NULL)
        eng_pool_counts(rt->pool, &s->queue_depth, &s->running);
    s->runs_started = atomic_load(&rt->n_started);
    s->runs_rejected_busy = atomic_load(&rt->n_busy);
    s->runs_ratelimited = atomic_load(&rt->n_ratelimited);
    pthread_mutex_lock(&rt->sl_mu);
    eng_syslog_counts(rt->sl, &s->syslog_received, &s->syslog_rejected);
    s->syslog_port = rt->sl ? eng_syslog_port(rt->sl) : 0;
    pthread_mutex_unlock(&rt->sl_mu);
    eng_outbox_counts(rt->ob, &s->mail_sent, &s->mail_deferred, &s->mail_dead,
        &s->outbox_queued);
    s->trigger_queue = rt->o.trigger_queue;
    eng_tbound_get(rt->tb, NULL, &s->dropped);
}

void
eng_runtime_applet_drops(struct eng_runtime *rt, const char *name,
    struct eng_trigger_drops *out)
{
    eng_tbound_get(rt->tb, name, out);
}
