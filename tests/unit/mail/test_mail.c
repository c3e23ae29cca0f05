/* SPDX-License-Identifier: MIT */
/*
 * tests/unit/mail/test_mail.c: the mail action end to end (eng_mail_send)
 * against a small permissive SMTP server on loopback, and the trust cache
 * (eng_trustcache) over a real store: input errors name their field, the
 * server string is split at its last '@' (CSCwe75439) and separate fields
 * override it, failures log the IOS line with the password masked plus the
 * advice, the password reaches neither log nor trace, and the trust is
 * rebuilt when trustpoints change.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <cjson/cJSON.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "common/log.h"
#include "engine/mail/mail.h"
#include "engine/store/store.h"
#include "pki/pki.h"

/* ---- a permissive SMTP server ------------------------------------------ */

struct mini {
    int      lfd;
    unsigned port;
    char     mail_reply[128]; /* reply to MAIL FROM */
    char     auth_line[1024]; /* the AUTH line received */
    char     mail_from[1024];
    char     rcpts[512];
    char     data[8192];
    int      pipelining;  /* offer PIPELINING (it answers in order anyway) */
    unsigned queued;      /* messages taken */
    unsigned close_after; /* 0, or the message whose content it reads and
                           * then ends the session without a reply */
};

static int
mini_line(int fd, char *buf, size_t *len, char *out, size_t sz)
{
    for (;;) {
        char         *nl = memchr(buf, '\n', *len);
        struct pollfd pfd = { fd, POLLIN, 0 };
        ssize_t       r;

        if (nl != NULL) {
            size_t n = (size_t)(nl - buf);

            if (n > 0 && buf[n - 1] == '\r')
                n--;
            snprintf(out, sz, "%.*s", (int)n, buf);
            *len -= (size_t)(nl + 1 - buf);
            memmove(buf, nl + 1, *len);
            return 1;
        }
        if (poll(&pfd, 1, 5000) <= 0)
            return 0;
        r = read(fd, buf + *len, 8192 - *len);
        if (r <= 0)
            return 0;
        *len += (size_t)r;
    }
}

static void
say(int fd, const char *s)
{
    if (write(fd, s, strlen(s)) < 0)
        perror("write");
}

static void *
mini_run(void *arg)
{
    struct mini *m = arg;
    char         buf[8192], line[1024];
    size_t       len = 0;
    int          fd = accept(m->lfd, NULL, NULL), in_data = 0;

    if (fd < 0)
        return NULL;
    say(fd, "220 mini ESMTP\r\n");
    while (mini_line(fd, buf, &len, line, sizeof(line))) {
        if (in_data) {
            if (strcmp(line, ".") == 0) {
                char ok[64];

                in_data = 0;
                if (m->queued + 1 == m->close_after) {
                    /* what the client sent with the content is read and
                     * never answered */
                    shutdown(fd, SHUT_WR);
                    while (mini_line(fd, buf, &len, line, sizeof(line)))
                        ;
                    break;
                }
                snprintf(ok, sizeof(ok), "250 2.0.0 queued as %u\r\n",
                    ++m->queued);
                say(fd, ok);
            } else {
                size_t dl = strlen(m->data);

                snprintf(m->data + dl, sizeof(m->data) - dl, "%.1000s\n", line);
            }
        } else if (strncmp(line, "EHLO", 4) == 0)
            say(fd,
                m->pipelining ? "250-mini\r\n250-AUTH PLAIN LOGIN\r\n"
                                "250-PIPELINING\r\n250 8BITMIME\r\n"
                              : "250-mini\r\n250-AUTH PLAIN LOGIN\r\n"
                                "250 8BITMIME\r\n");
        else if (strncmp(line, "AUTH", 4) == 0) {
            snprintf(m->auth_line, sizeof(m->auth_line), "%s", line);
            say(fd, "235 2.7.0 ok\r\n");
        } else if (strncmp(line, "MAIL", 4) == 0) {
            snprintf(m->mail_from, sizeof(m->mail_from), "%s", line);
            say(fd, m->mail_reply[0] ? m->mail_reply : "250 ok\r\n");
        } else if (strncmp(line, "RCPT", 4) == 0) {
            size_t rl = strlen(m->rcpts);

            snprintf(m->rcpts + rl, sizeof(m->rcpts) - rl, "%.200s ", line + 8);
            say(fd, "250 ok\r\n");
        } else if (strcmp(line, "DATA") == 0) {
            in_data = 1;
            say(fd, "354 go\r\n");
        } else if (strcmp(line, "RSET") == 0)
            say(fd, "250 ok\r\n");
        else if (strcmp(line, "QUIT") == 0) {
            say(fd, "221 bye\r\n");
            break;
        } else
            say(fd, "500 what\r\n");
    }
    close(fd);
    return NULL;
}

