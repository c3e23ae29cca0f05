/* SPDX-License-Identifier: MIT */
/*
 * tests/unit/store/storetest.h: helpers shared by the store's unit tests:
 * a fresh temporary data directory, its removal, and a store opened in it
 * (a failed open fails the test with the store's message). Include after
 * cmocka.h.
 *
 * Both backends: the same tests run on SQLite ("store/test_x") and, when
 * HERALD_TEST_PG names the state file of a running test server
 * (tests/lib/pgsrv.py, the ctest fixture "pg"), on PostgreSQL
 * ("store/test_x@pg"). There, tmpdir_new() also creates a fresh database
 * on that server and notes its name in the directory (file
 * PG_DB_FILE), open_ok() and store_test_open() open that database with
 * eng_store_open_url (so a reopen finds the same data), and tmpdir_free()
 * drops it. A test about SQLite itself (its file, its migrations) starts
 * with SKIP_ON_PG("why").
 */
#ifndef HERALD_TESTS_STORETEST_H
#define HERALD_TESTS_STORETEST_H

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cjson/cJSON.h>
#include <libpq-fe.h>
#include <sqlite3.h>

#include "engine/store/store.h"

#define PG_ENV     "HERALD_TEST_PG"
#define PG_DB_FILE "pg-test-database"

/* 1 when the tests run on PostgreSQL. */
static inline int
store_test_pg(void)
{
    const char *s = getenv(PG_ENV);

    return s != NULL && *s != '\0';
}

/* Skips the calling test on PostgreSQL, saying why. */
#define SKIP_ON_PG(why)                                                        \
    do {                                                                       \
        if (store_test_pg()) {                                                 \
            print_message("[  SKIP    ] SQLite only: %s\n", (why));            \
            skip();                                                            \
        }                                                                      \
    } while (0)

/* The test server's admin URL (postgresql://herald:PW@127.0.0.1:P/postgres)
 * from the state file; fails the test when it cannot be read. */
static inline const char *
pg_admin_url(void)
{
    static char *url;
    const char  *path = getenv(PG_ENV);
    FILE        *f;
    char         buf[4096];
    size_t       n;
    cJSON       *j, *u;

    if (url != NULL)
        return url;
    if ((f = fopen(path, "r")) == NULL)
        fail_msg("%s=%s: %s (is the ctest fixture pg/start running?)", PG_ENV,
            path, strerror(errno));
    n = fread(buf, 1, sizeof(buf) - 1, f);
    fclose(f);
    buf[n] = '\0';
    j = cJSON_Parse(buf);
    u = cJSON_GetObjectItemCaseSensitive(j, "admin_url");
    if (!cJSON_IsString(u))
        fail_msg("%s=%s: no admin_url in it", PG_ENV, path);
    url = strdup(u->valuestring);
    cJSON_Delete(j);
    return url;
}

/* The URL of database db on the test server (a new string). */
static inline char *
pg_db_url(const char *db)
{
    const char *admin = pg_admin_url();
    const char *slash = strrchr(admin, '/');
    size_t      len = (size_t)(slash - admin) + 1 + strlen(db) + 1;
    char       *u = malloc(len);

    assert_non_null(u);
    snprintf(u, len, "%.*s/%s", (int)(slash - admin), admin, db);
    return u;
}

/* Runs sql in database db (NULL: the admin database) of the test server;
 * fails the test with the server's message (never the URL). */
static inline void
pg_exec(const char *db, const char *sql)
{
    char     *url = db != NULL ? pg_db_url(db) : strdup(pg_admin_url());
    PGconn   *c = PQconnectdb(url);
    PGresult *r;

    free(url);
    if (PQstatus(c) != CONNECTION_OK) {
        fail_msg("connecting to the test PostgreSQL: %s", PQerrorMessage(c));
    }
    r = PQexec(c, sql);
    if (PQresultStatus(r) != PGRES_COMMAND_OK
        && PQresultStatus(r) != PGRES_TUPLES_OK)
        fail_msg("%s: %s", sql, PQerrorMessage(c));
    PQclear(r);
    PQfinish(c);
}

/* The name of dir's database (a new string), created on first use. */
static inline char *
pg_db_of(const char *dir)
{
    static unsigned serial;
    char            path[512], name[64], sql[128];
    FILE           *f;

    snprintf(path, sizeof(path), "%s/%s", dir, PG_DB_FILE);
    if ((f = fopen(path, "r")) != NULL) {
        if (fgets(name, sizeof(name), f) == NULL)
            name[0] = '\0';
        fclose(f);
        name[strcspn(name, "\n")] = '\0';
        if (name[0] != '\0')
            return strdup(name);
    }
    snprintf(name, sizeof(name), "herald_unit_%ld_%u", (long)getpid(),
        ++serial);
    snprintf(sql, sizeof(sql), "CREATE DATABASE \"%s\"", name);
    pg_exec(NULL, sql);
    mkdir(dir, 0700);
    if ((f = fopen(path, "w")) == NULL)
        fail_msg("%s: %s", path, strerror(errno));
    fprintf(f, "%s\n", name);
    fclose(f);
    return strdup(name);
}

