/* SPDX-License-Identifier: MIT */
/*
 * tests/unit/pki/test_trust.c: trustpoints with IOS semantics against real
 * TLS handshakes. Each case starts "openssl s_server" on an ephemeral
 * loopback port presenting one of mkpki.sh's chains, connects through
 * pki_tls_new(), and checks the verdict a user would read: the class, the
 * anchoring trustpoint, the missing issuer, the advice, and the trace. Also
 * the notes about trustpoints left out, revocation-check refusal, and that a
 * rebuilt trust drops cached sessions.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <cjson/cJSON.h>
#include <pthread.h>
#include <wolfssl/options.h>
#include <wolfssl/ssl.h>

#include "pki/pki.h"
#include "pkitest.h"

struct tp_spec {
    const char *name;
    const char *file; /* NULL: not authenticated */
    int         cv;
};

static struct pki_cert *loaded[16];
static size_t           nloaded;

static struct pki_cert *
load(const char *name)
{
    struct errbuf    eb = { 0 };
    struct pki_cert *c = NULL;
    size_t           len;
    char            *data = pkitest_read(name, &len);

    assert_non_null(data);
    if (pki_cert_parse(data, len, &c, &eb) != 0)
        fail_msg("parse %s: %s", name, eb.msg);
    free(data);
    return c;
}

static struct pki_trust *
trust(const struct tp_spec *s, size_t n, unsigned flags)
{
    struct pki_trustpoint tps[8] = { 0 };
    struct pki_trust     *t = NULL;
    struct errbuf         eb = { 0 };
    size_t                i;

    for (i = 0; i < n; i++) {
        tps[i].name = s[i].name;
        tps[i].chain_validation = s[i].cv;
        tps[i].revocation = PKI_REV_NONE;
        tps[i].cert = NULL;
        if (s[i].file != NULL) {
            tps[i].cert = load(s[i].file);
            loaded[nloaded++] = (struct pki_cert *)tps[i].cert;
        }
    }
    if (pki_trust_new(tps, n, flags, &t, &eb) != 0)
        fail_msg("pki_trust_new: %s", eb.msg);
    /* The trust keeps its own copies: the caller's certs may go. */
    while (nloaded > 0)
        pki_cert_free(loaded[--nloaded]);
    return t;
}

struct result {
    struct pki_verdict v;
    cJSON             *trace;
    int                resumed;
};

/* One TLS connection to the server as name, offering (and saving) the
 * session cached under the caller's key; on success an HTTP GET, so that
 * TLS 1.3 tickets arrive, then the session is saved. */
static void
handshake_key(struct pki_trust *t, int port, const char *name, int mode,
    const char *key, struct result *r)
{
    struct errbuf eb = { 0 };
    char          buf[4096];
    WOLFSSL      *ssl;
    int           fd, ret, rc = 0;

    fd = pkitest_connect(port);
    assert_true(fd >= 0);
    ssl = pki_tls_new(t, name, name, mode, key, &eb);
    if (ssl == NULL)
        fail_msg("pki_tls_new: %s", eb.msg);
    wolfSSL_set_fd(ssl, fd);
    ret = wolfSSL_connect(ssl);
    if (ret != WOLFSSL_SUCCESS)
        rc = wolfSSL_get_error(ssl, ret);
    if (rc == 0) {
        const char req[] = "GET / HTTP/1.0\r\n\r\n";
        wolfSSL_write(ssl, req, (int)sizeof(req) - 1);
        while (wolfSSL_read(ssl, buf, sizeof(buf)) > 0)
            ;
        pki_tls_save_session(t, ssl, key);
    }
    r->trace = cJSON_CreateObject();
    pki_tls_verdict(t, ssl, rc, name, mode, &r->v, r->trace);
    r->resumed = wolfSSL_session_reused(ssl);
    wolfSSL_free(ssl);
    close(fd);
}

/* The same with the key smtp_tls.c uses, "host:port" of the connection. */
static void
handshake(struct pki_trust *t, int port, const char *name, int mode,
    struct result *r)
{
    char key[300];

    snprintf(key, sizeof(key), "%s:%d", name, port);
    handshake_key(t, port, name, mode, key, r);
}

