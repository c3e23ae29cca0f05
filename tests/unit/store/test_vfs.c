/* SPDX-License-Identifier: MIT */
/*
 * tests/unit/store/test_vfs.c: the store's VFS (engine/store/sqlite_vfs.h)
 * writes a WAL that the default VFS reads back whole. After each commit
 * returns, the -wal file holds whole frames only (32-byte header, then
 * frames of 24 + page bytes: nothing held back), and a copy of the
 * database and its WAL taken while the connection is still open (what a
 * kill -9 leaves) opens with SQLite's default VFS with every committed row
 * and passes integrity_check. A commit that changes several pages reaches
 * the file in one write; one larger than what the VFS holds, in pieces.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "engine/store/sqlite_vfs.h"
#include "storetest.h"

#define ROWS 300
#define PAGE 4096

static void
exec_ok(sqlite3 *db, const char *sql)
{
    char *msg = NULL;

    if (sqlite3_exec(db, sql, NULL, NULL, &msg) != SQLITE_OK)
        fail_msg("%s: %s", sql, msg ? msg : "?");
}

static long long
file_size(const char *path)
{
    struct stat sb;

    return stat(path, &sb) == 0 ? (long long)sb.st_size : -1;
}

/* This process's write system calls so far (/proc/self/io "syscw"). */
static long long
writes_so_far(void)
{
    char      line[128];
    long long n = -1;
    FILE     *f = fopen("/proc/self/io", "r");

    assert_non_null(f);
    while (fgets(line, sizeof(line), f) != NULL)
        if (sscanf(line, "syscw: %lld", &n) == 1)
            break;
    fclose(f);
    assert_true(n >= 0);
    return n;
}

static long long
count_rows(sqlite3 *db)
{
    sqlite3_stmt *st;
    long long     n = -1;

    assert_int_equal(sqlite3_prepare_v2(db, "SELECT count(*) FROM t", -1, &st,
                         NULL),
        SQLITE_OK);
    if (sqlite3_step(st) == SQLITE_ROW)
        n = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    return n;
}

static void
a_killed_process_wal_should_read_back_whole_with_the_default_vfs(void **state)
{
    SKIP_ON_PG("the SQLite VFS");
    char          path[128], copy[256], cmd[768], blob[1000];
    char         *dir = tmpdir_new();
    sqlite3      *db = NULL, *back = NULL;
    sqlite3_stmt *ins, *chk;
    long long     wal;
    int           i;

    (void)state;
    assert_int_equal(store_vfs_register(), SQLITE_OK);
    assert_non_null(sqlite3_vfs_find(STORE_VFS_NAME));
    assert_ptr_not_equal(sqlite3_vfs_find(STORE_VFS_NAME),
        sqlite3_vfs_find(NULL)); /* not made the default */
    snprintf(path, sizeof(path), "%s/t.db", dir);
    assert_int_equal(sqlite3_open_v2(path, &db,
                         SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE,
                         STORE_VFS_NAME),
        SQLITE_OK);
    exec_ok(db,
        "PRAGMA page_size=4096; PRAGMA journal_mode=WAL;"
        "PRAGMA synchronous=NORMAL; PRAGMA wal_autocheckpoint=0;"
        "CREATE TABLE t (id INTEGER PRIMARY KEY, v BLOB)");
    memset(blob, 'x', sizeof(blob));
    assert_int_equal(sqlite3_prepare_v2(db, "INSERT INTO t (v) VALUES (?)", -1,
                         &ins, NULL),
        SQLITE_OK);
    snprintf(copy, sizeof(copy), "%s-wal", path);
    for (i = 0; i < ROWS; i++) {
        blob[0] = (char)('a' + i % 26);
        sqlite3_bind_blob(ins, 1, blob, sizeof(blob), SQLITE_STATIC);
        assert_int_equal(sqlite3_step(ins), SQLITE_DONE);
        sqlite3_reset(ins);
        /* each commit has returned: whole frames on disk, none held */
        wal = file_size(copy);
        assert_true(wal > 32);
        assert_int_equal((wal - 32) % (24 + PAGE), 0);
    }
    /* one transaction of about 1.6 MB: more than one write can carry */
    exec_ok(db, "BEGIN");
    for (i = 0; i < ROWS; i++) {
        blob[0] = (char)('A' + i % 26);
        sqlite3_bind_blob(ins, 1, blob, sizeof(blob), SQLITE_STATIC);
        assert_int_equal(sqlite3_step(ins), SQLITE_DONE);
        sqlite3_reset(ins);
        sqlite3_bind_zeroblob(ins, 1, 4000);
        assert_int_equal(sqlite3_step(ins), SQLITE_DONE);
        sqlite3_reset(ins);
    }
    exec_ok(db, "COMMIT");
    wal = file_size(copy);
    assert_int_equal((wal - 32) % (24 + PAGE), 0);
    sqlite3_finalize(ins);
    /* what kill -9 leaves: the files as they are, connection still open */
    snprintf(cmd, sizeof(cmd), "mkdir '%s/copy' && cp '%s' '%s-wal' '%s/copy/'",
        dir, path, path, dir);
    assert_int_equal(system(cmd), 0);
    snprintf(copy, sizeof(copy), "%s/copy/t.db", dir);
    assert_int_equal(sqlite3_open_v2(copy, &back, SQLITE_OPEN_READWRITE, NULL),
        SQLITE_OK);
    assert_int_equal(count_rows(back), 3 * ROWS);
    assert_int_equal(sqlite3_prepare_v2(back, "PRAGMA integrity_check", -1,
                         &chk, NULL),
        SQLITE_OK);
    assert_int_equal(sqlite3_step(chk), SQLITE_ROW);
    assert_string_equal((const char *)sqlite3_column_text(chk, 0), "ok");
    sqlite3_finalize(chk);
    sqlite3_close(back);
    /* and the writer itself reads its rows back through the shim */
    assert_int_equal(count_rows(db), 3 * ROWS);
    sqlite3_close(db);
    tmpdir_free(dir);
}

