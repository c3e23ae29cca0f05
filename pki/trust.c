/* SPDX-License-Identifier: MIT */
/*
 * pki/trust.c: the verification context built from the trustpoints, with IOS
 * semantics. A "chain-validation stop" certificate is an anchor even when it
 * is not self-signed (an intermediate is loaded as a CA; a non-CA server
 * certificate goes to wolfSSL's trusted-peer table: a pinned leaf). A
 * "continue" certificate must reach a self-signed root held by another
 * trustpoint; one that does not is left out and reported in the notes. The
 * object also holds the TLS session cache (keyed "host:port"), so rebuilding
 * it after any trust change drops every cached session: a resumed session
 * runs no chain or host name check.
 */
#include "pki/pki_int.h"

#include <arpa/inet.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "common/log.h"
#include "pki/trust_int.h"

#define PKI_SYSTEM_BUNDLE "/etc/ssl/certs/ca-certificates.crt"

static void
note(struct pki_trust *t, const char *tp, const char *code, const char *fmt,
    ...) __attribute__((format(printf, 4, 5)));

static void
note(struct pki_trust *t, const char *tp, const char *code, const char *fmt,
    ...)
{
    cJSON  *o = cJSON_CreateObject();
    char    msg[600];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    cJSON_AddStringToObject(o, "trustpoint", tp);
    cJSON_AddStringToObject(o, "code", code);
    cJSON_AddStringToObject(o, "message", msg);
    cJSON_AddItemToArray(t->notes, o);
    log_info("pki", "event=trust-note trustpoint=%s code=%s", tp, code);
}

/* 1 when trustpoint i reaches a self-signed root (or a "stop" anchor) through
 * the other trustpoints' certificates. */
static int
reaches_anchor(const struct pki_trust *t, size_t i, int depth)
{
    const struct pki_cert *c = t->tps[i].cert;
    size_t                 j;

    if (c->self_signed)
        return 1;
    if (depth > 8)
        return 0;
    for (j = 0; j < t->ntps; j++) {
        if (j == i || t->tps[j].cert == NULL)
            continue;
        if (!pki_cert_issued_by(c, t->tps[j].cert))
            continue;
        if (t->tps[j].chain_validation == PKI_CHAIN_STOP ||
            reaches_anchor(t, j, depth + 1))
            return 1;
    }
    return 0;
}

const char *
trust_verify_error_str(int err)
{
    switch (err) {
    case 0:
        return "ok";
    case 2:
        return "unable to get the issuer certificate";
    case 7:
        return "certificate signature failure";
    case 9:
        return "certificate is not yet valid";
    case 10:
        return "certificate has expired";
    case 13:
        return "certificate is not yet valid (notBefore)";
    case 14:
        return "certificate has expired (notAfter)";
    case 18:
        return "self-signed certificate";
    case 19:
        return "self-signed certificate in the chain";
    case 20:
        return "unable to get the local issuer certificate";
    case 21:
        return "unable to verify the first certificate";
    case 24:
        return "invalid CA certificate";
    case 25:
        return "path length constraint exceeded";
    case 62:
        return "host name mismatch";
    case 64:
        return "IP address mismatch";
    case -150: /* ASN_BEFORE_DATE_E */
        return "certificate is not yet valid";
    case -151: /* ASN_AFTER_DATE_E */
        return "certificate has expired";
    case -188: /* ASN_NO_SIGNER_E */
        return "no trusted signer (issuer) for this certificate";
    case -275: /* ASN_SELF_SIGNED_E */
        return "self-signed certificate that is not trusted";
    case -322: /* DOMAIN_NAME_MISMATCH */
        return "the certificate does not name this host";
    case -325: /* IPADDR_MISMATCH */
        return "the certificate does not name this IP address";
    default:
        return "certificate verification error";
    }
}

static struct trust_vrec *
vrec_find(struct pki_trust *t, const WOLFSSL *ssl)
{
    size_t i;

    for (i = 0; i < t->nvrecs; i++)
        if (t->vrecs[i].ssl == ssl)
            return &t->vrecs[i];
    return NULL;
}

int
trust_vrec_take(struct pki_trust *t, const WOLFSSL *ssl,
    struct trust_vrec *out)
{
    struct trust_vrec *r;
    int                rc = -1;

    pthread_mutex_lock(&t->mu);
    if ((r = vrec_find(t, ssl)) != NULL) {
        *out = *r;
        *r = t->vrecs[--t->nvrecs];
        rc = 0;
    }
    pthread_mutex_unlock(&t->mu);
    return rc;
}

