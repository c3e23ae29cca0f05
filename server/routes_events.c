/* SPDX-License-Identifier: MIT */
/*
 * server/routes_events.c: POST /api/v1/events/application, how another
 * program raises an EEM application event (what the publish-event action
 * does inside herald): every applet with a matching "event application
 * sub-system N type N" runs (engine/run/runtime.h, eng_runtime_publish).
 *
 * Body: {"sub_system": 1..999, "type": 1..999, "data": [up to 4 strings]}.
 * Answers 202 {"runs": [{applet, run_id, status}]} when a run was queued,
 * 200 with the list (empty when no applet matched, or only ratelimited
 * runs) otherwise, 400 naming the bad field.
 */
#include "server/srv_int.h"

#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine/run/runtime.h"

/* sub_system or type: required, an integer from 1 to 999. */
static int
event_num(const cJSON *body, const char *name, unsigned *out, struct errbuf *eb)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(body, name);

    if (v == NULL)
        return err_field(eb, ERR_INVAL, name, "missing_field",
            "field '%s' is required (an integer from 1 to 999)", name);
    if (!cJSON_IsNumber(v) || v->valuedouble < 1 || v->valuedouble > 999
        || (double)(unsigned)v->valuedouble != v->valuedouble)
        return err_field(eb, ERR_INVAL, name, "invalid_field",
            "field '%s' must be an integer from 1 to 999", name);
    *out = (unsigned)v->valuedouble;
    return 0;
}

void
srv_h_event_application(struct srv_req *rq, struct srv_resp *rs)
{
    static const char *const allowed[] = { "sub_system", "type", "data", NULL };
    struct eng_app_run      *runs = NULL;
    struct errbuf            eb;
    const char              *data[ENG_APP_DATA_MAX];
    const cJSON             *d, *it;
    cJSON                   *body, *o, *arr;
    unsigned                 sub = 0, type = 0;
    size_t                   nd = 0, nruns = 0, i, queued = 0;
    int                      rc;

    if (rq->srv->runtime == NULL) {
        srv_reply_errorf(rs, ERR_BUSY, "busy",
            "the execution runtime is not running");
        return;
    }
    err_clear(&eb);
    if ((body = srv_req_json(rq, rs)) == NULL)
        return;
    if (!cJSON_IsObject(body)) {
        srv_reply_errorf(rs, ERR_INVAL, "invalid_json",
            "the body must be "
            "a JSON object {\"sub_system\": N, \"type\": N, \"data\": "
            "[...]}");
        goto out;
    }
    if ((rc = srv_json_only(body, allowed, &eb)) != 0
        || (rc = event_num(body, "sub_system", &sub, &eb)) != 0
        || (rc = event_num(body, "type", &type, &eb)) != 0) {
        srv_reply_error(rs, rc, &eb);
        goto out;
    }
    d = cJSON_GetObjectItemCaseSensitive(body, "data");
    if (d != NULL && !cJSON_IsNull(d) && !cJSON_IsArray(d)) {
        rc = err_field(&eb, ERR_INVAL, "data", "invalid_field",
            "data must be an array of at most %d strings", ENG_APP_DATA_MAX);
        srv_reply_error(rs, rc, &eb);
        goto out;
    }
    cJSON_ArrayForEach(it, d)
    {
        if (nd == ENG_APP_DATA_MAX) {
            rc = err_field(&eb, ERR_INVAL, "data", "invalid_field",
                "%d data given; an application event carries at most %d "
                "($_application_data1..%d)",
                cJSON_GetArraySize(d), ENG_APP_DATA_MAX, ENG_APP_DATA_MAX);
            srv_reply_error(rs, rc, &eb);
            goto out;
        }
        if (!cJSON_IsString(it)) {
            rc = err_field(&eb, ERR_INVAL, "data", "invalid_field",
                "data[%zu] is not a string", nd);
            srv_reply_error(rs, rc, &eb);
            goto out;
        }
        data[nd++] = it->valuestring;
    }
    if ((rc = eng_runtime_publish(rq->srv->runtime, sub, type, data, nd, &runs,
             &nruns, &eb))
        != 0) {
        srv_reply_error(rs, rc, &eb);
        goto out;
    }
    o = cJSON_CreateObject();
    arr = cJSON_AddArrayToObject(o, "runs");
    for (i = 0; arr != NULL && i < nruns; i++) {
        cJSON *r = cJSON_CreateObject();

        cJSON_AddStringToObject(r, "applet", runs[i].applet);
        cJSON_AddNumberToObject(r, "run_id", (double)runs[i].id);
        cJSON_AddStringToObject(r, "status", runs[i].status);
        cJSON_AddItemToArray(arr, r);
        if (strcmp(runs[i].status, "queued") == 0)
            queued++;
    }
    srv_reply_json(rs, queued > 0 ? 202 : 200, o);
out:
    free(runs);
    cJSON_Delete(body);
}
