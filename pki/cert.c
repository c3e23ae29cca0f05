/* SPDX-License-Identifier: MIT */
/*
 * pki/cert.c: one X.509 certificate (RFC 5280) in herald. Parses what users
 * paste - PEM (RFC 7468), bare base64 lines as after IOS "crypto pki
 * authenticate", the hex dump of a running-config "crypto pki certificate
 * chain", or DER - and keeps the DER, a wolfSSL X509 for the crypto, and the
 * fields herald needs often (names, dates, fingerprint). A small DER reader
 * walks the TBSCertificate itself so that the names and extensions are shown
 * exactly as encoded.
 */
#include "pki/pki_int.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <wolfssl/wolfcrypt/hash.h>

#include "common/buf.h"

/* ---- DER reader ------------------------------------------------------- */

int
der_next(const unsigned char **pp, const unsigned char *end, struct der *out)
{
    const unsigned char *p = *pp;
    size_t               len, i, n;

    if (p >= end || end - p < 2)
        return -1;
    out->raw = p;
    out->tag = *p++;
    if ((out->tag & 0x1f) == 0x1f)
        return -1; /* high tag numbers do not occur in certificates */
    len = *p++;
    if (len & 0x80) {
        n = len & 0x7f;
        if (n == 0 || n > 4 || (size_t)(end - p) < n)
            return -1;
        for (len = 0, i = 0; i < n; i++)
            len = (len << 8) | *p++;
    }
    if ((size_t)(end - p) < len)
        return -1;
    out->v = p;
    out->len = len;
    out->raw_len = (size_t)(p - out->raw) + len;
    *pp = p + len;
    return 0;
}

void
der_oid_str(const unsigned char *v, size_t len, char *buf, size_t sz)
{
    unsigned long val = 0;
    size_t        i, o = 0;
    int           first = 1;

    buf[0] = '\0';
    for (i = 0; i < len; i++) {
        val = (val << 7) | (v[i] & 0x7f);
        if (v[i] & 0x80)
            continue;
        if (first) {
            unsigned long a = val < 40 ? 0 : val < 80 ? 1 : 2;
            o += (size_t)snprintf(buf + o, o < sz ? sz - o : 0, "%lu.%lu", a,
                val - a * 40);
            first = 0;
        } else {
            o += (size_t)snprintf(buf + o, o < sz ? sz - o : 0, ".%lu", val);
        }
        val = 0;
    }
    if (o >= sz && sz > 0)
        buf[sz - 1] = '\0';
}

char *
der_string(const struct der *d)
{
    struct buf b = BUF_INIT;
    size_t     i;

    if (d->tag == 0x1e) { /* BMPString: UTF-16BE */
        for (i = 0; i + 1 < d->len; i += 2) {
            unsigned c = (unsigned)d->v[i] << 8 | d->v[i + 1];
            if (c < 0x80) {
                buf_putc(&b, (char)c);
            } else if (c < 0x800) {
                buf_putc(&b, (char)(0xc0 | c >> 6));
                buf_putc(&b, (char)(0x80 | (c & 0x3f)));
            } else {
                buf_putc(&b, (char)(0xe0 | c >> 12));
                buf_putc(&b, (char)(0x80 | ((c >> 6) & 0x3f)));
                buf_putc(&b, (char)(0x80 | (c & 0x3f)));
            }
        }
    } else {
        for (i = 0; i < d->len; i++) {
            unsigned char ch = d->v[i];
            if (ch == 0)
                buf_puts(&b, "\\00");
            else
                buf_putc(&b, (char)ch);
        }
    }
    if (b.p == NULL)
        buf_puts(&b, "");
    return buf_take(&b);
}

/* ---- names ------------------------------------------------------------ */

static const struct {
    const char *oid;
    const char *name;
} attr_names[] = {
    { "2.5.4.3", "CN" },
    { "2.5.4.6", "C" },
    { "2.5.4.7", "L" },
    { "2.5.4.8", "ST" },
    { "2.5.4.9", "STREET" },
    { "2.5.4.10", "O" },
    { "2.5.4.11", "OU" },
    { "2.5.4.5", "serialNumber" },
    { "2.5.4.12", "title" },
    { "2.5.4.17", "postalCode" },
    { "2.5.4.42", "GN" },
    { "2.5.4.4", "SN" },
    { "2.5.4.97", "organizationIdentifier" },
    { "1.2.840.113549.1.9.1", "emailAddress" },
    { "0.9.2342.19200300.100.1.25", "DC" },
    { "0.9.2342.19200300.100.1.1", "UID" },
};

