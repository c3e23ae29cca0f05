/* SPDX-License-Identifier: MIT */
/*
 * engine/config/trustpoint.c: trustpoint rules and multi-step trustpoint writes
 * (engine/config/trustpoint.h). The REST routes and the config import both check
 * names and policies here, so that one rule gives one answer.
 */
#include "engine/config/trustpoint.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine/store/store.h"
#include "pki/pki.h"

int
eng_tp_name_check(const char *n, struct errbuf *eb)
{
    size_t len = n ? strlen(n) : 0;

    if (len == 0 || len > ENG_TP_NAME_MAX)
        return err_field(eb, ERR_INVAL, "name", "invalid_field",
            "trustpoint name must be 1 to %d characters", ENG_TP_NAME_MAX);
    for (size_t i = 0; i < len; i++)
        if (!isalnum((unsigned char)n[i]) && n[i] != '-' && n[i] != '_'
            && n[i] != '.')
            return err_field(eb, ERR_INVAL, "name", "invalid_field",
                "trustpoint name '%.64s' may hold only letters, digits, "
                "'-', '_' and '.'",
                n);
    if (strcmp(n, "import-chain") == 0) /* POST .../import-chain */
        return err_field(eb, ERR_INVAL, "name", "invalid_field",
            "'import-chain' is reserved for POST /api/v1/trustpoints/"
            "import-chain; choose another trustpoint name");
    return 0;
}

int
eng_tp_policy_check(const char *rev, const char *cv, const char *enr,
    struct errbuf *eb)
{
    if (rev != NULL) {
        switch (pki_revocation_parse(rev)) {
        case PKI_REV_NONE:
            break;
        case PKI_REV_CRL:
        case PKI_REV_OCSP:
            return err_field(eb, ERR_UNSUPPORTED, "revocation_check",
                "unsupported",
                "revocation-check %.32s is not supported by "
                "herald (no CRL or OCSP fetching); use revocation-check "
                "none",
                rev);
        default:
            return err_field(eb, ERR_INVAL, "revocation_check", "invalid_field",
                "expected \"revocation-check\" none, crl "
                "or ocsp, got \"%.32s\"",
                rev);
        }
    }
    if (cv != NULL && pki_chain_validation_parse(cv) < 0)
        return err_field(eb, ERR_INVAL, "chain_validation", "invalid_field",
            "expected \"chain-validation\" stop or continue, got \"%.32s\"",
            cv);
    if (enr != NULL && strcmp(enr, "terminal") != 0)
        return err_field(eb, ERR_UNSUPPORTED, "enrollment", "unsupported",
            "enrollment %.32s is not supported; herald takes certificates "
            "pasted by hand (\"terminal\")",
            enr);
    return 0;
}

/* pki_cert_parse, with the error named as a certificate field. */
static int
tp_cert_parse(const char *data, size_t len, const char *field,
    struct pki_cert **out, struct errbuf *eb)
{
    int rc = pki_cert_parse(data, len, out, eb);

    if (rc != 0 && eb != NULL) {
        if (rc == ERR_INVAL || rc == ERR_TOOBIG)
            snprintf(eb->code, sizeof(eb->code), "invalid_certificate");
        if (field)
            snprintf(eb->field, sizeof(eb->field), "%s", field);
        rc = ERR_INVAL;
    }
    return rc;
}

/* Inside a transaction: ERR_EXISTS if name is taken, else puts r (named
 * name) with the certificate. */
static int
tp_insert(struct eng_store *st, const struct eng_tp_rec *pol, const char *name,
    const struct pki_cert *cert, struct errbuf *eb)
{
    struct eng_tp_rec    r = *pol, old;
    const unsigned char *der;
    size_t               derlen;
    int                  rc;

    if (eng_store_tp_get(st, name, &old, NULL) == 0) {
        eng_tp_rec_clear(&old);
        return ERR_EXISTS;
    }
    r.name = (char *)name;
    if ((rc = eng_store_tp_put(st, &r, NULL, eb)) == 0 && cert != NULL) {
        der = pki_cert_der(cert, &derlen);
        rc = eng_store_tp_set_cert(st, name, der, derlen, eb);
    }
    return rc;
}

