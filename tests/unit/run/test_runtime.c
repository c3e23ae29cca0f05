/* SPDX-License-Identifier: MIT */
/*
 * tests/unit/run/test_runtime.c: the runtime end to end over a real
 * store in a temporary directory and the real interpreter — synchronous
 * runs with arguments, ratelimit, a full queue answering ERR_BUSY and
 * recovering, webhooks (token, idempotency, bad JSON), the mail action
 * committing to the outbox, and queued runs surviving a restart.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "engine/run/runtime.h"
#include "engine/run/runtime_int.h"
#include "engine/store/store.h"

struct env {
    char               *dir;
    struct eng_store   *st;
    struct eng_runtime *rt;
};

static void
put_applet(struct env *e, const char *name, const char *text)
{
    struct errbuf eb = { 0 };

    if (eng_store_applet_put(e->st, name, text, NULL, &eb) != 0)
        fail_msg("applet %s: %s", name, eb.msg);
}

static void
rt_open_syslog(struct env *e, unsigned workers, unsigned queue,
    const char *syslog)
{
    struct eng_runtime_opts o = { 0 };
    struct errbuf           eb = { 0 };

    o.workers = workers;
    o.queue_size = queue;
    o.mail_senders = 1;
    o.syslog_listen = syslog;
    if (eng_runtime_new(e->st, NULL, &o, &e->rt, &eb) != 0
        || eng_runtime_start(e->rt, &eb) != 0)
        fail_msg("runtime: %s", eb.msg);
}

static void
rt_open(struct env *e, unsigned workers, unsigned queue)
{
    rt_open_syslog(e, workers, queue, "off");
}

/* Waits for the first run of applet (any trigger); returns it ended. */
static cJSON *
wait_first_run(struct env *e, const char *applet, double timeout_s)
{
    struct eng_run_filter f = { 0 };
    struct errbuf         eb = { 0 };
    cJSON                *page = NULL, *it;
    int                   i;

    f.applet = applet;
    for (i = 0; i < (int)(timeout_s * 100); i++) {
        assert_int_equal(eng_runtime_runs_list(e->rt, &f, &page, &eb), 0);
        it = cJSON_GetArrayItem(cJSON_GetObjectItem(page, "items"), 0);
        if (it != NULL && !cJSON_IsNull(cJSON_GetObjectItem(it, "ended"))) {
            long long id =
                (long long)cJSON_GetObjectItem(it, "id")->valuedouble;
            cJSON *r = NULL;

            cJSON_Delete(page);
            assert_int_equal(eng_runtime_run_get(e->rt, id, &r, &eb), 0);
            return r;
        }
        cJSON_Delete(page);
        usleep(10000);
    }
    return NULL;
}

static int
setup(void **state)
{
    struct env   *e = calloc(1, sizeof(*e));
    char          tmpl[] = "/tmp/herald-rt-XXXXXX";
    struct errbuf eb = { 0 };

    e->dir = strdup(mkdtemp(tmpl));
    if (eng_store_open(e->dir, &e->st, &eb) != 0) {
        print_error("store: %s\n", eb.msg);
        return -1;
    }
    *state = e;
    return 0;
}

static int
teardown(void **state)
{
    struct env *e = *state;
    char        cmd[256];

    eng_runtime_free(e->rt);
    eng_store_close(e->st);
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", e->dir);
    if (system(cmd) != 0)
        return -1;
    free(e->dir);
    free(e);
    return 0;
}

/* Waits until run id has ended; returns its Run object. */
static cJSON *
wait_run(struct env *e, long long id)
{
    struct errbuf eb = { 0 };
    cJSON        *r = NULL;
    int           i;

    for (i = 0; i < 500; i++) {
        assert_int_equal(eng_runtime_run_get(e->rt, id, &r, &eb), 0);
        if (!cJSON_IsNull(cJSON_GetObjectItem(r, "ended")))
            return r;
        cJSON_Delete(r);
        usleep(10000);
    }
    fail_msg("run %lld did not end", id);
    return NULL;
}

