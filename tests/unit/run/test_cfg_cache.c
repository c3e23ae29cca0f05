/* SPDX-License-Identifier: MIT */
/*
 * tests/unit/run/test_cfg_cache.c: the configuration cache over a real
 * store in a temporary directory, told of changes the way the runtime
 * does it (eng_store_watch -> eng_cfg_cache_invalidate): a second lookup
 * is answered from memory; an applet edit, a webhook token change, an
 * applet delete, a variable put or delete, and a config import committed
 * or rolled back are all seen by the next lookup; a reference handed out
 * outlives the entry; lookups from several threads while the
 * configuration changes see the last change once it is written.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/sec.h"
#include "engine/lang/applet.h"
#include "engine/run/cfg_cache.h"
#include "engine/store/store.h"

struct env {
    char                 *dir;
    struct eng_store     *st;
    struct eng_cfg_cache *c;
};

static void
on_change(void *ud, const char *table)
{
    (void)table;
    eng_cfg_cache_invalidate(ud);
}

static int
setup(void **state)
{
    struct env   *e = calloc(1, sizeof(*e));
    char          tmpl[] = "/tmp/herald-cfgc-XXXXXX";
    struct errbuf eb = { 0 };

    e->dir = strdup(mkdtemp(tmpl));
    if (eng_store_open(e->dir, &e->st, &eb) != 0) {
        print_error("store: %s\n", eb.msg);
        return -1;
    }
    if (eng_cfg_cache_new(e->st, &e->c) != 0)
        return -1;
    eng_store_watch(e->st, on_change, e->c);
    eng_cfg_cache_enable(e->c, 1);
    *state = e;
    return 0;
}

static int
teardown(void **state)
{
    struct env *e = *state;
    char        cmd[256];

    eng_cfg_cache_enable(e->c, 0);
    eng_store_watch(e->st, NULL, NULL);
    eng_cfg_cache_free(e->c);
    eng_store_close(e->st);
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", e->dir);
    if (system(cmd) != 0)
        return -1;
    free(e->dir);
    free(e);
    return 0;
}

/* An applet whose description tells the versions apart. */
static void
put_applet(struct env *e, const char *name, const char *descr)
{
    char          text[512];
    struct errbuf eb = { 0 };

    snprintf(text, sizeof(text),
        "event manager applet %s\n"
        " description \"%s\"\n"
        " event webhook\n"
        " action 1 puts \"x\"\n",
        name, descr);
    if (eng_store_applet_put(e->st, name, text, NULL, &eb) != 0)
        fail_msg("applet %s: %s", name, eb.msg);
}

static void
put_env(struct env *e, const char *name, const char *value, int secret)
{
    struct errbuf eb = { 0 };

    if (eng_store_env_put(e->st, name, value, secret, NULL, &eb) != 0)
        fail_msg("variable %s: %s", name, eb.msg);
}

/* The description of applet name as the cache answers it ("" if none),
 * or the error code as text. */
static const char *
descr(struct env *e, const char *name, char *out, size_t len)
{
    struct eng_applet *a = NULL;
    struct errbuf      eb = { 0 };
    int                rc;

    rc = eng_cfg_cache_applet(e->c, name, &a, NULL, NULL, &eb);
    if (rc == ERR_NOTFOUND) {
        snprintf(out, len, "(not found)");
        return out;
    }
    if (rc != 0) {
        snprintf(out, len, "(error %d)", rc);
        return out;
    }
    snprintf(out, len, "%s",
        eng_applet_description(a) ? eng_applet_description(a) : "");
    eng_applet_free(a);
    return out;
}

static long long
hits(struct env *e)
{
    long long h = 0;

    eng_cfg_cache_counts(e->c, &h, NULL);
    return h;
}

static void
second_lookup_is_answered_from_memory(void **state)
{
    struct env *e = *state;
    char        d[64];
    long long   h;

    put_applet(e, "A", "one");
    put_env(e, "host", "mx1", 0);
    assert_string_equal(descr(e, "A", d, sizeof(d)), "one");
    h = hits(e);
    assert_string_equal(descr(e, "A", d, sizeof(d)), "one");
    assert_int_equal(hits(e), h + 1);
    {
        char *v = NULL;
        int   s = -1;

        assert_int_equal(eng_cfg_cache_env(e->c, "host", &v, &s, NULL), 0);
        sec_free_str(v);
        assert_int_equal(eng_cfg_cache_env(e->c, "host", &v, &s, NULL), 0);
        assert_string_equal(v, "mx1");
        assert_int_equal(s, 0);
        sec_free_str(v);
        assert_int_equal(hits(e), h + 2);
    }
}

