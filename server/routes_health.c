/* SPDX-License-Identifier: MIT */
/*
 * server/routes_health.c: GET /healthz (no auth: liveness for containers and
 * load balancers) and GET /api/v1/version.
 */
#include "server/srv_int.h"

#include <cjson/cJSON.h>
#include <time.h>

void
srv_h_healthz(struct srv_req *rq, struct srv_resp *rs)
{
    cJSON *j = cJSON_CreateObject();

    cJSON_AddStringToObject(j, "status", "ok");
    cJSON_AddStringToObject(j, "version", HERALD_VERSION);
    cJSON_AddNumberToObject(j, "uptime_s",
        (double)(time(NULL) - rq->srv->started));
    srv_reply_json(rs, 200, j);
}

void
srv_h_version(struct srv_req *rq, struct srv_resp *rs)
{
    cJSON *j = cJSON_CreateObject();

    (void)rq;
    cJSON_AddStringToObject(j, "version", HERALD_VERSION);
    srv_reply_json(rs, 200, j);
}
