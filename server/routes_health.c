/* SPDX-License-Identifier: MIT */
/*
 * server/routes_health.c: GET /healthz (no auth: liveness for containers and
 * load balancers) and GET /api/v1/version.
 *
 * /healthz also reports the database (srv_db_health): 200 while it
 * answers, 503 with "status": "unavailable" and the reason when it does
 * not, so that an orchestrator routes away from an instance that lost it
 * (its triggers answer 503 meanwhile). It reads the store's last state and
 * never queries the database itself.
 */
#include "server/srv_int.h"

#include <cjson/cJSON.h>
#include <time.h>

void
srv_h_healthz(struct srv_req *rq, struct srv_resp *rs)
{
    cJSON *j = cJSON_CreateObject(), *st;
    int    ready;

    st = cJSON_AddStringToObject(j, "status", "ok");
    cJSON_AddStringToObject(j, "version", HERALD_VERSION);
    cJSON_AddNumberToObject(j, "uptime_s",
        (double)(time(NULL) - rq->srv->started));
    ready = srv_db_health(rq->srv, j);
    if (!ready && st != NULL)
        cJSON_SetValuestring(st, "unavailable");
    srv_reply_json(rs, ready ? 200 : MHD_HTTP_SERVICE_UNAVAILABLE, j);
    if (!ready)
        srv_resp_header(rs, MHD_HTTP_HEADER_RETRY_AFTER, SRV_RETRY_AFTER);
}

void
srv_h_version(struct srv_req *rq, struct srv_resp *rs)
{
    cJSON *j = cJSON_CreateObject();

    (void)rq;
    cJSON_AddStringToObject(j, "version", HERALD_VERSION);
    srv_reply_json(rs, 200, j);
}