static void
sync_run_should_return_output_and_status(void **state)
{
    struct env         *e = *state;
    struct eng_run_info ri;
    struct errbuf       eb = { 0 };
    const char         *args[] = { "r1", "Gi0/1" };

    put_applet(e, "Echo",
        "event manager applet Echo\n"
        " event none\n"
        " action 1.0 puts \"$_none_argc $_none_arg1 "
        "$_none_arg2 $_event_type_string\"\n"
        " action 2.0 exit 3\n");
    rt_open(e, 2, 8);
    assert_int_equal(eng_runtime_run(e->rt, "Echo", args, 2, 1, &ri, &eb), 0);
    assert_true(ri.id > 0);
    assert_string_equal(ri.status, "success");
    assert_int_equal(ri.exit_status, 3);
    assert_non_null(strstr(ri.output, "2 r1 Gi0/1 none"));
    assert_non_null(ri.run);
    assert_string_equal(cJSON_GetObjectItem(ri.run, "trigger")->valuestring,
        "manual");
    assert_true(cJSON_IsArray(cJSON_GetObjectItem(ri.run, "trace")));
    eng_run_info_clear(&ri);

    assert_int_equal(eng_runtime_run(e->rt, "Nope", NULL, 0, 1, &ri, &eb),
        ERR_NOTFOUND);
    assert_non_null(strstr(eb.msg, "Nope"));
    {
        const char *many[16] = { "a", "a", "a", "a", "a", "a", "a", "a", "a",
            "a", "a", "a", "a", "a", "a", "a" };

        assert_int_equal(eng_runtime_run(e->rt, "Echo", many, 16, 1, &ri, &eb),
            ERR_INVAL);
        assert_non_null(strstr(eb.msg, "at most 15"));
    }
}

static void
ratelimit_should_drop_and_record_triggers_in_the_window(void **state)
{
    struct env           *e = *state;
    struct eng_run_info   ri;
    struct eng_run_filter f = { 0 };
    struct errbuf         eb = { 0 };
    cJSON                *page = NULL;

    put_applet(e, "Slow",
        "event manager applet Slow\n"
        " event none ratelimit 60\n"
        " action 1 puts \"ran\"\n");
    rt_open(e, 2, 8);
    assert_int_equal(eng_runtime_run(e->rt, "Slow", NULL, 0, 1, &ri, &eb), 0);
    assert_string_equal(ri.status, "success");
    eng_run_info_clear(&ri);
    assert_int_equal(eng_runtime_run(e->rt, "Slow", NULL, 0, 1, &ri, &eb), 0);
    assert_string_equal(ri.status, "ratelimited");
    assert_true(ri.id > 0);
    eng_run_info_clear(&ri);
    f.status = "ratelimited";
    assert_int_equal(eng_runtime_runs_list(e->rt, &f, &page, &eb), 0);
    assert_int_equal(cJSON_GetArraySize(cJSON_GetObjectItem(page, "items")), 1);
    cJSON_Delete(page);
}

static void
full_queue_should_answer_busy_then_recover(void **state)
{
    struct env              *e = *state;
    struct eng_run_info      ri;
    struct eng_runtime_stats s;
    struct errbuf            eb = { 0 };
    long long                first, second;
    cJSON                   *r;
    int                      i;

    put_applet(e, "Wait",
        "event manager applet Wait\n"
        " event none\n"
        " action 1 wait 1\n");
    rt_open(e, 1, 1);
    assert_int_equal(eng_runtime_run(e->rt, "Wait", NULL, 0, 0, &ri, &eb), 0);
    first = ri.id;
    eng_run_info_clear(&ri);
    for (i = 0; i < 200; i++) {
        eng_runtime_stats(e->rt, &s);
        if (s.running == 1)
            break;
        usleep(5000);
    }
    assert_int_equal(s.running, 1);
    assert_int_equal(eng_runtime_run(e->rt, "Wait", NULL, 0, 0, &ri, &eb), 0);
    second = ri.id;
    eng_run_info_clear(&ri);
    assert_int_equal(eng_runtime_run(e->rt, "Wait", NULL, 0, 0, &ri, &eb),
        ERR_BUSY);
    assert_non_null(strstr(eb.msg, "queue is full"));
    eng_runtime_stats(e->rt, &s);
    assert_int_equal(s.runs_rejected_busy, 1);
    r = wait_run(e, first);
    assert_string_equal(cJSON_GetObjectItem(r, "status")->valuestring,
        "success");
    cJSON_Delete(r);
    cJSON_Delete(wait_run(e, second));
    assert_int_equal(eng_runtime_run(e->rt, "Wait", NULL, 0, 0, &ri, &eb), 0);
    cJSON_Delete(wait_run(e, ri.id));
    eng_run_info_clear(&ri);
}

