/* SPDX-License-Identifier: MIT */
/*
 * tests/unit/store/test_pg_outbox_lease.c: two instances on one PostgreSQL
 * database, as two store handles through the store API alone
 * (engine/store/store.h): two senders claiming at once never get the same
 * message; a message being sent is another instance's until its lease
 * passes (it names that time as its earliest, its release and resume
 * leave the message alone, a tick renews the lease), then the other
 * instance takes it over; a start re-queues only expired leases.
 * PostgreSQL only (store/test_pg_outbox_lease@pg, storetest.h); skipped
 * on SQLite, which has one instance.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "storetest.h"

struct fix {
    char             *dir;
    struct eng_store *a, *b; /* two instances, one database */
};

static int
setup(void **state)
{
    struct fix *f = calloc(1, sizeof(*f));

    assert_non_null(f);
    *state = f;
    if (!store_test_pg())
        return 0;
    f->dir = tmpdir_new();
    f->a = open_ok(f->dir);
    f->b = open_ok(f->dir);
    assert_string_not_equal(eng_store_instance(f->a), eng_store_instance(f->b));
    return 0;
}

static int
teardown(void **state)
{
    struct fix *f = *state;

    if (f->a != NULL)
        eng_store_close(f->a);
    if (f->b != NULL)
        eng_store_close(f->b);
    if (f->dir != NULL)
        tmpdir_free(f->dir);
    free(f);
    return 0;
}

#define PG_ONLY()                                                              \
    do {                                                                       \
        if (!store_test_pg()) {                                                \
            print_message("[  SKIP    ] PostgreSQL only: several "             \
                          "instances share a database\n");                     \
            skip();                                                            \
        }                                                                      \
    } while (0)

/* Wall-clock ms: resume compares leases with the real time. */
static long long
now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_REALTIME, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static long long
put(struct eng_store *db, const char *skey, long long now, int hold)
{
    struct eng_ob_new m = { 0 };
    struct errbuf     eb = { 0 };
    long long         id = 0;

    m.applet = "A";
    m.hold = hold;
    m.skey = skey;
    m.req = "{\"to\":\"noc@example.com\",\"password\":\"s3cret\"}";
    m.now_ms = now;
    m.expires_ms = now + 3600000;
    if (eng_store_ob_put(db, &m, &id, &eb) != 0)
        fail_msg("put: %s", eb.msg);
    assert_true(id > 0);
    return id;
}

static void
state_of(struct eng_store *db, long long id, const char *want)
{
    char s[16] = "";

    assert_int_equal(eng_store_ob_state(db, id, s, sizeof(s), NULL, NULL), 0);
    assert_string_equal(s, want);
}

/* Claims everything due for skey (NULL: any) at now on db; returns how
 * many, each id counted in seen[id]. */
static unsigned
claim_all(struct eng_store *db, const char *skey, long long now, int *seen,
    long long nseen)
{
    struct eng_ob_row r[8];
    unsigned          k, i, total = 0;

    while ((k = eng_store_ob_claim_due(db, skey, now, 8, r)) > 0) {
        for (i = 0; i < k; i++) {
            assert_true(r[i].id > 0 && r[i].id < nseen);
            __atomic_add_fetch(&seen[r[i].id], 1, __ATOMIC_SEQ_CST);
            eng_ob_row_clear(&r[i]);
        }
        total += k;
    }
    return total;
}

struct sender {
    struct eng_store *db;
    int              *seen;
    long long         nseen, now;
    unsigned          claimed;
};

static void *
sender_main(void *arg)
{
    struct sender *s = arg;

    s->claimed = claim_all(s->db, NULL, s->now, s->seen, s->nseen);
    return NULL;
}

static void
two_instances_should_never_claim_the_same_message(void **state)
{
    struct fix *f = *state;
    enum { N = 400 };
    int           seen[N + 1] = { 0 };
    long long     i, t = now_ms();
    struct sender s[2];
    pthread_t     th[2];
    char          skey[8];

    PG_ONLY();
    for (i = 0; i < N; i++) {
        snprintf(skey, sizeof(skey), "k%lld", i % 5);
        put(i % 2 ? f->a : f->b, skey, t - 1000 + i % 17, 0);
    }
    for (i = 0; i < 2; i++) {
        s[i] = (struct sender){
            .db = i ? f->b : f->a,
            .seen = seen,
            .nseen = N + 1,
            .now = t,
        };
        assert_int_equal(pthread_create(&th[i], NULL, sender_main, &s[i]), 0);
    }
    for (i = 0; i < 2; i++)
        pthread_join(th[i], NULL);
    print_message("claimed: %u and %u of %d\n", s[0].claimed, s[1].claimed, N);
    assert_int_equal(s[0].claimed + s[1].claimed, N);
    for (i = 1; i <= N; i++)
        assert_int_equal(seen[i], 1);
    /* all of them are being sent, each by one of the two */
    assert_int_equal(eng_store_ob_pending(f->a), N);
    assert_int_equal(claim_all(f->a, NULL, t + 1000, seen, N + 1), 0);
    assert_int_equal(claim_all(f->b, NULL, t + 1000, seen, N + 1), 0);
}