static void
applet_edit_and_delete_are_seen_at_once(void **state)
{
    struct env   *e = *state;
    struct errbuf eb = { 0 };
    char          d[64];

    put_applet(e, "A", "one");
    assert_string_equal(descr(e, "A", d, sizeof(d)), "one");
    put_applet(e, "A", "two");
    assert_string_equal(descr(e, "A", d, sizeof(d)), "two");
    assert_int_equal(eng_store_applet_del(e->st, "A", &eb), 0);
    assert_string_equal(descr(e, "A", d, sizeof(d)), "(not found)");
    {
        struct eng_applet *a = (void *)1;

        assert_int_equal(eng_cfg_cache_applet(e->c, "A", &a, NULL, NULL, &eb),
            ERR_NOTFOUND);
        assert_null(a);
        assert_string_equal(eb.code, "not_found");
    }
    put_applet(e, "A", "three"); /* not-found is not remembered */
    assert_string_equal(descr(e, "A", d, sizeof(d)), "three");
}

static void
webhook_token_change_is_seen_at_once(void **state)
{
    struct env        *e = *state;
    struct eng_applet *a = NULL;
    struct errbuf      eb = { 0 };
    char              *tok = (char *)"x", *sk = (char *)"x";

    put_applet(e, "Hook", "h");
    assert_int_equal(eng_cfg_cache_applet(e->c, "Hook", &a, &tok, &sk, &eb), 0);
    assert_null(tok);
    assert_null(sk);
    eng_applet_free(a);
    assert_int_equal(eng_store_token_set(e->st, "Hook", "aa11", "secret-1",
                         &eb),
        0);
    assert_int_equal(eng_cfg_cache_applet(e->c, "Hook", &a, &tok, &sk, &eb), 0);
    assert_string_equal(tok, "aa11");
    assert_string_equal(sk, "secret-1");
    sec_free_str(tok);
    sec_free_str(sk);
    eng_applet_free(a);
    /* a new token replaces the old one at once */
    assert_int_equal(eng_store_token_set(e->st, "Hook", "bb22", "secret-2",
                         &eb),
        0);
    assert_int_equal(eng_cfg_cache_applet(e->c, "Hook", &a, &tok, &sk, &eb), 0);
    assert_string_equal(tok, "bb22");
    assert_string_equal(sk, "secret-2");
    sec_free_str(tok);
    sec_free_str(sk);
    eng_applet_free(a);
    /* cleared */
    assert_int_equal(eng_store_token_set(e->st, "Hook", NULL, NULL, &eb), 0);
    assert_int_equal(eng_cfg_cache_applet(e->c, "Hook", NULL, &tok, &sk, &eb),
        0);
    assert_null(tok);
    assert_null(sk);
}

static void
variable_changes_are_seen_at_once(void **state)
{
    struct env   *e = *state;
    struct errbuf eb = { 0 };
    char         *v = NULL;
    int           s = 0;

    /* unset, and remembered as unset until it is set */
    assert_int_equal(eng_cfg_cache_env(e->c, "pw", &v, &s, &eb), ERR_NOTFOUND);
    assert_int_equal(eng_cfg_cache_env(e->c, "pw", &v, &s, &eb), ERR_NOTFOUND);
    assert_null(v);
    put_env(e, "pw", "hunter2", 1);
    assert_int_equal(eng_cfg_cache_env(e->c, "pw", &v, &s, &eb), 0);
    assert_string_equal(v, "hunter2");
    assert_int_equal(s, 1);
    sec_free_str(v);
    put_env(e, "pw", "hunter3", 0);
    assert_int_equal(eng_cfg_cache_env(e->c, "pw", &v, &s, &eb), 0);
    assert_string_equal(v, "hunter3");
    assert_int_equal(s, 0);
    sec_free_str(v);
    v = NULL;
    assert_int_equal(eng_store_env_del(e->st, "pw", &eb), 0);
    assert_int_equal(eng_cfg_cache_env(e->c, "pw", &v, &s, &eb), ERR_NOTFOUND);
    assert_null(v);
}