static void
webhook_should_authenticate_dedupe_and_expose_fields(void **state)
{
    struct env         *e = *state;
    struct eng_hook_req rq = { 0 };
    struct errbuf       eb = { 0 };
    char               *tok = NULL, *sk = NULL, auth[128];
    const char         *body = "{\"status\":\"firing\",\"commonLabels\":"
                               "{\"alertname\":\"LinkDown\"},\"alerts\":[],"
                               "\"receiver\":\"herald\"}";
    long long           id = 0, id2 = 0;
    int                 dup = 0;
    cJSON              *r;

    put_applet(e, "Hook",
        "event manager applet Hook\n"
        " event webhook ratelimit 1\n"
        " action 1 puts \"$_webhook_status "
        "$_webhook_alertname\"\n");
    put_applet(e, "NoHook",
        "event manager applet NoHook\n"
        " event none\n"
        " action 1 puts \"x\"\n");
    rt_open(e, 2, 8);
    rq.applet = "Hook";
    rq.body = body;
    rq.len = strlen(body);
    rq.content_type = "application/json";
    /* before a token exists nothing gets in */
    rq.authorization = "Bearer guess";
    assert_int_equal(eng_runtime_webhook(e->rt, &rq, &id, &dup, &eb), ERR_AUTH);
    assert_non_null(strstr(eb.msg, "no webhook credentials"));

    assert_int_equal(eng_runtime_webhook_token(e->rt, "Hook", &tok, &sk, &eb),
        0);
    free(sk);
    assert_true(strlen(tok) >= 32);
    snprintf(auth, sizeof(auth), "Bearer %s", tok);
    assert_int_equal(eng_runtime_webhook(e->rt, &rq, &id, &dup, &eb), ERR_AUTH);
    rq.authorization = auth;
    rq.idempotency_key = "evt-1";
    assert_int_equal(eng_runtime_webhook(e->rt, &rq, &id, &dup, &eb), 0);
    assert_false(dup);
    assert_int_equal(eng_runtime_webhook(e->rt, &rq, &id2, &dup, &eb), 0);
    assert_true(dup);
    assert_int_equal(id2, id);
    r = wait_run(e, id);
    assert_string_equal(cJSON_GetObjectItem(r, "trigger")->valuestring,
        "webhook");
    assert_non_null(strstr(cJSON_GetObjectItem(r, "output")->valuestring,
        "firing LinkDown"));
    cJSON_Delete(r);

    /* secrets inside a body are masked in the run's trigger data */
    rq.idempotency_key = NULL;
    rq.body = "{\"user\":\"u\",\"auth\":{\"password\":\"hunter22\"}}";
    rq.len = strlen(rq.body);
    usleep(1100000); /* past the 1 s ratelimit */
    assert_int_equal(eng_runtime_webhook(e->rt, &rq, &id, &dup, &eb), 0);
    r = wait_run(e, id);
    {
        char *txt =
            cJSON_PrintUnformatted(cJSON_GetObjectItem(r, "trigger_data"));

        assert_null(strstr(txt, "hunter22"));
        assert_non_null(strstr(txt, "_webhook_user"));
        free(txt);
    }
    cJSON_Delete(r);

    rq.body = "{\"a\": }";
    rq.len = strlen(rq.body);
    assert_int_equal(eng_runtime_webhook(e->rt, &rq, &id, &dup, &eb),
        ERR_INVAL);
    assert_int_equal(eb.col, 7);
    rq.applet = "Missing"; /* answered like a wrong token */
    assert_int_equal(eng_runtime_webhook(e->rt, &rq, &id, &dup, &eb), ERR_AUTH);
    assert_string_equal(eb.code, "denied");
    free(tok);
    assert_int_equal(eng_runtime_webhook_token(e->rt, "NoHook", &tok, &sk, &eb),
        0);
    free(sk);
    snprintf(auth, sizeof(auth), "Bearer %s", tok);
    rq.applet = "NoHook";
    rq.body = "{}";
    rq.len = 2;
    assert_int_equal(eng_runtime_webhook(e->rt, &rq, &id, &dup, &eb), ERR_AUTH);
    assert_string_equal(eb.code, "denied");
    assert_non_null(strstr(eb.msg, "event webhook"));
    free(tok);
}

