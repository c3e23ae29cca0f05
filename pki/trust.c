/* SPDX-License-Identifier: MIT */
/*
 * pki/trust.c: the verification context built from the trustpoints, with IOS
 * semantics. A "chain-validation stop" certificate is an anchor even when it
 * is not self-signed (an intermediate is loaded as a CA; a non-CA server
 * certificate goes to wolfSSL's trusted-peer table: a pinned leaf). A
 * "continue" certificate must reach a self-signed root held by another
 * trustpoint; one that does not is left out and reported in the notes. The
 * object also holds the TLS session cache, so rebuilding it after any trust
 * change drops every cached session: a resumed session runs no chain or host
 * name check. For the same reason a session is keyed by everything that
 * decided what was verified (the caller's "host:port", SNI, the name checked
 * and the verify mode), is saved only after a verified full handshake, is
 * never replaced by the session of a resumption, and is dropped when a
 * resumption with it fails.
 *
 * IP literals: wolfSSL 5.5.4's wolfSSL_check_domain_name() does not match
 * IPv6 addresses, and a mismatch set with wolfSSL_set1_ip_asc() reaches the
 * verify callback with preverify = 1. herald checks the leaf's iPAddress
 * SANs itself in the verify callback (binary compare of inet_pton()) and
 * fails the handshake there.
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

static void note(struct pki_trust *t, const char *tp, const char *code,
    const char *fmt, ...) __attribute__((format(printf, 4, 5)));

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
        if (t->tps[j].chain_validation == PKI_CHAIN_STOP
            || reaches_anchor(t, j, depth + 1))
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
trust_vrec_get(struct pki_trust *t, const WOLFSSL *ssl, struct trust_vrec *out)
{
    struct trust_vrec *r;
    int                rc = -1;

    pthread_mutex_lock(&t->mu);
    if ((r = vrec_find(t, ssl)) != NULL) {
        *out = *r;
        rc = 0;
    }
    pthread_mutex_unlock(&t->mu);
    return rc;
}

void
trust_vrec_done(struct pki_trust *t, const WOLFSSL *ssl, int what, int drop)
{
    struct trust_vrec *r;

    pthread_mutex_lock(&t->mu);
    if ((r = vrec_find(t, ssl)) != NULL) {
        if (what == 1)
            r->verdict_done = 1;
        else
            r->save_done = 1;
        if (drop || (r->verdict_done && r->save_done))
            *r = t->vrecs[--t->nvrecs];
    }
    pthread_mutex_unlock(&t->mu);
}

static void
sess_remove(struct pki_trust *t, size_t i)
{
    free(t->sess[i].key);
    wolfSSL_SESSION_free(t->sess[i].s);
    memmove(&t->sess[i], &t->sess[i + 1],
        (t->nsess - i - 1) * sizeof(t->sess[0]));
    t->nsess--;
}

void
trust_sess_drop(struct pki_trust *t, const char *key)
{
    size_t i;

    if (t == NULL || key == NULL || key[0] == '\0')
        return;
    pthread_mutex_lock(&t->mu);
    for (i = 0; i < t->nsess; i++) {
        if (strcmp(t->sess[i].key, key) == 0) {
            sess_remove(t, i);
            break;
        }
    }
    pthread_mutex_unlock(&t->mu);
}

/* 1 when the leaf (DER) names the IP address of r, else 0. */
static int
leaf_has_ip(const unsigned char *der, int len, const struct trust_vrec *r)
{
    struct pki_cert *c = NULL;
    int              ok;

    if (der == NULL || len <= 0
        || pki_cert_from_der(der, (size_t)len, &c, NULL) != 0)
        return 0;
    ok = pki_cert_has_ip(c, r->ip, r->iplen);
    pki_cert_free(c);
    return ok;
}

/* Records what wolfSSL decided for each certificate; never changes it.
 * Classification happens later, from the handshake error and herald's own
 * walk of the chain (with ALT_CERT_CHAINS every error lands at the leaf). */
