/* SPDX-License-Identifier: MIT */
/*
 * tests/unit/store/test_store.c: the store in temporary directories (and on
 * PostgreSQL, a database each: storetest.h): persistence across
 * close/open, transactions that roll back, clear errors for a corrupt
 * file, an unusable directory (SQLite) and a newer schema, and the trust
 * generation counter.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <pthread.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "engine/store/store.h"
#include "engine/store/store_int.h" /* store_schema_version */
#include "storetest.h"

static void
store_should_persist_records_across_close_and_open(void **state)
{
    char                 *dir = tmpdir_new();
    struct eng_store     *st = open_ok(dir);
    struct errbuf         eb = { 0 };
    struct eng_env_var    v;
    struct eng_tp_rec     tp = { 0 };
    struct eng_applet_rec ar;
    char                 *val = NULL;
    int                   created = -1;
    unsigned char         der[] = { 0x30, 0x03, 0x02, 0x01, 0x00 };

    (void)state;
    assert_int_equal(eng_store_env_put(st, "_email_to", "noc@example.com", 0,
                         &created, &eb),
        0);
    assert_int_equal(created, 1);
    assert_int_equal(eng_store_env_put(st, "_email_to", "ops@example.com", 1,
                         &created, &eb),
        0);
    assert_int_equal(created, 0);
    assert_int_equal(eng_store_applet_put(st, "A1",
                         "event manager applet A1\n event none\n", &created,
                         &eb),
        0);
    assert_int_equal(created, 1);
    tp.name = "CA1";
    tp.chain_validation = "stop";
    assert_int_equal(eng_store_tp_put(st, &tp, &created, &eb), 0);
    assert_int_equal(eng_store_tp_set_cert(st, "CA1", der, sizeof(der), &eb),
        0);
    assert_int_equal(eng_store_setting_put(st, "trustpool", "off", &eb), 0);
    eng_store_close(st);

    st = open_ok(dir);
    assert_int_equal(eng_store_env_get(st, "_email_to", &v, &eb), 0);
    assert_string_equal(v.value, "ops@example.com");
    assert_int_equal(v.secret, 1);
    assert_true(v.updated > 0);
    eng_env_var_clear(&v);
    assert_int_equal(eng_store_applet_get(st, "A1", &ar, &eb), 0);
    assert_string_equal(ar.text, "event manager applet A1\n event none\n");
    assert_null(ar.webhook_token);
    eng_applet_rec_clear(&ar);
    memset(&tp, 0, sizeof(tp));
    assert_int_equal(eng_store_tp_get(st, "CA1", &tp, &eb), 0);
    assert_string_equal(tp.chain_validation, "stop");
    assert_string_equal(tp.revocation_check, "none");
    assert_int_equal(tp.cert_len, sizeof(der));
    assert_memory_equal(tp.cert_der, der, sizeof(der));
    assert_true(tp.cert_installed > 0);
    eng_tp_rec_clear(&tp);
    assert_int_equal(eng_store_setting_get(st, "trustpool", &val, &eb), 0);
    assert_string_equal(val, "off");
    free(val);
    assert_string_equal(eng_store_dir(st), dir);
    eng_store_close(st);
    tmpdir_free(dir);
}

static void
store_should_list_in_name_order_and_report_missing(void **state)
{
    char               *dir = tmpdir_new();
    struct eng_store   *st = open_ok(dir);
    struct errbuf       eb = { 0 };
    struct eng_env_var *vs = NULL, v;
    size_t              n = 0;

    (void)state;
    assert_int_equal(eng_store_env_put(st, "b", "2", 0, NULL, &eb), 0);
    assert_int_equal(eng_store_env_put(st, "a", "1", 0, NULL, &eb), 0);
    assert_int_equal(eng_store_env_put(st, "c", "3", 0, NULL, &eb), 0);
    assert_int_equal(eng_store_env_list(st, &vs, &n, &eb), 0);
    assert_int_equal(n, 3);
    assert_string_equal(vs[0].name, "a");
    assert_string_equal(vs[2].name, "c");
    eng_env_vars_free(vs, n);

    assert_int_equal(eng_store_env_del(st, "b", &eb), 0);
    assert_int_equal(eng_store_env_del(st, "b", &eb), ERR_NOTFOUND);
    assert_non_null(strstr(eb.msg, "b"));
    assert_int_equal(eng_store_env_get(st, "nope", &v, &eb), ERR_NOTFOUND);
    assert_string_equal(eb.code, "not_found");
    assert_int_equal(eng_store_applet_del(st, "nope", &eb), ERR_NOTFOUND);
    assert_int_equal(eng_store_tp_set_cert(st, "nope", NULL, 0, &eb),
        ERR_NOTFOUND);
    eng_store_close(st);
    tmpdir_free(dir);
}

