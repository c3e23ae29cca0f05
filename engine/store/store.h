/* SPDX-License-Identifier: MIT */
/*
 * engine/store/store.h: durable state; the one data-access layer: every
 * table is read and written through this header.
 *
 * Two backends behind one interface, chosen at open (docs/storage.md):
 * - SQLite, the embedded default: DATA_DIR/herald.db, one process
 *   (engine/store/sqlite*.c);
 * - PostgreSQL, for several instances sharing one database
 *   (engine/store/pg*.c, through libpq): outbox claims and queued runs are
 *   leased per instance, timers fire on one leader per cluster, and changes
 *   made by other instances are seen through eng_store_tick.
 * Nothing here names SQL. The handle is opaque (struct eng_store, which
 * dispatches through an ops table: engine/store/store_int.h), records are
 * plain data, ownership and errors are stated per function, and callbacks
 * into the caller (eng_store_watch, eng_store_runs_recover) are parameters.
 *
 * A versioned schema with forward migrations (table schema_version), every
 * write in a transaction. One connection guarded by a mutex: every
 * function is thread-safe. Opening gives a clear error for a
 * missing/unwritable directory, a corrupt database or an unreachable
 * server. When a PostgreSQL server cannot be reached, calls fail with
 * ERR_UNAVAILABLE (eb says why) and the next call reconnects.
 *
 * Records returned by *_get and *_list are new copies owned by the caller and
 * freed with the matching *_free function. Secret values are returned (the
 * engine needs them); it is the caller's duty never to print them.
 *
 * Multi-write operations (config import) use eng_store_begin/commit/rollback;
 * the single-record functions then join that transaction instead of opening
 * their own. Only the thread that began it may use the store until commit or
 * rollback (others wait on the mutex).
 */
#ifndef HERALD_ENGINE_STORE_H
#define HERALD_ENGINE_STORE_H

#include <stddef.h>
#include <stdint.h>

#include "common/err.h"

struct eng_store;

/* Opens or creates DATA_DIR/herald.db (creating dir with mode 0700 if
 * needed) and migrates the schema. Errors: ERR_IO (dir missing/unwritable;
 * eb says which path and why), ERR_DB (corrupt or newer schema). */
int eng_store_open(const char *dir, struct eng_store **out, struct errbuf *eb);
/* With url NULL or "": eng_store_open(dir). Else url is a PostgreSQL
 * connection URI ("postgresql://user:pass@host:port/db?...") or key=value
 * string: connects, and migrates the schema under an advisory lock (two
 * instances starting together do not race); dir is kept for
 * eng_store_dir. Errors: ERR_INVAL (not a PostgreSQL URL; eb never
 * repeats the password), ERR_UNAVAILABLE (server unreachable or login
 * refused: eb says which), ERR_DB (newer schema, migration failed). */
int eng_store_open_url(const char *dir, const char *url, struct eng_store **out,
    struct errbuf *eb);
void eng_store_close(struct eng_store *st); /* NULL is a no-op */
/* "sqlite" or "postgresql". */
const char *eng_store_backend(const struct eng_store *st);
/* 1 if other instances may share the database (PostgreSQL), else 0. */
int eng_store_shared(const struct eng_store *st);
/* This instance's name in leases ("host:pid:random"); "" on SQLite. */
const char *eng_store_instance(const struct eng_store *st);
/* Gives the page cache's pages and the compiled statements back to the
 * heap (SQLite: sqlite3_db_release_memory, stmt_cache_clear): for an idle
 * process, before malloc_trim(). The next query reads the pages again
 * from the file (the OS page cache) and compiles its statement again. */
void        eng_store_release_memory(struct eng_store *st);
const char *eng_store_dir(const struct eng_store *st);

int  eng_store_begin(struct eng_store *st, struct errbuf *eb);
int  eng_store_commit(struct eng_store *st, struct errbuf *eb);
void eng_store_rollback(struct eng_store *st);

/* environment variables */
struct eng_env_var {
    char     *name;
    char     *value;
    int       secret;  /* marked secret by the user */
    long long updated; /* unix seconds */
};
/* Creates or replaces. Returns 0 or ERR_DB. *created (may be NULL) is 1 if
 * the variable did not exist. */