static void
mini_start(struct mini *m, pthread_t *th)
{
    struct sockaddr_in sa;
    socklen_t          sl = sizeof(sa);

    m->lfd = socket(AF_INET, SOCK_STREAM, 0);
    memset(&sa, 0, sizeof(sa));
    sa.sin_family = AF_INET;
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    assert_int_equal(bind(m->lfd, (struct sockaddr *)&sa, sizeof(sa)), 0);
    assert_int_equal(listen(m->lfd, 1), 0);
    getsockname(m->lfd, (struct sockaddr *)&sa, &sl);
    m->port = ntohs(sa.sin_port);
    assert_int_equal(pthread_create(th, NULL, mini_run, m), 0);
}

static void
mini_stop(struct mini *m, pthread_t th)
{
    /* wake the thread if the client never came */
    int                fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in sa;

    memset(&sa, 0, sizeof(sa));
    sa.sin_family = AF_INET;
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    sa.sin_port = htons((uint16_t)m->port);
    if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0)
        shutdown(fd, SHUT_RDWR);
    pthread_join(th, NULL);
    close(fd);
    close(m->lfd);
}

/* Captures the log into a temp file; returns its contents at the end. */
static int  cap_fd = -1;
static char cap_path[64];

static void
cap_start(void)
{
    snprintf(cap_path, sizeof(cap_path), "/tmp/herald-mail-log-XXXXXX");
    cap_fd = mkstemp(cap_path);
    assert_true(cap_fd >= 0);
    log_set_fd(cap_fd);
    log_set_level(LOG_DEBUG);
}

static char *
cap_end(void)
{
    FILE *f;
    char *s;
    long  n;

    log_set_fd(2);
    log_set_level(LOG_ERR);
    f = fdopen(cap_fd, "rb");
    fseek(f, 0, SEEK_END);
    n = ftell(f);
    fseek(f, 0, SEEK_SET);
    s = calloc(1, (size_t)n + 1);
    if (fread(s, 1, (size_t)n, f) != (size_t)n)
        fail_msg("cannot read the log");
    fclose(f);
    unlink(cap_path);
    return s;
}

/* ---- tests ------------------------------------------------------------- */

static void
bad_input_should_name_the_field(void **state)
{
    static const struct {
        struct eng_mail_req req;
        const char         *field;
    } cases[] = {
        { { .server = "mx.example",
              .to = "noc.example.com",
              .from = "a@example.com",
              .subject = "s",
              .body = "b" },
            "to" },
        { { .server = "mx.example",
              .to = "noc@example.com",
              .from = "a@example.com",
              .subject = "s\r\nBcc: x@example.net",
              .body = "b" },
            "subject" },
        { { .server = "mx.example",
              .to = "noc@example.com",
              .from = "a@example.com",
              .cc = "bad",
              .subject = "s",
              .body = "b" },
            "cc" },
        { { .server = "mx.example",
              .to = "noc@example.com",
              .from = "a@example.com",
              .secure = "ssl",
              .subject = "s",
              .body = "b" },
            "secure" },
        { { .server = "u:p@mx.example:99999",
              .to = "noc@example.com",
              .from = "a@example.com",
              .subject = "s",
              .body = "b" },
            "server" },
        { { .to = "noc@example.com",
              .from = "a@example.com",
              .subject = "s",
              .body = "b" },
            "server" },
        { { .server = "mx.example",
              .to = "noc@example.com",
              .subject = "s",
              .body = "b" },
            "from" },
    };

    (void)state;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct smtp_result res;
        struct errbuf      eb;

        assert_int_equal(eng_mail_send(NULL, &cases[i].req, NULL, &res, &eb),
            ERR_INVAL);
        assert_string_equal(res.klass, "invalid_request");
        if (strcmp(eb.field, cases[i].field) != 0)
            fail_msg("case %zu: field \"%s\" (%s), expected \"%s\"", i,
                eb.field, eb.msg, cases[i].field);
        assert_true(eb.msg[0] != '\0');
    }
}