static void
store_rollback_should_undo_every_joined_write(void **state)
{
    char                  *dir = tmpdir_new();
    struct eng_store      *st = open_ok(dir);
    struct errbuf          eb = { 0 };
    struct eng_env_var     v;
    struct eng_applet_rec *as = NULL;
    size_t                 n = 9;

    (void)state;
    assert_int_equal(eng_store_env_put(st, "keep", "old", 0, NULL, &eb), 0);
    assert_int_equal(eng_store_begin(st, &eb), 0);
    assert_int_equal(eng_store_env_put(st, "keep", "new", 0, NULL, &eb), 0);
    assert_int_equal(eng_store_env_put(st, "added", "x", 0, NULL, &eb), 0);
    assert_int_equal(eng_store_applet_put(st, "A", "t\n", NULL, &eb), 0);
    eng_store_rollback(st);

    assert_int_equal(eng_store_env_get(st, "keep", &v, &eb), 0);
    assert_string_equal(v.value, "old");
    eng_env_var_clear(&v);
    assert_int_equal(eng_store_env_get(st, "added", &v, &eb), ERR_NOTFOUND);
    assert_int_equal(eng_store_applet_list(st, &as, &n, &eb), 0);
    assert_int_equal(n, 0);
    eng_applet_recs_free(as, n);

    /* and a committed one sticks, also after reopening */
    assert_int_equal(eng_store_begin(st, &eb), 0);
    assert_int_equal(eng_store_env_put(st, "keep", "new", 0, NULL, &eb), 0);
    assert_int_equal(eng_store_commit(st, &eb), 0);
    eng_store_close(st);
    st = open_ok(dir);
    assert_int_equal(eng_store_env_get(st, "keep", &v, &eb), 0);
    assert_string_equal(v.value, "new");
    eng_env_var_clear(&v);

    /* a failure inside a nested begin makes the outer commit fail */
    assert_int_equal(eng_store_begin(st, &eb), 0);
    assert_int_equal(eng_store_env_put(st, "inner", "1", 0, NULL, &eb), 0);
    assert_int_equal(eng_store_begin(st, &eb), 0);
    eng_store_rollback(st);
    assert_int_equal(eng_store_commit(st, &eb), ERR_DB);
    assert_int_equal(eng_store_env_get(st, "inner", &v, &eb), ERR_NOTFOUND);
    eng_store_close(st);
    tmpdir_free(dir);
}

struct writer {
    struct eng_store *st;
    _Atomic int       done;
    int               rc;
};

static void *
writer_main(void *arg)
{
    struct writer *w = arg;
    struct errbuf  eb = { 0 };

    w->rc = eng_store_env_put(w->st, "from_thread", "1", 0, NULL, &eb);
    w->done = 1;
    return NULL;
}

static void
store_transaction_should_make_other_threads_wait(void **state)
{
    (void)state;
    char              *dir = tmpdir_new();
    struct eng_store  *st = open_ok(dir);
    struct errbuf      eb = { 0 };
    struct eng_env_var v;
    struct writer      w = { st, 0, -1 };
    pthread_t          t;

    assert_int_equal(eng_store_begin(st, &eb), 0);
    assert_int_equal(eng_store_env_put(st, "mine", "1", 0, NULL, &eb), 0);
    assert_int_equal(pthread_create(&t, NULL, writer_main, &w), 0);
    usleep(200 * 1000);
    assert_int_equal(w.done, 0); /* waits for our transaction */
    assert_int_equal(eng_store_env_get(st, "from_thread", &v, &eb),
        ERR_NOTFOUND);
    eng_store_rollback(st);
    assert_int_equal(pthread_join(t, NULL), 0);
    assert_int_equal(w.rc, 0);
    assert_int_equal(eng_store_env_get(st, "from_thread", &v, &eb), 0);
    eng_env_var_clear(&v);
    assert_int_equal(eng_store_env_get(st, "mine", &v, &eb), ERR_NOTFOUND);
    eng_store_close(st);
    tmpdir_free(dir);
}

