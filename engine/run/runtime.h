/* SPDX-License-Identifier: MIT */
/*
 * engine/run/runtime.h: what makes applets run. A fixed pool of worker threads
 * takes jobs from a bounded queue; triggers (manual runs, webhooks, the
 * syslog listener, timers) turn events into jobs; every run is recorded in
 * the store (table runs) with its status, output and trace; the mail action
 * commits each message to a durable outbox that delivery threads send,
 * retry and finally dead-letter.
 *
 * Threads: every function here is thread-safe. The server owns one
 * struct eng_runtime for the life of the process.
 *
 * Configuration (struct eng_runtime_opts; a 0/NULL field takes the
 * environment variable, then the default):
 *   workers         HERALD_WORKERS            number of CPU cores (>= 2)
 *   queue_size      HERALD_QUEUE_SIZE         1024 jobs
 *   retention_days  HERALD_RUN_RETENTION_DAYS 30 (run records older than
 *                                             this are pruned hourly)
 *   mail_lifetime   HERALD_MAIL_LIFETIME      86400 s: a message that could
 *                                             not be delivered by then is
 *                                             dead-lettered
 *   mail_wait       HERALD_MAIL_WAIT          "queue" (default) or
 *                                             "delivery"
 *   mail_senders    HERALD_MAIL_SENDERS       8 delivery threads, each
 *                                             keeping one SMTP session open
 *   syslog_listen   HERALD_SYSLOG_LISTEN      off; "127.0.0.1:5514" or
 *                                             "[::1]:5514" listens on UDP
 *                                             and TCP
 *   trigger_queue   HERALD_TRIGGER_QUEUE      16 queued runs per applet:
 *                                             a syslog or timer trigger
 *                                             that finds its applet with
 *                                             that many runs queued (not
 *                                             started) is dropped
 *
 * Dropped triggers: a syslog or timer trigger, or an application event
 * published by a run (publish-event), dropped by the bound above
 * or by its event's ratelimit leaves no run record (a flood would
 * otherwise fill the store); it is counted per applet and in total
 * (eng_runtime_applet_drops, eng_runtime_stats) and logged at most once
 * every 10 s per applet (event=triggers-dropped). A manual or webhook
 * trigger has a caller to answer: it is never dropped by the bound, and
 * its ratelimited trigger is still recorded with status "ratelimited".
 *
 * HERALD_MAIL_WAIT: with "queue" the mail action succeeds as soon as the
 * message is durable in the outbox (committed with synchronous=FULL before
 * the action returns, so a kill -9 afterwards loses nothing); delivery
 * happens in the background with retries and the run's trace shows the
 * outbox id. With "delivery" the action also makes the first delivery
 * attempt itself: it succeeds only if the server accepted the message, and
 * its trace holds the SMTP dialogue; a temporary failure fails the action
 * but the message stays queued and is retried like any other.
 *
 * Several instances (a shared PostgreSQL database, docs/storage.md):
 * timer events fire only on the instance that holds the timer leadership
 * (eng_store_leader); every instance keeps counting them, so a new leader
 * carries on. While the database cannot be reached, triggers fail with
 * ERR_UNAVAILABLE before anything is queued, and runs already accepted
 * are held back and run once it answers (eng_runtime_tick).
 *
 * Secrets: a mail password is stored in the outbox (it must be sent
 * later) and nowhere else; run records, traces, logs and the JSON returned
 * here never contain it or a webhook token.
 */
#ifndef HERALD_ENGINE_RUNTIME_H
#define HERALD_ENGINE_RUNTIME_H

#include <stddef.h>

#include "common/err.h"
#include "engine/store/store.h" /* struct eng_run_filter */

struct cJSON;
struct eng_store;
struct eng_trustcache;

struct eng_runtime; /* opaque */

enum eng_mail_wait {
    ENG_MAIL_WAIT_DEFAULT = 0, /* HERALD_MAIL_WAIT, else queue */
    ENG_MAIL_WAIT_QUEUE,
    ENG_MAIL_WAIT_DELIVERY,
};

