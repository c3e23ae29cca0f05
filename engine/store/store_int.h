/* SPDX-License-Identifier: MIT */
/*
 * engine/store/store_int.h: the inside of the store, shared by the store's own
 * files: engine/store/store.c dispatches the public functions through the
 * handle's ops table; the SQLite backend is sqlite.c (open, migrations,
 * environment, applets, trustpoints, settings, credentials),
 * sqlite_runs.c (run history, idempotency keys, contexts) and
 * sqlite_outbox.c (the outbox rows); the PostgreSQL backend is pg*.c over
 * engine/store/pg_int.h.
 *
 * SQLite: one connection guarded by one recursive mutex. A function that
 * touches the database takes the lock with store_lock(), and a write wraps
 * its statements in store_tx_begin()/store_tx_end(): outside an explicit
 * transaction (eng_store_begin) that is BEGIN IMMEDIATE ... COMMIT; inside
 * one it joins it (nothing is committed until eng_store_commit). The
 * recursive mutex is what lets the thread that called eng_store_begin call
 * the single-record functions; every other thread waits until commit or
 * rollback releases the lock.
 *
 * Schema changes are forward migrations: append one entry to
 * store_migrations[] in engine/store/sqlite.c with the next version number; never
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

/* ---- the backends' ops tables (engine/store/store.c dispatches) ---------- */
/*
 * One ops table per backend: sqlite*.c and pg*.c each fill the part for
 * their file (store_sqlite_ops, store_pg_ops in their main file), with
 * static functions of the same signatures as the public ones in
 * engine/store/store.h.
 */
struct store_cfg_ops {
    void (*release_memory)(struct eng_store *st);
    int (*begin)(struct eng_store *st, struct errbuf *eb);
    int (*commit)(struct eng_store *st, struct errbuf *eb);
    void (*rollback)(struct eng_store *st);
    int (*env_put)(struct eng_store *st, const char *name, const char *value,
        int secret, int *created, struct errbuf *eb);
    int (*env_get)(struct eng_store *st, const char *name,
        struct eng_env_var *out, struct errbuf *eb);
    int (*env_del)(struct eng_store *st, const char *name, struct errbuf *eb);
    int (*env_list)(struct eng_store *st, struct eng_env_var **out, size_t *n,
        struct errbuf *eb);
    int (*applet_put)(struct eng_store *st, const char *name, const char *text,
        int *created, struct errbuf *eb);
    int (*applet_get)(struct eng_store *st, const char *name,
        struct eng_applet_rec *out, struct errbuf *eb);
    int (
        *applet_del)(struct eng_store *st, const char *name, struct errbuf *eb);
    int (*applet_list)(struct eng_store *st, struct eng_applet_rec **out,
        size_t *n, struct errbuf *eb);
    int (*tp_put)(struct eng_store *st, const struct eng_tp_rec *r,
        int *created, struct errbuf *eb);
    int (*tp_set_cert)(struct eng_store *st, const char *name,
        const unsigned char *der, size_t len, struct errbuf *eb);
    int (*tp_get)(struct eng_store *st, const char *name,
        struct eng_tp_rec *out, struct errbuf *eb);
    int (*tp_del)(struct eng_store *st, const char *name, struct errbuf *eb);
    int (*tp_list)(struct eng_store *st, struct eng_tp_rec **out, size_t *n,
        struct errbuf *eb);
    uint64_t (*trust_generation)(struct eng_store *st);
    int (*setting_get)(struct eng_store *st, const char *key, char **value,
        struct errbuf *eb);
    int (*setting_put)(struct eng_store *st, const char *key, const char *value,
        struct errbuf *eb);
    int (*cred_put)(struct eng_store *st, const struct eng_cred_rec *r,
        int *created, struct errbuf *eb);
    int (*cred_rotate)(struct eng_store *st, const char *name,
        const char *refresh_token, struct errbuf *eb);
    int (*cred_get)(struct eng_store *st, const char *name,
        struct eng_cred_rec *out, struct errbuf *eb);
    int (*cred_del)(struct eng_store *st, const char *name, struct errbuf *eb);
    int (*cred_list)(struct eng_store *st, struct eng_cred_rec **out, size_t *n,
        struct errbuf *eb);
};

