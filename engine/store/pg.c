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
#include <sys/random.h>
#include <unistd.h>

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

/* libpq's message msg as one line into out: runs of blanks and newlines
 * become one space, the trailing ones go, and the connection's password,
 * should it appear, is masked. */
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
        if (*msg == '\n' || *msg == '\r' || *msg == '\t' || *msg == ' ') {
            if (o > 0 && out[o - 1] != ' ')
                out[o++] = ' ';
        } else {
            out[o++] = *msg;
        }
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
        if (strncmp(sql, " IF NOT EXISTS ", 15) == 0)
            sql += 14; /* "CREATE TABLE name" */
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

    if (msg == NULL && r != NULL && *PQresultErrorMessage(r) != '\0')
        msg = PQresultErrorMessage(r);
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

/* Forgets the prepared statements: the session that held them is gone (a
 * reset, or the handle closes). */
static void
pg_stmts_forget(struct pg *pg)
{
    for (int i = 0; i < pg->nstmts; i++)
        free(pg->stmts[i].text);
    pg->nstmts = 0;
}

/*
 * With the lock held, before a statement: 0 if the connection is good.
 * Outside a transaction a bad one is reset (after a failed attempt, not
 * again within a second: in between, statements fail at once; a reset
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
    if (st->tx_depth == 0 && !pg->in_tx) {
        now = pg_mono_ms();
        if (pg->reset_ms == 0 || now - pg->reset_ms >= 1000) {
            pg->reset_ms = now;
            if (pg->leader) {
                log_warn("store", "event=leader-lost where=%s", pg->where);
                pg->leader = 0;
            }
            PQreset(pg->conn);
            pg_stmts_forget(pg); /* a new session, if any */
            pg->in_tx = 0;
            if (PQstatus(pg->conn) == CONNECTION_OK) {
                pg->reset_ms = 0; /* the next loss resets at once */
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

/* 1 if sql ends the transaction (the session is idle after it, also when
 * the connection is gone). */
static int
pg_ends_tx(const char *sql)
{
    return strcmp(sql, "COMMIT") == 0 || strcmp(sql, "ROLLBACK") == 0
        || strcmp(sql, "END") == 0;
}

/* 1 if sql is prepared (pg_int.h): a query or DML statement, not
 * transaction control, without optional filters ("$1::text IS NULL OR
 * ..." in the listings): their best plan depends on which parameters are
 * NULL, and a cached generic plan could not use the index one filter
 * needs, so they are planned each time. */
static int
pg_preparable(const char *sql)
{
    if (strncmp(sql, "SELECT ", 7) != 0 && strncmp(sql, "INSERT ", 7) != 0
        && strncmp(sql, "UPDATE ", 7) != 0 && strncmp(sql, "DELETE ", 7) != 0
        && strncmp(sql, "WITH ", 5) != 0)
        return 0;
    return strstr(sql, "::text IS NULL OR") == NULL
        && strstr(sql, "::bigint IS NULL OR") == NULL;
}

/*
 * The name of sql's prepared statement on this connection, preparing it
 * the first time (a round trip more, once). NULL when it is not to be
 * prepared (not preparable, the cache is full, out of memory: the caller
 * sends it with PQexecParams) or when PQprepare failed: then *fail is its
 * result (NULL if libpq gave none), for pg_fail.
 */
static const char *
pg_prepared(struct pg *pg, const char *sql, int nargs, char *name, size_t n,
    PGresult **fail)
{
    PGresult *r;
    char     *text;
    int       i;

    *fail = NULL;
    for (i = 0; i < pg->nstmts; i++)
        if (pg->stmts[i].sql == sql && strcmp(pg->stmts[i].text, sql) == 0)
            break;
    if (i < pg->nstmts) {
        snprintf(name, n, "herald_%d", i);
        return name;
    }
    if (pg->nstmts >= PG_STMTS || !pg_preparable(sql)
        || (text = strdup(sql)) == NULL)
        return NULL;
    i = pg->nstmts;
    snprintf(name, n, "herald_%d", i);
    r = PQprepare(pg->conn, name, sql, nargs, NULL);
    if (r == NULL || PQresultStatus(r) != PGRES_COMMAND_OK) {
        free(text);
        *fail = r;
        return NULL;
    }
    PQclear(r);
    pg->stmts[i].sql = sql;
    pg->stmts[i].text = text;
    pg->nstmts++;
    return name;
}

/*
 * pg_query's body: one statement with parameters a, or with multi (a
 * NULL) sql may hold several statements (PQexec: the migrations' DDL).
 * Keeps in_tx: the session's transaction state after the last statement
 * that reached the server.
 */
static int
pg_run(struct eng_store *st, const char *sql, const struct pg_args *a,
    int multi, PGresult **res, struct errbuf *eb)
{
    struct pg     *pg = st->pg;
    PGresult      *r = NULL;
    ExecStatusType s;
    const char    *name = NULL;
    char           nb[32];
    int            rc;

    if (res != NULL)
        *res = NULL;
    if (a != NULL && a->n > PG_MAX_ARGS)
        return err_set(eb, ERR_INTERNAL, "internal",
            "a statement has more than %d parameters", PG_MAX_ARGS);
    if ((rc = pg_connected(st, eb)) != 0)
        return rc;
    if (multi) {
        r = PQexec(pg->conn, sql);
    } else if ((name = pg_prepared(pg, sql, a ? a->n : 0, nb, sizeof(nb), &r))
        != NULL) {
        r = PQexecPrepared(pg->conn, name, a ? a->n : 0, a ? a->v : NULL,
            a ? a->len : NULL, a ? a->fmt : NULL, 0);
    } else if (r == NULL && PQstatus(pg->conn) == CONNECTION_OK) {
        r = PQexecParams(pg->conn, sql, a ? a->n : 0, NULL, a ? a->v : NULL,
            a ? a->len : NULL, a ? a->fmt : NULL, 0);
    }
    if (PQstatus(pg->conn) == CONNECTION_OK)
        pg->in_tx = PQtransactionStatus(pg->conn) != PQTRANS_IDLE;
    s = PQresultStatus(r);
    if (r != NULL && (s == PGRES_COMMAND_OK || s == PGRES_TUPLES_OK)) {
        pg_up(pg);
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

/* 1 if sql may run again when its connection dropped under it outside a
 * transaction: it changed nothing, or nothing that outlives the session. */
static int
pg_repeatable(const char *sql)
{
    return strcmp(sql, "BEGIN") == 0 || strncmp(sql, "SELECT ", 7) == 0;
}

int
pg_query(struct eng_store *st, const char *sql, const struct pg_args *a,
    PGresult **res, struct errbuf *eb)
{
    struct pg *pg = st->pg;
    int        idle =
        st->tx_depth == 0 && !pg->in_tx && PQstatus(pg->conn) == CONNECTION_OK;
    int rc = pg_run(st, sql, a, 0, res, eb);

    /* an idle connection the server dropped (a restart, a failover): the
     * first statement finds out; a repeatable one runs again on a new
     * connection rather than failing */
    if (rc == ERR_UNAVAILABLE && idle && pg_repeatable(sql))
        rc = pg_run(st, sql, a, 0, res, eb);
    if (pg_ends_tx(sql))
        st->pg->in_tx = 0;
    return rc;
}

/* Runs sql, which may hold several statements without parameters (DDL),
 * unless it is empty. Errors as pg_query. */
static int
pg_exec(struct eng_store *st, const char *sql, struct errbuf *eb)
{
    if (sql == NULL || *sql == '\0')
        return 0;
    return pg_run(st, sql, NULL, 1, NULL, eb);
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
 * handle's now. config_generation only when it moved by this one change
 * alone: else another instance's change may have come in between, and
 * eng_store_tick still calls the watch callback (once too often after a
 * transaction of several config writes: harmless). */
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
    st->pg->in_tx = 0;
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
    rc = pg_query_row(st,
        "INSERT INTO counters (name, value) VALUES ($1, 1) "
        "ON CONFLICT (name) DO UPDATE SET value = counters.value + 1 "
        "RETURNING value",
        &a, &r, eb);
    if (rc == ERR_NOTFOUND) /* RETURNING always has its row */
        rc = err_set(eb, ERR_INTERNAL, "internal", "counter %s not updated",
            name);
    if (rc != 0)
        return rc;
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

/* ---- schema ---------------------------------------------------------------- */

/* Migration v1's first part: the configuration's tables, as SQLite's after
 * its migration v6 (sqlite.c), in PostgreSQL's types. applets.webhook_token
 * is never set (SQLite's clear tokens of before v4). */
static const char pg_config_schema[] =
    "CREATE TABLE environment ("
    " name TEXT PRIMARY KEY,"
    " value TEXT NOT NULL,"
    " secret INTEGER NOT NULL DEFAULT 0,"
    " updated BIGINT NOT NULL);"
    "CREATE TABLE applets ("
    " name TEXT PRIMARY KEY,"
    " text TEXT NOT NULL,"
    " webhook_token TEXT,"
    " created BIGINT NOT NULL,"
    " updated BIGINT NOT NULL,"
    " webhook_token_sha256 TEXT,"
    " webhook_secret TEXT);"
    "CREATE TABLE trustpoints ("
    " name TEXT PRIMARY KEY,"
    " revocation_check TEXT NOT NULL DEFAULT 'none',"
    " chain_validation TEXT NOT NULL DEFAULT 'continue',"
    " enrollment TEXT NOT NULL DEFAULT 'terminal',"
    " cert_der BYTEA,"
    " created BIGINT NOT NULL,"
    " cert_installed BIGINT NOT NULL DEFAULT 0);"
    "CREATE TABLE settings ("
    " key TEXT PRIMARY KEY,"
    " value TEXT NOT NULL);"
    "CREATE TABLE counters ("
    " name TEXT PRIMARY KEY,"
    " value BIGINT NOT NULL);"
    "CREATE TABLE credentials ("
    " name TEXT PRIMARY KEY,"
    " type TEXT NOT NULL DEFAULT 'oauth2',"
    " grant_type TEXT NOT NULL,"
    " token_url TEXT NOT NULL,"
    " client_id TEXT NOT NULL,"
    " client_secret TEXT,"
    " refresh_token TEXT,"
    " scope TEXT,"
    " mechanism TEXT NOT NULL DEFAULT 'xoauth2',"
    " created BIGINT NOT NULL,"
    " updated BIGINT NOT NULL,"
    " generation BIGINT NOT NULL DEFAULT 1);";

/* Migration v1's last part: the counters (config_generation moves with
 * every write to applets or environment: the other instances reload). */
static const char pg_counters_rows[] =
    "INSERT INTO counters (name, value) VALUES ('trust_generation', 1),"
    " ('credential_generation', 0), ('config_generation', 0)"
    " ON CONFLICT (name) DO NOTHING;";

/*
 * Forward migrations, as sqlite.c's store_migrations[]: append one entry
 * with the next version; never edit one that has shipped. Each runs its
 * parts in order (NULL or "": nothing), in the migrating transaction.
 */
struct pg_migration {
    int         version;
    const char *sql[4];
};

static const struct pg_migration pg_migrations[] = {
    /* v1: the whole schema of SQLite's v6 (plus runs.claimed_by /
     * lease_until and outbox.claimed_by / lease_until: the leases) */
    { 1,
        { pg_config_schema, pg_runs_schema, pg_outbox_schema,
            pg_counters_rows } },
};

#define PG_NMIGRATIONS (sizeof(pg_migrations) / sizeof(pg_migrations[0]))

static int
pg_schema_version(void)
{
    return pg_migrations[PG_NMIGRATIONS - 1].version;
}

/* Applies migration m and records it (inside the migrating transaction). */
static int
pg_apply(struct eng_store *st, const struct pg_migration *m, struct errbuf *eb)
{
    struct pg_args a = { 0 };
    int            rc;

    for (size_t i = 0; i < sizeof(m->sql) / sizeof(m->sql[0]); i++)
        if ((rc = pg_exec(st, m->sql[i], eb)) != 0)
            return rc;
    pg_arg_int(&a, m->version);
    pg_arg_int(&a, clock_now_ms());
    if ((rc = pg_query(st,
             "INSERT INTO schema_version (version, applied_ms) "
             "VALUES ($1, $2)",
             &a, NULL, eb))
        != 0)
        return rc;
    log_info("store", "event=migrate backend=postgresql version=%d",
        m->version);
    return 0;
}

/* Migrates the schema forward in one transaction, under the advisory lock
 * PG_MIGRATE_KEY: instances starting together take turns. *version: the
 * schema's version after. Errors: ERR_DB (newer schema, a failed
 * statement), ERR_UNAVAILABLE. */
static int
pg_migrate(struct eng_store *st, struct errbuf *eb)
{
    struct pg_args a = { 0 };
    PGresult      *r = NULL;
    int            version, rc;

    if ((rc = pg_query(st, "BEGIN", NULL, NULL, eb)) != 0)
        return rc;
    pg_arg_int(&a, PG_MIGRATE_KEY);
    if ((rc = pg_query(st, "SELECT pg_advisory_xact_lock($1)", &a, NULL, eb))
            != 0
        || (rc = pg_exec(st,
                "CREATE TABLE IF NOT EXISTS schema_version ("
                " version INTEGER NOT NULL, applied_ms BIGINT NOT NULL)",
                eb))
            != 0
        || (rc = pg_query_row(st,
                "SELECT COALESCE(MAX(version), 0) FROM schema_version", NULL,
                &r, eb))
            != 0)
        goto fail;
    version = (int)pg_int(r, 0, 0);
    PQclear(r);
    if (version > pg_schema_version()) {
        rc = err_set(eb, ERR_DB, "schema_too_new",
            "database %s has schema version %d, newer than this herald "
            "(%s) understands (%d); run a newer herald",
            st->pg->where, version, HERALD_VERSION, pg_schema_version());
        goto fail;
    }
    for (size_t i = 0; i < PG_NMIGRATIONS; i++)
        if (pg_migrations[i].version > version
            && (rc = pg_apply(st, &pg_migrations[i], eb)) != 0)
            goto fail;
    return pg_commit_now(st, eb);
fail:
    pg_rollback_now(st);
    return rc;
}

/* Reads the generations (counters) into the handle. Errors as pg_query. */
static int
pg_read_generations(struct eng_store *st, int notify, struct errbuf *eb)
{
    struct pg *pg = st->pg;
    PGresult  *r = NULL;
    int        rc;

    if ((rc = pg_query(st,
             "SELECT name, value FROM counters "
             "WHERE name IN ('config_generation', 'trust_generation')",
             NULL, &r, eb))
        != 0)
        return rc;
    for (int i = 0; i < PQntuples(r); i++) {
        long long v = pg_int(r, i, 1);

        if (strcmp(PQgetvalue(r, i, 0), "trust_generation") == 0) {
            atomic_store(&pg->trust_gen, v);
        } else if (v != pg->config_gen) {
            /* another instance changed applets or environment */
            pg->config_gen = v;
            if (notify) {
                pg_watch_notify(st, "applets");
                pg_watch_notify(st, "environment");
            }
        }
    }
    PQclear(r);
    return 0;
}

/* ---- open / close ------------------------------------------------------------ */

static void                   pg_close(struct eng_store *st);
static const struct store_ops store_pg_ops;

/* Frees o, wiping the password in it; 0 if the port is a number (or a
 * list of them: several hosts), else ERR_INVAL naming it. */
static int
pg_check_options(PQconninfoOption *o, struct errbuf *eb)
{
    int rc = 0;

    for (PQconninfoOption *p = o; p->keyword != NULL; p++) {
        if (p->val == NULL)
            continue;
        if (strcmp(p->keyword, "port") == 0
            && (p->val[0] == '\0'
                || strspn(p->val, "0123456789,") != strlen(p->val)))
            rc = err_set(eb, ERR_INVAL, "database_url",
                "the database URL's port is not a number");
        if (strcmp(p->keyword, "password") == 0)
            sec_wipe(p->val, strlen(p->val));
    }
    PQconninfoFree(o);
    return rc;
}

/* 0 if url is a PostgreSQL URI or key=value string libpq can parse. The
 * message never repeats url (it may hold the password). Errors:
 * ERR_INVAL. */
static int
pg_check_url(const char *url, struct errbuf *eb)
{
    PQconninfoOption *o;
    char             *msg = NULL;

    if (strncmp(url, "postgresql://", 13) == 0
        || strncmp(url, "postgres://", 11) == 0 || strchr(url, '=') != NULL) {
        if ((o = PQconninfoParse(url, &msg)) != NULL)
            return pg_check_options(o, eb);
        if (msg != NULL) { /* may quote a part of url */
            sec_wipe(msg, strlen(msg));
            PQfreemem(msg);
        }
    }
    return err_set(eb, ERR_INVAL, "database_url",
        "the database URL is not a valid PostgreSQL connection string: "
        "expected postgresql://USER:PASSWORD@HOST:PORT/DATABASE (or "
        "postgres://...) or key=value settings such as \"host=HOST "
        "port=5432 dbname=DATABASE user=USER\"");
}

/* "<hostname>:<pid>:<8 hex random>", the claimed_by of this instance. */
static void
pg_instance_name(struct pg *pg)
{
    char     host[256] = "herald";
    uint32_t rnd = 0;

    if (gethostname(host, sizeof(host) - 1) != 0 || host[0] == '\0')
        snprintf(host, sizeof(host), "herald");
    host[sizeof(host) - 1] = '\0';
    if (getrandom(&rnd, sizeof(rnd), 0) != (ssize_t)sizeof(rnd))
        rnd = (uint32_t)pg_mono_ms() ^ (uint32_t)getpid();
    snprintf(pg->instance, sizeof(pg->instance), "%.40s:%ld:%08x", host,
        (long)getpid(), rnd);
}

/* "host:port/db" of the connection (libpq's defaults filled in). */
static void
pg_where(struct pg *pg)
{
    const char *h = PQhost(pg->conn), *p = PQport(pg->conn),
               *d = PQdb(pg->conn);

    snprintf(pg->where, sizeof(pg->where), "%.80s:%.8s/%.63s",
        h && *h ? h : "localhost", p && *p ? p : "5432", d ? d : "");
}

/* The server's notices ("relation ... already exists, skipping") are not
 * herald's business: libpq would print them on stderr. */
static void
pg_notice(void *ud, const char *msg)
{
    (void)ud;
    (void)msg;
}

/* Connects with the url's settings; ours come first, so that the url's
 * own win (libpq: later values override earlier ones). Errors:
 * ERR_UNAVAILABLE (unreachable, login refused), ERR_NOMEM. */
static int
pg_connect(struct eng_store *st, struct errbuf *eb)
{
    static const char *const keys[] = { "application_name", "connect_timeout",
        "keepalives", "keepalives_idle", "keepalives_interval",
        "keepalives_count", "tcp_user_timeout", "dbname", NULL };
    const char *vals[] = { "herald", "5", "1", "5", "2", "3", "10000",
        st->pg->conninfo, NULL };
    struct pg  *pg = st->pg;
    char        reason[400];

    if ((pg->conn = PQconnectdbParams(keys, vals, 1)) == NULL)
        return err_set(eb, ERR_NOMEM, "internal", "out of memory");
    PQsetNoticeProcessor(pg->conn, pg_notice, NULL);
    pg_where(pg);
    if (PQstatus(pg->conn) == CONNECTION_OK) {
        pg->ready = 1;
        return 0;
    }
    pg_reason(pg->conn, PQerrorMessage(pg->conn), reason, sizeof(reason));
    return err_set(eb, ERR_UNAVAILABLE, "database_unavailable",
        "cannot connect to PostgreSQL at %s: %s", pg->where, reason);
}

int
pg_open(const char *dir, const char *url, struct eng_store **out,
    struct errbuf *eb)
{
    struct eng_store   *st;
    pthread_mutexattr_t ma;
    int                 rc;

    *out = NULL;
    if ((rc = pg_lib_load(eb)) != 0 || (rc = pg_check_url(url, eb)) != 0)
        return rc;
    if ((st = calloc(1, sizeof(*st))) == NULL)
        return err_set(eb, ERR_NOMEM, "internal", "out of memory");
    st->ops = &store_pg_ops;
    pthread_mutexattr_init(&ma);
    pthread_mutexattr_settype(&ma, PTHREAD_MUTEX_RECURSIVE);
    pthread_mutex_init(&st->mu, &ma);
    pthread_mutexattr_destroy(&ma);
    pthread_mutex_init(&st->sync_mu, NULL);
    st->wal_fd = -1;
    st->pg = calloc(1, sizeof(*st->pg));
    st->dir = strdup(dir ? dir : "");
    if (st->pg == NULL || st->dir == NULL
        || (st->pg->conninfo = strdup(url)) == NULL) {
        rc = err_set(eb, ERR_NOMEM, "internal", "out of memory");
        goto fail;
    }
    pg_instance_name(st->pg);
    store_lock(st);
    if ((rc = pg_connect(st, eb)) == 0 && (rc = pg_migrate(st, eb)) == 0)
        rc = pg_read_generations(st, 0, eb);
    store_unlock(st);
    if (rc != 0)
        goto fail;
    *out = st;
    log_info("store",
        "event=open backend=postgresql where=%s schema=%d "
        "instance=%s",
        st->pg->where, pg_schema_version(), st->pg->instance);
    return 0;
fail:
    pg_close(st);
    return rc;
}

static void
pg_close(struct eng_store *st)
{
    if (st == NULL)
        return;
    if (st->pg != NULL) {
        PQfinish(st->pg->conn); /* NULL is a no-op */
        pg_stmts_forget(st->pg);
        sec_free_str(st->pg->conninfo);
        free(st->pg);
    }
    pthread_mutex_destroy(&st->sync_mu);
    pthread_mutex_destroy(&st->mu);
    free(st->dir);
    free(st);
}

static void
pg_release_memory(struct eng_store *st)
{
    (void)st; /* nothing cached on this side */
}

/* ---- explicit transactions ------------------------------------------------- */

/* As sqlite.c's: begin takes the lock and keeps it until the matching
 * commit/rollback; nested pairs join the outer transaction; a rollback
 * anywhere makes the outermost commit roll back (and fail). */
static int
pg_begin(struct eng_store *st, struct errbuf *eb)
{
    int rc;

    store_lock(st);
    if (st->tx_depth == 0) {
        st->pg->trust_pending = st->pg->config_pending = 0;
        if ((rc = pg_query(st, "BEGIN", NULL, NULL, eb)) != 0) {
            store_unlock(st);
            return rc;
        }
        st->tx_failed = 0;
    }
    st->tx_depth++;
    return 0;
}

static int
pg_commit(struct eng_store *st, struct errbuf *eb)
{
    int rc = 0;

    if (st->tx_depth <= 0)
        return err_set(eb, ERR_INTERNAL, "internal",
            "commit without a transaction");
    if (--st->tx_depth == 0) {
        if (st->tx_failed && PQstatus(st->pg->conn) != CONNECTION_OK) {
            pg_rollback_now(st);
            rc = err_set(eb, ERR_UNAVAILABLE, "database_unavailable",
                "transaction rolled back: %s", st->pg->why);
        } else if (st->tx_failed) {
            pg_rollback_now(st);
            rc = err_set(eb, ERR_DB, "database_error",
                "transaction rolled back: an operation inside it failed");
        } else {
            rc = pg_commit_now(st, eb);
        }
        st->tx_failed = 0;
    }
    store_unlock(st);
    return rc;
}

static void
pg_rollback(struct eng_store *st)
{
    if (st->tx_depth <= 0)
        return;
    st->tx_failed = 1;
    if (--st->tx_depth == 0) {
        pg_rollback_now(st);
        st->tx_failed = 0;
    }
    store_unlock(st);
}

/* ---- generic record helpers ------------------------------------------------ */

/* Rows a statement changed (UPDATE, DELETE). */
static long long
pg_changes(const PGresult *r)
{
    return strtoll(PQcmdTuples((PGresult *)r), NULL, 10);
}

/* Inside a write to applets or environment: the config generation moves
 * (other instances reload) and the watch callback is called. */
static int
pg_config_changed(struct eng_store *st, const char *table, struct errbuf *eb)
{
    int rc = pg_counter_bump(st, "config_generation", NULL, eb);

    if (rc == 0)
        pg_watch_notify(st, table);
    return rc;
}

/* What a write of a table bumps: trust_generation, or config_generation
 * and the watch callback for table, or nothing. */
enum pg_bump { PG_BUMP_NONE, PG_BUMP_TRUST, PG_BUMP_CONFIG };

static int
pg_bump(struct eng_store *st, enum pg_bump b, const char *table,
    struct errbuf *eb)
{
    if (b == PG_BUMP_TRUST)
        return pg_counter_bump(st, "trust_generation", NULL, eb);
    if (b == PG_BUMP_CONFIG)
        return pg_config_changed(st, table, eb);
    return 0;
}

/* sql (UPDATE or DELETE ... WHERE name = $1, then a's other values) in a
 * write; ERR_NOTFOUND "<what> <name> does not exist" when no row changed;
 * then b's bump. */
static int
pg_write_name(struct eng_store *st, const char *sql, const struct pg_args *a,
    const char *name, const char *what, enum pg_bump b, const char *table,
    struct errbuf *eb)
{
    PGresult *r = NULL;
    int       rc;

    store_lock(st);
    if ((rc = pg_tx_begin(st, eb)) == 0
        && (rc = pg_query(st, sql, a, &r, eb)) == 0) {
        if (pg_changes(r) == 0)
            rc = err_set(eb, ERR_NOTFOUND, "not_found", "%s %s does not exist",
                what, name);
        else
            rc = pg_bump(st, b, table, eb);
        PQclear(r);
    }
    rc = pg_tx_end(st, rc, eb);
    store_unlock(st);
    return rc;
}

/* DELETE ... WHERE name = $1 (sqlite.c's store_del_by_name). */
static int
pg_del_by_name(struct eng_store *st, const char *sql, const char *name,
    const char *what, enum pg_bump b, const char *table, struct errbuf *eb)
{
    struct pg_args a = { 0 };

    pg_arg_text(&a, name);
    return pg_write_name(st, sql, &a, name, what, b, table, eb);
}

/* *exists: 1 if sql (parameter $1 = name) returns a row. */
static int
pg_exists(struct eng_store *st, const char *sql, const char *name, int *exists,
    struct errbuf *eb)
{
    struct pg_args a = { 0 };
    PGresult      *r = NULL;
    int            rc;

    pg_arg_text(&a, name);
    if ((rc = pg_query(st, sql, &a, &r, eb)) != 0)
        return rc;
    *exists = PQntuples(r) > 0;
    PQclear(r);
    return 0;
}

/*
 * An upsert in a write: *exists from exists_sql first (for *created), then
 * sql with a, then b's bump. Errors as pg_query.
 */
static int
pg_put(struct eng_store *st, const char *exists_sql, const char *name,
    const char *sql, const struct pg_args *a, enum pg_bump b, const char *table,
    int *created, struct errbuf *eb)
{
    int rc, exists = 0;

    store_lock(st);
    if ((rc = pg_tx_begin(st, eb)) == 0
        && (rc = pg_exists(st, exists_sql, name, &exists, eb)) == 0
        && (rc = pg_query(st, sql, a, NULL, eb)) == 0)
        rc = pg_bump(st, b, table, eb);
    rc = pg_tx_end(st, rc, eb);
    store_unlock(st);
    if (rc == 0 && created)
        *created = !exists;
    return rc;
}

/*
 * Reads the one row that sql (parameter $1 = name) selects into out, with
 * row(). what names the object in the not-found message ("applet").
 * Errors: ERR_NOTFOUND, ERR_DB, ERR_UNAVAILABLE, ERR_NOMEM.
 */
static int
pg_get(struct eng_store *st, const char *sql, const char *name,
    const char *what, int (*row)(const PGresult *, int, void *), void *out,
    struct errbuf *eb)
{
    struct pg_args a = { 0 };
    PGresult      *r = NULL;
    int            rc;

    pg_arg_text(&a, name);
    store_lock(st);
    rc = pg_query_row(st, sql, &a, &r, eb);
    store_unlock(st);
    if (rc == ERR_NOTFOUND)
        return err_set(eb, ERR_NOTFOUND, "not_found", "%s %s does not exist",
            what, name);
    if (rc != 0)
        return rc;
    if ((rc = row(r, 0, out)) != 0)
        err_set(eb, rc, "internal", "out of memory");
    PQclear(r);
    return rc;
}

/*
 * Runs sql (no parameters) and collects one element of size sz per row,
 * filled by row(). On failure the elements made so far are cleared with
 * clear() and nothing is returned. Errors: ERR_DB, ERR_UNAVAILABLE,
 * ERR_NOMEM.
 */
static int
pg_list(struct eng_store *st, const char *sql, size_t sz,
    int (*row)(const PGresult *, int, void *), void (*clear)(void *),
    void **out, size_t *n, struct errbuf *eb)
{
    PGresult *r = NULL;
    char     *v = NULL;
    size_t    cnt = 0, rows;
    int       rc;

    *out = NULL;
    *n = 0;
    store_lock(st);
    rc = pg_query(st, sql, NULL, &r, eb);
    store_unlock(st);
    if (rc != 0)
        return rc;
    rows = (size_t)PQntuples(r);
    if (rows > 0 && (v = calloc(rows, sz)) == NULL)
        rc = err_set(eb, ERR_NOMEM, "internal", "out of memory");
    for (; rc == 0 && cnt < rows; cnt++)
        if ((rc = row(r, (int)cnt, v + cnt * sz)) != 0)
            err_set(eb, rc, "internal", "out of memory");
    PQclear(r);
    if (rc != 0) {
        for (size_t i = 0; i < cnt; i++)
            clear(v + i * sz);
        free(v);
        return rc;
    }
    *out = v;
    *n = cnt;
    return 0;
}

/* ---- environment ------------------------------------------------------------ */

static int
pg_env_put(struct eng_store *st, const char *name, const char *value,
    int secret, int *created, struct errbuf *eb)
{
    struct pg_args a = { 0 };

    pg_arg_text(&a, name);
    pg_arg_text(&a, value);
    pg_arg_int(&a, secret ? 1 : 0);
    pg_arg_int(&a, store_now());
    return pg_put(st, "SELECT 1 FROM environment WHERE name = $1", name,
        "INSERT INTO environment (name, value, secret, updated) "
        "VALUES ($1, $2, $3, $4) ON CONFLICT (name) DO UPDATE SET "
        "value = excluded.value, secret = excluded.secret, "
        "updated = excluded.updated",
        &a, PG_BUMP_CONFIG, "environment", created, eb);
}

static int
pg_env_row(const PGresult *r, int i, void *p)
{
    struct eng_env_var *v = p;
    int                 oom = 0;

    memset(v, 0, sizeof(*v));
    v->name = pg_text(r, i, 0, &oom);
    v->value = pg_text(r, i, 1, &oom);
    v->secret = (int)pg_int(r, i, 2);
    v->updated = pg_int(r, i, 3);
    if (oom || v->name == NULL || v->value == NULL) {
        eng_env_var_clear(v);
        return ERR_NOMEM;
    }
    return 0;
}

static void
pg_env_clear(void *p)
{
    eng_env_var_clear(p);
}

static int
pg_env_get(struct eng_store *st, const char *name, struct eng_env_var *out,
    struct errbuf *eb)
{
    memset(out, 0, sizeof(*out));
    return pg_get(st,
        "SELECT name, value, secret, updated FROM environment "
        "WHERE name = $1",
        name, "environment variable", pg_env_row, out, eb);
}

static int
pg_env_del(struct eng_store *st, const char *name, struct errbuf *eb)
{
    return pg_del_by_name(st, "DELETE FROM environment WHERE name = $1", name,
        "environment variable", PG_BUMP_CONFIG, "environment", eb);
}

/* Lists are ordered by name byte by byte, as SQLite's BINARY collation
 * (not the database's locale). */
static int
pg_env_list(struct eng_store *st, struct eng_env_var **out, size_t *n,
    struct errbuf *eb)
{
    void *v;
    int   rc = pg_list(st,
          "SELECT name, value, secret, updated FROM environment "
            "ORDER BY name COLLATE \"C\"",
          sizeof(**out), pg_env_row, pg_env_clear, &v, n, eb);

    *out = v;
    return rc;
}

/* ---- applets ------------------------------------------------------------------ */

static int
pg_applet_put(struct eng_store *st, const char *name, const char *text,
    int *created, struct errbuf *eb)
{
    struct pg_args a = { 0 };

    pg_arg_text(&a, name);
    pg_arg_text(&a, text);
    pg_arg_int(&a, store_now());
    return pg_put(st, "SELECT 1 FROM applets WHERE name = $1", name,
        "INSERT INTO applets (name, text, created, updated) "
        "VALUES ($1, $2, $3, $3) ON CONFLICT (name) DO UPDATE SET "
        "text = excluded.text, updated = excluded.updated",
        &a, PG_BUMP_CONFIG, "applets", created, eb);
}

static int
pg_applet_row(const PGresult *r, int i, void *p)
{
    struct eng_applet_rec *a = p;
    int                    oom = 0;

    memset(a, 0, sizeof(*a));
    a->name = pg_text(r, i, 0, &oom);
    a->text = pg_text(r, i, 1, &oom);
    a->webhook_token = pg_text(r, i, 2, &oom);
    a->created = pg_int(r, i, 3);
    a->updated = pg_int(r, i, 4);
    a->webhook_secret = pg_text(r, i, 5, &oom);
    if (oom || a->name == NULL || a->text == NULL) {
        eng_applet_rec_clear(a);
        return ERR_NOMEM;
    }
    return 0;
}

static void
pg_applet_clear(void *p)
{
    eng_applet_rec_clear(p);
}

#define PG_APPLET_COLS                                                         \
    "name, text, webhook_token_sha256, created, updated, webhook_secret"

static int
pg_applet_get(struct eng_store *st, const char *name,
    struct eng_applet_rec *out, struct errbuf *eb)
{
    memset(out, 0, sizeof(*out));
    return pg_get(st, "SELECT " PG_APPLET_COLS " FROM applets WHERE name = $1",
        name, "applet", pg_applet_row, out, eb);
}

static int
pg_applet_del(struct eng_store *st, const char *name, struct errbuf *eb)
{
    return pg_del_by_name(st, "DELETE FROM applets WHERE name = $1", name,
        "applet", PG_BUMP_CONFIG, "applets", eb);
}

static int
pg_applet_list(struct eng_store *st, struct eng_applet_rec **out, size_t *n,
    struct errbuf *eb)
{
    void *v;
    int   rc = pg_list(st,
          "SELECT " PG_APPLET_COLS " FROM applets ORDER BY name COLLATE \"C\"",
          sizeof(**out), pg_applet_row, pg_applet_clear, &v, n, eb);

    *out = v;
    return rc;
}

/* ---- trustpoints -------------------------------------------------------------- */

static int
pg_tp_put(struct eng_store *st, const struct eng_tp_rec *tp, int *created,
    struct errbuf *eb)
{
    struct pg_args a = { 0 };

    pg_arg_text(&a, tp->name);
    pg_arg_text(&a, tp->revocation_check ? tp->revocation_check : "none");
    pg_arg_text(&a, tp->chain_validation ? tp->chain_validation : "continue");
    pg_arg_text(&a, tp->enrollment ? tp->enrollment : "terminal");
    pg_arg_int(&a, store_now());
    return pg_put(st, "SELECT 1 FROM trustpoints WHERE name = $1", tp->name,
        "INSERT INTO trustpoints (name, revocation_check, "
        "chain_validation, enrollment, created) "
        "VALUES ($1, $2, $3, $4, $5) ON CONFLICT (name) DO UPDATE SET "
        "revocation_check = excluded.revocation_check, "
        "chain_validation = excluded.chain_validation, "
        "enrollment = excluded.enrollment",
        &a, PG_BUMP_TRUST, NULL, created, eb);
}

static int
pg_tp_set_cert(struct eng_store *st, const char *name, const unsigned char *der,
    size_t len, struct errbuf *eb)
{
    struct pg_args a = { 0 };

    pg_arg_text(&a, name);
    pg_arg_blob(&a, der, len);
    pg_arg_int(&a, der != NULL ? store_now() : 0);
    return pg_write_name(st,
        "UPDATE trustpoints SET cert_der = $2, cert_installed = $3 "
        "WHERE name = $1",
        &a, name, "trustpoint", PG_BUMP_TRUST, NULL, eb);
}

static int
pg_tp_row(const PGresult *r, int i, void *p)
{
    struct eng_tp_rec *t = p;
    int                oom = 0;

    memset(t, 0, sizeof(*t));
    t->name = pg_text(r, i, 0, &oom);
    t->revocation_check = pg_text(r, i, 1, &oom);
    t->chain_validation = pg_text(r, i, 2, &oom);
    t->enrollment = pg_text(r, i, 3, &oom);
    if (pg_blob(r, i, 4, &t->cert_der, &t->cert_len) != 0)
        oom = 1;
    if (t->cert_len == 0) { /* an empty certificate reads as none (SQLite) */
        free(t->cert_der);
        t->cert_der = NULL;
    }
    t->created = pg_int(r, i, 5);
    t->cert_installed = pg_int(r, i, 6);
    if (oom || t->name == NULL) {
        eng_tp_rec_clear(t);
        return ERR_NOMEM;
    }
    return 0;
}

static void
pg_tp_clear(void *p)
{
    eng_tp_rec_clear(p);
}

#define PG_TP_COLS                                                             \
    "name, revocation_check, chain_validation, enrollment, cert_der, "         \
    "created, cert_installed"

static int
pg_tp_get(struct eng_store *st, const char *name, struct eng_tp_rec *out,
    struct errbuf *eb)
{
    memset(out, 0, sizeof(*out));
    return pg_get(st, "SELECT " PG_TP_COLS " FROM trustpoints WHERE name = $1",
        name, "trustpoint", pg_tp_row, out, eb);
}

static int
pg_tp_del(struct eng_store *st, const char *name, struct errbuf *eb)
{
    return pg_del_by_name(st, "DELETE FROM trustpoints WHERE name = $1", name,
        "trustpoint", PG_BUMP_TRUST, NULL, eb);
}

static int
pg_tp_list(struct eng_store *st, struct eng_tp_rec **out, size_t *n,
    struct errbuf *eb)
{
    void *v;
    int   rc = pg_list(st,
          "SELECT " PG_TP_COLS " FROM trustpoints ORDER BY name COLLATE \"C\"",
          sizeof(**out), pg_tp_row, pg_tp_clear, &v, n, eb);

    *out = v;
    return rc;
}

/* The generation this handle has seen committed: its own trust changes at
 * their commit, other instances' at the next eng_store_tick. */
static uint64_t
pg_trust_generation(struct eng_store *st)
{
    return (uint64_t)atomic_load(&st->pg->trust_gen);
}

/* ---- settings ------------------------------------------------------------------ */

static int
pg_setting_get(struct eng_store *st, const char *key, char **value,
    struct errbuf *eb)
{
    struct pg_args a = { 0 };
    PGresult      *r = NULL;
    int            rc, oom = 0;

    *value = NULL;
    pg_arg_text(&a, key);
    store_lock(st);
    rc = pg_query_row(st, "SELECT value FROM settings WHERE key = $1", &a, &r,
        eb);
    store_unlock(st);
    if (rc == ERR_NOTFOUND)
        return err_set(eb, ERR_NOTFOUND, "not_found", "setting %s is not set",
            key);
    if (rc != 0)
        return rc;
    *value = pg_text(r, 0, 0, &oom);
    PQclear(r);
    if (oom || *value == NULL)
        return err_set(eb, ERR_NOMEM, "internal", "out of memory");
    return 0;
}

/* Settings whose key starts with "trust" (trustpool, ...) change what is
 * trusted: they bump the trust generation. */
static int
pg_setting_put(struct eng_store *st, const char *key, const char *value,
    struct errbuf *eb)
{
    struct pg_args a = { 0 };
    int            rc;

    pg_arg_text(&a, key);
    pg_arg_text(&a, value);
    store_lock(st);
    if ((rc = pg_tx_begin(st, eb)) == 0
        && (rc = pg_query(st,
                "INSERT INTO settings (key, value) VALUES ($1, $2) "
                "ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                &a, NULL, eb))
            == 0)
        rc = pg_bump(st,
            strncmp(key, "trust", 5) == 0 ? PG_BUMP_TRUST : PG_BUMP_NONE, NULL,
            eb);
    rc = pg_tx_end(st, rc, eb);
    store_unlock(st);
    return rc;
}

/* ---- credentials ---------------------------------------------------------------- */

static int
pg_cred_put(struct eng_store *st, const struct eng_cred_rec *r, int *created,
    struct errbuf *eb)
{
    struct pg_args a = { 0 };
    long long      gen = 0;
    int            rc, exists = 0;

    store_lock(st);
    if ((rc = pg_tx_begin(st, eb)) != 0)
        goto end;
    if ((rc = pg_exists(st, "SELECT 1 FROM credentials WHERE name = $1",
             r->name, &exists, eb))
            != 0
        || (rc = pg_counter_bump(st, "credential_generation", &gen, eb)) != 0)
        goto end;
    pg_arg_text(&a, r->name);
    pg_arg_text(&a, r->type ? r->type : "oauth2");
    pg_arg_text(&a, r->grant ? r->grant : "");
    pg_arg_text(&a, r->token_url ? r->token_url : "");
    pg_arg_text(&a, r->client_id ? r->client_id : "");
    pg_arg_text(&a, r->client_secret);
    pg_arg_text(&a, r->refresh_token);
    pg_arg_text(&a, r->scope != NULL && *r->scope != '\0' ? r->scope : NULL);
    pg_arg_text(&a, r->mechanism ? r->mechanism : "xoauth2");
    pg_arg_int(&a, store_now());
    pg_arg_int(&a, gen);
    rc = pg_query(st,
        "INSERT INTO credentials (name, type, grant_type, token_url, "
        "client_id, client_secret, refresh_token, scope, mechanism, "
        "created, updated, generation) "
        "VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $10, $11) "
        "ON CONFLICT (name) DO UPDATE SET type = excluded.type, "
        "grant_type = excluded.grant_type, "
        "token_url = excluded.token_url, "
        "client_id = excluded.client_id, "
        "client_secret = excluded.client_secret, "
        "refresh_token = excluded.refresh_token, "
        "scope = excluded.scope, mechanism = excluded.mechanism, "
        "updated = excluded.updated, generation = excluded.generation",
        &a, NULL, eb);
end:
    rc = pg_tx_end(st, rc, eb);
    store_unlock(st);
    if (rc == 0 && created)
        *created = !exists;
    return rc;
}

static int
pg_cred_rotate(struct eng_store *st, const char *name,
    const char *refresh_token, struct errbuf *eb)
{
    struct pg_args a = { 0 };

    pg_arg_text(&a, name);
    pg_arg_text(&a, refresh_token);
    pg_arg_int(&a, store_now());
    return pg_write_name(st,
        "UPDATE credentials SET refresh_token = $2, updated = $3 "
        "WHERE name = $1",
        &a, name, "credential", PG_BUMP_NONE, NULL, eb);
}

static int
pg_cred_row(const PGresult *res, int i, void *p)
{
    struct eng_cred_rec *r = p;
    int                  oom = 0;

    memset(r, 0, sizeof(*r));
    r->name = pg_text(res, i, 0, &oom);
    r->type = pg_text(res, i, 1, &oom);
    r->grant = pg_text(res, i, 2, &oom);
    r->token_url = pg_text(res, i, 3, &oom);
    r->client_id = pg_text(res, i, 4, &oom);
    r->client_secret = pg_text(res, i, 5, &oom);
    r->refresh_token = pg_text(res, i, 6, &oom);
    r->scope = pg_text(res, i, 7, &oom);
    r->mechanism = pg_text(res, i, 8, &oom);
    r->created = pg_int(res, i, 9);
    r->updated = pg_int(res, i, 10);
    r->generation = pg_int(res, i, 11);
    if (oom || r->name == NULL || r->type == NULL || r->grant == NULL
        || r->token_url == NULL || r->client_id == NULL
        || r->mechanism == NULL) {
        eng_cred_rec_clear(r);
        return ERR_NOMEM;
    }
    return 0;
}

static void
pg_cred_clear(void *p)
{
    eng_cred_rec_clear(p);
}

#define PG_CRED_COLS                                                           \
    "name, type, grant_type, token_url, client_id, client_secret, "            \
    "refresh_token, scope, mechanism, created, updated, generation"

static int
pg_cred_get(struct eng_store *st, const char *name, struct eng_cred_rec *out,
    struct errbuf *eb)
{
    memset(out, 0, sizeof(*out));
    return pg_get(st,
        "SELECT " PG_CRED_COLS " FROM credentials WHERE name = $1", name,
        "credential", pg_cred_row, out, eb);
}

static int
pg_cred_del(struct eng_store *st, const char *name, struct errbuf *eb)
{
    return pg_del_by_name(st, "DELETE FROM credentials WHERE name = $1", name,
        "credential", PG_BUMP_NONE, NULL, eb);
}

static int
pg_cred_list(struct eng_store *st, struct eng_cred_rec **out, size_t *n,
    struct errbuf *eb)
{
    void *v;
    int   rc = pg_list(st,
          "SELECT " PG_CRED_COLS " FROM credentials ORDER BY name COLLATE \"C\"",
          sizeof(**out), pg_cred_row, pg_cred_clear, &v, n, eb);

    *out = v;
    return rc;
}

const struct store_cfg_ops pg_cfg_ops = {
    .release_memory = pg_release_memory,
    .begin = pg_begin,
    .commit = pg_commit,
    .rollback = pg_rollback,
    .env_put = pg_env_put,
    .env_get = pg_env_get,
    .env_del = pg_env_del,
    .env_list = pg_env_list,
    .applet_put = pg_applet_put,
    .applet_get = pg_applet_get,
    .applet_del = pg_applet_del,
    .applet_list = pg_applet_list,
    .tp_put = pg_tp_put,
    .tp_set_cert = pg_tp_set_cert,
    .tp_get = pg_tp_get,
    .tp_del = pg_tp_del,
    .tp_list = pg_tp_list,
    .trust_generation = pg_trust_generation,
    .setting_get = pg_setting_get,
    .setting_put = pg_setting_put,
    .cred_put = pg_cred_put,
    .cred_rotate = pg_cred_rotate,
    .cred_get = pg_cred_get,
    .cred_del = pg_cred_del,
    .cred_list = pg_cred_list,
};

/* ---- several instances ------------------------------------------------------------ */

/* Takes the timer leadership if no other instance holds it. */
static int
pg_try_leader(struct eng_store *st, struct errbuf *eb)
{
    struct pg     *pg = st->pg;
    struct pg_args a = { 0 };
    PGresult      *r = NULL;
    int            rc;

    pg_arg_int(&a, PG_LEADER_KEY);
    if ((rc = pg_query_row(st, "SELECT pg_try_advisory_lock($1)", &a, &r, eb))
        != 0)
        return rc == ERR_NOTFOUND ? 0 : rc;
    if (pg_int(r, 0, 0) == 1) {
        pg->leader = 1;
        log_info("store", "event=leader instance=%s where=%s", pg->instance,
            pg->where);
    }
    PQclear(r);
    return 0;
}

/* With the lock: each step is tried (a failed one does not keep the
 * others from their work) until the database cannot be reached; the first
 * error is returned. */
static int
pg_tick_locked(struct eng_store *st, long long now_ms, struct errbuf *eb)
{
    int rc = 0, first = 0;

    for (int step = 0; step < 4 && rc != ERR_UNAVAILABLE; step++) {
        struct errbuf *e = first ? NULL : eb;

        if (step == 0) /* first: repeatable, it finds a dropped session */
            rc = pg_read_generations(st, 1, e);
        else if (step == 1)
            rc = pg_runs_renew(st, now_ms, e);
        else if (step == 2)
            rc = pg_outbox_renew(st, now_ms, e);
        else
            rc = st->pg->leader ? 0 : pg_try_leader(st, e);
        if (first == 0)
            first = rc;
    }
    return first;
}

static int
pg_tick(struct eng_store *st, long long now_ms, struct errbuf *eb)
{
    int rc;

    store_lock(st);
    rc = pg_tick_locked(st, now_ms, eb);
    store_unlock(st);
    return rc;
}

/* Does not wait for the lock (a reconnect may hold it for seconds): the
 * flag and reason are read as they are. */
static int
pg_ready(struct eng_store *st, struct errbuf *eb)
{
    struct pg *pg = st->pg;
    char       why[sizeof(pg->why)];
    int        locked = pthread_mutex_trylock(&st->mu) == 0, ready;

    ready = pg->ready;
    memcpy(why, pg->why, sizeof(why));
    why[sizeof(why) - 1] = '\0';
    if (locked)
        store_unlock(st);
    if (ready)
        return 1;
    err_set(eb, ERR_UNAVAILABLE, "database_unavailable", "%s",
        why[0] ? why : "the database cannot be reached");
    return 0;
}

static int
pg_leader(struct eng_store *st)
{
    return st->pg->leader;
}

static const char *
pg_instance(const struct eng_store *st)
{
    return st->pg->instance;
}

const struct store_cluster_ops pg_cluster_ops = {
    .tick = pg_tick,
    .ready = pg_ready,
    .leader = pg_leader,
    .instance = pg_instance,
    .runs_adopt = pg_runs_adopt,
};

static const struct store_ops store_pg_ops = {
    .name = "postgresql",
    .close = pg_close,
    .cfg = &pg_cfg_ops,
    .run = &pg_run_ops,
    .ob = &pg_ob_ops,
    .cluster = &pg_cluster_ops,
};
