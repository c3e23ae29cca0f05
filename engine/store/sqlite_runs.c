/* SPDX-License-Identifier: MIT */
/*
 * engine/store/sqlite_runs.c: the runtime's tables in herald.db — run history
 * (runs), the mail outbox (outbox, used by outbox.c), webhook idempotency
 * keys (webhook_idem) and "context save" variables (contexts).
 *
 * In the daemon these tables live on the store's connection, under the
 * store's lock (engine/store/store_int.h); schema v2 of the store's migration
 * list creates them, and attaching creates them too (IF NOT EXISTS) so a
 * database migrated by an older binary still works. Tests may open a
 * connection of their own. Knows nothing of the runtime: what it needs
 * from it (the watch callback) comes in as parameters.
 */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <cjson/cJSON.h>
#include <sqlite3.h>

#include "common/log.h"
#include "common/clock.h"
#include "engine/store/store_int.h"

const char store_runs_schema[] =
    "CREATE TABLE IF NOT EXISTS runs ("
    " id INTEGER PRIMARY KEY AUTOINCREMENT,"
    " applet TEXT NOT NULL, trig TEXT NOT NULL, trigger_data TEXT,"
    " replay TEXT, status TEXT NOT NULL, queued_ms INTEGER NOT NULL,"
    " started_ms INTEGER, ended_ms INTEGER, exit_status INTEGER,"
    " failed_label TEXT, error_class TEXT, error TEXT, output TEXT,"
    " trace TEXT);"
    "CREATE INDEX IF NOT EXISTS runs_applet ON runs(applet, id);"
    /* only ended runs: a run's insert and start touch no index page but
     * runs_applet's (store.c migration 3 dropped runs_status and
     * runs_ended, which every run rewrote three and two times) */
    "CREATE INDEX IF NOT EXISTS runs_done ON runs(ended_ms)"
    " WHERE ended_ms IS NOT NULL;"
    "CREATE TABLE IF NOT EXISTS outbox ("
    " id INTEGER PRIMARY KEY AUTOINCREMENT, run_id INTEGER, applet TEXT,"
    " state TEXT NOT NULL, skey TEXT NOT NULL, req TEXT NOT NULL,"
    " created_ms INTEGER NOT NULL, next_ms INTEGER NOT NULL,"
    " expires_ms INTEGER NOT NULL, attempts INTEGER NOT NULL DEFAULT 0,"
    " last_klass TEXT, last_code INTEGER, last_message TEXT,"
    " last_permanent INTEGER, sent_ms INTEGER, updated_ms INTEGER);"
    "CREATE INDEX IF NOT EXISTS outbox_due ON outbox(state, next_ms);"
    "CREATE TABLE IF NOT EXISTS webhook_idem ("
    " applet TEXT NOT NULL, key TEXT NOT NULL, run_id INTEGER NOT NULL,"
    " created_ms INTEGER NOT NULL, PRIMARY KEY (applet, key));"
    "CREATE TABLE IF NOT EXISTS contexts ("
    " key TEXT PRIMARY KEY, vars TEXT NOT NULL, updated_ms INTEGER);";

/* ---- statements -------------------------------------------------------- */

static int
rdb_err(struct eng_store *db, struct errbuf *eb, const char *what)
{
    return err_set(eb, ERR_DB, "db_error", "database error while %s: %s", what,
        sqlite3_errmsg(db->db));
}

static void
bind_text(sqlite3_stmt *st, int i, const char *s)
{
    if (s == NULL)
        sqlite3_bind_null(st, i);
    else
        sqlite3_bind_text(st, i, s, -1, SQLITE_TRANSIENT);
}

/* ---- durability -------------------------------------------------------- */

/* The WAL file for eng_store_durable, opened once the database is in WAL
 * mode (eng_store_open calls it). Not in WAL mode (a file
 * system without shared memory, say), SQLite's NORMAL commits sync the
 * rollback journal themselves and eng_store_durable has nothing to do. */
