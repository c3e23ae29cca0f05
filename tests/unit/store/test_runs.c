/* SPDX-License-Identifier: MIT */
/*
 * tests/unit/store/test_runs.c: the run history table — recording a
 * run's life, listing with filters and cursor pagination, clear errors for
 * bad filters, pruning by retention, idempotency keys, and marking runs
 * interrupted by a crash.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "common/clock.h"
#include "engine/store/store.h"
#include "storetest.h"

#define DAY_MS 86400000LL

struct env {
    char             *dir;
    struct eng_store *db;
};

static int
setup(void **state)
{
    struct env *e = calloc(1, sizeof(*e));

    assert_non_null(e);
    e->dir = tmpdir_new();
    e->db = open_ok(e->dir);
    *state = e;
    return 0;
}

static int
teardown(void **state)
{
    struct env *e = *state;

    eng_store_close(e->db);
    tmpdir_free(e->dir);
    free(e);
    return 0;
}

static long long
add_run(struct env *e, const char *applet, const char *status, long long t)
{
    struct errbuf      eb = { 0 };
    struct eng_run_end end = { status, t + 1500, 0, NULL, NULL, NULL, "out\n",
        "[{\"label\":\"1\"}]" };
    long long          id = 0;

    assert_int_equal(eng_store_run_insert(e->db, applet, "manual",
                         "{\"_none_argc\":\"0\"}", NULL, "queued", t, &id, &eb),
        0);
    assert_int_equal(eng_store_run_start(e->db, id, t + 500, &eb), 0);
    if (strcmp(status, "running") != 0)
        assert_int_equal(eng_store_run_finish(e->db, id, &end, &eb), 0);
    return id;
}

static void
run_should_be_recorded_with_its_outcome(void **state)
{
    struct env   *e = *state;
    struct errbuf eb = { 0 };
    cJSON        *r = NULL;
    long long     now = clock_now_ms(), id;

    id = add_run(e, "A", "success", now);
    assert_int_equal(eng_store_run_get(e->db, id, &r, &eb), 0);
    assert_string_equal(cJSON_GetObjectItem(r, "applet")->valuestring, "A");
    assert_string_equal(cJSON_GetObjectItem(r, "status")->valuestring,
        "success");
    assert_int_equal(cJSON_GetObjectItem(r, "duration_ms")->valuedouble, 1000);
    assert_string_equal(cJSON_GetObjectItem(r, "output")->valuestring, "out\n");
    assert_true(cJSON_IsArray(cJSON_GetObjectItem(r, "trace")));
    assert_string_equal(cJSON_GetObjectItem(cJSON_GetObjectItem(r,
                                                "trigger_data"),
                            "_none_argc")
                            ->valuestring,
        "0");
    cJSON_Delete(r);
    assert_int_equal(eng_store_run_get(e->db, id + 100, &r, &eb), ERR_NOTFOUND);
    assert_non_null(strstr(eb.msg, "no run with id"));
}

static void
list_should_filter_and_paginate(void **state)
{
    struct env           *e = *state;
    struct errbuf         eb = { 0 };
    struct eng_run_filter f;
    cJSON                *page = NULL, *items, *nc;
    long long             now = clock_now_ms(), seen = 0, prev_id = 0;
    int                   i, pages = 0;

    for (i = 0; i < 7; i++)
        add_run(e, i % 2 ? "B" : "A", i == 3 ? "abort" : "success",
            now - (7 - i) * 1000);
    memset(&f, 0, sizeof(f));
    f.limit = 3;
    do {
        assert_int_equal(eng_store_runs_list(e->db, &f, &page, &eb), 0);
        items = cJSON_GetObjectItem(page, "items");
        for (i = 0; i < cJSON_GetArraySize(items); i++) {
            long long id =
                (long long)cJSON_GetObjectItem(cJSON_GetArrayItem(items, i),
                    "id")
                    ->valuedouble;

            if (prev_id != 0)
                assert_true(id < prev_id); /* newest first, no repeats */
            prev_id = id;
            seen++;
        }
        nc = cJSON_GetObjectItem(page, "next_cursor");
        free((char *)f.cursor);
        f.cursor = cJSON_IsString(nc) ? strdup(nc->valuestring) : NULL;
        cJSON_Delete(page);
        pages++;
    } while (f.cursor != NULL);
    assert_int_equal(seen, 7);
    assert_int_equal(pages, 3);

    memset(&f, 0, sizeof(f));
    f.applet = "B";
    assert_int_equal(eng_store_runs_list(e->db, &f, &page, &eb), 0);
    assert_int_equal(cJSON_GetArraySize(cJSON_GetObjectItem(page, "items")), 3);
    cJSON_Delete(page);
    f.applet = NULL;
    f.status = "abort";
    assert_int_equal(eng_store_runs_list(e->db, &f, &page, &eb), 0);
    assert_int_equal(cJSON_GetArraySize(cJSON_GetObjectItem(page, "items")), 1);
    cJSON_Delete(page);
    f.status = NULL;
    f.since = (now - 2500) / 1000 + 1; /* the last two (or so) */
    assert_int_equal(eng_store_runs_list(e->db, &f, &page, &eb), 0);
    assert_true(cJSON_GetArraySize(cJSON_GetObjectItem(page, "items")) <= 2);
    cJSON_Delete(page);

    memset(&f, 0, sizeof(f));
    f.status = "exploded";
    assert_int_equal(eng_store_runs_list(e->db, &f, &page, &eb), ERR_INVAL);
    assert_string_equal(eb.field, "status");
    assert_non_null(strstr(eb.msg, "not one of"));
    f.status = NULL;
    f.cursor = "abc";
    assert_int_equal(eng_store_runs_list(e->db, &f, &page, &eb), ERR_INVAL);
    assert_string_equal(eb.field, "cursor");
}

