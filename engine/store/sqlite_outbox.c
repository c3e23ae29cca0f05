/* SPDX-License-Identifier: MIT */
/*
 * engine/store/sqlite_outbox.c: the outbox table's SQL (SQLite), for engine/outbox/outbox.c.
 *
 * The outbox decides (states, retry times, what a sent message keeps); this
 * file only reads and writes rows, with the cached statements and the lock
 * of the runtime tables' handle (engine/store/store_int.h). Claims are one
 * UPDATE ... RETURNING for a whole batch, and a batch's outcomes are one
 * transaction (docs/design.md, "Durability").
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sqlite3.h>

#include "common/log.h"
#include "engine/store/store_int.h"

static char *
ob_col_dup(sqlite3_stmt *st, int col)
{
    const unsigned char *s = sqlite3_column_text(st, col);

    return s ? strdup((const char *)s) : NULL;
}

/* Runs one statement without results (db lock held). */
static int
ob_exec(struct eng_store *db, const char *sql)
{
    sqlite3_stmt *st = store_stmt(db, sql);
    int           rc;

    if (st == NULL)
        return ERR_DB;
    rc = sqlite3_step(st);
    store_done(db, st);
    return rc == SQLITE_DONE || rc == SQLITE_ROW ? 0 : ERR_DB;
}

static int
sq_ob_put(struct eng_store *db, const struct eng_ob_new *m, long long *id,
    struct errbuf *eb)
{
    sqlite3_stmt *st;
    int           rc = 0;

    store_lock(db);
    if ((st = store_stmt(db,
             "INSERT INTO outbox (run_id, applet,"
             " state, skey, req, created_ms, next_ms, expires_ms, updated_ms)"
             " VALUES (?,?,?,?,?,?,?,?,?)"))
        == NULL) {
        rc = err_set(eb, ERR_DB, "db_error", "cannot queue the message: %s",
            sqlite3_errmsg(db->db));
    } else {
        if (m->run_id > 0)
            sqlite3_bind_int64(st, 1, m->run_id);
        sqlite3_bind_text(st, 2, m->applet, -1, SQLITE_TRANSIENT);
        sqlite3_bind_text(st, 3, m->hold ? "sending" : "queued", -1,
            SQLITE_STATIC);
        sqlite3_bind_text(st, 4, m->skey, -1, SQLITE_TRANSIENT);
        sqlite3_bind_text(st, 5, m->req, -1, SQLITE_TRANSIENT);
        sqlite3_bind_int64(st, 6, m->now_ms);
        sqlite3_bind_int64(st, 7, m->now_ms);
        sqlite3_bind_int64(st, 8, m->expires_ms);
        sqlite3_bind_int64(st, 9, m->now_ms);
        if (sqlite3_step(st) != SQLITE_DONE) {
            rc = err_set(eb, ERR_DB, "db_error", "cannot queue the message: %s",
                sqlite3_errmsg(db->db));
        } else if (id != NULL) {
            *id = sqlite3_last_insert_rowid(db->db);
        }
        store_done(db, st);
    }
    store_unlock(db);
    return rc;
}

void
eng_ob_row_clear(struct eng_ob_row *r)
{
    if (r == NULL)
        return;
    free(r->skey);
    if (r->req != NULL)
        explicit_bzero(r->req, strlen(r->req));
    free(r->req);
    memset(r, 0, sizeof(*r));
}

/* A row (id, run_id, attempts, expires_ms, skey, req) into r; 0 or
 * ERR_NOMEM. */
static int
ob_row_load(sqlite3_stmt *st, struct eng_ob_row *r)
{
    memset(r, 0, sizeof(*r));
    r->id = sqlite3_column_int64(st, 0);
    r->run_id = sqlite3_column_int64(st, 1);
    r->attempts = (unsigned)sqlite3_column_int(st, 2);
    r->expires_ms = sqlite3_column_int64(st, 3);
    r->skey = ob_col_dup(st, 4);
    r->req = ob_col_dup(st, 5);
    if (r->skey == NULL || r->req == NULL) {
        eng_ob_row_clear(r);
        return ERR_NOMEM;
    }
    return 0;
}