void
store_open_wal(struct eng_store *db)
{
    const char   *f = sqlite3_db_filename(db->db, "main");
    const char   *mode = NULL;
    sqlite3_stmt *st;
    char         *path;

    if ((st = store_stmt(db, "PRAGMA journal_mode")) != NULL) {
        if (sqlite3_step(st) == SQLITE_ROW)
            mode = (const char *)sqlite3_column_text(st, 0);
        if (mode == NULL || strcmp(mode, "wal") != 0)
            f = NULL;
        store_done(db, st);
    }
    if (f == NULL || *f == '\0' || asprintf(&path, "%s-wal", f) < 0)
        return;
    if ((db->wal_fd = open(path, O_RDONLY | O_CLOEXEC)) < 0)
        log_err("runtime", "event=no-group-commit path=%s error=\"%s\"", path,
            strerror(errno));
    free(path);
}

static long long
sq_mark(struct eng_store *db)
{
    return atomic_fetch_add(&db->committed, 1) + 1;
}

static int
sq_durable(struct eng_store *db, long long seq, struct errbuf *eb)
{
    long long upto;
    int       rc = 0;

    if (db->wal_fd < 0)
        return 0;
    pthread_mutex_lock(&db->sync_mu);
    if (db->synced < seq) {
        /* every commit marked up to here finished before this sync */
        upto = atomic_load(&db->committed);
        if (fdatasync(db->wal_fd) != 0) {
            rc = err_set(eb, ERR_IO, "io",
                "cannot sync the database to "
                "disk (%s); check the disk that holds the data directory "
                "(full, read-only or failing), then retry",
                strerror(errno));
            log_err("runtime", "event=sync-failed error=\"%s\"",
                strerror(errno));
        } else {
            db->synced = upto;
        }
    }
    pthread_mutex_unlock(&db->sync_mu);
    return rc;
}

static int
sq_run_insert(struct eng_store *db, const char *applet, const char *trigger,
    const char *trigger_data, const char *replay, const char *status,
    long long now_ms, long long *id, struct errbuf *eb)
{
    sqlite3_stmt *st;
    int           rc = 0;

    store_lock(db);
    st = store_stmt(db,
        "INSERT INTO runs (applet, trig, trigger_data,"
        " replay, status, queued_ms, ended_ms) VALUES (?,?,?,?,?,?,?)");
    if (st == NULL) {
        rc = rdb_err(db, eb, "recording a run");
        goto out;
    }
    bind_text(st, 1, applet);
    bind_text(st, 2, trigger);
    bind_text(st, 3, trigger_data);
    bind_text(st, 4, replay);
    bind_text(st, 5, status);
    sqlite3_bind_int64(st, 6, now_ms);
    if (strcmp(status, "ratelimited") == 0)
        sqlite3_bind_int64(st, 7, now_ms);
    else
        sqlite3_bind_null(st, 7);
    if (sqlite3_step(st) != SQLITE_DONE)
        rc = rdb_err(db, eb, "recording a run");
    else
        *id = sqlite3_last_insert_rowid(db->db);
    store_done(db, st);
out:
    store_unlock(db);
    return rc;
}

static int
sq_run_delete(struct eng_store *db, long long id)
{
    sqlite3_stmt *st;
    int           rc = ERR_DB;

    store_lock(db);
    if ((st = store_stmt(db, "DELETE FROM runs WHERE id=?")) != NULL) {
        sqlite3_bind_int64(st, 1, id);
        rc = sqlite3_step(st) == SQLITE_DONE ? 0 : ERR_DB;
        store_done(db, st);
    }
    store_unlock(db);
    return rc;
}

static int
sq_run_start(struct eng_store *db, long long id, long long now_ms,
    struct errbuf *eb)
{
    sqlite3_stmt *st;
    int           rc = 0;

    store_lock(db);
    /* replay stays until the run finishes: a crash mid-run re-runs it */
    st = store_stmt(db,
        "UPDATE runs SET status='running', started_ms=?"
        " WHERE id=?");
    if (st == NULL) {
        rc = rdb_err(db, eb, "starting a run");
    } else {
        sqlite3_bind_int64(st, 1, now_ms);
        sqlite3_bind_int64(st, 2, id);
        if (sqlite3_step(st) != SQLITE_DONE)
            rc = rdb_err(db, eb, "starting a run");
        store_done(db, st);
    }
    store_unlock(db);
    return rc;
}

static int
sq_run_finish(struct eng_store *db, long long id, const struct eng_run_end *e,
    struct errbuf *eb)
{
    sqlite3_stmt *st;
    int           rc = 0;

