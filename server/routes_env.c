/* SPDX-License-Identifier: MIT */
/*
 * server/routes_env.c: /api/v1/environment — EEM environment variables.
 *
 * A secret variable is shown without its value ("value_set": true); a value
 * of the form user:password@host (the mail server string) is shown with the
 * password masked (redact_server) and "masked": true. The name and value
 * rules are engine/config/env.h's.
 */
#include "server/srv_int.h"

#include <cjson/cJSON.h>
#include <stdlib.h>
#include <string.h>

#include "common/redact.h"
#include "engine/config/env.h"
#include "engine/store/store.h"

static cJSON *
env_json(const struct eng_env_var *v)
{
    cJSON *j = cJSON_CreateObject();

    if (j == NULL)
        return NULL;
    cJSON_AddStringToObject(j, "name", v->name);
    if (!v->secret) {
        if (redact_server_has_password(v->value)) {
            char *m = redact_server(v->value);

            cJSON_AddStringToObject(j, "value", m ? m : REDACT_MASK);
            cJSON_AddBoolToObject(j, "masked", 1);
            free(m);
        } else {
            cJSON_AddStringToObject(j, "value", v->value);
        }
    }
    cJSON_AddBoolToObject(j, "secret", v->secret);
    cJSON_AddBoolToObject(j, "value_set", 1);
    srv_json_add_time(j, "updated", v->updated);
    return j;
}

void
srv_h_env_list(struct srv_req *rq, struct srv_resp *rs)
{
    struct eng_env_var *v = NULL;
    struct errbuf       eb = { 0 };
    size_t              n = 0;
    int                 rc;
    cJSON              *root, *items;

    if ((rc = eng_store_env_list(rq->srv->store, &v, &n, &eb)) != 0) {
        srv_reply_error(rs, rc, &eb);
        return;
    }
    root = cJSON_CreateObject();
    items = cJSON_AddArrayToObject(root, "items");
    for (size_t i = 0; i < n; i++)
        cJSON_AddItemToArray(items, env_json(&v[i]));
    eng_env_vars_free(v, n);
    srv_reply_json(rs, 200, root);
}

void
srv_h_env_get(struct srv_req *rq, struct srv_resp *rs)
{
    struct eng_env_var v;
    struct errbuf      eb = { 0 };
    int                rc;

    if ((rc = eng_store_env_get(rq->srv->store, rq->params[0], &v, &eb)) != 0) {
        srv_reply_error(rs, rc, &eb);
        return;
    }
    srv_reply_json(rs, 200, env_json(&v));
    eng_env_var_clear(&v);
}

void
srv_h_env_put(struct srv_req *rq, struct srv_resp *rs)
{
    static const char *const fields[] = { "name", "value", "secret", NULL };
    const char              *name = rq->params[0], *value = NULL, *jname = NULL;
    struct eng_env_var       v;
    struct errbuf            eb = { 0 };
    int                      rc, secret = 0, created = 0;
    cJSON                   *j;

    if ((rc = eng_env_name_check(name, &eb)) != 0) {
        srv_reply_error(rs, rc, &eb);
        return;
    }
    if ((j = srv_req_json(rq, rs)) == NULL)
        return;
    if ((rc = srv_json_only(j, fields, &eb)) != 0
        || (rc = srv_json_string(j, "name", 0, &jname, &eb)) != 0
        || (rc = srv_json_string(j, "value", 1, &value, &eb)) != 0
        || (rc = srv_json_bool(j, "secret", &secret, &eb)) != 0)
        goto out;
    if (jname != NULL && strcmp(jname, name) != 0) {
        rc = err_field(&eb, ERR_INVAL, "name", "invalid_field",
            "name '%.64s' in the body does not match '%.64s' in the path",
            jname, name);
        goto out;
    }
    if ((rc = eng_env_set(rq->srv->store, name, value, secret, &created, &eb))
        != 0)
        goto out;
    /* syslog patterns and cron entries may use it */
    srv_runtime_applets_changed(rq->srv);
    if ((rc = eng_store_env_get(rq->srv->store, name, &v, &eb)) != 0)
        goto out;
    srv_reply_json(rs, created ? 201 : 200, env_json(&v));
    eng_env_var_clear(&v);
out:
    if (rc != 0)
        srv_reply_error(rs, rc, &eb);
    cJSON_Delete(j);
}

void
srv_h_env_del(struct srv_req *rq, struct srv_resp *rs)
{
    struct errbuf eb = { 0 };
    int           rc;

    if ((rc = eng_store_env_del(rq->srv->store, rq->params[0], &eb)) != 0) {
        srv_reply_error(rs, rc, &eb);
        return;
    }
    srv_runtime_applets_changed(rq->srv);
    srv_reply_status(rs, 204);
}