/* Starts a server for chain (leaf file + chain-rest file), connects. */
static void
run_case(struct pki_trust *t, const char *leaf, const char *rest,
    const char *key, const char *name, int mode, struct result *r)
{
    struct pkitest_server s;

    if (pkitest_server_start(&s, leaf, rest, key, NULL) != 0) {
        pkitest_server_stop(&s);
        fail_msg("openssl s_server did not start for %s", leaf);
    }
    handshake(t, s.port, name, mode, r);
    pkitest_server_stop(&s);
}

static void
result_free(struct result *r)
{
    cJSON_Delete(r->trace);
}

static void
expect_ok(struct result *r, const char *anchor)
{
    if (r->v.klass != PKI_OK)
        fail_msg("expected success, got %s: %s", r->v.code, r->v.message);
    assert_string_equal(r->v.code, "");
    assert_string_equal(r->v.anchor, anchor);
    assert_string_equal(cJSON_GetStringValue(
                            cJSON_GetObjectItem(cJSON_GetObjectItem(r->trace,
                                                    "anchor"),
                                "trustpoint")),
        anchor);
    assert_string_equal(cJSON_GetStringValue(
                            cJSON_GetObjectItem(cJSON_GetObjectItem(r->trace,
                                                    "hostname"),
                                "result")),
        "ok");
    assert_false(r->v.insecure);
}

static int
setup(void **state)
{
    size_t len;
    char  *a, *b, *both;

    (void)state;
    if (pki_init() != 0 || pkitest_make() != 0)
        return -1;
    /* What the servers send after their leaf. */
    a = pkitest_read("inter.pem", &len);
    b = pkitest_read("root-a-cross.pem", NULL);
    if (a == NULL || b == NULL)
        return -1;
    both = malloc(strlen(a) + strlen(b) + 1);
    strcpy(both, a);
    strcat(both, b);
    if (pkitest_write("rest-full.pem", both, strlen(both)) != 0
        || pkitest_write("rest-inter.pem", a, strlen(a)) != 0)
        return -1;
    free(a);
    free(b);
    free(both);
    return 0;
}

static int
teardown(void **state)
{
    (void)state;
    pkitest_server_stop_all();
    pkitest_remove();
    pki_cleanup();
    return 0;
}

static void
root_only_should_verify_the_gmail_shaped_chain(void **state)
{
    struct tp_spec    s[] = { { "ROOT-A", "root-a.pem", PKI_CHAIN_CONTINUE } };
    struct pki_trust *t = trust(s, 1, 0);
    struct result     r;
    cJSON            *chain;

    (void)state;
    run_case(t, "leaf.pem", "rest-full.pem", "leaf.key", "localhost",
        PKI_VERIFY_FULL, &r);
    expect_ok(&r, "ROOT-A");
    chain = cJSON_GetObjectItem(r.trace, "chain");
    assert_int_equal(cJSON_GetArraySize(chain), 3);
    { /* each presented certificate with its PEM, as the file holds it */
        char *pem = pkitest_read("inter.pem", NULL);
        assert_string_equal(cJSON_GetStringValue(
                                cJSON_GetObjectItem(cJSON_GetArrayItem(chain,
                                                        1),
                                    "pem")),
            pem);
        free(pem);
    }
    assert_non_null(
        cJSON_GetStringValue(cJSON_GetObjectItem(r.trace, "tls_version")));
    result_free(&r);
    pki_trust_unref(t);
}

static void
old_root_only_should_verify_through_the_cross_signed_root(void **state)
{
    struct tp_spec    s[] = { { "OLD", "root-old.pem", PKI_CHAIN_CONTINUE } };
    struct pki_trust *t = trust(s, 1, 0);
    struct result     r;

    (void)state;
    run_case(t, "leaf.pem", "rest-full.pem", "leaf.key", "localhost",
        PKI_VERIFY_FULL, &r);
    expect_ok(&r, "OLD");
    result_free(&r);
    pki_trust_unref(t);
}

