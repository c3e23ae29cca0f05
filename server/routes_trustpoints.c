/* SPDX-License-Identifier: MIT */
/*
 * server/routes_trustpoints.c: /api/v1/trustpoints — IOS "crypto pki
 * trustpoint" with its policies, the CA certificate pasted for "crypto pki
 * authenticate" (PEM, bare base64 or DER), its details (pki_cert_details)
 * and warnings (not_ca, expired, expiring_soon), and import-chain: trusting
 * the certificates a probe fetched, each checked against the SHA-256 the
 * user confirmed, in one transaction. The rules and the transactions are
 * engine/config/trustpoint.h's; this file reads the JSON and formats the answer.
 */
#include "server/srv_int.h"

#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "engine/config/trustpoint.h"
#include "engine/store/store.h"
#include "pki/pki.h"

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
    if (r->cert_der != NULL
        && pki_cert_from_der(r->cert_der, r->cert_len, &c, &eb) == 0) {
        cJSON *d = pki_cert_details(c);

        srv_json_add_time(j, "certificate_installed", r->cert_installed);
        cJSON_AddItemToObject(j, "certificate", d ? d : cJSON_CreateNull());
        cJSON_AddItemToObject(j, "warnings", pki_cert_warnings(c, time(NULL)));
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
tp_reply(struct srv_req *rq, struct srv_resp *rs, const char *name, int status)
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

/* Reads the policy fields (NULL when absent) and checks them. */
static int
tp_policy(const cJSON *j, struct eng_tp_rec *r, struct errbuf *eb)
{
    const char *rev = NULL, *cv = NULL, *en = NULL;
    int         rc;

    if ((rc = srv_json_string(j, "revocation_check", 0, &rev, eb)) != 0
        || (rc = srv_json_string(j, "chain_validation", 0, &cv, eb)) != 0
        || (rc = srv_json_string(j, "enrollment", 0, &en, eb)) != 0
        || (rc = eng_tp_policy_check(rev, cv, en, eb)) != 0)
        return rc;
    r->revocation_check = (char *)rev;
    r->chain_validation = (char *)cv;
    r->enrollment = (char *)en;
    return 0;
}

void
srv_h_tp_post(struct srv_req *rq, struct srv_resp *rs)
{
    static const char *const fields[] = { "name", "revocation_check",
        "chain_validation", "enrollment", "certificate", NULL };
    struct eng_tp_rec        r = { 0 };
    struct errbuf            eb = { 0 };
    const char              *name = NULL, *pem = NULL;
    int                      rc;
    cJSON                   *j;

    if ((j = srv_req_json(rq, rs)) == NULL)
        return;
    if ((rc = srv_json_only(j, fields, &eb)) != 0
        || (rc = srv_json_string(j, "name", 1, &name, &eb)) != 0
        || (rc = eng_tp_name_check(name, &eb)) != 0
        || (rc = tp_policy(j, &r, &eb)) != 0
        || (rc = srv_json_string(j, "certificate", 0, &pem, &eb)) != 0)
        goto out;
    r.name = (char *)name;
    if ((rc = eng_tp_create(rq->srv->store, &r, pem, pem ? strlen(pem) : 0,
             &eb))
        != 0)
        goto out;
    tp_reply(rq, rs, name, 201);
out:
    if (rc != 0)
        srv_reply_error(rs, rc, &eb);
    cJSON_Delete(j);
}

void
srv_h_tp_cert_put(struct srv_req *rq, struct srv_resp *rs)
{
    static const char *const types[] = { "application/x-pem-file", "text/plain",
        "application/pkix-cert", NULL };
    struct errbuf            eb = { 0 };
    char                     mt[64];
    int                      rc;

    if (!srv_req_accept_types(rq, rs, types))
        return;
    if (rq->body.len == 0) {
        srv_reply_errorf(rs, ERR_INVAL, "invalid_certificate",
            "the body is empty; paste the CA certificate (PEM)");
        return;
    }
    /* PEM is text; application/pkix-cert is DER, binary */
    srv_req_media_type(rq, mt, sizeof(mt));
    if (strcmp(mt, "application/pkix-cert") != 0
        && (rc = srv_text_check(rq->body.p, rq->body.len,
                "the certificate (PEM)", &eb))
            != 0)
        srv_reply_error(rs, rc, &eb);
    else if ((rc = eng_tp_set_cert(rq->srv->store, rq->params[0], rq->body.p,
                  rq->body.len, &eb))
        != 0)
        srv_reply_error(rs, rc, &eb);
    else
        tp_reply(rq, rs, rq->params[0], 200);
}

/* Reads certificates[i] {pem, sha256, name?} into *it (borrowed). */
static int
tp_import_item(const cJSON *c, size_t i, struct eng_tp_import *it,
    struct errbuf *eb)
{
    char field[64], sub[64], msg[sizeof(eb->msg)];
    int  rc;

    snprintf(field, sizeof(field), "certificates[%zu]", i);
    if (!cJSON_IsObject(c))
        return err_field(eb, ERR_INVAL, field, "invalid_field",
            "%s must be an object {pem, sha256, name?}", field);
    if ((rc = srv_json_string(c, "pem", 1, &it->pem, eb)) != 0
        || (rc = srv_json_string(c, "sha256", 1, &it->sha256, eb)) != 0
        || (rc = srv_json_string(c, "name", 0, &it->name, eb)) != 0) {
        snprintf(sub, sizeof(sub), "%s", eb->field);
        snprintf(msg, sizeof(msg), "%s", eb->msg);
        snprintf(eb->field, sizeof(eb->field), "%.40s.%.20s", field, sub);
        snprintf(eb->msg, sizeof(eb->msg), "%.40s: %.700s", field, msg);
    }
    return rc;
}

void
srv_h_tp_import_chain(struct srv_req *rq, struct srv_resp *rs)
{
    static const char *const fields[] = { "certificates", "chain_validation",
        "revocation_check", NULL };
    struct eng_store        *st = rq->srv->store;
    struct errbuf            eb = { 0 };
    struct eng_tp_import    *v = NULL;
    struct eng_tp_rec        pol = { 0 };
    const cJSON             *arr, *it;
    char                   **names = NULL;
    size_t                   n = 0, i = 0;
    int                      rc = 0;
    cJSON                   *j, *root, *items;

    if ((j = srv_req_json(rq, rs)) == NULL)
        return;
    if ((rc = srv_json_only(j, fields, &eb)) != 0
        || (rc = tp_policy(j, &pol, &eb)) != 0)
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
    if ((v = calloc(n, sizeof(*v))) == NULL) {
        rc = err_set(&eb, ERR_NOMEM, "internal", "out of memory");
        goto out;
    }
    cJSON_ArrayForEach(it, arr)
    {
        if ((rc = tp_import_item(it, i, &v[i], &eb)) != 0)
            goto out;
        i++;
    }
    if ((rc = eng_tp_import_chain(st, v, n, pol.revocation_check,
             pol.chain_validation, &names, &eb))
        != 0)
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
    if (rc != 0)
        srv_reply_error(rs, rc, &eb);
    eng_tp_names_free(names, n);
    free(v);
    cJSON_Delete(j);
}