static void
store_open_should_name_a_corrupt_database(void **state)
{
    (void)state;
    SKIP_ON_PG("a corrupt herald.db file");
    char             *dir = tmpdir_new();
    char              path[512];
    struct eng_store *st = NULL;
    struct errbuf     eb = { 0 };
    FILE             *f;

    snprintf(path, sizeof(path), "%s/herald.db", dir);
    assert_non_null(f = fopen(path, "w"));
    for (int i = 0; i < 200; i++)
        fputs("this is not a database, just some text. ", f);
    fclose(f);
    assert_int_equal(eng_store_open(dir, &st, &eb), ERR_DB);
    assert_null(st);
    assert_non_null(strstr(eb.msg, path));
    assert_non_null(strstr(eb.msg, "corrupt or not a SQLite database"));
    tmpdir_free(dir);
}

static void
store_open_should_say_why_the_directory_is_unusable(void **state)
{
    (void)state;
    SKIP_ON_PG("the database file lives in the data directory");
    char             *dir = tmpdir_new();
    char              sub[512];
    struct eng_store *st = NULL;
    struct errbuf     eb = { 0 };
    FILE             *f;

    /* a directory under a regular file cannot be created, even by root */
    snprintf(sub, sizeof(sub), "%s/file", dir);
    assert_non_null(f = fopen(sub, "w"));
    fclose(f);
    snprintf(sub, sizeof(sub), "%s/file/data", dir);
    assert_int_equal(eng_store_open(sub, &st, &eb), ERR_IO);
    assert_null(st);
    assert_non_null(strstr(eb.msg, sub));
    assert_non_null(strstr(eb.msg, "Not a directory"));

    /* the data dir path names a regular file */
    snprintf(sub, sizeof(sub), "%s/file", dir);
    assert_int_equal(eng_store_open(sub, &st, &eb), ERR_IO);
    assert_non_null(strstr(eb.msg, "not a directory"));

    /* a missing nested directory is created with mode 0700 */
    snprintf(sub, sizeof(sub), "%s/a/b", dir);
    st = open_ok(sub);
    struct stat sb;
    assert_int_equal(stat(sub, &sb), 0);
    assert_int_equal(sb.st_mode & 0777, 0700);
    eng_store_close(st);
    tmpdir_free(dir);
}

static void
store_open_should_refuse_a_newer_schema(void **state)
{
    char             *dir = tmpdir_new();
    struct eng_store *st = open_ok(dir);
    struct errbuf     eb = { 0 };

    (void)state;
    eng_store_close(st);
    store_test_exec(dir, "INSERT INTO schema_version VALUES (9999, 0)");
    st = NULL;
    assert_int_equal(store_test_open(dir, &st, &eb), ERR_DB);
    assert_null(st);
    assert_non_null(strstr(eb.msg, "9999"));
    assert_non_null(strstr(eb.msg, "newer"));
    tmpdir_free(dir);
}

static void
store_open_should_apply_every_migration_once_with_wal(void **state)
{
    char             *dir = tmpdir_new();
    struct eng_store *st = open_ok(dir);
    sqlite3          *db;
    sqlite3_stmt     *s;
    char              path[512];
    long long         n = 0, maxv = 0;

    (void)state;
    eng_store_close(st);
    st = open_ok(dir); /* a second open migrates nothing */
    eng_store_close(st);
    n = store_test_query_int(dir, "SELECT count(*) FROM schema_version");
    /* no version twice */
    assert_int_equal(n,
        store_test_query_int(dir,
            "SELECT count(DISTINCT version) "
            "FROM schema_version"));
    maxv = store_test_query_int(dir, "SELECT max(version) FROM schema_version");
    /* each once, up to the newest; the list may have gaps (a version
     * taken by a change on another branch) */
    assert_true(n >= 1 && n <= maxv);
    if (store_test_pg()) { /* its own versions; no journal mode */
        tmpdir_free(dir);
        return;
    }
    assert_int_equal(maxv, store_schema_version());
    snprintf(path, sizeof(path), "%s/herald.db", dir);
    assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
    assert_int_equal(sqlite3_prepare_v2(db, "PRAGMA journal_mode", -1, &s,
                         NULL),
        SQLITE_OK);
    assert_int_equal(sqlite3_step(s), SQLITE_ROW);
    assert_string_equal((const char *)sqlite3_column_text(s, 0), "wal");
    sqlite3_finalize(s);
    sqlite3_close(db);
    tmpdir_free(dir);
}