static void
intermediate_with_stop_should_be_an_anchor(void **state)
{
    struct tp_spec    s[] = { { "INTER", "inter.pem", PKI_CHAIN_STOP } };
    struct pki_trust *t = trust(s, 1, 0);
    struct result     r;
    cJSON            *notes = pki_trust_notes(t);

    (void)state;
    assert_int_equal(cJSON_GetArraySize(notes), 0);
    cJSON_Delete(notes);
    run_case(t, "leaf.pem", "rest-inter.pem", "leaf.key", "localhost",
        PKI_VERIFY_FULL, &r);
    expect_ok(&r, "INTER");
    result_free(&r);
    run_case(t, "leaf.pem", NULL, "leaf.key", "localhost", PKI_VERIFY_FULL,
        &r); /* the server sends its leaf alone */
    expect_ok(&r, "INTER");
    result_free(&r);
    pki_trust_unref(t);
}

static void
pinned_leaf_with_stop_should_verify(void **state)
{
    struct tp_spec    s[] = { { "PIN", "leaf.pem", PKI_CHAIN_STOP } };
    struct pki_trust *t = trust(s, 1, 0);
    struct result     r;

    (void)state;
    run_case(t, "leaf.pem", "rest-full.pem", "leaf.key", "localhost",
        PKI_VERIFY_FULL, &r);
    expect_ok(&r, "PIN");
    result_free(&r);
    /* Pinning one leaf does not trust its siblings. */
    run_case(t, "leaf-wronghost.pem", "rest-full.pem", "leaf-wronghost.key",
        "wrong.example", PKI_VERIFY_FULL, &r);
    assert_int_equal(r.v.klass, PKI_UNTRUSTED);
    result_free(&r);
    pki_trust_unref(t);
}

static void
no_trustpoint_should_name_the_missing_issuer(void **state)
{
    struct pki_trust *t = trust(NULL, 0, 0);
    struct result     r;
    char             *cross_subject, *old_subject, *cross_fp, want[600];
    cJSON            *fix;

    (void)state;
    run_case(t, "leaf.pem", "rest-full.pem", "leaf.key", "localhost",
        PKI_VERIFY_FULL, &r);
    assert_int_equal(r.v.klass, PKI_UNTRUSTED);
    assert_string_equal(r.v.code, "certificate_untrusted");
    assert_string_equal(pki_verdict_code(r.v.klass), "certificate_untrusted");
    cross_subject = pkitest_cmd("openssl x509 -in '%s' -noout -subject "
                                "-nameopt RFC2253 | sed 's/^subject=//'",
        pkitest_path("root-a-cross.pem"));
    old_subject = pkitest_cmd("openssl x509 -in '%s' -noout -subject "
                              "-nameopt RFC2253 | sed 's/^subject=//'",
        pkitest_path("root-old.pem"));
    cross_fp = pkitest_cmd("openssl x509 -in '%s' -noout -fingerprint "
                           "-sha256 | sed 's/^.*=//'",
        pkitest_path("root-a-cross.pem"));
    snprintf(want, sizeof(want),
        "the server's chain ends at '%s' issued by "
        "'%s', which no trustpoint holds",
        cross_subject, old_subject);
    assert_string_equal(r.v.message, want);
    assert_string_equal(r.v.missing_issuer, old_subject);
    assert_non_null(strstr(r.v.advice, cross_fp));
    assert_non_null(strstr(r.v.advice, "chain[2]"));
    assert_non_null(strstr(r.v.advice, "import-chain"));
    assert_string_equal(r.v.anchor, "");
    fix = cJSON_GetObjectItem(r.trace, "fix");
    assert_string_equal(cJSON_GetStringValue(
                            cJSON_GetObjectItem(fix, "action")),
        "import chain[2]");
    assert_string_equal(cJSON_GetStringValue(
                            cJSON_GetObjectItem(r.trace, "missing_issuer")),
        old_subject);
    { /* the verify callback saw the leaf fail with "no local issuer" */
        cJSON *e =
            cJSON_GetArrayItem(cJSON_GetObjectItem(r.trace, "verify_errors"),
                0);
        assert_non_null(e);
        assert_int_equal(cJSON_GetNumberValue(cJSON_GetObjectItem(e, "depth")),
            0);
        assert_int_equal(cJSON_GetNumberValue(cJSON_GetObjectItem(e, "error")),
            20);
    }
    result_free(&r);
    /* A wrong host hides the untrusted chain in wolfSSL: both are told. */
    run_case(t, "leaf-wronghost.pem", "rest-full.pem", "leaf-wronghost.key",
        "localhost", PKI_VERIFY_FULL, &r);
    assert_int_equal(r.v.klass, PKI_HOSTNAME_MISMATCH);
    assert_non_null(strstr(r.v.message, want));
    assert_string_equal(r.v.missing_issuer, old_subject);
    free(cross_subject);
    free(old_subject);
    free(cross_fp);
    result_free(&r);
    pki_trust_unref(t);
}

