/* SPDX-License-Identifier: MIT */
/*
 * pki/cert_details.c: everything IOS "show crypto pki certificates verbose"
 * shows about a certificate, as JSON, plus the warnings herald gives about a
 * trustpoint's certificate (not a CA, expired, not yet valid, expiring
 * within 30 days). Extensions are read from the DER (RFC 5280 section 4.2)
 * because wolfSSL 5.5.4 exposes some of them poorly or not at all
 * (authority info access, certificate policies).
 */
#include "pki/pki_int.h"

#include <arpa/inet.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>
#include <wolfssl/wolfcrypt/hash.h>

#include "common/buf.h"

static const struct {
    const char *oid;
    const char *name;
} oid_names[] = {
    { "1.2.840.113549.1.1.1", "rsaEncryption" },
    { "1.2.840.10045.2.1", "id-ecPublicKey" },
    { "1.3.101.112", "ED25519" },
    { "1.3.101.113", "ED448" },
    { "1.2.840.113549.1.1.5", "sha1WithRSAEncryption" },
    { "1.2.840.113549.1.1.11", "sha256WithRSAEncryption" },
    { "1.2.840.113549.1.1.12", "sha384WithRSAEncryption" },
    { "1.2.840.113549.1.1.13", "sha512WithRSAEncryption" },
    { "1.2.840.113549.1.1.10", "rsassaPss" },
    { "1.2.840.10045.4.1", "ecdsa-with-SHA1" },
    { "1.2.840.10045.4.3.2", "ecdsa-with-SHA256" },
    { "1.2.840.10045.4.3.3", "ecdsa-with-SHA384" },
    { "1.2.840.10045.4.3.4", "ecdsa-with-SHA512" },
    { "1.3.6.1.5.5.7.3.1", "serverAuth" },
    { "1.3.6.1.5.5.7.3.2", "clientAuth" },
    { "1.3.6.1.5.5.7.3.3", "codeSigning" },
    { "1.3.6.1.5.5.7.3.4", "emailProtection" },
    { "1.3.6.1.5.5.7.3.8", "timeStamping" },
    { "1.3.6.1.5.5.7.3.9", "OCSPSigning" },
    { "2.5.29.37.0", "anyExtendedKeyUsage" },
    { "1.2.840.10045.3.1.7", "prime256v1" },
    { "1.3.132.0.34", "secp384r1" },
    { "1.3.132.0.35", "secp521r1" },
};

static const char *
oid_name(const char *oid)
{
    size_t i;

    for (i = 0; i < sizeof(oid_names) / sizeof(oid_names[0]); i++)
        if (strcmp(oid_names[i].oid, oid) == 0)
            return oid_names[i].name;
    return oid;
}

/* Text of one GeneralName, or NULL for kinds herald does not show. */
static char *
general_name(const struct der *g)
{
    struct buf b = BUF_INIT;
    char       ip[INET6_ADDRSTRLEN];
    struct der d = *g;
    char      *s;

    switch (g->tag) {
    case 0x81:
        buf_puts(&b, "email:");
        break;
    case 0x82:
        buf_puts(&b, "DNS:");
        break;
    case 0x86:
        buf_puts(&b, "URI:");
        break;
    case 0x87:
        if (g->len == 4)
            inet_ntop(AF_INET, g->v, ip, sizeof(ip));
        else if (g->len == 16)
            inet_ntop(AF_INET6, g->v, ip, sizeof(ip));
        else
            snprintf(ip, sizeof(ip), "<invalid>");
        buf_printf(&b, "IP:%s", ip);
        return buf_take(&b);
    default:
        return NULL;
    }
    d.tag = 0x16;
    if ((s = der_string(&d)) == NULL) {
        buf_free(&b);
        return NULL;
    }
    buf_puts(&b, s);
    free(s);
    return buf_take(&b);
}

/* Adds each GeneralName of the SEQUENCE content [p, end) to arr; with
 * only_uri, the bare URIs. */
