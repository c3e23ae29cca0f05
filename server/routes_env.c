/* SPDX-License-Identifier: MIT */
/*
 * server/routes_env.c: /api/v1/environment — EEM environment variables.
 *
 * A secret variable is shown without its value ("value_set": true); a value
 * of the form user:password@host (the mail server string) is shown with the
 * password masked (redact_server) and "masked": true. Names follow
 * [A-Za-z_][A-Za-z0-9_]* up to 64 bytes; values up to 4096 bytes, no CR/LF.
 */
#include "server/srv_int.h"

#include <cjson/cJSON.h>
#include <stdlib.h>
#include <string.h>

#include "common/redact.h"
#include "engine/store.h"

#define ENV_NAME_MAX  64
#define ENV_VALUE_MAX 4096

static int
env_name_check(const char *n, struct errbuf *eb)
{
    size_t len = strlen(n);

    if (len == 0 || len > ENV_NAME_MAX)
        return err_field(eb, ERR_INVAL, "name", "invalid_field",
            "variable name must be 1 to %d characters", ENV_NAME_MAX);
    if (!((n[0] >= 'A' && n[0] <= 'Z') || (n[0] >= 'a' && n[0] <= 'z') ||
            n[0] == '_'))
        goto bad;
    for (size_t i = 1; i < len; i++)
        if (!((n[i] >= 'A' && n[i] <= 'Z') || (n[i] >= 'a' && n[i] <= 'z') ||
                (n[i] >= '0' && n[i] <= '9') || n[i] == '_'))
            goto bad;
    return 0;
bad:
    return err_field(eb, ERR_INVAL, "name", "invalid_field",
        "variable name '%.64s' is not valid: use letters, digits and '_', "
        "not starting with a digit", n);
}

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

    if ((rc = eng_store_env_get(rq->srv->store, rq->params[0], &v,
             &eb)) != 0) {
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
    const char        *name = rq->params[0], *value = NULL, *jname = NULL;
    struct eng_env_var v;
    struct errbuf      eb = { 0 };
    int                rc, secret = 0, created = 0;
    cJSON             *j;

    if ((rc = env_name_check(name, &eb)) != 0) {
        srv_reply_error(rs, rc, &eb);
        return;
    }
    if ((j = srv_req_json(rq, rs)) == NULL)
        return;
    if ((rc = srv_json_only(j, fields, &eb)) != 0 ||
        (rc = srv_json_string(j, "name", 0, &jname, &eb)) != 0 ||
        (rc = srv_json_string(j, "value", 1, &value, &eb)) != 0 ||
        (rc = srv_json_bool(j, "secret", &secret, &eb)) != 0)
        goto out;
    if (jname != NULL && strcmp(jname, name) != 0) {
        rc = err_field(&eb, ERR_INVAL, "name", "invalid_field",
            "name '%.64s' in the body does not match '%.64s' in the path",
            jname, name);
        goto out;
    }
    if (strlen(value) > ENV_VALUE_MAX) {
        rc = err_field(&eb, ERR_INVAL, "value", "invalid_field",
            "value is %zu bytes; at most %d are allowed", strlen(value),
            ENV_VALUE_MAX);
        goto out;
    }
    if (strpbrk(value, "\r\n") != NULL) {
        rc = err_field(&eb, ERR_INVAL, "value", "invalid_field",
            "value must not contain CR or LF");
        goto out;
    }
    if ((rc = eng_store_env_put(rq->srv->store, name, value, secret,
             &created, &eb)) != 0)
        goto out;
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

    if ((rc = eng_store_env_del(rq->srv->store, rq->params[0], &eb)) != 0)
        srv_reply_error(rs, rc, &eb);
    else
        srv_reply_status(rs, 204);
}