static void
self_signed_leaf_should_be_untrusted(void **state)
{
    struct tp_spec    s[] = { { "ROOT-A", "root-a.pem", PKI_CHAIN_CONTINUE } };
    struct pki_trust *t = trust(s, 1, 0);
    struct result     r;

    (void)state;
    run_case(t, "leaf-selfsigned.pem", NULL, "leaf-selfsigned.key", "localhost",
        PKI_VERIFY_FULL, &r);
    assert_int_equal(r.v.klass, PKI_UNTRUSTED);
    assert_non_null(strstr(r.v.message, "self-signed"));
    result_free(&r);
    pki_trust_unref(t);
}

static void
wrong_host_should_be_a_hostname_mismatch(void **state)
{
    struct tp_spec    s[] = { { "ROOT-A", "root-a.pem", PKI_CHAIN_CONTINUE } };
    struct pki_trust *t = trust(s, 1, 0);
    struct result     r;

    (void)state;
    run_case(t, "leaf-wronghost.pem", "rest-full.pem", "leaf-wronghost.key",
        "localhost", PKI_VERIFY_FULL, &r);
    assert_int_equal(r.v.klass, PKI_HOSTNAME_MISMATCH);
    assert_string_equal(r.v.code, "hostname_mismatch");
    assert_non_null(strstr(r.v.message, "DNS:wrong.example"));
    assert_non_null(strstr(r.v.message, "'localhost'"));
    assert_string_equal(cJSON_GetStringValue(
                            cJSON_GetObjectItem(cJSON_GetObjectItem(r.trace,
                                                    "hostname"),
                                "result")),
        "mismatch");
    result_free(&r);
    /* An IP literal is checked against the IP SANs. */
    run_case(t, "leaf.pem", "rest-full.pem", "leaf.key", "127.0.0.1",
        PKI_VERIFY_FULL, &r);
    expect_ok(&r, "ROOT-A");
    result_free(&r);
    run_case(t, "leaf.pem", "rest-full.pem", "leaf.key", "127.0.0.2",
        PKI_VERIFY_FULL, &r);
    assert_int_equal(r.v.klass, PKI_HOSTNAME_MISMATCH);
    result_free(&r);
    pki_trust_unref(t);
}

static void
expired_leaf_should_be_expired(void **state)
{
    struct tp_spec    s[] = { { "ROOT-A", "root-a.pem", PKI_CHAIN_CONTINUE } };
    struct pki_trust *t = trust(s, 1, 0);
    struct result     r;

    (void)state;
    run_case(t, "leaf-expired.pem", "rest-full.pem", "leaf-expired.key",
        "localhost", PKI_VERIFY_FULL, &r);
    assert_int_equal(r.v.klass, PKI_EXPIRED);
    assert_string_equal(r.v.code, "certificate_expired");
    assert_non_null(strstr(r.v.message, "chain[0]"));
    assert_non_null(strstr(r.v.message, "expired on 2021-01-01T00:00:00Z"));
    result_free(&r);
    pki_trust_unref(t);
}