/* The policy with defaults, strings borrowed. */
static void
tp_policy_fill(struct eng_tp_rec *pol, const char *rev, const char *cv,
    const char *enr)
{
    memset(pol, 0, sizeof(*pol));
    pol->revocation_check = (char *)(rev ? rev : "none");
    pol->chain_validation = (char *)(cv ? cv : "continue");
    pol->enrollment = (char *)(enr ? enr : "terminal");
}

int
eng_tp_create(struct eng_store *st, const struct eng_tp_rec *r, const char *pem,
    size_t len, struct errbuf *eb)
{
    struct eng_tp_rec pol;
    struct pki_cert  *cert = NULL;
    int               rc;

    if ((rc = eng_tp_name_check(r->name, eb)) != 0
        || (rc = eng_tp_policy_check(r->revocation_check, r->chain_validation,
                r->enrollment, eb))
            != 0)
        return rc;
    if (pem != NULL
        && (rc = tp_cert_parse(pem, len, "certificate", &cert, eb)) != 0)
        return rc;
    tp_policy_fill(&pol, r->revocation_check, r->chain_validation,
        r->enrollment);
    if ((rc = eng_store_begin(st, eb)) != 0)
        goto out;
    if ((rc = tp_insert(st, &pol, r->name, cert, eb)) != 0) {
        eng_store_rollback(st);
        if (rc == ERR_EXISTS)
            err_set(eb, ERR_EXISTS, "conflict", "trustpoint %s already exists",
                r->name);
        goto out;
    }
    rc = eng_store_commit(st, eb);
out:
    pki_cert_free(cert);
    return rc;
}

int
eng_tp_set_cert(struct eng_store *st, const char *name, const char *data,
    size_t len, struct errbuf *eb)
{
    struct pki_cert     *cert = NULL;
    const unsigned char *der;
    size_t               derlen;
    int                  rc;

    if ((rc = tp_cert_parse(data, len, NULL, &cert, eb)) != 0)
        return rc;
    der = pki_cert_der(cert, &derlen);
    rc = eng_store_tp_set_cert(st, name, der, derlen, eb);
    pki_cert_free(cert);
    return rc;
}

/* ---- import-chain ------------------------------------------------------ */

/* "AB:cd:.." or "abcd.." -> upper-case hex without separators. */
static void
tp_fp_norm(const char *in, char *out, size_t sz)
{
    size_t n = 0;

    for (; *in && n + 1 < sz; in++)
        if (isxdigit((unsigned char)*in))
            out[n++] = (char)toupper((unsigned char)*in);
    out[n] = '\0';
}

/* Trustpoint name from the subject's CN (or O), sanitised. */
static void
tp_name_from_subject(const char *subj, size_t idx, char *out, size_t sz)
{
    const char *p = NULL;
    size_t      n = 0;
    int         dash = 0;

    for (const char *key = "CN=";; key = "O=") {
        for (const char *s = subj; s && *s;) {
            if (strncmp(s, key, strlen(key)) == 0) {
                p = s + strlen(key);
                break;
            }
            s = strchr(s, ',');
            if (s)
                s++;
            while (s && *s == ' ')
                s++;
        }
        if (p || strcmp(key, "O=") == 0)
            break;
    }
    for (; p && *p && *p != ',' && n + 1 < sz && n < ENG_TP_NAME_MAX; p++) {
        if (isalnum((unsigned char)*p) || *p == '_' || *p == '.') {
            out[n++] = *p;
            dash = 0;
        } else if (!dash && n > 0) {
            out[n++] = '-';
            dash = 1;
        }
    }
    while (n > 0 && out[n - 1] == '-')
        n--;
    out[n] = '\0';
    if (n == 0)
        snprintf(out, sz, "imported-%zu", idx + 1);
}

/* Parses certificate i, checks its fingerprint and picks its name. */
static int
tp_import_one(const struct eng_tp_import *it, size_t i, struct pki_cert **cert,
    char           name[ENG_TP_NAME_MAX + 1], char (*prev)[ENG_TP_NAME_MAX + 1],
    struct errbuf *eb)
{
    char field[64], want[160], have[160];
    int  rc;

