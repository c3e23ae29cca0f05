/* SPDX-License-Identifier: MIT */
/*
 * tests/unit/outbox/test_outbox.c: the durable mail outbox with a fake
 * SMTP transport — the retry schedule (exponential backoff with bounded
 * jitter), permanent failures and lifetime expiry going to dead-letter,
 * re-sending, several messages over one session, and resuming queued and
 * interrupted messages after the database is closed and reopened; the
 * sender threads started by mail and ended when idle, without a message
 * left behind.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <pthread.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "engine/mail/mail.h"
#include "common/clock.h"
#include "engine/outbox/outbox.h"
#include "engine/store/store_int.h"

struct fake {
    int  opens, sends, closes;
    int  fail_left; /* fail this many sends */
    int  permanent;
    int  batches;     /* batch sends (a transport with send_batch) */
    int  break_after; /* the session breaks after this many sends */
    int  broken;
    char fail_to[64]; /* messages to this address are refused (550) */
    char last_server[96];
    char last_to[64];
    char last_credential[64];
};

static int
f_open(void *ud, const struct eng_mail_req *req, void **sess, cJSON *trace,
    struct smtp_result *res)
{
    struct fake *f = ud;

    (void)req;
    (void)trace;
    (void)res;
    f->opens++;
    f->broken = 0;
    *sess = f;
    return 0;
}

static int
f_send(void *ud, void *sess, const struct eng_mail_req *req, cJSON *trace,
    struct smtp_result *res)
{
    struct fake *f = ud;

    (void)sess;
    (void)trace;
    f->sends++;
    snprintf(f->last_server, sizeof(f->last_server), "%s",
        req->server ? req->server : "");
    snprintf(f->last_to, sizeof(f->last_to), "%s", req->to ? req->to : "");
    snprintf(f->last_credential, sizeof(f->last_credential), "%s",
        req->credential ? req->credential : "");
    if (trace != NULL)
        cJSON_AddStringToObject(trace, "sent_to", req->to ? req->to : "");
    if (f->fail_left > 0
        || (f->fail_to[0] && req->to != NULL
            && strcmp(req->to, f->fail_to) == 0)) {
        if (f->fail_left > 0)
            f->fail_left--;
        res->rc = ERR_REJECTED;
        res->code = f->permanent ? 550 : 451;
        res->permanent = f->permanent;
        snprintf(res->klass, sizeof(res->klass), "data_rejected");
        snprintf(res->message, sizeof(res->message), "server said %d",
            res->code);
        return ERR_REJECTED;
    }
    res->code = 250;
    return 0;
}

static int
f_usable(void *ud, void *sess)
{
    (void)ud;
    return sess != NULL;
}

/* A transport with a batch send: f_send for each message, as the real one
 * gives each its own result and trace. With break_after, the session
 * breaks when that many were sent: the message in flight fails (connect)
 * and the rest are not sent. */
static size_t
fb_send_batch(void *ud, void *sess, const struct eng_mail_req *const *reqs,
    size_t n, cJSON *const *traces, struct smtp_result *res)
{
    struct fake *f = ud;
    size_t       i;

    f->batches++;
    for (i = 0; i < n; i++) {
        memset(&res[i], 0, sizeof(res[i]));
        if (f->break_after > 0 && f->sends == f->break_after) {
            f->break_after = 0;
            f->broken = 1;
            res[i].rc = ERR_CONNECT;
            snprintf(res[i].klass, sizeof(res[i].klass), "connect");
            snprintf(res[i].message, sizeof(res[i].message),
                "the server closed the connection");
            return i + 1;
        }
        f_send(ud, sess, reqs[i], traces[i], &res[i]);
    }
    return n;
}

static int
fb_usable(void *ud, void *sess)
{
    struct fake *f = ud;

    return sess != NULL && !f->broken;
}

static void
f_close(void *ud, void *sess)
{
    struct fake *f = ud;

    (void)sess;
    f->closes++;
}

/* The environment a resend takes credentials from: $_email_server holds a
 * new password by then; any other source is not in it. */
static int
f_credentials(void *ud, const char *source, char **server, struct errbuf *eb)
{
    (void)ud;
    if (strcmp(source, "$_email_server") != 0)
        return err_set(eb, ERR_EXISTS, "credentials_gone",
            "not in the "
            "environment: %s",
            source);
    *server = strdup("relay@corp.example:n3wpass@smtp.example.com");
    return *server != NULL ? 0 : ERR_NOMEM;
}

struct env {
    char              *dir;
    struct eng_store  *db;
    struct eng_outbox *ob;
    struct fake        f;
    int                batch; /* the transport has a batch send */
};

/* Whether any stored request holds s (read on the store's connection). */
static int
stored_anywhere(struct env *e, const char *s)
{
    sqlite3_stmt *st;
    int           n;

    assert_int_equal(sqlite3_prepare_v2(e->db->db,
                         "SELECT COUNT(*) FROM "
                         "outbox WHERE instr(req, ?) > 0",
                         -1, &st, NULL),
        SQLITE_OK);
    sqlite3_bind_text(st, 1, s, -1, SQLITE_STATIC);
    assert_int_equal(sqlite3_step(st), SQLITE_ROW);
    n = sqlite3_column_int(st, 0);
    sqlite3_finalize(st);
    return n;
}