static int
sq_ob_claim_held(struct eng_store *db, long long id, long long now_ms,
    struct eng_ob_row *out)
{
    sqlite3_stmt *st;
    int           rc = ERR_DB;

    memset(out, 0, sizeof(*out));
    store_lock(db);
    if ((st = store_stmt(db,
             "UPDATE outbox SET updated_ms=? WHERE"
             " id=? AND state IN ('queued','sending') RETURNING id, run_id,"
             " attempts, expires_ms, skey, req"))
        != NULL) {
        sqlite3_bind_int64(st, 1, now_ms);
        sqlite3_bind_int64(st, 2, id);
        if (sqlite3_step(st) == SQLITE_ROW)
            rc = ob_row_load(st, out);
        else
            rc = ERR_NOTFOUND;
        while (sqlite3_step(st) == SQLITE_ROW)
            ;
        store_done(db, st);
    }
    store_unlock(db);
    return rc;
}

static unsigned
sq_ob_claim_due(struct eng_store *db, const char *skey, long long now_ms,
    unsigned max, struct eng_ob_row *out)
{
    sqlite3_stmt *st;
    unsigned      n = 0;

    store_lock(db);
    if ((st = store_stmt(db,
             "UPDATE outbox SET state='sending',"
             " updated_ms=?1 WHERE id IN (SELECT id FROM outbox WHERE"
             " state='queued' AND next_ms<=?1 AND (?2 IS NULL OR skey=?2)"
             " ORDER BY next_ms, id LIMIT ?3) RETURNING id, run_id, attempts,"
             " expires_ms, skey, req"))
        != NULL) {
        sqlite3_bind_int64(st, 1, now_ms);
        if (skey != NULL)
            sqlite3_bind_text(st, 2, skey, -1, SQLITE_TRANSIENT);
        sqlite3_bind_int(st, 3, (int)max);
        while (sqlite3_step(st) == SQLITE_ROW)
            if (n < max && ob_row_load(st, &out[n]) == 0)
                n++;
            else
                log_err("outbox", "event=load-failed id=%lld",
                    (long long)sqlite3_column_int64(st, 0));
        store_done(db, st);
    }
    store_unlock(db);
    return n;
}

static unsigned
sq_ob_due_keys(struct eng_store *db, long long now_ms, unsigned max,
    char **keys)
{
    sqlite3_stmt *st;
    unsigned      n = 0;
    int           oom = 0;

    store_lock(db);
    if ((st = store_stmt(db,
             "SELECT skey FROM outbox WHERE state='queued'"
             " AND next_ms<=? GROUP BY skey ORDER BY MIN(next_ms) LIMIT ?"))
        != NULL) {
        sqlite3_bind_int64(st, 1, now_ms);
        sqlite3_bind_int(st, 2, (int)max);
        while (n < max && sqlite3_step(st) == SQLITE_ROW)
            if ((keys[n] = store_col_text(st, 0, &oom)) != NULL)
                n++;
        store_done(db, st);
    }
    store_unlock(db);
    return n;
}

static int
sq_ob_req(struct eng_store *db, long long id, char **req)
{
    sqlite3_stmt *st;
    int           rc = ERR_NOTFOUND, oom = 0;

    *req = NULL;
    store_lock(db);
    if ((st = store_stmt(db, "SELECT req FROM outbox WHERE id=?")) == NULL)
        rc = ERR_DB;
    else {
        sqlite3_bind_int64(st, 1, id);
        if (sqlite3_step(st) == SQLITE_ROW)
            rc = (*req = store_col_text(st, 0, &oom)) != NULL ? 0 : ERR_NOMEM;
        store_done(db, st);
    }
    store_unlock(db);
    return rc;
}