static void
continue_with_only_the_intermediate_should_be_untrusted(void **state)
{
    struct tp_spec    s[] = { { "INTER", "inter.pem", PKI_CHAIN_CONTINUE } };
    struct pki_trust *t = trust(s, 1, 0);
    struct result     r;
    cJSON            *notes = pki_trust_notes(t), *n0;

    (void)state;
    assert_int_equal(cJSON_GetArraySize(notes), 1);
    n0 = cJSON_GetArrayItem(notes, 0);
    assert_string_equal(cJSON_GetStringValue(
                            cJSON_GetObjectItem(n0, "trustpoint")),
        "INTER");
    assert_string_equal(cJSON_GetStringValue(cJSON_GetObjectItem(n0, "code")),
        "continue_without_root");
    assert_non_null(
        strstr(cJSON_GetStringValue(cJSON_GetObjectItem(n0, "message")),
            "chain-validation stop"));
    cJSON_Delete(notes);
    run_case(t, "leaf.pem", "rest-inter.pem", "leaf.key", "localhost",
        PKI_VERIFY_FULL, &r);
    assert_int_equal(r.v.klass, PKI_UNTRUSTED);
    assert_non_null(strstr(r.v.message, "trustpoint 'INTER'"));
    result_free(&r);
    pki_trust_unref(t);
}

static void
continue_with_its_root_should_load_and_anchor_at_the_intermediate(void **state)
{
    struct tp_spec    s[] = { { "INTER", "inter.pem", PKI_CHAIN_CONTINUE },
           { "ROOT-A", "root-a.pem", PKI_CHAIN_CONTINUE },
           { "EMPTY", NULL, PKI_CHAIN_CONTINUE } };
    struct pki_trust *t = trust(s, 3, 0);
    struct result     r;
    cJSON            *notes = pki_trust_notes(t);

    (void)state;
    /* only the trustpoint without a certificate is reported */
    assert_int_equal(cJSON_GetArraySize(notes), 1);
    assert_string_equal(cJSON_GetStringValue(
                            cJSON_GetObjectItem(cJSON_GetArrayItem(notes, 0),
                                "code")),
        "not_authenticated");
    cJSON_Delete(notes);
    run_case(t, "leaf.pem", "rest-inter.pem", "leaf.key", "localhost",
        PKI_VERIFY_FULL, &r);
    expect_ok(&r, "INTER"); /* IOS: the first issuer found */
    result_free(&r);
    pki_trust_unref(t);
}

static void
system_pool_should_load_and_not_trust_the_test_pki(void **state)
{
    struct pki_trust *t = trust(NULL, 0, PKI_TRUST_SYSTEM_POOL);
    struct result     r;
    cJSON            *notes = pki_trust_notes(t);

    (void)state;
    if (access("/etc/ssl/certs/ca-certificates.crt", R_OK) == 0)
        assert_int_equal(cJSON_GetArraySize(notes), 0);
    else
        assert_int_equal(cJSON_GetArraySize(notes), 1);
    cJSON_Delete(notes);
    run_case(t, "leaf.pem", "rest-full.pem", "leaf.key", "localhost",
        PKI_VERIFY_FULL, &r);
    assert_int_equal(r.v.klass, PKI_UNTRUSTED);
    result_free(&r);
    pki_trust_unref(t);
}

static void
revocation_crl_should_be_refused_clearly(void **state)
{
    struct pki_trustpoint tp = { "CRL", PKI_CHAIN_CONTINUE, PKI_REV_CRL, NULL };
    struct pki_trust     *t = NULL;
    struct errbuf         eb = { 0 };

    (void)state;
    tp.cert = load("root-a.pem");
    assert_int_equal(pki_trust_new(&tp, 1, 0, &t, &eb), ERR_UNSUPPORTED);
    assert_null(t);
    assert_non_null(strstr(eb.msg, "revocation-check crl is not supported"));
    assert_non_null(strstr(eb.msg, "'CRL'"));
    pki_cert_free((struct pki_cert *)tp.cert);
    assert_int_equal(pki_revocation_parse("ocsp"), PKI_REV_OCSP);
    assert_int_equal(pki_revocation_parse("bogus"), -1);
    assert_int_equal(pki_chain_validation_parse("stop"), PKI_CHAIN_STOP);
    assert_int_equal(pki_chain_validation_parse("Stop"), -1);
}

static void
verify_none_should_connect_and_say_insecure(void **state)
{
    struct pki_trust *t = trust(NULL, 0, 0);
    struct result     r;

    (void)state;
    run_case(t, "leaf-selfsigned.pem", NULL, "leaf-selfsigned.key", "localhost",
        PKI_VERIFY_NONE, &r);
    assert_int_equal(r.v.klass, PKI_OK);
    assert_true(r.v.insecure);
    assert_non_null(strstr(r.v.message, "insecure"));
    assert_true(cJSON_IsTrue(cJSON_GetObjectItem(r.trace, "insecure")));
    result_free(&r);
    pki_trust_unref(t);
}