static void
env_open(struct env *e, double lifetime)
{
    struct eng_outbox_transport t = { f_open, f_send, f_usable, f_close, &e->f,
        f_credentials, NULL };
    struct eng_outbox_opts      o = { lifetime, 30, 3600, 10, 0, 0 };
    struct errbuf               eb = { 0 };

    if (e->batch) {
        t.send_batch = fb_send_batch;
        t.usable = fb_usable;
    }
    if (eng_store_open(e->dir, &e->db, &eb) != 0)
        fail_msg("open: %s", eb.msg);
    assert_int_equal(eng_outbox_new(e->db, &t, &o, &e->ob, &eb), 0);
    assert_int_equal(eng_outbox_start(e->ob, &eb), 0);
}

static void
env_close(struct env *e)
{
    eng_outbox_free(e->ob);
    eng_store_close(e->db);
    e->ob = NULL;
    e->db = NULL;
}

static int
setup(void **state)
{
    struct env *e = calloc(1, sizeof(*e));
    char        tmpl[] = "/tmp/herald-outbox-XXXXXX";

    e->dir = strdup(mkdtemp(tmpl));
    env_open(e, 86400);
    *state = e;
    return 0;
}

static int
teardown(void **state)
{
    struct env *e = *state;
    char        cmd[256];

    if (e->ob != NULL)
        env_close(e);
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", e->dir);
    if (system(cmd) != 0)
        return -1;
    free(e->dir);
    free(e);
    return 0;
}

static long long
put(struct env *e, const char *to)
{
    struct eng_mail_req r = { 0 };
    struct errbuf       eb = { 0 };
    long long           id = 0;

    r.server = "relay@corp.example:pa55word@smtp.example.com";
    r.server_source = "$_email_server";
    r.port = 587;
    r.secure = "tls";
    r.to = to;
    r.from = "alerts@example.com";
    r.subject = "s";
    r.body = "b";
    assert_int_equal(eng_outbox_put(e->ob, 7, "A", &r, 0, &id, &eb), 0);
    assert_true(id > 0);
    return id;
}

/* ---- isolation: real sender threads and a server that hangs ---------- */

/* A transport whose sends to "stuck.example" wait until the test opens the
 * gate, like a server that drips its replies until the deadline. */
struct gate {
    pthread_mutex_t mu;
    pthread_cond_t  cv;
    int             open;
    int             stuck_waiting, fast_sent, stuck_sent;
};

static int
g_open(void *ud, const struct eng_mail_req *req, void **sess, cJSON *trace,
    struct smtp_result *res)
{
    (void)req;
    (void)trace;
    (void)res;
    *sess = ud;
    return 0;
}

static int
g_send(void *ud, void *sess, const struct eng_mail_req *req, cJSON *trace,
    struct smtp_result *res)
{
    struct gate *g = ud;

    (void)sess;
    (void)trace;
    pthread_mutex_lock(&g->mu);
    if (strstr(req->server, "stuck.example") != NULL) {
        g->stuck_waiting++;
        pthread_cond_broadcast(&g->cv);
        while (!g->open)
            pthread_cond_wait(&g->cv, &g->mu);
        g->stuck_waiting--;
        g->stuck_sent++;
    } else {
        g->fast_sent++;
    }
    pthread_cond_broadcast(&g->cv);
    pthread_mutex_unlock(&g->mu);
    res->code = 250;
    return 0;
}

static void
g_close(void *ud, void *sess)
{
    (void)ud;
    (void)sess;
}

/* Returns the message's id. */
static long long
g_put(struct eng_outbox *ob, const char *server)
{
    struct eng_mail_req r = { 0 };
    struct errbuf       eb = { 0 };
    long long           id = 0;

    r.server = server;
    r.to = "noc@example.com";
    r.from = "alerts@example.com";
    r.subject = "s";
    r.body = "b";
    assert_int_equal(eng_outbox_put(ob, 0, "A", &r, 0, &id, &eb), 0);
    return id;
}

/* Issue 11: 16 messages to a server that dripped its replies held a message
 * to a healthy server for 22 s, every sender being stuck on the first. */
