/* SPDX-License-Identifier: MIT */
/*
 * server/routes_config.c: /api/v1/config — the whole configuration as
 * router-style text (engine/config/config.h). GET exports a running-config with
 * secrets masked; POST imports text all or nothing (a bad line answers 400
 * parse_error with its line and changes nothing).
 */
#include "server/srv_int.h"

#include <cjson/cJSON.h>
#include <stdio.h>
#include <string.h>

#include "engine/config/config.h"

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

void
srv_h_config_post(struct srv_req *rq, struct srv_resp *rs)
{
    static const char *const types[] = { "text/plain", NULL };
    struct errbuf eb = { 0 };
    cJSON        *summary = NULL;
    int           rc;

    if (!srv_req_accept_types(rq, rs, types))
        return;
    if (rq->body.len == 0) {
        srv_reply_errorf(rs, ERR_INVAL, "parse_error",
            "the body is empty; send configuration text");
        return;
    }
    if ((rc = srv_text_check(buf_str(&rq->body), rq->body.len,
             "the configuration text", &eb)) != 0) {
        srv_reply_error(rs, rc, &eb);
        return;
    }
    rc = eng_config_import(rq->srv->store, buf_str(&rq->body), rq->body.len,
        &summary, &eb);
    if (rc != 0) {
        if (rc == ERR_INVAL && eb.code[0] == '\0')
            snprintf(eb.code, sizeof(eb.code), "parse_error");
        srv_reply_error(rs, rc, &eb);
        return;
    }
    srv_reply_json(rs, 200, summary ? summary : cJSON_CreateObject());
}