    store_lock(db);
    st = store_stmt(db,
        "UPDATE runs SET status=?, ended_ms=?,"
        " exit_status=?, failed_label=?, error_class=?, error=?, output=?,"
        " trace=?, replay=NULL WHERE id=?");
    if (st == NULL) {
        rc = rdb_err(db, eb, "finishing a run");
    } else {
        bind_text(st, 1, e->status);
        sqlite3_bind_int64(st, 2, e->ended_ms);
        sqlite3_bind_int(st, 3, e->exit_status);
        bind_text(st, 4,
            e->failed_label && *e->failed_label ? e->failed_label : NULL);
        bind_text(st, 5,
            e->error_class && *e->error_class ? e->error_class : NULL);
        bind_text(st, 6, e->error && *e->error ? e->error : NULL);
        bind_text(st, 7, e->output);
        bind_text(st, 8, e->trace);
        sqlite3_bind_int64(st, 9, id);
        if (sqlite3_step(st) != SQLITE_DONE)
            rc = rdb_err(db, eb, "finishing a run");
        store_done(db, st);
    }
    store_unlock(db);
    return rc;
}

static void
add_time(cJSON *o, const char *k, sqlite3_stmt *st, int col)
{
    char t[40];

    if (sqlite3_column_type(st, col) == SQLITE_NULL) {
        cJSON_AddNullToObject(o, k);
        return;
    }
    clock_time_fmt(sqlite3_column_int64(st, col), t, sizeof(t));
    cJSON_AddStringToObject(o, k, t);
}

static void
add_text(cJSON *o, const char *k, sqlite3_stmt *st, int col)
{
    const unsigned char *s = sqlite3_column_text(st, col);

    if (s == NULL)
        cJSON_AddNullToObject(o, k);
    else
        cJSON_AddStringToObject(o, k, (const char *)s);
}

/* The run's mail, from its outbox rows (index outbox_run): none, failed
 * (a message with the failed flag), pending (one not yet sent), delivered */
#define RUN_DELIVERY                                                           \
    "(SELECT CASE WHEN count(*)=0 THEN 'none'"                                 \
    " WHEN max(o.failed)=1 THEN 'failed' WHEN min(o.state='sent')=0"           \
    " THEN 'pending' ELSE 'delivered' END FROM outbox o"                       \
    " WHERE o.run_id=runs.id)"
#define RUN_COLS                                                               \
    "id, applet, trig, status, queued_ms, started_ms, ended_ms,"               \
    " exit_status, failed_label, error_class, error, " RUN_DELIVERY            \
    " AS delivery"

/* Builds a RunSummary from a row selected with RUN_COLS first. */
static cJSON *
run_summary(sqlite3_stmt *st)
{
    cJSON *o = cJSON_CreateObject();

    if (o == NULL)
        return NULL;
    cJSON_AddNumberToObject(o, "id", (double)sqlite3_column_int64(st, 0));
    add_text(o, "applet", st, 1);
    add_text(o, "trigger", st, 2);
    add_text(o, "status", st, 3);
    add_time(o, "queued", st, 4);
    add_time(o, "started", st, 5);
    add_time(o, "ended", st, 6);
    if (sqlite3_column_type(st, 5) != SQLITE_NULL
        && sqlite3_column_type(st, 6) != SQLITE_NULL)
        cJSON_AddNumberToObject(o, "duration_ms",
            (double)(sqlite3_column_int64(st, 6)
                - sqlite3_column_int64(st, 5)));
    else
        cJSON_AddNullToObject(o, "duration_ms");
    if (sqlite3_column_type(st, 7) == SQLITE_NULL)
        cJSON_AddNullToObject(o, "exit_status");
    else
        cJSON_AddNumberToObject(o, "exit_status", sqlite3_column_int(st, 7));
    add_text(o, "failed_label", st, 8);
    add_text(o, "error_class", st, 9);
    add_text(o, "error", st, 10);
    add_text(o, "delivery", st, 11);
    return o;
}

static int
sq_runs_list(struct eng_store *db, const struct eng_run_filter *f, cJSON **out,
    struct errbuf *eb)
{
    struct store_run_page p;
    sqlite3_stmt         *st;
    cJSON                *o;
    long long             last = 0;
    unsigned              n = 0;
    int                   rc, more = 0, i;

