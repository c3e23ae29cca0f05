/* SPDX-License-Identifier: MIT */
/*
 * engine/store/pg.c: the PostgreSQL backend (engine/store/pg_int.h): the
 * connection and its query layer, transactions, open/close and the
 * migrations, the environment, applet, trustpoint, settings and credential
 * records, and the cluster functions (eng_store_tick and friends).
 *
 * The records behave as sqlite.c's (the reference): same errors, eb codes
 * and ordering. Writes to applets or environment bump the counter
 * "config_generation", trust changes "trust_generation", in the same
 * transaction; eng_store_tick reads both, so that a change made through
 * another instance reaches this one within a second.
 */
#include "engine/store/pg_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/clock.h"
#include "common/log.h"
#include "common/sec.h"

/* ---- readiness ------------------------------------------------------------ */

/* The statement reached the server: ready again (logged once). */
static void
pg_up(struct pg *pg)
{
    if (!pg->ready && pg->why[0] != '\0')
        log_info("store", "event=database-available where=%s", pg->where);
    pg->ready = 1;
    pg->why[0] = '\0';
}

/* The server cannot be reached: not ready, why says so (logged once). */
static void
pg_down(struct pg *pg, const char *why)
{
    size_t n = strlen(why);

    if (pg->ready || pg->why[0] == '\0')
        log_warn("store", "event=database-unavailable where=%s error=\"%s\"",
            pg->where, why);
    if (n >= sizeof(pg->why))
        n = sizeof(pg->why) - 1;
    pg->ready = 0;
    memcpy(pg->why, why, n);
    pg->why[n] = '\0';
}

/* libpq's message msg as one line into out: newlines become spaces, the
 * trailing ones go, and the connection's password, should it appear, is
 * masked. */
static void
pg_reason(PGconn *conn, const char *msg, char *out, size_t n)
{
    const char *pw = conn ? PQpass(conn) : NULL;
    size_t      pl = pw ? strlen(pw) : 0, o = 0;

    if (msg == NULL || *msg == '\0')
        msg = "unknown error";
    while (*msg != '\0' && o + 1 < n) {
        if (pl > 0 && strncmp(msg, pw, pl) == 0) {
            o += (size_t)snprintf(out + o, n - o, "***");
            if (o >= n)
                o = n - 1;
            msg += pl;
            continue;
        }
        out[o++] = (*msg == '\n' || *msg == '\r' || *msg == '\t') ? ' ' : *msg;
        msg++;
    }
    while (o > 0 && out[o - 1] == ' ')
        o--;
    out[o] = '\0';
}

/* ERR_UNAVAILABLE "database_unavailable" naming the server and libpq's
 * reason; marks the handle not ready. */
static int
pg_unavailable(struct eng_store *st, const char *msg, struct errbuf *eb)
{
    struct pg *pg = st->pg;
    char       reason[400], why[sizeof(pg->why) + sizeof(reason) + 200];

    pg_reason(pg->conn, msg, reason, sizeof(reason));
    snprintf(why, sizeof(why), "the database at %s cannot be reached: %s",
        pg->where, reason);
    pg_down(pg, why);
    return err_set(eb, ERR_UNAVAILABLE, "database_unavailable", "%s", why);
}

/* 1 if SQLSTATE state says the connection is gone: class 08 (connection
 * exception) or 57P01..57P03 (server shutting down, cannot connect now). */
static int
pg_state_gone(const char *state)
{
    if (state == NULL)
        return 0;
    return strncmp(state, "08", 2) == 0 || strcmp(state, "57P01") == 0
        || strcmp(state, "57P02") == 0 || strcmp(state, "57P03") == 0;
}

/* The first words of sql ("INSERT INTO environment"), for messages. */
static void
pg_what(const char *sql, char *out, size_t n)
{
    size_t o = 0;
    int    words = 0, sp = 0;

    while (*sql == ' ')
        sql++;
    for (; *sql != '\0' && o + 1 < n; sql++) {
        if (*sql == ' ' || *sql == '(' || *sql == '\n') {
            if (sp)
                continue;
            if (++words == 3)
                break;
            sp = 1;
            out[o++] = ' ';
        } else {
            sp = 0;
            out[o++] = *sql;
        }
    }
    while (o > 0 && out[o - 1] == ' ')
        o--;
    out[o] = '\0';
}

