/* SPDX-License-Identifier: MIT */
/*
 * tests/unit/oauth/test_https.c: eng_oauth_token() against a token
 * endpoint on 127.0.0.1 that speaks real TLS (wolfSSL server side) with the
 * test PKI of tests/lib/mkpki.sh: the real exchange through
 * engine/smtp/net.h. A token fetched (Content-Length and chunked answers,
 * the request's form body checked by the server), the mail path's TLS
 * verdicts naming the token endpoint (untrusted chain with its missing
 * issuer, host name mismatch, expired certificate), an endpoint that is
 * down, and an answer over ENG_OAUTH_REPLY_MAX.
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
#include <sys/time.h>
#include <unistd.h>

#include "common/log.h"
#include "common/sec.h"
#include "engine/oauth/oauth.h"
#include "pki/pki.h"
#include "tests/unit/pki/pkitest.h"

#define SECRET "https-Client-Secret-5"

static int
setup(void **state)
{
    (void)state;
    log_set_level(LOG_WARN);
    if (pkitest_make() != 0) {
        fprintf(stderr, "tests/lib/mkpki.sh failed: no test PKI\n");
        return -1;
    }
    return pki_init() == 0 ? 0 : -1;
}

static int
teardown(void **state)
{
    (void)state;
    pkitest_remove();
    pki_cleanup();
    return 0;
}

static struct pki_trust *
trust_of(const char *file)
{
    struct pki_trustpoint tp = { "TEST-TP", PKI_CHAIN_CONTINUE, PKI_REV_NONE,
        NULL };
    struct pki_cert      *cert = NULL;
    struct pki_trust     *t = NULL;
    struct errbuf         eb = { 0 };
    char                  path[300], buf[16384];
    FILE                 *f;
    size_t                n;

    snprintf(path, sizeof(path), "%s/%s", pki_dir, file);
    assert_non_null(f = fopen(path, "rb"));
    n = fread(buf, 1, sizeof(buf), f);
    fclose(f);
    if (pki_cert_parse(buf, n, &cert, &eb) != 0)
        fail_msg("cannot parse %s: %s", file, eb.msg);
    tp.cert = cert;
    if (pki_trust_new(&tp, 1, 0, &t, &eb) != 0)
        fail_msg("pki_trust_new: %s", eb.msg);
    pki_cert_free(cert);
    return t;
}

/* ---- the fake token endpoint --------------------------------------------- */

struct endpoint {
    int         lfd;
    unsigned    port;
    const char *chain;  /* NAME: NAME.pem and NAME.key */
    const char *answer; /* NULL: a big one */
    int         pieces; /* write the answer in this many writes */
    /* results */
    int  requests;
    char request[4096];
    char err[512];
};

static void *
endpoint_run(void *arg)
{
    struct endpoint *ep = arg;
    WOLFSSL_CTX     *ctx = wolfSSL_CTX_new(wolfTLS_server_method());
    WOLFSSL         *ssl = NULL;
    char             path[300], kpath[300], *big = NULL;
    const char      *ans = ep->answer;
    size_t           len = 0, alen;
    struct timeval   tv = { 5, 0 };
    int              fd;

    snprintf(path, sizeof(path), "%s/%s.pem", pki_dir, ep->chain);
    snprintf(kpath, sizeof(kpath), "%s/%s.key", pki_dir, ep->chain);
    if (wolfSSL_CTX_use_certificate_chain_file(ctx, path) != WOLFSSL_SUCCESS
        || wolfSSL_CTX_use_PrivateKey_file(ctx, kpath, WOLFSSL_FILETYPE_PEM)
            != WOLFSSL_SUCCESS) {
        snprintf(ep->err, sizeof(ep->err), "cannot load %s", path);
        goto out;
    }
    if ((fd = accept(ep->lfd, NULL, NULL)) < 0)
        goto out;
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    ssl = wolfSSL_new(ctx);
    wolfSSL_set_fd(ssl, fd);
    if (wolfSSL_accept(ssl) != WOLFSSL_SUCCESS)
        goto done; /* the client refused the chain: the test says why */
    /* the request: head, then Content-Length octets */
    for (;;) {
        char *end = strstr(ep->request, "\r\n\r\n"), *cl;
        int   r;

        if (end != NULL && (cl = strstr(ep->request, "Content-Length: "))
            && strlen(end + 4) >= (size_t)atoi(cl + 16))
            break;
        if (len + 1 >= sizeof(ep->request)
            || (r = wolfSSL_read(ssl, ep->request + len,
                    (int)(sizeof(ep->request) - 1 - len)))
                <= 0) {
            snprintf(ep->err, sizeof(ep->err), "incomplete request");
            goto done;
        }
        len += (size_t)r;
        ep->request[len] = '\0';
    }
    ep->requests++;
    if (ans == NULL) {
        big = malloc(100000);
        memset(big, 'x', 99999);
        big[99999] = '\0';
        memcpy(big, "HTTP/1.1 200 OK\r\n\r\n", 19);
        ans = big;
    }
    alen = strlen(ans);
    for (int i = 0, n = ep->pieces > 0 ? ep->pieces : 1; i < n; i++) {
        size_t from = alen * (size_t)i / (size_t)n;
        size_t to = alen * (size_t)(i + 1) / (size_t)n;

        if (to > from && wolfSSL_write(ssl, ans + from, (int)(to - from)) <= 0)
            break;
        usleep(20000);
    }
done:
    if (ssl != NULL) {
        wolfSSL_shutdown(ssl);
        wolfSSL_free(ssl);
    }
    close(fd);
out:
    free(big);
    wolfSSL_CTX_free(ctx);
    pki_thread_cleanup();
    return NULL;
}

