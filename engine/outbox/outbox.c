/* SPDX-License-Identifier: MIT */
/*
 * engine/outbox/outbox.c: the durable mail queue between the mail action and the
 * SMTP servers.
 *
 * The mail action commits the whole request (password included: it must be
 * sent later; it is kept only in this table and dropped once the message is
 * sent). Its durability comes from the run's: the run that queues it was
 * on disk before its trigger was acknowledged (eng_store_durable), and the
 * WAL keeps commits in order, so after a power loss either this row
 * survives or the run is still queued and runs again.
 *
 * Sender threads claim due messages (queued -> sending) a batch at a time,
 * keep one SMTP session open per server and send several messages over it,
 * and then mark each message sent, queued again with exponential backoff
 * and jitter (temporary failure), or dead (permanent failure, or the
 * lifetime is over). One destination (session key: server and account)
 * occupies at most dest_sessions senders at once, so a slow or dead server
 * cannot hold every sender while another destination has due mail; a
 * sender picks the destination due earliest among those with a free slot.
 * A message left "sending" by a crash is queued again
 * on start (delivery is at least once). Dead messages can be listed and
 * re-sent. Rows are read and written through the store (engine/store/store.h,
 * engine/store/sqlite_outbox.c, pg_outbox.c): no SQL here.
 *
 * A shared database (PostgreSQL, several instances: docs/storage.md): a
 * message put by another instance wakes that instance's senders, not
 * these, and one left "sending" by a dead instance becomes due when its
 * lease expires (eng_store_ob_earliest counts it). So an idle sender
 * looks at least once a second (OB_SHARED_WAIT), and with none live
 * eng_outbox_tick does; on SQLite it sleeps until the earliest retry or
 * a put wakes it. When the
 * database cannot be reached, an outcome (or a release) that could not be
 * written is written again once it answers: the message is leased by this
 * instance meanwhile, so no other would take it; and nothing is claimed
 * until 5 s after it answers again (OB_REJOIN_MS), the time every live
 * instance needs to renew the leases that passed during the outage.
 */
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cjson/cJSON.h>

#include "common/clock.h"
#include "common/log.h"
#include "common/metrics.h"
#include "common/redact.h"
#include "common/sec.h"
#include "common/thread.h"
#include "engine/mail/mail.h"
#include "engine/outbox/outbox.h"
#include "engine/store/store.h"

/* A sender thread's wake-up: each sender sleeps on its own condition
 * variable, so a new message wakes the one sender that can take it (the
 * one holding an idle session to its destination, else one with no
 * destination while the destination has a free slot) and not every sender.
 * Under the outbox's mu.
 *
 * Senders are elastic: one runs from the start only if mail is due then
 * (resumed, retried); a put that finds none of them idle, while its
 * destination has a free slot, starts one, up to o.senders; a sender that claimed a
 * full batch starts another too (a backlog no put announced: a resume,
 * retries, another instance's mail). A sender that has had no session and
 * no work for idle_close seconds, and sees nothing due before idle_close
 * from now, ends, the last one too: an idle thread costs ~64 KB resident
 * (its stack and TLS), so an idle herald keeps none. With none live,
 * eng_outbox_tick (once a second) starts one when a message is due: a
 * retry whose time came, or mail another instance queued; and it joins
 * the last one to end, whose stack no other sender is left to give back.
 * The threads are a struct thr_set (common/thread.h); waiters[i] is the
 * wake-up of its slot i. */
struct ob_waiter {
    pthread_cond_t cv;
    const char    *slot;  /* the destination it holds while idle, or
                             NULL (borrowed from its ob_sess) */
    int            idle;  /* sleeping, and not woken yet */
    int            fresh; /* started for no message in particular
                             (eng_outbox_start, a full batch) and has
                             not slept or claimed yet: it will look, so
                             it takes an arrival as an idle sender
                             would */
};

struct eng_outbox {
    struct eng_store           *db;
    struct eng_outbox_transport t;
    struct eng_outbox_opts      o;
    pthread_mutex_t             mu;
    int                         stop;
    unsigned long long          gen; /* work arrived: puts, resends, slots
                                        given back (under mu); a sender
                                        that saw it change while it looked
                                        for work looks again */
    atomic_llong                sent, deferred, dead;
    atomic_uint                 seq;
    int                         shared;  /* eng_store_shared(db) */
    atomic_llong                down_ms; /* shared: last seen down */
    /* senders working on (or holding an idle session to) a destination;
     * under mu */
    struct ob_slot {
        char    *skey;
        unsigned n;
    } * slots;
    size_t nslots;
    /* o.senders waiters, one per slot of senders (under mu; closed once
     * stop is set); NULL until eng_outbox_start, and with no senders */
    struct ob_waiter *waiters;
    struct thr_set    senders;
};

static void ob_wake(struct eng_outbox *ob, const char *skey);
static void ob_main(void *arg, unsigned slot);

/* One loaded message: the request JSON and a borrowed view of it. */
struct ob_msg {
    long long           id;
    long long           run_id;
    unsigned            attempts;
    long long           expires_ms;
    char               *skey;
    cJSON              *json;
    struct eng_mail_req req;
};

/* A sender's open session. */
struct ob_sess {
    void  *h;
    char  *skey;
    double last_used;
    char  *slot;   /* the destination whose slot is held */
    cJSON *otrace; /* the open's trace: the transport keeps
                                  * writing to it (QUIT) until close */
};

double
eng_outbox_backoff(unsigned attempt, double base, double max, double jitter01)
{
    double   d = base;
    unsigned i;

    for (i = 1; i < attempt && d < max; i++)
        d *= 2;
    if (d > max)
        d = max;
    if (jitter01 < 0)
        jitter01 = 0;
    if (jitter01 >= 1)
        jitter01 = 0.999999;
    return d * (0.8 + 0.4 * jitter01);
}

/* ---- request <-> JSON -------------------------------------------------- */

static void
js_add(cJSON *o, const char *k, const char *v)
{
    if (v != NULL)
        cJSON_AddStringToObject(o, k, v);
}

static char *
ob_req_json(const struct eng_mail_req *r)
{
    cJSON *o = cJSON_CreateObject();
    char  *s;

    if (o == NULL)
        return NULL;
    js_add(o, "server", r->server);
    js_add(o, "host", r->host);
    js_add(o, "username", r->username);
    js_add(o, "password", r->password);
    if (r->port)
        cJSON_AddNumberToObject(o, "port", r->port);
    js_add(o, "secure", r->secure);
    js_add(o, "to", r->to);
    js_add(o, "cc", r->cc);
    js_add(o, "from", r->from);
    js_add(o, "subject", r->subject);
    js_add(o, "body", r->body);
    js_add(o, "tls_name", r->tls_name);
    if (r->insecure_skip_verify)
        cJSON_AddTrueToObject(o, "insecure_skip_verify");
    if (r->allow_plain_auth)
        cJSON_AddTrueToObject(o, "allow_plain_auth");
    js_add(o, "source_address", r->source_address);
    js_add(o, "source_interface", r->source_interface);
    js_add(o, "server_source", r->server_source);
    js_add(o, "credential", r->credential);
    s = cJSON_PrintUnformatted(o);
    cJSON_Delete(o);
    return s;
}

static const char *
js_str(const cJSON *o, const char *k)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);

    return cJSON_IsString(v) ? v->valuestring : NULL;
}