static void
prune_should_delete_only_old_finished_runs(void **state)
{
    struct env   *e = *state;
    struct errbuf eb = { 0 };
    cJSON        *r = NULL;
    long long     now = clock_now_ms(), old, recent, running;

    old = add_run(e, "A", "success", now - 40 * DAY_MS);
    recent = add_run(e, "A", "success", now - 2 * DAY_MS);
    running = add_run(e, "A", "running", now - 40 * DAY_MS);
    assert_int_equal(eng_store_runs_prune(e->db, now - 30 * DAY_MS, &eb), 1);
    assert_int_equal(eng_store_run_get(e->db, old, &r, &eb), ERR_NOTFOUND);
    assert_int_equal(eng_store_run_get(e->db, recent, &r, &eb), 0);
    cJSON_Delete(r);
    assert_int_equal(eng_store_run_get(e->db, running, &r, &eb), 0);
    cJSON_Delete(r);
    /* a second prune finds nothing more */
    assert_int_equal(eng_store_runs_prune(e->db, now - 30 * DAY_MS, &eb), 0);
}

static int requeued;

static void
count_requeue(void *ud, long long id, const char *applet, const char *trig,
    const char *replay)
{
    (void)ud;
    (void)id;
    (void)applet;
    (void)trig;
    assert_string_equal(replay, "{\"vars\":{}}");
    requeued++;
}

static void
recover_should_abort_running_and_requeue_queued(void **state)
{
    struct env   *e = *state;
    struct errbuf eb = { 0 };
    cJSON        *r = NULL;
    long long     now = clock_now_ms(), running, queued = 0;

    running = add_run(e, "A", "running", now);
    assert_int_equal(eng_store_run_insert(e->db, "A", "manual", "{}",
                         "{\"vars\":{}}", "queued", now, &queued, &eb),
        0);
    requeued = 0;
    assert_int_equal(eng_store_runs_recover(e->db, now, count_requeue, NULL,
                         &eb),
        0);
    assert_int_equal(requeued, 1);
    assert_int_equal(eng_store_run_get(e->db, running, &r, &eb), 0);
    assert_string_equal(cJSON_GetObjectItem(r, "status")->valuestring, "abort");
    assert_string_equal(cJSON_GetObjectItem(r, "error_class")->valuestring,
        "interrupted");
    cJSON_Delete(r);
}

static void
idempotency_keys_should_expire_after_the_window(void **state)
{
    struct env *e = *state;
    long long   now = clock_now_ms(), id = 0;

    assert_int_equal(eng_store_idem_get(e->db, "A", "k1", now - DAY_MS, &id),
        0);
    assert_int_equal(eng_store_idem_put(e->db, "A", "k1", 42, now), 0);
    assert_int_equal(eng_store_idem_get(e->db, "A", "k1", now - DAY_MS, &id),
        1);
    assert_int_equal(id, 42);
    /* per applet */
    assert_int_equal(eng_store_idem_get(e->db, "B", "k1", now - DAY_MS, &id),
        0);
    /* older than the window: not a duplicate */
    assert_int_equal(eng_store_idem_put(e->db, "A", "k2", 7, now - 2 * DAY_MS),
        0);
    assert_int_equal(eng_store_idem_get(e->db, "A", "k2", now - DAY_MS, &id),
        0);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(run_should_be_recorded_with_its_outcome,
            setup, teardown),
        cmocka_unit_test_setup_teardown(list_should_filter_and_paginate, setup,
            teardown),
        cmocka_unit_test_setup_teardown(
            prune_should_delete_only_old_finished_runs, setup, teardown),
        cmocka_unit_test_setup_teardown(
            recover_should_abort_running_and_requeue_queued, setup, teardown),
        cmocka_unit_test_setup_teardown(
            idempotency_keys_should_expire_after_the_window, setup, teardown),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