int eng_store_env_put(struct eng_store *st, const char *name, const char *value,
    int secret, int *created, struct errbuf *eb);
int eng_store_env_get(struct eng_store *st, const char *name,
    struct eng_env_var *out, struct errbuf *eb); /* ERR_NOTFOUND */
int eng_store_env_del(struct eng_store *st, const char *name,
    struct errbuf *eb); /* ERR_NOTFOUND */
/* All variables ordered by name. */
int  eng_store_env_list(struct eng_store *st, struct eng_env_var **out,
     size_t *n, struct errbuf *eb);
void eng_env_var_clear(struct eng_env_var *v);
void eng_env_vars_free(struct eng_env_var *v, size_t n);

/* applets, stored as canonical CLI text (engine/lang/applet.h) */
struct eng_applet_rec {
    char     *name;
    char     *text;
    char     *webhook_token;  /* hex SHA-256 of the webhook bearer token
                              * (never the token); NULL unless set */
    char     *webhook_secret; /* webhook signing secret, clear (HMAC needs
                               * it); NULL unless set; a secret */
    long long created;
    long long updated;
};
int  eng_store_applet_put(struct eng_store *st, const char *name,
     const char *text, int *created, struct errbuf *eb);
int  eng_store_applet_get(struct eng_store *st, const char *name,
     struct eng_applet_rec *out, struct errbuf *eb); /* ERR_NOTFOUND */
int  eng_store_applet_del(struct eng_store *st, const char *name,
     struct errbuf *eb); /* ERR_NOTFOUND */
int  eng_store_applet_list(struct eng_store *st, struct eng_applet_rec **out,
     size_t *n, struct errbuf *eb);
void eng_applet_rec_clear(struct eng_applet_rec *r);
void eng_applet_recs_free(struct eng_applet_rec *r, size_t n);

/* trustpoints */
struct eng_tp_rec {
    char          *name;
    char          *revocation_check; /* "none" | "crl" | "ocsp" */
    char          *chain_validation; /* "stop" | "continue" */
    char          *enrollment;       /* "terminal" */
    unsigned char *cert_der;         /* NULL until authenticated */
    size_t         cert_len;
    long long      created;
    long long      cert_installed; /* 0 if no certificate */
};
/* Creates or updates the policy fields; keeps an existing certificate. */
int eng_store_tp_put(struct eng_store *st, const struct eng_tp_rec *r,
    int *created, struct errbuf *eb);
/* Sets (or with der == NULL clears) the certificate. ERR_NOTFOUND. */
int  eng_store_tp_set_cert(struct eng_store *st, const char *name,
     const unsigned char *der, size_t len, struct errbuf *eb);
int  eng_store_tp_get(struct eng_store *st, const char *name,
     struct eng_tp_rec *out, struct errbuf *eb); /* ERR_NOTFOUND */
int  eng_store_tp_del(struct eng_store *st, const char *name,
     struct errbuf *eb); /* ERR_NOTFOUND */
int  eng_store_tp_list(struct eng_store *st, struct eng_tp_rec **out, size_t *n,
     struct errbuf *eb);
void eng_tp_rec_clear(struct eng_tp_rec *r);
void eng_tp_recs_free(struct eng_tp_rec *r, size_t n);
/* Increases on every trustpoint or trust-setting change (also across
 * restarts: starts from a stored counter). Cached TLS state built from an
 * older generation must be dropped. */
uint64_t eng_store_trust_generation(struct eng_store *st);

/* settings: small key/value pairs ("trustpool" = "on"|"off", ...) */
int eng_store_setting_get(struct eng_store *st, const char *key, char **value,
    struct errbuf *eb); /* new string, ERR_NOTFOUND */
int eng_store_setting_put(struct eng_store *st, const char *key,
    const char *value, struct errbuf *eb);

/* OAuth 2.0 credentials for SMTP AUTH (migration v6; the rules are
 * engine/config/credential.h's). client_secret and refresh_token are
 * secrets: returned because the engine needs them, wiped by the clear
 * functions, never to be printed. */