/* A row in a table with three indexes changes four pages: one write. */
static void
a_commit_of_several_pages_should_be_one_write(void **state)
{
    SKIP_ON_PG("the SQLite VFS");
    char          path[128];
    char         *dir = tmpdir_new();
    sqlite3      *db = NULL;
    sqlite3_stmt *ins;
    long long     before, after;
    int           i;

    (void)state;
    assert_int_equal(store_vfs_register(), SQLITE_OK);
    snprintf(path, sizeof(path), "%s/t.db", dir);
    assert_int_equal(sqlite3_open_v2(path, &db,
                         SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE,
                         STORE_VFS_NAME),
        SQLITE_OK);
    exec_ok(db,
        "PRAGMA page_size=4096; PRAGMA journal_mode=WAL;"
        "PRAGMA synchronous=NORMAL; PRAGMA wal_autocheckpoint=0;"
        "CREATE TABLE t (id INTEGER PRIMARY KEY, a TEXT, b TEXT, c TEXT);"
        "CREATE INDEX ta ON t(a); CREATE INDEX tb ON t(b);"
        "CREATE INDEX tc ON t(c)");
    assert_int_equal(sqlite3_prepare_v2(db,
                         "INSERT INTO t (a, b, c) VALUES (?, ?, ?)", -1, &ins,
                         NULL),
        SQLITE_OK);
    for (i = 0; i < 50; i++) {
        char a[64], b[64], c[64];

        snprintf(a, sizeof(a), "a-%08d", (i * 7919) % 1000);
        snprintf(b, sizeof(b), "b-%08d", (i * 104729) % 997);
        snprintf(c, sizeof(c), "c-%08d", 1000 - i);
        sqlite3_bind_text(ins, 1, a, -1, SQLITE_TRANSIENT);
        sqlite3_bind_text(ins, 2, b, -1, SQLITE_TRANSIENT);
        sqlite3_bind_text(ins, 3, c, -1, SQLITE_TRANSIENT);
        before = writes_so_far();
        assert_int_equal(sqlite3_step(ins), SQLITE_DONE);
        after = writes_so_far();
        sqlite3_reset(ins);
        assert_int_equal(after - before, 1);
    }
    sqlite3_finalize(ins);
    exec_ok(db, "PRAGMA wal_checkpoint(TRUNCATE)");
    sqlite3_close(db);
    assert_int_equal(sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE, NULL),
        SQLITE_OK);
    assert_int_equal(sqlite3_exec(db, "PRAGMA integrity_check", NULL, NULL,
                         NULL),
        SQLITE_OK);
    sqlite3_close(db);
    tmpdir_free(dir);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(
            a_killed_process_wal_should_read_back_whole_with_the_default_vfs),
        cmocka_unit_test(a_commit_of_several_pages_should_be_one_write),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