static void
ob_req_view(const cJSON *o, struct eng_mail_req *r)
{
    const cJSON *v;

    memset(r, 0, sizeof(*r));
    r->server = js_str(o, "server");
    r->host = js_str(o, "host");
    r->username = js_str(o, "username");
    r->password = js_str(o, "password");
    v = cJSON_GetObjectItemCaseSensitive(o, "port");
    r->port = cJSON_IsNumber(v) ? (unsigned)v->valuedouble : 0;
    r->secure = js_str(o, "secure");
    r->to = js_str(o, "to");
    r->cc = js_str(o, "cc");
    r->from = js_str(o, "from");
    r->subject = js_str(o, "subject");
    r->body = js_str(o, "body");
    r->tls_name = js_str(o, "tls_name");
    r->insecure_skip_verify = cJSON_IsTrue(
        cJSON_GetObjectItemCaseSensitive(o, "insecure_skip_verify"));
    r->allow_plain_auth =
        cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(o, "allow_plain_auth"));
    r->source_address = js_str(o, "source_address");
    r->source_interface = js_str(o, "source_interface");
    r->server_source = js_str(o, "server_source");
    r->credential = js_str(o, "credential");
}

/* Session key: everything that decides the SMTP session, password aside
 * (an OAuth credential is named, its token never stored: a session, and
 * a resend, fetch it). */
static char *
ob_skey(const struct eng_mail_req *r)
{
    char *m = redact_server(r->server), *k;
    int   n;

    n = asprintf(&k, "%s|%s|%u|%s|%s|%s|%d|%d|%s|%s|%s", m ? m : "",
        r->host ? r->host : "", r->port, r->secure ? r->secure : "",
        r->username ? r->username : "", r->tls_name ? r->tls_name : "",
        r->insecure_skip_verify, r->allow_plain_auth,
        r->source_address ? r->source_address : "",
        r->source_interface ? r->source_interface : "",
        r->credential ? r->credential : "");
    free(m);
    return n < 0 ? NULL : k;
}

/* Frees a request, wiping the fields that may hold a password. */
static void
ob_json_free(cJSON *j)
{
    static const char *const secret[] = { "password", "server" };
    cJSON                   *v;
    size_t                   i;

    if (j == NULL)
        return;
    for (i = 0; i < sizeof(secret) / sizeof(secret[0]); i++)
        if (cJSON_IsString(v = cJSON_GetObjectItemCaseSensitive(j, secret[i])))
            sec_wipe(v->valuestring, strlen(v->valuestring));
    cJSON_Delete(j);
}

static void
ob_msg_free(struct ob_msg *m)
{
    if (m == NULL)
        return;
    ob_json_free(m->json);
    free(m->skey);
    free(m);
}

/* ---- database ---------------------------------------------------------- */

/* Messages a sender claims at once: fewer writes per message, and still
 * small enough that the other senders get work under load. */
#define OB_BATCH 8
/* A shared database: an idle sender looks again after at most this many
 * seconds (messages of other instances, expired leases). */
#define OB_SHARED_WAIT 1.0
/* A shared database that was lost: no claims for this long after it
 * answers again, so that every live instance renews the leases of the
 * messages it is sending (they may have passed meanwhile) before any
 * instance takes them as a dead instance's. */
#define OB_REJOIN_MS 5000LL

int
eng_outbox_put(struct eng_outbox *ob, long long run_id, const char *applet,
    const struct eng_mail_req *req, int hold, long long *id, struct errbuf *eb)
{
    struct eng_ob_new m;
    char             *js = ob_req_json(req), *skey = ob_skey(req);
    long long         now = clock_now_ms();
    int               rc = 0;

    if (js == NULL || skey == NULL) {
        rc = err_set(eb, ERR_NOMEM, "nomem", "out of memory");
        goto out;
    }
    memset(&m, 0, sizeof(m));
    m.run_id = run_id;
    m.applet = applet;
    m.hold = hold;
    m.skey = skey;
    m.req = js;
    m.now_ms = now;
    m.expires_ms = now + (long long)(ob->o.lifetime * 1000);
    rc = eng_store_ob_put(ob->db, &m, id, eb);
    if (rc == 0 && !hold)
        ob_wake(ob, skey);
out:
    if (js != NULL)
        sec_wipe(js, strlen(js));
    free(js);
    free(skey);
    return rc;
}

/* A message from a claimed row, which it empties (takes skey, wipes req);
 * NULL when out of memory or the stored request is not JSON. */
static struct ob_msg *
ob_msg_load(struct eng_ob_row *r)
{
    struct ob_msg *m = calloc(1, sizeof(*m));

    if (m != NULL) {
        m->id = r->id;
        m->run_id = r->run_id;
        m->attempts = r->attempts;
        m->expires_ms = r->expires_ms;
        m->skey = r->skey;
        r->skey = NULL;
        m->json = cJSON_Parse(r->req);
    }
    eng_ob_row_clear(r);
    if (m == NULL)
        return NULL;
    if (m->json == NULL || m->skey == NULL) {
        ob_msg_free(m);
        return NULL;
    }
    ob_req_view(m->json, &m->req);
    return m;
}

/* Loads message id, which the caller put as "sending" itself; NULL if it
 * is gone or no longer queued. */
static struct ob_msg *
ob_claim_held(struct eng_outbox *ob, long long id)
{
    struct eng_ob_row r;

    if (eng_store_ob_claim_held(ob->db, id, clock_now_ms(), &r) != 0)
        return NULL;
    return ob_msg_load(&r);
}

static int
ob_msg_cmp(const void *a, const void *b)
{
    const struct ob_msg *x = *(struct ob_msg *const *)a;
    const struct ob_msg *y = *(struct ob_msg *const *)b;

    return (x->id > y->id) - (x->id < y->id);
}

/*
 * Claims up to max due messages (queued -> sending) in one write, oldest
 * first, only those for session key skey unless it is NULL, and loads them
 * into out in id order. Returns how many. A message whose stored request
 * cannot be loaded is claimed and left "sending" (logged); a restart
 * queues it again.
 */
static unsigned
ob_claim_due(struct eng_outbox *ob, const char *skey, long long now,
    unsigned max, struct ob_msg **out)
{
    struct eng_ob_row r[OB_BATCH];
    unsigned          k, i, n = 0;

    if (max > OB_BATCH)
        max = OB_BATCH;
    k = eng_store_ob_claim_due(ob->db, skey, now, max, r);
    for (i = 0; i < k; i++) {
        long long id = r[i].id;

        if ((out[n] = ob_msg_load(&r[i])) != NULL)
            n++;
        else
            log_err("outbox", "event=load-failed id=%lld", id);
    }
    qsort(out, n, sizeof(*out), ob_msg_cmp);
    return n;
}

static int ob_stopping(struct eng_outbox *ob);

/* After a write of claimed messages: 1 if it must be made again, because
 * the shared database could not be reached (this instance's lease keeps
 * the messages from every other), after waiting a second; 0 once the
 * database answers, on SQLite, or when stopping (the lease then expires
 * and another instance, or the next start, sends them again). */
static int
ob_write_again(struct eng_outbox *ob, const char *what, unsigned *tries)
{
    struct timespec one = { 1, 0 };

    if (!ob->shared || eng_store_ready(ob->db, NULL) == 1 || ob_stopping(ob))
        return 0;
    if ((*tries)++ % 60 == 0)
        log_warn("outbox",
            "event=write-waiting what=%s note=\"the database cannot be "
            "reached; written again when it answers\"",
            what);
    nanosleep(&one, NULL);
    return 1;
}

/* Puts claimed messages that were not attempted back in the queue. */
static void
ob_release(struct eng_outbox *ob, struct ob_msg **m, unsigned n)
{
    long long ids[OB_BATCH];
    unsigned  i, tries = 0;

    for (i = 0; i < n && i < OB_BATCH; i++)
        ids[i] = m[i]->id;
    do
        eng_store_ob_release(ob->db, ids, i);
    while (ob_write_again(ob, "release", &tries));
}

/* The request without its secrets (password field removed, password in
 * the server string masked, "scrubbed": true when there was one), for a
 * message that no longer needs them: sent or dead. Printed from req
 * itself, changed for the print and put back (m->req points into it), not
 * from a copy of the tree: a copy was a sixth of a sender's allocations. */
