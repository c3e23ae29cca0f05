/* SPDX-License-Identifier: MIT */
/*
 * engine/store/stmt_cache.h: prepared statements kept per SQLite connection.
 *
 * Preparing a statement parses and compiles its SQL; on the hot paths (a
 * webhook's run row, the outbox's claim and record) that cost as much as
 * running it. A cache hands back the same compiled statement for the same
 * SQL text. Entries are found by the text's address, so sql must have
 * static storage (a string literal, or a table of them): a string built at
 * run time could be freed and its address reused for another text (debug
 * builds assert that the texts match).
 *
 * Not thread safe: the caller holds the connection's lock from
 * stmt_cache_get() to stmt_cache_put(), and must put every statement it got
 * (a statement left stepped keeps a read transaction open).
 */
#ifndef HERALD_ENGINE_STMT_CACHE_H
#define HERALD_ENGINE_STMT_CACHE_H

#include <sqlite3.h>

struct stmt_cache; /* opaque */

/* A new, empty cache for db (borrowed; must outlive the cache). NULL when
 * out of memory. */
struct stmt_cache *stmt_cache_new(sqlite3 *db);
/* Finalizes every cached statement; NULL is a no-op. Call before closing
 * the connection. */
void stmt_cache_free(struct stmt_cache *c);
/* Finalizes every cached statement and leaves the cache empty and usable:
 * the next stmt_cache_get prepares again. For an idle process (each
 * compiled statement holds 1 - 5 KB; herald's few dozen ~70 KB). No
 * statement may be out (got and not put). NULL is a no-op. */
void stmt_cache_clear(struct stmt_cache *c);
/* A statement for sql, ready to bind and step, in *out. Returns SQLITE_OK
 * or SQLite's error code from preparing (the message is on the
 * connection: sqlite3_errmsg). */
int stmt_cache_get(struct stmt_cache *c, const char *sql, sqlite3_stmt **out);
/* Gives st back: reset with its bindings cleared if it is cached,
 * finalized if not. NULL is a no-op. */
void stmt_cache_put(struct stmt_cache *c, sqlite3_stmt *st);

#endif
