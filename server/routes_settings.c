/* SPDX-License-Identifier: MIT */
/*
 * server/routes_settings.c: GET|PUT /api/v1/settings — appliance-wide trust
 * settings. "trustpool": also trust the system CA bundle (Debian's
 * ca-certificates) besides the trustpoints; off by default. A change bumps
 * the store's trust generation, so the next TLS connection is verified
 * against a rebuilt context and every cached TLS session is dropped.
 */
#include "server/srv_int.h"

#include <cjson/cJSON.h>
#include <stdlib.h>
#include <string.h>

#include "engine/store/store.h"

static int
settings_trustpool(struct srv *s, int *on, struct errbuf *eb)
{
    char *v = NULL;
    int   rc = eng_store_setting_get(s->store, "trustpool", &v, eb);

    *on = 0;
    if (rc == ERR_NOTFOUND) {
        err_clear(eb);
        return 0;
    }
    if (rc == 0)
        *on = strcmp(v, "on") == 0;
    free(v);
    return rc;
}

static void
settings_reply(struct srv_req *rq, struct srv_resp *rs)
{
    struct errbuf eb = { 0 };
    int           on, rc;
    cJSON        *j;

    if ((rc = settings_trustpool(rq->srv, &on, &eb)) != 0) {
        srv_reply_error(rs, rc, &eb);
        return;
    }
    j = cJSON_CreateObject();
    cJSON_AddBoolToObject(j, "trustpool", on);
    srv_reply_json(rs, 200, j);
}

void
srv_h_settings_get(struct srv_req *rq, struct srv_resp *rs)
{
    settings_reply(rq, rs);
}

void
srv_h_settings_put(struct srv_req *rq, struct srv_resp *rs)
{
    static const char *const fields[] = { "trustpool", NULL };
    struct errbuf            eb = { 0 };
    int                      rc, on = -1;
    cJSON                   *j;

    if ((j = srv_req_json(rq, rs)) == NULL)
        return;
    if ((rc = srv_json_only(j, fields, &eb)) != 0
        || (rc = srv_json_bool(j, "trustpool", &on, &eb)) != 0)
        goto out;
    if (on >= 0
        && (rc = eng_store_setting_put(rq->srv->store, "trustpool",
                on ? "on" : "off", &eb))
            != 0)
        goto out;
    settings_reply(rq, rs);
out:
    if (rc != 0)
        srv_reply_error(rs, rc, &eb);
    cJSON_Delete(j);
}