const char *
pki_attr_name(const char *oid)
{
    size_t i;

    for (i = 0; i < sizeof(attr_names) / sizeof(attr_names[0]); i++)
        if (strcmp(attr_names[i].oid, oid) == 0)
            return attr_names[i].name;
    return NULL;
}

/* Calls fn for each attribute of a Name, in encoded order. */
int
pki_name_walk(const struct der *name,
    void (*fn)(void *arg, const char *type, const char *value, int multi),
    void *arg)
{
    const unsigned char *p = name->v, *end = name->v + name->len;
    struct der           set, atv, oid, val;

    while (p < end) {
        const unsigned char *q, *qend;
        int                  first = 1;

        if (der_next(&p, end, &set) != 0 || set.tag != 0x31)
            return -1;
        q = set.v;
        qend = set.v + set.len;
        while (q < qend) {
            const unsigned char *r;
            char                 obuf[64];
            const char          *t;
            char                *s;

            if (der_next(&q, qend, &atv) != 0 || atv.tag != 0x30)
                return -1;
            r = atv.v;
            if (der_next(&r, atv.v + atv.len, &oid) != 0 || oid.tag != 0x06
                || der_next(&r, atv.v + atv.len, &val) != 0)
                return -1;
            der_oid_str(oid.v, oid.len, obuf, sizeof(obuf));
            t = pki_attr_name(obuf);
            if ((s = der_string(&val)) == NULL)
                return -1;
            fn(arg, t ? t : obuf, s, !first);
            free(s);
            first = 0;
        }
    }
    return 0;
}

struct rdn_acc {
    char **parts;
    size_t n;
    int    oom;
};

static void
rdn_collect(void *arg, const char *type, const char *value, int multi)
{
    struct rdn_acc *a = arg;
    struct buf      b = BUF_INIT;
    size_t          i, vl = strlen(value);
    char          **np;

    for (i = 0; i < vl; i++) {
        char ch = value[i];
        if (strchr(",+\"\\<>;=", ch) != NULL
            || ((i == 0) && (ch == ' ' || ch == '#'))
            || (i == vl - 1 && ch == ' '))
            buf_putc(&b, '\\');
        buf_putc(&b, ch);
    }
    if (multi && a->n > 0) { /* multi-valued RDN: join with '+' */
        struct buf m = BUF_INIT;
        buf_printf(&m, "%s+%s=%s", a->parts[a->n - 1], type, buf_str(&b));
        free(a->parts[a->n - 1]);
        a->parts[a->n - 1] = buf_take(&m);
        if (a->parts[a->n - 1] == NULL)
            a->oom = 1;
        buf_free(&b);
        return;
    }
    np = realloc(a->parts, (a->n + 1) * sizeof(*np));
    if (np == NULL) {
        a->oom = 1;
        buf_free(&b);
        return;
    }
    a->parts = np;
    {
        struct buf m = BUF_INIT;
        buf_printf(&m, "%s=%s", type, buf_str(&b));
        a->parts[a->n] = buf_take(&m);
        if (a->parts[a->n] == NULL)
            a->oom = 1;
        else
            a->n++;
    }
    buf_free(&b);
}

/* RFC 4514 string: the last RDN first, joined by ','. */
static char *
name_str(const struct der *name)
{
    struct rdn_acc a = { NULL, 0, 0 };
    struct buf     b = BUF_INIT;
    size_t         i;
    int            rc;

    rc = pki_name_walk(name, rdn_collect, &a);
    for (i = a.n; i > 0; i--) {
        if (i != a.n)
            buf_putc(&b, ',');
        buf_puts(&b, a.parts[i - 1]);
    }
    for (i = 0; i < a.n; i++)
        free(a.parts[i]);
    free(a.parts);
    if (rc != 0 || a.oom) {
        buf_free(&b);
        return NULL;
    }
    if (b.p == NULL)
        buf_puts(&b, "");
    return buf_take(&b);
}

/* ---- time ------------------------------------------------------------- */

static int
digits(const unsigned char *p, int n)
{
    int v = 0, i;

    for (i = 0; i < n; i++) {
        if (!isdigit(p[i]))
            return -1;
        v = v * 10 + (p[i] - '0');
    }
    return v;
}