static void
relay_account_with_at_sign_should_log_in_and_deliver(void **state)
{
    struct mini         m = { 0 };
    pthread_t           th;
    char                server[128];
    struct eng_mail_req req = { 0 };
    struct smtp_result  res;
    struct errbuf       eb;
    cJSON              *trace = cJSON_CreateObject();
    char               *log, *js;
    int                 rc;

    (void)state;
    mini_start(&m, &th);
    /* CSCwe75439: '@' in the user name and in the password */
    snprintf(server, sizeof(server),
        "relay@corp.example:p@ss-W0rd@"
        "127.0.0.1:%u",
        m.port);
    req.server = server;
    req.secure = "none";
    req.allow_plain_auth = 1;
    req.from = "relay@corp.example";
    req.to = "noc@example.com; ops@example.com";
    req.cc = "lead@example.org";
    req.subject = "Störung";
    req.body = "line one\nline two";
    cap_start();
    rc = eng_mail_send(NULL, &req, trace, &res, &eb);
    log = cap_end();
    mini_stop(&m, th);
    if (rc != 0)
        fail_msg("send failed: %s: %s", res.klass, res.message);
    /* AUTH PLAIN of "\0relay@corp.example\0p@ss-W0rd" */
    assert_string_equal(m.auth_line,
        "AUTH PLAIN AHJlbGF5QGNvcnAuZXhhbXBsZQBwQHNzLVcwcmQ=");
    assert_non_null(strstr(m.mail_from, "MAIL FROM:<relay@corp.example>"));
    assert_string_equal(m.rcpts,
        "<noc@example.com> <ops@example.com> <lead@example.org> ");
    assert_non_null(strstr(m.data, "Subject: =?UTF-8?B?U3TDtnJ1bmc=?="));
    assert_non_null(strstr(m.data, "\nline one\nline two\n"));
    js = cJSON_PrintUnformatted(trace);
    assert_non_null(strstr(js, "relay@corp.example:*****@127.0.0.1"));
    assert_null(strstr(js, "p@ss-W0rd"));
    assert_null(strstr(log, "p@ss-W0rd"));
    assert_null(strstr(log, "AHJlbGF5QGNvcnAuZXhhbXBsZQBwQHNzLVcwcmQ="));
    assert_non_null(strstr(log, "event=sent"));
    free(js);
    free(log);
    cJSON_Delete(trace);
}

/* A batch over one session: each request its own result and trace; one
 * that cannot be built is refused alone and never reaches the server; the
 * password is in no trace. */
