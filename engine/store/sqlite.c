/* SPDX-License-Identifier: MIT */
/*
 * engine/store/sqlite.c: the SQLite backend (DATA_DIR/herald.db), the
 * embedded default.
 *
 * Opens the database with WAL, foreign keys, a busy timeout and
 * synchronous=NORMAL, migrates the schema forward through store_migrations[]
 * (table schema_version), and implements the environment, applet, trustpoint
 * and settings records of engine/store/store.h. Every write runs in a transaction
 * (store_tx_begin/store_tx_end, see store_int.h). Trustpoint and trust
 * setting changes bump the persistent counter "trust_generation" in the same
 * transaction, so that TLS state cached from older trust is dropped, also
 * across restarts.
 */
#include "engine/store/store_int.h"
#include "engine/store/sqlite_vfs.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "common/log.h"
#include "common/sec.h"

/* ---- schema ------------------------------------------------------------ */

struct store_migration {
    int         version;
    const char *sql;
    /* then this, in the same transaction (NULL: nothing) */
    int (*fn)(struct eng_store *, struct errbuf *);
};

static void sq_close(struct eng_store *st);
static int  store_hash_tokens(struct eng_store *st, struct errbuf *eb);
static int  store_outbox_failed(struct eng_store *st, struct errbuf *eb);

static const struct store_migration store_migrations[] = {
    { 1,
        "CREATE TABLE environment ("
        " name TEXT PRIMARY KEY,"
        " value TEXT NOT NULL,"
        " secret INTEGER NOT NULL DEFAULT 0,"
        " updated INTEGER NOT NULL);"
        "CREATE TABLE applets ("
        " name TEXT PRIMARY KEY,"
        " text TEXT NOT NULL,"
        " webhook_token TEXT,"
        " created INTEGER NOT NULL,"
        " updated INTEGER NOT NULL);"
        "CREATE TABLE trustpoints ("
        " name TEXT PRIMARY KEY,"
        " revocation_check TEXT NOT NULL DEFAULT 'none',"
        " chain_validation TEXT NOT NULL DEFAULT 'continue',"
        " enrollment TEXT NOT NULL DEFAULT 'terminal',"
        " cert_der BLOB,"
        " created INTEGER NOT NULL,"
        " cert_installed INTEGER NOT NULL DEFAULT 0);"
        "CREATE TABLE settings ("
        " key TEXT PRIMARY KEY,"
        " value TEXT NOT NULL);"
        "CREATE TABLE counters ("
        " name TEXT PRIMARY KEY,"
        " value INTEGER NOT NULL);"
        "INSERT INTO counters (name, value) VALUES ('trust_generation', 1);",
        NULL },
    /* v2: the runtime's runs, outbox, webhook_idem, contexts (sqlite_runs.c;
     * also run on every start, so it holds the current DDL) */
    { 2, store_runs_schema, NULL },
    /* v3: fewer index pages written per run: listing runs by status and
     * the recovery at start scan the table instead; pruning uses the
     * partial index runs_done */
    { 3,
        "DROP INDEX IF EXISTS runs_status;"
        "DROP INDEX IF EXISTS runs_ended;"
        "CREATE INDEX IF NOT EXISTS runs_done ON runs(ended_ms)"
        " WHERE ended_ms IS NOT NULL;",
        NULL },
    /* v4: webhook credentials (docs/design.md, "Webhook credentials"): the
     * bearer token only as its SHA-256, the signing secret apart from it.
     * Clear tokens are hashed and cleared (store_hash_tokens); they keep
     * working as bearer tokens, not as signing keys. The two columns are
     * added there too, when missing. webhook_token is unused from here
     * on. */
    { 4, "", store_hash_tokens },
    /* v5: runs know their mail's fate (sqlite_outbox.c): each delivery
     * attempt's result and trace (the first and the last five of a
     * message), a message's failed flag (dead, or retried after a failure
     * that will not heal by itself), a run's messages by run id, and the
     * failed ones through a small partial index */
    { 5,
        "CREATE TABLE IF NOT EXISTS outbox_attempts ("
        " msg_id INTEGER NOT NULL REFERENCES outbox(id) ON DELETE CASCADE,"
        " n INTEGER NOT NULL, at_ms INTEGER NOT NULL, ok INTEGER NOT NULL,"
        " klass TEXT, code INTEGER, message TEXT, advice TEXT,"
        " permanent INTEGER NOT NULL DEFAULT 0, trace TEXT,"
        " PRIMARY KEY (msg_id, n));"
        "CREATE INDEX IF NOT EXISTS outbox_run ON outbox(run_id);",
        store_outbox_failed },
    /* v6: OAuth 2.0 credentials for SMTP AUTH XOAUTH2/OAUTHBEARER (issue
     * 13). Secrets (client_secret, refresh_token) are kept like the SMTP
     * password and secret variables: in this file only, never in a
     * response. generation is the value of the counter
     * "credential_generation" at the last change of the row: a token
     * cached for an older generation is dropped. A rotated refresh token
     * does not change it. */
    { 6,
        "CREATE TABLE IF NOT EXISTS credentials ("
        " name TEXT PRIMARY KEY,"
        " type TEXT NOT NULL DEFAULT 'oauth2',"
        " grant_type TEXT NOT NULL,"
        " token_url TEXT NOT NULL,"
        " client_id TEXT NOT NULL,"
        " client_secret TEXT,"
        " refresh_token TEXT,"
        " scope TEXT,"
        " mechanism TEXT NOT NULL DEFAULT 'xoauth2',"
        " created INTEGER NOT NULL,"
        " updated INTEGER NOT NULL,"
        " generation INTEGER NOT NULL DEFAULT 1);"
        "INSERT OR IGNORE INTO counters (name, value)"
        " VALUES ('credential_generation', 0);",
        NULL },
};

#define STORE_NMIGRATIONS                                                      \
    (sizeof(store_migrations) / sizeof(store_migrations[0]))

/* ---- webhook token digests (migration v4) -------------------------------- */

static int (*store_digest)(const void *, size_t, unsigned char[32]);

void
eng_store_set_digest(
    int (*sha256)(const void *msg, size_t len, unsigned char out[32]))
{
    store_digest = sha256;
}

/* 1 if table has column col, 0 if not, -1 on error. */
static int
store_has_column(struct eng_store *st, const char *table, const char *col)
{
    sqlite3_stmt *s = NULL;
    char          sql[128];
    int           found = 0, rc;

    snprintf(sql, sizeof(sql), "PRAGMA table_info(%s)", table);
    if (sqlite3_prepare_v2(st->db, sql, -1, &s, NULL) != SQLITE_OK)
        return -1;
    while ((rc = sqlite3_step(s)) == SQLITE_ROW)
        if (strcmp((const char *)sqlite3_column_text(s, 1), col) == 0)
            found = 1;
    sqlite3_finalize(s);
    return rc == SQLITE_DONE ? found : -1;
}

/* ALTER TABLE table ADD COLUMN col decl, unless the column is there (a
 * migration may meet a database that a newer binary had already changed;
 * SQLite has no ADD COLUMN IF NOT EXISTS). Errors: ERR_DB. */