static void
general_names(const unsigned char *p, const unsigned char *end, cJSON *arr,
    int only_uri)
{
    struct der g;

    while (p < end && der_next(&p, end, &g) == 0) {
        char *s = general_name(&g);
        if (s == NULL)
            continue;
        if (only_uri) {
            if (g.tag == 0x86)
                cJSON_AddItemToArray(arr, cJSON_CreateString(s + 4));
        } else {
            cJSON_AddItemToArray(arr, cJSON_CreateString(s));
        }
        free(s);
    }
}

cJSON *
pki_cert_sans_json(const struct pki_cert *c)
{
    cJSON               *arr = cJSON_CreateArray();
    struct der           v, seq;
    const unsigned char *p;

    if (arr == NULL || pki_cert_ext(c, "2.5.29.17", &v, NULL) != 0)
        return arr;
    p = v.v;
    if (der_next(&p, v.v + v.len, &seq) == 0 && seq.tag == 0x30)
        general_names(seq.v, seq.v + seq.len, arr, 0);
    return arr;
}

int
pki_cert_has_ip(const struct pki_cert *c, const unsigned char *ip, size_t len)
{
    struct der           v, seq, g;
    const unsigned char *p, *end;

    if (c == NULL || (len != 4 && len != 16)
        || pki_cert_ext(c, "2.5.29.17", &v, NULL) != 0)
        return 0;
    p = v.v;
    if (der_next(&p, v.v + v.len, &seq) != 0 || seq.tag != 0x30)
        return 0;
    p = seq.v;
    end = seq.v + seq.len;
    while (p < end && der_next(&p, end, &g) == 0) {
        /* iPAddress [7] IMPLICIT OCTET STRING: the address in network
         * order, 4 or 16 bytes (RFC 5280 4.2.1.6) */
        if (g.tag == 0x87 && g.len == len && memcmp(g.v, ip, len) == 0)
            return 1;
    }
    return 0;
}

char *
pki_cert_sans_str(const struct pki_cert *c)
{
    cJSON     *arr = pki_cert_sans_json(c), *it;
    struct buf b = BUF_INIT;

    cJSON_ArrayForEach(it, arr)
    {
        if (b.len)
            buf_puts(&b, ", ");
        buf_puts(&b, it->valuestring);
    }
    cJSON_Delete(arr);
    if (b.p == NULL)
        buf_puts(&b, "");
    return buf_take(&b);
}

static void
rdn_json(void *arg, const char *type, const char *value, int multi)
{
    cJSON *o = cJSON_CreateObject();

    (void)multi;
    cJSON_AddStringToObject(o, "type", type);
    cJSON_AddStringToObject(o, "value", value);
    cJSON_AddItemToArray(arg, o);
}

static void
add_hex(cJSON *o, const char *key, const unsigned char *p, size_t len)
{
    char *s = malloc(3 * len + 1);

    if (s == NULL)
        return;
    pki_hex_colon(p, len, s);
    cJSON_AddStringToObject(o, key, s);
    free(s);
}

static void
add_time(cJSON *o, const char *key, time_t t)
{
    char s[32];

    pki_time_str(t, s, sizeof(s));
    cJSON_AddStringToObject(o, key, s);
}

