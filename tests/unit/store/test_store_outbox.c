/* SPDX-License-Identifier: MIT */
/*
 * tests/unit/store/test_store_outbox.c: the outbox table through the store
 * API alone (engine/store/store.h, no SQL): a queued message is claimed once, a
 * batch claim keeps to one session key, outcomes of a batch are recorded,
 * a crash's "sending" messages resume, and a dead message can be re-queued
 * while a sent one cannot; the attempt history keeps the first attempt and
 * the last five, and the failed flag gives the run's delivery "failed"
 * until a requeue.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "engine/store/store.h"
#include "storetest.h"

struct fix {
    char             *dir;
    struct eng_store *db;
};

static int
setup(void **state)
{
    struct fix *f = calloc(1, sizeof(*f));

    assert_non_null(f);
    f->dir = tmpdir_new();
    f->db = open_ok(f->dir);
    *state = f;
    return 0;
}

static int
teardown(void **state)
{
    struct fix *f = *state;

    eng_store_close(f->db);
    tmpdir_free(f->dir);
    free(f);
    return 0;
}

static long long
put(struct fix *f, const char *skey, long long now, int hold)
{
    struct eng_ob_new m = { 0 };
    struct errbuf     eb = { 0 };
    long long         id = 0;

    m.run_id = 7;
    m.applet = "A";
    m.hold = hold;
    m.skey = skey;
    m.req = "{\"to\":\"noc@example.com\",\"password\":\"s3cret\"}";
    m.now_ms = now;
    m.expires_ms = now + 60000;
    assert_int_equal(eng_store_ob_put(f->db, &m, &id, &eb), 0);
    assert_true(id > 0);
    return id;
}

static void
state_of(struct fix *f, long long id, const char *want, unsigned attempts)
{
    char     s[16] = "";
    unsigned a = 99;

    assert_int_equal(eng_store_ob_state(f->db, id, s, sizeof(s), &a, NULL), 0);
    assert_string_equal(s, want);
    assert_int_equal(a, attempts);
}

static void
queued_message_should_be_claimed_once_with_its_request(void **state)
{
    struct fix       *f = *state;
    struct eng_ob_row r[4];
    long long         id = put(f, "k1", 1000, 0);

    assert_int_equal(eng_store_ob_pending(f->db), 1);
    assert_int_equal(eng_store_ob_earliest(f->db), 1000);
    /* not due yet */
    assert_int_equal(eng_store_ob_claim_due(f->db, NULL, 999, 4, r), 0);
    assert_int_equal(eng_store_ob_claim_due(f->db, NULL, 1000, 4, r), 1);
    assert_int_equal(r[0].id, id);
    assert_int_equal(r[0].run_id, 7);
    assert_string_equal(r[0].skey, "k1");
    assert_non_null(strstr(r[0].req, "noc@example.com"));
    eng_ob_row_clear(&r[0]);
    state_of(f, id, "sending", 0);
    /* claimed: a second sender gets nothing */
    assert_int_equal(eng_store_ob_claim_due(f->db, NULL, 5000, 4, r), 0);
    assert_int_equal(eng_store_ob_earliest(f->db), 0);
}

static void
batch_claim_should_keep_to_one_session_key(void **state)
{
    struct fix       *f = *state;
    struct eng_ob_row r[4];
    long long         ids[2];
    unsigned          n, i;

    put(f, "k1", 1000, 0);
    put(f, "k2", 1000, 0);
    put(f, "k1", 1001, 0);
    n = eng_store_ob_claim_due(f->db, "k1", 2000, 4, r);
    assert_int_equal(n, 2);
    for (i = 0; i < n; i++) {
        assert_string_equal(r[i].skey, "k1");
        ids[i] = r[i].id;
        eng_ob_row_clear(&r[i]);
    }
    /* one goes back untried */
    eng_store_ob_release(f->db, ids + 1, 1);
    state_of(f, ids[0], "sending", 0);
    state_of(f, ids[1], "queued", 0);
    assert_int_equal(eng_store_ob_pending(f->db), 3);
}