/* Maps a failed statement (r may be NULL) to an error (pg_query's). */
static int
pg_fail(struct eng_store *st, const char *sql, PGresult *r, struct errbuf *eb)
{
    PGconn     *conn = st->pg->conn;
    const char *state = r ? PQresultErrorField(r, PG_DIAG_SQLSTATE) : NULL;
    const char *msg = r ? PQresultErrorField(r, PG_DIAG_MESSAGE_PRIMARY) : NULL;
    char        what[48], reason[400];

    if (msg == NULL)
        msg = PQerrorMessage(conn);
    if (PQstatus(conn) != CONNECTION_OK || pg_state_gone(state))
        return pg_unavailable(st, msg, eb);
    pg_up(st->pg); /* the server answered */
    pg_what(sql, what, sizeof(what));
    pg_reason(conn, msg, reason, sizeof(reason));
    if (state != NULL && strcmp(state, "23505") == 0)
        return err_set(eb, ERR_EXISTS, "conflict",
            "database error during %s: %s", what, reason);
    if (r == NULL)
        return err_set(eb, ERR_NOMEM, "internal", "out of memory");
    return err_set(eb, ERR_DB, "database_error", "database error during %s: %s",
        what, reason);
}

/* ---- the connection ------------------------------------------------------- */

static long long
pg_mono_ms(void)
{
    return (long long)(clock_mono() * 1000.0);
}

/*
 * With the lock held, before a statement: 0 if the connection is good.
 * Outside a transaction a bad one is reset (at most once a second; a reset
 * loses the leader lock); inside one it just fails: the transaction is
 * gone with the connection. Errors: ERR_UNAVAILABLE.
 */
static int
pg_connected(struct eng_store *st, struct errbuf *eb)
{
    struct pg *pg = st->pg;
    long long  now;

    if (PQstatus(pg->conn) == CONNECTION_OK)
        return 0;
    if (st->tx_depth == 0) {
        now = pg_mono_ms();
        if (pg->reset_ms == 0 || now - pg->reset_ms >= 1000) {
            pg->reset_ms = now;
            if (pg->leader) {
                log_warn("store", "event=leader-lost where=%s", pg->where);
                pg->leader = 0;
            }
            PQreset(pg->conn);
            if (PQstatus(pg->conn) == CONNECTION_OK) {
                pg_up(pg);
                return 0;
            }
            return pg_unavailable(st, PQerrorMessage(pg->conn), eb);
        }
    }
    if (pg->why[0] != '\0' && !pg->ready)
        return err_set(eb, ERR_UNAVAILABLE, "database_unavailable", "%s",
            pg->why);
    return pg_unavailable(st, PQerrorMessage(pg->conn), eb);
}

/* ---- parameters and results (pg_int.h) ------------------------------------ */

/* The next parameter's slot; past PG_MAX_ARGS, n still counts (pg_query
 * then refuses the statement). */
static int
pg_arg_slot(struct pg_args *a)
{
    int i = a->n++;

    return i < PG_MAX_ARGS ? i : -1;
}

void
pg_arg_text(struct pg_args *a, const char *s)
{
    int i = pg_arg_slot(a);

    if (i < 0)
        return;
    a->v[i] = s;
    a->len[i] = 0;
    a->fmt[i] = 0;
}

void
pg_arg_int(struct pg_args *a, long long v)
{
    int i = pg_arg_slot(a);

    if (i < 0)
        return;
    snprintf(a->num[i], sizeof(a->num[i]), "%lld", v);
    a->v[i] = a->num[i];
    a->len[i] = 0;
    a->fmt[i] = 0;
}

void
pg_arg_blob(struct pg_args *a, const void *p, size_t n)
{
    int i = pg_arg_slot(a);

    if (i < 0)
        return;
    a->v[i] = p;
    a->len[i] = p ? (int)n : 0;
    a->fmt[i] = 1;
}

int
pg_query(struct eng_store *st, const char *sql, const struct pg_args *a,
    PGresult **res, struct errbuf *eb)
{
    PGresult      *r;
    ExecStatusType s;
    int            rc;

    if (res != NULL)
        *res = NULL;
    if (a != NULL && a->n > PG_MAX_ARGS)
        return err_set(eb, ERR_INTERNAL, "internal",
            "a statement has more than %d parameters", PG_MAX_ARGS);
    if ((rc = pg_connected(st, eb)) != 0)
        return rc;
    r = PQexecParams(st->pg->conn, sql, a ? a->n : 0, NULL, a ? a->v : NULL,
        a ? a->len : NULL, a ? a->fmt : NULL, 0);
    s = PQresultStatus(r);
    if (r != NULL && (s == PGRES_COMMAND_OK || s == PGRES_TUPLES_OK)) {
        pg_up(st->pg);
        if (res != NULL)
            *res = r;
        else
            PQclear(r);
        return 0;
    }
    rc = pg_fail(st, sql, r, eb);
    PQclear(r);
    return rc;
}

int
pg_query_row(struct eng_store *st, const char *sql, const struct pg_args *a,
    PGresult **res, struct errbuf *eb)
{
    PGresult *r = NULL;
    int       rc;

    *res = NULL;
    if ((rc = pg_query(st, sql, a, &r, eb)) != 0)
        return rc;
    if (PQntuples(r) == 0) {
        PQclear(r);
        return ERR_NOTFOUND;
    }
    *res = r;
    return 0;
}