static void
rebuilding_the_trust_should_drop_cached_sessions(void **state)
{
    struct tp_spec    s[] = { { "ROOT-A", "root-a.pem", PKI_CHAIN_CONTINUE } };
    struct pki_trust *t = trust(s, 1, 0), *t2;
    struct pkitest_server srv;
    struct result         r;
    const char           *vers[] = { "-tls1_2", "-tls1_3" };
    size_t                i;

    (void)state;
    for (i = 0; i < 2; i++) {
        if (pkitest_server_start(&srv, "leaf.pem", "rest-full.pem", "leaf.key",
                vers[i])
            != 0) {
            pkitest_server_stop(&srv);
            fail_msg("openssl s_server did not start");
        }
        handshake(t, srv.port, "localhost", PKI_VERIFY_FULL, &r);
        expect_ok(&r, "ROOT-A");
        assert_false(r.resumed);
        result_free(&r);
        handshake(t, srv.port, "localhost", PKI_VERIFY_FULL, &r);
        assert_int_equal(r.v.klass, PKI_OK);
        if (!r.resumed)
            fail_msg("%s: the second connection did not resume", vers[i]);
        assert_true(cJSON_IsTrue(cJSON_GetObjectItem(r.trace, "resumed")));
        result_free(&r);
        /* Same trustpoints, new object: nothing cached any more. */
        t2 = trust(s, 1, 0);
        handshake(t2, srv.port, "localhost", PKI_VERIFY_FULL, &r);
        assert_int_equal(r.v.klass, PKI_OK);
        assert_false(r.resumed);
        result_free(&r);
        pki_trust_unref(t2);
        pkitest_server_stop(&srv);
    }
    pki_trust_unref(t);
}

struct worker {
    struct pki_trust *t;
    int               port;
    int               ok;
    int               resumed;
};

static void *
worker_run(void *arg)
{
    struct worker *w = arg;
    struct result  r;
    int            i;

    for (i = 0; i < 5; i++) {
        handshake(w->t, w->port, "localhost", PKI_VERIFY_FULL, &r);
        if (r.v.klass == PKI_OK && strcmp(r.v.anchor, "ROOT-A") == 0)
            w->ok++;
        w->resumed += r.resumed;
        result_free(&r);
    }
    pki_trust_unref(w->t);
    pki_thread_cleanup();
    return NULL;
}

static void
one_trust_should_serve_concurrent_handshakes(void **state)
{
    struct tp_spec    s[] = { { "ROOT-A", "root-a.pem", PKI_CHAIN_CONTINUE } };
    struct pki_trust *t = trust(s, 1, 0);
    struct pkitest_server srv;
    struct worker         w[4];
    pthread_t             th[4];
    int                   i, resumed = 0;

    (void)state;
    if (pkitest_server_start(&srv, "leaf.pem", "rest-full.pem", "leaf.key",
            "-tls1_2")
        != 0) {
        pkitest_server_stop(&srv);
        fail_msg("openssl s_server did not start");
    }
    for (i = 0; i < 4; i++) {
        w[i].t = pki_trust_ref(t);
        w[i].port = srv.port;
        w[i].ok = w[i].resumed = 0;
        assert_int_equal(pthread_create(&th[i], NULL, worker_run, &w[i]), 0);
    }
    pki_trust_unref(t); /* the workers hold the last references */
    for (i = 0; i < 4; i++) {
        pthread_join(th[i], NULL);
        assert_int_equal(w[i].ok, 5);
        resumed += w[i].resumed;
    }
    assert_true(resumed > 0); /* the shared cache was used */
    pkitest_server_stop(&srv);
}

static const char *
trace_str(cJSON *trace, const char *obj, const char *key)
{
    return cJSON_GetStringValue(
        cJSON_GetObjectItem(obj != NULL ? cJSON_GetObjectItem(trace, obj)
                                        : trace,
            key));
}