static void
details_public_key(const struct pki_cert *c, cJSON *o)
{
    cJSON               *pk = cJSON_AddObjectToObject(o, "public_key");
    const unsigned char *p = c->spki.v, *end = c->spki.v + c->spki.len;
    struct der           alg, oid, param;
    char                 buf[64];
    WOLFSSL_EVP_PKEY    *k;
    const char          *name = "unknown";

    if (der_next(&p, end, &alg) == 0 && alg.tag == 0x30) {
        const unsigned char *q = alg.v;
        if (der_next(&q, alg.v + alg.len, &oid) == 0 && oid.tag == 0x06) {
            der_oid_str(oid.v, oid.len, buf, sizeof(buf));
            if (strcmp(buf, "1.2.840.113549.1.1.1") == 0)
                name = "RSA";
            else if (strcmp(buf, "1.2.840.10045.2.1") == 0)
                name = "EC";
            else if (strcmp(buf, "1.3.101.112") == 0)
                name = "Ed25519";
            else if (strcmp(buf, "1.3.101.113") == 0)
                name = "Ed448";
            else
                name = NULL;
            cJSON_AddStringToObject(pk, "algorithm", name ? name : buf);
            if (der_next(&q, alg.v + alg.len, &param) == 0
                && param.tag == 0x06) {
                der_oid_str(param.v, param.len, buf, sizeof(buf));
                cJSON_AddStringToObject(pk, "curve", oid_name(buf));
            }
        }
    }
    if (cJSON_GetObjectItem(pk, "algorithm") == NULL)
        cJSON_AddStringToObject(pk, "algorithm", name);
    if ((k = wolfSSL_X509_get_pubkey(c->x509)) != NULL) {
        cJSON_AddNumberToObject(pk, "bits", wolfSSL_EVP_PKEY_bits(k));
        wolfSSL_EVP_PKEY_free(k);
    } else {
        cJSON_AddNullToObject(pk, "bits");
    }
}

static void
details_key_usage(const struct pki_cert *c, cJSON *o)
{
    static const char *const names[] = { "digitalSignature", "nonRepudiation",
        "keyEncipherment", "dataEncipherment", "keyAgreement", "keyCertSign",
        "cRLSign", "encipherOnly", "decipherOnly" };
    cJSON                   *arr = cJSON_AddArrayToObject(o, "key_usage");
    struct der               v, bs;
    const unsigned char     *p;
    unsigned                 bits = 0, i;

    if (pki_cert_ext(c, "2.5.29.15", &v, NULL) != 0)
        return;
    p = v.v;
    if (der_next(&p, v.v + v.len, &bs) != 0 || bs.tag != 0x03 || bs.len < 2)
        return;
    bits = (unsigned)bs.v[1] << 8;
    if (bs.len > 2)
        bits |= bs.v[2];
    for (i = 0; i < 9; i++)
        if (bits & (0x8000u >> i))
            cJSON_AddItemToArray(arr, cJSON_CreateString(names[i]));
}

static void
details_eku(const struct pki_cert *c, cJSON *o)
{
    cJSON               *arr = cJSON_AddArrayToObject(o, "extended_key_usage");
    struct der           v, seq, id;
    const unsigned char *p, *q;
    char                 buf[64];

    if (pki_cert_ext(c, "2.5.29.37", &v, NULL) != 0)
        return;
    p = v.v;
    if (der_next(&p, v.v + v.len, &seq) != 0 || seq.tag != 0x30)
        return;
    q = seq.v;
    while (q < seq.v + seq.len && der_next(&q, seq.v + seq.len, &id) == 0) {
        if (id.tag != 0x06)
            continue;
        der_oid_str(id.v, id.len, buf, sizeof(buf));
        cJSON_AddItemToArray(arr, cJSON_CreateString(oid_name(buf)));
    }
}

static void
details_key_ids(const struct pki_cert *c, cJSON *o)
{
    struct der           v, el, seq;
    const unsigned char *p;

    if (pki_cert_ext(c, "2.5.29.14", &v, NULL) == 0) {
        p = v.v;
        if (der_next(&p, v.v + v.len, &el) == 0 && el.tag == 0x04)
            add_hex(o, "subject_key_id", el.v, el.len);
    }
    if (cJSON_GetObjectItem(o, "subject_key_id") == NULL)
        cJSON_AddNullToObject(o, "subject_key_id");
    if (pki_cert_ext(c, "2.5.29.35", &v, NULL) == 0) {
        p = v.v;
        if (der_next(&p, v.v + v.len, &seq) == 0 && seq.tag == 0x30) {
            const unsigned char *q = seq.v;
            while (
                q < seq.v + seq.len && der_next(&q, seq.v + seq.len, &el) == 0)
                if (el.tag == 0x80)
                    add_hex(o, "authority_key_id", el.v, el.len);
        }
    }
    if (cJSON_GetObjectItem(o, "authority_key_id") == NULL)
        cJSON_AddNullToObject(o, "authority_key_id");
}

