/* SPDX-License-Identifier: MIT */
/*
 * engine/store/store_int.h: the inside of the store, shared by the store's own
 * files (engine/store/store.c: open, migrations, environment, applets,
 * trustpoints, settings; store_runs.c: run history, idempotency keys,
 * contexts; store_outbox.c: the outbox rows).
 *
 * One SQLite connection guarded by one recursive mutex. A function that
 * touches the database takes the lock with store_lock(), and a write wraps
 * its statements in store_tx_begin()/store_tx_end(): outside an explicit
 * transaction (eng_store_begin) that is BEGIN IMMEDIATE ... COMMIT; inside
 * one it joins it (nothing is committed until eng_store_commit). The
 * recursive mutex is what lets the thread that called eng_store_begin call
 * the single-record functions; every other thread waits until commit or
 * rollback releases the lock.
 *
 * Schema changes are forward migrations: append one entry to
 * store_migrations[] in engine/store/store.c with the next version number; never
 * edit a migration that has shipped.
 *
 *   int
 *   eng_store_thing_put(struct eng_store *st, ..., struct errbuf *eb)
 *   {
 *       sqlite3_stmt *s = NULL;
 *       int rc;
 *
 *       store_lock(st);
 *       if ((rc = store_tx_begin(st, eb)) != 0)
 *           goto out;
 *       if ((rc = store_prepare(st, "INSERT ...", &s, eb)) != 0)
 *           goto end;
 *       sqlite3_bind_text(s, 1, name, -1, SQLITE_STATIC);
 *       if (sqlite3_step(s) != SQLITE_DONE)
 *           rc = store_dberr(st, eb, "insert thing");
 *   end:
 *       rc = store_tx_end(st, rc, eb);
 *   out:
 *       store_done(st, s);
 *       store_unlock(st);
 *       return rc;
 *   }
 */
#ifndef HERALD_ENGINE_STORE_INT_H
#define HERALD_ENGINE_STORE_INT_H

#include <pthread.h>
#include <stdatomic.h>
#include <sqlite3.h>
#include <stdint.h>

#include "common/err.h"
#include "engine/store/stmt_cache.h"
#include "engine/store/store.h"

struct eng_store {
    sqlite3           *db;
    struct stmt_cache *sc;        /* store_prepare's statements */
    pthread_mutex_t    mu;        /* recursive; guards everything below */
    char              *dir;       /* DATA_DIR as given */
    char              *path;      /* DATA_DIR/herald.db */
    int                tx_depth;  /* eng_store_begin nesting; 0 = none */
    int                tx_failed; /* a rollback was asked inside nesting */
    /* group commit (eng_store_durable): the WAL file, commits counted and
     * commits known to be on disk */
    int               wal_fd; /* -1: not in WAL mode, commits sync */
    pthread_mutex_t   sync_mu;
    _Atomic long long committed;
    long long         synced; /* under sync_mu */
    /* eng_store_watch's callback (sqlite3_update_hook's argument is the
     * handle itself, so there is no process-wide slot) */
    void (*watch_cb)(void *ud, const char *table);
    void *watch_ud;
};

/* The schema version this binary writes (the last migration). */
int store_schema_version(void);

void store_lock(struct eng_store *st);
void store_unlock(struct eng_store *st);

/* With the lock held: starts a write (BEGIN IMMEDIATE) unless an explicit
 * transaction is open, which it then joins. Errors: ERR_DB. */
int store_tx_begin(struct eng_store *st, struct errbuf *eb);
/* With the lock held: ends what store_tx_begin started. rc is the outcome of
 * the write: 0 commits (or, when joined, leaves it to eng_store_commit), a
 * negative value rolls back (when joined: marks the explicit transaction as
 * failed). Returns rc, or ERR_DB if the commit failed. */
int store_tx_end(struct eng_store *st, int rc, struct errbuf *eb);

/* A prepared statement for sql (cached per connection: pass a string
 * literal); give it back with store_done(), also on errors. Errors: ERR_DB
 * with SQLite's message. */
int store_prepare(struct eng_store *st, const char *sql, sqlite3_stmt **out,
    struct errbuf *eb);
/* Gives back what store_prepare() handed out; NULL is a no-op. */
void store_done(struct eng_store *st, sqlite3_stmt *s);
/* Runs sql (no results). Errors: ERR_DB. */
int store_exec(struct eng_store *st, const char *sql, struct errbuf *eb);
/* Sets eb to "database error during WHAT: <sqlite message>"; returns ERR_DB. */
int store_dberr(struct eng_store *st, struct errbuf *eb, const char *what);
/* New copy of a text column, or NULL for SQL NULL. *oom set on failure. */
char *store_col_text(sqlite3_stmt *s, int col, int *oom);
/* Current time in unix seconds. */
long long store_now(void);
/* Adds 1 to counter name (inside a write). Errors: ERR_DB. */
int store_counter_bump(struct eng_store *st, const char *name,
    struct errbuf *eb);

/* Migration v2: the runtime's tables (runs, outbox, ...), defined in
 * engine/store/store_runs.c; idempotent (CREATE ... IF NOT EXISTS). */
extern const char store_runs_schema[];

/* ---- the runtime's tables (engine/store/store_runs.c, store_outbox.c) ---- */

/* With the lock held: a prepared statement for sql (cached; pass a string
 * literal), or NULL (logged). Give it back with store_done() before
 * unlocking, also on errors. */
sqlite3_stmt *store_stmt(struct eng_store *st, const char *sql);
/* After the schema is in place: opens the WAL file for eng_store_durable. */
void store_open_wal(struct eng_store *st);

#endif
