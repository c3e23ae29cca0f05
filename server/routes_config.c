/* SPDX-License-Identifier: MIT */
/*
 * server/routes_config.c: /api/v1/config — the whole configuration as
 * router-style text (engine/config/config.h). GET exports a running-config with
 * secrets masked; POST imports text all or nothing (a bad line answers 400
 * parse_error with its line and changes nothing). With ?run=true the
 * "event manager run" lines are then queued through the runtime, as POST
 * /api/v1/applets/{name}/run does.
 */
#include "server/srv_int.h"

#include <cjson/cJSON.h>
#include <stdio.h>
#include <string.h>

#include "engine/config/config.h"
#include "engine/run/runtime.h"

void
srv_h_config_get(struct srv_req *rq, struct srv_resp *rs)
{
    struct buf    out = BUF_INIT;
    struct errbuf eb = { 0 };
    int           rc;

    if ((rc = eng_config_export(rq->srv->store, &out, &eb)) != 0)
        srv_reply_error(rs, rc, &eb);
    else
        srv_reply_text(rs, 200, "text/plain; charset=utf-8", buf_str(&out),
            out.len);
    buf_free(&out);
}

/* Queues one "event manager run" line; item gets run_id and status, or
 * error {code, message}. */
static void
config_run(void *ud, const char *name, const char *const *args, size_t nargs,
    cJSON *item)
{
    struct srv         *s = ud;
    struct eng_run_info ri;
    struct errbuf       eb;
    cJSON              *e;
    int                 rc;

    err_clear(&eb);
    memset(&ri, 0, sizeof(ri));
    if (s->runtime == NULL)
        rc = err_set(&eb, ERR_BUSY, "busy",
            "the execution runtime is not running");
    else
        rc = eng_runtime_run(s->runtime, name, args, nargs, 0, &ri, &eb);
    if (rc == 0) {
        cJSON_AddNumberToObject(item, "run_id", (double)ri.id);
        cJSON_AddStringToObject(item, "status", ri.status);
    } else if ((e = cJSON_AddObjectToObject(item, "error")) != NULL) {
        cJSON_AddStringToObject(e, "code", eb.code[0] ? eb.code : "error");
        cJSON_AddStringToObject(e, "message", eb.msg);
    }
    eng_run_info_clear(&ri);
}

void
srv_h_config_post(struct srv_req *rq, struct srv_resp *rs)
{
    static const char *const types[] = { "text/plain", NULL };
    struct eng_config_runner runner = { config_run, rq->srv };
    struct errbuf            eb = { 0 };
    cJSON                   *summary = NULL;
    const char              *run = srv_req_query(rq, "run");
    int                      rc, do_run = 0;

    if (run != NULL && (strcmp(run, "true") == 0 || strcmp(run, "1") == 0))
        do_run = 1;
    else if (run != NULL && strcmp(run, "false") != 0
        && strcmp(run, "0") != 0) {
        rc = err_field(&eb, ERR_INVAL, "run", "invalid_field",
            "run \"%.32s\" is not true or false", run);
        srv_reply_error(rs, rc, &eb);
        return;
    }
    if (!srv_req_accept_types(rq, rs, types))
        return;
    if (rq->body.len == 0) {
        srv_reply_errorf(rs, ERR_INVAL, "parse_error",
            "the body is empty; send configuration text");
        return;
    }
    if ((rc = srv_text_check(buf_str(&rq->body), rq->body.len,
             "the configuration text", &eb))
        != 0) {
        srv_reply_error(rs, rc, &eb);
        return;
    }
    rc = eng_config_import_run(rq->srv->store, buf_str(&rq->body), rq->body.len,
        do_run ? &runner : NULL, &summary, &eb);
    if (rc != 0) {
        if (rc == ERR_INVAL && eb.code[0] == '\0')
            snprintf(eb.code, sizeof(eb.code), "parse_error");
        srv_reply_error(rs, rc, &eb);
        return;
    }
    srv_runtime_applets_changed(rq->srv);
    srv_reply_json(rs, 200, summary ? summary : cJSON_CreateObject());
}