    *out = NULL;
    if ((rc = store_run_page_begin(f, &p, eb)) != 0)
        return rc;
    store_lock(db);
    /* failed runs are found from the few failed messages (index
     * outbox_failed); the other values are read per run */
    st = p.failed
        ? store_stmt(db,
            "SELECT " RUN_COLS " FROM runs WHERE"
            " id IN (SELECT run_id FROM outbox WHERE failed=1)"
            " AND (?1 IS NULL OR applet=?1) AND (?2 IS NULL OR status=?2)"
            " AND (?3 IS NULL OR queued_ms>=?3) AND (?4 IS NULL OR id<?4)"
            " ORDER BY id DESC LIMIT ?5")
        : store_stmt(db,
            "SELECT " RUN_COLS " FROM runs WHERE"
            " (?1 IS NULL OR applet=?1) AND (?2 IS NULL OR status=?2)"
            " AND (?3 IS NULL OR queued_ms>=?3) AND (?4 IS NULL OR id<?4)"
            " AND (?6 IS NULL OR delivery=?6)"
            " ORDER BY id DESC LIMIT ?5");
    if (st == NULL) {
        rc = rdb_err(db, eb, "listing runs");
        goto out;
    }
    bind_text(st, 1, f && f->applet && *f->applet ? f->applet : NULL);
    bind_text(st, 2, f && f->status && *f->status ? f->status : NULL);
    if (f && f->since > 0)
        sqlite3_bind_int64(st, 3, f->since * 1000);
    if (p.cursor > 0)
        sqlite3_bind_int64(st, 4, p.cursor);
    sqlite3_bind_int(st, 5, (int)p.limit + 1);
    if (!p.failed)
        bind_text(st, 6, p.delivery);
    while ((i = sqlite3_step(st)) == SQLITE_ROW) {
        if (n == p.limit) {
            more = 1;
            break;
        }
        if ((o = run_summary(st)) == NULL) {
            rc = err_set(eb, ERR_NOMEM, "nomem", "out of memory");
            break;
        }
        cJSON_AddItemToArray(p.items, o);
        last = sqlite3_column_int64(st, 0);
        n++;
    }
    if (rc == 0 && i != SQLITE_ROW && i != SQLITE_DONE)
        rc = rdb_err(db, eb, "listing runs");
    store_done(db, st);
out:
    store_unlock(db);
    return store_run_page_end(&p, rc, more, last, out);
}

static int
sq_run_get(struct eng_store *db, long long id, cJSON **out, struct errbuf *eb)
{
    sqlite3_stmt *st;
    cJSON        *o = NULL, *j;
    int           rc = 0, s;

    *out = NULL;
    store_lock(db);
    st = store_stmt(db,
        "SELECT " RUN_COLS ", trigger_data, output, trace"
        " FROM runs WHERE id=?");
    if (st == NULL) {
        rc = rdb_err(db, eb, "reading a run");
        goto out;
    }
    sqlite3_bind_int64(st, 1, id);
    if ((s = sqlite3_step(st)) == SQLITE_ROW) {
        if ((o = run_summary(st)) == NULL) {
            rc = err_set(eb, ERR_NOMEM, "nomem", "out of memory");
        } else {
            const char *td = (const char *)sqlite3_column_text(st, 12);
            const char *tr = (const char *)sqlite3_column_text(st, 14);

            j = td ? cJSON_Parse(td) : NULL;
            cJSON_AddItemToObject(o, "trigger_data",
                j ? j : cJSON_CreateObject());
            add_text(o, "output", st, 13);
            j = tr ? cJSON_Parse(tr) : NULL;
            cJSON_AddItemToObject(o, "trace", j ? j : cJSON_CreateArray());
        }
    } else if (s == SQLITE_DONE) {
        rc = err_set(eb, ERR_NOTFOUND, "not_found", "no run with id %lld", id);
    } else {
        rc = rdb_err(db, eb, "reading a run");
    }
    store_done(db, st);
out:
    store_unlock(db);
    if (rc == 0)
        *out = o;
    else
        cJSON_Delete(o);
    return rc;
}

