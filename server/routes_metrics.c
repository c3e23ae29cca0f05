/* SPDX-License-Identifier: MIT */
/*
 * server/routes_metrics.c: GET /metrics, the Prometheus text exposition
 * format (version 0.0.4).
 *
 * The route is SRV_ROUTE_NOAUTH in the table and checks here that the
 * request carries the admin token or the metrics token (server/auth.c): the
 * metrics token opens this route and no other.
 *
 * Counters come from common/metrics (incremented where each outcome is
 * known: the outbox, the mail test and probe, the end of a run, the
 * webhook route, every HTTP answer); gauges are read now: the outbox from
 * the store (one indexed COUNT ... GROUP BY), the trigger queue from the
 * runtime, the process from /proc, the database from the store's last
 * state (herald_database_up, herald_leader). While the database cannot be
 * reached the outbox gauges are left out and the rest is answered: an
 * alert on herald_database_up needs the scrape to work.
 */
#include "server/srv_int.h"

#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "common/clock.h"
#include "common/metrics.h"
#include "engine/mail/mail.h"
#include "engine/oauth/oauth.h"
#include "engine/run/runtime.h"
#include "engine/store/store.h"

#define METRICS_CTYPE "text/plain; version=0.0.4; charset=utf-8"

static int
gauge(struct buf *b, const char *name, const char *help, double v)
{
    int rc;

    if ((rc = metrics_write_head(b, name, "gauge", help)) == 0)
        rc = metrics_write_sample(b, name, NULL, NULL, 0, v);
    return rc;
}

static int
counter(struct buf *b, const char *name, const char *help, double v)
{
    int rc;

    if ((rc = metrics_write_head(b, name, "counter", help)) == 0)
        rc = metrics_write_sample(b, name, NULL, NULL, 0, v);
    return rc;
}

static int
metrics_outbox(struct buf *b, const struct eng_ob_census *ob)
{
    static const char *const label[] = { "state" };
    static const char *const state[] = { "queued", "sending", "sent", "dead" };
    const long long n[] = { ob->queued, ob->sending, ob->sent, ob->dead };
    long long       age = 0;
    int             rc;

    rc = metrics_write_head(b, "herald_outbox_messages", "gauge",
        "Messages in the outbox, by state.");
    for (size_t i = 0; i < 4 && rc == 0; i++)
        rc = metrics_write_sample(b, "herald_outbox_messages", label, &state[i],
            1, (double)n[i]);
    if (ob->oldest_ms > 0 && (age = clock_now_ms() - ob->oldest_ms) < 0)
        age = 0;
    if (rc == 0)
        rc = gauge(b, "herald_outbox_oldest_seconds",
            "Age of the oldest message not yet delivered (queued or being "
            "sent); 0 when there is none.",
            (double)age / 1000.0);
    return rc;
}

static int
metrics_triggers(struct buf *b, struct eng_runtime *rt)
{
    struct eng_runtime_stats st;
    int                      rc;

    memset(&st, 0, sizeof(st));
    if (rt != NULL)
        eng_runtime_stats(rt, &st);
    /* queued: runs waiting for a worker (not started), of every applet;
     * the bound is per applet (--trigger-queue) */
    {
        static const char *const label[] = { "reason" };
        static const char *const reason[] = { "queue_full", "ratelimited",
            "busy" };
        /* runs_ratelimited counts every trigger's, the dropped syslog
         * and timer ones (dropped.ratelimited) included */
        const double n[] = { (double)st.dropped.queue_full,
            (double)st.runs_ratelimited, (double)st.runs_rejected_busy };

        rc = gauge(b, "herald_trigger_queue_depth",
            "Runs queued for a "
            "worker and not started yet, all applets.",
            (double)st.dropped.queued);
        if (rc == 0)
            rc = gauge(b, "herald_trigger_queue_bound",
                "Queued runs one "
                "applet may have before its syslog and timer triggers are "
                "dropped (--trigger-queue).",
                (double)st.trigger_queue);
        if (rc == 0)
            rc = gauge(b, "herald_trigger_queue_capacity",
                "Size of the worker queue.", (double)st.queue_size);
        if (rc == 0)
            rc = gauge(b, "herald_runs_running", "Runs in a worker now.",
                (double)st.running);
        if (rc == 0)
            rc =
                metrics_write_head(b, "herald_trigger_dropped_total", "counter",
                    "Triggers that started no run: a syslog or timer "
                    "trigger over its applet's queue bound (queue_full), any "
                    "trigger over its event's ratelimit (ratelimited), or one "
                    "refused with the worker queue full (busy).");
        for (size_t i = 0; i < 3 && rc == 0; i++)
            rc = metrics_write_sample(b, "herald_trigger_dropped_total", label,
                &reason[i], 1, n[i]);
    }
    return rc;
}

/* herald_oauth_tokens_total{outcome}: the token cache's answers, all
 * credentials together (engine/oauth/oauth.h's eng_oauth_stats). */