static void
details_crldp(const struct pki_cert *c, cJSON *o)
{
    cJSON     *arr = cJSON_AddArrayToObject(o, "crl_distribution_points");
    struct der v, seq, dp, el, fn;
    const unsigned char *p, *q, *r, *s;

    if (pki_cert_ext(c, "2.5.29.31", &v, NULL) != 0)
        return;
    p = v.v;
    if (der_next(&p, v.v + v.len, &seq) != 0 || seq.tag != 0x30)
        return;
    q = seq.v;
    while (q < seq.v + seq.len && der_next(&q, seq.v + seq.len, &dp) == 0) {
        r = dp.v;
        while (r < dp.v + dp.len && der_next(&r, dp.v + dp.len, &el) == 0) {
            if (el.tag != 0xa0)
                continue;
            s = el.v;
            if (der_next(&s, el.v + el.len, &fn) == 0 && fn.tag == 0xa0)
                general_names(fn.v, fn.v + fn.len, arr, 1);
        }
    }
}

static void
details_aia(const struct pki_cert *c, cJSON *o)
{
    cJSON     *aia = cJSON_AddObjectToObject(o, "authority_info_access");
    cJSON     *ocsp = cJSON_AddArrayToObject(aia, "ocsp");
    cJSON     *cai = cJSON_AddArrayToObject(aia, "ca_issuers");
    struct der v, seq, ad, id, g;
    const unsigned char *p, *q, *r;
    char                 buf[64];

    if (pki_cert_ext(c, "1.3.6.1.5.5.7.1.1", &v, NULL) != 0)
        return;
    p = v.v;
    if (der_next(&p, v.v + v.len, &seq) != 0 || seq.tag != 0x30)
        return;
    q = seq.v;
    while (q < seq.v + seq.len && der_next(&q, seq.v + seq.len, &ad) == 0) {
        char *s;
        r = ad.v;
        if (der_next(&r, ad.v + ad.len, &id) != 0 || id.tag != 0x06
            || der_next(&r, ad.v + ad.len, &g) != 0)
            continue;
        der_oid_str(id.v, id.len, buf, sizeof(buf));
        if ((s = general_name(&g)) == NULL)
            continue;
        if (strcmp(buf, "1.3.6.1.5.5.7.48.1") == 0)
            cJSON_AddItemToArray(ocsp,
                cJSON_CreateString(g.tag == 0x86 ? s + 4 : s));
        else if (strcmp(buf, "1.3.6.1.5.5.7.48.2") == 0)
            cJSON_AddItemToArray(cai,
                cJSON_CreateString(g.tag == 0x86 ? s + 4 : s));
        free(s);
    }
}

static void
details_policies(const struct pki_cert *c, cJSON *o)
{
    cJSON               *arr = cJSON_AddArrayToObject(o, "policies");
    struct der           v, seq, pi, id;
    const unsigned char *p, *q, *r;
    char                 buf[64];

    if (pki_cert_ext(c, "2.5.29.32", &v, NULL) != 0)
        return;
    p = v.v;
    if (der_next(&p, v.v + v.len, &seq) != 0 || seq.tag != 0x30)
        return;
    q = seq.v;
    while (q < seq.v + seq.len && der_next(&q, seq.v + seq.len, &pi) == 0) {
        r = pi.v;
        if (der_next(&r, pi.v + pi.len, &id) != 0 || id.tag != 0x06)
            continue;
        der_oid_str(id.v, id.len, buf, sizeof(buf));
        cJSON_AddItemToArray(arr, cJSON_CreateString(buf));
    }
}