static void
sq_ob_release(struct eng_store *db, const long long *ids, unsigned n)
{
    sqlite3_stmt *st;

    store_lock(db);
    for (unsigned i = 0; i < n; i++)
        if ((st = store_stmt(db,
                 "UPDATE outbox SET state='queued'"
                 " WHERE id=? AND state='sending'"))
            != NULL) {
            sqlite3_bind_int64(st, 1, ids[i]);
            sqlite3_step(st);
            store_done(db, st);
        }
    store_unlock(db);
}

/* Writes one outcome and its attempt (db lock held, inside the batch's
 * transaction); 0 or ERR_DB. A sent message clears the last error and
 * records when; any outcome may replace the request (req). The attempt
 * history keeps the first attempt and the last ENG_OB_ATTEMPTS_LAST. */
static int
ob_outcome_store(struct eng_store *db, const struct eng_ob_outcome *o)
{
    sqlite3_stmt *st;
    int           rc = ERR_DB;

    if ((st = store_stmt(db,
             "UPDATE outbox SET state=?1, attempts=?2,"
             " next_ms=?3, last_klass=?4, last_code=?5, last_message=?6,"
             " last_permanent=?7, sent_ms=coalesce(?8, sent_ms),"
             " updated_ms=?9, req=coalesce(?10, req), failed=?12"
             " WHERE id=?11"))
        != NULL) {
        sqlite3_bind_text(st, 1, o->state, -1, SQLITE_STATIC);
        sqlite3_bind_int(st, 2, (int)o->attempts);
        sqlite3_bind_int64(st, 3, o->next_ms);
        if (!o->sent)
            sqlite3_bind_text(st, 4, o->klass, -1, SQLITE_TRANSIENT);
        sqlite3_bind_int(st, 5, o->code);
        sqlite3_bind_text(st, 6, o->message, -1, SQLITE_TRANSIENT);
        sqlite3_bind_int(st, 7, o->sent ? 0 : o->permanent);
        if (o->sent)
            sqlite3_bind_int64(st, 8, o->now_ms);
        sqlite3_bind_int64(st, 9, o->now_ms);
        if (o->req != NULL)
            sqlite3_bind_text(st, 10, o->req, -1, SQLITE_STATIC);
        sqlite3_bind_int64(st, 11, o->id);
        sqlite3_bind_int(st, 12, o->sent ? 0 : o->failed != 0);
        rc = sqlite3_step(st) == SQLITE_DONE ? 0 : ERR_DB;
        store_done(db, st);
    }
    if (rc == 0
        && (st = store_stmt(db,
                "INSERT OR REPLACE INTO"
                " outbox_attempts (msg_id, n, at_ms, ok, klass, code, message,"
                " advice, permanent, trace) VALUES (?,?,?,?,?,?,?,?,?,?)"))
            != NULL) {
        sqlite3_bind_int64(st, 1, o->id);
        sqlite3_bind_int(st, 2, (int)o->attempts);
        sqlite3_bind_int64(st, 3, o->now_ms);
        sqlite3_bind_int(st, 4, o->sent);
        if (!o->sent)
            sqlite3_bind_text(st, 5, o->klass, -1, SQLITE_STATIC);
        sqlite3_bind_int(st, 6, o->code);
        sqlite3_bind_text(st, 7, o->message, -1, SQLITE_STATIC);
        if (!o->sent && o->advice != NULL && *o->advice != '\0')
            sqlite3_bind_text(st, 8, o->advice, -1, SQLITE_STATIC);
        sqlite3_bind_int(st, 9, o->sent ? 0 : o->permanent);
        if (o->trace != NULL)
            sqlite3_bind_text(st, 10, o->trace, -1, SQLITE_STATIC);
        rc = sqlite3_step(st) == SQLITE_DONE ? 0 : ERR_DB;
        store_done(db, st);
    } else if (rc == 0) {
        rc = ERR_DB;
    }
    /* attempts 2 .. n-LAST go: the first and the last LAST stay */
    if (rc == 0 && o->attempts > ENG_OB_ATTEMPTS_LAST + 1
        && (st = store_stmt(db,
                "DELETE FROM outbox_attempts WHERE"
                " msg_id=? AND n>1 AND n<=?"))
            != NULL) {
        sqlite3_bind_int64(st, 1, o->id);
        sqlite3_bind_int(st, 2, (int)(o->attempts - ENG_OB_ATTEMPTS_LAST));
        rc = sqlite3_step(st) == SQLITE_DONE ? 0 : ERR_DB;
        store_done(db, st);
    }
    if (rc != 0)
        log_err("outbox", "event=update-failed id=%lld error=\"%s\"", o->id,
            sqlite3_errmsg(db->db));
    return rc;
}