static char *
ob_scrub(cJSON *req)
{
    cJSON *pw = cJSON_DetachItemFromObjectCaseSensitive(req, "password");
    cJSON *srv = cJSON_GetObjectItemCaseSensitive(req, "server");
    cJSON *flag = NULL;
    char  *masked = NULL, *kept = NULL, *s;

    if (cJSON_IsString(srv) && redact_server_has_password(srv->valuestring)
        && (masked = redact_server(srv->valuestring)) != NULL) {
        kept = srv->valuestring;
        srv->valuestring = masked;
    }
    if ((pw != NULL || kept != NULL)
        && cJSON_GetObjectItemCaseSensitive(req, "scrubbed") == NULL)
        flag = cJSON_AddTrueToObject(req, "scrubbed");
    s = cJSON_PrintUnformatted(req);
    if (flag != NULL)
        cJSON_Delete(cJSON_DetachItemViaPointer(req, flag));
    if (kept != NULL) {
        srv->valuestring = kept;
        free(masked);
    }
    if (pw != NULL) /* ob_json_free wipes it */
        cJSON_AddItemToObject(req, "password", pw);
    return s;
}

/* An attempt's outcome, to be recorded. */
struct ob_outcome {
    struct ob_msg     *m;
    int                ok;
    struct smtp_result res;
    cJSON             *trace;  /* the attempt's trace (owned) or NULL */
    const char        *state;  /* set by ob_record: sent, queued or dead */
    int                failed; /* set by ob_record: see ob_heals */
    long long          now, next;
    char              *scrubbed; /* sent or dead: the request, no secrets */
};

/* Whether a failure may heal by itself, so that a retry can succeed
 * without anyone acting: not when the server said it is permanent, nor
 * for a certificate, host name or TLS failure (the trust or the server's
 * setup must change) or a refused or impossible login (the account must
 * change). Such a message is retried until its lifetime ends (a server may
 * be fixed), but its run shows the mail failed meanwhile. */
static int
ob_heals(const struct smtp_result *res)
{
    static const char *const stuck[] = { "certificate_untrusted",
        "certificate_expired", "hostname_mismatch", "starttls_unavailable",
        "auth_failed", "auth_unavailable", NULL };
    size_t                   i;

    if (res->permanent || strncmp(res->klass, "tls_", 4) == 0)
        return 0;
    for (i = 0; stuck[i] != NULL; i++)
        if (strcmp(res->klass, stuck[i]) == 0)
            return 0;
    return 1;
}

/* Decides the new state (and the next attempt for a retry). */
static void
ob_outcome_state(struct eng_outbox *ob, struct ob_outcome *o)
{
    double jit;

    o->now = o->next = clock_now_ms();
    o->failed = !o->ok;
    if (o->ok) {
        o->state = "sent";
        o->scrubbed = ob_scrub(o->m->json);
    } else if (o->res.permanent) {
        o->state = "dead";
        o->scrubbed = ob_scrub(o->m->json);
    } else {
        o->failed = !ob_heals(&o->res);
        jit = (double)((atomic_fetch_add(&ob->seq, 1) * 2654435761u
                           + (unsigned)o->m->id * 40503u + (unsigned)o->now)
                  % 1000u)
            / 1000.0;
        o->next = o->now
            + (long long)(1000
                * eng_outbox_backoff(o->m->attempts + 1, ob->o.base_delay,
                    ob->o.max_delay, jit));
        o->state = o->next > o->m->expires_ms ? "dead" : "queued";
        if (strcmp(o->state, "dead") == 0)
            o->scrubbed = ob_scrub(o->m->json);
    }
}

static void
ob_outcome_log(struct eng_outbox *ob, const struct ob_outcome *o)
{
    const struct smtp_result *res = &o->res;
    const struct ob_msg      *m = o->m;
    unsigned                  att = m->attempts + 1;
    char                     *srv;

    metrics_delivery("outbox",
        strcmp(o->state, "queued") == 0 ? "deferred" : o->state,
        o->ok ? NULL : res->klass);
    if (o->ok) {
        atomic_fetch_add(&ob->sent, 1);
        log_info("outbox", "event=sent id=%lld run=%lld attempts=%u", m->id,
            m->run_id, att);
        return;
    }
    srv = redact_server(m->req.server ? m->req.server
            : m->req.host             ? m->req.host
                                      : "");
    log_ios(LOG_ERR,
        "%%HA_EM-3-FMPD_SMTP: Error occurred when sending "
        "mail to SMTP server: %s : %s",
        srv ? srv : "", res->message[0] ? res->message : res->klass);
    free(srv);
    if (strcmp(o->state, "dead") == 0) {
        atomic_fetch_add(&ob->dead, 1);
        log_warn("outbox",
            "event=dead id=%lld run=%lld attempts=%u "
            "class=%s permanent=%d reason=\"%s\"",
            m->id, m->run_id, att, res->klass, res->permanent, res->message);
    } else {
        atomic_fetch_add(&ob->deferred, 1);
        log_info("outbox",
            "event=deferred id=%lld attempts=%u class=%s "
            "retry_in_s=%lld reason=\"%s\"",
            m->id, att, res->klass, (o->next - o->now) / 1000, res->message);
    }
}

/* Records n outcomes, in one transaction: one WAL write for a batch. A
 * sent message loses its secrets. */
static void
ob_record(struct eng_outbox *ob, struct ob_outcome *o, unsigned n)
{
    struct eng_ob_outcome w[OB_BATCH] = { 0 };
    char                 *tr[OB_BATCH] = { 0 };
    unsigned              i, tries = 0;

    for (i = 0; i < n; i++) {
        const struct smtp_result *res = &o[i].res;

        ob_outcome_state(ob, &o[i]);
        if (o[i].trace != NULL)
            tr[i] = cJSON_PrintUnformatted(o[i].trace);
        memset(&w[i], 0, sizeof(w[i]));
        w[i].id = o[i].m->id;
        w[i].sent = o[i].ok;
        w[i].state = o[i].state;
        w[i].attempts = o[i].m->attempts + 1;
        w[i].now_ms = o[i].now;
        w[i].next_ms = o[i].next;
        w[i].klass = res->klass[0] ? res->klass : "internal";
        w[i].code = res->code;
        w[i].message = o[i].ok ? res->reply : res->message;
        w[i].advice = o[i].ok ? NULL : res->advice;
        w[i].permanent = res->permanent;
        w[i].failed = o[i].failed;
        w[i].req = o[i].scrubbed;
        w[i].trace = tr[i];
    }
    do
        eng_store_ob_record(ob->db, w, n);
    while (ob_write_again(ob, "outcome", &tries));
    for (i = 0; i < n; i++) {
        ob_outcome_log(ob, &o[i]);
        free(o[i].scrubbed);
        free(tr[i]);
    }
}

/* Adds a copy of every member of src to the object dst (either may be
 * NULL). */
static void
ob_trace_copy(cJSON *dst, const cJSON *src)
{
    const cJSON *it;
    cJSON       *c;

    if (dst == NULL || src == NULL)
        return;
    cJSON_ArrayForEach(it, src) if ((c = cJSON_Duplicate(it, 1)) != NULL)
        cJSON_AddItemToObject(dst, it->string, c);
}

static void
ob_sess_close(struct eng_outbox *ob, struct ob_sess *s)
{
    if (s->h != NULL)
        ob->t.close(ob->t.ud, s->h);
    s->h = NULL;
    free(s->skey);
    s->skey = NULL;
    cJSON_Delete(s->otrace);
    s->otrace = NULL;
}

/* Makes s a session for m: the open one if it goes to m's destination and
 * is still usable, else a new one, whose open's trace (server, TLS, EHLO,
 * AUTH) trace (may be NULL) receives. The session keeps its own open
 * trace, which the transport writes to until it is closed. Errors: the
 * open's, with res filled. */
