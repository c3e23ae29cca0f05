/* SPDX-License-Identifier: MIT */
/*
 * server/routes_trustpoints.c: /api/v1/trustpoints — IOS "crypto pki
 * trustpoint" with its policies, the CA certificate pasted for "crypto pki
 * authenticate" (PEM, bare base64 or DER), its details (pki_cert_details)
 * and warnings (not_ca, expired, expiring_soon), and import-chain: trusting
 * the certificates a probe fetched, each checked against the SHA-256 the
 * user confirmed, in one transaction.
 */
#include "server/srv_int.h"

#include <cjson/cJSON.h>
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "engine/store.h"
#include "pki/pki.h"

#define TP_NAME_MAX 64

static int
tp_name_check(const char *n, struct errbuf *eb)
{
    size_t len = strlen(n);

    if (len == 0 || len > TP_NAME_MAX)
        return err_field(eb, ERR_INVAL, "name", "invalid_field",
            "trustpoint name must be 1 to %d characters", TP_NAME_MAX);
    for (size_t i = 0; i < len; i++)
        if (!isalnum((unsigned char)n[i]) && n[i] != '-' && n[i] != '_' &&
            n[i] != '.')
            return err_field(eb, ERR_INVAL, "name", "invalid_field",
                "trustpoint name '%.64s' may hold only letters, digits, "
                "'-', '_' and '.'", n);
    if (strcmp(n, "import-chain") == 0) /* POST .../import-chain */
        return err_field(eb, ERR_INVAL, "name", "invalid_field",
            "'import-chain' is reserved for POST /api/v1/trustpoints/"
            "import-chain; choose another trustpoint name");
    return 0;
}

cJSON *
srv_tp_json(const struct eng_tp_rec *r)
{
    cJSON           *j = cJSON_CreateObject();
    struct pki_cert *c = NULL;
    struct errbuf    eb = { 0 };

    cJSON_AddStringToObject(j, "name", r->name);
    cJSON_AddStringToObject(j, "revocation_check", r->revocation_check);
    cJSON_AddStringToObject(j, "chain_validation", r->chain_validation);
    cJSON_AddStringToObject(j, "enrollment", r->enrollment);
    srv_json_add_time(j, "created", r->created);
    if (r->cert_der != NULL &&
        pki_cert_from_der(r->cert_der, r->cert_len, &c, &eb) == 0) {
        cJSON *d = pki_cert_details(c);

        srv_json_add_time(j, "certificate_installed", r->cert_installed);
        cJSON_AddItemToObject(j, "certificate", d ? d : cJSON_CreateNull());
        cJSON_AddItemToObject(j, "warnings", pki_cert_warnings(c,
            time(NULL)));
        pki_cert_free(c);
    } else {
        cJSON *w = cJSON_AddArrayToObject(j, "warnings");

        cJSON_AddNullToObject(j, "certificate");
        if (r->cert_der != NULL) {
            cJSON *o = cJSON_CreateObject();

            cJSON_AddStringToObject(o, "code", "invalid_certificate");
            cJSON_AddStringToObject(o, "message", eb.msg);
            cJSON_AddItemToArray(w, o);
        }
    }
    return j;
}

static void
tp_reply(struct srv_req *rq, struct srv_resp *rs, const char *name,
    int status)
{
    struct eng_tp_rec r;
    struct errbuf     eb = { 0 };
    int               rc;

    if ((rc = eng_store_tp_get(rq->srv->store, name, &r, &eb)) != 0) {
        srv_reply_error(rs, rc, &eb);
        return;
    }
    srv_reply_json(rs, status, srv_tp_json(&r));
    eng_tp_rec_clear(&r);
}

void
srv_h_tp_list(struct srv_req *rq, struct srv_resp *rs)
{
    struct eng_tp_rec *v = NULL;
    struct errbuf      eb = { 0 };
    size_t             n = 0;
    int                rc;
    cJSON             *root, *items;

    if ((rc = eng_store_tp_list(rq->srv->store, &v, &n, &eb)) != 0) {
        srv_reply_error(rs, rc, &eb);
        return;
    }
    root = cJSON_CreateObject();
    items = cJSON_AddArrayToObject(root, "items");
    for (size_t i = 0; i < n; i++)
        cJSON_AddItemToArray(items, srv_tp_json(&v[i]));
    eng_tp_recs_free(v, n);
    srv_reply_json(rs, 200, root);
}