/* Records what wolfSSL decided for each certificate; never changes it.
 * Classification happens later, from the handshake error and herald's own
 * walk of the chain (with ALT_CERT_CHAINS every error lands at the leaf). */
static int
verify_cb(int preverify, WOLFSSL_X509_STORE_CTX *store)
{
    WOLFSSL           *ssl;
    struct pki_trust  *t;
    struct trust_vrec *r;

    ssl = wolfSSL_X509_STORE_CTX_get_ex_data(store,
        wolfSSL_get_ex_data_X509_STORE_CTX_idx());
    if (ssl == NULL)
        return preverify;
    t = wolfSSL_CTX_get_ex_data(wolfSSL_get_SSL_CTX(ssl), 0);
    log_debug("pki", "event=verify-cert depth=%d preverify=%d error=%d "
        "reason=\"%s\"", store->error_depth, preverify, store->error,
        trust_verify_error_str(preverify ? 0 : store->error));
    if (t == NULL)
        return preverify;
    pthread_mutex_lock(&t->mu);
    if ((r = vrec_find(t, ssl)) != NULL) {
        r->ncerts = store->totalCerts;
        if (!preverify && r->nerr < PKI_VREC_ERRS) {
            r->e[r->nerr].depth = store->error_depth;
            r->e[r->nerr].err = store->error;
            r->nerr++;
        }
    }
    pthread_mutex_unlock(&t->mu);
    return preverify;
}

static void
load_cert(struct pki_trust *t, struct trust_tp *tp)
{
    int rc;

    rc = wolfSSL_CTX_load_verify_buffer_ex(t->ctx, tp->cert->der,
        (long)tp->cert->der_len, WOLFSSL_FILETYPE_ASN1, 0,
        WOLFSSL_LOAD_FLAG_DATE_ERR_OKAY);
    if (rc != WOLFSSL_SUCCESS) {
        note(t, tp->name, "load_failed",
            "trustpoint '%s' ('%s') could not be loaded into the TLS "
            "library (wolfSSL error %d); it is not used", tp->name,
            tp->cert->subject, rc);
        return;
    }
    tp->loaded = 1;
    tp->pinned = !tp->cert->is_ca;
}

int
pki_trust_new(const struct pki_trustpoint *tps, size_t n, unsigned flags,
    struct pki_trust **out, struct errbuf *eb)
{
    struct pki_trust *t;
    size_t            i;
    int               rc = 0;