static int
sq_runs_prune(struct eng_store *db, long long before_ms, struct errbuf *eb)
{
    sqlite3_stmt *st;
    int           rc;

    store_lock(db);
    st = store_stmt(db,
        "DELETE FROM runs WHERE ended_ms IS NOT NULL"
        " AND ended_ms < ? AND status NOT IN ('queued','running')");
    if (st == NULL) {
        rc = rdb_err(db, eb, "pruning runs");
    } else {
        sqlite3_bind_int64(st, 1, before_ms);
        if (sqlite3_step(st) != SQLITE_DONE)
            rc = rdb_err(db, eb, "pruning runs");
        else
            rc = sqlite3_changes(db->db);
        store_done(db, st);
    }
    if (rc >= 0) { /* idempotency keys live 24 h */
        sqlite3_stmt *s2 =
            store_stmt(db, "DELETE FROM webhook_idem WHERE created_ms < ?");

        if (s2 != NULL) {
            sqlite3_bind_int64(s2, 1, clock_now_ms() - 86400000LL);
            sqlite3_step(s2);
            store_done(db, s2);
        }
    }
    store_unlock(db);
    return rc;
}

static int
sq_runs_recover(struct eng_store *db, long long now_ms,
    void (*requeue)(void *ud, long long id, const char *applet,
        const char *trigger, const char *replay),
    void *ud, struct errbuf *eb)
{
    sqlite3_stmt *st;
    struct rq {
        long long id;
        char     *applet, *trig, *replay;
    } *v = NULL;
    size_t n = 0, cap = 0, i;
    int    rc = 0;

    store_lock(db);
    /* interrupted runs that can be replayed run again (at least once) */
    st = store_stmt(db,
        "UPDATE runs SET status='queued', started_ms=NULL"
        " WHERE status='running' AND replay IS NOT NULL");
    if (st != NULL) {
        sqlite3_step(st);
        store_done(db, st);
    }
    st = store_stmt(db,
        "UPDATE runs SET status='abort', ended_ms=?,"
        " error_class='interrupted', error='herald stopped while this run "
        "was running', replay=NULL WHERE status='running'");
    if (st != NULL) {
        sqlite3_bind_int64(st, 1, now_ms);
        sqlite3_step(st);
        store_done(db, st);
    }
    st = store_stmt(db,
        "SELECT id, applet, trig, replay FROM runs"
        " WHERE status='queued' ORDER BY id");
    if (st == NULL) {
        rc = rdb_err(db, eb, "recovering runs");
        store_unlock(db);
        return rc;
    }
    while (sqlite3_step(st) == SQLITE_ROW) {
        if (n == cap) {
            struct rq *nv;

            cap = cap ? cap * 2 : 16;
            if ((nv = realloc(v, cap * sizeof(*v))) == NULL)
                break;
            v = nv;
        }
        v[n].id = sqlite3_column_int64(st, 0);
        v[n].applet = strdup((const char *)sqlite3_column_text(st, 1));
        v[n].trig = strdup((const char *)sqlite3_column_text(st, 2));
        v[n].replay = sqlite3_column_text(st, 3)
            ? strdup((const char *)sqlite3_column_text(st, 3))
            : NULL;
        n++;
    }
    store_done(db, st);
    store_unlock(db);
    for (i = 0; i < n; i++) {
        if (requeue != NULL && v[i].applet && v[i].trig)
            requeue(ud, v[i].id, v[i].applet, v[i].trig, v[i].replay);
        free(v[i].applet);
        free(v[i].trig);
        free(v[i].replay);
    }
    free(v);
    return rc;
}

/* ---- idempotency, contexts, tokens ------------------------------------- */

static int
sq_idem_get(struct eng_store *db, const char *applet, const char *key,
    long long since_ms, long long *run_id)
{
    sqlite3_stmt *st;
    int           rc = ERR_DB, s;

    store_lock(db);
    if ((st = store_stmt(db,
             "SELECT run_id FROM webhook_idem WHERE applet=?"
             " AND key=? AND created_ms>=?"))
        != NULL) {
        bind_text(st, 1, applet);
        bind_text(st, 2, key);
        sqlite3_bind_int64(st, 3, since_ms);
        s = sqlite3_step(st);
        if (s == SQLITE_ROW) {
            *run_id = sqlite3_column_int64(st, 0);
            rc = 1;
        } else if (s == SQLITE_DONE) {
            rc = 0;
        }
        store_done(db, st);
    }
    store_unlock(db);
    return rc;
}