struct eng_cred_rec {
    char     *name;
    char     *type;      /* "oauth2" */
    char     *grant;     /* "client_credentials" | "refresh_token" */
    char     *token_url; /* "https://..." */
    char     *client_id;
    char     *client_secret;    /* NULL: none; a secret */
    char     *refresh_token;    /* NULL: none; a secret */
    char     *scope;            /* NULL: none */
    char     *mechanism;        /* "xoauth2" | "oauthbearer" */
    long long created, updated; /* unix seconds */
    long long generation; /* changes with every put (never with a rotation):
                           * tokens cached for another one are stale */
};
/* Creates or replaces r (its created, updated and generation are ignored;
 * a new generation is taken from a stored counter). *created (may be
 * NULL) is 1 if it did not exist. Errors: ERR_DB. */
int eng_store_cred_put(struct eng_store *st, const struct eng_cred_rec *r,
    int *created, struct errbuf *eb);
/* Stores a refresh token rotated by the token endpoint; the generation
 * stays. Errors: ERR_NOTFOUND, ERR_DB. */
int eng_store_cred_rotate(struct eng_store *st, const char *name,
    const char *refresh_token, struct errbuf *eb);
int eng_store_cred_get(struct eng_store *st, const char *name,
    struct eng_cred_rec *out, struct errbuf *eb); /* ERR_NOTFOUND */
int eng_store_cred_del(struct eng_store *st, const char *name,
    struct errbuf *eb); /* ERR_NOTFOUND */
/* All credentials ordered by name. */
int  eng_store_cred_list(struct eng_store *st, struct eng_cred_rec **out,
     size_t *n, struct errbuf *eb);
void eng_cred_rec_clear(struct eng_cred_rec *r); /* wipes the secrets */
void eng_cred_recs_free(struct eng_cred_rec *r, size_t n);

/* ---- the runtime's tables (engine/store/sqlite_runs.c, pg_runs.c) ------------- */
/*
 * Run history (runs), the mail outbox, webhook idempotency keys
 * (webhook_idem) and "context save" variables (contexts), on the same
 * handle, connection and lock as everything above. Results of the get and
 * list calls are new and owned by the caller (cJSON_Delete, free).
 */
struct cJSON;

struct eng_run_filter { /* plain data; all optional */
    const char *applet;
    const char *status;   /* one status name */
    long long   since;    /* unix seconds: queued at or after */
    unsigned    limit;    /* 0: 50; at most 500 */
    const char *cursor;   /* next_cursor of the previous page */
    const char *delivery; /* none, pending, delivered or failed
                                  * (see eng_store_runs_list) */
};

/* Call after a commit returned: its number for eng_store_durable. */
long long eng_store_mark(struct eng_store *db);
/* Returns once commit seq (eng_store_mark) is on disk: waits, outside the lock,
 * for an fdatasync() of the WAL that started after that commit; one sync
 * serves every commit made meanwhile (group commit). Commits themselves use
 * synchronous=NORMAL. PostgreSQL: the writes a trigger's answer rests on
 * (a run queued, a run's outcome, configuration) commit synchronously, so
 * this returns 0; the ones that only carry work along commit
 * asynchronously (engine/store/pg_int.h, "Durability"). Errors: ERR_IO
 * (committed, but a power loss could undo it). */
int eng_store_durable(struct eng_store *db, long long seq, struct errbuf *eb);
int eng_store_run_insert(struct eng_store *db, const char *applet,
    const char *trigger, const char *trigger_data, const char *replay,
    const char *status, long long now_ms, long long *id, struct errbuf *eb);
int eng_store_run_delete(struct eng_store *db, long long id);
int eng_store_run_start(struct eng_store *db, long long id, long long now_ms,
    struct errbuf *eb);
struct eng_run_end { /* plain data, borrowed */
    const char *status;
    long long   ended_ms;
    int         exit_status;
    const char *failed_label, *error_class, *error, *output;
    const char *trace; /* JSON text or NULL */
};
int eng_store_run_finish(struct eng_store *db, long long id,
    const struct eng_run_end *e, struct errbuf *eb);
