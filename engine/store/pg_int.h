/* SPDX-License-Identifier: MIT */
/*
 * engine/store/pg_int.h: the inside of the PostgreSQL backend, shared by
 * engine/store/pg.c (connection, statements, transactions, migrations,
 * the cluster functions, environment, applets, trustpoints, settings,
 * credentials), pg_runs.c (run history, idempotency keys, contexts,
 * webhook tokens) and pg_outbox.c (the outbox rows). Design:
 * docs/storage.md.
 *
 * One libpq connection per handle, guarded by the handle's recursive mutex
 * (store_lock, as on SQLite), so eng_store_begin/commit keep their meaning.
 * Every pg_query is a network round trip made with the lock held: a
 * function does its work in as few statements as it can (RETURNING, one
 * statement with CTEs rather than several, no BEGIN/COMMIT around a
 * single statement: autocommit is atomic). Parameters go as text
 * (pg_args), results are read in text format (pg_text, pg_int) except
 * bytea (pg_blob). A SELECT, INSERT, UPDATE, DELETE or WITH statement is
 * prepared once per connection (a named statement, found again by the
 * address of its SQL text, which must therefore be a string that lives as
 * long as the process: a literal) and then sent with PQexecPrepared, so
 * the server neither parses nor plans it again; other statements (BEGIN,
 * COMMIT, SAVEPOINT, the migrations' DDL) and those with optional filters
 * ("$1::text IS NULL OR ...": the listings, planned for the parameters at
 * hand) go with PQexecParams / PQexec.
 * A reconnect starts a new session without them: they are prepared again.
 *
 * Durability, as on SQLite (store.h, eng_store_durable): what a client is
 * told is on disk when it is answered, and so is a run's queued row
 * (run_insert: the trigger's point of no return) and its outcome
 * (run_finish: a caller waiting for the run learns it), like every
 * configuration write: these commit synchronously (the server's
 * synchronous_commit, which may also wait for standbys). The writes that
 * only carry work along inside herald — a run started, the mail it queues,
 * an outbox claim, release or outcome — commit asynchronously (PG_ASYNC:
 * SET LOCAL synchronous_commit = off for their own transaction): a
 * database crash or failover may lose the last of them, which puts the
 * work back where the last synchronous commit left it (the run queued
 * again, the message queued or leased again): at least once, as
 * always. WAL order makes that hold: a synchronous commit flushes every
 * commit made before it, so the run's outcome never outlives its mail.
 * Inside an explicit transaction (eng_store_begin) nothing is made
 * asynchronous (PG_ASYNC_OK).
 *
 * Lost connection: a statement that fails because the connection is bad
 * returns ERR_UNAVAILABLE ("the database at HOST:PORT cannot be reached:
 * ...", never the password) and marks the handle not ready; the next
 * pg_query outside a transaction first tries PQreset (at most once a
 * second; in between it fails at once). A reset loses the session's
 * advisory lock: leader goes to 0 until eng_store_tick takes it again.
 *
 * Leases (several instances): runs queued or running and outbox messages
 * being sent carry claimed_by (the instance name) and lease_until (ms).
 * eng_store_tick renews this instance's leases to now + PG_LEASE_MS; rows
 * whose lease_until passed belong to a dead instance and are taken over
 * (eng_store_runs_adopt, the outbox claims).
 *
 * Writing a function (the SQLite example in store_int.h, in libpq):
 *
 *   static int
 *   pgs_thing_put(struct eng_store *st, const char *name, struct errbuf *eb)
 *   {
 *       struct pg_args a = { 0 };
 *       int            rc;
 *
 *       pg_arg_text(&a, name);
 *       store_lock(st);
 *       if ((rc = pg_tx_begin(st, eb)) == 0)
 *           rc = pg_query(st, "INSERT INTO thing(name) VALUES ($1)", &a,
 *               NULL, eb);
 *       rc = pg_tx_end(st, rc, eb);
 *       store_unlock(st);
 *       return rc;
 *   }
 */
#ifndef HERALD_ENGINE_STORE_PG_INT_H
#define HERALD_ENGINE_STORE_PG_INT_H

#include <libpq-fe.h> /* types; the functions via pg_lib.h */
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include "common/err.h"
#include "engine/store/pg_lib.h"
#include "engine/store/store_int.h"

/* A lease lasts this long past the last tick that renewed it. */
#define PG_LEASE_MS 15000LL
/* The advisory lock key of the timer leader (pg_try_advisory_lock). */
#define PG_LEADER_KEY 0x6865726C64LL /* "herld" */
/* The advisory lock key held while migrating (pg_advisory_xact_lock). */
#define PG_MIGRATE_KEY 0x6865726C6DLL
/* An expression that makes the transaction of the statement holding it
 * commit asynchronously (pg_int.h, "Durability"): in a RETURNING list, or
 * as PG_ASYNC_FROM in a FROM list, so that it is evaluated whenever the
 * statement writes a row. */
#define PG_ASYNC      "set_config('synchronous_commit', 'off', true)"
#define PG_ASYNC_FROM "(SELECT " PG_ASYNC ") pg_async"
/* 1 if a write may commit asynchronously: not inside eng_store_begin. */
#define PG_ASYNC_OK(st) ((st)->tx_depth == 0)
/* Prepared statements per connection; past this many, statements go
 * unprepared (PQexecParams). herald has about 80 distinct ones. */
#define PG_STMTS 160