static int
sq_idem_put(struct eng_store *db, const char *applet, const char *key,
    long long run_id, long long now_ms)
{
    sqlite3_stmt *st;
    int           rc = ERR_DB;

    store_lock(db);
    if ((st = store_stmt(db,
             "INSERT OR REPLACE INTO webhook_idem"
             " (applet, key, run_id, created_ms) VALUES (?,?,?,?)"))
        != NULL) {
        bind_text(st, 1, applet);
        bind_text(st, 2, key);
        sqlite3_bind_int64(st, 3, run_id);
        sqlite3_bind_int64(st, 4, now_ms);
        rc = sqlite3_step(st) == SQLITE_DONE ? 0 : ERR_DB;
        store_done(db, st);
    }
    store_unlock(db);
    return rc;
}

static int
sq_ctx_save(struct eng_store *db, const char *key, const char *json)
{
    sqlite3_stmt *st;
    int           rc = ERR_DB;

    store_lock(db);
    if ((st = store_stmt(db,
             "INSERT OR REPLACE INTO contexts (key, vars,"
             " updated_ms) VALUES (?,?,?)"))
        != NULL) {
        bind_text(st, 1, key);
        bind_text(st, 2, json);
        sqlite3_bind_int64(st, 3, clock_now_ms());
        rc = sqlite3_step(st) == SQLITE_DONE ? 0 : ERR_DB;
        store_done(db, st);
    }
    store_unlock(db);
    return rc;
}

static char *
sq_ctx_get(struct eng_store *db, const char *key)
{
    sqlite3_stmt *st;
    char         *r = NULL;

    store_lock(db);
    if ((st = store_stmt(db, "SELECT vars FROM contexts WHERE key=?"))
        != NULL) {
        bind_text(st, 1, key);
        if (sqlite3_step(st) == SQLITE_ROW)
            r = strdup((const char *)sqlite3_column_text(st, 0));
        store_done(db, st);
    }
    store_unlock(db);
    return r;
}

static void
rdb_update_hook(void *arg, int op, const char *dbname, const char *table,
    sqlite3_int64 rowid)
{
    struct eng_store *w = arg;

    (void)op;
    (void)dbname;
    (void)rowid;
    if (w->watch_cb != NULL
        && (strcmp(table, "applets") == 0 || strcmp(table, "environment") == 0))
        w->watch_cb(w->watch_ud, table);
}

static void
sq_watch(struct eng_store *db, void (*cb)(void *ud, const char *table),
    void                  *ud)
{
    store_lock(db);
    db->watch_cb = cb;
    db->watch_ud = ud;
    sqlite3_update_hook(db->db, cb ? rdb_update_hook : NULL, cb ? db : NULL);
    store_unlock(db);
}

static int
sq_token_set(struct eng_store *db, const char *applet, const char *token_sha256,
    const char *secret, struct errbuf *eb)
{
    sqlite3_stmt *st;
    int           rc = 0;

    store_lock(db);
    st = store_stmt(db,
        "UPDATE applets SET webhook_token_sha256=?,"
        " webhook_secret=?, webhook_token=NULL WHERE name=?");
    if (st == NULL) {
        rc = rdb_err(db, eb, "storing the webhook token");
    } else {
        bind_text(st, 1, token_sha256);
        bind_text(st, 2, secret);
        bind_text(st, 3, applet);
        if (sqlite3_step(st) != SQLITE_DONE)
            rc = rdb_err(db, eb, "storing the webhook token");
        else if (sqlite3_changes(db->db) == 0)
            rc = err_set(eb, ERR_NOTFOUND, "not_found",
                "no applet named \"%s\"", applet);
        store_done(db, st);
    }
    store_unlock(db);
    return rc;
}

const struct store_run_ops sqlite_run_ops = {
    .mark = sq_mark,
    .durable = sq_durable,
    .run_insert = sq_run_insert,
    .run_delete = sq_run_delete,
    .run_start = sq_run_start,
    .run_finish = sq_run_finish,
    .runs_list = sq_runs_list,
    .run_get = sq_run_get,
    .runs_prune = sq_runs_prune,
    .runs_recover = sq_runs_recover,
    .idem_get = sq_idem_get,
    .idem_put = sq_idem_put,
    .ctx_save = sq_ctx_save,
    .ctx_get = sq_ctx_get,
    .watch = sq_watch,
    .token_set = sq_token_set,
};