/* A config import writes in one transaction; what was read inside it
 * (the importing thread sees its own writes) must not outlive a
 * rollback, nor a commit that failed and so rolled back. */
static void
rollback_leaves_nothing_read_inside_it(void **state)
{
    struct env   *e = *state;
    struct errbuf eb = { 0 };
    char          d[64], *v = NULL;
    int           s = 0;

    put_applet(e, "A", "committed");
    put_env(e, "host", "mx1", 0);
    assert_string_equal(descr(e, "A", d, sizeof(d)), "committed");

    assert_int_equal(eng_store_begin(e->st, &eb), 0);
    put_applet(e, "A", "uncommitted");
    put_env(e, "host", "mx-uncommitted", 0);
    assert_string_equal(descr(e, "A", d, sizeof(d)), "uncommitted");
    assert_int_equal(eng_cfg_cache_env(e->c, "host", &v, &s, &eb), 0);
    assert_string_equal(v, "mx-uncommitted");
    sec_free_str(v);
    eng_store_rollback(e->st);
    assert_string_equal(descr(e, "A", d, sizeof(d)), "committed");
    assert_int_equal(eng_cfg_cache_env(e->c, "host", &v, &s, &eb), 0);
    assert_string_equal(v, "mx1");
    sec_free_str(v);

    /* nested: the inner rollback makes the outer commit fail */
    assert_int_equal(eng_store_begin(e->st, &eb), 0);
    put_applet(e, "A", "uncommitted-2");
    assert_int_equal(eng_store_begin(e->st, &eb), 0);
    eng_store_rollback(e->st);
    assert_string_equal(descr(e, "A", d, sizeof(d)), "uncommitted-2");
    assert_int_not_equal(eng_store_commit(e->st, &eb), 0);
    assert_string_equal(descr(e, "A", d, sizeof(d)), "committed");

    /* and a committed import is seen */
    assert_int_equal(eng_store_begin(e->st, &eb), 0);
    put_applet(e, "A", "imported");
    assert_string_equal(descr(e, "A", d, sizeof(d)), "imported");
    assert_int_equal(eng_store_commit(e->st, &eb), 0);
    assert_string_equal(descr(e, "A", d, sizeof(d)), "imported");
}

static void
unparsable_applet_is_an_error_not_remembered(void **state)
{
    struct env        *e = *state;
    struct eng_applet *a = NULL;
    struct errbuf      eb = { 0 };
    char               d[64];

    /* the store keeps text as given; an older release may have stored
     * what this one no longer parses */
    assert_int_equal(eng_store_applet_put(e->st, "Bad",
                         "event manager applet Bad\n action 1 frobnicate\n",
                         NULL, &eb),
        0);
    assert_int_equal(eng_cfg_cache_applet(e->c, "Bad", &a, NULL, NULL, &eb),
        ERR_INVAL);
    assert_null(a);
    put_applet(e, "Bad", "fixed");
    assert_string_equal(descr(e, "Bad", d, sizeof(d)), "fixed");
}

static void
reference_outlives_the_entry(void **state)
{
    struct env        *e = *state;
    struct eng_applet *a = NULL, *b = NULL;
    struct errbuf      eb = { 0 };

    put_applet(e, "A", "one");
    assert_int_equal(eng_cfg_cache_applet(e->c, "A", &a, NULL, NULL, &eb), 0);
    assert_int_equal(eng_cfg_cache_applet(e->c, "A", &b, NULL, NULL, &eb), 0);
    assert_ptr_equal(a, b); /* one parse, shared */
    eng_applet_free(b);
    put_applet(e, "A", "two"); /* the cache drops its reference */
    assert_string_equal(eng_applet_description(a), "one");
    assert_int_equal(eng_applet_event_count(a), 1);
    eng_applet_free(a); /* the last one frees it */
}

static void
disabled_cache_reads_the_store_every_time(void **state)
{
    struct env *e = *state;
    char        d[64];
    long long   h;

    eng_cfg_cache_enable(e->c, 0);
    put_applet(e, "A", "one");
    assert_string_equal(descr(e, "A", d, sizeof(d)), "one");
    h = hits(e);
    assert_string_equal(descr(e, "A", d, sizeof(d)), "one");
    assert_int_equal(hits(e), h);
    /* a change nobody is told of is still seen */
    eng_store_watch(e->st, NULL, NULL);
    put_applet(e, "A", "two");
    assert_string_equal(descr(e, "A", d, sizeof(d)), "two");
    eng_store_watch(e->st, on_change, e->c);
    eng_cfg_cache_enable(e->c, 1);
    assert_string_equal(descr(e, "A", d, sizeof(d)), "two");
    assert_string_equal(descr(e, "A", d, sizeof(d)), "two");
    assert_int_equal(hits(e), h + 1);
}