static int
ob_sess_ready(struct eng_outbox *ob, struct ob_sess *s, struct ob_msg *m,
    cJSON *trace, struct smtp_result *res)
{
    int rc;

    if (s->h != NULL
        && (strcmp(s->skey, m->skey) != 0 || !ob->t.usable(ob->t.ud, s->h)))
        ob_sess_close(ob, s);
    if (s->h != NULL)
        return 0;
    cJSON_Delete(s->otrace);
    s->otrace = trace != NULL ? cJSON_CreateObject() : NULL;
    rc = ob->t.open(ob->t.ud, &m->req, &s->h, s->otrace, res);
    ob_trace_copy(trace, s->otrace);
    if (rc != 0) {
        s->h = NULL;
        cJSON_Delete(s->otrace);
        s->otrace = NULL;
        return rc;
    }
    s->skey = strdup(m->skey);
    return 0;
}

/* A failed attempt's result gets a class and a message if it has none.
 * Returns its error (never 0). */
static int
ob_failed(struct smtp_result *res, int rc)
{
    if (res->rc == 0)
        res->rc = rc;
    if (res->klass[0] == '\0')
        snprintf(res->klass, sizeof(res->klass), "internal");
    if (res->message[0] == '\0')
        snprintf(res->message, sizeof(res->message), "delivery failed (%s)",
            err_name(rc));
    return rc ? rc : ERR_INTERNAL;
}

/* One attempt for m over session s (opened or reused, ob_sess_ready). 0 if
 * sent. trace (may be NULL) receives the attempt's trace: the session's
 * open when this attempt opened it, then the transaction. */
static int
ob_attempt(struct eng_outbox *ob, struct ob_sess *s, struct ob_msg *m,
    cJSON *trace, struct smtp_result *res)
{
    int rc;

    memset(res, 0, sizeof(*res));
    if ((rc = ob_sess_ready(ob, s, m, trace, res)) != 0)
        return ob_failed(res, rc);
    /* a NULL trace would send to the open's trace: the session's own */
    rc = ob->t.send(ob->t.ud, s->h, &m->req, trace, res);
    s->last_used = clock_mono();
    if (rc != 0 && !ob->t.usable(ob->t.ud, s->h))
        ob_sess_close(ob, s);
    return rc == 0 ? 0 : ob_failed(res, rc);
}

/* Attempts o[0..n) (n <= OB_BATCH) over s with the transport's batch send,
 * which carries a message's content in one write with the next one's
 * envelope: each message its own outcome and trace, as one ob_attempt
 * each would give, o[0]'s trace with the open when s was opened for it.
 * Returns how many were attempted (at least 1); the rest were not sent
 * because the session broke (s is closed then). */
static unsigned
ob_attempt_batch(struct eng_outbox *ob, struct ob_sess *s, struct ob_outcome *o,
    unsigned n)
{
    const struct eng_mail_req *reqs[OB_BATCH];
    cJSON                     *traces[OB_BATCH];
    struct smtp_result         res[OB_BATCH];
    size_t                     k, i;
    int                        rc;

    memset(&o[0].res, 0, sizeof(o[0].res));
    if ((rc = ob_sess_ready(ob, s, o[0].m, o[0].trace, &o[0].res)) != 0) {
        ob_failed(&o[0].res, rc);
        o[0].ok = 0;
        return 1;
    }
    for (i = 0; i < n; i++) {
        reqs[i] = &o[i].m->req;
        traces[i] = o[i].trace;
    }
    k = ob->t.send_batch(ob->t.ud, s->h, reqs, n, traces, res);
    s->last_used = clock_mono();
    if (k == 0) /* never expected: one at a time then */
        k = 1, o[0].ok = ob_attempt(ob, s, o[0].m, o[0].trace, &o[0].res) == 0;
    else
        for (i = 0; i < k && i < n; i++) {
            o[i].res = res[i];
            o[i].ok = res[i].rc == 0;
            if (!o[i].ok)
                ob_failed(&o[i].res, res[i].rc);
        }
    if (s->h != NULL && !ob->t.usable(ob->t.ud, s->h))
        ob_sess_close(ob, s);
    return k < n ? (unsigned)k : n;
}

int
eng_outbox_deliver_now(struct eng_outbox *ob, long long id, cJSON *trace,
    struct smtp_result *res)
{
    struct ob_sess    s = { 0 };
    struct ob_outcome o;
    int               rc;

    memset(res, 0, sizeof(*res));
    memset(&o, 0, sizeof(o));
    if ((o.m = ob_claim_held(ob, id)) == NULL) {
        snprintf(res->klass, sizeof(res->klass), "internal");
        snprintf(res->message, sizeof(res->message),
            "message %lld is no longer queued", id);
        return ERR_NOTFOUND;
    }
    o.trace = cJSON_CreateObject();
    rc = ob_attempt(ob, &s, o.m, o.trace, &o.res);
    ob_sess_close(ob, &s);
    o.ok = rc == 0;
    ob_record(ob, &o, 1);
    ob_trace_copy(trace, o.trace);
    cJSON_Delete(o.trace);
    *res = o.res;
    ob_msg_free(o.m);
    return rc;
}

static long long
ob_earliest(struct eng_outbox *ob)
{
    return eng_store_ob_earliest(ob->db);
}

static int
ob_stopping(struct eng_outbox *ob)
{
    int stop;

    pthread_mutex_lock(&ob->mu);
    stop = ob->stop;
    pthread_mutex_unlock(&ob->mu);
    return stop;
}

/* Senders of destination skey now (under mu). */
static unsigned
ob_slot_count(const struct eng_outbox *ob, const char *skey)
{
    size_t i;

    for (i = 0; i < ob->nslots; i++)
        if (strcmp(ob->slots[i].skey, skey) == 0)
            return ob->slots[i].n;
    return 0;
}

/* Sets up the waiter of a sender just started in slot i (under mu).
 * fresh: started for no message in particular (struct ob_waiter). */
static void
ob_started_locked(struct eng_outbox *ob, unsigned i, int fresh)
{
    ob->waiters[i].idle = 0;
    ob->waiters[i].fresh = fresh;
    ob->waiters[i].slot = NULL;
}

static void
ob_start_failed(struct eng_outbox *ob, int rc)
{
    log_warn("outbox",
        "event=sender_start_failed live=%u error=\"%s\" "
        "note=\"the running senders take the mail\"",
        thr_set_live(&ob->senders), strerror(rc));
}

/* Starts a sender (under mu), unless stopping or o.senders run already;
 * a slot whose thread ended is joined first (it holds no lock on its way
 * out). fresh: as for ob_started_locked. Returns 1 if one was started. */
static int
ob_spawn_locked(struct eng_outbox *ob, int fresh)
{
    unsigned i;
    int      rc;

    if (ob->waiters == NULL)
        return 0;
    if ((rc = thr_set_start(&ob->senders, &i)) != 0) {
        if (rc != EBUSY && rc != ECANCELED)
            ob_start_failed(ob, rc);
        return 0;
    }
    ob_started_locked(ob, i, fresh);
    return 1;
}

/* 1 if a sender sleeps and has not been woken yet, or is fresh (under
 * mu). */
static int
ob_any_idle_locked(const struct eng_outbox *ob)
{
    unsigned i;

    for (i = 0; i < ob->o.senders; i++)
        if (ob->waiters[i].idle || ob->waiters[i].fresh)
            return 1;
    return 0;
}

/*
 * Work for destination skey arrived (under mu): wakes the sender that
 * will take it. That is an idle sender holding skey's session; else, while
 * skey has a free slot, an idle sender holding none, or (spawn: a put) a
 * new sender, or any idle one, which leaves its own destination. When
 * every slot of skey is held by a busy sender, nobody: a busy sender
 * claims again before it sleeps, and gen tells one that was looking for
 * work when this arrived to look again. No message waits for a sender
 * that is not there: a sender ends only under mu with gen unchanged since
 * it last looked, so a put after that finds it gone and starts one.
 */