/* A new directory /tmp/herald-store-XXXXXX (free with tmpdir_free); on
 * PostgreSQL with a new database of its own. */
static inline char *
tmpdir_new(void)
{
    char  tmpl[] = "/tmp/herald-store-XXXXXX";
    char *d = mkdtemp(tmpl);

    assert_non_null(d);
    d = strdup(d);
    if (store_test_pg())
        free(pg_db_of(d));
    return d;
}

/* Removes d and everything in it (on PostgreSQL also its database), and
 * frees the string. */
static inline void
tmpdir_free(char *d)
{
    char cmd[512];

    if (store_test_pg()) {
        char  path[512];
        char *db;

        snprintf(path, sizeof(path), "%s/%s", d, PG_DB_FILE);
        if (access(path, F_OK) == 0) {
            char sql[128];

            db = pg_db_of(d);
            snprintf(sql, sizeof(sql),
                "DROP DATABASE IF EXISTS \"%s\" WITH (FORCE)", db);
            pg_exec(NULL, sql);
            free(db);
        }
    }
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", d);
    assert_int_equal(system(cmd), 0);
    free(d);
}

/* Opens dir's store on the backend under test: eng_store_open on SQLite,
 * eng_store_open_url(dir, its database) on PostgreSQL. */
static inline int
store_test_open(const char *dir, struct eng_store **out, struct errbuf *eb)
{
    char *db, *url;
    int   rc;

    if (!store_test_pg())
        return eng_store_open(dir, out, eb);
    db = pg_db_of(dir);
    url = pg_db_url(db);
    rc = eng_store_open_url(dir, url, out, eb);
    free(url);
    free(db);
    return rc;
}

static inline struct eng_store *
open_ok(const char *dir)
{
    struct eng_store *st = NULL;
    struct errbuf     eb = { 0 };

    if (store_test_open(dir, &st, &eb) != 0)
        fail_msg("open %s: %s", dir, eb.msg);
    return st;
}

/* Runs sql (no result rows wanted) directly on dir's database, beside the
 * store (which should be closed): DATA_DIR/herald.db on SQLite, its
 * database on PostgreSQL. */
static inline void
store_test_exec(const char *dir, const char *sql)
{
    char     path[512];
    sqlite3 *db;
    char    *msg = NULL;

    if (store_test_pg()) {
        char *name = pg_db_of(dir);

        pg_exec(name, sql);
        free(name);
        return;
    }
    snprintf(path, sizeof(path), "%s/herald.db", dir);
    assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
    if (sqlite3_exec(db, sql, NULL, NULL, &msg) != SQLITE_OK)
        fail_msg("%s: %s", sql, msg ? msg : "?");
    sqlite3_close(db);
}

/* The integer in the first column of the first row of query on dir's
 * database (as store_test_exec); fails the test without one. */
static inline long long
store_test_query_int(const char *dir, const char *query)
{
    char          path[512];
    sqlite3      *db;
    sqlite3_stmt *s;
    long long     v;

    if (store_test_pg()) {
        char     *name = pg_db_of(dir), *url = pg_db_url(name);
        PGconn   *c = PQconnectdb(url);
        PGresult *r;

        free(url);
        free(name);
        if (PQstatus(c) != CONNECTION_OK)
            fail_msg("connecting to the test PostgreSQL: %s",
                PQerrorMessage(c));
        r = PQexec(c, query);
        if (PQresultStatus(r) != PGRES_TUPLES_OK || PQntuples(r) < 1
            || PQgetisnull(r, 0, 0))
            fail_msg("%s: no value: %s", query, PQerrorMessage(c));
        v = strtoll(PQgetvalue(r, 0, 0), NULL, 10);
        PQclear(r);
        PQfinish(c);
        return v;
    }
    snprintf(path, sizeof(path), "%s/herald.db", dir);
    assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
    if (sqlite3_prepare_v2(db, query, -1, &s, NULL) != SQLITE_OK)
        fail_msg("%s: %s", query, sqlite3_errmsg(db));
    if (sqlite3_step(s) != SQLITE_ROW
        || sqlite3_column_type(s, 0) == SQLITE_NULL)
        fail_msg("%s: no value", query);
    v = sqlite3_column_int64(s, 0);
    sqlite3_finalize(s);
    sqlite3_close(db);
    return v;
}

#endif