cJSON *
pki_cert_details(const struct pki_cert *c)
{
    cJSON        *o, *fp, *bc, *rdns;
    unsigned char h[32];
    char          buf[128];
    size_t        i;
    struct buf    serial = BUF_INIT;

    if (c == NULL || (o = cJSON_CreateObject()) == NULL)
        return NULL;
    cJSON_AddStringToObject(o, "status", "Available");
    cJSON_AddNumberToObject(o, "version", c->version);
    for (i = 0; i + 1 < c->serial.len && c->serial.v[i] == 0; i++)
        ;
    for (; i < c->serial.len; i++)
        buf_printf(&serial, "%02X", c->serial.v[i]);
    cJSON_AddStringToObject(o, "serial", buf_str(&serial));
    buf_free(&serial);
    cJSON_AddStringToObject(o, "subject", c->subject);
    rdns = cJSON_AddArrayToObject(o, "subject_rdns");
    {
        struct der n = c->subject_der;
        pki_name_walk(&n, rdn_json, rdns);
    }
    cJSON_AddStringToObject(o, "issuer", c->issuer);
    rdns = cJSON_AddArrayToObject(o, "issuer_rdns");
    {
        struct der n = c->issuer_der;
        pki_name_walk(&n, rdn_json, rdns);
    }
    add_time(o, "not_before", c->not_before);
    add_time(o, "not_after", c->not_after);
    details_public_key(c, o);
    {
        const unsigned char *p = c->sig_alg.v;
        struct der           id;
        if (der_next(&p, c->sig_alg.v + c->sig_alg.len, &id) == 0
            && id.tag == 0x06) {
            der_oid_str(id.v, id.len, buf, sizeof(buf));
            cJSON_AddStringToObject(o, "signature_algorithm", oid_name(buf));
        }
    }
    fp = cJSON_AddObjectToObject(o, "fingerprints");
    wc_Md5Hash(c->der, (word32)c->der_len, h);
    add_hex(fp, "md5", h, 16);
    wc_ShaHash(c->der, (word32)c->der_len, h);
    add_hex(fp, "sha1", h, 20);
    cJSON_AddStringToObject(fp, "sha256", c->sha256);
    details_key_usage(c, o);
    details_eku(c, o);
    details_key_ids(c, o);
    bc = cJSON_AddObjectToObject(o, "basic_constraints");
    cJSON_AddBoolToObject(bc, "ca", c->is_ca);
    if (c->path_len >= 0)
        cJSON_AddNumberToObject(bc, "path_len", c->path_len);
    else
        cJSON_AddNullToObject(bc, "path_len");
    cJSON_AddItemToObject(o, "subject_alt_names", pki_cert_sans_json(c));
    details_crldp(c, o);
    details_aia(c, o);
    details_policies(c, o);
    cJSON_AddBoolToObject(o, "self_signed", c->self_signed);
    return o;
}

static void warn(cJSON *arr, const char *code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void
warn(cJSON *arr, const char *code, const char *fmt, ...)
{
    cJSON  *o = cJSON_CreateObject();
    char    msg[512];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    cJSON_AddStringToObject(o, "code", code);
    cJSON_AddStringToObject(o, "message", msg);
    cJSON_AddItemToArray(arr, o);
}

cJSON *
pki_cert_warnings(const struct pki_cert *c, time_t now)
{
    cJSON *arr = cJSON_CreateArray();
    char   na[32], nb[32];

    if (arr == NULL || c == NULL)
        return arr;
    pki_time_str(c->not_after, na, sizeof(na));
    pki_time_str(c->not_before, nb, sizeof(nb));
    if (!c->is_ca)
        warn(arr, "not_ca",
            "'%s' is not a CA certificate (it looks like a server's own "
            "certificate): trusting it pins that one server and stops "
            "working when it expires on %s or is renewed; prefer the CA "
            "that issued it ('%s')",
            c->subject, na, c->issuer);
    if (now > c->not_after)
        warn(arr, "expired",
            "'%s' expired on %s; a chain anchored at it will fail", c->subject,
            na);
    else if (now < c->not_before)
        warn(arr, "not_yet_valid", "'%s' is not valid before %s", c->subject,
            nb);
    else if (c->not_after - now <= 30 * 86400)
        warn(arr, "expiring_soon",
            "'%s' expires in %ld days, on %s; import its replacement "
            "before then",
            c->subject, (long)((c->not_after - now) / 86400), na);
    return arr;
}