static int
verify_cb(int preverify, WOLFSSL_X509_STORE_CTX *store)
{
    WOLFSSL           *ssl;
    struct pki_trust  *t;
    struct trust_vrec *r, ipr;
    int                depth = store->error_depth, ipcheck = 0, ipok = 1;

    ssl = wolfSSL_X509_STORE_CTX_get_ex_data(store,
        wolfSSL_get_ex_data_X509_STORE_CTX_idx());
    if (ssl == NULL)
        return preverify;
    t = wolfSSL_CTX_get_ex_data(wolfSSL_get_SSL_CTX(ssl), 0);
    log_debug("pki",
        "event=verify-cert depth=%d preverify=%d error=%d "
        "reason=\"%s\"",
        depth, preverify, store->error,
        trust_verify_error_str(preverify ? 0 : store->error));
    if (t == NULL)
        return preverify;
    if (depth == 0 && trust_vrec_get(t, ssl, &ipr) == 0 && ipr.iplen > 0) {
        /* the IP literal against the leaf's iPAddress SANs */
        const unsigned char *der = NULL;
        int                  len = 0;
        WOLFSSL_X509        *x = store->current_cert;

        if (x != NULL)
            der = wolfSSL_X509_get_der(x, &len);
        if (der == NULL && store->certs != NULL && store->totalCerts > 0) {
            der = store->certs[0].buffer;
            len = (int)store->certs[0].length;
        }
        ipcheck = 1;
        ipok = leaf_has_ip(der, len, &ipr);
        log_debug("pki", "event=verify-ip name=%s result=%s", ipr.name,
            ipok ? "ok" : "mismatch");
    }
    pthread_mutex_lock(&t->mu);
    if ((r = vrec_find(t, ssl)) != NULL) {
        r->ncerts = store->totalCerts;
        if (!preverify && r->nerr < PKI_VREC_ERRS) {
            r->e[r->nerr].depth = depth;
            r->e[r->nerr].err = store->error;
            r->nerr++;
        }
        if (ipcheck && !ipok) {
            r->ip_mismatch = 1;
            if (r->nerr < PKI_VREC_ERRS) {
                r->e[r->nerr].depth = 0;
                r->e[r->nerr].err = 64; /* X509_V_ERR_IP_ADDRESS_MISMATCH */
                r->nerr++;
            }
        }
    }
    pthread_mutex_unlock(&t->mu);
    if (ipcheck && !ipok) {
        store->error = 64;
        return 0; /* fails the handshake: no session, no mail */
    }
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
            "library (wolfSSL error %d); it is not used",
            tp->name, tp->cert->subject, rc);
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
        if (tps[i].chain_validation != PKI_CHAIN_CONTINUE
            && tps[i].chain_validation != PKI_CHAIN_STOP)
            return err_field(eb, ERR_INVAL, "chain_validation",
                "invalid_trustpoint",
                "trustpoint '%s': chain-validation must be 'stop' or "
                "'continue'",
                tps[i].name);
        if (tps[i].revocation == PKI_REV_CRL
            || tps[i].revocation == PKI_REV_OCSP)
            return err_field(eb, ERR_UNSUPPORTED, "revocation_check",
                "unsupported",
                "trustpoint '%s': revocation-check %s is not supported by "
                "herald; use revocation-check none",
                tps[i].name, tps[i].revocation == PKI_REV_CRL ? "crl" : "ocsp");
        if (tps[i].revocation != PKI_REV_NONE)
            return err_field(eb, ERR_INVAL, "revocation_check",
                "invalid_trustpoint",
                "trustpoint '%s': revocation-check must be none, crl or "
                "ocsp",
                tps[i].name);
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
        if (tps[i].cert != NULL
            && (rc = pki_cert_from_der(tps[i].cert->der, tps[i].cert->der_len,
                    &tp->cert, eb))
                != 0)
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
                NULL, WOLFSSL_LOAD_FLAG_IGNORE_ERR)
            != WOLFSSL_SUCCESS)
            note(t, "", "system_pool_unavailable",
                "the system CA pool %s could not be loaded; only "
                "trustpoints are trusted",
                PKI_SYSTEM_BUNDLE);
        else
            t->system_pool = 1;
    }
    for (i = 0; i < n; i++) {
        struct trust_tp *tp = &t->tps[i];
        if (tp->cert == NULL) {
            note(t, tp->name, "not_authenticated",
                "trustpoint '%s' has no certificate yet (crypto pki "
                "authenticate was not done); it anchors nothing",
                tp->name);
            continue;
        }
        if (tp->chain_validation == PKI_CHAIN_STOP || tp->cert->self_signed) {
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
        log_info("pki",
            "event=trust-built trustpoints=%zu loaded=%zu "
            "system_pool=%d notes=%d",
            n, loaded, t->system_pool, cJSON_GetArraySize(t->notes));
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
    while (t->nsess > 0)
        sess_remove(t, t->nsess - 1);
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

/* The binary form of an IP literal into out (4 or 16 bytes), or 0. */
static size_t
ip_parse(const char *s, unsigned char out[16])
{
    if (s == NULL)
        return 0;
    if (inet_pton(AF_INET, s, out) == 1)
        return 4;
    if (inet_pton(AF_INET6, s, out) == 1)
        return 16;
    return 0;
}

/* The session cache key: everything that decides what a full handshake
 * verified. A session is only resumed under identical conditions. */
static int
sess_key(char *out, size_t sz, const char *session_key, const char *sni,
    const char *verify_name, int verify_mode)
{
    int n = snprintf(out, sz, "%s|sni=%s|name=%s|mode=%d", session_key,
        sni != NULL ? sni : "", verify_name != NULL ? verify_name : "",
        verify_mode);

    return n > 0 && (size_t)n < sz ? 0 : -1;
}

/* The record of a new ssl; drops the oldest when full. Under t->mu. */
static struct trust_vrec *
vrec_new(struct pki_trust *t, const WOLFSSL *ssl)
{
    struct trust_vrec *r;

    if ((r = vrec_find(t, ssl)) == NULL) {
        if (t->nvrecs >= PKI_VREC_MAX) {
            /* callers that never ask for a verdict: drop the oldest */
            memmove(&t->vrecs[0], &t->vrecs[1],
                (t->nvrecs - 1) * sizeof(t->vrecs[0]));
            t->nvrecs--;
        }
        r = realloc(t->vrecs, (t->nvrecs + 1) * sizeof(*r));
        if (r == NULL)
            return NULL;
        t->vrecs = r;
        r = &t->vrecs[t->nvrecs++];
    } /* else a stale record of a freed WOLFSSL at the same address */
    memset(r, 0, sizeof(*r));
    r->ssl = ssl;
    return r;
}

struct WOLFSSL *
pki_tls_new(struct pki_trust *t, const char *sni, const char *verify_name,
    int verify_mode, const char *session_key, struct errbuf *eb)
{
    WOLFSSL           *ssl;
    struct trust_vrec *r;
    unsigned char      ip[16] = { 0 }, tmp[16];
    size_t             iplen, i;
    char               key[PKI_SKEY_MAX];
    int                cacheable = 0, sni_ok;

    if (t == NULL || t->ctx == NULL) {
        err_set(eb, ERR_INVAL, "tls", "no verification context");
        return NULL;
    }
    if (verify_mode != PKI_VERIFY_FULL && verify_mode != PKI_VERIFY_NONE) {
        err_set(eb, ERR_INVAL, "tls", "unknown verify mode %d", verify_mode);
        return NULL;
    }
    if (verify_mode == PKI_VERIFY_FULL
        && (verify_name == NULL || verify_name[0] == '\0')) {
        err_set(eb, ERR_INVAL, "tls",
            "no host name to verify the server's certificate against");
        return NULL;
    }
    if (verify_mode == PKI_VERIFY_FULL && strlen(verify_name) > 253) {
        err_set(eb, ERR_INVAL, "tls",
            "the host name to verify is longer than 253 characters");
        return NULL;
    }
    iplen = verify_mode == PKI_VERIFY_FULL ? ip_parse(verify_name, ip) : 0;
    if ((ssl = wolfSSL_new(t->ctx)) == NULL) {
        err_set(eb, ERR_NOMEM, "tls", "cannot create a TLS connection");
        return NULL;
    }
    if (verify_mode == PKI_VERIFY_NONE) {
        wolfSSL_set_verify(ssl, WOLFSSL_VERIFY_NONE, NULL);
    } else if (iplen == 0
        && wolfSSL_check_domain_name(ssl, verify_name) != WOLFSSL_SUCCESS) {
        /* (IP literals are checked by verify_cb) */
        err_set(eb, ERR_TLS, "tls", "cannot set the host name to verify");
        wolfSSL_free(ssl);
        return NULL;
    }
    /* SNI is a host name only (RFC 6066 3): none for IP literals */
    sni_ok = sni != NULL && sni[0] != '\0' && ip_parse(sni, tmp) == 0;
    if (sni_ok
        && wolfSSL_UseSNI(ssl, WOLFSSL_SNI_HOST_NAME, sni,
               (unsigned short)strlen(sni))
            != WOLFSSL_SUCCESS) {
        err_set(eb, ERR_TLS, "tls", "cannot set SNI '%s'", sni);
        wolfSSL_free(ssl);
        return NULL;
    }
    wolfSSL_UseSessionTicket(ssl);
    if (verify_mode != PKI_VERIFY_FULL)
        return ssl; /* no record: never saved, never resumed */
    if (session_key != NULL && session_key[0] != '\0')
        cacheable = sess_key(key, sizeof(key), session_key, sni_ok ? sni : "",
                        verify_name, verify_mode)
            == 0;
    pthread_mutex_lock(&t->mu);
    if ((r = vrec_new(t, ssl)) == NULL) {
        pthread_mutex_unlock(&t->mu);
        err_set(eb, ERR_NOMEM, "tls", "out of memory");
        wolfSSL_free(ssl);
        return NULL;
    }
    r->started = time(NULL);
    snprintf(r->name, sizeof(r->name), "%s", verify_name);
    memcpy(r->ip, ip, sizeof(r->ip));
    r->iplen = iplen;
    if (cacheable) {
        snprintf(r->key, sizeof(r->key), "%s", key);
        for (i = 0; i < t->nsess; i++) {
            if (strcmp(t->sess[i].key, key) != 0)
                continue;
            if (wolfSSL_set_session(ssl, t->sess[i].s) == WOLFSSL_SUCCESS) {
                r->offered = 1;
                r->offered_proof = t->sess[i].proof;
            }
            break;
        }
    }
    pthread_mutex_unlock(&t->mu);
    return ssl;
}

void
pki_tls_save_session(struct pki_trust *t, struct WOLFSSL *ssl,
    const char *session_key)
{
    WOLFSSL_SESSION   *s, *dup;
    struct trust_vrec  r;
    struct trust_proof proof;
    size_t             i;
    char              *k;

    (void)session_key; /* the record holds the full key */
    if (t == NULL || ssl == NULL || trust_vrec_get(t, ssl, &r) != 0)
        return; /* not a verified connection of this trust */
    trust_vrec_done(t, ssl, 2, 0);
    /* An unverified session must never be resumed by a verified one. */
    if (r.key[0] == '\0' || r.ip_mismatch
        || wolfSSL_get_verify_mode(ssl) == WOLFSSL_VERIFY_NONE
        || !wolfSSL_is_init_finished(ssl))
        return;
    /* A resumed session keeps the cached one: wolfSSL 5.5.4 re-saving the
     * session of a TLS 1.3 resumption gives a ticket whose binder the
     * server refuses ("binder does not verify") on the next connection.
     * The original ticket stays valid for its lifetime; once the server
     * declines it, the full handshake that follows is saved instead. */
    if (wolfSSL_session_reused(ssl))
        return;
    memset(&proof, 0, sizeof(proof));
    trust_proof_fill(t, ssl, r.name, &proof);
    proof.at = r.started;
    if ((s = wolfSSL_get1_session(ssl)) == NULL)
        return;
    /* own copy: the connection may still change its session (more TLS 1.3
     * tickets) while other threads resume from the cached one */
    dup = wolfSSL_SESSION_dup(s);
    wolfSSL_SESSION_free(s);
    if (dup == NULL)
        return;
    if ((k = strdup(r.key)) == NULL) {
        wolfSSL_SESSION_free(dup);
        return;
    }
    pthread_mutex_lock(&t->mu);
    for (i = 0; i < t->nsess; i++) {
        if (strcmp(t->sess[i].key, k) == 0) {
            sess_remove(t, i);
            break;
        }
    }
    if (t->nsess == PKI_SESS_MAX) /* drop the oldest */
        sess_remove(t, 0);
    t->sess[t->nsess].key = k;
    t->sess[t->nsess].s = dup;
    t->sess[t->nsess].proof = proof;
    t->nsess++;
    pthread_mutex_unlock(&t->mu);
    log_debug("pki", "event=session-saved leaf_sha256=%s anchor=%s",
        proof.leaf_sha256[0] ? proof.leaf_sha256 : "-",
        proof.anchor[0] ? proof.anchor : "-");
}