static void
mail_action_should_commit_to_the_outbox_before_success(void **state)
{
    struct env         *e = *state;
    struct eng_run_info ri;
    struct errbuf       eb = { 0 };
    cJSON              *list = NULL, *msg;
    char               *txt;

    put_applet(e, "Mail",
        "event manager applet Mail\n"
        " event none\n"
        " action 1 mail server \"u:secretpw@127.0.0.1\" to "
        "\"noc@example.com\" from \"a@example.com\" "
        "subject \"s\" body \"b\" port 1 secure none\n");
    rt_open(e, 2, 8);
    assert_int_equal(eng_runtime_run(e->rt, "Mail", NULL, 0, 1, &ri, &eb), 0);
    assert_string_equal(ri.status, "success");
    txt = cJSON_PrintUnformatted(ri.run);
    assert_null(strstr(txt, "secretpw"));
    free(txt);
    eng_run_info_clear(&ri);
    assert_int_equal(eng_runtime_outbox_list(e->rt, NULL, &list, &eb), 0);
    msg = cJSON_GetArrayItem(cJSON_GetObjectItem(list, "items"), 0);
    assert_non_null(msg);
    assert_string_equal(cJSON_GetObjectItem(msg, "to")->valuestring,
        "noc@example.com");
    assert_string_equal(cJSON_GetObjectItem(msg, "server")->valuestring,
        "u:*****@127.0.0.1");
    txt = cJSON_PrintUnformatted(list);
    assert_null(strstr(txt, "secretpw"));
    free(txt);
    cJSON_Delete(list);
}

static void
queued_runs_should_survive_a_restart(void **state)
{
    struct env         *e = *state;
    struct eng_run_info ri;
    struct errbuf       eb = { 0 };
    long long           a, b;
    cJSON              *r;

    put_applet(e, "Wait",
        "event manager applet Wait\n"
        " event none\n"
        " action 1 wait 1\n"
        " action 2 puts \"done $_none_arg1 id=$_event_id\"\n");
    rt_open(e, 1, 4);
    assert_int_equal(eng_runtime_run(e->rt, "Wait", NULL, 0, 0, &ri, &eb), 0);
    a = ri.id;
    eng_run_info_clear(&ri);
    {
        const char *args[] = { "later" };

        assert_int_equal(eng_runtime_run(e->rt, "Wait", args, 1, 0, &ri, &eb),
            0);
    }
    b = ri.id;
    eng_run_info_clear(&ri);
    usleep(100000);
    /* drain with a short wait: a is cancelled or finishes, b stays queued */
    assert_true(eng_runtime_drain(e->rt, 0.1) >= 1);
    assert_int_equal(eng_runtime_run(e->rt, "Wait", NULL, 0, 0, &ri, &eb),
        ERR_BUSY);
    eng_runtime_free(e->rt);
    e->rt = NULL;
    r = NULL;
    rt_open(e, 1, 4);
    r = wait_run(e, b);
    assert_string_equal(cJSON_GetObjectItem(r, "status")->valuestring,
        "success");
    {
        char want[64];

        snprintf(want, sizeof(want), "done later id=%lld", b);
        assert_non_null(
            strstr(cJSON_GetObjectItem(r, "output")->valuestring, want));
    }
    cJSON_Delete(r);
    r = wait_run(e, a);
    assert_string_not_equal(cJSON_GetObjectItem(r, "status")->valuestring,
        "queued");
    cJSON_Delete(r);
}

static void
timers_should_fire_registered_and_changed_applets(void **state)
{
    struct env   *e = *state;
    struct errbuf eb = { 0 };
    cJSON        *r;

    put_applet(e, "Soon",
        "event manager applet Soon\n"
        " event timer countdown time 1\n"
        " action 1 puts \"$_timer_type $_event_type_string\"\n");
    rt_open(e, 2, 8);
    r = wait_first_run(e, "Soon", 5);
    assert_non_null(r);
    assert_string_equal(cJSON_GetObjectItem(r, "trigger")->valuestring,
        "timer");
    assert_non_null(strstr(cJSON_GetObjectItem(r, "output")->valuestring,
        "countdown timer countdown"));
    cJSON_Delete(r);
    /* an applet saved later is registered without being told (the
     * store's write wakes the runtime) */
    put_applet(e, "Dog",
        "event manager applet Dog\n"
        " event timer watchdog time 1\n"
        " action 1 puts \"$_timer_type\"\n");
    r = wait_first_run(e, "Dog", 3);
    assert_non_null(r);
    assert_non_null(
        strstr(cJSON_GetObjectItem(r, "output")->valuestring, "watchdog"));
    cJSON_Delete(r);
    /* and an explicit call works too */
    put_applet(e, "Dog2",
        "event manager applet Dog2\n"
        " event timer countdown time 1\n"
        " action 1 puts \"$_timer_type\"\n");
    assert_int_equal(eng_runtime_applets_changed(e->rt, &eb), 0);
    r = wait_first_run(e, "Dog2", 5);
    assert_non_null(r);
    assert_non_null(
        strstr(cJSON_GetObjectItem(r, "output")->valuestring, "countdown"));
    cJSON_Delete(r);
}

