/* SPDX-License-Identifier: MIT */
/*
 * pki/pki.h: trust. Certificate parsing and details, trustpoints and their
 * policies, the wolfSSL verification context, and the verification trace.
 *
 * Only pki/ and engine/smtp/smtp_tls.c include wolfSSL headers. The TLS
 * objects cross this API as the incomplete types below.
 */
#ifndef HERALD_PKI_PKI_H
#define HERALD_PKI_PKI_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "common/err.h"

struct cJSON;
struct WOLFSSL_CTX;
struct WOLFSSL;

/* Call once at start (wolfSSL_Init) and at exit. */
int  pki_init(void);
void pki_cleanup(void);
/* Call at the end of every thread that did TLS or certificate checks (worker
 * threads): frees wolfSSL's per-thread ECC cache (FP_ECC, ~3 MB a thread),
 * which is otherwise leaked when the thread exits. */
void pki_thread_cleanup(void);

/* ---- certificates ---------------------------------------------------- */

struct pki_cert; /* opaque; immutable */

/* Parses one certificate from text or binary: PEM with BEGIN/END lines, bare
 * base64 lines without them (as pasted after "crypto pki authenticate"), the
 * hex dump a running-config shows ("crypto pki certificate chain"), or DER.
 * Surrounding whitespace is ignored. Returns 0 and a new cert in *out (free
 * with pki_cert_free()), or ERR_INVAL with a message naming the problem
 * ("no certificate found", "base64 is invalid at line 3", "not an X.509
 * certificate: ...", "more than one certificate"), or ERR_TOOBIG. */
int pki_cert_parse(const char *data, size_t len, struct pki_cert **out,
    struct errbuf *eb);
/* Like pki_cert_parse but returns every certificate in a PEM bundle, in
 * order (new array of new certs; free with pki_certs_free()). */
int  pki_certs_parse(const char *data, size_t len, struct pki_cert ***out,
     size_t *n, struct errbuf *eb);
int  pki_cert_from_der(const unsigned char *der, size_t len,
     struct pki_cert **out, struct errbuf *eb);
void pki_cert_free(struct pki_cert *c);
void pki_certs_free(struct pki_cert **v, size_t n);

const unsigned char *pki_cert_der(const struct pki_cert *c, size_t *len);
char *pki_cert_pem(const struct pki_cert *c); /* new string, free() */
/* Hex in running-config style: 8-hex-digit groups, 8 groups per line, each
 * line indented by indent spaces. New string, free(). */
char       *pki_cert_hex(const struct pki_cert *c, int indent);
const char *pki_cert_subject(const struct pki_cert *c); /* one-line RFC 4514 */
const char *pki_cert_issuer(const struct pki_cert *c);
const char *pki_cert_sha256(const struct pki_cert *c); /* "AB:CD:..." */
int         pki_cert_is_ca(const struct pki_cert *c);
int         pki_cert_is_self_signed(const struct pki_cert *c);
time_t      pki_cert_not_after(const struct pki_cert *c);

/* Every field of IOS "show crypto pki certificates verbose" as a new JSON
 * object (cJSON_Delete()): status, version, serial (hex), subject and issuer
 * (string and array of RDNs), not_before/not_after (RFC 3339),
 * public_key {algorithm, bits}, signature_algorithm, fingerprints {md5,
 * sha1, sha256}, key_usage [..], extended_key_usage [..], subject_key_id,
 * authority_key_id, basic_constraints {ca, path_len}, subject_alt_names
 * [..], crl_distribution_points [..], authority_info_access {ocsp [..],
 * ca_issuers [..]}, policies [OIDs], self_signed. */
struct cJSON *pki_cert_details(const struct pki_cert *c);
/* New JSON array of {code, message}: "not_ca", "expired", "not_yet_valid",
 * "expiring_soon" (within 30 days of now). */
struct cJSON *pki_cert_warnings(const struct pki_cert *c, time_t now);

/* ---- trustpoints and the verification context ------------------------ */

enum pki_chain_validation { PKI_CHAIN_CONTINUE = 0, PKI_CHAIN_STOP };
enum pki_revocation { PKI_REV_NONE = 0, PKI_REV_CRL, PKI_REV_OCSP };

/* Parse "stop"/"continue", "none"/"crl"/"ocsp": value or -1. */
int pki_chain_validation_parse(const char *s);
int pki_revocation_parse(const char *s);

struct pki_trustpoint { /* plain data, borrowed by pki_trust_new */
    const char            *name;
    int                    chain_validation; /* enum pki_chain_validation */
    int                    revocation;       /* enum pki_revocation */
    const struct pki_cert *cert;             /* NULL: not authenticated */
};

#define PKI_TRUST_SYSTEM_POOL 0x1 /* also trust Debian's ca-certificates */

/*
 * An immutable verification context built from a set of trustpoints, holding
 * a client WOLFSSL_CTX and a TLS session cache. "stop" trustpoints are
 * anchors even when not self-signed (an intermediate, or a pinned leaf);
 * "continue" ones must reach a self-signed root held by a trustpoint (one
 * that does not is not loaded, and is reported in pki_trust_notes()).
 * Reference counted, thread-safe. Rebuild it (and so drop every cached
 * session) whenever trustpoints or trust settings change.
 * Errors: ERR_UNSUPPORTED (revocation-check crl/ocsp, with a message saying
 * so), ERR_INVAL, ERR_TLS, ERR_NOMEM.
 */