static void
a_stuck_destination_should_not_hold_the_others(void **state)
{
    struct gate                 g = { .open = 0 };
    struct eng_outbox_transport t = { g_open, g_send, f_usable, g_close, &g,
        NULL, NULL };
    struct eng_outbox_opts      o = { 86400, 30, 3600, 10, 4, 0 };
    struct eng_store           *db = NULL;
    struct eng_outbox          *ob = NULL;
    struct errbuf               eb = { 0 };
    struct timespec             ts;
    char                        tmpl[] = "/tmp/herald-obiso-XXXXXX", cmd[64];
    char                       *dir = mkdtemp(tmpl);
    int                         i, fast;

    (void)state;
    pthread_mutex_init(&g.mu, NULL);
    pthread_cond_init(&g.cv, NULL);
    assert_int_equal(eng_store_open(dir, &db, &eb), 0);
    assert_int_equal(eng_outbox_new(db, &t, &o, &ob, &eb), 0);
    assert_int_equal(eng_outbox_start(ob, &eb), 0);
    /* one at a time, so that each wakes a sender of its own */
    for (i = 0; i < 8; i++) {
        g_put(ob, "u:pw@stuck.example");
        nanosleep(&(struct timespec){ 0, 20 * 1000 * 1000 }, NULL);
    }
    g_put(ob, "u:pw@fast.example");
    /* the healthy destination is served while the stuck one still hangs */
    clock_gettime(CLOCK_REALTIME, &ts);
    ts.tv_sec += 10;
    pthread_mutex_lock(&g.mu);
    while (g.fast_sent == 0 && pthread_cond_timedwait(&g.cv, &g.mu, &ts) == 0)
        ;
    fast = g.fast_sent;
    /* 4 senders: the stuck destination may occupy only half of them */
    assert_int_equal(g.stuck_waiting, 2);
    assert_int_equal(g.stuck_sent, 0);
    g.open = 1;
    pthread_cond_broadcast(&g.cv);
    pthread_mutex_unlock(&g.mu);
    assert_int_equal(fast, 1);
    /* and once the server answers, everything is delivered */
    clock_gettime(CLOCK_REALTIME, &ts);
    ts.tv_sec += 10;
    pthread_mutex_lock(&g.mu);
    while (g.stuck_sent < 8 && pthread_cond_timedwait(&g.cv, &g.mu, &ts) == 0)
        ;
    assert_int_equal(g.stuck_sent, 8);
    pthread_mutex_unlock(&g.mu);
    eng_outbox_free(ob);
    eng_store_close(db);
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
    assert_int_equal(system(cmd), 0);
}

/* ---- elastic senders: started by mail, ended when idle ------------------ */

/* A transport whose sends wait while the gate is shut (hold), counting
 * them; safe for any number of sender threads. */
struct turnstile {
    pthread_mutex_t mu;
    pthread_cond_t  cv;
    int             hold;
    int             waiting, sent;
    int             fail_left; /* refuse this many sends (451) */
    int             failed;
};

static int
t_send(void *ud, void *sess, const struct eng_mail_req *req, cJSON *trace,
    struct smtp_result *res)
{
    struct turnstile *g = ud;

    (void)sess;
    (void)req;
    (void)trace;
    pthread_mutex_lock(&g->mu);
    if (g->fail_left > 0) {
        g->fail_left--;
        g->failed++;
        pthread_cond_broadcast(&g->cv);
        pthread_mutex_unlock(&g->mu);
        res->rc = ERR_REJECTED;
        res->code = 451;
        snprintf(res->klass, sizeof(res->klass), "data_rejected");
        snprintf(res->message, sizeof(res->message), "server said 451");
        return ERR_REJECTED;
    }
    g->waiting++;
    pthread_cond_broadcast(&g->cv);
    while (g->hold)
        pthread_cond_wait(&g->cv, &g->mu);
    g->waiting--;
    g->sent++;
    pthread_cond_broadcast(&g->cv);
    pthread_mutex_unlock(&g->mu);
    res->code = 250;
    return 0;
}

/* Waits (at most 10 s) until *v (under g->mu) reaches want. */
static int
t_wait(struct turnstile *g, const int *v, int want)
{
    struct timespec ts;

    clock_gettime(CLOCK_REALTIME, &ts);
    ts.tv_sec += 10;
    pthread_mutex_lock(&g->mu);
    while (*v < want && pthread_cond_timedwait(&g->cv, &g->mu, &ts) == 0)
        ;
    want = *v;
    pthread_mutex_unlock(&g->mu);
    return want;
}

static void
t_open_gate(struct turnstile *g)
{
    pthread_mutex_lock(&g->mu);
    g->hold = 0;
    pthread_cond_broadcast(&g->cv);
    pthread_mutex_unlock(&g->mu);
}

/* Waits (at most 10 s) until the outbox runs want senders. */
static unsigned
senders_become(struct eng_outbox *ob, unsigned want)
{
    unsigned n = 0;
    int      i;

    for (i = 0; i < 1000 && (n = eng_outbox_senders(ob)) != want; i++)
        nanosleep(&(struct timespec){ 0, 10 * 1000 * 1000 }, NULL);
    return n;
}

struct elastic {
    struct turnstile   g;
    char              *dir;
    struct eng_store  *db;
    struct eng_outbox *ob;
};

/* On the heap, and freed by elastic_close(e, 1) only: a failed assertion
 * leaves its senders running, which must not point into a dead stack. */
static struct elastic *
elastic_new(int hold)
{
    struct elastic *e = calloc(1, sizeof(*e));
    char            tmpl[] = "/tmp/herald-obela-XXXXXX";

    assert_non_null(e);
    pthread_mutex_init(&e->g.mu, NULL);
    pthread_cond_init(&e->g.cv, NULL);
    e->g.hold = hold;
    e->dir = strdup(mkdtemp(tmpl));
    return e;
}

/* base_delay: the first retry's delay (30 s unless a test needs it due
 * soon). */
static void
elastic_open_retry(struct elastic *e, unsigned senders, double idle_close,
    double base_delay)
{
    struct eng_outbox_transport t = { g_open, t_send, f_usable, g_close, &e->g,
        NULL, NULL };
    struct eng_outbox_opts o = { 86400, base_delay, 3600, idle_close, senders,
        senders };
    struct errbuf          eb = { 0 };

    assert_int_equal(eng_store_open(e->dir, &e->db, &eb), 0);
    assert_int_equal(eng_outbox_new(e->db, &t, &o, &e->ob, &eb), 0);
    assert_int_equal(eng_outbox_start(e->ob, &eb), 0);
}

