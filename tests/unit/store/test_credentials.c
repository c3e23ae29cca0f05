/* SPDX-License-Identifier: MIT */
/*
 * tests/unit/store/test_credentials.c: the OAuth 2.0 credentials table
 * (migration v6): put creates then replaces, get and list return copies
 * with the secrets, delete says not found, a rotated refresh token keeps
 * the generation while every put moves it, and all of it survives a
 * close and open.
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
#include <unistd.h>

#include "engine/store/store.h"
#include "engine/store/store_int.h" /* store_schema_version */
#include "storetest.h"

static struct eng_cred_rec
cred(const char *name, const char *secret)
{
    struct eng_cred_rec r = { 0 };

    r.name = (char *)name;
    r.type = "oauth2";
    r.grant = "client_credentials";
    r.token_url = "https://login.example.net/tenant/oauth2/v2.0/token";
    r.client_id = "app-1";
    r.client_secret = (char *)secret;
    r.scope = "https://outlook.office365.com/.default";
    r.mechanism = "xoauth2";
    return r;
}

static void
schema_should_be_at_least_version_6(void **state)
{
    (void)state;
    assert_true(store_schema_version() >= 6);
}

static void
cred_put_should_create_then_replace(void **state)
{
    char               *dir = tmpdir_new();
    struct eng_store   *st = open_ok(dir);
    struct eng_cred_rec r = cred("M365", "s3cret"), got;
    struct errbuf       eb = { 0 };
    long long           gen1;
    int                 created = -1;

    (void)state;
    assert_int_equal(eng_store_cred_put(st, &r, &created, &eb), 0);
    assert_int_equal(created, 1);
    assert_int_equal(eng_store_cred_get(st, "M365", &got, &eb), 0);
    assert_string_equal(got.grant, "client_credentials");
    assert_string_equal(got.client_secret, "s3cret");
    assert_null(got.refresh_token);
    assert_string_equal(got.scope, "https://outlook.office365.com/.default");
    assert_string_equal(got.mechanism, "xoauth2");
    assert_true(got.created > 0);
    gen1 = got.generation;
    eng_cred_rec_clear(&got);

    r.mechanism = "oauthbearer";
    r.scope = NULL;
    assert_int_equal(eng_store_cred_put(st, &r, &created, &eb), 0);
    assert_int_equal(created, 0);
    assert_int_equal(eng_store_cred_get(st, "M365", &got, &eb), 0);
    assert_string_equal(got.mechanism, "oauthbearer");
    assert_null(got.scope);
    assert_true(got.generation > gen1);
    eng_cred_rec_clear(&got);
    eng_store_close(st);
    tmpdir_free(dir);
}

static void
cred_rotate_should_keep_the_generation(void **state)
{
    char               *dir = tmpdir_new();
    struct eng_store   *st = open_ok(dir);
    struct eng_cred_rec r = cred("G", "cs"), got;
    struct errbuf       eb = { 0 };
    long long           gen;

    (void)state;
    r.grant = "refresh_token";
    r.refresh_token = "rt-1";
    assert_int_equal(eng_store_cred_put(st, &r, NULL, &eb), 0);
    assert_int_equal(eng_store_cred_get(st, "G", &got, &eb), 0);
    gen = got.generation;
    eng_cred_rec_clear(&got);
    assert_int_equal(eng_store_cred_rotate(st, "G", "rt-2", &eb), 0);
    assert_int_equal(eng_store_cred_get(st, "G", &got, &eb), 0);
    assert_string_equal(got.refresh_token, "rt-2");
    assert_int_equal(got.generation, gen);
    eng_cred_rec_clear(&got);
    assert_int_equal(eng_store_cred_rotate(st, "nope", "x", &eb), ERR_NOTFOUND);
    eng_store_close(st);
    tmpdir_free(dir);
}

static void
cred_list_and_delete_should_work_across_reopen(void **state)
{
    char                *dir = tmpdir_new();
    struct eng_store    *st = open_ok(dir);
    struct eng_cred_rec  a = cred("B_cred", "x"), b = cred("A_cred", "y");
    struct eng_cred_rec *v = NULL, got;
    struct errbuf        eb = { 0 };
    long long            gen;
    size_t               n = 0;

    (void)state;
    assert_int_equal(eng_store_cred_put(st, &a, NULL, &eb), 0);
    assert_int_equal(eng_store_cred_put(st, &b, NULL, &eb), 0);
    eng_store_close(st);
    st = open_ok(dir);
    assert_int_equal(eng_store_cred_list(st, &v, &n, &eb), 0);
    assert_int_equal(n, 2);
    assert_string_equal(v[0].name, "A_cred");
    assert_string_equal(v[1].client_secret, "x");
    gen = v[1].generation;
    eng_cred_recs_free(v, n);
    assert_int_equal(eng_store_cred_del(st, "B_cred", &eb), 0);
    assert_int_equal(eng_store_cred_del(st, "B_cred", &eb), ERR_NOTFOUND);
    assert_int_equal(eng_store_cred_get(st, "B_cred", &got, &eb), ERR_NOTFOUND);
    /* deleted and made again: a new generation, not the old one */
    assert_int_equal(eng_store_cred_put(st, &a, NULL, &eb), 0);
    assert_int_equal(eng_store_cred_get(st, "B_cred", &got, &eb), 0);
    assert_true(got.generation > gen);
    eng_cred_rec_clear(&got);
    eng_store_close(st);
    tmpdir_free(dir);
}

static void
migration_v6_should_upgrade_a_v5_database(void **state)
{
    SKIP_ON_PG("SQLite's migration v6 (PostgreSQL starts at one schema)");
    char               *dir = tmpdir_new();
    struct eng_store   *st = open_ok(dir);
    struct eng_cred_rec r = cred("C", "z");
    struct errbuf       eb = { 0 };
    char                path[512];
    sqlite3            *db;

    (void)state;
    eng_store_close(st);
    /* what version 5 had: no credentials table, no counter */
    snprintf(path, sizeof(path), "%s/herald.db", dir);
    assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
    assert_int_equal(sqlite3_exec(db,
                         "DROP TABLE credentials;"
                         "DELETE FROM counters WHERE "
                         "name='credential_generation';"
                         "DELETE FROM schema_version WHERE version > 5;",
                         NULL, NULL, NULL),
        SQLITE_OK);
    sqlite3_close(db);
    st = open_ok(dir);
    assert_int_equal(eng_store_cred_put(st, &r, NULL, &eb), 0);
    eng_store_close(st);
    tmpdir_free(dir);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(schema_should_be_at_least_version_6),
        cmocka_unit_test(cred_put_should_create_then_replace),
        cmocka_unit_test(cred_rotate_should_keep_the_generation),
        cmocka_unit_test(cred_list_and_delete_should_work_across_reopen),
        cmocka_unit_test(migration_v6_should_upgrade_a_v5_database),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