struct pki_trust;
int pki_trust_new(const struct pki_trustpoint *tps, size_t n, unsigned flags,
    struct pki_trust **out, struct errbuf *eb);
struct pki_trust *pki_trust_ref(struct pki_trust *t);
void              pki_trust_unref(struct pki_trust *t); /* NULL is a no-op */
/* New JSON array of notes about trustpoints not loaded and why. */
struct cJSON *pki_trust_notes(const struct pki_trust *t);

enum pki_verify_mode {
    PKI_VERIFY_FULL = 0, /* chain and host name (default) */
    PKI_VERIFY_NONE,     /* explicit opt-out: traced as INSECURE */
};

/* Prepares a new WOLFSSL for one connection: SNI = sni (a host name; none
 * for IP literals), host name check against verify_name (IP SANs for IP
 * literals, compared as addresses by herald's verify callback), the verify
 * callback that records the chain, and a cached session if one exists for
 * session_key ("host:port") with the same SNI, verify_name and verify_mode
 * (a session is only resumed under the conditions it was verified under;
 * PKI_VERIFY_NONE never resumes). Returns a new WOLFSSL (wolfSSL_free() by
 * the caller) or NULL with eb set. */
struct WOLFSSL *pki_tls_new(struct pki_trust *t, const char *sni,
    const char *verify_name, int verify_mode, const char *session_key,
    struct errbuf *eb);
/* After a verified full handshake (PKI_VERIFY_FULL; once TLS 1.3 tickets
 * have arrived, e.g. after the first read): remember the session under the
 * key pki_tls_new() composed, with what was verified. A resumed session is
 * not saved again (the cached one stays); a failed resumption drops it (see
 * pki_verdict.resume_failed). */
void pki_tls_save_session(struct pki_trust *t, struct WOLFSSL *ssl,
    const char *session_key);

/* Outcome of a handshake, classified from the handshake error and herald's
 * own walk of the presented chain against the trustpoints. */
enum pki_verdict_class {
    PKI_OK = 0,
    PKI_UNTRUSTED,         /* "certificate_untrusted" */
    PKI_HOSTNAME_MISMATCH, /* "hostname_mismatch" */
    PKI_EXPIRED,           /* "certificate_expired" (or not yet valid) */
    PKI_HANDSHAKE,         /* "tls_handshake": anything else */
};
struct pki_verdict {
    int  klass;        /* enum pki_verdict_class */
    char code[40];     /* "certificate_untrusted", ... ("" when OK) */
    char message[512]; /* a sentence: which cert, which issuer missing */
    char advice[512];  /* what to do: which trustpoint would fix it */
    char anchor[128];  /* trustpoint name that anchored, or "" */
    char missing_issuer[256];
    int  insecure;      /* verification was off */
    int  resume_failed; /* the handshake that offered a cached session
                              failed; the session was dropped, and a new
                              connection does a full handshake: retry once */
};

/* Fills *v and, when trace is not NULL, adds to the JSON object trace:
 * tls_version, cipher, resumed, chain [{depth, subject, issuer, serial,
 * not_before, not_after, sha256, sha1, ca, self_signed, pem}], anchor
 * {trustpoint, subject}, missing_issuer, fix {trustpoint_candidates or
 * "import chain[i]"}, hostname {checked, sans [..], result}, expires_in_days,
 * insecure. handshake_rc is wolfSSL's error code (0 when the handshake
 * succeeded). Never fails; unknown errors land in PKI_HANDSHAKE. */
void pki_tls_verdict(struct pki_trust *t, struct WOLFSSL *ssl, int handshake_rc,
    const char *verify_name, int verify_mode, struct pki_verdict *v,
    struct cJSON *trace);

const char *pki_verdict_code(int klass); /* "certificate_untrusted", ... */

/* ---- message authentication (pki/hmac.c) ------------------------------ */

#define PKI_SHA256_LEN 32
/* HMAC-SHA256 of msg keyed with key into out; compare with sec_equal().
 * Errors: ERR_INVAL (a length over 4 GiB), ERR_INTERNAL; out is zeroed. */
int pki_hmac_sha256(const void *key, size_t klen, const void *msg, size_t mlen,
    unsigned char out[PKI_SHA256_LEN]);
/* The same over the concatenation m1 m2 (a webhook's "<timestamp>." and
 * its body) without copying them. Errors as pki_hmac_sha256(). */
int pki_hmac_sha256_2(const void *key, size_t klen, const void *m1, size_t l1,
    const void *m2, size_t l2, unsigned char out[PKI_SHA256_LEN]);
/* SHA-256 of msg into out (webhook token digests). Errors: ERR_INVAL
 * (over 4 GiB), ERR_INTERNAL. */
int pki_sha256(const void *msg, size_t len, unsigned char out[PKI_SHA256_LEN]);

#endif