static int
der_time(const struct der *d, time_t *out)
{
    struct tm            tm;
    const unsigned char *p = d->v;
    int                  year;

    memset(&tm, 0, sizeof(tm));
    if (d->tag == 0x17 && d->len == 13 && p[12] == 'Z') {
        year = digits(p, 2);
        if (year < 0)
            return -1;
        year += year < 50 ? 2000 : 1900;
        p += 2;
    } else if (d->tag == 0x18 && d->len == 15 && p[14] == 'Z') {
        year = digits(p, 4);
        if (year < 0)
            return -1;
        p += 4;
    } else {
        return -1;
    }
    tm.tm_year = year - 1900;
    tm.tm_mon = digits(p, 2) - 1;
    tm.tm_mday = digits(p + 2, 2);
    tm.tm_hour = digits(p + 4, 2);
    tm.tm_min = digits(p + 6, 2);
    tm.tm_sec = digits(p + 8, 2);
    if (tm.tm_mon < 0 || tm.tm_mday < 1 || tm.tm_hour < 0 || tm.tm_min < 0
        || tm.tm_sec < 0)
        return -1;
    *out = timegm(&tm);
    return 0;
}

void
pki_time_str(time_t t, char *out, size_t sz)
{
    struct tm tm;

    gmtime_r(&t, &tm);
    strftime(out, sz, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

void
pki_hex_colon(const unsigned char *p, size_t len, char *out)
{
    static const char hx[] = "0123456789ABCDEF";
    size_t            i;

    for (i = 0; i < len; i++) {
        out[3 * i] = hx[p[i] >> 4];
        out[3 * i + 1] = hx[p[i] & 15];
        out[3 * i + 2] = i + 1 < len ? ':' : '\0';
    }
    if (len == 0)
        out[0] = '\0';
}

/* ---- the certificate -------------------------------------------------- */

static int
cert_decode(struct pki_cert *c, struct errbuf *eb)
{
    const unsigned char *p = c->der, *end = c->der + c->der_len, *t, *tend;
    struct der           cert, tbs, alg, sig, el, validity, nb, na;

#define BAD(what)                                                              \
    return err_set(eb, ERR_INVAL, "invalid_certificate",                       \
        "not an X.509 certificate: %s", what)

    if (der_next(&p, end, &cert) != 0 || cert.tag != 0x30)
        BAD("the data does not start with a DER SEQUENCE");
    if (p != end)
        BAD("there is trailing data after the certificate");
    p = cert.v;
    end = cert.v + cert.len;
    if (der_next(&p, end, &tbs) != 0 || tbs.tag != 0x30
        || der_next(&p, end, &alg) != 0 || alg.tag != 0x30
        || der_next(&p, end, &sig) != 0 || sig.tag != 0x03)
        BAD("expected tbsCertificate, signatureAlgorithm and signature");
    t = tbs.v;
    tend = tbs.v + tbs.len;
    if (der_next(&t, tend, &el) != 0)
        BAD("the tbsCertificate is empty");
    c->version = 1;
    if (el.tag == 0xa0) {
        const unsigned char *q = el.v;
        struct der           ver;
        if (der_next(&q, el.v + el.len, &ver) != 0 || ver.tag != 0x02
            || ver.len != 1 || ver.v[0] > 2)
            BAD("the version field is malformed");
        c->version = ver.v[0] + 1;
        if (der_next(&t, tend, &el) != 0)
            BAD("the serial number is missing");
    }
    if (el.tag != 0x02 || el.len == 0 || el.len > 40)
        BAD("the serial number is malformed");
    c->serial = el;
    if (der_next(&t, tend, &c->sig_alg) != 0 || c->sig_alg.tag != 0x30
        || der_next(&t, tend, &c->issuer_der) != 0 || c->issuer_der.tag != 0x30
        || der_next(&t, tend, &validity) != 0 || validity.tag != 0x30
        || der_next(&t, tend, &c->subject_der) != 0
        || c->subject_der.tag != 0x30 || der_next(&t, tend, &c->spki) != 0
        || c->spki.tag != 0x30)
        BAD("the tbsCertificate is truncated or malformed");
    {
        const unsigned char *q = validity.v;
        if (der_next(&q, validity.v + validity.len, &nb) != 0
            || der_next(&q, validity.v + validity.len, &na) != 0
            || der_time(&nb, &c->not_before) != 0
            || der_time(&na, &c->not_after) != 0)
            BAD("the validity dates are malformed");
    }
    c->exts.len = 0;
    while (t < tend) {
        if (der_next(&t, tend, &el) != 0)
            BAD("the tbsCertificate has a malformed trailing field");
        if (el.tag == 0xa3) {
            const unsigned char *q = el.v;
            if (der_next(&q, el.v + el.len, &c->exts) != 0
                || c->exts.tag != 0x30)
                BAD("the extensions are malformed");
        }
    }
    if ((c->subject = name_str(&c->subject_der)) == NULL
        || (c->issuer = name_str(&c->issuer_der)) == NULL)
        BAD("the subject or issuer name is malformed");
#undef BAD
    return 0;
}

int
pki_cert_ext(const struct pki_cert *c, const char *oid, struct der *val,
    int *critical)
{
    const unsigned char *p, *end;
    struct der           ext, id, el;
    char                 buf[64];

    if (c->exts.len == 0 || c->exts.v == NULL) /* v1: no extensions */
        return -1;
    p = c->exts.v;
    end = c->exts.v + c->exts.len;
    while (p < end) {
        const unsigned char *q;
        if (der_next(&p, end, &ext) != 0 || ext.tag != 0x30)
            return -1;
        q = ext.v;
        if (der_next(&q, ext.v + ext.len, &id) != 0 || id.tag != 0x06)
            return -1;
        der_oid_str(id.v, id.len, buf, sizeof(buf));
        if (strcmp(buf, oid) != 0)
            continue;
        if (critical)
            *critical = 0;
        if (der_next(&q, ext.v + ext.len, &el) != 0)
            return -1;
        if (el.tag == 0x01) {
            if (critical)
                *critical = el.len == 1 && el.v[0] != 0;
            if (der_next(&q, ext.v + ext.len, &el) != 0)
                return -1;
        }
        if (el.tag != 0x04)
            return -1;
        *val = el;
        return 0;
    }
    return -1;
}

static void
cert_basic_constraints(struct pki_cert *c)
{
    struct der           v, seq, el;
    const unsigned char *p, *q;

    c->is_ca = 0;
    c->path_len = -1;
    if (pki_cert_ext(c, "2.5.29.19", &v, NULL) != 0)
        return;
    p = v.v;
    if (der_next(&p, v.v + v.len, &seq) != 0 || seq.tag != 0x30)
        return;
    q = seq.v;
    while (q < seq.v + seq.len && der_next(&q, seq.v + seq.len, &el) == 0) {
        if (el.tag == 0x01 && el.len == 1)
            c->is_ca = el.v[0] != 0;
        else if (el.tag == 0x02 && el.len >= 1 && el.len <= 2)
            c->path_len = el.len == 1 ? el.v[0] : (el.v[0] << 8 | el.v[1]);
    }
}

/*
 * With FP_ECC (Debian's build), wolfSSL caches the points of ECDSA
 * verifications per thread and, on a point's second use, builds an 800 KB
 * table for it. herald verifies a chain after the handshake has, so every
 * issuer key would get its table, kept by the thread for good. Clearing the
 * cache around each check keeps each thread's memory flat and skips the
 * table building, which costs more than the one verification it speeds.
 */
static int
x509_verify_by(WOLFSSL_X509 *x, WOLFSSL_X509 *by)
{
    WOLFSSL_EVP_PKEY *k;
    int               ok;

    if ((k = wolfSSL_X509_get_pubkey(by)) == NULL)
        return 0;
    pki_thread_cleanup();
    ok = wolfSSL_X509_verify(x, k) == WOLFSSL_SUCCESS;
    pki_thread_cleanup();
    wolfSSL_EVP_PKEY_free(k);
    return ok;
}

int
pki_cert_issued_by(const struct pki_cert *c, const struct pki_cert *issuer)
{
    if (c->issuer_der.raw_len != issuer->subject_der.raw_len
        || memcmp(c->issuer_der.raw, issuer->subject_der.raw,
               c->issuer_der.raw_len)
            != 0) {
        if (strcmp(c->issuer, issuer->subject) != 0)
            return 0;
    }
    return x509_verify_by(c->x509, issuer->x509);
}

int
pki_cert_same(const struct pki_cert *a, const struct pki_cert *b)
{
    return a->der_len == b->der_len && memcmp(a->der, b->der, a->der_len) == 0;
}

int
pki_cert_from_der(const unsigned char *der, size_t len, struct pki_cert **out,
    struct errbuf *eb)
{
    struct pki_cert *c;
    unsigned char    h[32];
    int              rc;

    *out = NULL;
    if (len == 0)
        return err_set(eb, ERR_INVAL, "invalid_certificate",
            "no certificate found: the input is empty");
    if (len > PKI_MAX_INPUT)
        return err_set(eb, ERR_TOOBIG, "too_big",
            "the certificate is %zu bytes; at most %d are accepted", len,
            PKI_MAX_INPUT);
    if ((c = calloc(1, sizeof(*c))) == NULL || (c->der = malloc(len)) == NULL) {
        free(c);
        return err_set(eb, ERR_NOMEM, "nomem", "out of memory");
    }
    memcpy(c->der, der, len);
    c->der_len = len;
    if ((rc = cert_decode(c, eb)) != 0)
        goto fail;
    c->x509 = wolfSSL_X509_d2i(NULL, c->der, (int)c->der_len);
    if (c->x509 == NULL) {
        rc = err_set(eb, ERR_INVAL, "invalid_certificate",
            "not an X.509 certificate: wolfSSL could not decode it "
            "(unsupported key or signature algorithm, or malformed)");
        goto fail;
    }
    cert_basic_constraints(c);
    wc_Sha256Hash(c->der, (word32)c->der_len, h);
    pki_hex_colon(h, 32, c->sha256);
    c->self_signed = c->issuer_der.raw_len == c->subject_der.raw_len
        && memcmp(c->issuer_der.raw, c->subject_der.raw, c->issuer_der.raw_len)
            == 0
        && x509_verify_by(c->x509, c->x509);
    *out = c;
    return 0;
fail:
    pki_cert_free(c);
    return rc;
}

void
pki_cert_free(struct pki_cert *c)
{
    if (c == NULL)
        return;
    if (c->x509 != NULL)
        wolfSSL_X509_free(c->x509);
    free(c->subject);
    free(c->issuer);
    free(c->der);
    free(c);
}

void
pki_certs_free(struct pki_cert **v, size_t n)
{
    size_t i;

    if (v == NULL)
        return;
    for (i = 0; i < n; i++)
        pki_cert_free(v[i]);
    free(v);
}

/* ---- text forms ------------------------------------------------------- */

static int
b64val(int ch)
{
    if (ch >= 'A' && ch <= 'Z')
        return ch - 'A';
    if (ch >= 'a' && ch <= 'z')
        return ch - 'a' + 26;
    if (ch >= '0' && ch <= '9')
        return ch - '0' + 52;
    if (ch == '+')
        return 62;
    if (ch == '/')
        return 63;
    return -1;
}

/* Decodes base64 text s[0..len) (line breaks and blanks allowed); line0 is
 * the input line number of s, for messages. */
static int
b64_decode(const char *s, size_t len, int line0, unsigned char **out,
    size_t *outlen, struct errbuf *eb)
{
    unsigned char *d;
    size_t         i, o = 0;
    unsigned       acc = 0;
    int            bits = 0, line = line0, pad = 0;

    if ((d = malloc(len / 4 * 3 + 4)) == NULL)
        return err_set(eb, ERR_NOMEM, "nomem", "out of memory");
    for (i = 0; i < len; i++) {
        int ch = (unsigned char)s[i], v;
        if (ch == '\n') {
            line++;
            continue;
        }
        if (ch == '\r' || ch == ' ' || ch == '\t')
            continue;
        if (ch == '=') {
            pad++;
            continue;
        }
        if ((v = b64val(ch)) < 0 || pad) {
            free(d);
            return err_at(eb, ERR_INVAL, line, 0, "invalid_base64",
                isprint(ch) ? "base64 is invalid at line %d (character '%c')"
                            : "base64 is invalid at line %d (byte 0x%02x)",
                line, ch);
        }
        acc = acc << 6 | (unsigned)v;
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            d[o++] = (unsigned char)(acc >> bits);
        }
    }
    if (o == 0) {
        free(d);
        return err_set(eb, ERR_INVAL, "invalid_certificate",
            "no certificate found: the base64 block is empty");
    }
    *out = d;
    *outlen = o;
    return 0;
}

static int
hexval(int ch)
{
    if (ch >= '0' && ch <= '9')
        return ch - '0';
    if (ch >= 'a' && ch <= 'f')
        return ch - 'a' + 10;
    if (ch >= 'A' && ch <= 'F')
        return ch - 'A' + 10;
    return -1;
}

/* Running-config hex: groups of hex digits; lines "certificate ..." and
 * "quit" are skipped. */
static int
hex_decode(const char *s, size_t len, unsigned char **out, size_t *outlen,
    struct errbuf *eb)
{
    unsigned char *d;
    size_t         i = 0, o = 0, nib = 0;
    int            line = 1;

    if ((d = malloc(len / 2 + 1)) == NULL)
        return err_set(eb, ERR_NOMEM, "nomem", "out of memory");
    while (i < len) {
        size_t      ls = i, le;
        const char *w;
        while (i < len && s[i] != '\n')
            i++;
        le = i++;
        w = s + ls;
        while (w < s + le && isspace((unsigned char)*w))
            w++;
        if ((size_t)(s + le - w) >= 11 && strncmp(w, "certificate", 11) == 0)
            goto next;
        if ((size_t)(s + le - w) >= 4 && strncmp(w, "quit", 4) == 0)
            goto next;
        for (; w < s + le; w++) {
            int v;
            if (isspace((unsigned char)*w))
                continue;
            if ((v = hexval((unsigned char)*w)) < 0) {
                free(d);
                return err_at(eb, ERR_INVAL, line, 0, "invalid_hex",
                    "hex is invalid at line %d (character '%c')", line,
                    isprint((unsigned char)*w) ? *w : '?');
            }
            if (nib & 1)
                d[o++] |= (unsigned char)v;
            else
                d[o] = (unsigned char)(v << 4);
            nib++;
        }
next:
        line++;
    }
    if (nib & 1) {
        free(d);
        return err_set(eb, ERR_INVAL, "invalid_hex",
            "hex has an odd number of digits (%zu)", nib);
    }
    if (o == 0) {
        free(d);
        return err_set(eb, ERR_INVAL, "invalid_certificate",
            "no certificate found");
    }
    *out = d;
    *outlen = o;
    return 0;
}

static int
line_of(const char *base, const char *p)
{
    int n = 1;

    for (; base < p; base++)
        if (*base == '\n')
            n++;
    return n;
}

static int
push_cert(struct pki_cert ***v, size_t *n, struct pki_cert *c)
{
    struct pki_cert **nv = realloc(*v, (*n + 1) * sizeof(*nv));

    if (nv == NULL)
        return ERR_NOMEM;
    nv[(*n)++] = c;
    *v = nv;
    return 0;
}

static const char *
memfind(const char *h, size_t hl, const char *n)
{
    size_t nl = strlen(n);

    if (hl < nl)
        return NULL;
    return memmem(h, hl, n, nl);
}

/* PEM blocks of s; certificates decoded in order. */
static int
pem_parse(const char *s, size_t len, struct pki_cert ***v, size_t *n,
    struct errbuf *eb)
{
    const char *p = s, *end = s + len;
    int         rc, other = 0;
    char        other_label[48] = "";

    while (p < end) {
        const char      *b = memfind(p, (size_t)(end - p), "-----BEGIN ");
        const char      *lab, *labe, *body, *e;
        char             label[48], endline[80];
        unsigned char   *der;
        size_t           dlen;
        struct pki_cert *c;

        if (b == NULL)
            break;
        lab = b + 11;
        labe = memfind(lab, (size_t)(end - lab), "-----");
        if (labe == NULL || labe - lab >= (long)sizeof(label))
            return err_at(eb, ERR_INVAL, line_of(s, b), 0, "invalid_pem",
                "the PEM BEGIN line at line %d is malformed", line_of(s, b));
        memcpy(label, lab, (size_t)(labe - lab));
        label[labe - lab] = '\0';
        body = labe + 5;
        snprintf(endline, sizeof(endline), "-----END %s-----", label);
        e = memfind(body, (size_t)(end - body), endline);
        if (e == NULL)
            return err_at(eb, ERR_INVAL, line_of(s, b), 0, "invalid_pem",
                "the PEM block '%s' that starts at line %d has no END line",
                label, line_of(s, b));
        p = e + strlen(endline);
        if (strcmp(label, "CERTIFICATE") != 0
            && strcmp(label, "X509 CERTIFICATE") != 0
            && strcmp(label, "TRUSTED CERTIFICATE") != 0) {
            other++;
            snprintf(other_label, sizeof(other_label), "%s", label);
            continue;
        }
        if ((rc = b64_decode(body, (size_t)(e - body), line_of(s, body), &der,
                 &dlen, eb))
            != 0)
            return rc;
        rc = pki_cert_from_der(der, dlen, &c, eb);
        free(der);
        if (rc != 0) {
            if (*n > 0 || memfind(p, (size_t)(end - p), "-----BEGIN "))
                snprintf(eb->msg + strlen(eb->msg),
                    sizeof(eb->msg) - strlen(eb->msg),
                    " (certificate %zu of the bundle)", *n + 1);
            return rc;
        }
        if (push_cert(v, n, c) != 0) {
            pki_cert_free(c);
            return err_set(eb, ERR_NOMEM, "nomem", "out of memory");
        }
    }
    if (*n == 0) {
        if (other)
            return err_set(eb, ERR_INVAL, "invalid_certificate",
                "no certificate found: the input holds a '%s' PEM block, "
                "not a CERTIFICATE",
                other_label);
        return err_set(eb, ERR_INVAL, "invalid_certificate",
            "no certificate found");
    }
    return 0;
}

int
pki_certs_parse(const char *data, size_t len, struct pki_cert ***out, size_t *n,
    struct errbuf *eb)
{
    struct pki_cert **v = NULL, *c = NULL;
    size_t            cnt = 0;
    const char       *s = data, *e = data + len;
    unsigned char    *der = NULL;
    size_t            dlen;
    int               rc, ishex = 1, line0 = 1;

    *out = NULL;
    *n = 0;
    if (data == NULL)
        len = 0;
    if (len > PKI_MAX_INPUT)
        return err_set(eb, ERR_TOOBIG, "too_big",
            "the certificate input is %zu bytes; at most %d are accepted", len,
            PKI_MAX_INPUT);
    /* DER: binary, starts with SEQUENCE. */
    if (len >= 2 && (unsigned char)data[0] == 0x30
        && ((unsigned char)data[1] & 0x80)) {
        if ((rc = pki_cert_from_der((const unsigned char *)data, len, &c, eb))
            != 0)
            return rc;
        goto one;
    }
    while (s < e && isspace((unsigned char)*s)) {
        if (*s == '\n')
            line0++;
        s++;
    }
    while (e > s && isspace((unsigned char)e[-1]))
        e--;
    /* A paste after "crypto pki authenticate" may end with "quit". */
    if (e - s >= 4 && memcmp(e - 4, "quit", 4) == 0
        && (e - s == 4 || isspace((unsigned char)e[-5]))) {
        e -= 4;
        while (e > s && isspace((unsigned char)e[-1]))
            e--;
    }
    if (s == e)
        return err_set(eb, ERR_INVAL, "invalid_certificate",
            "no certificate found: the input is empty");
    if (memfind(s, (size_t)(e - s), "-----BEGIN ") != NULL) {
        rc = pem_parse(data, len, &v, &cnt, eb);
        if (rc != 0) {
            pki_certs_free(v, cnt);
            return rc;
        }
        *out = v;
        *n = cnt;
        return 0;
    }
    /* hex dump or bare base64 */
    {
        const char *w = s;
        while (w < e) {
            const char *le = memchr(w, '\n', (size_t)(e - w));
            const char *t = w;
            if (le == NULL)
                le = e;
            while (t < le && isspace((unsigned char)*t))
                t++;
            if (!((size_t)(le - t) >= 11 && !strncmp(t, "certificate", 11))
                && !((size_t)(le - t) >= 4 && !strncmp(t, "quit", 4))) {
                for (; t < le; t++)
                    if (!isxdigit((unsigned char)*t)
                        && !isspace((unsigned char)*t))
                        ishex = 0;
            }
            w = le + 1;
        }
    }
    if (ishex)
        rc = hex_decode(s, (size_t)(e - s), &der, &dlen, eb);
    else
        rc = b64_decode(s, (size_t)(e - s), line0, &der, &dlen, eb);
    if (rc != 0)
        return rc;
    rc = pki_cert_from_der(der, dlen, &c, eb);
    free(der);
    if (rc != 0)
        return rc;
one:
    if (push_cert(&v, &cnt, c) != 0) {
        pki_cert_free(c);
        return err_set(eb, ERR_NOMEM, "nomem", "out of memory");
    }
    *out = v;
    *n = cnt;
    return 0;
}

int
pki_cert_parse(const char *data, size_t len, struct pki_cert **out,
    struct errbuf *eb)
{
    struct pki_cert **v;
    size_t            n;
    int               rc;

    *out = NULL;
    if ((rc = pki_certs_parse(data, len, &v, &n, eb)) != 0)
        return rc;
    if (n != 1) {
        pki_certs_free(v, n);
        return err_set(eb, ERR_INVAL, "invalid_certificate",
            "more than one certificate (found %zu); a trustpoint holds one "
            "certificate - import a chain with import-chain instead",
            n);
    }
    *out = v[0];
    free(v);
    return 0;
}

/* ---- accessors and output forms --------------------------------------- */

const unsigned char *
pki_cert_der(const struct pki_cert *c, size_t *len)
{
    *len = c->der_len;
    return c->der;
}

char *
pki_cert_pem(const struct pki_cert *c)
{
    static const char tbl[] =
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    struct buf b = BUF_INIT;
    size_t     i, col = 0;

    buf_puts(&b, "-----BEGIN CERTIFICATE-----\n");
    for (i = 0; i < c->der_len; i += 3) {
        unsigned v = (unsigned)c->der[i] << 16;
        size_t   r = c->der_len - i;
        char     q[4];
        if (r > 1)
            v |= (unsigned)c->der[i + 1] << 8;
        if (r > 2)
            v |= c->der[i + 2];
        q[0] = tbl[v >> 18 & 63];
        q[1] = tbl[v >> 12 & 63];
        q[2] = r > 1 ? tbl[v >> 6 & 63] : '=';
        q[3] = r > 2 ? tbl[v & 63] : '=';
        buf_append(&b, q, 4);
        col += 4;
        if (col == 64) {
            buf_putc(&b, '\n');
            col = 0;
        }
    }
    if (col)
        buf_putc(&b, '\n');
    if (buf_puts(&b, "-----END CERTIFICATE-----\n") != 0) {
        buf_free(&b);
        return NULL;
    }
    return buf_take(&b);
}

char *
pki_cert_hex(const struct pki_cert *c, int indent)
{
    struct buf b = BUF_INIT;
    size_t     i;

    for (i = 0; i < c->der_len; i++) {
        if (i % 32 == 0) {
            if (i)
                buf_putc(&b, '\n');
            buf_printf(&b, "%*s", indent < 0 ? 0 : indent, "");
        } else if (i % 4 == 0) {
            buf_putc(&b, ' ');
        }
        buf_printf(&b, "%02X", c->der[i]);
    }
    if (buf_putc(&b, '\n') != 0) {
        buf_free(&b);
        return NULL;
    }
    return buf_take(&b);
}

const char *
pki_cert_subject(const struct pki_cert *c)
{
    return c->subject;
}

const char *
pki_cert_issuer(const struct pki_cert *c)
{
    return c->issuer;
}

const char *
pki_cert_sha256(const struct pki_cert *c)
{
    return c->sha256;
}

int
pki_cert_is_ca(const struct pki_cert *c)
{
    return c->is_ca;
}

int
pki_cert_is_self_signed(const struct pki_cert *c)
{
    return c->self_signed;
}

time_t
pki_cert_not_after(const struct pki_cert *c)
{
    return c->not_after;
}

int
pki_chain_validation_parse(const char *s)
{
    if (s == NULL)
        return -1;
    if (strcmp(s, "continue") == 0)
        return PKI_CHAIN_CONTINUE;
    if (strcmp(s, "stop") == 0)
        return PKI_CHAIN_STOP;
    return -1;
}

int
pki_revocation_parse(const char *s)
{
    if (s == NULL)
        return -1;
    if (strcmp(s, "none") == 0)
        return PKI_REV_NONE;
    if (strcmp(s, "crl") == 0)
        return PKI_REV_CRL;
    if (strcmp(s, "ocsp") == 0)
        return PKI_REV_OCSP;
    return -1;
}
