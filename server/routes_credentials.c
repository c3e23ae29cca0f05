/* SPDX-License-Identifier: MIT */
/*
 * server/routes_credentials.c: /api/v1/credentials — OAuth 2.0 credentials
 * for SMTP AUTH XOAUTH2 and OAUTHBEARER (issue 13).
 *
 * PUT creates (201) or replaces (200) a credential; the rules are
 * engine/config/credential.h's. client_secret and refresh_token are
 * write-only: no response carries them (nor any access token), only
 * "client_secret_set" and "refresh_token_set". On a replace, a secret
 * left out or given masked ("*****") keeps the stored one; "" removes it.
 * DELETE answers 204, or 409 naming the applet whose mail uses the
 * credential. A change or a delete drops the credential's cached token
 * (the new generation would too, on its next use).
 */
#include "server/srv_int.h"

#include <cjson/cJSON.h>
#include <stdlib.h>
#include <string.h>

#include "common/sec.h"
#include "engine/config/credential.h"
#include "engine/mail/mail.h"
#include "engine/oauth/oauth.h"
#include "engine/store/store.h"

static cJSON *
cred_json(const struct eng_cred_rec *r)
{
    cJSON *j = cJSON_CreateObject();

    if (j == NULL)
        return NULL;
    cJSON_AddStringToObject(j, "name", r->name);
    cJSON_AddStringToObject(j, "type", r->type);
    cJSON_AddStringToObject(j, "grant", r->grant);
    cJSON_AddStringToObject(j, "token_url", r->token_url);
    cJSON_AddStringToObject(j, "client_id", r->client_id);
    cJSON_AddBoolToObject(j, "client_secret_set", r->client_secret != NULL);
    cJSON_AddBoolToObject(j, "refresh_token_set", r->refresh_token != NULL);
    if (r->scope != NULL)
        cJSON_AddStringToObject(j, "scope", r->scope);
    else
        cJSON_AddNullToObject(j, "scope");
    cJSON_AddStringToObject(j, "mechanism", r->mechanism);
    srv_json_add_time(j, "created", r->created);
    srv_json_add_time(j, "updated", r->updated);
    return j;
}

void
srv_h_cred_list(struct srv_req *rq, struct srv_resp *rs)
{
    struct eng_cred_rec *v = NULL;
    struct errbuf        eb = { 0 };
    size_t               n = 0;
    int                  rc;
    cJSON               *root, *items;

    if ((rc = eng_store_cred_list(rq->srv->store, &v, &n, &eb)) != 0) {
        srv_reply_error(rs, rc, &eb);
        return;
    }
    root = cJSON_CreateObject();
    items = cJSON_AddArrayToObject(root, "items");
    for (size_t i = 0; i < n; i++)
        cJSON_AddItemToArray(items, cred_json(&v[i]));
    eng_cred_recs_free(v, n);
    srv_reply_json(rs, 200, root);
}

void
srv_h_cred_get(struct srv_req *rq, struct srv_resp *rs)
{
    struct eng_cred_rec r;
    struct errbuf       eb = { 0 };
    int                 rc;

    if ((rc = eng_store_cred_get(rq->srv->store, rq->params[0], &r, &eb))
        != 0) {
        srv_reply_error(rs, rc, &eb);
        return;
    }
    srv_reply_json(rs, 200, cred_json(&r));
    eng_cred_rec_clear(&r);
}

/* Deletes a request body, wiping the secrets it held. */
static void
cred_body_free(cJSON *j)
{
    static const char *const secret[] = { "client_secret", "refresh_token" };
    cJSON                   *v;

    for (size_t i = 0; j != NULL && i < 2; i++)
        if (cJSON_IsString(v = cJSON_GetObjectItemCaseSensitive(j, secret[i])))
            sec_wipe(v->valuestring, strlen(v->valuestring));
    cJSON_Delete(j);
}

void
srv_h_cred_put(struct srv_req *rq, struct srv_resp *rs)
{
    static const char *const fields[] = { "name", "type", "grant", "token_url",
        "client_id", "client_secret", "refresh_token", "scope", "mechanism",
        NULL };
    const char              *name = rq->params[0], *jname = NULL;
    struct eng_cred_in       in;
    struct eng_cred_rec      r;
    struct errbuf            eb = { 0 };
    int                      rc, created = 0;
    cJSON                   *j;

    memset(&in, 0, sizeof(in));
    if ((rc = eng_cred_name_check(name, &eb)) != 0) {
        srv_reply_error(rs, rc, &eb);
        return;
    }
    if ((j = srv_req_json(rq, rs)) == NULL)
        return;
    if (!cJSON_IsObject(j)) {
        rc = err_set(&eb, ERR_INVAL, "invalid_json",
            "the body must be a JSON object");
        goto out;
    }
    if ((rc = srv_json_only(j, fields, &eb)) != 0
        || (rc = srv_json_string(j, "name", 0, &jname, &eb)) != 0
        || (rc = srv_json_string(j, "type", 0, &in.type, &eb)) != 0
        || (rc = srv_json_string(j, "grant", 1, &in.grant, &eb)) != 0
        || (rc = srv_json_string(j, "token_url", 1, &in.token_url, &eb)) != 0
        || (rc = srv_json_string(j, "client_id", 1, &in.client_id, &eb)) != 0
        || (rc = srv_json_string(j, "client_secret", 0, &in.client_secret, &eb))
            != 0
        || (rc = srv_json_string(j, "refresh_token", 0, &in.refresh_token, &eb))
            != 0
        || (rc = srv_json_string(j, "scope", 0, &in.scope, &eb)) != 0
        || (rc = srv_json_string(j, "mechanism", 0, &in.mechanism, &eb)) != 0)
        goto out;
    if (jname != NULL && strcmp(jname, name) != 0) {
        rc = err_field(&eb, ERR_INVAL, "name", "invalid_field",
            "name '%.64s' in the body does not match '%.64s' in the path",
            jname, name);
        goto out;
    }
    if ((rc = eng_cred_set(rq->srv->store, name, &in, &created, &eb)) != 0)
        goto out;
    eng_oauth_cache_forget(eng_trustcache_oauth(rq->srv->trust), name);
    if ((rc = eng_store_cred_get(rq->srv->store, name, &r, &eb)) != 0)
        goto out;
    srv_reply_json(rs, created ? 201 : 200, cred_json(&r));
    eng_cred_rec_clear(&r);
out:
    if (rc != 0)
        srv_reply_error(rs, rc, &eb);
    cred_body_free(j);
}

void
srv_h_cred_del(struct srv_req *rq, struct srv_resp *rs)
{
    struct errbuf eb = { 0 };
    int           rc;

    if ((rc = eng_cred_delete(rq->srv->store, rq->params[0], &eb)) != 0) {
        srv_reply_error(rs, rc, &eb);
        return;
    }
    eng_oauth_cache_forget(eng_trustcache_oauth(rq->srv->trust), rq->params[0]);
    srv_reply_status(rs, 204);
}