static void
batch_should_give_each_request_its_own_result_and_trace(void **state)
{
    struct mini                m = { 0 };
    pthread_t                  th;
    char                       server[128];
    struct eng_mail_req        req[3];
    const struct eng_mail_req *reqs[3] = { &req[0], &req[1], &req[2] };
    cJSON             *traces[3] = { cJSON_CreateObject(), cJSON_CreateObject(),
                    cJSON_CreateObject() };
    struct smtp_result res[3], ores;
    struct errbuf      eb;
    struct eng_mail_sess *s = NULL;
    char                 *js[3];

    (void)state;
    m.pipelining = 1;
    mini_start(&m, &th);
    snprintf(server, sizeof(server), "relay:s3cret-pw@127.0.0.1:%u", m.port);
    memset(req, 0, sizeof(req));
    for (size_t i = 0; i < 3; i++) {
        req[i].server = server;
        req[i].secure = "none";
        req[i].allow_plain_auth = 1;
        req[i].from = "relay@corp.example";
        req[i].body = "body";
    }
    req[0].to = "noc@example.com";
    req[0].subject = "first";
    req[1].to = "lead@example.com";
    req[1].subject = "second\r\nBcc: x@example.net";
    req[2].to = "ops@example.com";
    req[2].subject = "third";
    assert_int_equal(eng_mail_open(NULL, &req[0], &s, NULL, &ores, &eb), 0);
    assert_int_equal(eng_mail_deliver_batch(s, reqs, 3, traces, res), 3);
    eng_mail_close(s);
    mini_stop(&m, th);
    if (res[0].rc != 0 || res[2].rc != 0)
        fail_msg("batch: %s: %s / %s: %s", res[0].klass, res[0].message,
            res[2].klass, res[2].message);
    assert_int_equal(res[1].rc, ERR_INVAL);
    assert_string_equal(res[1].klass, "invalid_request");
    assert_int_equal(m.queued, 2);
    assert_string_equal(m.rcpts, "<noc@example.com> <ops@example.com> ");
    for (size_t i = 0; i < 3; i++) {
        js[i] = cJSON_PrintUnformatted(traces[i]);
        assert_null(strstr(js[i], "s3cret-pw"));
    }
    assert_non_null(strstr(js[0], "RCPT TO:<noc@example.com>"));
    assert_non_null(strstr(js[0], "250 2.0.0 queued as 1"));
    assert_null(strstr(js[0], "ops@example.com"));
    assert_null(strstr(js[1], "dialogue"));
    assert_non_null(strstr(js[2], "RCPT TO:<ops@example.com>"));
    assert_non_null(strstr(js[2], "250 2.0.0 queued as 2"));
    assert_null(strstr(js[2], "noc@example.com"));
    for (size_t i = 0; i < 3; i++) {
        free(js[i]);
        cJSON_Delete(traces[i]);
    }
}

/* A batch of five whose session ends on the content of the second (the
 * server reads it and closes without a reply): the first is sent, the
 * second gets the transport failure, the third, which cannot be built, is
 * refused alone (permanent), and all three were dealt with. The fourth,
 * whose envelope went out with the second's content, was not sent; the
 * count returned ends there, so it goes over a new session, and so does
 * the fifth, which cannot be built either (its result says so). */
static void
batch_broken_session_should_deal_with_requests_before_the_break(void **state)
{
    struct mini                m = { 0 };
    pthread_t                  th;
    char                       server[128];
    struct eng_mail_req        req[5];
    const struct eng_mail_req *reqs[5] = { &req[0], &req[1], &req[2], &req[3],
        &req[4] };
    struct smtp_result         res[5], ores;
    struct errbuf              eb;
    struct eng_mail_sess      *s = NULL;

    (void)state;
    m.pipelining = 1;
    m.close_after = 2;
    mini_start(&m, &th);
    snprintf(server, sizeof(server), "127.0.0.1:%u", m.port);
    memset(req, 0, sizeof(req));
    for (size_t i = 0; i < 5; i++) {
        req[i].server = server;
        req[i].secure = "none";
        req[i].from = "relay@corp.example";
        req[i].to = "noc@example.com";
        req[i].subject = "alert";
        req[i].body = "body";
    }
    req[2].to = "not an address";
    req[4].subject = "fifth\r\nBcc: x@example.net";
    assert_int_equal(eng_mail_open(NULL, &req[0], &s, NULL, &ores, &eb), 0);
    assert_int_equal(eng_mail_deliver_batch(s, reqs, 5, NULL, res), 3);
    assert_int_equal(eng_mail_usable(s), 0);
    eng_mail_close(s);
    mini_stop(&m, th);
    if (res[0].rc != 0)
        fail_msg("first: %s: %s", res[0].klass, res[0].message);
    assert_int_equal(m.queued, 1);
    assert_string_equal(res[1].klass, "connect");
    assert_non_null(strstr(res[1].message, "closed the connection"));
    assert_int_equal(res[2].rc, ERR_INVAL);
    assert_string_equal(res[2].klass, "invalid_request");
    assert_int_equal(res[2].permanent, 1);
    assert_string_equal(res[3].klass, "connect");
    assert_int_equal(res[3].permanent, 0);
    assert_non_null(strstr(res[3].message, "not sent"));
    assert_int_equal(res[4].rc, ERR_INVAL);
    assert_string_equal(res[4].klass, "invalid_request");
}