static int
store_add_column(struct eng_store *st, const char *table, const char *col,
    const char *decl, struct errbuf *eb)
{
    char sql[192];
    int  has = store_has_column(st, table, col);

    if (has < 0)
        return store_dberr(st, eb, "reading a table's columns");
    if (has)
        return 0;
    snprintf(sql, sizeof(sql), "ALTER TABLE %s ADD COLUMN %s %s", table, col,
        decl);
    return store_exec(st, sql, eb);
}

/* Migration v5's column: a message's failed flag, set for the dead ones,
 * and the partial index of the flagged messages by run. */
static int
store_outbox_failed(struct eng_store *st, struct errbuf *eb)
{
    int rc;

    if ((rc = store_add_column(st, "outbox", "failed",
             "INTEGER NOT NULL DEFAULT 0", eb))
        != 0)
        return rc;
    return store_exec(st,
        "UPDATE outbox SET failed=1 WHERE state='dead';"
        "CREATE INDEX IF NOT EXISTS outbox_failed ON outbox(run_id)"
        " WHERE failed=1;",
        eb);
}

/* Adds the columns webhook_token_sha256 and webhook_secret (unless there)
 * and replaces every clear webhook token by the hex SHA-256 of it. */
static int
store_hash_tokens(struct eng_store *st, struct errbuf *eb)
{
    static const char *const cols[] = { "webhook_token_sha256",
        "webhook_secret" };
    sqlite3_stmt            *sel = NULL, *upd = NULL;
    unsigned char            d[32];
    char                     hex[65];
    int                      rc = 0, n = 0;

    for (size_t i = 0; i < 2; i++)
        if ((rc = store_add_column(st, "applets", cols[i], "TEXT", eb)) != 0)
            return rc;
    /* the old values are zeroed in the file, not just unlinked */
    if ((rc = store_exec(st, "PRAGMA secure_delete = ON", eb)) != 0)
        return rc;
    if (sqlite3_prepare_v2(st->db,
            "SELECT name, webhook_token FROM applets"
            " WHERE webhook_token IS NOT NULL",
            -1, &sel, NULL)
            != SQLITE_OK
        || sqlite3_prepare_v2(st->db,
               "UPDATE applets SET webhook_token = NULL,"
               " webhook_token_sha256 = ?1, webhook_secret = NULL"
               " WHERE name = ?2",
               -1, &upd, NULL)
            != SQLITE_OK) {
        rc = store_dberr(st, eb, "hashing webhook tokens");
        goto out;
    }
    while ((rc = sqlite3_step(sel)) == SQLITE_ROW) {
        const char *tok = (const char *)sqlite3_column_text(sel, 1);
        int         len = sqlite3_column_bytes(sel, 1);

        if (store_digest == NULL) {
            rc = err_set(eb, ERR_INTERNAL, "internal",
                "database %s holds "
                "clear webhook tokens to hash, and no digest function was "
                "set (eng_store_set_digest)",
                st->path);
            goto out;
        }
        if (tok == NULL || store_digest(tok, (size_t)len, d) != 0) {
            rc = err_set(eb, ERR_INTERNAL, "internal",
                "cannot hash a webhook token");
            goto out;
        }
        for (int i = 0; i < 32; i++)
            snprintf(hex + 2 * i, 3, "%02x", d[i]);
        sqlite3_reset(upd);
        sqlite3_bind_text(upd, 1, hex, 64, SQLITE_TRANSIENT);
        sqlite3_bind_text(upd, 2, (const char *)sqlite3_column_text(sel, 0), -1,
            SQLITE_TRANSIENT);
        if (sqlite3_step(upd) != SQLITE_DONE) {
            rc = store_dberr(st, eb, "hashing webhook tokens");
            goto out;
        }
        n++;
    }
    if (rc != SQLITE_DONE) {
        rc = store_dberr(st, eb, "hashing webhook tokens");
        goto out;
    }
    rc = 0;
    if (n > 0)
        log_info("store",
            "event=webhook-tokens-hashed count=%d note=\"bearer "
            "tokens keep working; signing now needs a signing secret from "
            "PUT /api/v1/applets/{name}/webhook\"",
            n);
out:
    sqlite3_finalize(sel);
    sqlite3_finalize(upd);
    sec_wipe(d, sizeof(d));
    store_exec(st, "PRAGMA secure_delete = OFF", NULL);
    return rc;
}

int
store_schema_version(void)
{
    return store_migrations[STORE_NMIGRATIONS - 1].version;
}

/* ---- helpers (store_int.h) ---------------------------------------------- */

void
store_lock(struct eng_store *st)
{
    pthread_mutex_lock(&st->mu);
}

void
store_unlock(struct eng_store *st)
{
    pthread_mutex_unlock(&st->mu);
}

int
store_dberr(struct eng_store *st, struct errbuf *eb, const char *what)
{
    return err_set(eb, ERR_DB, "database_error", "database error during %s: %s",
        what, sqlite3_errmsg(st->db));
}

int
store_exec(struct eng_store *st, const char *sql, struct errbuf *eb)
{
    char *msg = NULL;
    int   rc;

    if (sqlite3_exec(st->db, sql, NULL, NULL, &msg) == SQLITE_OK)
        return 0;
    rc = err_set(eb, ERR_DB, "database_error", "database error: %s",
        msg ? msg : sqlite3_errmsg(st->db));
    sqlite3_free(msg);
    return rc;
}

int
store_prepare(struct eng_store *st, const char *sql, sqlite3_stmt **out,
    struct errbuf *eb)
{
    if (stmt_cache_get(st->sc, sql, out) != SQLITE_OK)
        return store_dberr(st, eb, "prepare");
    return 0;
}

sqlite3_stmt *
store_stmt(struct eng_store *st, const char *sql)
{
    sqlite3_stmt *s = NULL;

    if (stmt_cache_get(st->sc, sql, &s) != SQLITE_OK || s == NULL) {
        log_err("store", "event=sql-prepare error=\"%s\"",
            sqlite3_errmsg(st->db));
        return NULL;
    }
    return s;
}

void
store_done(struct eng_store *st, sqlite3_stmt *s)
{
    stmt_cache_put(st->sc, s);
}

char *
store_col_text(sqlite3_stmt *s, int col, int *oom)
{
    const unsigned char *t = sqlite3_column_text(s, col);
    char                *p;

    if (t == NULL)
        return NULL;
    if ((p = strdup((const char *)t)) == NULL)
        *oom = 1;
    return p;
}

long long
store_now(void)
{
    return (long long)time(NULL);
}

int
store_tx_begin(struct eng_store *st, struct errbuf *eb)
{
    if (st->tx_depth > 0)
        return 0; /* join the explicit transaction */
    return store_exec(st, "BEGIN IMMEDIATE", eb);
}

int
store_tx_end(struct eng_store *st, int rc, struct errbuf *eb)
{
    if (st->tx_depth > 0) {
        if (rc != 0)
            st->tx_failed = 1;
        return rc;
    }
    if (rc != 0) {
        store_exec(st, "ROLLBACK", NULL);
        return rc;
    }
    if ((rc = store_exec(st, "COMMIT", eb)) != 0)
        store_exec(st, "ROLLBACK", NULL);
    return rc;
}

