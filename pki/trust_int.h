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
#include <time.h>

#include "pki/pki_int.h"

#define PKI_SESS_MAX 64
#define PKI_SKEY_MAX 640 /* composed session cache key */

struct trust_tp {
    char            *name;
    int              chain_validation;
    struct pki_cert *cert;   /* own copy, or NULL */
    int              loaded; /* handed to wolfSSL as an anchor */
    int              pinned; /* a non-CA certificate (trusted peer) */
};

/* What the full handshake of a cached session verified, kept with the
 * session: a resumed session runs no chain or host name check, so its trace
 * reports this instead. */
struct trust_proof {
    time_t at;          /* when; 0: unknown */
    char   name[256];   /* the name (or IP) checked */
    char   anchor[128]; /* trustpoint that anchored, or "" */
    char   leaf_subject[256];
    char   leaf_sha256[96];
};

/* One cached session. key is what makes a resumption safe: the
 * caller's "host:port", the SNI, the verify name and the verify mode, so a
 * session is only resumed under the conditions it was verified under. */
struct trust_sess {
    char              *key;
    WOLFSSL_SESSION   *s; /* own copy (wolfSSL_SESSION_dup) */
    struct trust_proof proof;
};

/* Per-connection record from pki_tls_new() until the verdict and the
 * session save are done: what the verify callback saw (wolfSSL reports every
 * certificate with WOLFSSL_VERIFY_CB_ALL_CERTS), the session cache key, the
 * session offered for resumption, and the IP literal to check. */
#define PKI_VREC_ERRS 8
#define PKI_VREC_MAX  256 /* handshakes in flight without a verdict yet */
struct trust_vrec {
    const WOLFSSL *ssl;
    int            ncerts; /* store->totalCerts */
    int            nerr;
    struct {
        int depth;
        int err; /* X509_V_ERR_* or wolfSSL error */
    } e[PKI_VREC_ERRS];
    char               key[PKI_SKEY_MAX]; /* "" when not cacheable */
    char               name[256];         /* verify name */
    time_t             started;
    int                offered;       /* a cached session was set */
    struct trust_proof offered_proof; /* ... and what it had verified */
    unsigned char      ip[16];        /* verify name as an IP literal */
    size_t             iplen;         /* 4, 16, or 0: a DNS name */
    int                ip_mismatch;   /* the leaf lacks that iPAddress */
    int                verdict_done;
    int                save_done;
};

struct pki_trust {
    atomic_int         refs;
    WOLFSSL_CTX       *ctx;
    struct trust_tp   *tps;
    size_t             ntps;
    unsigned           flags;
    int                system_pool; /* the system bundle was loaded */
    struct cJSON      *notes;
    pthread_mutex_t    mu; /* guards sess and vrecs */
    struct trust_sess  sess[PKI_SESS_MAX];
    size_t             nsess;
    struct trust_vrec *vrecs; /* guarded by mu */
    size_t             nvrecs;
};

/* Copies the record of ssl into *out (0), or -1 when none. */
int trust_vrec_get(struct pki_trust *t, const WOLFSSL *ssl,
    struct trust_vrec *out);
/* Marks the verdict (what = 1) or the session save (what = 2) of ssl as
 * done; the record goes when both are, or at once when drop is set. */
void trust_vrec_done(struct pki_trust *t, const WOLFSSL *ssl, int what,
    int drop);
/* Removes the cached session under key (a resumption with it failed). */
void trust_sess_drop(struct pki_trust *t, const char *key);
/* Fills *p from the chain ssl was presented (leaf, anchoring trustpoint)
 * and the name checked; at is left to the caller. verdict.c. */
void trust_proof_fill(struct pki_trust *t, WOLFSSL *ssl, const char *name,
    struct trust_proof *p);
/* A sentence for an X509_V_ERR_* code or a negative wolfSSL code (the
 * verify callback sees both; wolfSSL's own table lacks several). */
const char *trust_verify_error_str(int err);

#endif