    *out = NULL;
    for (i = 0; i < n; i++) {
        if (tps[i].name == NULL || tps[i].name[0] == '\0')
            return err_field(eb, ERR_INVAL, "name", "invalid_trustpoint",
                "trustpoint %zu has no name", i + 1);
        if (tps[i].chain_validation != PKI_CHAIN_CONTINUE &&
            tps[i].chain_validation != PKI_CHAIN_STOP)
            return err_field(eb, ERR_INVAL, "chain_validation",
                "invalid_trustpoint",
                "trustpoint '%s': chain-validation must be 'stop' or "
                "'continue'", tps[i].name);
        if (tps[i].revocation == PKI_REV_CRL ||
            tps[i].revocation == PKI_REV_OCSP)
            return err_field(eb, ERR_UNSUPPORTED, "revocation_check",
                "unsupported",
                "trustpoint '%s': revocation-check %s is not supported by "
                "herald; use revocation-check none", tps[i].name,
                tps[i].revocation == PKI_REV_CRL ? "crl" : "ocsp");
        if (tps[i].revocation != PKI_REV_NONE)
            return err_field(eb, ERR_INVAL, "revocation_check",
                "invalid_trustpoint",
                "trustpoint '%s': revocation-check must be none, crl or "
                "ocsp", tps[i].name);
    }
    if ((t = calloc(1, sizeof(*t))) == NULL)
        return err_set(eb, ERR_NOMEM, "nomem", "out of memory");
    atomic_init(&t->refs, 1);
    pthread_mutex_init(&t->mu, NULL);
    t->flags = flags;
    t->notes = cJSON_CreateArray();
    t->tps = calloc(n ? n : 1, sizeof(*t->tps));
    if (t->notes == NULL || t->tps == NULL) {
        rc = err_set(eb, ERR_NOMEM, "nomem", "out of memory");
        goto fail;
    }
    t->ntps = n;
    for (i = 0; i < n; i++) {
        struct trust_tp *tp = &t->tps[i];
        tp->name = strdup(tps[i].name);
        tp->chain_validation = tps[i].chain_validation;
        if (tp->name == NULL) {
            rc = err_set(eb, ERR_NOMEM, "nomem", "out of memory");
            goto fail;
        }
        if (tps[i].cert != NULL &&
            (rc = pki_cert_from_der(tps[i].cert->der, tps[i].cert->der_len,
                 &tp->cert, eb)) != 0)
            goto fail;
    }
    t->ctx = wolfSSL_CTX_new(wolfSSLv23_client_method());
    if (t->ctx == NULL) {
        rc = err_set(eb, ERR_TLS, "tls", "cannot create a TLS context");
        goto fail;
    }
    wolfSSL_CTX_SetMinVersion(t->ctx, WOLFSSL_TLSV1_2);
    wolfSSL_CTX_set_verify(t->ctx, WOLFSSL_VERIFY_PEER, verify_cb);
    wolfSSL_CTX_set_ex_data(t->ctx, 0, t);
    if (flags & PKI_TRUST_SYSTEM_POOL) {
        if (wolfSSL_CTX_load_verify_locations_ex(t->ctx, PKI_SYSTEM_BUNDLE,
                NULL, WOLFSSL_LOAD_FLAG_IGNORE_ERR) != WOLFSSL_SUCCESS)
            note(t, "", "system_pool_unavailable",
                "the system CA pool %s could not be loaded; only "
                "trustpoints are trusted", PKI_SYSTEM_BUNDLE);
        else
            t->system_pool = 1;
    }
    for (i = 0; i < n; i++) {
        struct trust_tp *tp = &t->tps[i];
        if (tp->cert == NULL) {
            note(t, tp->name, "not_authenticated",
                "trustpoint '%s' has no certificate yet (crypto pki "
                "authenticate was not done); it anchors nothing", tp->name);
            continue;
        }
        if (tp->chain_validation == PKI_CHAIN_STOP ||
            tp->cert->self_signed) {
            load_cert(t, tp);
            continue;
        }
        if (reaches_anchor(t, i, 0)) {
            load_cert(t, tp);
            continue;
        }
        note(t, tp->name, "continue_without_root",
            "trustpoint '%s' ('%s') is not used: with chain-validation "
            "continue its issuer '%s' must be held by another trustpoint, "
            "up to a self-signed root, and none holds it; import that "
            "issuer's certificate, or set chain-validation stop on '%s'",
            tp->name, tp->cert->subject, tp->cert->issuer, tp->name);
    }
    {
        size_t loaded = 0;
        for (i = 0; i < n; i++)
            loaded += t->tps[i].loaded;
        log_info("pki", "event=trust-built trustpoints=%zu loaded=%zu "
            "system_pool=%d notes=%d", n, loaded, t->system_pool,
            cJSON_GetArraySize(t->notes));
    }
    *out = t;
    return 0;
fail:
    pki_trust_unref(t);
    return rc;
}

struct pki_trust *
pki_trust_ref(struct pki_trust *t)
{
    if (t != NULL)
        atomic_fetch_add(&t->refs, 1);
    return t;
}

void
pki_trust_unref(struct pki_trust *t)
{
    size_t i;

    if (t == NULL || atomic_fetch_sub(&t->refs, 1) != 1)
        return;
    for (i = 0; i < t->nsess; i++) {
        free(t->sess[i].key);
        wolfSSL_SESSION_free(t->sess[i].s);
    }
    for (i = 0; t->tps != NULL && i < t->ntps; i++) {
        free(t->tps[i].name);
        pki_cert_free(t->tps[i].cert);
    }
    free(t->tps);
    free(t->vrecs);
    if (t->ctx != NULL)
        wolfSSL_CTX_free(t->ctx);
    cJSON_Delete(t->notes);
    pthread_mutex_destroy(&t->mu);
    free(t);
}

cJSON *
pki_trust_notes(const struct pki_trust *t)
{
    if (t == NULL)
        return cJSON_CreateArray();
    return cJSON_Duplicate(t->notes, 1);
}

static int
is_ip_literal(const char *s)
{
    unsigned char buf[16];

    return inet_pton(AF_INET, s, buf) == 1 || inet_pton(AF_INET6, s, buf) == 1;
}