int
store_counter_bump(struct eng_store *st, const char *name, struct errbuf *eb)
{
    sqlite3_stmt *s = NULL;
    int           rc;

    if ((rc = store_prepare(st,
             "INSERT INTO counters (name, value) VALUES (?1, 1) "
             "ON CONFLICT(name) DO UPDATE SET value = value + 1",
             &s, eb))
        != 0)
        return rc;
    sqlite3_bind_text(s, 1, name, -1, SQLITE_STATIC);
    if (sqlite3_step(s) != SQLITE_DONE)
        rc = store_dberr(st, eb, "counter update");
    store_done(st, s);
    return rc;
}

/* ---- open / close ------------------------------------------------------- */

/* mkdir -p with mode 0700 for the directories it creates. */
static int
store_mkdirs(const char *dir, struct errbuf *eb)
{
    char       *p, *q;
    struct stat sb;
    int         rc = 0;

    if (stat(dir, &sb) == 0) {
        if (!S_ISDIR(sb.st_mode))
            return err_set(eb, ERR_IO, "data_dir",
                "data directory %s is not a directory", dir);
        return 0;
    }
    if ((p = strdup(dir)) == NULL)
        return err_set(eb, ERR_NOMEM, "internal", "out of memory");
    for (q = p + 1;; q++) {
        if (*q != '/' && *q != '\0')
            continue;
        char c = *q;
        *q = '\0';
        if (mkdir(p, 0700) != 0 && errno != EEXIST) {
            rc = err_set(eb, ERR_IO, "data_dir",
                "data directory %s cannot be created: %s", dir,
                strerror(errno));
            break;
        }
        *q = c;
        if (c == '\0')
            break;
    }
    free(p);
    if (rc == 0 && (stat(dir, &sb) != 0 || !S_ISDIR(sb.st_mode)))
        rc = err_set(eb, ERR_IO, "data_dir",
            "data directory %s cannot be created: %s", dir,
            errno ? strerror(errno) : "not a directory");
    return rc;
}

/* Checks that files can be created in dir (root passes access(2), so try). */
static int
store_check_writable(const char *dir, struct errbuf *eb)
{
    char path[4096];
    int  fd;

    snprintf(path, sizeof(path), "%s/.herald-write-test.%ld", dir,
        (long)getpid());
    if ((fd = open(path, O_WRONLY | O_CREAT | O_EXCL, 0600)) < 0)
        return err_set(eb, ERR_IO, "data_dir",
            "data directory %s is not writable: %s", dir, strerror(errno));
    close(fd);
    unlink(path);
    return 0;
}

static int
store_corrupt(struct eng_store *st, struct errbuf *eb)
{
    return err_set(eb, ERR_DB, "database_corrupt",
        "database %s is corrupt or not a SQLite database (%s); move it "
        "aside or restore a backup",
        st->path, sqlite3_errmsg(st->db));
}

static int
store_busy(struct eng_store *st, struct errbuf *eb)
{
    return err_set(eb, ERR_DB, "database_busy",
        "database %s is in use by another process (is another herald "
        "running on this data directory?)",
        st->path);
}

static int
store_is_corrupt_rc(int rc)
{
    rc &= 0xff;
    return rc == SQLITE_NOTADB || rc == SQLITE_CORRUPT;
}

static int
store_get_version(struct eng_store *st, int *version, struct errbuf *eb)
{
    sqlite3_stmt *s = NULL;
    int           rc;

    *version = 0;
    rc = sqlite3_prepare_v2(st->db,
        "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND "
        "name = 'schema_version'",
        -1, &s, NULL);
    if (rc != SQLITE_OK || sqlite3_step(s) != SQLITE_ROW) {
        rc = sqlite3_errcode(st->db);
        sqlite3_finalize(s);
        return store_is_corrupt_rc(rc) ? store_corrupt(st, eb)
                                       : store_dberr(st, eb, "open");
    }
    int have = sqlite3_column_int(s, 0);
    sqlite3_finalize(s);
    if (!have)
        return 0;
    if (sqlite3_prepare_v2(st->db, "SELECT max(version) FROM schema_version",
            -1, &s, NULL)
            != SQLITE_OK
        || sqlite3_step(s) != SQLITE_ROW) {
        sqlite3_finalize(s);
        return store_dberr(st, eb, "reading schema_version");
    }
    *version = sqlite3_column_int(s, 0);
    sqlite3_finalize(s);
    return 0;
}

static int
store_migrate(struct eng_store *st, struct errbuf *eb)
{
    int version, rc;

    if ((rc = store_exec(st, "BEGIN IMMEDIATE", eb)) != 0) {
        if (store_is_corrupt_rc(sqlite3_errcode(st->db)))
            return store_corrupt(st, eb);
        if (sqlite3_errcode(st->db) == SQLITE_BUSY)
            return store_busy(st, eb);
        return rc;
    }
    if ((rc = store_get_version(st, &version, eb)) != 0)
        goto fail;
    if (version > store_schema_version()) {
        rc = err_set(eb, ERR_DB, "schema_too_new",
            "database %s has schema version %d, newer than this herald "
            "(%s) understands (%d); run a newer herald",
            st->path, version, HERALD_VERSION, store_schema_version());
        goto fail;
    }
    if (version == 0
        && (rc = store_exec(st,
                "CREATE TABLE schema_version (version INTEGER NOT NULL, "
                "applied INTEGER NOT NULL)",
                eb))
            != 0)
        goto fail;
    for (size_t i = 0; i < STORE_NMIGRATIONS; i++) {
        const struct store_migration *m = &store_migrations[i];
        sqlite3_stmt                 *s = NULL;

        if (m->version <= version)
            continue;
        if ((rc = store_exec(st, m->sql, eb)) != 0)
            goto fail;
        if (m->fn != NULL && (rc = m->fn(st, eb)) != 0)
            goto fail;
        if ((rc = store_prepare(st,
                 "INSERT INTO schema_version (version, applied) "
                 "VALUES (?1, ?2)",
                 &s, eb))
            != 0)
            goto fail;
        sqlite3_bind_int(s, 1, m->version);
        sqlite3_bind_int64(s, 2, store_now());
        if (sqlite3_step(s) != SQLITE_DONE)
            rc = store_dberr(st, eb, "recording migration");
        store_done(st, s);
        if (rc != 0)
            goto fail;
        log_info("store", "event=migrate version=%d", m->version);
    }
    if ((rc = store_exec(st, "COMMIT", eb)) != 0)
        goto fail;
    return 0;
fail:
    store_exec(st, "ROLLBACK", NULL);
    return rc;
}

/* Process-wide SQLite settings, before SQLite initializes. No initial
 * bulk allocation for the page cache (SQLite's default is 20 pages, ~87 KB
 * that stay resident for the life of the connection, also in an idle
 * process): pages are allocated as the cache fills and handed back by
 * sqlite3_db_release_memory (sq_release_memory). A call made after SQLite
 * has initialized (a test that used it first) fails harmlessly. */
static void
sq_config(void)
{
    (void)sqlite3_config(SQLITE_CONFIG_PAGECACHE, NULL, 0, 0);
}