static void
separate_fields_should_override_the_server_string(void **state)
{
    struct mini         m = { 0 };
    pthread_t           th;
    struct eng_mail_req req = { 0 };
    struct smtp_result  res;
    struct errbuf       eb;

    (void)state;
    mini_start(&m, &th);
    req.server = "old:old-pass@unused.invalid:2525";
    req.host = "127.0.0.1";
    req.port = m.port;
    req.username = "alerts@example.com";
    req.password = "n3w";
    req.allow_plain_auth = 1;
    req.from = "alerts@example.com";
    req.to = "noc@example.com";
    req.subject = "s";
    req.body = "b";
    assert_int_equal(eng_mail_send(NULL, &req, NULL, &res, &eb), 0);
    mini_stop(&m, th);
    /* "\0alerts@example.com\0n3w" */
    assert_string_equal(m.auth_line,
        "AUTH PLAIN AGFsZXJ0c0BleGFtcGxlLmNvbQBuM3c=");
}

static void
refused_sender_should_log_the_ios_line_masked_and_the_advice(void **state)
{
    struct mini         m = { 0 };
    pthread_t           th;
    char                server[128];
    struct eng_mail_req req = { 0 };
    struct smtp_result  res;
    struct errbuf       eb;
    char               *log;

    (void)state;
    snprintf(m.mail_reply, sizeof(m.mail_reply),
        "553 5.7.1 Sender address "
        "rejected: not owned by user alerts@example.com\r\n");
    mini_start(&m, &th);
    snprintf(server, sizeof(server),
        "alerts@example.com:Hunter2-Pw@"
        "127.0.0.1:%u",
        m.port);
    req.server = server;
    req.allow_plain_auth = 1;
    req.from = "ceo@example.com";
    req.to = "noc@example.com";
    req.subject = "s";
    req.body = "b";
    cap_start();
    assert_int_equal(eng_mail_send(NULL, &req, NULL, &res, &eb), ERR_REJECTED);
    log = cap_end();
    mini_stop(&m, th);
    assert_string_equal(res.klass, "sender_rejected");
    assert_int_equal(res.permanent, 1);
    assert_non_null(strstr(log,
        "%HA_EM-3-FMPD_SMTP: Error occurred when "
        "sending mail to SMTP server: alerts@example.com:*****@127.0.0.1:"));
    assert_non_null(strstr(log,
        "must match the account you log in with "
        "(alerts@example.com)"));
    assert_null(strstr(log, "Hunter2-Pw"));
    free(log);
}