/* Index names on the runs table, comma separated, in name order. */
static void
runs_indexes(const char *dir, char *out, size_t n)
{
    char          path[512];
    sqlite3      *db;
    sqlite3_stmt *s;

    out[0] = '\0';
    snprintf(path, sizeof(path), "%s/herald.db", dir);
    assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
    assert_int_equal(sqlite3_prepare_v2(db,
                         "SELECT name FROM sqlite_master"
                         " WHERE type='index' AND tbl_name='runs' AND sql"
                         " IS NOT NULL ORDER BY name",
                         -1, &s, NULL),
        SQLITE_OK);
    while (sqlite3_step(s) == SQLITE_ROW)
        snprintf(out + strlen(out), n - strlen(out), "%s%s", out[0] ? "," : "",
            (const char *)sqlite3_column_text(s, 0));
    sqlite3_finalize(s);
    sqlite3_close(db);
}

static void
store_open_should_migrate_a_v2_database_to_lighter_run_indexes(void **state)
{
    SKIP_ON_PG("SQLite's migration from version 2");
    char             *dir = tmpdir_new();
    char              path[512], idx[256];
    struct eng_store *st = open_ok(dir);
    sqlite3          *db;

    (void)state;
    /* what version 2 left behind */
    eng_store_close(st);
    snprintf(path, sizeof(path), "%s/herald.db", dir);
    assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
    assert_int_equal(sqlite3_exec(db,
                         "DELETE FROM schema_version WHERE version > 2;"
                         /* what later versions added */
                         "DROP TABLE outbox_attempts;"
                         "DROP INDEX outbox_failed;"
                         "DROP INDEX outbox_run;"
                         "ALTER TABLE outbox DROP COLUMN failed;"
                         "DROP INDEX runs_done;"
                         "CREATE INDEX runs_status ON runs(status, id);"
                         "CREATE INDEX runs_ended ON runs(ended_ms);"
                         "INSERT INTO runs (applet, trig, status, queued_ms,"
                         " ended_ms) VALUES ('a', 'manual', 'success', 1, 2)",
                         NULL, NULL, NULL),
        SQLITE_OK);
    sqlite3_close(db);
    runs_indexes(dir, idx, sizeof(idx));
    assert_string_equal(idx, "runs_applet,runs_ended,runs_status");

    st = open_ok(dir);
    eng_store_close(st);
    runs_indexes(dir, idx, sizeof(idx));
    assert_string_equal(idx, "runs_applet,runs_done");
    /* the run is still there */
    {
        sqlite3_stmt *s;

        assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
        assert_int_equal(sqlite3_prepare_v2(db,
                             "SELECT count(*) FROM runs"
                             " WHERE applet='a' AND ended_ms=2",
                             -1, &s, NULL),
            SQLITE_OK);
        assert_int_equal(sqlite3_step(s), SQLITE_ROW);
        assert_int_equal(sqlite3_column_int(s, 0), 1);
        sqlite3_finalize(s);
        sqlite3_close(db);
    }
    tmpdir_free(dir);
}