struct pg {
    PGconn   *conn;
    char     *conninfo;     /* as given (holds the password: never log it) */
    char      where[160];   /* "host:port/db" for messages */
    char      instance[64]; /* claimed_by of this instance's leases */
    long long reset_ms;     /* last reconnect attempt */
    int       ready;        /* the last statement reached the server */
    char      why[256];     /* when not ready: why (no secrets) */
    int       leader;       /* holds PG_LEADER_KEY on this connection */
    /* generations seen (counters table): moved by another instance ->
     * eng_store_tick calls the watch callback / trust generation moves */
    long long       config_gen;
    _Atomic int64_t trust_gen;
    int in_tx; /* the session is inside BEGIN: a lost connection is not
                * reset until the transaction's end is asked for */
    /* counters bumped in the open transaction (0: none), seen on commit */
    long long config_pending, trust_pending;
    /* the statements prepared on this connection (pg_run): stmts[i] is
     * named "herald_<i>"; sql is the address it is found by, text a copy
     * of it (checked on a hit) */
    struct pg_stmt {
        const char *sql;
        char       *text;
    } stmts[PG_STMTS];
    int nstmts;
};

/* Parameters of one statement: text values (NULL is SQL NULL), or bytea
 * as binary. At most PG_MAX_ARGS. */
#define PG_MAX_ARGS 24
struct pg_args {
    int         n;
    const char *v[PG_MAX_ARGS];
    int         len[PG_MAX_ARGS];
    int         fmt[PG_MAX_ARGS]; /* 0 text, 1 binary */
    char        num[PG_MAX_ARGS][24];
};
void pg_arg_text(struct pg_args *a, const char *s); /* NULL: SQL NULL */
void pg_arg_int(struct pg_args *a, long long v);
void pg_arg_blob(struct pg_args *a, const void *p, size_t n); /* NULL: NULL */

/* With the lock held: runs sql ($1, $2, ... for a's values; a may be
 * NULL). With res non-NULL the result is handed over (PQclear it) when
 * the statement succeeded; with res NULL it is cleared. Errors: ERR_DB
 * ("database error during <first words of sql>: <server message>"),
 * ERR_UNAVAILABLE (connection lost or not re-established), ERR_EXISTS (a
 * unique constraint: SQLSTATE 23505). */
int pg_query(struct eng_store *st, const char *sql, const struct pg_args *a,
    PGresult **res, struct errbuf *eb);
/* Like pg_query for a statement that returns at most one row: 0 and *res
 * with its row, ERR_NOTFOUND (eb not set) if none. */
int pg_query_row(struct eng_store *st, const char *sql, const struct pg_args *a,
    PGresult **res, struct errbuf *eb);

/* Column helpers (row r, column c of a text-format result). */
char     *pg_text(const PGresult *res, int r, int c, int *oom); /* new; NULL */
long long pg_int(const PGresult *res, int r, int c);            /* NULL: 0 */
int       pg_isnull(const PGresult *res, int r, int c);
/* bytea column (text format "\x..."): new buffer in *out, *n its size;
 * NULL and 0 for SQL NULL. Errors: ERR_NOMEM. */
int pg_blob(const PGresult *res, int r, int c, unsigned char **out, size_t *n);

/* Transactions, with the lock held; the same contract as store_tx_begin /
 * store_tx_end (store_int.h): join an explicit eng_store_begin, else
 * BEGIN ... COMMIT. */
int pg_tx_begin(struct eng_store *st, struct errbuf *eb);
int pg_tx_end(struct eng_store *st, int rc, struct errbuf *eb);

/* The watch callback for table ("applets", "environment") after a change
 * made through this handle (with the lock held). */
void pg_watch_notify(struct eng_store *st, const char *table);
/* Inside a write: adds 1 to counter name ("config_generation",
 * "trust_generation", "cred_generation"); *value (may be NULL) the new
 * value. Errors as pg_query. */
int pg_counter_bump(struct eng_store *st, const char *name, long long *value,
    struct errbuf *eb);

/* Schema parts, applied by pg.c's migrations in one transaction under
 * PG_MIGRATE_KEY: pg.c's own tables, then these. */
extern const char pg_runs_schema[];   /* pg_runs.c: runs, webhook_idem,
                                       * contexts */
extern const char pg_outbox_schema[]; /* pg_outbox.c: outbox,
                                       * outbox_attempts */

extern const struct store_cfg_ops     pg_cfg_ops;     /* pg.c */
extern const struct store_run_ops     pg_run_ops;     /* pg_runs.c */
extern const struct store_ob_ops      pg_ob_ops;      /* pg_outbox.c */
extern const struct store_cluster_ops pg_cluster_ops; /* pg.c */

/* pg_runs.c, for pg.c's tick: renews the leases of this instance's
 * queued and running runs. Errors as pg_query. */
int pg_runs_renew(struct eng_store *st, long long now_ms, struct errbuf *eb);
/* pg_runs.c: eng_store_runs_adopt. */
int pg_runs_adopt(struct eng_store *db, long long now_ms,
    void (*requeue)(void *ud, long long id, const char *applet,
        const char *trigger, const char *replay),
    void *ud, struct errbuf *eb);
/* pg_outbox.c, for pg.c's tick: renews the leases of the messages this
 * instance is sending. Errors as pg_query. */
int pg_outbox_renew(struct eng_store *st, long long now_ms, struct errbuf *eb);

#endif