/* A RunSummary page (engine/run/runtime.h). Its "delivery" is read from
 * the outbox rows of the run: "none" (no mail), "failed" (a message with
 * the failed flag: see eng_ob_outcome), "pending" (a message not yet
 * sent), else "delivered". Filtering on "failed" starts from the index of
 * failed messages. Errors: ERR_INVAL (bad status, delivery or cursor,
 * eb->field names it), ERR_DB, ERR_NOMEM. */
int eng_store_runs_list(struct eng_store *db, const struct eng_run_filter *f,
    struct cJSON **out, struct errbuf *eb);
int eng_store_run_get(struct eng_store *db, long long id, struct cJSON **out,
    struct errbuf *eb);
/* Deletes finished runs that ended before before_ms; returns the count. */
int eng_store_runs_prune(struct eng_store *db, long long before_ms,
    struct errbuf *eb);
/* Runs left "running" by a crash go back to "queued" when they have a
 * replay record (else they are aborted, class "interrupted"); requeue is
 * called for each queued run. */
int eng_store_runs_recover(struct eng_store *db, long long now_ms,
    void (*requeue)(void *ud, long long id, const char *applet,
        const char *trigger, const char *replay),
    void *ud, struct errbuf *eb);

/* Idempotency keys: 1 and *run_id if (applet, key) was seen at or after
 * since_ms, 0 if not, <0 on error. */
int eng_store_idem_get(struct eng_store *db, const char *applet,
    const char *key, long long since_ms, long long *run_id);
int eng_store_idem_put(struct eng_store *db, const char *applet,
    const char *key, long long run_id, long long now_ms);
int eng_store_ctx_save(struct eng_store *db, const char *key, const char *json);
char *eng_store_ctx_get(struct eng_store *db, const char *key);
/* Calls cb(ud, table) after each row change of the tables "applets" and
 * "environment" made on this connection (a hook on the connection; cb runs
 * inside the write with the connection locked: it must not touch the
 * database or take locks held around store calls), and again for both
 * tables when an explicit transaction ends without committing
 * (eng_store_rollback, a failed eng_store_commit: what was read inside it
 * is not the configuration any more). cb NULL removes it. */
void eng_store_watch(struct eng_store *db,
    void (*cb)(void *ud, const char *table), void *ud);
/* Sets (NULL: clears) applet's webhook credentials: token_sha256 is the
 * hex SHA-256 of the bearer token (the token itself is never stored),
 * secret the signing secret. Errors: ERR_NOTFOUND (no such applet),
 * ERR_DB. */
int eng_store_token_set(struct eng_store *db, const char *applet,
    const char *token_sha256, const char *secret, struct errbuf *eb);
/* The SHA-256 function the v4 migration hashes clear webhook tokens of
 * older databases with (the store does not link cryptography itself; the
 * server passes pki_sha256). Call before eng_store_open(); process-wide.
 * Without it, opening a database that still holds clear tokens fails
 * with ERR_INTERNAL. */
void eng_store_set_digest(
    int (*sha256)(const void *msg, size_t len, unsigned char out[32]));

/* ---- several instances (PostgreSQL; trivial on SQLite) ------------------ */

/* Once a second, from one thread, outside any transaction: for a shared
 * database renews this instance's leases (queued and running runs, messages
 * being sent), reads the generations other instances moved (then calls the
 * eng_store_watch callback for "applets" and "environment", and
 * eng_store_trust_generation moves), and tries for the timer leadership.
 * Reconnects a lost connection. Returns 0, or ERR_UNAVAILABLE (the
 * database is unreachable: eb says why). SQLite: returns 0. */
int eng_store_tick(struct eng_store *st, long long now_ms, struct errbuf *eb);
/* 1 if the database answered the last call (or tick), else 0 and eb (may
 * be NULL) says why; does not itself contact the server. SQLite: 1. */
int eng_store_ready(struct eng_store *st, struct errbuf *eb);
/* 1 if this instance fires the cluster's timers: it holds the leader
 * lock (a PostgreSQL advisory lock taken by eng_store_tick; lost with the
 * connection). SQLite: 1. */