static void
trust_generation_should_grow_on_trust_changes_and_persist(void **state)
{
    char             *dir = tmpdir_new();
    struct eng_store *st = open_ok(dir);
    struct errbuf     eb = { 0 };
    struct eng_tp_rec tp = { 0 };
    uint64_t          g0, g1, g2, g3, g4;
    unsigned char     der[] = { 0x30, 0x00 };

    (void)state;
    g0 = eng_store_trust_generation(st);
    assert_true(g0 > 0);
    tp.name = "T";
    assert_int_equal(eng_store_tp_put(st, &tp, NULL, &eb), 0);
    g1 = eng_store_trust_generation(st);
    assert_true(g1 > g0);
    assert_int_equal(eng_store_tp_set_cert(st, "T", der, sizeof(der), &eb), 0);
    g2 = eng_store_trust_generation(st);
    assert_true(g2 > g1);
    /* unrelated writes leave it alone */
    assert_int_equal(eng_store_env_put(st, "x", "y", 0, NULL, &eb), 0);
    assert_int_equal(eng_store_setting_put(st, "ui_theme", "dark", &eb), 0);
    assert_true(eng_store_trust_generation(st) == g2);
    assert_int_equal(eng_store_setting_put(st, "trustpool", "on", &eb), 0);
    g3 = eng_store_trust_generation(st);
    assert_true(g3 > g2);
    /* a rolled back change does not count */
    assert_int_equal(eng_store_begin(st, &eb), 0);
    assert_int_equal(eng_store_tp_del(st, "T", &eb), 0);
    eng_store_rollback(st);
    assert_true(eng_store_trust_generation(st) == g3);
    eng_store_close(st);

    st = open_ok(dir);
    assert_true(eng_store_trust_generation(st) == g3);
    assert_int_equal(eng_store_tp_del(st, "T", &eb), 0);
    g4 = eng_store_trust_generation(st);
    assert_true(g4 > g3);
    eng_store_close(st);
    tmpdir_free(dir);
}

/* An idle process gives back the page cache and the compiled statements;
 * everything works as before afterwards, also while another thread is in
 * the middle of a transaction when the release comes. */
struct release_arg {
    struct eng_store *st;
    int               stop;
};

static void *
release_run(void *p)
{
    struct release_arg *a = p;

    while (!__atomic_load_n(&a->stop, __ATOMIC_ACQUIRE))
        eng_store_release_memory(a->st);
    return NULL;
}

static void
store_should_work_after_giving_memory_back(void **state)
{
    char              *dir = tmpdir_new();
    struct eng_store  *st = open_ok(dir);
    struct errbuf      eb = { 0 };
    struct eng_env_var v;
    struct release_arg ra = { st, 0 };
    pthread_t          th;
    char               name[16], val[16];

    (void)state;
    assert_int_equal(eng_store_env_put(st, "a", "1", 0, NULL, &eb), 0);
    eng_store_release_memory(st);
    assert_int_equal(eng_store_env_get(st, "a", &v, &eb), 0);
    assert_string_equal(v.value, "1");
    eng_env_var_clear(&v);
    /* releases racing with writes and reads on another thread */
    assert_int_equal(pthread_create(&th, NULL, release_run, &ra), 0);
    for (int i = 0; i < 300; i++) {
        snprintf(name, sizeof(name), "v%d", i);
        snprintf(val, sizeof(val), "%d", i * 7);
        assert_int_equal(eng_store_begin(st, &eb), 0);
        assert_int_equal(eng_store_env_put(st, name, val, 0, NULL, &eb), 0);
        assert_int_equal(eng_store_commit(st, &eb), 0);
        assert_int_equal(eng_store_env_get(st, name, &v, &eb), 0);
        assert_string_equal(v.value, val);
        eng_env_var_clear(&v);
    }
    __atomic_store_n(&ra.stop, 1, __ATOMIC_RELEASE);
    pthread_join(th, NULL);
    eng_store_close(st);
    st = open_ok(dir);
    assert_int_equal(eng_store_env_get(st, "v299", &v, &eb), 0);
    assert_string_equal(v.value, "2093");
    eng_env_var_clear(&v);
    eng_store_close(st);
    tmpdir_free(dir);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(store_should_persist_records_across_close_and_open),
        cmocka_unit_test(store_should_list_in_name_order_and_report_missing),
        cmocka_unit_test(store_rollback_should_undo_every_joined_write),
        cmocka_unit_test(store_transaction_should_make_other_threads_wait),
        cmocka_unit_test(store_open_should_name_a_corrupt_database),
        cmocka_unit_test(store_open_should_say_why_the_directory_is_unusable),
        cmocka_unit_test(store_open_should_refuse_a_newer_schema),
        cmocka_unit_test(
            store_open_should_migrate_a_v2_database_to_lighter_run_indexes),
        cmocka_unit_test(store_open_should_apply_every_migration_once_with_wal),
        cmocka_unit_test(
            trust_generation_should_grow_on_trust_changes_and_persist),
        cmocka_unit_test(store_should_work_after_giving_memory_back),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
