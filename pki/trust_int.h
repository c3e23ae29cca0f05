/* SPDX-License-Identifier: MIT */
/*
 * pki/trust_int.h: the verification context's layout, shared by trust.c
 * (building it, sessions) and verdict.c (walking a presented chain against
 * the trustpoints). In-module only.
 */
#ifndef HERALD_PKI_TRUST_INT_H
#define HERALD_PKI_TRUST_INT_H

#include <pthread.h>
#include <stdatomic.h>

#include "pki/pki_int.h"

#define PKI_SESS_MAX 64

struct trust_tp {
    char            *name;
    int              chain_validation;
    struct pki_cert *cert;    /* own copy, or NULL */
    int              loaded;  /* handed to wolfSSL as an anchor */
    int              pinned;  /* a non-CA certificate (trusted peer) */
};

/* What the verify callback saw during one handshake (wolfSSL reports every
 * certificate with WOLFSSL_VERIFY_CB_ALL_CERTS). */
#define PKI_VREC_ERRS 8
#define PKI_VREC_MAX  256 /* handshakes in flight without a verdict yet */
struct trust_vrec {
    const WOLFSSL *ssl;
    int            ncerts;   /* store->totalCerts */
    int            nerr;
    struct {
        int depth;
        int err;             /* X509_V_ERR_* or wolfSSL error */
    } e[PKI_VREC_ERRS];
};

struct pki_trust {
    atomic_int        refs;
    WOLFSSL_CTX      *ctx;
    struct trust_tp  *tps;
    size_t            ntps;
    unsigned          flags;
    int               system_pool; /* the system bundle was loaded */
    struct cJSON     *notes;
    pthread_mutex_t   mu;          /* guards sess */
    struct {
        char            *key;
        WOLFSSL_SESSION *s;
    } sess[PKI_SESS_MAX];
    size_t            nsess;
    struct trust_vrec *vrecs;      /* guarded by mu */
    size_t            nvrecs;
};

/* Takes the verify record of ssl out of t (0), or -1 when none. */
int trust_vrec_take(struct pki_trust *t, const WOLFSSL *ssl,
    struct trust_vrec *out);
/* A sentence for an X509_V_ERR_* code or a negative wolfSSL code (the
 * verify callback sees both; wolfSSL's own table lacks several). */
const char *trust_verify_error_str(int err);

#endif