static void
ob_wake_locked(struct eng_outbox *ob, const char *skey, int spawn)
{
    struct ob_waiter *w, *holder = NULL, *free_one = NULL, *any = NULL;
    unsigned          i;

    ob->gen++;
    for (i = 0; ob->waiters != NULL && i < ob->o.senders && holder == NULL;
         i++) {
        w = &ob->waiters[i];
        if (w->fresh && free_one == NULL)
            free_one = w;
        if (!w->idle)
            continue;
        if (w->slot != NULL && strcmp(w->slot, skey) == 0)
            holder = w;
        else if (w->slot == NULL && free_one == NULL)
            free_one = w;
        else if (any == NULL)
            any = w;
    }
    if (holder == NULL && ob_slot_count(ob, skey) < ob->o.dest_sessions) {
        if (free_one != NULL)
            holder = free_one;
        else if (!spawn || !ob_spawn_locked(ob, 0))
            holder = any;
    }
    if (holder != NULL) {
        holder->idle = 0; /* the next arrival wakes another */
        holder->fresh = 0;
        pthread_cond_signal(&holder->cv);
    }
}

static void
ob_wake(struct eng_outbox *ob, const char *skey)
{
    pthread_mutex_lock(&ob->mu);
    ob_wake_locked(ob, skey, 1);
    pthread_mutex_unlock(&ob->mu);
}

/* Wakes every sender (stop, a re-sent message). Under mu. */
static void
ob_wake_all_locked(struct eng_outbox *ob)
{
    unsigned i;

    ob->gen++;
    for (i = 0; ob->waiters != NULL && i < ob->o.senders; i++) {
        ob->waiters[i].idle = 0;
        pthread_cond_signal(&ob->waiters[i].cv);
    }
}

/* Wakes one idle sender, if any (under mu). */
static void
ob_wake_any_locked(struct eng_outbox *ob)
{
    unsigned i;

    for (i = 0; i < ob->o.senders; i++)
        if (ob->waiters[i].idle) {
            ob->waiters[i].idle = 0;
            pthread_cond_signal(&ob->waiters[i].cv);
            return;
        }
}

/* Takes a slot of destination skey (1), or 0 when the destination already
 * occupies dest_sessions senders (or memory ran out). */
static int
ob_slot_take(struct eng_outbox *ob, const char *skey)
{
    struct ob_slot *v;
    size_t          i;
    int             ok = 0;

    pthread_mutex_lock(&ob->mu);
    for (i = 0; i < ob->nslots && strcmp(ob->slots[i].skey, skey) != 0; i++)
        ;
    if (i < ob->nslots) {
        if ((ok = ob->slots[i].n < ob->o.dest_sessions))
            ob->slots[i].n++;
    } else if ((v = realloc(ob->slots, (ob->nslots + 1) * sizeof(*v)))
        != NULL) {
        ob->slots = v;
        if ((v[ob->nslots].skey = strdup(skey)) != NULL) {
            v[ob->nslots++].n = 1;
            ok = 1;
        }
    }
    pthread_mutex_unlock(&ob->mu);
    return ok;
}

static void
ob_slot_give(struct eng_outbox *ob, const char *skey)
{
    size_t i;

    pthread_mutex_lock(&ob->mu);
    for (i = 0; i < ob->nslots; i++) {
        if (strcmp(ob->slots[i].skey, skey) != 0)
            continue;
        if (--ob->slots[i].n == 0) {
            free(ob->slots[i].skey);
            ob->slots[i] = ob->slots[--ob->nslots];
        }
        break;
    }
    /* the destination may have due mail that a sender without one can
     * take now (the sender giving it back looks again itself: no new
     * one) */
    ob_wake_locked(ob, skey, 0);
    pthread_mutex_unlock(&ob->mu);
}

/* Gives back the slot s holds, if any. */
static void
ob_slot_drop(struct eng_outbox *ob, struct ob_sess *s)
{
    if (s->slot == NULL)
        return;
    ob_slot_give(ob, s->slot);
    free(s->slot);
    s->slot = NULL;
}

/* Claims a batch for the destination due earliest among those with a free
 * slot, other than the one s holds (tried already), and moves s there. */
static unsigned
ob_claim_next(struct eng_outbox *ob, struct ob_sess *s, long long now,
    struct ob_msg **m)
{
    char    *keys[16];
    unsigned nk, i, n = 0;

    nk = eng_store_ob_due_keys(ob->db, now, 16, keys);
    for (i = 0; i < nk && n == 0; i++) {
        if (s->slot != NULL && strcmp(s->slot, keys[i]) == 0)
            continue;
        if (!ob_slot_take(ob, keys[i]))
            continue;
        if ((n = ob_claim_due(ob, keys[i], now, OB_BATCH, m)) == 0) {
            ob_slot_give(ob, keys[i]);
            continue;
        }
        ob_sess_close(ob, s);
        ob_slot_drop(ob, s);
        s->slot = keys[i];
        keys[i] = NULL;
    }
    for (i = 0; i < nk; i++)
        free(keys[i]);
    return n;
}

/* A shared database: 1 if claims may be made now (it answers, and has
 * for OB_REJOIN_MS). SQLite: 1. */
static int
ob_may_claim(struct eng_outbox *ob, long long now)
{
    long long down;

    if (!ob->shared)
        return 1;
    if (eng_store_ready(ob->db, NULL) != 1) {
        atomic_store(&ob->down_ms, now);
        return 0;
    }
    down = atomic_load(&ob->down_ms);
    return down == 0 || now - down >= OB_REJOIN_MS;
}

/* Claims a batch of due messages, those for the open session first, and
 * attempts them over s. Returns how many were claimed (0: none due). */
static unsigned
ob_step(struct eng_outbox *ob, struct ob_sess *s, long long now)
{
    struct ob_msg    *m[OB_BATCH];
    struct ob_outcome o[OB_BATCH];
    unsigned          n = 0, i, k;

    if (!ob_may_claim(ob, now))
        return 0;

    if (s->h != NULL && s->slot != NULL)
        n = ob_claim_due(ob, s->skey, now, OB_BATCH, m);
    if (n == 0)
        n = ob_claim_next(ob, s, now, m);
    for (i = 0; i < n; i++) {
        memset(&o[i], 0, sizeof(o[i]));
        o[i].m = m[i];
        o[i].trace = cJSON_CreateObject();
    }
    for (i = 0; i < n;) {
        unsigned step = 1;

        if (i > 0 && ob_stopping(ob)) {
            ob_release(ob, m + i, n - i);
            break;
        }
        if (ob->t.send_batch != NULL && n - i > 1)
            step = ob_attempt_batch(ob, s, o + i, n - i);
        else
            o[i].ok = ob_attempt(ob, s, m[i], o[i].trace, &o[i].res) == 0;
        i += step;
        if (s->h == NULL && i < n) {
            /* no session (a failure closed it): the rest would wait for
             * the same failure, or were not sent when it broke; they go
             * back to the queue untried and are claimed afresh */
            ob_release(ob, m + i, n - i);
            break;
        }
    }
    /* the outcomes of a batch are written together: a crash before that
     * sends them again (delivery is at least once) */
    ob_record(ob, o, i);
    for (k = 0; k < n; k++)
        cJSON_Delete(o[k].trace);
    for (i = 0; i < n; i++)
        ob_msg_free(m[i]);
    if (s->h == NULL) /* no session kept open: the slot is free again */
        ob_slot_drop(ob, s);
    return n;
}

