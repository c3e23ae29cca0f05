/* SPDX-License-Identifier: MIT */
/*
 * tests/unit/common/test_metrics.c: common/metrics.h counts increments
 * from many threads without losing one, escapes label values and help
 * text as the Prometheus text format wants, folds series past the cap
 * into "_other" and then counts what it cannot keep as lost, refuses bad
 * names, and writes herald's four counter families.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include "common/buf.h"
#include "common/err.h"
#include "common/metrics.h"

static const char *const two[] = { "applet", "status" };

#define NTHREADS 8
#define NINCS    20000

struct worker {
    struct metrics_family *f;
    int                    id;
};

static void *
worker_run(void *arg)
{
    struct worker *w = arg;
    char           name[16];

    snprintf(name, sizeof(name), "a%d", w->id % 2);
    for (int i = 0; i < NINCS; i++) {
        /* every thread hits one shared series and one of two others */
        metrics_add(w->f, (const char *const[]){ "shared", "ok" }, 1);
        metrics_add(w->f, (const char *const[]){ name, "ok" }, 2);
    }
    return NULL;
}

static void
metrics_should_sum_increments_from_concurrent_threads(void **state)
{
    struct metrics_family *f;
    pthread_t              t[NTHREADS];
    struct worker          w[NTHREADS];

    (void)state;
    assert_int_equal(metrics_family_new("t_runs_total", "Runs.", two, 2, 10,
                         &f),
        0);
    for (int i = 0; i < NTHREADS; i++) {
        w[i] = (struct worker){ f, i };
        assert_int_equal(pthread_create(&t[i], NULL, worker_run, &w[i]), 0);
    }
    for (int i = 0; i < NTHREADS; i++)
        pthread_join(t[i], NULL);
    assert_int_equal(metrics_value(f, (const char *const[]){ "shared", "ok" }),
        NTHREADS * NINCS);
    assert_int_equal(metrics_value(f, (const char *const[]){ "a0", "ok" }),
        NTHREADS / 2 * NINCS * 2);
    assert_int_equal(metrics_value(f, (const char *const[]){ "a1", "ok" }),
        NTHREADS / 2 * NINCS * 2);
    assert_int_equal(metrics_family_size(f), 3);
    assert_int_equal(metrics_family_lost(f), 0);
    metrics_family_free(f);
}

static void
metrics_should_escape_label_values_and_help(void **state)
{
    struct metrics_family *f;
    struct buf             b = BUF_INIT;

    (void)state;
    assert_int_equal(metrics_family_new("t_total", "a \\ back\nslash", two, 2,
                         10, &f),
        0);
    metrics_add(f, (const char *const[]){ "q\"uote", "back\\slash\nnl" }, 3);
    metrics_add(f, (const char *const[]){ NULL, "caf\xc3\xa9" }, 1);
    metrics_add(f, (const char *const[]){ "bad\xff", "x" }, 1);
    assert_int_equal(metrics_family_write(f, &b), 0);
    assert_string_equal(buf_str(&b),
        "# HELP t_total a \\\\ back\\nslash\n"
        "# TYPE t_total counter\n"
        "t_total{applet=\"q\\\"uote\",status=\"back\\\\slash\\nnl\"} 3\n"
        "t_total{applet=\"\",status=\"caf\xc3\xa9\"} 1\n"
        "t_total{applet=\"_invalid\",status=\"x\"} 1\n");
    buf_free(&b);
    metrics_family_free(f);
}

static void
metrics_should_fold_series_past_the_cap_into_other(void **state)
{
    struct metrics_family *f;
    struct buf             b = BUF_INIT;
    char                   name[32], status[32];

    (void)state;
    assert_int_equal(metrics_family_new("t_total", "h", two, 2, 5, &f), 0);
    for (int i = 0; i < 50; i++) {
        snprintf(name, sizeof(name), "applet%d", i);
        metrics_add(f, (const char *const[]){ name, "success" }, 1);
    }
    /* five series of their own, the 45 others in one */
    assert_int_equal(metrics_family_size(f), 6);
    assert_int_equal(metrics_value(f,
                         (const char *const[]){ "applet4", "success" }),
        1);
    assert_int_equal(metrics_value(f,
                         (const char *const[]){ "applet5", "success" }),
        0);
    assert_int_equal(metrics_value(f,
                         (const char *const[]){ "_other", "success" }),
        45);
    /* a known series still counts past the cap */
    metrics_add(f, (const char *const[]){ "applet0", "success" }, 1);
    assert_int_equal(metrics_value(f,
                         (const char *const[]){ "applet0", "success" }),
        2);
    /* "_other" series are bounded too: then increments are lost */
    for (int i = 0; i < METRICS_OTHER_MAX + 10; i++) {
        snprintf(status, sizeof(status), "s%d", i);
        metrics_add(f, (const char *const[]){ "new", status }, 1);
    }
    assert_int_equal(metrics_family_size(f), 5 + METRICS_OTHER_MAX);
    assert_int_equal(metrics_family_lost(f), 11);
    assert_int_equal(metrics_family_write(f, &b), 0);
    assert_non_null(strstr(buf_str(&b),
        "t_total{applet=\"_other\",status=\"success\"} 45\n"));
    buf_free(&b);
    metrics_family_free(f);
}

/* A family starts small and grows: every series created on the way keeps
 * its count, its place in the output and its lookups. */