/* ---- several threads ---------------------------------------------------- */

struct reader {
    struct env *e;
    atomic_int *stop;
    int         errors;
};

static void *
reader_main(void *arg)
{
    struct reader *r = arg;
    char           name[8];
    unsigned       i = 0;

    while (!atomic_load(r->stop)) {
        struct eng_applet *a = NULL;
        char              *v = NULL, *tok = NULL;
        int                s;

        snprintf(name, sizeof(name), "A%u", i % 4);
        if (eng_cfg_cache_applet(r->e->c, name, &a, &tok, NULL, NULL) != 0
            || eng_applet_description(a) == NULL)
            r->errors++;
        eng_applet_free(a);
        sec_free_str(tok);
        if (eng_cfg_cache_env(r->e->c, "v", &v, &s, NULL) != 0)
            r->errors++;
        sec_free_str(v);
        i++;
    }
    return NULL;
}

static void
concurrent_lookups_see_the_last_write(void **state)
{
    struct env   *e = *state;
    struct reader rd[4];
    pthread_t     th[4];
    atomic_int    stop = 0;
    char          d[64], want[32], name[8], *v = NULL;
    int           i, k, s;
    struct errbuf eb = { 0 };

    for (k = 0; k < 4; k++) {
        snprintf(name, sizeof(name), "A%d", k);
        put_applet(e, name, "v0");
    }
    put_env(e, "v", "0", 1);
    for (i = 0; i < 4; i++) {
        rd[i] = (struct reader){ e, &stop, 0 };
        assert_int_equal(pthread_create(&th[i], NULL, reader_main, &rd[i]), 0);
    }
    for (i = 1; i <= 200; i++) {
        snprintf(want, sizeof(want), "v%d", i);
        snprintf(name, sizeof(name), "A%d", i % 4);
        put_applet(e, name, want);
        if (i % 10 == 0)
            assert_int_equal(eng_store_token_set(e->st, name, "cc", "s", &eb),
                0);
        snprintf(want, sizeof(want), "%d", i);
        put_env(e, "v", want, i % 2);
        /* the writer's next lookup sees its write, whatever the readers
         * filled in between */
        snprintf(want, sizeof(want), "v%d", i);
        assert_string_equal(descr(e, name, d, sizeof(d)), want);
        assert_int_equal(eng_cfg_cache_env(e->c, "v", &v, &s, &eb), 0);
        snprintf(want, sizeof(want), "%d", i);
        assert_string_equal(v, want);
        assert_int_equal(s, i % 2);
        sec_free_str(v);
    }
    atomic_store(&stop, 1);
    for (i = 0; i < 4; i++) {
        pthread_join(th[i], NULL);
        assert_int_equal(rd[i].errors, 0);
    }
    for (k = 0; k < 4; k++) {
        snprintf(name, sizeof(name), "A%d", k);
        snprintf(want, sizeof(want), "v%d", 200 - ((200 - k) % 4));
        assert_string_equal(descr(e, name, d, sizeof(d)), want);
    }
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(second_lookup_is_answered_from_memory,
            setup, teardown),
        cmocka_unit_test_setup_teardown(applet_edit_and_delete_are_seen_at_once,
            setup, teardown),
        cmocka_unit_test_setup_teardown(webhook_token_change_is_seen_at_once,
            setup, teardown),
        cmocka_unit_test_setup_teardown(variable_changes_are_seen_at_once,
            setup, teardown),
        cmocka_unit_test_setup_teardown(rollback_leaves_nothing_read_inside_it,
            setup, teardown),
        cmocka_unit_test_setup_teardown(
            unparsable_applet_is_an_error_not_remembered, setup, teardown),
        cmocka_unit_test_setup_teardown(reference_outlives_the_entry, setup,
            teardown),
        cmocka_unit_test_setup_teardown(
            disabled_cache_reads_the_store_every_time, setup, teardown),
        cmocka_unit_test_setup_teardown(concurrent_lookups_see_the_last_write,
            setup, teardown),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