void
srv_h_tp_get(struct srv_req *rq, struct srv_resp *rs)
{
    tp_reply(rq, rs, rq->params[0], 200);
}

void
srv_h_tp_del(struct srv_req *rq, struct srv_resp *rs)
{
    struct errbuf eb = { 0 };
    int           rc;

    if ((rc = eng_store_tp_del(rq->srv->store, rq->params[0], &eb)) != 0)
        srv_reply_error(rs, rc, &eb);
    else
        srv_reply_status(rs, 204);
}

/* Checks the policy fields; fills r with borrowed strings. */
static int
tp_policy(const cJSON *j, struct eng_tp_rec *r, struct errbuf *eb)
{
    const char *rev = "none", *cv = "continue", *en = "terminal";
    int         rc;

    if ((rc = srv_json_string(j, "revocation_check", 0, &rev, eb)) != 0 ||
        (rc = srv_json_string(j, "chain_validation", 0, &cv, eb)) != 0 ||
        (rc = srv_json_string(j, "enrollment", 0, &en, eb)) != 0)
        return rc;
    switch (pki_revocation_parse(rev)) {
    case PKI_REV_NONE:
        break;
    case PKI_REV_CRL:
    case PKI_REV_OCSP:
        return err_field(eb, ERR_UNSUPPORTED, "revocation_check",
            "unsupported",
            "revocation-check %s is not supported by herald yet; use "
            "\"none\"", rev);
    default:
        return err_field(eb, ERR_INVAL, "revocation_check", "invalid_field",
            "revocation_check must be \"none\" (\"crl\" and \"ocsp\" are "
            "not supported yet), not '%.32s'", rev);
    }
    if (pki_chain_validation_parse(cv) < 0)
        return err_field(eb, ERR_INVAL, "chain_validation", "invalid_field",
            "chain_validation must be \"stop\" or \"continue\", not '%.32s'",
            cv);
    if (strcmp(en, "terminal") != 0)
        return err_field(eb, ERR_UNSUPPORTED, "enrollment", "unsupported",
            "enrollment %.32s is not supported; herald takes certificates "
            "pasted by hand (\"terminal\")", en);
    r->revocation_check = (char *)rev;
    r->chain_validation = (char *)cv;
    r->enrollment = (char *)en;
    return 0;
}

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

void
srv_h_tp_post(struct srv_req *rq, struct srv_resp *rs)
{
    static const char *const fields[] = { "name", "revocation_check",
        "chain_validation", "enrollment", "certificate", NULL };
    struct eng_store *st = rq->srv->store;
    struct eng_tp_rec r = { 0 }, old;
    struct pki_cert  *cert = NULL;
    struct errbuf     eb = { 0 };
    const char       *name = NULL, *pem = NULL;
    const unsigned char *der;
    size_t            derlen;
    int               rc;
    cJSON            *j;

    if ((j = srv_req_json(rq, rs)) == NULL)
        return;
    if ((rc = srv_json_only(j, fields, &eb)) != 0 ||
        (rc = srv_json_string(j, "name", 1, &name, &eb)) != 0 ||
        (rc = tp_name_check(name, &eb)) != 0 ||
        (rc = tp_policy(j, &r, &eb)) != 0 ||
        (rc = srv_json_string(j, "certificate", 0, &pem, &eb)) != 0)
        goto out;
    if (pem && (rc = tp_cert_parse(pem, strlen(pem), "certificate", &cert,
                    &eb)) != 0)
        goto out;
    r.name = (char *)name;
    if ((rc = eng_store_begin(st, &eb)) != 0)
        goto out;
    if (eng_store_tp_get(st, name, &old, NULL) == 0) {
        eng_tp_rec_clear(&old);
        eng_store_rollback(st);
        rc = err_set(&eb, ERR_EXISTS, "conflict",
            "trustpoint %s already exists", name);
        goto out;
    }
    if ((rc = eng_store_tp_put(st, &r, NULL, &eb)) == 0 && cert) {
        der = pki_cert_der(cert, &derlen);
        rc = eng_store_tp_set_cert(st, name, der, derlen, &eb);
    }
    if (rc != 0) {
        eng_store_rollback(st);
        goto out;
    }
    if ((rc = eng_store_commit(st, &eb)) != 0)
        goto out;
    tp_reply(rq, rs, name, 201);
out:
    if (rc != 0)
        srv_reply_error(rs, rc, &eb);
    pki_cert_free(cert);
    cJSON_Delete(j);
}