static void
batch_outcomes_should_be_recorded_and_a_sent_request_replaced(void **state)
{
    struct fix           *f = *state;
    struct eng_ob_row     r[4];
    struct eng_ob_outcome o[2];
    struct eng_ob_item   *v = NULL;
    struct errbuf         eb = { 0 };
    size_t                n = 0, i;
    long long             a = put(f, "k", 1000, 0), b = put(f, "k", 1000, 0);

    assert_int_equal(eng_store_ob_claim_due(f->db, "k", 1000, 4, r), 2);
    eng_ob_row_clear(&r[0]);
    eng_ob_row_clear(&r[1]);
    memset(o, 0, sizeof(o));
    o[0].id = a;
    o[0].sent = 1;
    o[0].state = "sent";
    o[0].attempts = 1;
    o[0].now_ms = o[0].next_ms = 1500;
    o[0].code = 250;
    o[0].message = "250 2.0.0 Ok: queued";
    o[0].req = "{\"to\":\"noc@example.com\"}";
    o[1].id = b;
    o[1].state = "queued";
    o[1].attempts = 1;
    o[1].now_ms = 1500;
    o[1].next_ms = 31500;
    o[1].klass = "connect";
    o[1].code = 0;
    o[1].message = "connection refused";
    eng_store_ob_record(f->db, o, 2);
    state_of(f, a, "sent", 1);
    state_of(f, b, "queued", 1);
    assert_int_equal(eng_store_ob_earliest(f->db), 31500);

    assert_int_equal(eng_store_ob_list(f->db, NULL, &v, &n, &eb), 0);
    assert_int_equal(n, 2);
    for (i = 0; i < n; i++) {
        if (v[i].id == a) {
            assert_int_equal(v[i].sent_ms, 1500);
            assert_false(v[i].has_last_error);
            /* the sent message no longer holds the password */
            assert_null(strstr(v[i].req, "s3cret"));
        } else {
            assert_int_equal(v[i].id, b);
            assert_true(v[i].has_last_error);
            assert_string_equal(v[i].last_klass, "connect");
            assert_string_equal(v[i].last_message, "connection refused");
            assert_int_equal(v[i].sent_ms, 0);
        }
    }
    eng_ob_items_free(v, n);
    assert_int_equal(eng_store_ob_list(f->db, "sent", &v, &n, &eb), 0);
    assert_int_equal(n, 1);
    assert_int_equal(v[0].id, a);
    eng_ob_items_free(v, n);
}

static void
sending_messages_should_resume_and_only_dead_or_queued_requeue(void **state)
{
    struct fix           *f = *state;
    struct eng_ob_row     r;
    struct eng_ob_outcome o = { 0 };
    struct errbuf         eb = { 0 };
    long long             held = put(f, "k", 1000, 1);
    long long             dead = put(f, "k", 1000, 0);

    state_of(f, held, "sending", 0);
    assert_int_equal(eng_store_ob_claim_held(f->db, held, 1100, &r), 0);
    assert_int_equal(r.id, held);
    eng_ob_row_clear(&r);
    assert_int_equal(eng_store_ob_claim_held(f->db, 424242, 1100, &r),
        ERR_NOTFOUND);
    /* a crash left "held" sending: start puts it back */
    assert_int_equal(eng_store_ob_resume(f->db), 1);
    state_of(f, held, "queued", 0);

    o.id = dead;
    o.state = "dead";
    o.attempts = 1;
    o.now_ms = o.next_ms = 1200;
    o.klass = "smtp";
    o.code = 550;
    o.message = "mailbox unavailable";
    o.permanent = 1;
    eng_store_ob_record(f->db, &o, 1);
    state_of(f, dead, "dead", 1);
    assert_int_equal(eng_store_ob_requeue(f->db, dead, 2000, 9000, NULL, NULL,
                         &eb),
        0);
    state_of(f, dead, "queued", 1);

    o.state = "sent";
    o.sent = 1;
    eng_store_ob_record(f->db, &o, 1);
    assert_int_equal(eng_store_ob_requeue(f->db, dead, 3000, 9000, NULL, NULL,
                         &eb),
        ERR_INVAL);
    assert_non_null(strstr(eb.msg, "only dead or queued"));
    assert_int_equal(eng_store_ob_requeue(f->db, 424242, 3000, 9000, NULL, NULL,
                         &eb),
        ERR_NOTFOUND);
}