int
sqlite_open(const char *dir, struct eng_store **out, struct errbuf *eb)
{
    static pthread_once_t once = PTHREAD_ONCE_INIT;

    struct eng_store   *st;
    pthread_mutexattr_t ma;
    size_t              n;
    int                 rc;

    *out = NULL;
    pthread_once(&once, sq_config);
    if (dir == NULL || *dir == '\0')
        return err_set(eb, ERR_IO, "data_dir", "data directory is empty");
    if ((rc = store_mkdirs(dir, eb)) != 0)
        return rc;
    if ((rc = store_check_writable(dir, eb)) != 0)
        return rc;
    if ((st = calloc(1, sizeof(*st))) == NULL)
        return err_set(eb, ERR_NOMEM, "internal", "out of memory");
    st->ops = &store_sqlite_ops;
    pthread_mutexattr_init(&ma);
    pthread_mutexattr_settype(&ma, PTHREAD_MUTEX_RECURSIVE);
    pthread_mutex_init(&st->mu, &ma);
    pthread_mutexattr_destroy(&ma);
    pthread_mutex_init(&st->sync_mu, NULL);
    st->wal_fd = -1;
    n = strlen(dir) + sizeof("/herald.db");
    st->dir = strdup(dir);
    st->path = malloc(n);
    if (st->dir == NULL || st->path == NULL) {
        rc = err_set(eb, ERR_NOMEM, "internal", "out of memory");
        goto fail;
    }
    snprintf(st->path, n, "%s/herald.db", dir);
    /* the default VFS, but a WAL frame in one write (sqlite_vfs.h) */
    if (store_vfs_register() != SQLITE_OK)
        log_warn("store",
            "event=vfs-unavailable note=\"the default SQLite "
            "VFS writes each WAL frame in two calls\"");
    if (sqlite3_open_v2(st->path, &st->db,
            SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_FULLMUTEX,
            sqlite3_vfs_find(STORE_VFS_NAME) != NULL ? STORE_VFS_NAME : NULL)
        != SQLITE_OK) {
        rc = err_set(eb, ERR_IO, "database_open",
            "database %s cannot be opened: %s", st->path,
            st->db ? sqlite3_errmsg(st->db) : "out of memory");
        goto fail;
    }
    if ((st->sc = stmt_cache_new(st->db)) == NULL) {
        rc = err_set(eb, ERR_NOMEM, "internal", "out of memory");
        goto fail;
    }
    sqlite3_busy_timeout(st->db, 5000);
    sqlite3_extended_result_codes(st->db, 0);
    /* herald is the database's only user: an exclusive lock, taken on
     * first use and kept, spares two fcntl() calls per transaction and the
     * shared-memory WAL index, and refuses a second herald on the same
     * directory (docs/design.md) */
    if ((rc = store_exec(st, "PRAGMA locking_mode=EXCLUSIVE", eb)) != 0)
        goto fail;
    if ((rc = store_exec(st, "PRAGMA journal_mode=WAL", eb)) != 0) {
        if (store_is_corrupt_rc(sqlite3_errcode(st->db)))
            rc = store_corrupt(st, eb);
        else if (sqlite3_errcode(st->db) == SQLITE_BUSY)
            rc = store_busy(st, eb);
        goto fail;
    }
    if ((rc = store_exec(st,
             "PRAGMA foreign_keys=ON; PRAGMA synchronous=NORMAL", eb))
        != 0)
        goto fail;
    if ((rc = store_migrate(st, eb)) != 0)
        goto fail;
    store_lock(st);
    store_open_wal(st);
    store_unlock(st);
    *out = st;
    log_info("store", "event=open path=%s schema=%d", st->path,
        store_schema_version());
    return 0;
fail:
    sq_close(st);
    return rc;
}

static void
sq_close(struct eng_store *st)
{
    if (st == NULL)
        return;
    stmt_cache_free(st->sc);
    if (st->db)
        sqlite3_close_v2(st->db);
    if (st->wal_fd >= 0)
        close(st->wal_fd);
    pthread_mutex_destroy(&st->sync_mu);
    pthread_mutex_destroy(&st->mu);
    free(st->dir);
    free(st->path);
    free(st);
}

static void
sq_release_memory(struct eng_store *st)
{
    store_lock(st);
    stmt_cache_clear(st->sc); /* none is out: we hold the lock */
    sqlite3_db_release_memory(st->db);
    store_unlock(st);
}

/* ---- explicit transactions --------------------------------------------- */

/*
 * begin takes the lock and keeps it until the matching commit/rollback, so
 * other threads wait. Nested begin/commit pairs join the outer transaction;
 * a rollback anywhere makes the outermost commit roll back (and fail).
 */
static int
sq_begin(struct eng_store *st, struct errbuf *eb)
{
    int rc;

    store_lock(st);
    if (st->tx_depth == 0) {
        if ((rc = store_exec(st, "BEGIN IMMEDIATE", eb)) != 0) {
            store_unlock(st);
            return rc;
        }
        st->tx_failed = 0;
    }
    st->tx_depth++;
    return 0;
}

static int
sq_commit(struct eng_store *st, struct errbuf *eb)
{
    int rc = 0;

    if (st->tx_depth <= 0)
        return err_set(eb, ERR_INTERNAL, "internal",
            "commit without a transaction");
    if (--st->tx_depth == 0) {
        if (st->tx_failed) {
            store_exec(st, "ROLLBACK", NULL);
            rc = err_set(eb, ERR_DB, "database_error",
                "transaction rolled back: an operation inside it failed");
        } else if ((rc = store_exec(st, "COMMIT", eb)) != 0) {
            store_exec(st, "ROLLBACK", NULL);
        }
        st->tx_failed = 0;
    }
    store_unlock(st);
    return rc;
}

static void
sq_rollback(struct eng_store *st)
{
    if (st->tx_depth <= 0)
        return;
    st->tx_failed = 1;
    if (--st->tx_depth == 0) {
        store_exec(st, "ROLLBACK", NULL);
        st->tx_failed = 0;
    }
    store_unlock(st);
}

/* ---- generic record helpers --------------------------------------------- */

/* DELETE ... WHERE name = ?1 in a write; ERR_NOTFOUND naming what (e.g.
 * "applet X does not exist") when no row went; bump_trust: a trust change. */
static int
store_del_by_name(struct eng_store *st, const char *sql, const char *name,
    const char *what, int bump_trust, struct errbuf *eb)
{
    sqlite3_stmt *s = NULL;
    int           rc;

    store_lock(st);
    if ((rc = store_tx_begin(st, eb)) != 0)
        goto out;
    if ((rc = store_prepare(st, sql, &s, eb)) != 0)
        goto end;
    sqlite3_bind_text(s, 1, name, -1, SQLITE_STATIC);
    if (sqlite3_step(s) != SQLITE_DONE)
        rc = store_dberr(st, eb, "delete");
    else if (sqlite3_changes(st->db) == 0)
        rc = err_set(eb, ERR_NOTFOUND, "not_found", "%s %s does not exist",
            what, name);
    else if (bump_trust)
        rc = store_counter_bump(st, "trust_generation", eb);
end:
    rc = store_tx_end(st, rc, eb);
out:
    store_done(st, s);
    store_unlock(st);
    return rc;
}

/* 1 if a row named name exists in table (a fixed identifier). */
static int
store_exists(struct eng_store *st, const char *sql, const char *name,
    int *exists, struct errbuf *eb)
{
    sqlite3_stmt *s = NULL;
    int           rc, r;

    if ((rc = store_prepare(st, sql, &s, eb)) != 0)
        return rc;
    sqlite3_bind_text(s, 1, name, -1, SQLITE_STATIC);
    r = sqlite3_step(s);
    if (r == SQLITE_ROW)
        *exists = 1;
    else if (r == SQLITE_DONE)
        *exists = 0;
    else
        rc = store_dberr(st, eb, "lookup");
    store_done(st, s);
    return rc;
}