void
srv_h_tp_cert_put(struct srv_req *rq, struct srv_resp *rs)
{
    static const char *const types[] = { "application/x-pem-file",
        "text/plain", "application/pkix-cert", NULL };
    struct pki_cert     *cert = NULL;
    struct errbuf        eb = { 0 };
    const unsigned char *der;
    size_t               derlen;
    int                  rc;

    if (!srv_req_accept_types(rq, rs, types))
        return;
    if (rq->body.len == 0) {
        srv_reply_errorf(rs, ERR_INVAL, "invalid_certificate",
            "the body is empty; paste the CA certificate (PEM)");
        return;
    }
    if ((rc = tp_cert_parse(rq->body.p, rq->body.len, NULL, &cert,
             &eb)) != 0) {
        srv_reply_error(rs, rc, &eb);
        return;
    }
    der = pki_cert_der(cert, &derlen);
    rc = eng_store_tp_set_cert(rq->srv->store, rq->params[0], der, derlen,
        &eb);
    pki_cert_free(cert);
    if (rc != 0)
        srv_reply_error(rs, rc, &eb);
    else
        tp_reply(rq, rs, rq->params[0], 200);
}

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

    for (const char *key = "CN="; ; key = "O=") {
        for (const char *s = subj; s && *s; ) {
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
    for (; p && *p && *p != ',' && n + 1 < sz && n < TP_NAME_MAX; p++) {
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

void
srv_h_tp_import_chain(struct srv_req *rq, struct srv_resp *rs)
{
    static const char *const fields[] = { "certificates", "chain_validation",
        "revocation_check", NULL };
    struct eng_store  *st = rq->srv->store;
    struct errbuf      eb = { 0 };
    struct pki_cert  **certs = NULL;
    char             (*names)[TP_NAME_MAX + 1] = NULL;
    struct eng_tp_rec  pol = { 0 }, old;
    const cJSON       *arr, *it;
    size_t             n = 0, i;
    int                rc = 0, began = 0;
    cJSON             *j, *root = NULL, *items;
    char               field[64];

    if ((j = srv_req_json(rq, rs)) == NULL)
        return;
    if ((rc = srv_json_only(j, fields, &eb)) != 0 ||
        (rc = tp_policy(j, &pol, &eb)) != 0)
        goto out;
    arr = cJSON_GetObjectItemCaseSensitive(j, "certificates");
    if (!cJSON_IsArray(arr) || cJSON_GetArraySize(arr) == 0) {
        rc = err_field(&eb, ERR_INVAL, "certificates",
            arr ? "invalid_field" : "missing_field",
            "certificates must be a non-empty array of {pem, sha256, "
            "name?}");
        goto out;
    }
    n = (size_t)cJSON_GetArraySize(arr);
    certs = calloc(n, sizeof(*certs));
    names = calloc(n, sizeof(*names));
    if (certs == NULL || names == NULL) {
        rc = err_set(&eb, ERR_NOMEM, "internal", "out of memory");
        goto out;
    }
    i = 0;
    cJSON_ArrayForEach(it, arr) {
        const char *pem = NULL, *fp = NULL, *name = NULL;
        char        want[160], have[160];

        snprintf(field, sizeof(field), "certificates[%zu]", i);
        if (!cJSON_IsObject(it)) {
            rc = err_field(&eb, ERR_INVAL, field, "invalid_field",
                "%s must be an object {pem, sha256, name?}", field);
            goto out;
        }
        if ((rc = srv_json_string(it, "pem", 1, &pem, &eb)) != 0 ||
            (rc = srv_json_string(it, "sha256", 1, &fp, &eb)) != 0 ||
            (rc = srv_json_string(it, "name", 0, &name, &eb)) != 0) {
            char sub[64], msg[sizeof(eb.msg)];

            snprintf(sub, sizeof(sub), "%s", eb.field);
            snprintf(msg, sizeof(msg), "%s", eb.msg);
            snprintf(eb.field, sizeof(eb.field), "%.40s.%.20s", field, sub);
            snprintf(eb.msg, sizeof(eb.msg), "%.40s: %.700s", field, msg);
            goto out;
        }
        snprintf(field, sizeof(field), "certificates[%zu].pem", i);
        if ((rc = tp_cert_parse(pem, strlen(pem), field, &certs[i],
                 &eb)) != 0)
            goto out;
        tp_fp_norm(fp, want, sizeof(want));
        tp_fp_norm(pki_cert_sha256(certs[i]), have, sizeof(have));
        if (strcmp(want, have) != 0) {
            snprintf(field, sizeof(field), "certificates[%zu].sha256", i);
            rc = err_field(&eb, ERR_UNSUPPORTED, field,
                "fingerprint_mismatch",
                "certificate %zu (%s) has SHA-256 %s, not the %s you "
                "confirmed; nothing was imported",
                i, pki_cert_subject(certs[i]), pki_cert_sha256(certs[i]),
                fp);
            goto out;
        }
        if (name) {
            snprintf(field, sizeof(field), "certificates[%zu].name", i);
            if ((rc = tp_name_check(name, &eb)) != 0) {
                snprintf(eb.field, sizeof(eb.field), "%s", field);
                goto out;
            }
            snprintf(names[i], sizeof(names[i]), "%s", name);
        } else {
            tp_name_from_subject(pki_cert_subject(certs[i]), i, names[i],
                sizeof(names[i]));
        }
        for (size_t k = 0; k < i; k++)
            if (strcmp(names[k], names[i]) == 0) {
                rc = err_field(&eb, ERR_INVAL, field, "invalid_field",
                    "two certificates would both be named %s; give "
                    "\"name\" for one of them", names[i]);
                goto out;
            }
        i++;
    }
    if ((rc = eng_store_begin(st, &eb)) != 0)
        goto out;
    began = 1;
    for (i = 0; i < n; i++) {
        const unsigned char *der;
        size_t               derlen;

        if (eng_store_tp_get(st, names[i], &old, NULL) == 0) {
            eng_tp_rec_clear(&old);
            rc = err_field(&eb, ERR_EXISTS, "certificates", "conflict",
                "trustpoint %s already exists; give another \"name\" for "
                "certificate %zu or delete it first", names[i], i);
            goto out;
        }
        pol.name = names[i];
        if ((rc = eng_store_tp_put(st, &pol, NULL, &eb)) != 0)
            goto out;
        der = pki_cert_der(certs[i], &derlen);
        if ((rc = eng_store_tp_set_cert(st, names[i], der, derlen,
                 &eb)) != 0)
            goto out;
    }
    began = 0;
    if ((rc = eng_store_commit(st, &eb)) != 0)
        goto out;
    root = cJSON_CreateObject();
    items = cJSON_AddArrayToObject(root, "items");
    for (i = 0; i < n; i++) {
        struct eng_tp_rec r;

        if (eng_store_tp_get(st, names[i], &r, NULL) == 0) {
            cJSON_AddItemToArray(items, srv_tp_json(&r));
            eng_tp_rec_clear(&r);
        }
    }
    srv_reply_json(rs, 201, root);
out:
    if (began)
        eng_store_rollback(st);
    if (rc != 0)
        srv_reply_error(rs, rc, &eb);
    if (certs)
        for (i = 0; i < n; i++)
            pki_cert_free(certs[i]);
    free(certs);
    free(names);
    cJSON_Delete(j);
}