static void
metrics_should_keep_every_series_while_growing(void **state)
{
    struct metrics_family *f;
    struct buf             b = BUF_INIT;
    char                   name[32], line[64];
    const char            *at;

    (void)state;
    assert_int_equal(metrics_family_new("t_total", "h", two, 2, 1000, &f), 0);
    for (int round = 0; round < 2; round++)
        for (int i = 0; i < 1000; i++) {
            snprintf(name, sizeof(name), "applet%d", i);
            metrics_add(f, (const char *const[]){ name, "ok" },
                (unsigned long long)i + 1);
        }
    assert_int_equal(metrics_family_size(f), 1000);
    assert_int_equal(metrics_family_lost(f), 0);
    for (int i = 0; i < 1000; i++) {
        snprintf(name, sizeof(name), "applet%d", i);
        assert_int_equal(metrics_value(f, (const char *const[]){ name, "ok" }),
            2 * ((unsigned long long)i + 1));
    }
    assert_int_equal(metrics_family_write(f, &b), 0);
    at = buf_str(&b);
    for (int i = 0; i < 1000; i++) { /* in creation order */
        snprintf(line, sizeof(line),
            "t_total{applet=\"applet%d\",status="
            "\"ok\"} %d\n",
            i, 2 * (i + 1));
        assert_non_null(at = strstr(at, line));
    }
    /* past the cap, new values fold into "_other" as before */
    metrics_add(f, (const char *const[]){ "one-more", "ok" }, 5);
    assert_int_equal(metrics_value(f, (const char *const[]){ "_other", "ok" }),
        5);
    buf_free(&b);
    metrics_family_free(f);
}

static void
metrics_should_refuse_bad_names(void **state)
{
    static const char *const bad[] = { "__reserved" };
    static const char *const dash[] = { "a-b" };
    struct metrics_family   *f = (void *)1;

    (void)state;
    assert_int_equal(metrics_family_new("no_suffix", "h", two, 2, 1, &f),
        ERR_INVAL);
    assert_null(f);
    assert_int_equal(metrics_family_new("1x_total", "h", two, 2, 1, &f),
        ERR_INVAL);
    assert_int_equal(metrics_family_new("x_total", "h", bad, 1, 1, &f),
        ERR_INVAL);
    assert_int_equal(metrics_family_new("x_total", "h", dash, 1, 1, &f),
        ERR_INVAL);
    assert_int_equal(metrics_family_new("x_total", "h", two, 0, 1, &f),
        ERR_INVAL);
    assert_int_equal(metrics_family_new("x_total", "h", two, 2, 0, &f),
        ERR_INVAL);
    metrics_add(NULL, two, 1); /* no-op */
}

static void
metrics_should_write_samples_as_integers_when_whole(void **state)
{
    static const char *const l[] = { "state" };
    static const char *const v[] = { "queued" };
    struct buf               b = BUF_INIT;

    (void)state;
    assert_int_equal(metrics_write_head(&b, "g", "gauge", "G."), 0);
    assert_int_equal(metrics_write_sample(&b, "g", l, v, 1, 42), 0);
    assert_int_equal(metrics_write_sample(&b, "g", NULL, NULL, 0, 0.5), 0);
    assert_int_equal(metrics_write_sample(&b, "g", NULL, NULL, 0, 0.1), 0);
    assert_string_equal(buf_str(&b),
        "# HELP g G.\n# TYPE g gauge\n"
        "g{state=\"queued\"} 42\ng 0.5\ng 0.1\n");
    buf_free(&b);
}

static void
metrics_should_write_herald_counters(void **state)
{
    struct buf b = BUF_INIT;

    (void)state;
    metrics_delivery("mail_test", "failed", "connect");
    metrics_delivery("outbox", "sent", NULL);
    metrics_run("Backup", "success");
    metrics_webhook(202);
    metrics_http(200);
    metrics_http(200);
    assert_int_equal(metrics_write_counters(&b), 0);
    assert_non_null(strstr(buf_str(&b),
        "herald_deliveries_total{outcome="
        "\"failed\",klass=\"connect\",source=\"mail_test\"} 1\n"));
    assert_non_null(strstr(buf_str(&b),
        "herald_deliveries_total{outcome="
        "\"sent\",klass=\"none\",source=\"outbox\"} 1\n"));
    assert_non_null(strstr(buf_str(&b),
        "herald_runs_total{applet=\"Backup\",status=\"success\"} 1\n"));
    assert_non_null(
        strstr(buf_str(&b), "herald_webhooks_total{code=\"202\"} 1\n"));
    assert_non_null(
        strstr(buf_str(&b), "herald_http_requests_total{code=\"200\"} 2\n"));
    assert_non_null(
        strstr(buf_str(&b), "# TYPE herald_http_requests_total counter\n"));
    buf_free(&b);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(metrics_should_sum_increments_from_concurrent_threads),
        cmocka_unit_test(metrics_should_escape_label_values_and_help),
        cmocka_unit_test(metrics_should_fold_series_past_the_cap_into_other),
        cmocka_unit_test(metrics_should_keep_every_series_while_growing),
        cmocka_unit_test(metrics_should_refuse_bad_names),
        cmocka_unit_test(metrics_should_write_samples_as_integers_when_whole),
        cmocka_unit_test(metrics_should_write_herald_counters),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