struct eng_runtime_opts {       /* plain data, copied by eng_runtime_new */
    unsigned    workers;        /* 0: HERALD_WORKERS or core count */
    unsigned    queue_size;     /* 0: HERALD_QUEUE_SIZE or 1024 */
    unsigned    retention_days; /* 0: HERALD_RUN_RETENTION_DAYS or 30 */
    double      mail_lifetime;  /* seconds; 0: HERALD_MAIL_LIFETIME/24 h */
    int         mail_wait;      /* enum eng_mail_wait */
    const char *syslog_listen;  /* NULL: HERALD_SYSLOG_LISTEN, else off;
                                     "off" disables explicitly */
    unsigned    mail_senders;   /* delivery threads; 0: env or 8 */
    unsigned    trigger_queue;  /* queued runs per applet before syslog
                                     and timer triggers are dropped; 0:
                                     HERALD_TRIGGER_QUEUE or 16 */
};

/* Fills the fields of o that are 0 (or NULL) from the HERALD_* variables
 * above, or their defaults, and checks them; no other effect, so that a
 * bad value is refused before anything is created. eng_runtime_new calls
 * it. Errors: ERR_INVAL naming the variable and its allowed values. */
int eng_runtime_opts_resolve(struct eng_runtime_opts *o, struct errbuf *eb);

/* Creates the runtime: opens its tables in st's database, marks runs left
 * "running" by a crash as aborted. Nothing runs until eng_runtime_start().
 * Borrows st and tc: both must outlive the runtime. tc may be NULL (mail is
 * then refused with error class "internal"). Errors: ERR_INVAL (a bad
 * option or environment variable, named in eb), ERR_DB, ERR_NOMEM. */
int eng_runtime_new(struct eng_store *st, struct eng_trustcache *tc,
    const struct eng_runtime_opts *opts, struct eng_runtime **out,
    struct errbuf *eb);

/* Starts the worker pool, the timers, the outbox senders (resuming
 * every queued message), the syslog listener if configured, re-queues runs
 * that were queued at the last shutdown and registers the applets' timer
 * and syslog events. Errors: ERR_IO (syslog address cannot be bound; eb
 * says which), ERR_INVAL (bad listen address), ERR_NOMEM. */
int eng_runtime_start(struct eng_runtime *rt, struct errbuf *eb);

/* SIGTERM drain: stops taking triggers (new ones get ERR_BUSY), stops the
 * listener and timers, waits up to timeout_s for in-flight and queued runs,
 * then cancels what still runs; runs not started stay "queued" in the store
 * and are re-queued by the next start. Outbox messages stay durable.
 * Returns the number of runs that had to be cancelled or left queued. */
int eng_runtime_drain(struct eng_runtime *rt, double timeout_s);
/* Drains (if not done) with a short timeout and frees. NULL is a no-op. */
void eng_runtime_free(struct eng_runtime *rt);

/* Once a second, after eng_store_tick (the server's main loop): while the
 * database answers, writes the run outcomes and submits again the runs
 * held back while it could not be reached (a run that lost it mid-way
 * runs again from its start), then takes over the runs of dead instances
 * (eng_store_runs_adopt, requeued as eng_runtime_start requeues the runs
 * of the last stop) -- but not within 5 s of a database loss, so that
 * every live instance renews its leases first. Every 10 s it also
 * re-registers applets changed behind the runtime's back, reports dropped
 * triggers, and prunes the run history once an hour. Call it also when
 * eng_store_tick failed (it notes the loss). Returns how many runs were
 * taken over (SQLite: 0), or an ERR_* of the store (ERR_UNAVAILABLE).
 * Does nothing before eng_runtime_start or once draining. */
int eng_runtime_tick(struct eng_runtime *rt, long long now_ms,
    struct errbuf *eb);

/* Re-reads the applets from the store and re-registers their timer and
 * syslog events. Call after an applet (or an environment variable used in
 * an event line) was created, updated or deleted. Errors: ERR_DB. */
int eng_runtime_applets_changed(struct eng_runtime *rt, struct errbuf *eb);

/* ---- runs ------------------------------------------------------------- */

#define ENG_RUN_MAX_ARGS 15

struct eng_run_info { /* filled by a synchronous run */
    long long     id;
    char          status[16]; /* queued running success abort timeout
                                    cancelled ratelimited */
    int           exit_status;
    char         *output; /* new string (free()), puts output */
    struct cJSON *run;    /* new Run object (cJSON_Delete), or NULL */
};
void eng_run_info_clear(struct eng_run_info *ri);