static void
syslog_pattern_should_fire_after_occurs_matches(void **state)
{
    struct env              *e = *state;
    struct eng_runtime_stats s;
    struct sockaddr_in       sa = { 0 };
    const char              *m1 = "<187>%LINK-3-UPDOWN: Gi0/1 down";
    cJSON                   *r;
    int                      fd;

    put_applet(e, "Link",
        "event manager applet Link\n"
        " event syslog pattern \"LINK-3-UPDOWN\" occurs 2 "
        "period 60\n"
        " action 1 puts \"got $_syslog_msg\"\n");
    rt_open_syslog(e, 2, 8, "127.0.0.1:0");
    eng_runtime_stats(e->rt, &s);
    assert_true(s.syslog_port > 0);
    sa.sin_family = AF_INET;
    sa.sin_port = htons((uint16_t)s.syslog_port);
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    fd = socket(AF_INET, SOCK_DGRAM, 0);
    assert_true(
        sendto(fd, m1, strlen(m1), 0, (struct sockaddr *)&sa, sizeof(sa)) > 0);
    assert_true(
        sendto(fd, "not syslog", 10, 0, (struct sockaddr *)&sa, sizeof(sa))
        > 0);
    /* one match is not enough */
    assert_null(wait_first_run(e, "Link", 0.3));
    assert_true(
        sendto(fd, m1, strlen(m1), 0, (struct sockaddr *)&sa, sizeof(sa)) > 0);
    close(fd);
    r = wait_first_run(e, "Link", 5);
    assert_non_null(r);
    assert_string_equal(cJSON_GetObjectItem(r, "trigger")->valuestring,
        "syslog");
    assert_non_null(strstr(cJSON_GetObjectItem(r, "output")->valuestring,
        "got %LINK-3-UPDOWN: Gi0/1 down"));
    cJSON_Delete(r);
    eng_runtime_stats(e->rt, &s);
    assert_int_equal(s.syslog_received, 2);
    assert_int_equal(s.syslog_rejected, 1);
}

static void
policy_should_start_another_applet_with_args(void **state)
{
    struct env         *e = *state;
    struct eng_run_info ri;
    struct errbuf       eb = { 0 };
    cJSON              *r;

    put_applet(e, "Caller",
        "event manager applet Caller\n"
        " event none\n"
        " action 1 policy Callee \"a1 a2\"\n");
    put_applet(e, "Callee",
        "event manager applet Callee\n"
        " event none\n"
        " action 1 puts \"$_none_argc $_none_arg2\"\n");
    rt_open(e, 2, 8);
    assert_int_equal(eng_runtime_run(e->rt, "Caller", NULL, 0, 1, &ri, &eb), 0);
    assert_string_equal(ri.status, "success");
    eng_run_info_clear(&ri);
    r = wait_first_run(e, "Callee", 5);
    assert_non_null(r);
    assert_string_equal(cJSON_GetObjectItem(r, "trigger")->valuestring,
        "policy");
    assert_non_null(
        strstr(cJSON_GetObjectItem(r, "output")->valuestring, "2 a2"));
    cJSON_Delete(r);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(
            sync_run_should_return_output_and_status, setup, teardown),
        cmocka_unit_test_setup_teardown(
            ratelimit_should_drop_and_record_triggers_in_the_window, setup,
            teardown),
        cmocka_unit_test_setup_teardown(
            full_queue_should_answer_busy_then_recover, setup, teardown),
        cmocka_unit_test_setup_teardown(
            webhook_should_authenticate_dedupe_and_expose_fields, setup,
            teardown),
        cmocka_unit_test_setup_teardown(
            mail_action_should_commit_to_the_outbox_before_success, setup,
            teardown),
        cmocka_unit_test_setup_teardown(queued_runs_should_survive_a_restart,
            setup, teardown),
        cmocka_unit_test_setup_teardown(
            timers_should_fire_registered_and_changed_applets, setup, teardown),
        cmocka_unit_test_setup_teardown(
            syslog_pattern_should_fire_after_occurs_matches, setup, teardown),
        cmocka_unit_test_setup_teardown(
            policy_should_start_another_applet_with_args, setup, teardown),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