static void
unreachable_server_should_be_a_temporary_connect_failure(void **state)
{
    struct eng_mail_req req = { 0 };
    struct smtp_result  res;
    struct errbuf       eb;
    char                server[64];
    int                 fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in  sa;
    socklen_t           sl = sizeof(sa);
    char               *log;

    (void)state;
    /* a port that was just free: nothing listens there */
    memset(&sa, 0, sizeof(sa));
    sa.sin_family = AF_INET;
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    assert_int_equal(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
    getsockname(fd, (struct sockaddr *)&sa, &sl);
    close(fd);
    snprintf(server, sizeof(server), "127.0.0.1:%u", ntohs(sa.sin_port));
    req.server = server;
    req.from = "a@example.com";
    req.to = "b@example.com";
    req.subject = "s";
    req.body = "b";
    cap_start();
    assert_int_equal(eng_mail_send(NULL, &req, NULL, &res, &eb), ERR_CONNECT);
    log = cap_end();
    assert_string_equal(res.klass, "connect");
    assert_int_equal(res.permanent, 0);
    assert_non_null(strstr(log, ": error in connecting to SMTP server"));
    free(log);
}

static void
unanswered_connect_should_time_out(void **state)
{
    struct sockaddr_in  sa;
    socklen_t           sl = sizeof(sa);
    int                 lfd = socket(AF_INET, SOCK_STREAM, 0), fill[4];
    struct smtp_params  p = { 0 };
    struct smtp_client *c = NULL;
    struct smtp_result  res;
    int                 rc;

    (void)state;
    /* a listener whose accept queue is full: further SYNs are dropped */
    memset(&sa, 0, sizeof(sa));
    sa.sin_family = AF_INET;
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    assert_int_equal(bind(lfd, (struct sockaddr *)&sa, sizeof(sa)), 0);
    assert_int_equal(listen(lfd, 0), 0);
    getsockname(lfd, (struct sockaddr *)&sa, &sl);
    for (int i = 0; i < 4; i++) {
        fill[i] = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
        (void)!connect(fill[i], (struct sockaddr *)&sa, sizeof(sa));
    }
    p.host = "127.0.0.1";
    p.port = ntohs(sa.sin_port);
    p.connect_timeout_ms = 300;
    p.reply_timeout_ms = 300;
    rc = smtp_open(&p, &c, NULL, &res);
    assert_null(c);
    assert_int_equal(rc, ERR_TIMEOUT);
    assert_string_equal(res.klass, "timeout");
    assert_int_equal(res.permanent, 0);
    if (strstr(res.message, "connecting") == NULL)
        fail_msg("not a connect timeout: %s", res.message);
    for (int i = 0; i < 4; i++)
        close(fill[i]);
    close(lfd);
}

static void
trust_cache_should_rebuild_when_trustpoints_change(void **state)
{
    char                   dir[] = "/tmp/herald-mail-store-XXXXXX", cmd[300];
    struct eng_store      *st = NULL;
    struct eng_trustcache *tc = NULL;
    struct errbuf          eb = { 0 };
    struct pki_trust      *t1, *t2, *t3;
    struct eng_tp_rec      rec = { 0 };
    unsigned char          der[8192];
    size_t                 dlen;
    FILE                  *f;

    (void)state;
    assert_non_null(mkdtemp(dir));
    snprintf(cmd, sizeof(cmd), "sh %s/lib/mkpki.sh %s/pki", TEST_SRC_DIR, dir);
    assert_int_equal(system(cmd), 0);
    snprintf(cmd, sizeof(cmd), "%s/pki/root-a.der", dir);
    f = fopen(cmd, "rb");
    assert_non_null(f);
    dlen = fread(der, 1, sizeof(der), f);
    fclose(f);
    snprintf(cmd, sizeof(cmd), "%s/db", dir);
    if (eng_store_open(cmd, &st, &eb) != 0)
        fail_msg("store: %s", eb.msg);
    assert_int_equal(eng_trustcache_new(st, &tc, &eb), 0);
    t1 = eng_trustcache_get(tc, &eb);
    assert_non_null(t1);
    t2 = eng_trustcache_get(tc, &eb);
    assert_ptr_equal(t1, t2); /* unchanged: the same trust */
    rec.name = "ROOT-A";
    rec.revocation_check = "none";
    rec.chain_validation = "continue";
    rec.enrollment = "terminal";
    assert_int_equal(eng_store_tp_put(st, &rec, NULL, &eb), 0);
    assert_int_equal(eng_store_tp_set_cert(st, "ROOT-A", der, dlen, &eb), 0);
    t3 = eng_trustcache_get(tc, &eb);
    assert_non_null(t3);
    assert_ptr_not_equal(t3, t1); /* rebuilt: cached sessions dropped */
    pki_trust_unref(t1);
    pki_trust_unref(t2);
    pki_trust_unref(t3);
    /* revocation-check crl cannot be honoured: no trust, and a reason */
    rec.revocation_check = "crl";
    assert_int_equal(eng_store_tp_put(st, &rec, NULL, &eb), 0);
    memset(&eb, 0, sizeof(eb));
    assert_null(eng_trustcache_get(tc, &eb));
    assert_true(eb.msg[0] != '\0');
    eng_trustcache_free(tc);
    eng_store_close(st);
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
    assert_int_equal(system(cmd), 0);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(bad_input_should_name_the_field),
        cmocka_unit_test(relay_account_with_at_sign_should_log_in_and_deliver),
        cmocka_unit_test(separate_fields_should_override_the_server_string),
        cmocka_unit_test(
            batch_should_give_each_request_its_own_result_and_trace),
        cmocka_unit_test(
            batch_broken_session_should_deal_with_requests_before_the_break),
        cmocka_unit_test(
            refused_sender_should_log_the_ios_line_masked_and_the_advice),
        cmocka_unit_test(
            unreachable_server_should_be_a_temporary_connect_failure),
        cmocka_unit_test(unanswered_connect_should_time_out),
        cmocka_unit_test(trust_cache_should_rebuild_when_trustpoints_change),
    };

    log_set_level(LOG_ERR);
    pki_init();
    return cmocka_run_group_tests(tests, NULL, NULL);
}
