/* SPDX-License-Identifier: MIT */
/*
 * pki/pki_int.h: in-module definitions of pki/: the certificate object, a
 * small DER reader (RFC 5280 structures herald shows but wolfSSL 5.5.4 does
 * not expose well), and helpers shared by cert.c, cert_details.c, trust.c and
 * verdict.c. Nothing outside pki/ includes this file.
 */
#ifndef HERALD_PKI_PKI_INT_H
#define HERALD_PKI_PKI_INT_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include <wolfssl/options.h>
#include <wolfssl/ssl.h>

#include "pki/pki.h"

#define PKI_MAX_INPUT (64 * 1024)

/* One DER element: tag, value span. */
struct der {
    unsigned             tag;
    const unsigned char *v;
    size_t               len;
    const unsigned char *raw; /* tag byte, for whole-element spans */
    size_t               raw_len;
};

/* Reads one TLV at *p (< end), advances *p. 0 or -1 on malformed input. */
int der_next(const unsigned char **p, const unsigned char *end,
    struct der *out);
/* Dotted OID text into buf. */
void der_oid_str(const unsigned char *v, size_t len, char *buf, size_t sz);
/* A directory string into UTF-8 (new string, free()). */
char *der_string(const struct der *d);

struct pki_cert {
    unsigned char *der;
    size_t         der_len;
    WOLFSSL_X509  *x509;
    char          *subject; /* RFC 4514, most specific RDN first */
    char          *issuer;
    char           sha256[96];
    int            version; /* 1..3 */
    int            is_ca;
    int            path_len; /* -1 when absent */
    int            self_signed;
    time_t         not_before;
    time_t         not_after;
    struct der     serial;
    struct der     sig_alg;    /* AlgorithmIdentifier value */
    struct der     issuer_der; /* Name, whole element */
    struct der     subject_der;
    struct der     spki;
    struct der     exts; /* SEQUENCE OF Extension value, or len 0 */
};

/* Short name of an attribute type OID ("CN"), or NULL. */
const char *pki_attr_name(const char *oid);
/* Calls fn for each attribute of a Name (whole element in name), in encoded
 * order; multi is 1 for the second and later values of one RDN. */
int pki_name_walk(const struct der *name,
    void (*fn)(void *arg, const char *type, const char *value, int multi),
    void *arg);

/* Finds the extension with dotted OID; 0 and its extnValue, or -1. */
int pki_cert_ext(const struct pki_cert *c, const char *oid, struct der *val,
    int *critical);
/* 1 when issuer's key signed c and the names chain, else 0. */
int pki_cert_issued_by(const struct pki_cert *c, const struct pki_cert *issuer);
/* 1 when a and b are the same certificate (same DER). */
int pki_cert_same(const struct pki_cert *a, const struct pki_cert *b);
/* Colon hex upper-case into out (3*len bytes). */
void pki_hex_colon(const unsigned char *p, size_t len, char *out);
/* RFC 3339 UTC into out[32]. */
void pki_time_str(time_t t, char *out, size_t sz);
/* "DNS:a, IP:1.2.3.4" of the subjectAltName extension (new string). */
char *pki_cert_sans_str(const struct pki_cert *c);
/* 1 when the subjectAltName extension holds the iPAddress ip (len 4 for
 * IPv4, 16 for IPv6, network order), else 0. Compares bytes, so "::1" and
 * "0:0::1" are the same address. */
int pki_cert_has_ip(const struct pki_cert *c, const unsigned char *ip,
    size_t len);
/* New JSON array of "DNS:..", "IP:..", "email:..", "URI:..". */
struct cJSON *pki_cert_sans_json(const struct pki_cert *c);

#endif