/* ---- environment -------------------------------------------------------- */

static int
sq_env_put(struct eng_store *st, const char *name, const char *value,
    int secret, int *created, struct errbuf *eb)
{
    sqlite3_stmt *s = NULL;
    int           rc, exists = 0;

    store_lock(st);
    if ((rc = store_tx_begin(st, eb)) != 0)
        goto out;
    if ((rc = store_exists(st, "SELECT 1 FROM environment WHERE name = ?1",
             name, &exists, eb))
        != 0)
        goto end;
    if ((rc = store_prepare(st,
             "INSERT INTO environment (name, value, secret, updated) "
             "VALUES (?1, ?2, ?3, ?4) ON CONFLICT(name) DO UPDATE SET "
             "value = excluded.value, secret = excluded.secret, "
             "updated = excluded.updated",
             &s, eb))
        != 0)
        goto end;
    sqlite3_bind_text(s, 1, name, -1, SQLITE_STATIC);
    sqlite3_bind_text(s, 2, value, -1, SQLITE_STATIC);
    sqlite3_bind_int(s, 3, secret ? 1 : 0);
    sqlite3_bind_int64(s, 4, store_now());
    if (sqlite3_step(s) != SQLITE_DONE)
        rc = store_dberr(st, eb, "environment update");
end:
    rc = store_tx_end(st, rc, eb);
out:
    store_done(st, s);
    store_unlock(st);
    if (rc == 0 && created)
        *created = !exists;
    return rc;
}

/*
 * Reads the one row that sql (parameter ?1 = name) selects into out, with
 * row(). what names the object in the not-found message ("applet").
 * Errors: ERR_NOTFOUND, ERR_DB, ERR_NOMEM.
 */
static int
store_get(struct eng_store *st, const char *sql, const char *name,
    const char *what, int (*row)(sqlite3_stmt *, void *), void *out,
    struct errbuf *eb)
{
    sqlite3_stmt *s = NULL;
    int           rc, r;

    store_lock(st);
    if ((rc = store_prepare(st, sql, &s, eb)) != 0)
        goto out;
    sqlite3_bind_text(s, 1, name, -1, SQLITE_STATIC);
    r = sqlite3_step(s);
    if (r == SQLITE_ROW) {
        if ((rc = row(s, out)) != 0)
            err_set(eb, rc, "internal", "out of memory");
    } else if (r == SQLITE_DONE) {
        rc = err_set(eb, ERR_NOTFOUND, "not_found", "%s %s does not exist",
            what, name);
    } else {
        rc = store_dberr(st, eb, "lookup");
    }
out:
    store_done(st, s);
    store_unlock(st);
    return rc;
}

/*
 * Runs sql (no parameters) under the lock and collects one element of size
 * sz per row, filled by row(). On failure the elements made so far are
 * cleared with clear() and nothing is returned. Errors: ERR_DB, ERR_NOMEM.
 */