/* Runs one eng_oauth_token() against an endpoint (chain, answer). */
static int
fetch(struct endpoint *ep, struct pki_trust *trust, int up, struct sec **tok,
    cJSON *trace, struct smtp_result *res)
{
    struct sockaddr_in      sa;
    socklen_t               sl = sizeof(sa);
    pthread_t               th;
    struct eng_oauth_cache *c = NULL;
    struct sec             *secret = sec_new(SECRET, strlen(SECRET));
    char                    url[128];
    struct eng_oauth_cred   cred = { .name = "local",
          .generation = 1,
          .grant = ENG_OAUTH_CLIENT_CREDENTIALS,
          .token_url = url,
          .client_id = "herald-test",
          .client_secret = secret,
          .scope = "smtp" };
    int                     rc;

    ep->lfd = socket(AF_INET, SOCK_STREAM, 0);
    memset(&sa, 0, sizeof(sa));
    sa.sin_family = AF_INET;
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    assert_int_equal(bind(ep->lfd, (struct sockaddr *)&sa, sizeof(sa)), 0);
    assert_int_equal(listen(ep->lfd, 1), 0);
    getsockname(ep->lfd, (struct sockaddr *)&sa, &sl);
    ep->port = ntohs(sa.sin_port);
    snprintf(url, sizeof(url), "https://127.0.0.1:%u/oauth2/token", ep->port);
    if (!up) {
        close(ep->lfd); /* nobody listens on the port now */
        ep->lfd = -1;
    } else
        assert_int_equal(pthread_create(&th, NULL, endpoint_run, ep), 0);
    assert_int_equal(eng_oauth_cache_new(NULL, NULL, &c), 0);
    rc = eng_oauth_token(c, &cred, trust, NULL, tok, trace, res);
    if (up) {
        pthread_join(th, NULL);
        close(ep->lfd);
    }
    eng_oauth_cache_free(c);
    sec_free(secret);
    return rc;
}

static const char *
json_answer(int chunked)
{
    return chunked ? "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                     "Transfer-Encoding: chunked\r\n\r\n"
                     "10\r\n{\"access_token\":\r\n"
                     "1d\r\n\"AT-chunked\",\"expires_in\":99}\r\n0\r\n\r\n"
                   : "HTTP/1.0 200 OK\r\nContent-Type: application/json\r\n"
                     "Content-Length: 65\r\n\r\n"
                     "{\"access_token\":\"AT-https\",\"token_type\":\"Bearer\","
                     "\"expires_in\":60}";
}

static void
no_secret(const struct smtp_result *res, cJSON *trace)
{
    char *js = trace ? cJSON_PrintUnformatted(trace) : strdup("");

    assert_null(strstr(res->message, SECRET));
    assert_null(strstr(js, SECRET));
    assert_null(strstr(js, "AT-"));
    free(js);
}

static void
token_should_come_over_verified_tls(void **state)
{
    struct endpoint    ep = { .chain = "chain-full", .pieces = 3 };
    struct pki_trust  *t = trust_of("root-a.pem");
    struct smtp_result res;
    struct sec        *tok = NULL;
    cJSON             *trace = cJSON_CreateObject(), *te;
    int                rc;

    (void)state;
    ep.answer = json_answer(0);
    rc = fetch(&ep, t, 1, &tok, trace, &res);
    if (rc != 0)
        fail_msg("%s: %s (%s)", res.klass, res.message, ep.err);
    assert_string_equal(sec_data(tok), "AT-https");
    assert_int_equal(ep.requests, 1);
    assert_true(
        strncmp(ep.request, "POST /oauth2/token HTTP/1.1\r\n", 29) == 0);
    assert_non_null(strstr(ep.request, "\r\nConnection: close\r\n"));
    assert_non_null(strstr(ep.request,
        "\r\n\r\ngrant_type=client_credentials&client_id=herald-test&"
        "client_secret=" SECRET "&scope=smtp"));
    te = cJSON_GetObjectItem(trace, "oauth_endpoint");
    assert_non_null(te);
    assert_int_equal(cJSON_GetObjectItem(te, "status")->valueint, 200);
    assert_non_null(cJSON_GetObjectItem(te, "tls"));
    assert_non_null(cJSON_GetObjectItem(te, "dialogue"));
    no_secret(&res, trace);
    sec_free(tok);
    cJSON_Delete(trace);
    pki_trust_unref(t);
}