static int
metrics_oauth(struct buf *b, struct srv *s)
{
    static const char *const label[] = { "outcome" };
    static const char *const outcome[] = { "fetched", "cached", "refused",
        "failed" };
    struct eng_oauth_stats   st;
    int                      rc;

    memset(&st, 0, sizeof(st));
    if (eng_trustcache_oauth(s->trust) != NULL)
        eng_oauth_stats(eng_trustcache_oauth(s->trust), &st);
    const double n[] = { (double)st.fetched, (double)st.cached,
        (double)st.refused, (double)st.failed };
    rc = metrics_write_head(b, "herald_oauth_tokens_total", "counter",
        "OAuth 2.0 access tokens for SMTP AUTH: fetched from a token "
        "endpoint, answered from the cache, refused by the endpoint "
        "(auth_failed), or failed (endpoint unreachable, bad answer).");
    for (size_t i = 0; i < 4 && rc == 0; i++)
        rc = metrics_write_sample(b, "herald_oauth_tokens_total", label,
            &outcome[i], 1, n[i]);
    return rc;
}

/* herald_database_up, herald_leader (srv_db.c, engine/store/store.h). */
static int
metrics_database(struct buf *b, struct srv *s)
{
    int rc;

    rc = gauge(b, "herald_database_up",
        "1 when the database answered the last call, else 0 (triggers "
        "answer 503 meanwhile).",
        eng_store_ready(s->store, NULL) == 1 ? 1.0 : 0.0);
    if (rc == 0)
        rc = gauge(b, "herald_leader",
            "1 when this instance fires the cluster's timers (PostgreSQL: "
            "it holds the leader lock; SQLite: always).",
            eng_store_leader(s->store) == 1 ? 1.0 : 0.0);
    return rc;
}

static int
metrics_process(struct buf *b, struct srv *s)
{
    struct timespec ts;
    unsigned long   size, resident = 0;
    FILE           *f;
    int             rc;

    if ((f = fopen("/proc/self/statm", "r")) != NULL) {
        if (fscanf(f, "%lu %lu", &size, &resident) != 2)
            resident = 0;
        fclose(f);
    }
    if (clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts) != 0)
        ts.tv_sec = ts.tv_nsec = 0;
    rc = gauge(b, "process_resident_memory_bytes",
        "Resident memory size in bytes.",
        (double)resident * (double)sysconf(_SC_PAGESIZE));
    if (rc == 0)
        rc = gauge(b, "process_start_time_seconds",
            "Start time of the process since the Unix epoch in seconds.",
            (double)s->started);
    if (rc == 0)
        rc = counter(b, "process_cpu_seconds_total",
            "Total user and system CPU time spent in seconds.",
            (double)ts.tv_sec + (double)ts.tv_nsec / 1e9);
    return rc;
}

void
srv_h_metrics(struct srv_req *rq, struct srv_resp *rs)
{
    static const char *const label[] = { "version" };
    static const char *const version[] = { HERALD_VERSION };
    struct eng_ob_census     ob;
    struct errbuf            eb;
    struct buf               b = BUF_INIT;
    int                      rc, have_ob;

    if (!srv_auth_metrics_ok(rq)) {
        srv_reply_unauthorized(rs,
            srv_req_header(rq, MHD_HTTP_HEADER_AUTHORIZATION)
                ? "the token is wrong: /metrics takes the admin token or "
                  "the metrics token"
                : "this route needs 'Authorization: Bearer <admin token "
                  "or metrics token>'");
        return;
    }
    err_clear(&eb);
    rc = eng_store_ob_census(rq->srv->store, &ob, &eb);
    if (rc != 0 && rc != ERR_UNAVAILABLE) {
        srv_reply_error(rs, rc, &eb);
        return;
    }
    have_ob = rc == 0; /* else the database is down: no outbox gauges */
    rc = metrics_write_head(&b, "herald_build_info", "gauge",
        "herald's version; always 1.");
    if (rc == 0)
        rc =
            metrics_write_sample(&b, "herald_build_info", label, version, 1, 1);
    if (rc == 0)
        rc = metrics_write_counters(&b);
    if (rc == 0 && have_ob)
        rc = metrics_outbox(&b, &ob);
    if (rc == 0)
        rc = metrics_database(&b, rq->srv);
    if (rc == 0)
        rc = metrics_triggers(&b, rq->srv->runtime);
    if (rc == 0)
        rc = metrics_oauth(&b, rq->srv);
    if (rc == 0)
        rc = metrics_process(&b, rq->srv);
    if (rc != 0) {
        buf_free(&b);
        srv_reply_errorf(rs, rc, "internal", "cannot build the metrics");
        return;
    }
    srv_reply_text(rs, 200, METRICS_CTYPE, buf_str(&b), b.len);
    buf_free(&b);
}