/* Runs applet name by hand (event none; $_none_argc, $_none_arg1..15).
 * With wait == 0 the run is queued and *out gets its id and status
 * "queued" (or "ratelimited": the trigger was dropped and recorded). With
 * wait != 0 the call returns when the run ended (bounded by its maxrun)
 * and *out holds status, exit status, output and the Run object.
 * Errors: ERR_NOTFOUND (no such applet), ERR_INVAL (more than 15 args, an
 * applet that does not parse), ERR_BUSY (queue full or draining; retry
 * later), ERR_UNAVAILABLE (the database cannot be reached: nothing was
 * queued; retry later), ERR_DB, ERR_NOMEM. */
int eng_runtime_run(struct eng_runtime *rt, const char *name,
    const char *const *args, size_t nargs, int wait, struct eng_run_info *out,
    struct errbuf *eb);

/* struct eng_run_filter: engine/store/store.h */
/* Returns a new {"items": [RunSummary], "next_cursor": string|null},
 * newest first. RunSummary = {id, applet, trigger, status, queued,
 * started, ended, duration_ms, exit_status, failed_label, error_class,
 * error, delivery}. delivery is the fate of the run's mail: "none" (no
 * mail), "pending" (queued or being sent), "delivered" (all sent) or
 * "failed" (a message is dead, or retried after a failure that does not
 * heal by itself: eng_outbox_delivery). Errors: ERR_INVAL (bad status,
 * delivery or cursor, eb->field names it), ERR_DB, ERR_NOMEM. */
int eng_runtime_runs_list(struct eng_runtime *rt,
    const struct eng_run_filter *f, struct cJSON **out, struct errbuf *eb);
/* Returns a new Run = RunSummary + {trigger_data, output, trace}; each
 * trace entry of a mail action that queued its message carries "delivery"
 * (eng_outbox_delivery: state, attempts, last_error, the latest attempt's
 * trace), read live from the outbox. A synchronous run (eng_runtime_run
 * with wait) whose mail is still pending also carries a "note" saying so.
 * Errors: ERR_NOTFOUND, ERR_DB, ERR_NOMEM. */
int eng_runtime_run_get(struct eng_runtime *rt, long long id,
    struct cJSON **out, struct errbuf *eb);
/* Waits up to timeout_s until every message of run id had its first
 * delivery attempt end (sent, retrying or dead), then returns the Run as
 * eng_runtime_run_get does; after the timeout the Run carries a "note"
 * that the wait ended first. For a run that ended (eng_runtime_run with
 * wait). Errors: as eng_runtime_run_get. */
int eng_runtime_run_wait_delivery(struct eng_runtime *rt, long long id,
    double timeout_s, struct cJSON **out, struct errbuf *eb);
/* Deletes finished runs that ended before now - days. Returns the number
 * deleted (>= 0) or ERR_DB. */
int eng_runtime_runs_prune(struct eng_runtime *rt, unsigned days,
    struct errbuf *eb);

/* ---- webhooks --------------------------------------------------------- */

struct eng_hook_req {   /* plain data; all borrowed */
    const char *applet; /* from the URL */
    const char *body;   /* NULL: not read yet */
    size_t      len;
    const char *content_type; /* header value or NULL */
    /* credentials, header values or NULL; never logged */
    const char *authorization;   /* "Bearer <token>" */
    const char *timestamp;       /* X-Herald-Timestamp: unix seconds */
    const char *signature;       /* X-Herald-Signature "sha256=<hex>" */
    const char *idempotency_key; /* or NULL */
    /* Called once the request is authenticated, before the body is used
     * (the server's UTF-8/JSON checks); a non-zero return is passed on.
     * NULL: none. */
    int (*body_check)(void *ud, const char *body, size_t len,
        const char *content_type, struct errbuf *eb);
    void *body_check_ud;
};

/* Authenticates a webhook from its headers alone, before its body is
 * read: the applet exists, has an "event webhook" and credentials, and
 * either the bearer token matches (fully verified) or the signature's
 * timestamp is within 300 s and the applet has a signing secret (the
 * HMAC itself needs the body: eng_runtime_webhook checks it). Errors:
 * ERR_AUTH with code "unauthorized" (a problem of the request alone;
 * the message is for the client) or "denied" (no such applet, no event
 * webhook, no credentials, wrong credentials: the message says which, for
 * the log only; answer every denial alike, so that applet names cannot be
 * probed), ERR_BUSY, ERR_DB, ERR_NOMEM. */