static void
chunked_answer_should_be_read(void **state)
{
    struct endpoint    ep = { .chain = "chain-full", .pieces = 4 };
    struct pki_trust  *t = trust_of("root-a.pem");
    struct smtp_result res;
    struct sec        *tok = NULL;
    int                rc;

    (void)state;
    ep.answer = json_answer(1);
    rc = fetch(&ep, t, 1, &tok, NULL, &res);
    if (rc != 0)
        fail_msg("%s: %s (%s)", res.klass, res.message, ep.err);
    assert_string_equal(sec_data(tok), "AT-chunked");
    sec_free(tok);
    pki_trust_unref(t);
}

static void
untrusted_chain_should_name_the_missing_issuer(void **state)
{
    struct endpoint    ep = { .chain = "chain-inter" };
    struct pki_trust  *t = trust_of("root-old.pem");
    struct smtp_result res;
    struct sec        *tok = NULL;
    cJSON             *trace = cJSON_CreateObject();
    char               want[64];

    (void)state;
    ep.answer = json_answer(0);
    assert_int_equal(fetch(&ep, t, 1, &tok, trace, &res), ERR_TLS);
    assert_null(tok);
    assert_string_equal(res.klass, "certificate_untrusted");
    assert_true(res.permanent);
    snprintf(want, sizeof(want), "token endpoint 127.0.0.1:%u: ", ep.port);
    assert_non_null(strstr(res.message, want));
    assert_non_null(strstr(res.message, "Herald Test Root A"));
    assert_true(res.advice[0] != '\0');
    assert_int_equal(ep.requests, 0); /* the secret never went out */
    assert_non_null(
        cJSON_GetObjectItem(cJSON_GetObjectItem(trace, "oauth_endpoint"),
            "tls"));
    no_secret(&res, trace);
    cJSON_Delete(trace);
    pki_trust_unref(t);
}

static void
wrong_host_and_expired_certificates_should_be_named(void **state)
{
    struct pki_trust  *t = trust_of("root-a.pem");
    struct smtp_result res;
    struct sec        *tok = NULL;
    struct endpoint    ep = { .chain = "chain-wronghost" };

    (void)state;
    ep.answer = json_answer(0);
    assert_int_equal(fetch(&ep, t, 1, &tok, NULL, &res), ERR_TLS);
    assert_string_equal(res.klass, "hostname_mismatch");
    assert_non_null(strstr(res.message, "token endpoint 127.0.0.1:"));
    memset(&ep, 0, sizeof(ep));
    ep.chain = "chain-expired";
    ep.answer = json_answer(0);
    assert_int_equal(fetch(&ep, t, 1, &tok, NULL, &res), ERR_TLS);
    assert_string_equal(res.klass, "certificate_expired");
    assert_int_equal(ep.requests, 0);
    pki_trust_unref(t);
}

static void
endpoint_down_should_be_connect_naming_it(void **state)
{
    struct pki_trust  *t = trust_of("root-a.pem");
    struct smtp_result res;
    struct sec        *tok = NULL;
    struct endpoint    ep = { .chain = "chain-full" };
    char               want[64];

    (void)state;
    assert_int_equal(fetch(&ep, t, 0, &tok, NULL, &res), ERR_CONNECT);
    assert_string_equal(res.klass, "connect");
    snprintf(want, sizeof(want), "token endpoint 127.0.0.1:%u: ", ep.port);
    assert_non_null(strstr(res.message, want));
    assert_non_null(strstr(res.advice, "token endpoint"));
    assert_null(strstr(res.advice, "587"));
    pki_trust_unref(t);
}

static void
oversized_answer_should_be_refused(void **state)
{
    struct pki_trust  *t = trust_of("root-a.pem");
    struct smtp_result res;
    struct sec        *tok = NULL;
    struct endpoint    ep = { .chain = "chain-full", .answer = NULL };

    (void)state;
    assert_int_equal(fetch(&ep, t, 1, &tok, NULL, &res), ERR_TOOBIG);
    assert_string_equal(res.klass, "protocol");
    assert_non_null(strstr(res.message, "longer than 65536 octets"));
    pki_trust_unref(t);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(token_should_come_over_verified_tls),
        cmocka_unit_test(chunked_answer_should_be_read),
        cmocka_unit_test(untrusted_chain_should_name_the_missing_issuer),
        cmocka_unit_test(wrong_host_and_expired_certificates_should_be_named),
        cmocka_unit_test(endpoint_down_should_be_connect_naming_it),
        cmocka_unit_test(oversized_answer_should_be_refused),
    };

    return cmocka_run_group_tests(tests, setup, teardown);
}