/* One failed attempt number n of message id (the row is re-claimed). */
static void
fail_attempt(struct fix *f, long long id, unsigned n, const char *klass,
    int failed)
{
    struct eng_ob_outcome o = { 0 };
    char                  msg[64], trace[64];

    snprintf(msg, sizeof(msg), "attempt %u failed", n);
    snprintf(trace, sizeof(trace), "{\"attempt\":%u}", n);
    o.id = id;
    o.state = "queued";
    o.attempts = n;
    o.now_ms = 1000 + n;
    o.next_ms = 1000 + n;
    o.klass = klass;
    o.message = msg;
    o.advice = "trust the issuer";
    o.failed = failed;
    o.trace = trace;
    eng_store_ob_record(f->db, &o, 1);
}

static void
attempt_history_should_keep_the_first_and_the_last_five(void **state)
{
    struct fix            *f = *state;
    struct eng_ob_attempt *a = NULL;
    struct eng_ob_outcome  o = { 0 };
    struct errbuf          eb = { 0 };
    struct eng_ob_item     it;
    size_t                 n = 0, i;
    unsigned               k;
    long long              id = put(f, "k", 1000, 0);
    static const unsigned  kept[] = { 1, 5, 6, 7, 8, 9 };

    /* none yet */
    assert_int_equal(eng_store_ob_attempts(f->db, id, 0, &a, &n, &eb), 0);
    assert_int_equal(n, 0);
    assert_null(a);
    for (k = 1; k <= 8; k++)
        fail_attempt(f, id, k, "certificate_untrusted", 1);
    assert_int_equal(eng_store_ob_get(f->db, id, &it, &eb), 0);
    assert_int_equal(it.failed, 1);
    assert_int_equal(it.attempts, 8);
    eng_ob_item_clear(&it);
    o.id = id;
    o.sent = 1;
    o.state = "sent";
    o.attempts = 9;
    o.now_ms = o.next_ms = 2000;
    o.code = 250;
    o.message = "250 2.0.0 Ok: queued";
    o.klass = "internal"; /* not stored for a sent message */
    o.advice = "not stored either";
    o.failed = 1; /* nor this */
    o.trace = "{\"dialogue\":[]}";
    eng_store_ob_record(f->db, &o, 1);

    assert_int_equal(eng_store_ob_attempts(f->db, id, 0, &a, &n, &eb), 0);
    assert_int_equal(n, sizeof(kept) / sizeof(kept[0]));
    for (i = 0; i < n; i++)
        assert_int_equal(a[i].n, kept[i]);
    assert_false(a[0].ok);
    assert_int_equal(a[0].at_ms, 1001);
    assert_string_equal(a[0].klass, "certificate_untrusted");
    assert_string_equal(a[0].message, "attempt 1 failed");
    assert_string_equal(a[0].advice, "trust the issuer");
    assert_string_equal(a[0].trace, "{\"attempt\":1}");
    assert_true(a[n - 1].ok);
    assert_null(a[n - 1].klass);
    assert_null(a[n - 1].advice);
    assert_int_equal(a[n - 1].code, 250);
    assert_string_equal(a[n - 1].trace, "{\"dialogue\":[]}");
    eng_ob_attempts_free(a, n);

    /* only the newest */
    assert_int_equal(eng_store_ob_attempts(f->db, id, 1, &a, &n, &eb), 0);
    assert_int_equal(n, 1);
    assert_int_equal(a[0].n, 9);
    eng_ob_attempts_free(a, n);
    assert_int_equal(eng_store_ob_get(f->db, id, &it, &eb), 0);
    assert_int_equal(it.failed, 0);
    assert_string_equal(it.state, "sent");
    eng_ob_item_clear(&it);
    assert_int_equal(eng_store_ob_get(f->db, id + 1, &it, &eb), ERR_NOTFOUND);
}