static void
sq_ob_record(struct eng_store *db, const struct eng_ob_outcome *o, unsigned n)
{
    struct errbuf eb;
    unsigned      i;
    int           rc;

    err_clear(&eb);
    store_lock(db);
    if ((rc = store_tx_begin(db, &eb)) != 0) {
        log_err("outbox", "event=begin-failed error=\"%s\"", eb.msg);
        store_unlock(db);
        return;
    }
    /* one failed row does not lose the others' outcomes */
    for (i = 0; i < n; i++)
        ob_outcome_store(db, &o[i]);
    if (store_tx_end(db, 0, &eb) != 0)
        log_err("outbox", "event=commit-failed error=\"%s\"", eb.msg);
    store_unlock(db);
}

/* One integer from a one-row query under the lock; 0 when it has no row,
 * a NULL value, or the statement cannot be prepared. */
static long long
ob_scalar(struct eng_store *db, const char *sql)
{
    sqlite3_stmt *st;
    long long     v = 0;

    store_lock(db);
    if ((st = store_stmt(db, sql)) != NULL) {
        if (sqlite3_step(st) == SQLITE_ROW
            && sqlite3_column_type(st, 0) != SQLITE_NULL)
            v = sqlite3_column_int64(st, 0);
        store_done(db, st);
    }
    store_unlock(db);
    return v;
}

static long long
sq_ob_earliest(struct eng_store *db)
{
    return ob_scalar(db,
        "SELECT MIN(next_ms) FROM outbox WHERE state='queued'");
}

static int
sq_ob_resume(struct eng_store *db)
{
    int n = 0;

    store_lock(db);
    if (ob_exec(db, "UPDATE outbox SET state='queued' WHERE state='sending'")
        == 0)
        n = sqlite3_changes(db->db);
    store_unlock(db);
    return n;
}

void
eng_ob_item_clear(struct eng_ob_item *it)
{
    if (it == NULL)
        return;
    free(it->applet);
    free(it->state);
    if (it->req != NULL)
        explicit_bzero(it->req, strlen(it->req));
    free(it->req);
    free(it->last_klass);
    free(it->last_message);
    memset(it, 0, sizeof(*it));
}

void
eng_ob_items_free(struct eng_ob_item *v, size_t n)
{
    size_t i;

    for (i = 0; v != NULL && i < n; i++)
        eng_ob_item_clear(&v[i]);
    free(v);
}

#define OB_ITEM_COLS                                                           \
    "id, run_id, applet, state, req, attempts, created_ms,"                    \
    " next_ms, expires_ms, last_klass, last_code, last_message,"               \
    " last_permanent, sent_ms, failed"

/* A row selected with OB_ITEM_COLS into it; 0 or ERR_NOMEM (it cleared). */
static int
ob_item_load(sqlite3_stmt *st, struct eng_ob_item *it)
{
    memset(it, 0, sizeof(*it));
    it->id = sqlite3_column_int64(st, 0);
    it->has_run = sqlite3_column_type(st, 1) != SQLITE_NULL;
    it->run_id = sqlite3_column_int64(st, 1);
    it->applet = ob_col_dup(st, 2);
    it->state = ob_col_dup(st, 3);
    it->req = ob_col_dup(st, 4);
    it->attempts = (unsigned)sqlite3_column_int(st, 5);
    it->created_ms = sqlite3_column_int64(st, 6);
    it->next_ms = sqlite3_column_int64(st, 7);
    it->expires_ms = sqlite3_column_int64(st, 8);
    it->has_last_error = sqlite3_column_type(st, 9) != SQLITE_NULL;
    it->last_klass = ob_col_dup(st, 9);
    it->last_code = sqlite3_column_int(st, 10);
    it->last_message = ob_col_dup(st, 11);
    it->last_permanent = sqlite3_column_int(st, 12);
    it->sent_ms = sqlite3_column_type(st, 13) != SQLITE_NULL
        ? sqlite3_column_int64(st, 13)
        : 0;
    it->failed = sqlite3_column_int(st, 14);
    if (it->state == NULL || it->req == NULL
        || (it->has_last_error && it->last_klass == NULL)) {
        eng_ob_item_clear(it);
        return ERR_NOMEM;
    }
    return 0;
}