static void
expired_lease_should_be_taken_over_by_the_other_instance(void **state)
{
    struct fix           *f = *state;
    struct eng_ob_row     r[4];
    struct eng_ob_outcome o = { 0 };
    struct errbuf         eb = { 0 };
    char                 *keys[2];
    long long             t = now_ms(), id, lease, lease2;

    PG_ONLY();
    id = put(f->a, "k", t, 0);
    assert_int_equal(eng_store_ob_claim_due(f->a, NULL, t, 4, r), 1);
    assert_int_equal(r[0].id, id);
    eng_ob_row_clear(&r[0]);
    /* A's own claim is no wake time for A; B wakes when A's lease ends */
    assert_int_equal(eng_store_ob_earliest(f->a), 0);
    lease = eng_store_ob_earliest(f->b);
    assert_true(lease > t);
    /* before: B gets nothing, and its release and resume leave it */
    assert_int_equal(eng_store_ob_claim_due(f->b, NULL, lease - 1, 4, r), 0);
    assert_int_equal(eng_store_ob_due_keys(f->b, lease - 1, 2, keys), 0);
    eng_store_ob_release(f->b, &id, 1);
    state_of(f->b, id, "sending");
    assert_int_equal(eng_store_ob_resume(f->b), 0);
    state_of(f->b, id, "sending");
    /* A's tick renews its lease */
    assert_int_equal(eng_store_tick(f->a, t + 5000, &eb), 0);
    lease2 = eng_store_ob_earliest(f->b);
    assert_int_equal(lease2, lease + 5000);
    assert_int_equal(eng_store_ob_claim_due(f->b, NULL, lease + 1, 4, r), 0);
    /* A died: once its lease passed, B takes the message over */
    assert_int_equal(eng_store_ob_due_keys(f->b, lease2 + 1, 2, keys), 1);
    assert_string_equal(keys[0], "k");
    free(keys[0]);
    assert_int_equal(eng_store_ob_claim_due(f->b, "k", lease2 + 1, 4, r), 1);
    assert_int_equal(r[0].id, id);
    assert_non_null(strstr(r[0].req, "noc@example.com"));
    eng_ob_row_clear(&r[0]);
    assert_int_equal(eng_store_ob_earliest(f->b), 0);
    assert_true(eng_store_ob_earliest(f->a) > lease2);
    /* the message is B's now: A's release does not touch it */
    eng_store_ob_release(f->a, &id, 1);
    state_of(f->a, id, "sending");
    o.id = id;
    o.sent = 1;
    o.state = "sent";
    o.attempts = 1;
    o.now_ms = o.next_ms = lease2 + 2;
    o.code = 250;
    o.message = "250 2.0.0 Ok: queued";
    eng_store_ob_record(f->b, &o, 1);
    state_of(f->a, id, "sent");
    assert_int_equal(eng_store_ob_earliest(f->a), 0);
    assert_int_equal(eng_store_ob_earliest(f->b), 0);
    assert_int_equal(eng_store_ob_pending(f->a), 0);
}

static void
start_should_requeue_only_expired_leases(void **state)
{
    struct fix       *f = *state;
    struct eng_ob_row r;
    long long         t = now_ms(), live, dead, mine;

    PG_ONLY();
    live = put(f->a, "k", t, 1);
    dead = put(f->a, "k", t - 3600000, 1); /* its instance died long ago */
    mine = put(f->b, "k", t, 1);
    /* B restarts (or starts beside A): A's live lease stays A's */
    assert_int_equal(eng_store_ob_resume(f->b), 1);
    state_of(f->b, live, "sending");
    state_of(f->b, dead, "queued");
    state_of(f->b, mine, "sending");
    /* the held message is loaded by the instance that put it */
    assert_int_equal(eng_store_ob_claim_held(f->a, live, t, &r), 0);
    assert_int_equal(r.id, live);
    eng_ob_row_clear(&r);
    eng_store_ob_release(f->a, &live, 1);
    state_of(f->a, live, "queued");
    assert_int_equal(eng_store_ob_pending(f->a), 3);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(
            two_instances_should_never_claim_the_same_message, setup, teardown),
        cmocka_unit_test_setup_teardown(
            expired_lease_should_be_taken_over_by_the_other_instance, setup,
            teardown),
        cmocka_unit_test_setup_teardown(
            start_should_requeue_only_expired_leases, setup, teardown),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