char *
pg_text(const PGresult *res, int r, int c, int *oom)
{
    char *p;

    if (PQgetisnull(res, r, c))
        return NULL;
    if ((p = strdup(PQgetvalue(res, r, c))) == NULL)
        *oom = 1;
    return p;
}

long long
pg_int(const PGresult *res, int r, int c)
{
    const char *v;

    if (PQgetisnull(res, r, c))
        return 0;
    v = PQgetvalue(res, r, c);
    if (*v == 't') /* boolean */
        return 1;
    return strtoll(v, NULL, 10);
}

int
pg_isnull(const PGresult *res, int r, int c)
{
    return PQgetisnull(res, r, c);
}

int
pg_blob(const PGresult *res, int r, int c, unsigned char **out, size_t *n)
{
    unsigned char *b;
    size_t         len = 0;

    *out = NULL;
    *n = 0;
    if (PQgetisnull(res, r, c))
        return 0;
    b = PQunescapeBytea((const unsigned char *)PQgetvalue(res, r, c), &len);
    if (b == NULL)
        return ERR_NOMEM;
    if ((*out = malloc(len ? len : 1)) == NULL) {
        PQfreemem(b);
        return ERR_NOMEM;
    }
    memcpy(*out, b, len);
    *n = len;
    PQfreemem(b);
    return 0;
}

/* ---- transactions and counters -------------------------------------------- */

/* The counters bumped in the transaction that just committed are this
 * handle's now. config_generation only when no other instance's change
 * came in between (eng_store_tick then still calls the watch callback). */
static void
pg_committed(struct pg *pg)
{
    if (pg->trust_pending > 0)
        atomic_store(&pg->trust_gen, pg->trust_pending);
    if (pg->config_pending > 0 && pg->config_pending == pg->config_gen + 1)
        pg->config_gen = pg->config_pending;
    pg->trust_pending = pg->config_pending = 0;
}

/* ROLLBACK if the connection is still there (a lost one took the
 * transaction with it); the bumped counters do not count. */
static void
pg_rollback_now(struct eng_store *st)
{
    st->pg->trust_pending = st->pg->config_pending = 0;
    if (PQstatus(st->pg->conn) == CONNECTION_OK)
        pg_query(st, "ROLLBACK", NULL, NULL, NULL);
}

/* COMMIT; on failure ROLLBACK. Errors as pg_query. */
static int
pg_commit_now(struct eng_store *st, struct errbuf *eb)
{
    int rc;

    if ((rc = pg_query(st, "COMMIT", NULL, NULL, eb)) != 0) {
        pg_rollback_now(st);
        return rc;
    }
    pg_committed(st->pg);
    return 0;
}

int
pg_tx_begin(struct eng_store *st, struct errbuf *eb)
{
    if (st->tx_depth > 0)
        return 0; /* join the explicit transaction */
    st->pg->trust_pending = st->pg->config_pending = 0;
    return pg_query(st, "BEGIN", NULL, NULL, eb);
}

int
pg_tx_end(struct eng_store *st, int rc, struct errbuf *eb)
{
    if (st->tx_depth > 0) {
        if (rc != 0)
            st->tx_failed = 1;
        return rc;
    }
    if (rc != 0) {
        pg_rollback_now(st);
        return rc;
    }
    return pg_commit_now(st, eb);
}

int
pg_counter_bump(struct eng_store *st, const char *name, long long *value,
    struct errbuf *eb)
{
    struct pg_args a = { 0 };
    PGresult      *r = NULL;
    long long      v;
    int            rc;

    pg_arg_text(&a, name);
    if ((rc = pg_query_row(st,
             "INSERT INTO counters (name, value) VALUES ($1, 1) "
             "ON CONFLICT (name) DO UPDATE SET value = counters.value + 1 "
             "RETURNING value",
             &a, &r, eb))
        != 0)
        return rc == ERR_NOTFOUND ? err_set(eb, ERR_DB, "database_error",
                   "database error during counter update: no row returned")
                                  : rc;
    v = pg_int(r, 0, 0);
    PQclear(r);
    if (value != NULL)
        *value = v;
    if (strcmp(name, "trust_generation") == 0)
        st->pg->trust_pending = v;
    else if (strcmp(name, "config_generation") == 0)
        st->pg->config_pending = v;
    /* not in a transaction: already committed */
    if (PQtransactionStatus(st->pg->conn) == PQTRANS_IDLE)
        pg_committed(st->pg);
    return 0;
}

void
pg_watch_notify(struct eng_store *st, const char *table)
{
    if (st->watch_cb != NULL)
        st->watch_cb(st->watch_ud, table);
}

/* ---- open ------------------------------------------------------------------ */

int
pg_open(const char *dir, const char *url, struct eng_store **out,
    struct errbuf *eb)
{
    (void)dir;
    (void)url;
    *out = NULL;
    return err_set(eb, ERR_UNSUPPORTED, "database_url",
        "PostgreSQL is not built in yet");
}