static void
ipv6_literal_should_be_checked_against_the_ip_sans(void **state)
{
    struct tp_spec    s[] = { { "ROOT-A", "root-a.pem", PKI_CHAIN_CONTINUE } };
    struct pki_trust *t = trust(s, 1, 0), *none = trust(NULL, 0, 0);
    struct result     r;

    (void)state;
    /* leaf.pem holds IP:::1 (mkpki.sh); the server listens on 127.0.0.1,
     * the name checked is what matters. wolfSSL 5.5.4 alone says -322. */
    run_case(t, "leaf.pem", "rest-full.pem", "leaf.key", "::1", PKI_VERIFY_FULL,
        &r);
    expect_ok(&r, "ROOT-A");
    assert_string_equal(trace_str(r.trace, "hostname", "checked"), "::1");
    result_free(&r);
    /* the address, not its spelling */
    run_case(t, "leaf.pem", "rest-full.pem", "leaf.key", "0:0:0:0:0:0:0:1",
        PKI_VERIFY_FULL, &r);
    expect_ok(&r, "ROOT-A");
    result_free(&r);
    run_case(t, "leaf.pem", "rest-full.pem", "leaf.key", "::2", PKI_VERIFY_FULL,
        &r);
    assert_int_equal(r.v.klass, PKI_HOSTNAME_MISMATCH);
    assert_string_equal(r.v.code, "hostname_mismatch");
    assert_non_null(strstr(r.v.message, "not valid for '::2'"));
    assert_non_null(strstr(r.v.message, "IP:::1"));
    assert_string_equal(trace_str(r.trace, "hostname", "result"), "mismatch");
    { /* the verify callback's own IP check is in the trace */
        cJSON *e, *errs = cJSON_GetObjectItem(r.trace, "verify_errors");
        int    seen = 0;
        cJSON_ArrayForEach(e, errs) seen |=
            cJSON_GetNumberValue(cJSON_GetObjectItem(e, "error")) == 64;
        assert_true(seen);
    }
    result_free(&r);
    /* an IPv4 address in an IPv6 SAN's place is not the same address */
    run_case(t, "leaf.pem", "rest-full.pem", "leaf.key", "::ffff:127.0.0.2",
        PKI_VERIFY_FULL, &r);
    assert_int_equal(r.v.klass, PKI_HOSTNAME_MISMATCH);
    result_free(&r);
    /* a wrong address on an untrusted chain: both are told */
    run_case(none, "leaf.pem", "rest-full.pem", "leaf.key", "::2",
        PKI_VERIFY_FULL, &r);
    assert_int_equal(r.v.klass, PKI_HOSTNAME_MISMATCH);
    assert_non_null(strstr(r.v.message, "which no trustpoint holds"));
    assert_true(r.v.missing_issuer[0] != '\0');
    result_free(&r);
    pki_trust_unref(none);
    pki_trust_unref(t);
}

static void
cached_session_should_not_skip_the_check_of_another_name(void **state)
{
    struct tp_spec    s[] = { { "ROOT-A", "root-a.pem", PKI_CHAIN_CONTINUE } };
    struct pki_trust *t = trust(s, 1, 0);
    struct pkitest_server srv;
    struct result         r;
    const char           *vers[] = { "-tls1_2", "-tls1_3" };
    char                  key[64];
    size_t                i;

    (void)state;
    for (i = 0; i < 2; i++) {
        if (pkitest_server_start(&srv, "leaf.pem", "rest-full.pem", "leaf.key",
                vers[i])
            != 0) {
            pkitest_server_stop(&srv);
            fail_msg("openssl s_server did not start");
        }
        /* one key for the server, as smtp_tls.c gives "host:port" */
        snprintf(key, sizeof(key), "server-%zu:%d", i, srv.port);
        handshake_key(t, srv.port, "localhost", PKI_VERIFY_FULL, key, &r);
        expect_ok(&r, "ROOT-A");
        assert_false(r.resumed);
        result_free(&r);
        /* Another name for the same server must be checked, not resumed
         * from the session verified for "localhost". */
        handshake_key(t, srv.port, "mail.example.test", PKI_VERIFY_FULL, key,
            &r);
        if (r.resumed || r.v.klass != PKI_HOSTNAME_MISMATCH)
            fail_msg("%s: resumed=%d class=%s: %s", vers[i], r.resumed,
                r.v.code, r.v.message);
        result_free(&r);
        /* Unverified connections neither use nor feed the cache. */
        handshake_key(t, srv.port, "localhost", PKI_VERIFY_NONE, key, &r);
        assert_int_equal(r.v.klass, PKI_OK);
        assert_false(r.resumed);
        result_free(&r);
        /* The name verified before resumes, and the trace says when and
         * against what the verification was done. */
        handshake_key(t, srv.port, "localhost", PKI_VERIFY_FULL, key, &r);
        assert_int_equal(r.v.klass, PKI_OK);
        if (!r.resumed)
            fail_msg("%s: the same name did not resume", vers[i]);
        assert_non_null(strstr(r.v.message,
            "verified on the first "
            "connection at 20"));
        assert_non_null(strstr(r.v.message, "'localhost'"));
        assert_non_null(strstr(r.v.message, "trustpoint 'ROOT-A'"));
        assert_string_equal(trace_str(r.trace, "resumed_verification", "name"),
            "localhost");
        assert_string_equal(trace_str(r.trace, "resumed_verification",
                                "anchor"),
            "ROOT-A");
        assert_int_equal(strlen(trace_str(r.trace, "resumed_verification",
                             "verified_at")),
            20); /* 2026-01-02T03:04:05Z */
        assert_non_null(trace_str(r.trace, "hostname", "checked_at"));
        result_free(&r);
        pkitest_server_stop(&srv);
    }
    pki_trust_unref(t);
}

