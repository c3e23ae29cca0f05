/* SPDX-License-Identifier: MIT */
/*
 * engine/smtp/smtp_tls.c: TLS for the SMTP client, the only file outside
 * pki/ that includes wolfSSL (curl's vtls fence).
 *
 * The WOLFSSL object comes from pki_tls_new(), which sets SNI, the host name
 * check and the verify callback that records the presented chain. This file
 * runs the handshake on the client's non-blocking socket against the reply
 * deadline, asks pki_tls_verdict() to classify the outcome (untrusted chain,
 * host name mismatch, expired, other handshake failure), and moves bytes.
 */
#include "engine/smtp/smtp_int.h"

#include <wolfssl/options.h>
#include <wolfssl/ssl.h>

#include <arpa/inet.h>
#include <cjson/cJSON.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>

#include "common/log.h"

static int
smtp_tls_is_ip(const char *h)
{
    unsigned char a[16];

    return inet_pton(AF_INET, h, a) == 1 || inet_pton(AF_INET6, h, a) == 1;
}

/*
 * wolfSSL's receive callback. wolfSSL asks for a record's 5-byte header,
 * then for its body: two recv() calls a record. An SMTP reply is one small
 * record, so one recv() into c->tin usually takes all of it (and what
 * follows), and the body comes from there. smtp_tls_pending() counts what
 * c->tin holds, so nobody polls the socket for bytes already taken.
 */
static int
smtp_tls_recv(WOLFSSL *ssl, char *buf, int sz, void *ctx)
{
    struct smtp_client *c = ctx;
    size_t              k;
    ssize_t             r;

    (void)ssl;
    if (sz <= 0)
        return 0;
    if (c->tin_len == 0) {
        /* a large request (handshake messages) goes straight in */
        if ((size_t)sz >= sizeof(c->tin))
            r = recv(c->fd, buf, (size_t)sz, 0);
        else if ((r = recv(c->fd, c->tin, sizeof(c->tin), 0)) > 0)
            c->tin_len = (size_t)r;
        if (r == 0)
            return WOLFSSL_CBIO_ERR_CONN_CLOSE;
        if (r < 0)
            return errno == EAGAIN || errno == EWOULDBLOCK
                ? WOLFSSL_CBIO_ERR_WANT_READ
                : errno == EINTR      ? WOLFSSL_CBIO_ERR_ISR
                : errno == ECONNRESET ? WOLFSSL_CBIO_ERR_CONN_RST
                : errno == EPIPE      ? WOLFSSL_CBIO_ERR_CONN_CLOSE
                                      : WOLFSSL_CBIO_ERR_GENERAL;
        if (c->tin_len == 0)
            return (int)r;
    }
    k = c->tin_len - c->tin_off;
    if (k > (size_t)sz)
        k = (size_t)sz;
    memcpy(buf, c->tin + c->tin_off, k);
    c->tin_off += k;
    if (c->tin_off == c->tin_len)
        c->tin_off = c->tin_len = 0;
    return (int)k;
}