static int
store_list(struct eng_store *st, const char *sql, const char *what, size_t sz,
    int (*row)(sqlite3_stmt *, void *), void (*clear)(void *), void **out,
    size_t *n, struct errbuf *eb)
{
    sqlite3_stmt *s = NULL;
    char         *v = NULL, *nv;
    size_t        cnt = 0, cap = 0;
    int           rc, r;

    *out = NULL;
    *n = 0;
    store_lock(st);
    if ((rc = store_prepare(st, sql, &s, eb)) != 0)
        goto out;
    while ((r = sqlite3_step(s)) == SQLITE_ROW) {
        if (cnt == cap) {
            cap = cap ? cap * 2 : 16;
            if ((nv = realloc(v, cap * sz)) == NULL) {
                rc = err_set(eb, ERR_NOMEM, "internal", "out of memory");
                goto out;
            }
            v = nv;
        }
        if ((rc = row(s, v + cnt * sz)) != 0) {
            err_set(eb, rc, "internal", "out of memory");
            goto out;
        }
        cnt++;
    }
    if (r != SQLITE_DONE)
        rc = store_dberr(st, eb, what);
out:
    store_done(st, s);
    store_unlock(st);
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

static int
store_env_row(sqlite3_stmt *s, struct eng_env_var *v)
{
    int oom = 0;

    memset(v, 0, sizeof(*v));
    v->name = store_col_text(s, 0, &oom);
    v->value = store_col_text(s, 1, &oom);
    v->secret = sqlite3_column_int(s, 2);
    v->updated = sqlite3_column_int64(s, 3);
    if (oom || v->name == NULL || v->value == NULL) {
        eng_env_var_clear(v);
        return ERR_NOMEM;
    }
    return 0;
}

static int
store_env_row_v(sqlite3_stmt *s, void *p)
{
    return store_env_row(s, p);
}

static void
store_env_clear_v(void *p)
{
    eng_env_var_clear(p);
}

static int
sq_env_get(struct eng_store *st, const char *name, struct eng_env_var *out,
    struct errbuf *eb)
{
    memset(out, 0, sizeof(*out));
    return store_get(st,
        "SELECT name, value, secret, updated FROM "
        "environment WHERE name = ?1",
        name, "environment variable", store_env_row_v, out, eb);
}

static int
sq_env_del(struct eng_store *st, const char *name, struct errbuf *eb)
{
    return store_del_by_name(st, "DELETE FROM environment WHERE name = ?1",
        name, "environment variable", 0, eb);
}

static int
sq_env_list(struct eng_store *st, struct eng_env_var **out, size_t *n,
    struct errbuf *eb)
{
    void *v;
    int   rc = store_list(st,
          "SELECT name, value, secret, updated FROM "
            "environment ORDER BY name",
          "environment list", sizeof(**out), store_env_row_v, store_env_clear_v,
          &v, n, eb);

    *out = v;
    return rc;
}

void
eng_env_var_clear(struct eng_env_var *v)
{
    if (v == NULL)
        return;
    free(v->name);
    if (v->value) {
        sec_wipe(v->value, strlen(v->value));
        free(v->value);
    }
    memset(v, 0, sizeof(*v));
}

void
eng_env_vars_free(struct eng_env_var *v, size_t n)
{
    for (size_t i = 0; i < n; i++)
        eng_env_var_clear(&v[i]);
    free(v);
}

/* ---- applets ------------------------------------------------------------ */

static int
sq_applet_put(struct eng_store *st, const char *name, const char *text,
    int *created, struct errbuf *eb)
{
    sqlite3_stmt *s = NULL;
    int           rc, exists = 0;

    store_lock(st);
    if ((rc = store_tx_begin(st, eb)) != 0)
        goto out;
    if ((rc = store_exists(st, "SELECT 1 FROM applets WHERE name = ?1", name,
             &exists, eb))
        != 0)
        goto end;
    if ((rc = store_prepare(st,
             "INSERT INTO applets (name, text, created, updated) "
             "VALUES (?1, ?2, ?3, ?3) ON CONFLICT(name) DO UPDATE SET "
             "text = excluded.text, updated = excluded.updated",
             &s, eb))
        != 0)
        goto end;
    sqlite3_bind_text(s, 1, name, -1, SQLITE_STATIC);
    sqlite3_bind_text(s, 2, text, -1, SQLITE_STATIC);
    sqlite3_bind_int64(s, 3, store_now());
    if (sqlite3_step(s) != SQLITE_DONE)
        rc = store_dberr(st, eb, "applet update");
end:
    rc = store_tx_end(st, rc, eb);
out:
    store_done(st, s);
    store_unlock(st);
    if (rc == 0 && created)
        *created = !exists;
    return rc;
}

static int
store_applet_row(sqlite3_stmt *s, struct eng_applet_rec *r)
{
    int oom = 0;

    memset(r, 0, sizeof(*r));
    r->name = store_col_text(s, 0, &oom);
    r->text = store_col_text(s, 1, &oom);
    r->webhook_token = store_col_text(s, 2, &oom);
    r->created = sqlite3_column_int64(s, 3);
    r->updated = sqlite3_column_int64(s, 4);
    r->webhook_secret = store_col_text(s, 5, &oom);
    if (oom || r->name == NULL || r->text == NULL) {
        eng_applet_rec_clear(r);
        return ERR_NOMEM;
    }
    return 0;
}

static int
store_applet_row_v(sqlite3_stmt *s, void *p)
{
    return store_applet_row(s, p);
}

static void
store_applet_clear_v(void *p)
{
    eng_applet_rec_clear(p);
}

#define APPLET_COLS                                                            \
    "name, text, webhook_token_sha256, created, updated, "                     \
    "webhook_secret"

static int
sq_applet_get(struct eng_store *st, const char *name,
    struct eng_applet_rec *out, struct errbuf *eb)
{
    memset(out, 0, sizeof(*out));
    return store_get(st, "SELECT " APPLET_COLS " FROM applets WHERE name = ?1",
        name, "applet", store_applet_row_v, out, eb);
}

static int
sq_applet_del(struct eng_store *st, const char *name, struct errbuf *eb)
{
    return store_del_by_name(st, "DELETE FROM applets WHERE name = ?1", name,
        "applet", 0, eb);
}

static int
sq_applet_list(struct eng_store *st, struct eng_applet_rec **out, size_t *n,
    struct errbuf *eb)
{
    void *v;
    int   rc = store_list(st,
          "SELECT " APPLET_COLS " FROM applets ORDER BY "
            "name",
          "applet list", sizeof(**out), store_applet_row_v, store_applet_clear_v,
          &v, n, eb);

    *out = v;
    return rc;
}

void
eng_applet_rec_clear(struct eng_applet_rec *r)
{
    if (r == NULL)
        return;
    free(r->name);
    free(r->text);
    if (r->webhook_token) {
        sec_wipe(r->webhook_token, strlen(r->webhook_token));
        free(r->webhook_token);
    }
    if (r->webhook_secret) {
        sec_wipe(r->webhook_secret, strlen(r->webhook_secret));
        free(r->webhook_secret);
    }
    memset(r, 0, sizeof(*r));
}

void
eng_applet_recs_free(struct eng_applet_rec *r, size_t n)
{
    for (size_t i = 0; i < n; i++)
        eng_applet_rec_clear(&r[i]);
    free(r);
}

/* ---- trustpoints -------------------------------------------------------- */

static int
sq_tp_put(struct eng_store *st, const struct eng_tp_rec *tp, int *created,
    struct errbuf *eb)
{
    sqlite3_stmt *s = NULL;
    int           rc, exists = 0;

    store_lock(st);
    if ((rc = store_tx_begin(st, eb)) != 0)
        goto out;
    if ((rc = store_exists(st, "SELECT 1 FROM trustpoints WHERE name = ?1",
             tp->name, &exists, eb))
        != 0)
        goto end;
    if ((rc = store_prepare(st,
             "INSERT INTO trustpoints (name, revocation_check, "
             "chain_validation, enrollment, created) "
             "VALUES (?1, ?2, ?3, ?4, ?5) ON CONFLICT(name) DO UPDATE SET "
             "revocation_check = excluded.revocation_check, "
             "chain_validation = excluded.chain_validation, "
             "enrollment = excluded.enrollment",
             &s, eb))
        != 0)
        goto end;
    sqlite3_bind_text(s, 1, tp->name, -1, SQLITE_STATIC);
    sqlite3_bind_text(s, 2,
        tp->revocation_check ? tp->revocation_check : "none", -1,
        SQLITE_STATIC);
    sqlite3_bind_text(s, 3,
        tp->chain_validation ? tp->chain_validation : "continue", -1,
        SQLITE_STATIC);
    sqlite3_bind_text(s, 4, tp->enrollment ? tp->enrollment : "terminal", -1,
        SQLITE_STATIC);
    sqlite3_bind_int64(s, 5, store_now());
    if (sqlite3_step(s) != SQLITE_DONE)
        rc = store_dberr(st, eb, "trustpoint update");
    else
        rc = store_counter_bump(st, "trust_generation", eb);
end:
    rc = store_tx_end(st, rc, eb);
out:
    store_done(st, s);
    store_unlock(st);
    if (rc == 0 && created)
        *created = !exists;
    return rc;
}

static int
sq_tp_set_cert(struct eng_store *st, const char *name, const unsigned char *der,
    size_t len, struct errbuf *eb)
{
    sqlite3_stmt *s = NULL;
    int           rc;

    store_lock(st);
    if ((rc = store_tx_begin(st, eb)) != 0)
        goto out;
    if ((rc = store_prepare(st,
             "UPDATE trustpoints SET cert_der = ?2, cert_installed = ?3 "
             "WHERE name = ?1",
             &s, eb))
        != 0)
        goto end;
    sqlite3_bind_text(s, 1, name, -1, SQLITE_STATIC);
    if (der != NULL) {
        sqlite3_bind_blob(s, 2, der, (int)len, SQLITE_STATIC);
        sqlite3_bind_int64(s, 3, store_now());
    } else {
        sqlite3_bind_null(s, 2);
        sqlite3_bind_int64(s, 3, 0);
    }
    if (sqlite3_step(s) != SQLITE_DONE)
        rc = store_dberr(st, eb, "trustpoint certificate update");
    else if (sqlite3_changes(st->db) == 0)
        rc = err_set(eb, ERR_NOTFOUND, "not_found",
            "trustpoint %s does not exist", name);
    else
        rc = store_counter_bump(st, "trust_generation", eb);
end:
    rc = store_tx_end(st, rc, eb);
out:
    store_done(st, s);
    store_unlock(st);
    return rc;
}

static int
store_tp_row(sqlite3_stmt *s, struct eng_tp_rec *r)
{
    const void *blob;
    int         oom = 0, len;

    memset(r, 0, sizeof(*r));
    r->name = store_col_text(s, 0, &oom);
    r->revocation_check = store_col_text(s, 1, &oom);
    r->chain_validation = store_col_text(s, 2, &oom);
    r->enrollment = store_col_text(s, 3, &oom);
    blob = sqlite3_column_blob(s, 4);
    len = sqlite3_column_bytes(s, 4);
    if (blob != NULL && len > 0) {
        if ((r->cert_der = malloc((size_t)len)) == NULL)
            oom = 1;
        else {
            memcpy(r->cert_der, blob, (size_t)len);
            r->cert_len = (size_t)len;
        }
    }
    r->created = sqlite3_column_int64(s, 5);
    r->cert_installed = sqlite3_column_int64(s, 6);
    if (oom || r->name == NULL) {
        eng_tp_rec_clear(r);
        return ERR_NOMEM;
    }
    return 0;
}

static int
store_tp_row_v(sqlite3_stmt *s, void *p)
{
    return store_tp_row(s, p);
}

static void
store_tp_clear_v(void *p)
{
    eng_tp_rec_clear(p);
}

#define TP_COLS                                                                \
    "name, revocation_check, chain_validation, enrollment, cert_der, "         \
    "created, cert_installed"

static int
sq_tp_get(struct eng_store *st, const char *name, struct eng_tp_rec *out,
    struct errbuf *eb)
{
    memset(out, 0, sizeof(*out));
    return store_get(st, "SELECT " TP_COLS " FROM trustpoints WHERE name = ?1",
        name, "trustpoint", store_tp_row_v, out, eb);
}

static int
sq_tp_del(struct eng_store *st, const char *name, struct errbuf *eb)
{
    return store_del_by_name(st, "DELETE FROM trustpoints WHERE name = ?1",
        name, "trustpoint", 1, eb);
}

static int
sq_tp_list(struct eng_store *st, struct eng_tp_rec **out, size_t *n,
    struct errbuf *eb)
{
    void *v;
    int   rc = store_list(st,
          "SELECT " TP_COLS " FROM trustpoints ORDER BY "
            "name",
          "trustpoint list", sizeof(**out), store_tp_row_v, store_tp_clear_v, &v,
          n, eb);

    *out = v;
    return rc;
}

void
eng_tp_rec_clear(struct eng_tp_rec *r)
{
    if (r == NULL)
        return;
    free(r->name);
    free(r->revocation_check);
    free(r->chain_validation);
    free(r->enrollment);
    free(r->cert_der);
    memset(r, 0, sizeof(*r));
}

void
eng_tp_recs_free(struct eng_tp_rec *r, size_t n)
{
    for (size_t i = 0; i < n; i++)
        eng_tp_rec_clear(&r[i]);
    free(r);
}

static uint64_t
sq_trust_generation(struct eng_store *st)
{
    sqlite3_stmt *s = NULL;
    uint64_t      gen = 0;

    store_lock(st);
    if (sqlite3_prepare_v2(st->db,
            "SELECT value FROM counters WHERE name = 'trust_generation'", -1,
            &s, NULL)
            == SQLITE_OK
        && sqlite3_step(s) == SQLITE_ROW)
        gen = (uint64_t)sqlite3_column_int64(s, 0);
    sqlite3_finalize(s);
    store_unlock(st);
    return gen;
}

/* ---- settings ----------------------------------------------------------- */

static int
sq_setting_get(struct eng_store *st, const char *key, char **value,
    struct errbuf *eb)
{
    sqlite3_stmt *s = NULL;
    int           rc, r, oom = 0;

    *value = NULL;
    store_lock(st);
    if ((rc = store_prepare(st, "SELECT value FROM settings WHERE key = ?1", &s,
             eb))
        != 0)
        goto out;
    sqlite3_bind_text(s, 1, key, -1, SQLITE_STATIC);
    r = sqlite3_step(s);
    if (r == SQLITE_ROW) {
        *value = store_col_text(s, 0, &oom);
        if (oom || *value == NULL)
            rc = err_set(eb, ERR_NOMEM, "internal", "out of memory");
    } else if (r == SQLITE_DONE) {
        rc = err_set(eb, ERR_NOTFOUND, "not_found", "setting %s is not set",
            key);
    } else {
        rc = store_dberr(st, eb, "setting lookup");
    }
out:
    store_done(st, s);
    store_unlock(st);
    return rc;
}

/* Settings whose key starts with "trust" (trustpool, ...) change what is
 * trusted: they bump the trust generation. */
static int
sq_setting_put(struct eng_store *st, const char *key, const char *value,
    struct errbuf *eb)
{
    sqlite3_stmt *s = NULL;
    int           rc;

    store_lock(st);
    if ((rc = store_tx_begin(st, eb)) != 0)
        goto out;
    if ((rc = store_prepare(st,
             "INSERT INTO settings (key, value) VALUES (?1, ?2) "
             "ON CONFLICT(key) DO UPDATE SET value = excluded.value",
             &s, eb))
        != 0)
        goto end;
    sqlite3_bind_text(s, 1, key, -1, SQLITE_STATIC);
    sqlite3_bind_text(s, 2, value, -1, SQLITE_STATIC);
    if (sqlite3_step(s) != SQLITE_DONE)
        rc = store_dberr(st, eb, "setting update");
    else if (strncmp(key, "trust", 5) == 0)
        rc = store_counter_bump(st, "trust_generation", eb);
end:
    rc = store_tx_end(st, rc, eb);
out:
    store_done(st, s);
    store_unlock(st);
    return rc;
}

/* ---- credentials (migration v6) ----------------------------------------- */

static void
store_wipe_free(char *s)
{
    if (s != NULL) {
        sec_wipe(s, strlen(s));
        free(s);
    }
}

/* The counter's value after bumping it (inside a write). Errors: ERR_DB. */
static int
store_counter_next(struct eng_store *st, const char *name, long long *out,
    struct errbuf *eb)
{
    sqlite3_stmt *s = NULL;
    int           rc;

    if ((rc = store_counter_bump(st, name, eb)) != 0)
        return rc;
    if ((rc = store_prepare(st, "SELECT value FROM counters WHERE name = ?1",
             &s, eb))
        != 0)
        return rc;
    sqlite3_bind_text(s, 1, name, -1, SQLITE_STATIC);
    if (sqlite3_step(s) == SQLITE_ROW)
        *out = sqlite3_column_int64(s, 0);
    else
        rc = store_dberr(st, eb, "counter read");
    store_done(st, s);
    return rc;
}

static int
sq_cred_put(struct eng_store *st, const struct eng_cred_rec *r, int *created,
    struct errbuf *eb)
{
    sqlite3_stmt *s = NULL;
    long long     gen = 0;
    int           rc, exists = 0;

    store_lock(st);
    if ((rc = store_tx_begin(st, eb)) != 0)
        goto out;
    if ((rc = store_exists(st, "SELECT 1 FROM credentials WHERE name = ?1",
             r->name, &exists, eb))
        != 0)
        goto end;
    if ((rc = store_counter_next(st, "credential_generation", &gen, eb)) != 0)
        goto end;
    if ((rc = store_prepare(st,
             "INSERT INTO credentials (name, type, grant_type, token_url, "
             "client_id, client_secret, refresh_token, scope, mechanism, "
             "created, updated, generation) "
             "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?10, ?11) "
             "ON CONFLICT(name) DO UPDATE SET type = excluded.type, "
             "grant_type = excluded.grant_type, "
             "token_url = excluded.token_url, "
             "client_id = excluded.client_id, "
             "client_secret = excluded.client_secret, "
             "refresh_token = excluded.refresh_token, "
             "scope = excluded.scope, mechanism = excluded.mechanism, "
             "updated = excluded.updated, generation = excluded.generation",
             &s, eb))
        != 0)
        goto end;
    sqlite3_bind_text(s, 1, r->name, -1, SQLITE_STATIC);
    sqlite3_bind_text(s, 2, r->type ? r->type : "oauth2", -1, SQLITE_STATIC);
    sqlite3_bind_text(s, 3, r->grant ? r->grant : "", -1, SQLITE_STATIC);
    sqlite3_bind_text(s, 4, r->token_url ? r->token_url : "", -1,
        SQLITE_STATIC);
    sqlite3_bind_text(s, 5, r->client_id ? r->client_id : "", -1,
        SQLITE_STATIC);
    if (r->client_secret != NULL)
        sqlite3_bind_text(s, 6, r->client_secret, -1, SQLITE_STATIC);
    else
        sqlite3_bind_null(s, 6);
    if (r->refresh_token != NULL)
        sqlite3_bind_text(s, 7, r->refresh_token, -1, SQLITE_STATIC);
    else
        sqlite3_bind_null(s, 7);
    if (r->scope != NULL && *r->scope != '\0')
        sqlite3_bind_text(s, 8, r->scope, -1, SQLITE_STATIC);
    else
        sqlite3_bind_null(s, 8);
    sqlite3_bind_text(s, 9, r->mechanism ? r->mechanism : "xoauth2", -1,
        SQLITE_STATIC);
    sqlite3_bind_int64(s, 10, store_now());
    sqlite3_bind_int64(s, 11, gen);
    if (sqlite3_step(s) != SQLITE_DONE)
        rc = store_dberr(st, eb, "credential update");
end:
    rc = store_tx_end(st, rc, eb);
out:
    store_done(st, s);
    store_unlock(st);
    if (rc == 0 && created)
        *created = !exists;
    return rc;
}

static int
sq_cred_rotate(struct eng_store *st, const char *name,
    const char *refresh_token, struct errbuf *eb)
{
    sqlite3_stmt *s = NULL;
    int           rc;

    store_lock(st);
    if ((rc = store_tx_begin(st, eb)) != 0)
        goto out;
    if ((rc = store_prepare(st,
             "UPDATE credentials SET refresh_token = ?2, updated = ?3 "
             "WHERE name = ?1",
             &s, eb))
        != 0)
        goto end;
    sqlite3_bind_text(s, 1, name, -1, SQLITE_STATIC);
    sqlite3_bind_text(s, 2, refresh_token, -1, SQLITE_STATIC);
    sqlite3_bind_int64(s, 3, store_now());
    if (sqlite3_step(s) != SQLITE_DONE)
        rc = store_dberr(st, eb, "credential refresh token update");
    else if (sqlite3_changes(st->db) == 0)
        rc = err_set(eb, ERR_NOTFOUND, "not_found",
            "credential %s does not exist", name);
end:
    rc = store_tx_end(st, rc, eb);
out:
    store_done(st, s);
    store_unlock(st);
    return rc;
}

static int
store_cred_row(sqlite3_stmt *s, struct eng_cred_rec *r)
{
    int oom = 0;

    memset(r, 0, sizeof(*r));
    r->name = store_col_text(s, 0, &oom);
    r->type = store_col_text(s, 1, &oom);
    r->grant = store_col_text(s, 2, &oom);
    r->token_url = store_col_text(s, 3, &oom);
    r->client_id = store_col_text(s, 4, &oom);
    r->client_secret = store_col_text(s, 5, &oom);
    r->refresh_token = store_col_text(s, 6, &oom);
    r->scope = store_col_text(s, 7, &oom);
    r->mechanism = store_col_text(s, 8, &oom);
    r->created = sqlite3_column_int64(s, 9);
    r->updated = sqlite3_column_int64(s, 10);
    r->generation = sqlite3_column_int64(s, 11);
    if (oom || r->name == NULL || r->type == NULL || r->grant == NULL
        || r->token_url == NULL || r->client_id == NULL
        || r->mechanism == NULL) {
        eng_cred_rec_clear(r);
        return ERR_NOMEM;
    }
    return 0;
}

static int
store_cred_row_v(sqlite3_stmt *s, void *p)
{
    return store_cred_row(s, p);
}

static void
store_cred_clear_v(void *p)
{
    eng_cred_rec_clear(p);
}

#define CRED_COLS                                                              \
    "name, type, grant_type, token_url, client_id, client_secret, "            \
    "refresh_token, scope, mechanism, created, updated, generation"

static int
sq_cred_get(struct eng_store *st, const char *name, struct eng_cred_rec *out,
    struct errbuf *eb)
{
    memset(out, 0, sizeof(*out));
    return store_get(st,
        "SELECT " CRED_COLS " FROM credentials WHERE name = ?1", name,
        "credential", store_cred_row_v, out, eb);
}

static int
sq_cred_del(struct eng_store *st, const char *name, struct errbuf *eb)
{
    return store_del_by_name(st, "DELETE FROM credentials WHERE name = ?1",
        name, "credential", 0, eb);
}

static int
sq_cred_list(struct eng_store *st, struct eng_cred_rec **out, size_t *n,
    struct errbuf *eb)
{
    void *v;
    int   rc =
        store_list(st, "SELECT " CRED_COLS " FROM credentials ORDER BY name",
            "credential list", sizeof(**out), store_cred_row_v,
            store_cred_clear_v, &v, n, eb);

    *out = v;
    return rc;
}

void
eng_cred_rec_clear(struct eng_cred_rec *r)
{
    if (r == NULL)
        return;
    free(r->name);
    free(r->type);
    free(r->grant);
    free(r->token_url);
    free(r->client_id);
    store_wipe_free(r->client_secret);
    store_wipe_free(r->refresh_token);
    free(r->scope);
    free(r->mechanism);
    memset(r, 0, sizeof(*r));
}

void
eng_cred_recs_free(struct eng_cred_rec *r, size_t n)
{
    for (size_t i = 0; i < n; i++)
        eng_cred_rec_clear(&r[i]);
    free(r);
}

const struct store_cfg_ops sqlite_cfg_ops = {
    .release_memory = sq_release_memory,
    .begin = sq_begin,
    .commit = sq_commit,
    .rollback = sq_rollback,
    .env_put = sq_env_put,
    .env_get = sq_env_get,
    .env_del = sq_env_del,
    .env_list = sq_env_list,
    .applet_put = sq_applet_put,
    .applet_get = sq_applet_get,
    .applet_del = sq_applet_del,
    .applet_list = sq_applet_list,
    .tp_put = sq_tp_put,
    .tp_set_cert = sq_tp_set_cert,
    .tp_get = sq_tp_get,
    .tp_del = sq_tp_del,
    .tp_list = sq_tp_list,
    .trust_generation = sq_trust_generation,
    .setting_get = sq_setting_get,
    .setting_put = sq_setting_put,
    .cred_put = sq_cred_put,
    .cred_rotate = sq_cred_rotate,
    .cred_get = sq_cred_get,
    .cred_del = sq_cred_del,
    .cred_list = sq_cred_list,
};
const struct store_ops store_sqlite_ops = {
    .name = "sqlite",
    .close = sq_close,
    .cfg = &sqlite_cfg_ops,
    .run = &sqlite_run_ops,
    .ob = &sqlite_ob_ops,
    .cluster = NULL,
};