int eng_runtime_webhook_auth(struct eng_runtime *rt,
    const struct eng_hook_req *rq, struct errbuf *eb);

/* Authenticates (as eng_runtime_webhook_auth, and the signature over
 * "<timestamp>.<body>", which is accepted once: a signature seen in the
 * last 300 s is refused as replayed, ERR_AUTH "unauthorized"), runs
 * rq->body_check, and fires an applet's "event webhook". The body becomes
 * $_webhook_body; a JSON object body also gives one $_webhook_<field> per
 * top-level field (non-name characters mapped to '_'; strings as-is,
 * numbers and booleans as text, null as "", objects and arrays as compact
 * JSON), and Alertmanager/Grafana payloads $_webhook_alertname,
 * $_webhook_severity and $_webhook_summary. A body that is not JSON is
 * accepted only with Content-Type text/plain. A repeated Idempotency-Key
 * (same applet, 24 h) starts nothing and returns the first run's id with
 * *duplicate = 1. Errors: ERR_AUTH (as above), ERR_INVAL (invalid JSON:
 * eb->line/col and the byte offset in the message; or body_check's),
 * ERR_BUSY (also: too many signed deliveries for the replay cache),
 * ERR_DB, ERR_NOMEM. */
int eng_runtime_webhook(struct eng_runtime *rt, const struct eng_hook_req *rq,
    long long *run_id, int *duplicate, struct errbuf *eb);

/* A webhook's queued run that is not on disk yet (opaque). */
struct eng_ack;
/* The answer to a webhook begun with eng_runtime_webhook_begin: rc 0 when
 * run_id is on disk and handed to the workers; else eb says why and no
 * run is recorded: ERR_IO (the disk sync failed), ERR_BUSY (the run queue
 * is full, or herald stops), ERR_NOMEM. eb is only valid during the
 * call. */
typedef void (
    *eng_ack_fn)(void *ud, int rc, long long run_id, const struct errbuf *eb);

/* As eng_runtime_webhook, but for a caller that must not block on the
 * disk (an HTTP thread): when the trigger queued a run, returns 0 with
 * *ack set (and *run_id), and the answer is fn's, once the caller hands
 * *ack to eng_runtime_ack_submit (exactly once). Otherwise *ack is NULL
 * and the result is eng_runtime_webhook's: an error, a duplicate, or a
 * webhook with an Idempotency-Key (its key may only name a run on disk:
 * that one waits here). ack NULL: eng_runtime_webhook. */
int eng_runtime_webhook_begin(struct eng_runtime *rt,
    const struct eng_hook_req *rq, long long *run_id, int *duplicate,
    struct eng_ack **ack, struct errbuf *eb);

/* Completes ack (and frees it): fn(ud, ...) is called once, after one
 * disk sync shared with the triggers queued meanwhile, on the runtime's
 * committer thread (or on this one, when that thread cannot start). */
void eng_runtime_ack_submit(struct eng_runtime *rt, struct eng_ack *ack,
    eng_ack_fn fn, void *ud);

/* Generates new webhook credentials for applet name: a bearer token,
 * stored as its SHA-256 only, and a signing secret for X-Herald-Signature,
 * stored as it is (the HMAC needs it). The old ones stop working. Returns
 * both as new strings (free(); show them once, never log them). Errors:
 * ERR_NOTFOUND, ERR_IO (no randomness), ERR_DB, ERR_NOMEM. */
int eng_runtime_webhook_token(struct eng_runtime *rt, const char *name,
    char **token, char **secret, struct errbuf *eb);

/* ---- application events ----------------------------------------------- */

#define ENG_APP_DATA_MAX 4
/* publish-event chains: an applet run started by an application event
 * that an applet run published ... this many times over cannot publish
 * again (its publish-event action fails): a loop without a ratelimit ends
 * there. */
#define ENG_APP_DEPTH_MAX 8

struct eng_app_run { /* one applet an event fired */
    char      applet[128];
    long long id;         /* run id; 0 when not recorded */
    char      status[16]; /* queued, ratelimited */
};