int eng_store_leader(struct eng_store *st);
/* Runs whose lease expired (their instance died) are taken over by this
 * one as eng_store_runs_recover does at start: with a replay record they
 * are queued again and requeue is called, else they are aborted, class
 * "interrupted". Returns how many were taken. SQLite: 0. */
int eng_store_runs_adopt(struct eng_store *db, long long now_ms,
    void (*requeue)(void *ud, long long id, const char *applet,
        const char *trigger, const char *replay),
    void *ud, struct errbuf *eb);

/* ---- the outbox table (engine/store/sqlite_outbox.c, pg_outbox.c) ---------------------------- */
/*
 * Rows only: the outbox (engine/outbox/outbox.c) decides states and retry times.
 * The request text (req) is JSON that holds the SMTP password: a secret,
 * wiped by the *_clear/_free functions.
 */
struct eng_ob_new {     /* plain data, borrowed */
    long long   run_id; /* <= 0: none (stored as NULL) */
    const char *applet;
    int         hold; /* stored claimed ("sending"), not queued */
    const char *skey; /* session key: same server and account */
    const char *req;  /* request JSON (secret) */
    long long   now_ms, expires_ms;
};
/* Stores a new message; *id (may be NULL) its id. Errors: ERR_DB. */
int eng_store_ob_put(struct eng_store *db, const struct eng_ob_new *m,
    long long *id, struct errbuf *eb);

struct eng_ob_row {       /* a claimed message; clear with below */
    long long id, run_id; /* run_id 0: none */
    unsigned  attempts;   /* attempts made so far */
    long long expires_ms;
    char     *skey;
    char     *req; /* request JSON (secret) */
};
void eng_ob_row_clear(struct eng_ob_row *r); /* wipes req; NULL no-op */
/* Loads message id, which the caller stored held, into *out (clear it).
 * Errors: ERR_NOTFOUND (gone or no longer queued/sending), ERR_DB,
 * ERR_NOMEM. */
int eng_store_ob_claim_held(struct eng_store *db, long long id,
    long long now_ms, struct eng_ob_row *out);
/* Claims up to max due messages (queued -> sending) in one write, oldest
 * due first, only those for session key skey unless it is NULL, into
 * out[0..n) (clear each). Returns n. A row that cannot be loaded is left
 * claimed and logged (a restart queues it again). */
unsigned eng_store_ob_claim_due(struct eng_store *db, const char *skey,
    long long now_ms, unsigned max, struct eng_ob_row *out);
/* Up to max distinct session keys that have due messages, the key due
 * earliest first, as new strings in keys[0..n) (free() each). Returns n. */
unsigned eng_store_ob_due_keys(struct eng_store *db, long long now_ms,
    unsigned max, char **keys);
/* Puts claimed messages back in the queue (sending -> queued). */
void eng_store_ob_release(struct eng_store *db, const long long *ids,
    unsigned n);

struct eng_ob_outcome { /* plain data, borrowed */
    long long   id;
    int         sent;     /* 1: delivered */
    const char *state;    /* "sent", "queued" or "dead" */
    unsigned    attempts; /* including this one */
    long long   now_ms, next_ms;
    const char *klass;   /* failed: error class */
    int         code;    /* SMTP reply code */
    const char *message; /* sent: the reply; failed: the reason */
    const char *advice;  /* failed: what to do, or NULL */
    int         permanent;
    int         failed; /* 1: dead, or retried after a failure
                                  * that will not heal by itself (the
                                  * outbox decides); cleared by a requeue */
    const char *req;    /* sent or dead: the request without
                                  * secrets, or NULL to keep it */
    const char *trace;  /* the attempt's trace, JSON text without
                                  * secrets, or NULL */
};
/* Attempts kept per message: the first and the last ENG_OB_ATTEMPTS_LAST. */
#define ENG_OB_ATTEMPTS_LAST 5
/* Records n outcomes and one attempt row each (table outbox_attempts,
 * pruned to the first and the last ENG_OB_ATTEMPTS_LAST of the message),
 * all in one transaction (one WAL write for a batch). Failures are
 * logged: a message left "sending" is sent again after a restart. */