static void
elastic_open(struct elastic *e, unsigned senders, double idle_close)
{
    elastic_open_retry(e, senders, idle_close, 30);
}

static void
elastic_close(struct elastic *e, int remove)
{
    char cmd[64];

    eng_outbox_free(e->ob);
    eng_store_close(e->db);
    e->ob = NULL;
    e->db = NULL;
    if (remove) {
        snprintf(cmd, sizeof(cmd), "rm -rf '%s'", e->dir);
        assert_int_equal(system(cmd), 0);
        free(e->dir);
        free(e);
    }
}

/* An outbox with no mail due runs no sender from the start; mail that
 * finds every sender busy (or none) starts one, up to the limit; once the
 * burst is over and their sessions closed, they all end, and the next
 * message starts one again. */
static void
senders_should_start_with_mail_and_end_when_idle(void **state)
{
    struct elastic *e = elastic_new(1);
    int             i;

    (void)state;
    elastic_open(e, 4, 0.2);
    assert_int_equal(eng_outbox_senders(e->ob), 0);
    /* each message holds its sender in the transport: the next one finds
     * them all busy */
    for (i = 1; i <= 4; i++) {
        g_put(e->ob, "u:pw@relay.example");
        assert_int_equal(t_wait(&e->g, &e->g.waiting, i), i);
        assert_int_equal(eng_outbox_senders(e->ob), (unsigned)i);
    }
    /* at the limit: queued for the busy ones */
    g_put(e->ob, "u:pw@relay.example");
    g_put(e->ob, "u:pw@relay.example");
    assert_int_equal(eng_outbox_senders(e->ob), 4);
    t_open_gate(&e->g);
    assert_int_equal(t_wait(&e->g, &e->g.sent, 6), 6);
    assert_int_equal(senders_become(e->ob, 0), 0);
    /* none left: the next message starts one, which delivers and ends */
    g_put(e->ob, "u:pw@relay.example");
    assert_int_equal(t_wait(&e->g, &e->g.sent, 7), 7);
    assert_int_equal(senders_become(e->ob, 0), 0);
    elastic_close(e, 1);
}

/* Waits (at most 10 s) until the outbox holds no queued message. */
static long long
queued_become_zero(struct eng_outbox *ob)
{
    long long q = -1;
    int       i;

    for (i = 0; i < 1000; i++) {
        eng_outbox_counts(ob, NULL, NULL, NULL, &q);
        if (q == 0)
            break;
        nanosleep(&(struct timespec){ 0, 10 * 1000 * 1000 }, NULL);
    }
    return q;
}

/* With no sender live, mail that no put announced (a retry whose time
 * came, a message another instance queued) waits for eng_outbox_tick,
 * which starts a sender for it; with nothing due the tick starts none. */
static void
tick_should_start_a_sender_for_due_mail_when_none_runs(void **state)
{
    struct elastic   *e = elastic_new(0);
    struct eng_ob_new m = { 0 };
    struct errbuf     eb = { 0 };
    const char       *req = "{\"server\":\"u:pw@relay.example\","
                            "\"to\":\"noc@example.com\","
                            "\"from\":\"alerts@example.com\","
                            "\"subject\":\"s\",\"body\":\"b\"}";
    long long         id, next = 0, now;
    unsigned          att = 0;
    char              st[16];

    (void)state;
    /* retries 0.4-0.6 s after a failure; senders idle after 50 ms */
    elastic_open_retry(e, 2, 0.05, 0.5);
    assert_int_equal(senders_become(e->ob, 0), 0);
    eng_outbox_tick(e->ob, clock_now_ms()); /* nothing due: none */
    assert_int_equal(eng_outbox_senders(e->ob), 0);
    e->g.fail_left = 1;
    id = g_put(e->ob, "u:pw@relay.example");
    assert_int_equal(t_wait(&e->g, &e->g.failed, 1), 1);
    /* the retry is further off than idle_close: the sender ends */
    assert_int_equal(senders_become(e->ob, 0), 0);
    assert_int_equal(eng_outbox_state(e->ob, id, st, sizeof(st), &att, &next),
        0);
    assert_string_equal(st, "queued");
    assert_int_equal(att, 1);
    while ((now = clock_now_ms()) < next + 300)
        nanosleep(&(struct timespec){ 0, 20 * 1000 * 1000 }, NULL);
    /* due, and nobody to take it until the tick */
    assert_int_equal(eng_outbox_senders(e->ob), 0);
    pthread_mutex_lock(&e->g.mu);
    assert_int_equal(e->g.sent, 0);
    pthread_mutex_unlock(&e->g.mu);
    eng_outbox_tick(e->ob, clock_now_ms());
    assert_int_equal(t_wait(&e->g, &e->g.sent, 1), 1);
    assert_int_equal(queued_become_zero(e->ob), 0);
    assert_int_equal(senders_become(e->ob, 0), 0);
    /* a message stored behind the outbox's back (as another instance
     * does on a shared database): the next tick starts a sender */
    m.applet = "A";
    m.skey = "other-instance";
    m.req = req;
    m.now_ms = clock_now_ms();
    m.expires_ms = m.now_ms + 86400 * 1000LL;
    assert_int_equal(eng_store_ob_put(e->db, &m, NULL, &eb), 0);
    nanosleep(&(struct timespec){ 0, 100 * 1000 * 1000 }, NULL);
    pthread_mutex_lock(&e->g.mu);
    assert_int_equal(e->g.sent, 1);
    pthread_mutex_unlock(&e->g.mu);
    eng_outbox_tick(e->ob, clock_now_ms());
    assert_int_equal(t_wait(&e->g, &e->g.sent, 2), 2);
    assert_int_equal(queued_become_zero(e->ob), 0);
    assert_int_equal(senders_become(e->ob, 0), 0);
    elastic_close(e, 1);
}