int
eng_outbox_run_due(struct eng_outbox *ob, long long now_ms)
{
    struct ob_sess s = { 0 };
    int            n = 0;
    unsigned       k;

    while (n < 100000 && (k = ob_step(ob, &s, now_ms)) > 0)
        n += (int)k;
    ob_sess_close(ob, &s);
    ob_slot_drop(ob, &s);
    return n;
}

/* How long a sender that found nothing to claim sleeps: until the earliest
 * retry is due, at most idle_close while it holds a session. When mail is
 * due but every destination it could take is at its slot limit, it waits
 * to be woken (a put, a slot given back), looking again after a second.
 * The earliest retry goes to *next (0: none, or not known). */
static double
ob_idle_wait(struct eng_outbox *ob, const struct ob_sess *s, long long now,
    long long *next_out)
{
    long long next;
    double    wait;

    *next_out = 0;
    /* a shared database that cannot be reached: look again in a second
     * without asking it (every sender would log the failure) */
    if (ob->shared && eng_store_ready(ob->db, NULL) != 1)
        return OB_SHARED_WAIT;
    next = *next_out = ob_earliest(ob);
    wait = next > 0 ? (double)(next - now) / 1000.0 : 60.0;

    if (next > 0 && next <= now)
        wait = 1.0;
    if (s->h != NULL && wait > ob->o.idle_close)
        wait = ob->o.idle_close;
    if (ob->shared && wait > OB_SHARED_WAIT)
        wait = OB_SHARED_WAIT;
    if (wait < 0.05)
        wait = 0.05;
    if (wait > 60)
        wait = 60;
    return wait;
}

/* The sender in slot self ends (under mu). */
static void
ob_leave_locked(struct eng_outbox *ob, unsigned self)
{
    thr_set_leave(&ob->senders, self);
    ob->waiters[self].fresh = 0; /* nobody counts on it */
    log_debug("outbox", "event=sender_end live=%u", thr_set_live(&ob->senders));
    /* an idle sender joins this one (thr_set_reap); with none left,
     * eng_outbox_tick does */
    ob_wake_any_locked(ob);
}

/* A sender: claims and sends until nothing is due, then sleeps until
 * woken, the earliest retry or its session's idle_close; ends once it has
 * had no session and no work for idle_close seconds and nothing is due
 * within idle_close (the header of ob_waiter). */
static void
ob_main(void *arg, unsigned slot)
{
    struct eng_outbox *ob = arg;
    struct ob_waiter  *w = &ob->waiters[slot];
    struct ob_sess     s = { 0 };
    unsigned long long gen;
    long long          now, next;
    double             wait, left, busy_at = clock_mono();
    unsigned           n;

    pthread_mutex_lock(&ob->mu);
    while (!ob->stop) {
        gen = ob->gen;
        pthread_mutex_unlock(&ob->mu);
        now = clock_now_ms();
        if ((n = ob_step(ob, &s, now)) > 0) {
            busy_at = clock_mono();
            pthread_mutex_lock(&ob->mu);
            /* a full batch: more is probably due for a destination with
             * a free slot, and nobody idle to take it */
            if (n == OB_BATCH && s.slot != NULL
                && ob_slot_count(ob, s.slot) < ob->o.dest_sessions
                && !ob_any_idle_locked(ob))
                ob_spawn_locked(ob, 1);
            w->fresh = 0;
            continue;
        }
        if (s.h != NULL && clock_mono() - s.last_used >= ob->o.idle_close) {
            ob_sess_close(ob, &s);
            ob_slot_drop(ob, &s);
        }
        wait = ob_idle_wait(ob, &s, now, &next);
        pthread_mutex_lock(&ob->mu);
        if (ob->stop || ob->gen != gen)
            continue; /* work arrived while this sender looked */
        thr_set_reap(&ob->senders);
        /* no session, and no retry due within idle_close (it sleeps until
         * one that is, and takes it) */
        if (s.h == NULL
            && (next <= 0
                || next - clock_now_ms()
                    >= (long long)(ob->o.idle_close * 1000))) {
            /* gen has not moved since this sender found nothing: what
             * arrives from now on wakes or starts another */
            if ((left = ob->o.idle_close - (clock_mono() - busy_at)) <= 0) {
                ob_leave_locked(ob, slot);
                break;
            }
            if (wait > left)
                wait = left;
        }
        /* an idle session closes idle_close after its last use, not up to
         * idle_close after the sender last woke (then this sender may end
         * too) */
        if (s.h != NULL
            && wait > (left = ob->o.idle_close - (clock_mono() - s.last_used)))
            wait = left > 0.05 ? left : 0.05;
        w->slot = s.h != NULL ? s.slot : NULL;
        w->idle = 1;
        w->fresh = 0;
        thr_cond_wait_s(&w->cv, &ob->mu, wait);
        w->idle = 0;
        w->slot = NULL;
    }
    pthread_mutex_unlock(&ob->mu);
    ob_sess_close(ob, &s);
    ob_slot_drop(ob, &s);
}

void
eng_outbox_tick(struct eng_outbox *ob, long long now_ms)
{
    long long next;
    int       none;

    if (ob == NULL)
        return;
    pthread_mutex_lock(&ob->mu);
    none = ob->waiters != NULL && !ob->stop;
    if (none) {
        thr_set_reap(&ob->senders); /* the last one to end */
        none = thr_set_live(&ob->senders) == 0;
    }
    pthread_mutex_unlock(&ob->mu);
    if (!none)
        return; /* a live sender looks for due mail itself */
    if (ob->shared && eng_store_ready(ob->db, NULL) != 1)
        return;
    if ((next = ob_earliest(ob)) <= 0 || next > now_ms)
        return;
    pthread_mutex_lock(&ob->mu);
    /* a put may have started one meanwhile */
    if (!ob->stop && thr_set_live(&ob->senders) == 0 && ob_spawn_locked(ob, 1))
        log_debug("outbox", "event=sender_start reason=due live=1");
    pthread_mutex_unlock(&ob->mu);
}

/* ---- lifecycle ---------------------------------------------------------- */

int
eng_outbox_new(struct eng_store *db, const struct eng_outbox_transport *t,
    const struct eng_outbox_opts *o, struct eng_outbox **out, struct errbuf *eb)
{
    struct eng_outbox *ob;

    *out = NULL;
    if ((ob = calloc(1, sizeof(*ob))) == NULL)
        return err_set(eb, ERR_NOMEM, "nomem", "out of memory");
    ob->db = db;
    ob->shared = eng_store_shared(db);
    ob->t = *t;
    ob->o = *o;
    if (ob->o.lifetime <= 0)
        ob->o.lifetime = 86400;
    if (ob->o.base_delay <= 0)
        ob->o.base_delay = 30;
    if (ob->o.max_delay <= 0)
        ob->o.max_delay = 3600;
    if (ob->o.idle_close <= 0)
        ob->o.idle_close = 10;
    if (ob->o.dest_sessions == 0)
        ob->o.dest_sessions = ob->o.senders / 2 > 0 ? ob->o.senders / 2 : 1;
    pthread_mutex_init(&ob->mu, NULL);
    *out = ob;
    return 0;
}

int
eng_outbox_start(struct eng_outbox *ob, struct errbuf *eb)
{
    long long next;
    unsigned  i;
    int       resumed = 0, started;

    resumed = eng_store_ob_resume(ob->db);
    if (resumed > 0)
        log_warn("outbox",
            "event=resume interrupted=%d note=\"messages "
            "being sent at the last stop are sent again\"",
            resumed);
    if (ob->o.senders == 0)
        return 0;
    if (thr_set_init(&ob->senders, ob->o.senders, "herald-send", ob_main, ob)
        != 0)
        return err_set(eb, ERR_NOMEM, "nomem", "out of memory");
    if ((ob->waiters = calloc(ob->o.senders, sizeof(*ob->waiters))) == NULL) {
        thr_set_fini(&ob->senders);
        return err_set(eb, ERR_NOMEM, "nomem", "out of memory");
    }
    for (i = 0; i < ob->o.senders; i++)
        pthread_cond_init(&ob->waiters[i].cv, NULL);
    /* a sender now only if mail is due (resumed, retries whose time
     * came); puts and eng_outbox_tick start them later */
    if (ob->shared && eng_store_ready(ob->db, NULL) != 1)
        return 0;
    if ((next = ob_earliest(ob)) <= 0 || next > clock_now_ms())
        return 0;
    pthread_mutex_lock(&ob->mu);
    started = ob_spawn_locked(ob, 1);
    pthread_mutex_unlock(&ob->mu);
    if (!started)
        return err_set(eb, ERR_INTERNAL, "thread",
            "cannot start mail sender thread");
    return 0;
}

