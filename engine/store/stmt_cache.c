/* SPDX-License-Identifier: MIT */
/*
 * engine/store/stmt_cache.c: prepared statements kept per SQLite connection
 * (see stmt_cache.h). A fixed table searched linearly by the text's
 * address: herald has a few dozen distinct statements, and a pointer
 * compare per entry is cheaper than hashing or comparing the text.
 */
#include "engine/store/stmt_cache.h"

#include <assert.h>
#include <stdlib.h>
#include <string.h>

#define STMT_CACHE_SLOTS 48

struct stmt_slot {
    const char   *sql; /* the caller's text (address used as the key) */
    sqlite3_stmt *st;
};

struct stmt_cache {
    sqlite3         *db;
    unsigned         n;
    struct stmt_slot slot[STMT_CACHE_SLOTS];
};

struct stmt_cache *
stmt_cache_new(sqlite3 *db)
{
    struct stmt_cache *c = calloc(1, sizeof(*c));

    if (c != NULL)
        c->db = db;
    return c;
}

void
stmt_cache_clear(struct stmt_cache *c)
{
    if (c == NULL)
        return;
    for (unsigned i = 0; i < c->n; i++)
        sqlite3_finalize(c->slot[i].st);
    c->n = 0;
}

void
stmt_cache_free(struct stmt_cache *c)
{
    stmt_cache_clear(c);
    free(c);
}

int
stmt_cache_get(struct stmt_cache *c, const char *sql, sqlite3_stmt **out)
{
    struct stmt_slot *s;
    int               rc;

    *out = NULL;
    for (unsigned i = 0; i < c->n; i++) {
        s = &c->slot[i];
        if (s->sql == sql) {
            /* the address is the key: callers pass literals */
            assert(strcmp(sqlite3_sql(s->st), sql) == 0);
            *out = s->st;
            return SQLITE_OK;
        }
    }
    rc = sqlite3_prepare_v3(c->db, sql, -1,
        c->n < STMT_CACHE_SLOTS ? SQLITE_PREPARE_PERSISTENT : 0, out, NULL);
    if (rc != SQLITE_OK) {
        sqlite3_finalize(*out);
        *out = NULL;
        return rc;
    }
    if (c->n < STMT_CACHE_SLOTS && *out != NULL) {
        c->slot[c->n].sql = sql;
        c->slot[c->n].st = *out;
        c->n++;
    }
    return SQLITE_OK;
}

void
stmt_cache_put(struct stmt_cache *c, sqlite3_stmt *st)
{
    if (st == NULL)
        return;
    for (unsigned i = 0; i < c->n; i++)
        if (c->slot[i].st == st) {
            sqlite3_reset(st);
            sqlite3_clear_bindings(st);
            return;
        }
    sqlite3_finalize(st);
}