/* A sender idle for idle_close does not end while a retry is due within
 * idle_close: it sleeps until the retry and sends it, with no tick. */
static void
sender_should_stay_for_a_retry_due_within_idle_close(void **state)
{
    struct elastic *e = elastic_new(0);

    (void)state;
    /* retries 0.32-0.48 s after a failure; idle_close 0.3 s: when it has
     * been idle that long, the retry is at most 0.18 s away */
    elastic_open_retry(e, 2, 0.3, 0.4);
    e->g.fail_left = 1;
    g_put(e->ob, "u:pw@relay.example");
    assert_int_equal(t_wait(&e->g, &e->g.failed, 1), 1);
    /* had it ended, nothing would send the retry (no tick here) */
    assert_int_equal(t_wait(&e->g, &e->g.sent, 1), 1);
    assert_int_equal(queued_become_zero(e->ob), 0);
    assert_int_equal(senders_become(e->ob, 0), 0);
    elastic_close(e, 1);
}

/* Senders end as soon as they are idle (idle_close 10 ms) while messages
 * keep coming, one or a few at a time at varying gaps: a message put as
 * a sender decides to end is still delivered, by another or a new one. */
static void
no_message_should_wait_for_a_sender_that_ended(void **state)
{
    struct elastic *e = elastic_new(0);
    long long       queued = -1;
    int             i, k, n = 0;

    (void)state;
    elastic_open(e, 3, 0.01);
    for (i = 0; i < 150; i++) {
        for (k = 0; k <= i % 3; k++, n++)
            g_put(e->ob, i % 2 ? "u:pw@a.example" : "u:pw@b.example");
        nanosleep(&(struct timespec){ 0, (i % 7) * 4 * 1000 * 1000 }, NULL);
    }
    assert_int_equal(t_wait(&e->g, &e->g.sent, n), n);
    eng_outbox_counts(e->ob, NULL, NULL, NULL, &queued);
    assert_int_equal(queued, 0);
    /* and once the messages stop, no sender is left */
    assert_int_equal(senders_become(e->ob, 0), 0);
    elastic_close(e, 1);
}

/* Stopping while a burst is starting senders: every sender is joined
 * (eng_outbox_free returns), and no message is lost: what was not sent is
 * queued again and sent after a restart. */
static void
stop_should_join_senders_that_are_starting(void **state)
{
    struct elastic *e = elastic_new(0);
    int             round, i, n = 0;

    (void)state;
    for (round = 0; round < 5; round++) {
        elastic_open(e, 8, 10);
        for (i = 0; i < 12; i++, n++)
            g_put(e->ob, i % 2 ? "u:pw@a.example" : "u:pw@b.example");
        elastic_close(e, 0);
    }
    elastic_open(e, 8, 10);
    assert_int_equal(t_wait(&e->g, &e->g.sent, n), n);
    elastic_close(e, 1);
}

static void
backoff_should_double_up_to_the_cap_within_jitter(void **state)
{
    double d;

    (void)state;
    assert_true(eng_outbox_backoff(1, 30, 3600, 0.5) == 30);
    assert_true(eng_outbox_backoff(2, 30, 3600, 0.5) == 60);
    assert_true(eng_outbox_backoff(3, 30, 3600, 0.5) == 120);
    assert_true(eng_outbox_backoff(20, 30, 3600, 0.5) == 3600);
    d = eng_outbox_backoff(2, 30, 3600, 0.0);
    assert_true(d >= 48 && d <= 48.0001);
    d = eng_outbox_backoff(2, 30, 3600, 0.9999);
    assert_true(d > 71.9 && d < 72);
}

static void
temporary_failures_should_be_retried_on_schedule(void **state)
{
    struct env *e = *state;
    char        st[16];
    unsigned    att = 0;
    long long   id, next = 0, t0;

    id = put(e, "noc@example.com");
    t0 = clock_now_ms();
    e->f.fail_left = 2;
    assert_int_equal(eng_outbox_run_due(e->ob, t0), 1);
    assert_int_equal(eng_outbox_state(e->ob, id, st, sizeof(st), &att, &next),
        0);
    assert_string_equal(st, "queued");
    assert_int_equal(att, 1);
    /* first retry 30 s +-20 % later */
    assert_true(next - t0 >= 24000 && next - t0 <= 36000 + 1000);
    /* not due before that */
    assert_int_equal(eng_outbox_run_due(e->ob, next - 1), 0);
    assert_int_equal(eng_outbox_run_due(e->ob, next), 1);
    t0 = clock_now_ms();
    assert_int_equal(eng_outbox_state(e->ob, id, st, sizeof(st), &att, &next),
        0);
    assert_int_equal(att, 2);
    assert_true(next - t0 >= 48000 - 100 && next - t0 <= 72000 + 100);
    assert_int_equal(eng_outbox_run_due(e->ob, next), 1);
    assert_int_equal(eng_outbox_state(e->ob, id, st, sizeof(st), &att, NULL),
        0);
    assert_string_equal(st, "sent");
    assert_int_equal(att, 3);
    /* the stored request still had the password for the server */
    assert_string_equal(e->f.last_server,
        "relay@corp.example:pa55word@smtp.example.com");
}