/* Raises application event sub_system/type (both 1..999), as the
 * publish-event action does, for another program: every applet with a
 * matching "event application" is triggered with
 * $_application_sub_system, $_application_type and
 * $_application_data1..4 (data[0..ndata-1], the rest ""). A caller is
 * answered, so the trigger queue bound does not drop these; a ratelimited
 * trigger is recorded with status "ratelimited". Returns 0 with *runs a
 * new array (free()) of *nruns entries, 0 when no applet matched.
 * Errors: ERR_INVAL (sub_system or type out of range, more than 4 data,
 * a datum not a string: eb->field "sub_system", "type", "data"),
 * ERR_BUSY, ERR_DB, ERR_NOMEM. */
int eng_runtime_publish(struct eng_runtime *rt, unsigned sub_system,
    unsigned type, const char *const *data, size_t ndata,
    struct eng_app_run **runs, size_t *nruns, struct errbuf *eb);

/* ---- outbox ----------------------------------------------------------- */

/* Returns a new {"items": [Message]} for state NULL (all), "queued",
 * "sending", "sent" or "dead", newest first, at most 500. Message = {id,
 * run_id, applet, state, server (password masked), from, to, cc, subject,
 * attempts, created, next_attempt, expires, last_error: {klass, code,
 * message, permanent}|null}. Errors: ERR_INVAL (unknown state), ERR_DB. */
int eng_runtime_outbox_list(struct eng_runtime *rt, const char *state,
    struct cJSON **out, struct errbuf *eb);
/* Returns message id as a new Message whose "attempts" lists the kept
 * attempts with their result and trace (eng_outbox_get). Errors:
 * ERR_NOTFOUND, ERR_DB, ERR_NOMEM. */
int eng_runtime_outbox_get(struct eng_runtime *rt, long long id,
    struct cJSON **out, struct errbuf *eb);
/* Puts a dead (or queued) message back in the queue for immediate
 * delivery with a fresh lifetime. A dead message keeps no password: it
 * takes the credentials from the current environment again (*renewed,
 * may be NULL, says so). Errors: ERR_NOTFOUND, ERR_INVAL (already sent),
 * ERR_EXISTS (credentials cannot be taken again), ERR_DB. */
int eng_runtime_outbox_resend(struct eng_runtime *rt, long long id,
    int *renewed, struct errbuf *eb);

/* ---- metrics ---------------------------------------------------------- */

struct eng_trigger_drops {   /* syslog, timer and published
                                    application triggers dropped */
    long long syslog, timer; /* by trigger */
    long long application;   /*   (publish-event from a run) */
    long long queue_full;    /* by reason: the trigger queue bound */
    long long ratelimited;   /*   or the event's ratelimit; the two
                                      sums are equal */
    long long last_ms;       /* the last drop, 0: none */
    long long since_ms;      /* counting began (herald's start) */
    unsigned  queued;        /* runs queued now (not started) */
};
/* The drops of applet name since the start (or since it was deleted and
 * created again; zeros for an applet that never dropped a trigger). */
void eng_runtime_applet_drops(struct eng_runtime *rt, const char *name,
    struct eng_trigger_drops *out);

struct eng_runtime_stats {
    unsigned                 workers;
    unsigned                 queue_size;
    unsigned                 queue_depth; /* jobs waiting */
    unsigned                 running;     /* jobs in a worker */
    long long                runs_started;
    long long                runs_rejected_busy;
    long long                runs_ratelimited;
    unsigned                 syslog_port; /* bound port, 0 when off */
    long long                syslog_received;
    long long                syslog_rejected; /* unparsable messages */
    long long                mail_sent;
    long long                mail_deferred; /* temporary failures (retried) */
    long long                mail_dead;
    long long                outbox_queued; /* messages waiting now */
    unsigned                 trigger_queue; /* the per-applet bound */
    struct eng_trigger_drops dropped;       /* totals of all applets */
};
void eng_runtime_stats(struct eng_runtime *rt, struct eng_runtime_stats *s);
/* A number that grows with every run started or rate-limited and every
 * delivery attempt; counters only, no database access. */
long long eng_runtime_activity(struct eng_runtime *rt);

#endif