struct store_run_ops {
    long long (*mark)(struct eng_store *db);
    int (*durable)(struct eng_store *db, long long seq, struct errbuf *eb);
    int (*run_insert)(struct eng_store *db, const char *applet,
        const char *trigger, const char *trigger_data, const char *replay,
        const char *status, long long now_ms, long long *id, struct errbuf *eb);
    int (*run_delete)(struct eng_store *db, long long id);
    int (*run_start)(struct eng_store *db, long long id, long long now_ms,
        struct errbuf *eb);
    int (*run_finish)(struct eng_store *db, long long id,
        const struct eng_run_end *e, struct errbuf *eb);
    int (*runs_list)(struct eng_store *db, const struct eng_run_filter *f,
        struct cJSON **out, struct errbuf *eb);
    int (*run_get)(struct eng_store *db, long long id, struct cJSON **out,
        struct errbuf *eb);
    int (*runs_prune)(struct eng_store *db, long long before_ms,
        struct errbuf *eb);
    int (*runs_recover)(struct eng_store *db, long long now_ms,
        void (*requeue)(void *ud, long long id, const char *applet,
            const char *trigger, const char *replay),
        void *ud, struct errbuf *eb);
    int (*idem_get)(struct eng_store *db, const char *applet, const char *key,
        long long since_ms, long long *run_id);
    int (*idem_put)(struct eng_store *db, const char *applet, const char *key,
        long long run_id, long long now_ms);
    int (*ctx_save)(struct eng_store *db, const char *key, const char *json);
    char *(*ctx_get)(struct eng_store *db, const char *key);
    void (*watch)(struct eng_store *db, void (*cb)(void *ud, const char *table),
        void                       *ud);
    int (*token_set)(struct eng_store *db, const char *applet,
        const char *token_sha256, const char *secret, struct errbuf *eb);
};

struct store_ob_ops {
    int (*ob_put)(struct eng_store *db, const struct eng_ob_new *m,
        long long *id, struct errbuf *eb);
    int (*ob_claim_held)(struct eng_store *db, long long id, long long now_ms,
        struct eng_ob_row *out);
    unsigned (*ob_claim_due)(struct eng_store *db, const char *skey,
        long long now_ms, unsigned max, struct eng_ob_row *out);
    unsigned (*ob_due_keys)(struct eng_store *db, long long now_ms,
        unsigned max, char **keys);
    int (*ob_req)(struct eng_store *db, long long id, char **req);
    void (*ob_release)(struct eng_store *db, const long long *ids, unsigned n);
    void (*ob_record)(struct eng_store *db, const struct eng_ob_outcome *o,
        unsigned n);
    long long (*ob_earliest)(struct eng_store *db);
    int (*ob_resume)(struct eng_store *db);
    int (*ob_list)(struct eng_store *db, const char *state,
        struct eng_ob_item **out, size_t *n, struct errbuf *eb);
    int (*ob_get)(struct eng_store *db, long long id, struct eng_ob_item *out,
        struct errbuf *eb);
    int (*ob_attempts)(struct eng_store *db, long long id, int last,
        struct eng_ob_attempt **out, size_t *n, struct errbuf *eb);
    int (*ob_requeue)(struct eng_store *db, long long id, long long now_ms,
        long long expires_ms, const char *req, const char *skey,
        struct errbuf *eb);
    int (*ob_state)(struct eng_store *db, long long id, char *state, size_t n,
        unsigned *attempts, long long *next_ms);
    long long (*ob_pending)(struct eng_store *db);
    int (*ob_census)(struct eng_store *db, struct eng_ob_census *out,
        struct errbuf *eb);
};