struct WOLFSSL *
pki_tls_new(struct pki_trust *t, const char *sni, const char *verify_name,
    int verify_mode, const char *session_key, struct errbuf *eb)
{
    WOLFSSL *ssl;
    size_t   i;

    if (t == NULL || t->ctx == NULL) {
        err_set(eb, ERR_INVAL, "tls", "no verification context");
        return NULL;
    }
    if (verify_mode == PKI_VERIFY_FULL &&
        (verify_name == NULL || verify_name[0] == '\0')) {
        err_set(eb, ERR_INVAL, "tls",
            "no host name to verify the server's certificate against");
        return NULL;
    }
    if ((ssl = wolfSSL_new(t->ctx)) == NULL) {
        err_set(eb, ERR_NOMEM, "tls", "cannot create a TLS connection");
        return NULL;
    }
    if (verify_mode == PKI_VERIFY_NONE) {
        wolfSSL_set_verify(ssl, WOLFSSL_VERIFY_NONE, NULL);
    } else if (wolfSSL_check_domain_name(ssl, verify_name) !=
        WOLFSSL_SUCCESS) {
        err_set(eb, ERR_TLS, "tls", "cannot set the host name to verify");
        wolfSSL_free(ssl);
        return NULL;
    }
    if (sni != NULL && sni[0] != '\0' && !is_ip_literal(sni) &&
        wolfSSL_UseSNI(ssl, WOLFSSL_SNI_HOST_NAME, sni,
            (unsigned short)strlen(sni)) != WOLFSSL_SUCCESS) {
        err_set(eb, ERR_TLS, "tls", "cannot set SNI '%s'", sni);
        wolfSSL_free(ssl);
        return NULL;
    }
    wolfSSL_UseSessionTicket(ssl);
    if (verify_mode == PKI_VERIFY_FULL) {
        struct trust_vrec *r;
        pthread_mutex_lock(&t->mu);
        if ((r = vrec_find(t, ssl)) == NULL && t->nvrecs >= PKI_VREC_MAX) {
            /* callers that never ask for a verdict: drop the oldest */
            memmove(&t->vrecs[0], &t->vrecs[1],
                (t->nvrecs - 1) * sizeof(t->vrecs[0]));
            t->nvrecs--;
        }
        if (r == NULL) { /* else a stale record of a freed WOLFSSL */
            r = realloc(t->vrecs, (t->nvrecs + 1) * sizeof(*r));
            if (r != NULL) {
                t->vrecs = r;
                r = &t->vrecs[t->nvrecs++];
            }
        }
        if (r != NULL) {
            memset(r, 0, sizeof(*r));
            r->ssl = ssl;
        }
        pthread_mutex_unlock(&t->mu);
    }
    if (session_key != NULL && verify_mode == PKI_VERIFY_FULL) {
        pthread_mutex_lock(&t->mu);
        for (i = 0; i < t->nsess; i++) {
            if (strcmp(t->sess[i].key, session_key) == 0) {
                wolfSSL_set_session(ssl, t->sess[i].s);
                break;
            }
        }
        pthread_mutex_unlock(&t->mu);
    }
    return ssl;
}

void
pki_tls_save_session(struct pki_trust *t, struct WOLFSSL *ssl,
    const char *session_key)
{
    WOLFSSL_SESSION *s;
    size_t           i;
    char            *k;

    if (t == NULL || ssl == NULL || session_key == NULL)
        return;
    /* An unverified session must never be resumed by a verified one. */
    if (wolfSSL_get_verify_mode(ssl) == WOLFSSL_VERIFY_NONE)
        return;
    if ((s = wolfSSL_get1_session(ssl)) == NULL)
        return;
    pthread_mutex_lock(&t->mu);
    for (i = 0; i < t->nsess; i++) {
        if (strcmp(t->sess[i].key, session_key) == 0) {
            wolfSSL_SESSION_free(t->sess[i].s);
            t->sess[i].s = s;
            pthread_mutex_unlock(&t->mu);
            return;
        }
    }
    if ((k = strdup(session_key)) == NULL) {
        pthread_mutex_unlock(&t->mu);
        wolfSSL_SESSION_free(s);
        return;
    }
    if (t->nsess == PKI_SESS_MAX) { /* drop the oldest */
        free(t->sess[0].key);
        wolfSSL_SESSION_free(t->sess[0].s);
        memmove(&t->sess[0], &t->sess[1],
            (PKI_SESS_MAX - 1) * sizeof(t->sess[0]));
        t->nsess--;
    }
    t->sess[t->nsess].key = k;
    t->sess[t->nsess].s = s;
    t->nsess++;
    pthread_mutex_unlock(&t->mu);
}