void eng_store_ob_record(struct eng_store *db, const struct eng_ob_outcome *o,
    unsigned n);
/* The earliest next attempt of a queued message, or 0 if none. */
long long eng_store_ob_earliest(struct eng_store *db);
/* Messages left "sending" (by a crash) go back to "queued"; returns how
 * many. */
int eng_store_ob_resume(struct eng_store *db);

struct eng_ob_item { /* a listed message; free with below */
    long long id;
    int       has_run; /* run_id is set */
    long long run_id;
    char     *applet, *state;
    char     *req; /* request JSON (secret) */
    unsigned  attempts;
    long long created_ms, next_ms, expires_ms;
    long long sent_ms; /* 0: not sent */
    int       has_last_error;
    char     *last_klass, *last_message;
    int       last_code, last_permanent;
    int       failed; /* see eng_ob_outcome */
};
void eng_ob_items_free(struct eng_ob_item *v, size_t n); /* wipes req */
void eng_ob_item_clear(struct eng_ob_item *it); /* wipes req; NULL no-op */
/* Message id into *out (clear it). Errors: ERR_NOTFOUND, ERR_NOMEM,
 * ERR_DB. */
int eng_store_ob_get(struct eng_store *db, long long id,
    struct eng_ob_item *out, struct errbuf *eb);

struct eng_ob_attempt { /* a recorded attempt; free with below */
    unsigned  n;        /* 1: the message's first attempt */
    long long at_ms;
    int       ok;               /* 1: the server took the message */
    char     *klass;            /* NULL when ok */
    int       code;             /* last SMTP reply code, 0 if none */
    char     *message, *advice; /* ok: the server's reply; advice NULL */
    int       permanent;
    char     *trace; /* JSON text or NULL */
};
void eng_ob_attempts_free(struct eng_ob_attempt *v, size_t n);
/* The kept attempts of message id, oldest first, as a new array in *out
 * (none: NULL, 0); with last only the newest. Errors: ERR_DB, ERR_NOMEM. */
int eng_store_ob_attempts(struct eng_store *db, long long id, int last,
    struct eng_ob_attempt **out, size_t *n, struct errbuf *eb);
/* The newest 500 messages (in state unless NULL), newest first; new array
 * in *out. Errors: ERR_DB. */
int eng_store_ob_list(struct eng_store *db, const char *state,
    struct eng_ob_item **out, size_t *n, struct errbuf *eb);
/* Queues a dead or queued message again, due now_ms, dead-lettered at
 * expires_ms, with a new request and session key unless they are NULL;
 * clears its failed flag (its attempts stay).
 * Errors: ERR_NOTFOUND, ERR_INVAL (in another state), ERR_DB. */
int eng_store_ob_requeue(struct eng_store *db, long long id, long long now_ms,
    long long expires_ms, const char *req, const char *skey, struct errbuf *eb);
/* The request JSON of message id (a secret while it holds a password) as
 * a new string in *req. Errors: ERR_NOTFOUND, ERR_NOMEM, ERR_DB. */
int eng_store_ob_req(struct eng_store *db, long long id, char **req);
/* State (into state[n]), attempts and next attempt of message id; any
 * out pointer may be NULL. Errors: ERR_NOTFOUND. */
int eng_store_ob_state(struct eng_store *db, long long id, char *state,
    size_t n, unsigned *attempts, long long *next_ms);
/* Messages queued or being sent. */
long long eng_store_ob_pending(struct eng_store *db);

struct eng_ob_census { /* the outbox now, for GET /metrics */
    long long queued, sending, sent, dead; /* messages in each state */
    long long oldest_ms; /* created_ms of the oldest message queued
                                    or being sent; 0: none */
};
/* Counts the messages by state (one indexed COUNT ... GROUP BY). Errors:
 * ERR_DB. */
int eng_store_ob_census(struct eng_store *db, struct eng_ob_census *out,
    struct errbuf *eb);

#endif