static void
permanent_failure_should_dead_letter_and_resend_should_requeue(void **state)
{
    struct env   *e = *state;
    struct errbuf eb = { 0 };
    cJSON        *list = NULL, *it;
    char         *txt, st[16];
    long long     id;
    int           renewed = 0;

    id = put(e, "nobody@example.com");
    e->f.fail_left = 1;
    e->f.permanent = 1;
    assert_int_equal(eng_outbox_run_due(e->ob, clock_now_ms()), 1);
    assert_int_equal(eng_outbox_state(e->ob, id, st, sizeof(st), NULL, NULL),
        0);
    assert_string_equal(st, "dead");
    /* listed with the reason, password masked */
    assert_int_equal(eng_outbox_list(e->ob, "dead", &list, &eb), 0);
    it = cJSON_GetArrayItem(cJSON_GetObjectItem(list, "items"), 0);
    assert_non_null(it);
    assert_string_equal(cJSON_GetObjectItem(it, "server")->valuestring,
        "relay@corp.example:*****@smtp.example.com");
    assert_string_equal(cJSON_GetObjectItem(cJSON_GetObjectItem(it,
                                                "last_error"),
                            "klass")
                            ->valuestring,
        "data_rejected");
    txt = cJSON_PrintUnformatted(list);
    assert_null(strstr(txt, "pa55word"));
    free(txt);
    cJSON_Delete(list);
    assert_int_equal(eng_outbox_list(e->ob, "lost", &list, &eb), ERR_INVAL);
    assert_non_null(strstr(eb.msg, "queued, sending, sent, dead"));
    /* a dead row keeps no password (issue 11) */
    assert_int_equal(stored_anywhere(e, "pa55word"), 0);
    /* re-send: the credentials come from the environment again, and the
     * message is delivered this time */
    assert_int_equal(eng_outbox_resend(e->ob, id, &renewed, &eb), 0);
    assert_int_equal(renewed, 1);
    assert_int_equal(eng_outbox_run_due(e->ob, clock_now_ms()), 1);
    assert_string_equal(e->f.last_server,
        "relay@corp.example:n3wpass@smtp.example.com");
    assert_int_equal(stored_anywhere(e, "n3wpass"), 0);
    assert_int_equal(eng_outbox_state(e->ob, id, st, sizeof(st), NULL, NULL),
        0);
    assert_string_equal(st, "sent");
    assert_int_equal(eng_outbox_resend(e->ob, id, NULL, &eb), ERR_INVAL);
    assert_non_null(strstr(eb.msg, "is sent"));
    assert_int_equal(eng_outbox_resend(e->ob, 9999, NULL, &eb), ERR_NOTFOUND);
}

static void
resend_without_an_environment_source_should_say_why(void **state)
{
    struct env         *e = *state;
    struct eng_mail_req r = { 0 };
    struct errbuf       eb = { 0 };
    long long           id = 0;
    char                st[16];

    r.server = "relay@corp.example:pa55word@smtp.example.com";
    r.server_source = "$copy"; /* a local of the run, gone by now */
    r.to = "nobody@example.com";
    r.from = "alerts@example.com";
    assert_int_equal(eng_outbox_put(e->ob, 7, "A", &r, 0, &id, &eb), 0);
    e->f.fail_left = 1;
    e->f.permanent = 1;
    assert_int_equal(eng_outbox_run_due(e->ob, clock_now_ms()), 1);
    assert_int_equal(eng_outbox_resend(e->ob, id, NULL, &eb), ERR_EXISTS);
    assert_non_null(strstr(eb.msg, "$copy"));
    /* and nothing changed */
    assert_int_equal(eng_outbox_state(e->ob, id, st, sizeof(st), NULL, NULL),
        0);
    assert_string_equal(st, "dead");
}

/* An OAuth 2.0 credential (issue 13) is kept by name: the row holds no
 * token or password, so a dead message is re-sent as it was (the session
 * fetches a token again), without taking anything from the
 * environment. */