static void
consecutive_resumptions_should_all_succeed(void **state)
{
    struct tp_spec    s[] = { { "ROOT-A", "root-a.pem", PKI_CHAIN_CONTINUE } };
    struct pki_trust *t = trust(s, 1, 0);
    struct pkitest_server srv;
    struct result         r;
    int                   i, resumed = 0;

    (void)state;
    /* A resumed TLS 1.3 session re-saved by wolfSSL 5.5.4 made the next
     * resumption fail ("binder does not verify"). */
    if (pkitest_server_start(&srv, "leaf.pem", "rest-full.pem", "leaf.key",
            "-tls1_3")
        != 0) {
        pkitest_server_stop(&srv);
        fail_msg("openssl s_server did not start");
    }
    for (i = 0; i < 5; i++) {
        handshake(t, srv.port, "localhost", PKI_VERIFY_FULL, &r);
        if (r.v.klass != PKI_OK)
            fail_msg("connection %d: %s: %s", i + 1, r.v.code, r.v.message);
        resumed += r.resumed;
        result_free(&r);
    }
    assert_int_equal(resumed, 4);
    pkitest_server_stop(&srv);
    pki_trust_unref(t);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(root_only_should_verify_the_gmail_shaped_chain),
        cmocka_unit_test(
            old_root_only_should_verify_through_the_cross_signed_root),
        cmocka_unit_test(intermediate_with_stop_should_be_an_anchor),
        cmocka_unit_test(pinned_leaf_with_stop_should_verify),
        cmocka_unit_test(no_trustpoint_should_name_the_missing_issuer),
        cmocka_unit_test(self_signed_leaf_should_be_untrusted),
        cmocka_unit_test(wrong_host_should_be_a_hostname_mismatch),
        cmocka_unit_test(expired_leaf_should_be_expired),
        cmocka_unit_test(
            continue_with_only_the_intermediate_should_be_untrusted),
        cmocka_unit_test(
            continue_with_its_root_should_load_and_anchor_at_the_intermediate),
        cmocka_unit_test(system_pool_should_load_and_not_trust_the_test_pki),
        cmocka_unit_test(revocation_crl_should_be_refused_clearly),
        cmocka_unit_test(verify_none_should_connect_and_say_insecure),
        cmocka_unit_test(rebuilding_the_trust_should_drop_cached_sessions),
        cmocka_unit_test(one_trust_should_serve_concurrent_handshakes),
        cmocka_unit_test(ipv6_literal_should_be_checked_against_the_ip_sans),
        cmocka_unit_test(
            cached_session_should_not_skip_the_check_of_another_name),
        cmocka_unit_test(consecutive_resumptions_should_all_succeed),
    };

    return cmocka_run_group_tests(tests, setup, teardown);
}