    snprintf(field, sizeof(field), "certificates[%zu].pem", i);
    if ((rc = tp_cert_parse(it->pem, strlen(it->pem), field, cert, eb)) != 0)
        return rc;
    tp_fp_norm(it->sha256, want, sizeof(want));
    tp_fp_norm(pki_cert_sha256(*cert), have, sizeof(have));
    if (strcmp(want, have) != 0) {
        snprintf(field, sizeof(field), "certificates[%zu].sha256", i);
        return err_field(eb, ERR_UNSUPPORTED, field, "fingerprint_mismatch",
            "certificate %zu (%s) has SHA-256 %s, not the %s you "
            "confirmed; nothing was imported",
            i, pki_cert_subject(*cert), pki_cert_sha256(*cert), it->sha256);
    }
    if (it->name != NULL) {
        snprintf(field, sizeof(field), "certificates[%zu].name", i);
        if ((rc = eng_tp_name_check(it->name, eb)) != 0) {
            snprintf(eb->field, sizeof(eb->field), "%s", field);
            return rc;
        }
        snprintf(name, ENG_TP_NAME_MAX + 1, "%s", it->name);
    } else {
        tp_name_from_subject(pki_cert_subject(*cert), i, name,
            ENG_TP_NAME_MAX + 1);
    }
    for (size_t k = 0; k < i; k++)
        if (strcmp(prev[k], name) == 0)
            return err_field(eb, ERR_INVAL, field, "invalid_field",
                "two certificates would both be named %s; give "
                "\"name\" for one of them",
                name);
    return 0;
}

int
eng_tp_import_chain(struct eng_store *st, const struct eng_tp_import *v,
    size_t n, const char *rev, const char *cv, char ***out, struct errbuf *eb)
{
    struct pki_cert **certs = NULL;
    char(*names)[ENG_TP_NAME_MAX + 1] = NULL;
    struct eng_tp_rec pol;
    char            **res = NULL;
    size_t            i;
    int               rc;

    *out = NULL;
    if ((rc = eng_tp_policy_check(rev, cv, NULL, eb)) != 0)
        return rc;
    tp_policy_fill(&pol, rev, cv, NULL);
    certs = calloc(n ? n : 1, sizeof(*certs));
    names = calloc(n ? n : 1, sizeof(*names));
    res = calloc(n ? n : 1, sizeof(*res));
    if (certs == NULL || names == NULL || res == NULL) {
        rc = err_set(eb, ERR_NOMEM, "internal", "out of memory");
        goto out;
    }
    for (i = 0; i < n; i++)
        if ((rc = tp_import_one(&v[i], i, &certs[i], names[i], names, eb)) != 0)
            goto out;
    for (i = 0; i < n; i++)
        if ((res[i] = strdup(names[i])) == NULL) {
            rc = err_set(eb, ERR_NOMEM, "internal", "out of memory");
            goto out;
        }
    if ((rc = eng_store_begin(st, eb)) != 0)
        goto out;
    for (i = 0; i < n && rc == 0; i++) {
        /* not given: an intermediate (not self-signed) anchors with
         * "stop", as the probe suggests; a root with "continue" */
        if (cv == NULL)
            pol.chain_validation =
                pki_cert_is_self_signed(certs[i]) ? "continue" : "stop";
        if ((rc = tp_insert(st, &pol, names[i], certs[i], eb)) == ERR_EXISTS)
            err_field(eb, ERR_EXISTS, "certificates", "conflict",
                "trustpoint %s already exists; give another \"name\" for "
                "certificate %zu or delete it first",
                names[i], i);
    }
    if (rc != 0) {
        eng_store_rollback(st);
        goto out;
    }
    if ((rc = eng_store_commit(st, eb)) != 0)
        goto out;
    *out = res;
    res = NULL;
out:
    for (i = 0; certs != NULL && i < n; i++)
        pki_cert_free(certs[i]);
    free(certs);
    free(names);
    if (res != NULL)
        eng_tp_names_free(res, n);
    return rc;
}

void
eng_tp_names_free(char **names, size_t n)
{
    for (size_t i = 0; names != NULL && i < n; i++)
        free(names[i]);
    free(names);
}
