/* SPDX-License-Identifier: MIT */
/*
 * server/routes_hooks.c: POST /hooks/{applet} — fires an applet's "event
 * webhook". No admin token: the request authenticates with the applet's
 * own webhook token ("Authorization: Bearer <token>") or an HMAC-SHA256 of
 * the body keyed with it ("X-Herald-Signature: sha256=<hex>"); see
 * engine/run/runtime.h for the variables a body gives. An Idempotency-Key seen
 * in the last 24 h returns the first run's id without a new run.
 *
 * 202 {"run_id", "duplicate"}; 400 invalid JSON (with line/column); 401;
 * 404; 429 with Retry-After. Neither the body nor the credentials are
 * logged.
 *
 * The body is checked here before the engine sees it, as every route's
 * body is (srv_json_parse, srv_text_check): UTF-8, no NUL, and for JSON
 * (any type but text/plain, as the engine reads it) one value with nothing
 * after it and no \u0000 escape. So a bad body answers 400 before the
 * token is looked at.
 */
#include "server/srv_int.h"

#include <cjson/cJSON.h>
#include <string.h>

#include "engine/run/runtime.h"

void
srv_h_hook(struct srv_req *rq, struct srv_resp *rs)
{
    struct eng_runtime *rt = rq->srv->runtime;
    struct eng_hook_req h;
    struct errbuf       eb;
    long long           id = 0;
    int                 dup = 0, rc;
    cJSON              *o;

    err_clear(&eb);
    if (rt == NULL) {
        rc = err_set(&eb, ERR_BUSY, "busy",
            "the execution runtime is not running");
        srv_reply_error(rs, rc, &eb);
        return;
    }
    if (rq->body.len > 0) {
        char   mt[64];
        cJSON *j = NULL;

        srv_req_media_type(rq, mt, sizeof(mt));
        if (strcmp(mt, "text/plain") == 0)
            rc = srv_text_check(rq->body.p, rq->body.len,
                "the request body", &eb);
        else
            rc = srv_json_parse(rq->body.p, rq->body.len, &j, &eb);
        cJSON_Delete(j);
        if (rc != 0) {
            srv_reply_error(rs, rc, &eb);
            return;
        }
    }
    memset(&h, 0, sizeof(h));
    h.applet = rq->params[0];
    h.body = rq->body.p ? rq->body.p : "";
    h.len = rq->body.len;
    h.content_type = srv_req_header(rq, "Content-Type");
    h.authorization = srv_req_header(rq, "Authorization");
    h.signature = srv_req_header(rq, "X-Herald-Signature");
    h.idempotency_key = srv_req_header(rq, "Idempotency-Key");
    if ((rc = eng_runtime_webhook(rt, &h, &id, &dup, &eb)) != 0) {
        if (rc == ERR_AUTH) {
            srv_reply_error(rs, rc, &eb);
            srv_resp_header(rs, "WWW-Authenticate",
                "Bearer realm=\"herald-webhook\"");
            return;
        }
        srv_reply_error(rs, rc, &eb);
        return;
    }
    o = cJSON_CreateObject();
    cJSON_AddNumberToObject(o, "run_id", (double)id);
    cJSON_AddBoolToObject(o, "duplicate", dup);
    srv_reply_json(rs, 202, o);
}