void
eng_outbox_free(struct eng_outbox *ob)
{
    unsigned i;

    if (ob == NULL)
        return;
    pthread_mutex_lock(&ob->mu);
    ob->stop = 1;
    thr_set_close(&ob->senders);
    if (ob->waiters != NULL)
        ob_wake_all_locked(ob);
    pthread_mutex_unlock(&ob->mu);
    /* closed: no sender is started or joined but here */
    thr_set_fini(&ob->senders);
    for (i = 0; ob->waiters != NULL && i < ob->o.senders; i++)
        pthread_cond_destroy(&ob->waiters[i].cv);
    free(ob->waiters);
    while (ob->nslots > 0)
        free(ob->slots[--ob->nslots].skey);
    free(ob->slots);
    pthread_mutex_destroy(&ob->mu);
    free(ob);
}

/* ---- listing and re-sending -------------------------------------------- */

static const char *const ob_states[] = { "queued", "sending", "sent", "dead",
    NULL };

/* A Message object (docs: eng_runtime_outbox_list) for a stored message;
 * the password is neither copied nor left in memory. NULL: no memory. */
static cJSON *
ob_item_json(const struct eng_ob_item *it)
{
    struct eng_mail_req r;
    cJSON              *o, *req, *le;
    char                t[40], *masked;

    if ((o = cJSON_CreateObject()) == NULL)
        return NULL;
    cJSON_AddNumberToObject(o, "id", (double)it->id);
    if (!it->has_run)
        cJSON_AddNullToObject(o, "run_id");
    else
        cJSON_AddNumberToObject(o, "run_id", (double)it->run_id);
    cJSON_AddStringToObject(o, "applet", it->applet ? it->applet : "");
    cJSON_AddStringToObject(o, "state", it->state);
    req = cJSON_Parse(it->req);
    ob_req_view(req, &r);
    masked = redact_server(r.server);
    if (masked != NULL)
        cJSON_AddStringToObject(o, "server", masked);
    else
        cJSON_AddNullToObject(o, "server");
    free(masked);
    if (r.host)
        cJSON_AddStringToObject(o, "host", r.host);
    if (r.port)
        cJSON_AddNumberToObject(o, "port", r.port);
    cJSON_AddStringToObject(o, "from", r.from ? r.from : "");
    cJSON_AddStringToObject(o, "to", r.to ? r.to : "");
    cJSON_AddStringToObject(o, "cc", r.cc ? r.cc : "");
    cJSON_AddStringToObject(o, "subject", r.subject ? r.subject : "");
    ob_json_free(req);
    cJSON_AddNumberToObject(o, "attempts", it->attempts);
    clock_time_fmt(it->created_ms, t, sizeof(t));
    cJSON_AddStringToObject(o, "created", t);
    clock_time_fmt(it->next_ms, t, sizeof(t));
    cJSON_AddStringToObject(o, "next_attempt", t);
    clock_time_fmt(it->expires_ms, t, sizeof(t));
    cJSON_AddStringToObject(o, "expires", t);
    if (it->sent_ms != 0) {
        clock_time_fmt(it->sent_ms, t, sizeof(t));
        cJSON_AddStringToObject(o, "sent", t);
    }
    if (!it->has_last_error) {
        cJSON_AddNullToObject(o, "last_error");
    } else {
        le = cJSON_AddObjectToObject(o, "last_error");
        cJSON_AddStringToObject(le, "klass", it->last_klass);
        cJSON_AddNumberToObject(le, "code", it->last_code);
        cJSON_AddStringToObject(le, "message",
            it->last_message ? it->last_message : "");
        cJSON_AddBoolToObject(le, "permanent", it->last_permanent);
    }
    return o;
}

int
eng_outbox_list(struct eng_outbox *ob, const char *state, cJSON **out,
    struct errbuf *eb)
{
    struct eng_ob_item *v = NULL;
    cJSON              *res, *items, *o;
    size_t              n = 0, k;
    int                 i, ok, rc;

    *out = NULL;
    if (state != NULL && *state != '\0') {
        for (i = 0, ok = 0; ob_states[i]; i++)
            ok |= strcmp(ob_states[i], state) == 0;
        if (!ok)
            return err_field(eb, ERR_INVAL, "state", "invalid_field",
                "state \"%s\" is not one of queued, sending, sent, dead",
                state);
    } else {
        state = NULL;
    }
    if ((res = cJSON_CreateObject()) == NULL
        || (items = cJSON_AddArrayToObject(res, "items")) == NULL) {
        cJSON_Delete(res);
        return err_set(eb, ERR_NOMEM, "nomem", "out of memory");
    }
    if ((rc = eng_store_ob_list(ob->db, state, &v, &n, eb)) != 0) {
        cJSON_Delete(res);
        return rc;
    }
    for (k = 0; k < n; k++) {
        if ((o = ob_item_json(&v[k])) == NULL)
            break;
        cJSON_AddItemToArray(items, o);
    }
    eng_ob_items_free(v, n);
    *out = res;
    return 0;
}

/* For a message that lost its password: the request with the credentials
 * of the current environment, and its session key (new strings). */
static int
ob_renew(struct eng_outbox *ob, long long id, cJSON *j, char **req, char **skey,
    struct errbuf *eb)
{
    struct eng_mail_req r;
    const char         *src = js_str(j, "server_source");
    char               *srv = NULL;
    int                 rc;

    if (src == NULL || ob->t.credentials == NULL)
        return err_set(eb, ERR_EXISTS, "credentials_gone",
            "message %lld no longer holds its password (a sent or dead "
            "message keeps none) and its server did not come from an "
            "applet's environment: run the applet or the mail test again",
            id);
    if ((rc = ob->t.credentials(ob->t.ud, src, &srv, eb)) != 0)
        return rc;
    cJSON_DeleteItemFromObjectCaseSensitive(j, "scrubbed");
    if (!cJSON_ReplaceItemInObjectCaseSensitive(j, "server",
            cJSON_CreateString(srv))) {
        sec_free_str(srv);
        return err_set(eb, ERR_NOMEM, "nomem", "out of memory");
    }
    sec_free_str(srv);
    ob_req_view(j, &r);
    *req = cJSON_PrintUnformatted(j);
    *skey = ob_skey(&r);
    if (*req == NULL || *skey == NULL)
        return err_set(eb, ERR_NOMEM, "nomem", "out of memory");
    return 0;
}

int
eng_outbox_resend(struct eng_outbox *ob, long long id, int *renewed,
    struct errbuf *eb)
{
    long long now = clock_now_ms();
    char     *old = NULL, *req = NULL, *skey = NULL, state[16];
    cJSON    *j = NULL;
    int       rc, renew = 0;