static void
credential_message_should_resend_as_it_was(void **state)
{
    struct env         *e = *state;
    struct eng_mail_req r = { 0 };
    struct errbuf       eb = { 0 };
    long long           id = 0;
    int                 renewed = -1;
    char                st[16];

    r.server = "alerts@example.com@smtp.office365.com";
    r.credential = "M365";
    r.to = "nobody@example.com";
    r.from = "alerts@example.com";
    assert_int_equal(eng_outbox_put(e->ob, 8, "A", &r, 0, &id, &eb), 0);
    e->f.fail_left = 1;
    e->f.permanent = 1;
    assert_int_equal(eng_outbox_run_due(e->ob, clock_now_ms()), 1);
    assert_string_equal(e->f.last_credential, "M365");
    assert_int_equal(eng_outbox_state(e->ob, id, st, sizeof(st), NULL, NULL),
        0);
    assert_string_equal(st, "dead");
    assert_int_equal(eng_outbox_resend(e->ob, id, &renewed, &eb), 0);
    assert_int_equal(renewed, 0);
    e->f.last_credential[0] = '\0';
    assert_int_equal(eng_outbox_run_due(e->ob, clock_now_ms()), 1);
    assert_string_equal(e->f.last_credential, "M365");
    assert_string_equal(e->f.last_server,
        "alerts@example.com@smtp.office365.com");
    assert_int_equal(eng_outbox_state(e->ob, id, st, sizeof(st), NULL, NULL),
        0);
    assert_string_equal(st, "sent");
}

static void
lifetime_over_should_dead_letter_a_temporary_failure(void **state)
{
    struct env *e = *state;
    char        st[16];
    long long   id;

    env_close(e);
    env_open(e, 10); /* 10 s lifetime < first 30 s retry */
    id = put(e, "noc@example.com");
    e->f.fail_left = 1;
    assert_int_equal(eng_outbox_run_due(e->ob, clock_now_ms()), 1);
    assert_int_equal(eng_outbox_state(e->ob, id, st, sizeof(st), NULL, NULL),
        0);
    assert_string_equal(st, "dead");
}

static void
messages_to_one_server_should_share_a_session(void **state)
{
    struct env *e = *state;

    put(e, "a@example.com");
    put(e, "b@example.com");
    put(e, "c@example.com");
    assert_int_equal(eng_outbox_run_due(e->ob, clock_now_ms()), 3);
    assert_int_equal(e->f.opens, 1);
    assert_int_equal(e->f.sends, 3);
    assert_int_equal(e->f.closes, 1);
}

static int
setup_batch(void **state)
{
    struct env *e;

    setup(state);
    e = *state;
    env_close(e);
    e->batch = 1;
    env_open(e, 86400);
    return 0;
}

/* The trace stored with message id's only attempt. */
static char *
attempt_trace(struct env *e, long long id)
{
    cJSON        *m = NULL, *a;
    struct errbuf eb = { 0 };
    char         *s;

    assert_int_equal(eng_outbox_get(e->ob, id, &m, &eb), 0);
    a = cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(m, "attempts"), 0);
    s = cJSON_PrintUnformatted(cJSON_GetObjectItemCaseSensitive(a, "trace"));
    cJSON_Delete(m);
    return s;
}

/* A claimed batch goes to the transport's batch send in one call, and
 * each message is recorded with its own outcome and trace: a refused one
 * does not touch the others. */
static void
batch_send_should_give_each_message_its_own_outcome(void **state)
{
    struct env *e = *state;
    long long   a, b, c;
    char        st[16], *ta, *tc;

    snprintf(e->f.fail_to, sizeof(e->f.fail_to), "b@example.com");
    e->f.permanent = 1;
    a = put(e, "a@example.com");
    b = put(e, "b@example.com");
    c = put(e, "c@example.com");
    assert_int_equal(eng_outbox_run_due(e->ob, clock_now_ms()), 3);
    assert_int_equal(e->f.batches, 1);
    assert_int_equal(e->f.opens, 1);
    assert_int_equal(e->f.sends, 3);
    assert_int_equal(eng_outbox_state(e->ob, a, st, sizeof(st), NULL, NULL), 0);
    assert_string_equal(st, "sent");
    assert_int_equal(eng_outbox_state(e->ob, b, st, sizeof(st), NULL, NULL), 0);
    assert_string_equal(st, "dead");
    assert_int_equal(eng_outbox_state(e->ob, c, st, sizeof(st), NULL, NULL), 0);
    assert_string_equal(st, "sent");
    ta = attempt_trace(e, a);
    tc = attempt_trace(e, c);
    assert_non_null(strstr(ta, "\"sent_to\":\"a@example.com\""));
    assert_null(strstr(ta, "c@example.com"));
    assert_non_null(strstr(tc, "\"sent_to\":\"c@example.com\""));
    assert_null(strstr(tc, "a@example.com"));
    free(ta);
    free(tc);
}

/* The session breaks in the middle of a batch: the message in flight is
 * retried later (a transport failure), and the messages not sent go back
 * to the queue untried and out over a new session at once, as they would
 * one at a time. */
static void
batch_session_break_should_send_the_rest_over_a_new_session(void **state)
{
    struct env *e = *state;
    long long   a, b, c;
    unsigned    att;
    char        st[16];

    e->f.break_after = 1;
    a = put(e, "a@example.com");
    b = put(e, "b@example.com");
    c = put(e, "c@example.com");
    /* 3 claimed, then c claimed again */
    assert_int_equal(eng_outbox_run_due(e->ob, clock_now_ms()), 4);
    assert_int_equal(e->f.opens, 2);
    assert_int_equal(eng_outbox_state(e->ob, a, st, sizeof(st), &att, NULL), 0);
    assert_string_equal(st, "sent");
    assert_int_equal(eng_outbox_state(e->ob, b, st, sizeof(st), &att, NULL), 0);
    assert_string_equal(st, "queued");
    assert_int_equal(att, 1);
    assert_int_equal(eng_outbox_state(e->ob, c, st, sizeof(st), &att, NULL), 0);
    assert_string_equal(st, "sent");
    assert_int_equal(att, 1); /* not sent the first time: no attempt */
}