static int
sq_ob_list(struct eng_store *db, const char *state, struct eng_ob_item **out,
    size_t *n, struct errbuf *eb)
{
    sqlite3_stmt       *st;
    struct eng_ob_item *v = NULL;
    size_t              cap = 0;

    *out = NULL;
    *n = 0;
    store_lock(db);
    if ((st = store_stmt(db,
             "SELECT " OB_ITEM_COLS " FROM outbox"
             " WHERE (?1 IS NULL OR state=?1) ORDER BY id DESC LIMIT 500"))
        == NULL) {
        store_unlock(db);
        return err_set(eb, ERR_DB, "db_error", "cannot list the outbox: %s",
            sqlite3_errmsg(db->db));
    }
    if (state != NULL)
        sqlite3_bind_text(st, 1, state, -1, SQLITE_TRANSIENT);
    while (sqlite3_step(st) == SQLITE_ROW) {
        if (*n == cap) {
            struct eng_ob_item *nv;

            cap = cap ? cap * 2 : 16;
            if ((nv = realloc(v, cap * sizeof(*v))) == NULL)
                break;
            v = nv;
        }
        if (ob_item_load(st, &v[*n]) == 0)
            (*n)++;
    }
    store_done(db, st);
    store_unlock(db);
    *out = v;
    return 0;
}

static int
sq_ob_get(struct eng_store *db, long long id, struct eng_ob_item *out,
    struct errbuf *eb)
{
    sqlite3_stmt *st;
    int           rc, s;

    memset(out, 0, sizeof(*out));
    store_lock(db);
    if ((st = store_stmt(db,
             "SELECT " OB_ITEM_COLS " FROM outbox"
             " WHERE id=?"))
        == NULL) {
        rc = err_set(eb, ERR_DB, "db_error",
            "cannot read outbox message %lld: %s", id, sqlite3_errmsg(db->db));
    } else {
        sqlite3_bind_int64(st, 1, id);
        if ((s = sqlite3_step(st)) == SQLITE_ROW)
            rc = ob_item_load(st, out) == 0
                ? 0
                : err_set(eb, ERR_NOMEM, "nomem", "out of memory");
        else if (s == SQLITE_DONE)
            rc = err_set(eb, ERR_NOTFOUND, "not_found",
                "no outbox message with id %lld", id);
        else
            rc = err_set(eb, ERR_DB, "db_error",
                "cannot read outbox message %lld: %s", id,
                sqlite3_errmsg(db->db));
        store_done(db, st);
    }
    store_unlock(db);
    return rc;
}

void
eng_ob_attempts_free(struct eng_ob_attempt *v, size_t n)
{
    size_t i;

    for (i = 0; v != NULL && i < n; i++) {
        free(v[i].klass);
        free(v[i].message);
        free(v[i].advice);
        free(v[i].trace);
    }
    free(v);
}

static int
sq_ob_attempts(struct eng_store *db, long long id, int last,
    struct eng_ob_attempt **out, size_t *n, struct errbuf *eb)
{
    sqlite3_stmt          *st;
    struct eng_ob_attempt *v = NULL, *a;
    size_t                 cap = 0;
    int                    rc = 0, s, oom = 0;