int
smtp_tls_start(struct smtp_client *c, struct smtp_result *res)
{
    struct pki_verdict v;
    struct errbuf      eb = { 0 };
    char               key[300];
    const char *vname = c->tls_name && *c->tls_name ? c->tls_name : c->host;
    cJSON      *tt = NULL;
    long long   deadline;
    WOLFSSL    *ssl;
    int         ret, err = 0, rc;

    snprintf(key, sizeof(key), "%s:%u", c->host, c->port);
    ssl = pki_tls_new(c->trust, smtp_tls_is_ip(c->host) ? NULL : c->host, vname,
        c->verify, key, &eb);
    if (ssl == NULL) {
        smtp_result_set(res, ERR_TLS, "tls_handshake", 1, NULL,
            "Check the trustpoints and trust settings.",
            "cannot prepare TLS for %s: %s", key,
            eb.msg[0] ? eb.msg : "no TLS context");
        smtp_trace_note(c, "%s", res->message);
        return ERR_TLS;
    }
    if (wolfSSL_set_fd(ssl, c->fd) != WOLFSSL_SUCCESS) {
        wolfSSL_free(ssl);
        smtp_result_set(res, ERR_TLS, "tls_handshake", 0, NULL, "",
            "cannot attach TLS to the socket");
        return ERR_TLS;
    }
    wolfSSL_set_using_nonblock(ssl, 1);
    c->tin_off = c->tin_len = 0;
    wolfSSL_SSLSetIORecv(ssl, smtp_tls_recv);
    wolfSSL_SetIOReadCtx(ssl, c);
    deadline = smtp_now_ms() + c->reply_timeout_ms;
    for (;;) {
        ret = wolfSSL_connect(ssl);
        if (ret == WOLFSSL_SUCCESS) {
            err = 0;
            break;
        }
        err = wolfSSL_get_error(ssl, ret);
        if (err == WOLFSSL_ERROR_WANT_READ || err == WOLFSSL_ERROR_WANT_WRITE) {
            c->fd = wolfSSL_get_fd(ssl);
            if ((rc = smtp_wait_fd(c, err == WOLFSSL_ERROR_WANT_WRITE,
                     deadline))
                != 0) {
                wolfSSL_free(ssl);
                smtp_result_set(res, ERR_TIMEOUT, "timeout", 0, NULL,
                    "Check that the port speaks TLS (implicit TLS is usually "
                    "465, STARTTLS 587).",
                    "the TLS handshake with %s did not finish within %u ms",
                    key, c->reply_timeout_ms);
                smtp_trace_note(c, "%s", res->message);
                return ERR_TIMEOUT;
            }
            continue;
        }
        break;
    }
    if (c->trace != NULL) {
        cJSON_DeleteItemFromObjectCaseSensitive(c->trace, "tls");
        tt = cJSON_AddObjectToObject(c->trace, "tls");
    }
    memset(&v, 0, sizeof(v));
    pki_tls_verdict(c->trust, ssl, err, vname, c->verify, &v, tt);
    /* wolfSSL's fixed-point ECC cache is per thread (~3 MB once the
     * verdict has checked the chain's signatures a second time) and only
     * pays off for many handshakes; sessions are kept open and resumed, so
     * keep every sender thread's memory flat instead */
    pki_thread_cleanup();
    if (err != 0 || (v.klass != PKI_OK && !v.insecure)) {
        const char *k = pki_verdict_code(
            err == 0 && v.klass == PKI_OK ? PKI_HANDSHAKE : v.klass);

        /* a failed resumption is not the server's certificate: the cached
         * session is gone, and a retry does a full handshake */
        c->tls_resume_failed = v.resume_failed;
        smtp_result_set(res, ERR_TLS, k,
            !v.resume_failed
                && (v.klass == PKI_UNTRUSTED || v.klass == PKI_HOSTNAME_MISMATCH
                    || v.klass == PKI_EXPIRED),
            NULL,
            v.advice[0] ? v.advice
                        : "Check that the server speaks TLS on "
                          "this port and supports TLS 1.2 or 1.3.",
            "TLS with %s failed: %s", key,
            v.message[0] ? v.message
                         : wolfSSL_ERR_reason_error_string((unsigned long)err));
        smtp_trace_note(c, "%s", res->message);
        log_info("smtp", "session=%016llx event=tls result=%s host=%s",
            (unsigned long long)c->session, k, key);
        wolfSSL_free(ssl);
        return ERR_TLS;
    }
    c->ssl = ssl;
    c->save_session = 1;
    smtp_trace_note(c, "TLS established: %s %s%s%s", wolfSSL_get_version(ssl),
        wolfSSL_get_cipher(ssl) ? wolfSSL_get_cipher(ssl) : "",
        v.anchor[0] ? ", anchored at trustpoint " : "", v.anchor);
    if (v.insecure)
        smtp_trace_note(c,
            "certificate verification is OFF: the server's "
            "identity was not checked");
    return 0;
}

long
smtp_tls_read(struct smtp_client *c, char *buf, size_t n, int *want)
{
    int r = wolfSSL_read(c->ssl, buf, n > 65536 ? 65536 : (int)n), e;

    if (r > 0)
        return r;
    e = wolfSSL_get_error(c->ssl, r);
    if (e == WOLFSSL_ERROR_ZERO_RETURN)
        return 0;
    *want = e == WOLFSSL_ERROR_WANT_READ ? 1
        : e == WOLFSSL_ERROR_WANT_WRITE  ? 2
                                         : 0;
    if (*want == 0 && (e == SOCKET_PEER_CLOSED_E || e == SOCKET_ERROR_E))
        return 0;
    return -1;
}

long
smtp_tls_write(struct smtp_client *c, const char *buf, size_t n, int *want)
{
    int r = wolfSSL_write(c->ssl, buf, n > 65536 ? 65536 : (int)n), e;

    if (r > 0)
        return r;
    e = wolfSSL_get_error(c->ssl, r);
    *want = e == WOLFSSL_ERROR_WANT_READ ? 1
        : e == WOLFSSL_ERROR_WANT_WRITE  ? 2
                                         : 0;
    return -1;
}

void
smtp_tls_save_session(struct smtp_client *c)
{
    char key[300];

    c->save_session = 0;
    if (c->ssl == NULL)
        return;
    snprintf(key, sizeof(key), "%s:%u", c->host, c->port);
    pki_tls_save_session(c->trust, c->ssl, key);
}

int
smtp_tls_pending(struct smtp_client *c)
{
    return c->ssl != NULL
        && (c->tin_len > 0 || wolfSSL_pending(c->ssl) > 0
            || wolfSSL_has_pending(c->ssl));
}

void
smtp_tls_free(struct smtp_client *c)
{
    if (c->ssl == NULL)
        return;
    wolfSSL_shutdown(c->ssl);
    wolfSSL_free(c->ssl);
    c->ssl = NULL;
    c->tin_off = c->tin_len = 0;
}
