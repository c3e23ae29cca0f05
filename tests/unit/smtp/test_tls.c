/* SPDX-License-Identifier: MIT */
/*
 * tests/unit/smtp/test_tls.c: the SMTP client's TLS paths against a fake
 * server on loopback that speaks real TLS (wolfSSL server side) with the
 * test PKI of tests/lib/mkpki.sh: STARTTLS and implicit TLS with a chain
 * anchored at a trustpoint, EHLO again after STARTTLS, untrusted chain,
 * host name mismatch, expired leaf, verification turned off (traced as OFF),
 * and STARTTLS response injection (bytes sent with the 220 are discarded).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <wolfssl/options.h>
#include <wolfssl/ssl.h>

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
#include "common/sec.h"
#include "engine/smtp/smtp.h"
#include "pki/pki.h"

static char pkidir[128];

struct tls_fake {
    int         lfd;
    unsigned    port;
    const char *chain; /* file in pkidir */
    const char *key;
    int         implicit;
    int         inject; /* send bytes right after "220 go ahead" */
    int         expect_auth;
    /* results */
    int  tls_up;
    int  ehlo_after_tls;
    int  auth_seen;
    int  quit_seen;
    char err[1200];
};

static int
setup(void **state)
{
    char cmd[300];

    (void)state;
    snprintf(pkidir, sizeof(pkidir), "/tmp/herald-smtp-tls.XXXXXX");
    if (mkdtemp(pkidir) == NULL)
        return -1;
    snprintf(cmd, sizeof(cmd), "sh %s/lib/mkpki.sh %s", TEST_SRC_DIR, pkidir);
    if (system(cmd) != 0) {
        fprintf(stderr, "tests/lib/mkpki.sh failed: no test PKI\n");
        return -1;
    }
    return pki_init() == 0 ? 0 : -1;
}

static int
teardown(void **state)
{
    char cmd[300];

    (void)state;
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", pkidir);
    if (system(cmd) != 0)
        fprintf(stderr, "cannot remove %s\n", pkidir);
    pki_cleanup();
    return 0;
}

static char *
path(const char *name)
{
    static char p[2][300];
    static int  i;

    i ^= 1;
    snprintf(p[i], sizeof(p[i]), "%s/%s", pkidir, name);
    return p[i];
}

/* A trust with one trustpoint holding file's certificate (or none). */
static struct pki_trust *
trust_of(const char *file, int chain_validation)
{
    struct pki_trustpoint tp = { "TEST-TP", chain_validation, PKI_REV_NONE,
        NULL };
    struct pki_cert      *cert = NULL;
    struct pki_trust     *t = NULL;
    struct errbuf         eb = { 0 };

    if (file != NULL) {
        FILE  *f = fopen(path(file), "rb");
        char   buf[16384];
        size_t n;

        assert_non_null(f);
        n = fread(buf, 1, sizeof(buf), f);
        fclose(f);
        if (pki_cert_parse(buf, n, &cert, &eb) != 0)
            fail_msg("cannot parse %s: %s", file, eb.msg);
        tp.cert = cert;
    }
    if (pki_trust_new(&tp, file ? 1 : 0, 0, &t, &eb) != 0)
        fail_msg("pki_trust_new: %s", eb.msg);
    pki_cert_free(cert);
    return t;
}

/* ---- the fake server --------------------------------------------------- */

struct io {
    int      fd;
    WOLFSSL *ssl;
    char     buf[4096];
    size_t   len;
};