struct store_cluster_ops {
    int (*tick)(struct eng_store *st, long long now_ms, struct errbuf *eb);
    int (*ready)(struct eng_store *st, struct errbuf *eb);
    int (*leader)(struct eng_store *st);
    const char *(*instance)(const struct eng_store *st);
    int (*runs_adopt)(struct eng_store *db, long long now_ms,
        void (*requeue)(void *ud, long long id, const char *applet,
            const char *trigger, const char *replay),
        void *ud, struct errbuf *eb);
};

struct store_ops {
    const char *name; /* eng_store_backend */
    void (*close)(struct eng_store *st);
    const struct store_cfg_ops     *cfg;
    const struct store_run_ops     *run;
    const struct store_ob_ops      *ob;
    const struct store_cluster_ops *cluster; /* NULL: one instance */
};

extern const struct store_cfg_ops sqlite_cfg_ops;   /* sqlite.c */
extern const struct store_run_ops sqlite_run_ops;   /* sqlite_runs.c */
extern const struct store_ob_ops  sqlite_ob_ops;    /* sqlite_outbox.c */
extern const struct store_ops     store_sqlite_ops; /* sqlite.c */
/* sqlite.c: opens DATA_DIR/herald.db (eng_store_open); *out is set up and
 * uses store_sqlite_ops. */
int sqlite_open(const char *dir, struct eng_store **out, struct errbuf *eb);

struct pg; /* engine/store/pg_int.h */
/* pg.c: connects to url and migrates (eng_store_open_url). */
int pg_open(const char *dir, const char *url, struct eng_store **out,
    struct errbuf *eb);

/* The handle. ops is every backend's; the SQLite fields below are used by
 * sqlite*.c only, pg by pg*.c only; tx_depth/tx_failed, mu, dir and the
 * watch callback by both. */
struct eng_store {
    const struct store_ops *ops;
    struct pg              *pg; /* PostgreSQL's state; NULL on SQLite */
    sqlite3                *db;
    struct stmt_cache      *sc;        /* store_prepare's statements */
    pthread_mutex_t         mu;        /* recursive; guards everything below */
    char                   *dir;       /* DATA_DIR as given */
    char                   *path;      /* DATA_DIR/herald.db */
    int                     tx_depth;  /* eng_store_begin nesting; 0 = none */
    int                     tx_failed; /* a rollback was asked inside nesting */
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
 * engine/store/sqlite_runs.c; idempotent (CREATE ... IF NOT EXISTS). */
extern const char store_runs_schema[];

/* ---- the runtime's tables (engine/store/sqlite_runs.c, sqlite_outbox.c) ---- */

/* ---- eng_store_runs_list, both backends (engine/store/run_page.c) ---- */

struct store_run_page {
    unsigned      limit;        /* rows wanted: 1..500 (0 asked: 50) */
    long long     cursor;       /* ids below this one; 0: from the newest */
    const char   *delivery;     /* f->delivery, or NULL: any */
    int           failed;       /* delivery is "failed" */
    struct cJSON *page, *items; /* the answer; add rows to items */
};
/* Checks f (status, delivery, cursor; the limit capped) into *p and
 * creates the page. Errors: ERR_INVAL (eb->field names the filter),
 * ERR_NOMEM. */
int store_run_page_begin(const struct eng_run_filter *f,
    struct store_run_page *p, struct errbuf *eb);
/* With rc 0: adds next_cursor (last, the id of the last row given, when
 * more rows follow; else null) and hands the page to *out; returns 0.
 * Else frees the page and returns rc. */
int store_run_page_end(struct store_run_page *p, int rc, int more,
    long long last, struct cJSON **out);

/* With the lock held: a prepared statement for sql (cached; pass a string
 * literal), or NULL (logged). Give it back with store_done() before
 * unlocking, also on errors. */
sqlite3_stmt *store_stmt(struct eng_store *st, const char *sql);
/* After the schema is in place: opens the WAL file for eng_store_durable. */
void store_open_wal(struct eng_store *st);

#endif