    *out = NULL;
    *n = 0;
    store_lock(db);
    /* the newest first when only it is wanted, else oldest first */
    st = store_stmt(db,
        last ? "SELECT n, at_ms, ok, klass, code, message,"
               " advice, permanent, trace FROM outbox_attempts WHERE msg_id=?"
               " ORDER BY n DESC LIMIT 1"
             : "SELECT n, at_ms, ok, klass, code,"
               " message, advice, permanent, trace FROM outbox_attempts"
               " WHERE msg_id=? ORDER BY n");
    if (st == NULL) {
        store_unlock(db);
        return err_set(eb, ERR_DB, "db_error",
            "cannot read the attempts of message %lld: %s", id,
            sqlite3_errmsg(db->db));
    }
    sqlite3_bind_int64(st, 1, id);
    while ((s = sqlite3_step(st)) == SQLITE_ROW) {
        if (*n == cap) {
            struct eng_ob_attempt *nv;

            cap = cap ? cap * 2 : 8;
            if ((nv = realloc(v, cap * sizeof(*v))) == NULL) {
                oom = 1;
                break;
            }
            v = nv;
        }
        a = &v[(*n)++];
        memset(a, 0, sizeof(*a));
        a->n = (unsigned)sqlite3_column_int(st, 0);
        a->at_ms = sqlite3_column_int64(st, 1);
        a->ok = sqlite3_column_int(st, 2);
        a->klass = store_col_text(st, 3, &oom);
        a->code = sqlite3_column_int(st, 4);
        a->message = store_col_text(st, 5, &oom);
        a->advice = store_col_text(st, 6, &oom);
        a->permanent = sqlite3_column_int(st, 7);
        a->trace = store_col_text(st, 8, &oom);
    }
    if (oom)
        rc = err_set(eb, ERR_NOMEM, "nomem", "out of memory");
    else if (s != SQLITE_ROW && s != SQLITE_DONE)
        rc = err_set(eb, ERR_DB, "db_error",
            "cannot read the attempts of message %lld: %s", id,
            sqlite3_errmsg(db->db));
    store_done(db, st);
    store_unlock(db);
    if (rc != 0) {
        eng_ob_attempts_free(v, *n);
        *n = 0;
        return rc;
    }
    *out = v;
    return 0;
}

static int
sq_ob_requeue(struct eng_store *db, long long id, long long now_ms,
    long long expires_ms, const char *req, const char *skey, struct errbuf *eb)
{
    sqlite3_stmt *st;
    char          state[16] = "";
    int           rc = 0;

    store_lock(db);
    if ((st = store_stmt(db, "SELECT state FROM outbox WHERE id=?")) != NULL) {
        sqlite3_bind_int64(st, 1, id);
        if (sqlite3_step(st) == SQLITE_ROW)
            snprintf(state, sizeof(state), "%s",
                (const char *)sqlite3_column_text(st, 0));
        store_done(db, st);
    }
    if (state[0] == '\0') {
        rc = err_set(eb, ERR_NOTFOUND, "not_found",
            "no outbox message with id %lld", id);
    } else if (strcmp(state, "dead") != 0 && strcmp(state, "queued") != 0) {
        rc = err_set(eb, ERR_INVAL, "invalid_state",
            "message %lld is %s; only dead or queued messages can be "
            "re-sent",
            id, state);
    } else if ((st = store_stmt(db,
                    "UPDATE outbox SET"
                    " state='queued', next_ms=?, expires_ms=?, updated_ms=?, "
                    "failed=0,"
                    " req=coalesce(?, req), skey=coalesce(?, skey)"
                    " WHERE id=?"))
        != NULL) {
        sqlite3_bind_int64(st, 1, now_ms);
        sqlite3_bind_int64(st, 2, expires_ms);
        sqlite3_bind_int64(st, 3, now_ms);
        if (req != NULL)
            sqlite3_bind_text(st, 4, req, -1, SQLITE_STATIC);
        if (skey != NULL)
            sqlite3_bind_text(st, 5, skey, -1, SQLITE_STATIC);
        sqlite3_bind_int64(st, 6, id);
        if (sqlite3_step(st) != SQLITE_DONE)
            rc = err_set(eb, ERR_DB, "db_error", "cannot re-queue: %s",
                sqlite3_errmsg(db->db));
        store_done(db, st);
    } else {
        rc = err_set(eb, ERR_DB, "db_error", "cannot re-queue: %s",
            sqlite3_errmsg(db->db));
    }
    store_unlock(db);
    return rc;
}