static void
queued_messages_should_resume_after_reopen(void **state)
{
    struct env   *e = *state;
    char          st[16];
    long long     a, b;
    sqlite3_stmt *s;

    a = put(e, "first@example.com");
    b = put(e, "second@example.com");
    /* b was being sent when the process died */
    assert_int_equal(sqlite3_exec(e->db->db,
                         "UPDATE outbox SET "
                         "state='sending' WHERE id=(SELECT MAX(id) FROM "
                         "outbox)",
                         NULL, NULL, NULL),
        SQLITE_OK);
    env_close(e);
    memset(&e->f, 0, sizeof(e->f));
    env_open(e, 86400);
    assert_int_equal(eng_outbox_run_due(e->ob, clock_now_ms()), 2);
    assert_int_equal(eng_outbox_state(e->ob, a, st, sizeof(st), NULL, NULL), 0);
    assert_string_equal(st, "sent");
    assert_int_equal(eng_outbox_state(e->ob, b, st, sizeof(st), NULL, NULL), 0);
    assert_string_equal(st, "sent");
    /* the stored request still had the password for the server */
    assert_string_equal(e->f.last_server,
        "relay@corp.example:pa55word@smtp.example.com");
    /* once sent, the stored request no longer holds the password (read
     * on the store's connection: it holds the database exclusively) */
    assert_int_equal(sqlite3_prepare_v2(e->db->db,
                         "SELECT COUNT(*) FROM "
                         "outbox WHERE req LIKE '%pa55word%'",
                         -1, &s, NULL),
        SQLITE_OK);
    assert_int_equal(sqlite3_step(s), SQLITE_ROW);
    assert_int_equal(sqlite3_column_int(s, 0), 0);
    sqlite3_finalize(s);
}

static void
held_message_should_be_delivered_by_the_caller_only(void **state)
{
    struct env         *e = *state;
    struct eng_mail_req r = { 0 };
    struct smtp_result  res;
    struct errbuf       eb = { 0 };
    char                st[16];
    long long           id = 0;

    r.server = "smtp.example.com";
    r.to = "noc@example.com";
    r.from = "a@example.com";
    assert_int_equal(eng_outbox_put(e->ob, 1, "A", &r, 1, &id, &eb), 0);
    /* senders do not see it */
    assert_int_equal(eng_outbox_run_due(e->ob, clock_now_ms() + 1000), 0);
    assert_int_equal(e->f.sends, 0);
    assert_int_equal(eng_outbox_deliver_now(e->ob, id, NULL, &res), 0);
    assert_int_equal(e->f.sends, 1);
    assert_int_equal(eng_outbox_state(e->ob, id, st, sizeof(st), NULL, NULL),
        0);
    assert_string_equal(st, "sent");
    /* a temporary failure leaves it queued for the senders */
    assert_int_equal(eng_outbox_put(e->ob, 1, "A", &r, 1, &id, &eb), 0);
    e->f.fail_left = 1;
    assert_int_equal(eng_outbox_deliver_now(e->ob, id, NULL, &res),
        ERR_REJECTED);
    assert_false(res.permanent);
    assert_int_equal(eng_outbox_state(e->ob, id, st, sizeof(st), NULL, NULL),
        0);
    assert_string_equal(st, "queued");
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(backoff_should_double_up_to_the_cap_within_jitter),
        cmocka_unit_test(a_stuck_destination_should_not_hold_the_others),
        cmocka_unit_test(senders_should_start_with_mail_and_end_when_idle),
        cmocka_unit_test(no_message_should_wait_for_a_sender_that_ended),
        cmocka_unit_test(
            tick_should_start_a_sender_for_due_mail_when_none_runs),
        cmocka_unit_test(sender_should_stay_for_a_retry_due_within_idle_close),
        cmocka_unit_test(stop_should_join_senders_that_are_starting),
        cmocka_unit_test_setup_teardown(
            temporary_failures_should_be_retried_on_schedule, setup, teardown),
        cmocka_unit_test_setup_teardown(
            permanent_failure_should_dead_letter_and_resend_should_requeue,
            setup, teardown),
        cmocka_unit_test_setup_teardown(
            lifetime_over_should_dead_letter_a_temporary_failure, setup,
            teardown),
        cmocka_unit_test_setup_teardown(
            credential_message_should_resend_as_it_was, setup, teardown),
        cmocka_unit_test_setup_teardown(
            resend_without_an_environment_source_should_say_why, setup,
            teardown),
        cmocka_unit_test_setup_teardown(
            messages_to_one_server_should_share_a_session, setup, teardown),
        cmocka_unit_test_setup_teardown(
            queued_messages_should_resume_after_reopen, setup, teardown),
        cmocka_unit_test_setup_teardown(
            batch_send_should_give_each_message_its_own_outcome, setup_batch,
            teardown),
        cmocka_unit_test_setup_teardown(
            batch_session_break_should_send_the_rest_over_a_new_session,
            setup_batch, teardown),
        cmocka_unit_test_setup_teardown(
            held_message_should_be_delivered_by_the_caller_only, setup,
            teardown),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