static void
failed_flag_should_mark_the_run_and_a_requeue_clear_it(void **state)
{
    struct fix           *f = *state;
    struct eng_run_filter flt = { 0 };
    struct errbuf         eb = { 0 };
    cJSON                *page = NULL, *r;
    long long             run = 0, id;
    struct eng_ob_new     m = { 0 };
    const char           *want[][2] = {
                  { NULL, "none" },
                  { "x", "pending" },
                  { "y", "failed" },
                  { "z", "delivered" },
    };

    assert_int_equal(eng_store_run_insert(f->db, "A", "manual", NULL, NULL,
                         "success", 1000, &run, &eb),
        0);
    assert_int_equal(eng_store_run_get(f->db, run, &r, &eb), 0);
    assert_string_equal(cJSON_GetObjectItem(r, "delivery")->valuestring,
        want[0][1]);
    cJSON_Delete(r);
    m.run_id = run;
    m.applet = "A";
    m.skey = "k";
    m.req = "{}";
    m.now_ms = 1000;
    m.expires_ms = 99000;
    assert_int_equal(eng_store_ob_put(f->db, &m, &id, &eb), 0);
    assert_int_equal(eng_store_run_get(f->db, run, &r, &eb), 0);
    assert_string_equal(cJSON_GetObjectItem(r, "delivery")->valuestring,
        want[1][1]);
    cJSON_Delete(r);
    /* a retry after a failure that will not heal */
    fail_attempt(f, id, 1, "auth_failed", 1);
    assert_int_equal(eng_store_run_get(f->db, run, &r, &eb), 0);
    assert_string_equal(cJSON_GetObjectItem(r, "delivery")->valuestring,
        want[2][1]);
    cJSON_Delete(r);
    flt.delivery = "failed";
    assert_int_equal(eng_store_runs_list(f->db, &flt, &page, &eb), 0);
    assert_int_equal(cJSON_GetArraySize(cJSON_GetObjectItem(page, "items")), 1);
    cJSON_Delete(page);
    flt.delivery = "pending";
    assert_int_equal(eng_store_runs_list(f->db, &flt, &page, &eb), 0);
    assert_int_equal(cJSON_GetArraySize(cJSON_GetObjectItem(page, "items")), 0);
    cJSON_Delete(page);
    flt.delivery = "lost";
    assert_int_equal(eng_store_runs_list(f->db, &flt, &page, &eb), ERR_INVAL);
    /* the user acted: pending again, and no longer listed as failed */
    assert_int_equal(eng_store_ob_requeue(f->db, id, 3000, 99000, NULL, NULL,
                         &eb),
        0);
    flt.delivery = "failed";
    assert_int_equal(eng_store_runs_list(f->db, &flt, &page, &eb), 0);
    assert_int_equal(cJSON_GetArraySize(cJSON_GetObjectItem(page, "items")), 0);
    cJSON_Delete(page);
    flt.delivery = "pending";
    assert_int_equal(eng_store_runs_list(f->db, &flt, &page, &eb), 0);
    assert_int_equal(cJSON_GetArraySize(cJSON_GetObjectItem(page, "items")), 1);
    cJSON_Delete(page);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(
            queued_message_should_be_claimed_once_with_its_request, setup,
            teardown),
        cmocka_unit_test_setup_teardown(
            attempt_history_should_keep_the_first_and_the_last_five, setup,
            teardown),
        cmocka_unit_test_setup_teardown(
            failed_flag_should_mark_the_run_and_a_requeue_clear_it, setup,
            teardown),
        cmocka_unit_test_setup_teardown(
            batch_claim_should_keep_to_one_session_key, setup, teardown),
        cmocka_unit_test_setup_teardown(
            batch_outcomes_should_be_recorded_and_a_sent_request_replaced,
            setup, teardown),
        cmocka_unit_test_setup_teardown(
            sending_messages_should_resume_and_only_dead_or_queued_requeue,
            setup, teardown),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