static int
sq_ob_state(struct eng_store *db, long long id, char *state, size_t n,
    unsigned *attempts, long long *next_ms)
{
    sqlite3_stmt *st;
    int           rc = ERR_NOTFOUND;

    store_lock(db);
    if ((st = store_stmt(db,
             "SELECT state, attempts, next_ms FROM"
             " outbox WHERE id=?"))
        != NULL) {
        sqlite3_bind_int64(st, 1, id);
        if (sqlite3_step(st) == SQLITE_ROW) {
            if (state != NULL)
                snprintf(state, n, "%s",
                    (const char *)sqlite3_column_text(st, 0));
            if (attempts != NULL)
                *attempts = (unsigned)sqlite3_column_int(st, 1);
            if (next_ms != NULL)
                *next_ms = sqlite3_column_int64(st, 2);
            rc = 0;
        }
        store_done(db, st);
    }
    store_unlock(db);
    return rc;
}

static long long
sq_ob_pending(struct eng_store *db)
{
    return ob_scalar(db,
        "SELECT COUNT(*) FROM outbox"
        " WHERE state IN ('queued','sending')");
}

static int
sq_ob_census(struct eng_store *db, struct eng_ob_census *out, struct errbuf *eb)
{
    sqlite3_stmt *st;
    int           rc = 0;

    memset(out, 0, sizeof(*out));
    store_lock(db);
    /* outbox_due (state, next_ms) covers the count: no row is read */
    if ((st = store_stmt(db,
             "SELECT state, COUNT(*) FROM outbox"
             " GROUP BY state"))
        == NULL) {
        rc = err_set(eb, ERR_DB, "db_error", "cannot count the outbox: %s",
            sqlite3_errmsg(db->db));
        goto out;
    }
    while (sqlite3_step(st) == SQLITE_ROW) {
        const char *s = (const char *)sqlite3_column_text(st, 0);
        long long   n = sqlite3_column_int64(st, 1);

        if (s == NULL)
            continue;
        if (strcmp(s, "queued") == 0)
            out->queued = n;
        else if (strcmp(s, "sending") == 0)
            out->sending = n;
        else if (strcmp(s, "sent") == 0)
            out->sent = n;
        else if (strcmp(s, "dead") == 0)
            out->dead = n;
    }
    store_done(db, st);
    if ((st = store_stmt(db,
             "SELECT MIN(created_ms) FROM outbox"
             " WHERE state IN ('queued','sending')"))
        == NULL) {
        rc = err_set(eb, ERR_DB, "db_error", "cannot read the outbox: %s",
            sqlite3_errmsg(db->db));
        goto out;
    }
    if (sqlite3_step(st) == SQLITE_ROW
        && sqlite3_column_type(st, 0) != SQLITE_NULL)
        out->oldest_ms = sqlite3_column_int64(st, 0);
    store_done(db, st);
out:
    store_unlock(db);
    return rc;
}

const struct store_ob_ops sqlite_ob_ops = {
    .ob_put = sq_ob_put,
    .ob_claim_held = sq_ob_claim_held,
    .ob_claim_due = sq_ob_claim_due,
    .ob_due_keys = sq_ob_due_keys,
    .ob_req = sq_ob_req,
    .ob_release = sq_ob_release,
    .ob_record = sq_ob_record,
    .ob_earliest = sq_ob_earliest,
    .ob_resume = sq_ob_resume,
    .ob_list = sq_ob_list,
    .ob_get = sq_ob_get,
    .ob_attempts = sq_ob_attempts,
    .ob_requeue = sq_ob_requeue,
    .ob_state = sq_ob_state,
    .ob_pending = sq_ob_pending,
    .ob_census = sq_ob_census,
};