static int
io_line(struct io *io, char *out, size_t sz)
{
    for (;;) {
        char *nl = memchr(io->buf, '\n', io->len);
        int   r;

        if (nl != NULL) {
            size_t n = (size_t)(nl - io->buf);

            if (n > 0 && io->buf[n - 1] == '\r')
                n--;
            snprintf(out, sz, "%.*s", (int)n, io->buf);
            io->len -= (size_t)(nl + 1 - io->buf);
            memmove(io->buf, nl + 1, io->len);
            return 1;
        }
        if (io->ssl != NULL)
            r = wolfSSL_read(io->ssl, io->buf + io->len,
                (int)(sizeof(io->buf) - io->len));
        else {
            struct pollfd pfd = { io->fd, POLLIN, 0 };

            if (poll(&pfd, 1, 5000) <= 0)
                return 0;
            r = (int)read(io->fd, io->buf + io->len, sizeof(io->buf) - io->len);
        }
        if (r <= 0)
            return 0;
        io->len += (size_t)r;
    }
}

static void
io_send(struct io *io, const char *s)
{
    if (io->ssl != NULL)
        wolfSSL_write(io->ssl, s, (int)strlen(s));
    else if (write(io->fd, s, strlen(s)) < 0)
        perror("write");
}

static void *
tls_fake_run(void *arg)
{
    struct tls_fake *fk = arg;
    struct io        io = { -1, NULL, { 0 }, 0 };
    WOLFSSL_CTX     *ctx = NULL;
    char             line[1024];
    struct timeval   tv = { 5, 0 };

    io.fd = accept(fk->lfd, NULL, NULL);
    if (io.fd < 0) {
        snprintf(fk->err, sizeof(fk->err), "accept failed");
        return NULL;
    }
    setsockopt(io.fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    if (!fk->implicit) {
        io_send(&io, "220 fake ESMTP\r\n");
        if (!io_line(&io, line, sizeof(line))
            || strncmp(line, "EHLO ", 5) != 0) {
            snprintf(fk->err, sizeof(fk->err), "expected EHLO, got %s", line);
            goto out;
        }
        io_send(&io, "250-fake\r\n250-STARTTLS\r\n250 SIZE 100000\r\n");
        if (!io_line(&io, line, sizeof(line))
            || strcmp(line, "STARTTLS") != 0) {
            snprintf(fk->err, sizeof(fk->err), "expected STARTTLS, got %s",
                line);
            goto out;
        }
        io_send(&io,
            fk->inject ? "220 go ahead\r\n250-injected\r\n"
                         "250 AUTH PLAIN\r\n"
                       : "220 go ahead\r\n");
    }
    ctx = wolfSSL_CTX_new(wolfTLS_server_method());
    if (ctx == NULL
        || wolfSSL_CTX_use_certificate_chain_file(ctx, path(fk->chain))
            != WOLFSSL_SUCCESS
        || wolfSSL_CTX_use_PrivateKey_file(ctx, path(fk->key),
               WOLFSSL_FILETYPE_PEM)
            != WOLFSSL_SUCCESS) {
        snprintf(fk->err, sizeof(fk->err), "cannot load %s", fk->chain);
        goto out;
    }
    io.ssl = wolfSSL_new(ctx);
    wolfSSL_set_fd(io.ssl, io.fd);
    if (wolfSSL_accept(io.ssl) != WOLFSSL_SUCCESS)
        goto out; /* the client refused us: the test checks why */
    fk->tls_up = 1;
    if (fk->implicit)
        io_send(&io, "220 fake ESMTP over TLS\r\n");
    if (!io_line(&io, line, sizeof(line)) || strncmp(line, "EHLO ", 5) != 0) {
        snprintf(fk->err, sizeof(fk->err),
            "expected EHLO after TLS, got "
            "\"%s\"",
            line);
        goto out;
    }
    fk->ehlo_after_tls = 1;
    io_send(&io, "250-fake\r\n250 AUTH PLAIN LOGIN\r\n");
    if (!io_line(&io, line, sizeof(line)))
        goto out;
    if (strncmp(line, "AUTH PLAIN ", 11) == 0) {
        fk->auth_seen = 1;
        io_send(&io, "235 2.7.0 ok\r\n");
        if (!io_line(&io, line, sizeof(line)))
            goto out;
    }
    if (strcmp(line, "QUIT") == 0) {
        fk->quit_seen = 1;
        io_send(&io, "221 bye\r\n");
    } else
        snprintf(fk->err, sizeof(fk->err), "unexpected \"%s\"", line);
out:
    if (io.ssl != NULL) {
        wolfSSL_shutdown(io.ssl);
        wolfSSL_free(io.ssl);
    }
    wolfSSL_CTX_free(ctx);
    close(io.fd);
    pki_thread_cleanup(); /* wolfSSL's per-thread ECC cache */
    return NULL;
}

/* Runs one session against a fake with the given chain. */
static int
run(struct tls_fake *fk, struct pki_trust *trust, int secure, int verify,
    const char *tls_name, cJSON *trace, struct smtp_result *res)
{
    struct sockaddr_in  sa;
    socklen_t           sl = sizeof(sa);
    pthread_t           th;
    struct smtp_params  p;
    struct smtp_client *c = NULL;
    struct sec         *pw = sec_new("tls-Secret-9", 12);
    int                 rc;

    fk->lfd = socket(AF_INET, SOCK_STREAM, 0);
    memset(&sa, 0, sizeof(sa));
    sa.sin_family = AF_INET;
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    assert_int_equal(bind(fk->lfd, (struct sockaddr *)&sa, sizeof(sa)), 0);
    assert_int_equal(listen(fk->lfd, 1), 0);
    getsockname(fk->lfd, (struct sockaddr *)&sa, &sl);
    fk->port = ntohs(sa.sin_port);
    assert_int_equal(pthread_create(&th, NULL, tls_fake_run, fk), 0);

    memset(&p, 0, sizeof(p));
    p.host = "127.0.0.1";
    p.port = fk->port;
    p.secure = secure;
    p.verify = verify;
    p.tls_name = tls_name;
    p.trust = trust;
    p.helo_name = "herald.test";
    p.reply_timeout_ms = 5000;
    if (fk->expect_auth) {
        p.user = "alerts@example.com";
        p.pass = pw;
    }
    rc = smtp_open(&p, &c, trace, res);
    smtp_close(c);
    pthread_join(th, NULL);
    close(fk->lfd);
    sec_free(pw);
    return rc;
}

static void
starttls_should_verify_the_chain_and_say_ehlo_again(void **state)
{
    struct tls_fake    fk = { .chain = "chain-full.pem",
           .key = "chain-full.key",
           .expect_auth = 1 };
    struct pki_trust  *t = trust_of("root-a.pem", PKI_CHAIN_CONTINUE);
    struct smtp_result res;
    cJSON             *trace = cJSON_CreateObject();
    char              *js;
    int                rc;

    (void)state;
    rc =
        run(&fk, t, SMTP_SECURE_TLS, PKI_VERIFY_FULL, "localhost", trace, &res);
    if (rc != 0)
        fail_msg("open failed: %s: %s", res.klass, res.message);
    assert_string_equal(fk.err, "");
    assert_true(fk.tls_up);
    assert_true(fk.ehlo_after_tls);
    assert_true(fk.auth_seen); /* AUTH only after TLS */
    assert_true(fk.quit_seen);
    js = cJSON_PrintUnformatted(trace);
    assert_non_null(cJSON_GetObjectItem(trace, "tls"));
    assert_non_null(strstr(js, "TLS established"));
    assert_non_null(strstr(js, "AUTH PLAIN <redacted>"));
    assert_null(strstr(js, "tls-Secret-9"));
    /* the capabilities are those of the EHLO after TLS */
    assert_non_null(strstr(js, "\"capabilities\":[\"AUTH PLAIN LOGIN\"]"));
    free(js);
    cJSON_Delete(trace);
    pki_trust_unref(t);
}

static void
implicit_tls_should_verify_from_the_first_byte(void **state)
{
    struct tls_fake    fk = { .chain = "chain-full.pem",
           .key = "chain-full.key",
           .implicit = 1 };
    struct pki_trust  *t = trust_of("root-a.pem", PKI_CHAIN_CONTINUE);
    struct smtp_result res;
    int                rc;

    (void)state;
    rc = run(&fk, t, SMTP_SECURE_IMPLICIT, PKI_VERIFY_FULL, "localhost", NULL,
        &res);
    if (rc != 0)
        fail_msg("open failed: %s: %s", res.klass, res.message);
    assert_true(fk.ehlo_after_tls);
    assert_true(fk.quit_seen);
    pki_trust_unref(t);
}

static void
untrusted_chain_should_fail_permanently_without_auth(void **state)
{
    struct tls_fake    fk = { .chain = "chain-full.pem",
           .key = "chain-full.key",
           .expect_auth = 1 };
    struct pki_trust  *t = trust_of(NULL, 0);
    struct smtp_result res;

    (void)state;
    assert_int_equal(run(&fk, t, SMTP_SECURE_TLS, PKI_VERIFY_FULL, "localhost",
                         NULL, &res),
        ERR_TLS);
    assert_string_equal(res.klass, "certificate_untrusted");
    print_message("message: %s\nadvice: %s\n", res.message, res.advice);
    assert_true(res.advice[0] != '\0');
    assert_int_equal(res.permanent, 1);
    assert_true(res.message[0] != '\0');
    assert_false(fk.auth_seen);
    assert_false(fk.ehlo_after_tls);
    pki_trust_unref(t);
}

static void
wrong_host_should_fail_as_hostname_mismatch(void **state)
{
    struct tls_fake    fk = { .chain = "chain-wronghost.pem",
           .key = "chain-wronghost.key" };
    struct pki_trust  *t = trust_of("root-a.pem", PKI_CHAIN_CONTINUE);
    struct smtp_result res;

    (void)state;
    assert_int_equal(run(&fk, t, SMTP_SECURE_TLS, PKI_VERIFY_FULL, "localhost",
                         NULL, &res),
        ERR_TLS);
    assert_string_equal(res.klass, "hostname_mismatch");
    print_message("message: %s\nadvice: %s\n", res.message, res.advice);
    assert_true(res.advice[0] != '\0');
    assert_int_equal(res.permanent, 1);
    pki_trust_unref(t);
}

static void
expired_leaf_should_fail_as_certificate_expired(void **state)
{
    struct tls_fake    fk = { .chain = "chain-expired.pem",
           .key = "chain-expired.key" };
    struct pki_trust  *t = trust_of("root-a.pem", PKI_CHAIN_CONTINUE);
    struct smtp_result res;

    (void)state;
    assert_int_equal(run(&fk, t, SMTP_SECURE_TLS, PKI_VERIFY_FULL, "localhost",
                         NULL, &res),
        ERR_TLS);
    assert_string_equal(res.klass, "certificate_expired");
    print_message("message: %s\nadvice: %s\n", res.message, res.advice);
    assert_true(res.advice[0] != '\0');
    pki_trust_unref(t);
}

static void
verification_off_should_connect_and_say_so_in_the_trace(void **state)
{
    struct tls_fake fk = { .chain = "chain-full.pem", .key = "chain-full.key" };
    struct pki_trust  *t = trust_of(NULL, 0);
    struct smtp_result res;
    cJSON             *trace = cJSON_CreateObject(), *shown, *d, *e;
    char              *text;
    int                rc;

    (void)state;
    rc =
        run(&fk, t, SMTP_SECURE_TLS, PKI_VERIFY_NONE, "localhost", trace, &res);
    if (rc != 0)
        fail_msg("open failed: %s: %s", res.klass, res.message);
    /* as stored and shown: the printed trace, read back */
    text = cJSON_PrintUnformatted(trace);
    assert_non_null(text);
    shown = cJSON_Parse(text);
    assert_non_null(shown);
    d = cJSON_GetObjectItem(shown, "dialogue");
    assert_true(cJSON_GetArraySize(d) > 5);
    cJSON_ArrayForEach(e, d)
    {
        const cJSON *v = cJSON_GetObjectItem(e, "verification");

        assert_true(cJSON_IsString(cJSON_GetObjectItem(e, "line")));
        assert_true(cJSON_IsString(v));
        assert_string_equal(v->valuestring, "OFF");
    }
    cJSON_Delete(shown);
    free(text);
    cJSON_Delete(trace);
    pki_trust_unref(t);
}

static void
bytes_injected_before_the_handshake_should_be_discarded(void **state)
{
    struct tls_fake    fk = { .chain = "chain-full.pem",
           .key = "chain-full.key",
           .inject = 1 };
    struct pki_trust  *t = trust_of("root-a.pem", PKI_CHAIN_CONTINUE);
    struct smtp_result res;
    cJSON             *trace = cJSON_CreateObject();
    char              *js;
    int                rc;

    (void)state;
    rc =
        run(&fk, t, SMTP_SECURE_TLS, PKI_VERIFY_FULL, "localhost", trace, &res);
    if (rc != 0)
        fail_msg("open failed: %s: %s", res.klass, res.message);
    js = cJSON_PrintUnformatted(trace);
    assert_non_null(strstr(js, "STARTTLS injection"));
    /* the injected "250-injected" was never read as a reply */
    assert_null(strstr(js, "injected\"}"));
    assert_true(fk.ehlo_after_tls);
    free(js);
    cJSON_Delete(trace);
    pki_trust_unref(t);
}

/* Runs smtp_probe against a fake with the given chain. */
static cJSON *
probe(struct tls_fake *fk, struct pki_trust *trust, struct smtp_result *res)
{
    struct sockaddr_in sa;
    socklen_t          sl = sizeof(sa);
    pthread_t          th;
    struct smtp_params p;
    cJSON             *out;

    fk->lfd = socket(AF_INET, SOCK_STREAM, 0);
    memset(&sa, 0, sizeof(sa));
    sa.sin_family = AF_INET;
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    assert_int_equal(bind(fk->lfd, (struct sockaddr *)&sa, sizeof(sa)), 0);
    assert_int_equal(listen(fk->lfd, 1), 0);
    getsockname(fk->lfd, (struct sockaddr *)&sa, &sl);
    fk->port = ntohs(sa.sin_port);
    assert_int_equal(pthread_create(&th, NULL, tls_fake_run, fk), 0);
    memset(&p, 0, sizeof(p));
    p.host = "127.0.0.1";
    p.port = fk->port;
    p.secure = fk->implicit ? SMTP_SECURE_IMPLICIT : SMTP_SECURE_TLS;
    p.tls_name = "localhost";
    p.trust = trust;
    p.reply_timeout_ms = 5000;
    out = smtp_probe(&p, res);
    pthread_join(th, NULL);
    close(fk->lfd);
    return out;
}

static void
probe_should_report_capabilities_chain_and_a_good_verdict(void **state)
{
    struct tls_fake fk = { .chain = "chain-full.pem", .key = "chain-full.key" };
    struct pki_trust  *t = trust_of("root-a.pem", PKI_CHAIN_CONTINUE);
    struct smtp_result res;
    cJSON             *r, *v;

    (void)state;
    r = probe(&fk, t, &res);
    if (r == NULL)
        fail_msg("probe failed: %s: %s", res.klass, res.message);
    assert_string_equal(cJSON_GetObjectItem(r, "speaks")->valuestring,
        "starttls");
    assert_int_equal(cJSON_GetObjectItem(r, "port")->valueint, fk.port);
    v = cJSON_GetObjectItem(r, "verdict");
    assert_true(cJSON_IsTrue(cJSON_GetObjectItem(v, "ok")));
    assert_true(cJSON_IsObject(cJSON_GetObjectItem(r, "tls")));
    assert_true(cJSON_GetArraySize(cJSON_GetObjectItem(r, "capabilities")) > 0);
    assert_true(fk.quit_seen);
    assert_false(fk.auth_seen);
    cJSON_Delete(r);
    pki_trust_unref(t);
}

static void
probe_of_an_untrusted_server_should_still_report_with_a_bad_verdict(
    void **state)
{
    struct tls_fake    fk = { .chain = "chain-full.pem",
           .key = "chain-full.key",
           .implicit = 1 };
    struct pki_trust  *t = trust_of(NULL, 0);
    struct smtp_result res;
    cJSON             *r, *v;
    char              *js;

    (void)state;
    r = probe(&fk, t, &res);
    assert_non_null(r);
    v = cJSON_GetObjectItem(r, "verdict");
    assert_true(cJSON_IsFalse(cJSON_GetObjectItem(v, "ok")));
    assert_string_equal(cJSON_GetObjectItem(v, "code")->valuestring,
        "certificate_untrusted");
    assert_true(strlen(cJSON_GetObjectItem(v, "advice")->valuestring) > 0);
    /* the chain the server presented is in the report, to be imported */
    js = cJSON_PrintUnformatted(cJSON_GetObjectItem(r, "tls"));
    assert_non_null(strstr(js, "Herald Test Intermediate"));
    free(js);
    cJSON_Delete(r);
    pki_trust_unref(t);
}

static void
ip_literal_names_should_be_checked_against_the_ip_sans(void **state)
{
    /* the leaf names DNS:localhost, IP:127.0.0.1, IP:::1 (mkpki.sh) */
    const char        *ok[] = { "127.0.0.1", "::1" };
    const char        *bad[] = { "127.0.0.2", "::2" };
    struct pki_trust  *t = trust_of("root-a.pem", PKI_CHAIN_CONTINUE);
    struct smtp_result res;
    size_t             i;
    int                rc;

    (void)state;
    for (i = 0; i < 2; i++) {
        struct tls_fake fk = { .chain = "chain-full.pem",
            .key = "chain-full.key" };

        rc = run(&fk, t, SMTP_SECURE_TLS, PKI_VERIFY_FULL, ok[i], NULL, &res);
        if (rc != 0)
            fail_msg("%s: %s: %s", ok[i], res.klass, res.message);
        assert_true(fk.ehlo_after_tls);
    }
    for (i = 0; i < 2; i++) {
        struct tls_fake fk = { .chain = "chain-full.pem",
            .key = "chain-full.key" };
        char            want[64];

        assert_int_equal(run(&fk, t, SMTP_SECURE_TLS, PKI_VERIFY_FULL, bad[i],
                             NULL, &res),
            ERR_TLS);
        assert_string_equal(res.klass, "hostname_mismatch");
        assert_int_equal(res.permanent, 1);
        snprintf(want, sizeof(want), "not valid for '%s'", bad[i]);
        if (strstr(res.message, want) == NULL
            || strstr(res.message, "IP:::1") == NULL)
            fail_msg("message does not name the address and the SANs: %s",
                res.message);
        assert_false(fk.ehlo_after_tls);
    }
    pki_trust_unref(t);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(starttls_should_verify_the_chain_and_say_ehlo_again),
        cmocka_unit_test(implicit_tls_should_verify_from_the_first_byte),
        cmocka_unit_test(untrusted_chain_should_fail_permanently_without_auth),
        cmocka_unit_test(wrong_host_should_fail_as_hostname_mismatch),
        cmocka_unit_test(expired_leaf_should_fail_as_certificate_expired),
        cmocka_unit_test(
            verification_off_should_connect_and_say_so_in_the_trace),
        cmocka_unit_test(
            bytes_injected_before_the_handshake_should_be_discarded),
        cmocka_unit_test(
            probe_should_report_capabilities_chain_and_a_good_verdict),
        cmocka_unit_test(
            probe_of_an_untrusted_server_should_still_report_with_a_bad_verdict),
        cmocka_unit_test(
            ip_literal_names_should_be_checked_against_the_ip_sans),
    };

    log_set_level(LOG_ERR);
    return cmocka_run_group_tests(tests, setup, teardown);
}