    if (renewed != NULL)
        *renewed = 0;
    if ((rc = eng_store_ob_req(ob->db, id, &old)) == ERR_NOTFOUND)
        return err_set(eb, ERR_NOTFOUND, "not_found",
            "no outbox message with id %lld", id);
    if (rc != 0)
        return err_set(eb, rc, "db_error", "cannot read message %lld", id);
    /* only a message that may be re-sent is renewed; requeue names the
     * state of any other */
    if (eng_store_ob_state(ob->db, id, state, sizeof(state), NULL, NULL) == 0
        && (strcmp(state, "dead") == 0 || strcmp(state, "queued") == 0)
        && (j = cJSON_Parse(old)) != NULL
        && cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(j, "scrubbed"))) {
        renew = 1;
        if ((rc = ob_renew(ob, id, j, &req, &skey, eb)) != 0)
            goto out;
    }
    rc = eng_store_ob_requeue(ob->db, id, now,
        now + (long long)(ob->o.lifetime * 1000), req, skey, eb);
    if (rc == 0) {
        if (renewed != NULL)
            *renewed = renew;
        log_info("outbox", "event=resend id=%lld credentials=%s", id,
            renew ? "environment" : "kept");
        pthread_mutex_lock(&ob->mu);
        ob_wake_all_locked(ob);
        /* none live (all ended, as when idle): one for this message */
        if (ob->waiters != NULL && thr_set_live(&ob->senders) == 0)
            ob_spawn_locked(ob, 1);
        pthread_mutex_unlock(&ob->mu);
    }
out:
    ob_json_free(j);
    sec_free_str(old);
    sec_free_str(req);
    free(skey);
    return rc;
}

/* ---- one message and its attempts --------------------------------------- */

/* The state a reader is shown: a queued message that was attempted is
 * "retrying". */
static const char *
ob_shown_state(const char *state, unsigned attempts)
{
    return strcmp(state, "queued") == 0 && attempts > 0 ? "retrying" : state;
}

/* A stored trace (JSON text) as a new item; null when there is none. */
static cJSON *
ob_trace_json(const char *text)
{
    cJSON *j = text != NULL ? cJSON_Parse(text) : NULL;

    return j != NULL ? j : cJSON_CreateNull();
}

/* {klass, code, message, advice, permanent} of an attempt. */
static cJSON *
ob_result_json(const struct eng_ob_attempt *a)
{
    cJSON *r = cJSON_CreateObject();

    if (r == NULL)
        return NULL;
    if (a->klass != NULL)
        cJSON_AddStringToObject(r, "klass", a->klass);
    else
        cJSON_AddNullToObject(r, "klass");
    cJSON_AddNumberToObject(r, "code", a->code);
    cJSON_AddStringToObject(r, "message", a->message ? a->message : "");
    if (a->advice != NULL)
        cJSON_AddStringToObject(r, "advice", a->advice);
    else
        cJSON_AddNullToObject(r, "advice");
    cJSON_AddBoolToObject(r, "permanent", a->permanent);
    return r;
}

int
eng_outbox_get(struct eng_outbox *ob, long long id, cJSON **out,
    struct errbuf *eb)
{
    struct eng_ob_item     it;
    struct eng_ob_attempt *a = NULL;
    size_t                 n = 0, k;
    cJSON                 *o, *arr, *e;
    char                   t[40];
    int                    rc;

    *out = NULL;
    if ((rc = eng_store_ob_get(ob->db, id, &it, eb)) != 0)
        return rc;
    if ((rc = eng_store_ob_attempts(ob->db, id, 0, &a, &n, eb)) != 0) {
        eng_ob_item_clear(&it);
        return rc;
    }
    /* "attempts" is the list here; the count moves to attempt_count */
    if ((o = ob_item_json(&it)) == NULL
        || (arr = cJSON_CreateArray()) == NULL) {
        rc = err_set(eb, ERR_NOMEM, "nomem", "out of memory");
        goto out;
    }
    cJSON_ReplaceItemInObjectCaseSensitive(o, "attempts", arr);
    cJSON_AddNumberToObject(o, "attempt_count", it.attempts);
    cJSON_AddBoolToObject(o, "failed", it.failed);
    for (k = 0; k < n; k++) {
        if ((e = cJSON_CreateObject()) == NULL)
            break;
        cJSON_AddItemToArray(arr, e);
        cJSON_AddNumberToObject(e, "n", a[k].n);
        clock_time_fmt(a[k].at_ms, t, sizeof(t));
        cJSON_AddStringToObject(e, "at", t);
        cJSON_AddBoolToObject(e, "ok", a[k].ok);
        cJSON_AddItemToObject(e, "result", ob_result_json(&a[k]));
        cJSON_AddItemToObject(e, "trace", ob_trace_json(a[k].trace));
    }
    *out = o;
    o = NULL;
out:
    cJSON_Delete(o);
    eng_ob_attempts_free(a, n);
    eng_ob_item_clear(&it);
    return rc;
}

int
eng_outbox_delivery(struct eng_outbox *ob, long long id, cJSON **out,
    struct errbuf *eb)
{
    struct eng_ob_item     it;
    struct eng_ob_attempt *a = NULL;
    size_t                 n = 0;
    cJSON                 *o, *le;
    int                    rc;

    *out = NULL;
    if ((rc = eng_store_ob_get(ob->db, id, &it, eb)) != 0)
        return rc;
    if ((rc = eng_store_ob_attempts(ob->db, id, 1, &a, &n, eb)) != 0) {
        eng_ob_item_clear(&it);
        return rc;
    }
    if ((o = cJSON_CreateObject()) == NULL) {
        rc = err_set(eb, ERR_NOMEM, "nomem", "out of memory");
        goto out;
    }
    cJSON_AddNumberToObject(o, "outbox_id", (double)id);
    cJSON_AddStringToObject(o, "state", ob_shown_state(it.state, it.attempts));
    cJSON_AddNumberToObject(o, "attempts", it.attempts);
    if (n > 0 && !a[0].ok) {
        le = cJSON_AddObjectToObject(o, "last_error");
        cJSON_AddStringToObject(le, "klass", a[0].klass ? a[0].klass : "");
        cJSON_AddStringToObject(le, "message",
            a[0].message ? a[0].message : "");
        if (a[0].advice != NULL)
            cJSON_AddStringToObject(le, "advice", a[0].advice);
        else
            cJSON_AddNullToObject(le, "advice");
        cJSON_AddBoolToObject(le, "permanent", a[0].permanent);
    } else if (n == 0 && it.has_last_error) {
        /* a message attempted before attempts were recorded */
        le = cJSON_AddObjectToObject(o, "last_error");
        cJSON_AddStringToObject(le, "klass", it.last_klass);
        cJSON_AddStringToObject(le, "message",
            it.last_message ? it.last_message : "");
        cJSON_AddNullToObject(le, "advice");
        cJSON_AddBoolToObject(le, "permanent", it.last_permanent);
    } else {
        cJSON_AddNullToObject(o, "last_error");
    }
    cJSON_AddBoolToObject(o, "failed", it.failed);
    cJSON_AddItemToObject(o, "trace", ob_trace_json(n > 0 ? a[0].trace : NULL));
    *out = o;
out:
    eng_ob_attempts_free(a, n);
    eng_ob_item_clear(&it);
    return rc;
}

int
eng_outbox_state(struct eng_outbox *ob, long long id, char *state, size_t n,
    unsigned *attempts, long long *next_ms)
{
    return eng_store_ob_state(ob->db, id, state, n, attempts, next_ms);
}

void
eng_outbox_counts(struct eng_outbox *ob, long long *sent, long long *deferred,
    long long *dead, long long *queued)
{
    if (sent)
        *sent = atomic_load(&ob->sent);
    if (deferred)
        *deferred = atomic_load(&ob->deferred);
    if (dead)
        *dead = atomic_load(&ob->dead);
    if (queued)
        *queued = eng_store_ob_pending(ob->db);
}

unsigned
eng_outbox_senders(struct eng_outbox *ob)
{
    unsigned n;

    pthread_mutex_lock(&ob->mu);
    n = thr_set_live(&ob->senders);
    pthread_mutex_unlock(&ob->mu);
    return n;
}
