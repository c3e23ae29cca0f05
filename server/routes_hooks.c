/* SPDX-License-Identifier: MIT */
/*
 * server/routes_hooks.c: POST /hooks/{applet} — fires an applet's "event
 * webhook". No admin token: the request authenticates with the applet's
 * own credentials (PUT /api/v1/applets/{name}/webhook): its bearer token
 * ("Authorization: Bearer <token>"), or "X-Herald-Timestamp: <unix
 * seconds>" with "X-Herald-Signature: sha256=<hex HMAC-SHA256(signing
 * secret, "<timestamp>.<body>")>", within 300 s and once only; see
 * engine/run/runtime.h for the variables a body gives. An Idempotency-Key
 * seen in the last 24 h returns the first run's id without a new run.
 *
 * Order: the credentials are checked from the headers at the first call
 * of the access handler, before any of the body is read (srv_hook_early;
 * the signature itself when the body is complete), the body has its own
 * limit (--webhook-max-body), and only an authenticated body is checked
 * as every route's body is (srv_json_parse, srv_text_check: UTF-8, no
 * NUL, and for JSON — any type but text/plain, as the engine reads it —
 * one value with nothing after it and no \u0000 escape).
 *
 * 202 {"run_id", "duplicate"}; 400 invalid body (after authentication);
 * 401; 413; 429 with Retry-After. A missing applet, an applet without an
 * "event webhook" or credentials, and wrong credentials all answer the
 * same 401, so applet names cannot be probed; the log line (at most one a
 * second, server/http.c) says which. Problems of the request alone (no or
 * malformed credentials, the old body-only signature, a timestamp out of
 * the window, a replayed signature) are named in the 401. Neither the body
 * nor the credentials are logged.
 */
#include "server/srv_int.h"

#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine/run/runtime.h"

/* The one answer to every refusal that depends on the applet. */
#define HOOK_DENIED                                                            \
    "webhook authentication failed: the credentials do not match an "          \
    "applet that has an \"event webhook\" and webhook credentials. Send "      \
    "the applet's credentials from PUT /api/v1/applets/{name}/webhook: "       \
    "\"Authorization: Bearer <token>\", or \"X-Herald-Timestamp: <unix "       \
    "seconds>\" with \"X-Herald-Signature: sha256=<hex HMAC-SHA256(signing "   \
    "secret, \"<timestamp>.<body>\")>\""

static void
hook_request(struct srv_req *rq, const char *applet, struct eng_hook_req *h)
{
    memset(h, 0, sizeof(*h));
    h->applet = applet;
    h->content_type = srv_req_header(rq, "Content-Type");
    h->authorization = srv_req_header(rq, "Authorization");
    h->timestamp = srv_req_header(rq, "X-Herald-Timestamp");
    h->signature = srv_req_header(rq, "X-Herald-Signature");
    h->idempotency_key = srv_req_header(rq, "Idempotency-Key");
}

/* Replies to a refused webhook: the request's own problem as it is, every
 * denial alike; the reason goes to the (limited) log line. */
static void
hook_refuse(struct srv_req *rq, struct srv_resp *rs, int rc,
    const struct errbuf *eb)
{
    rq->refused = 1;
    snprintf(rq->reason, sizeof(rq->reason), "%.255s", eb->msg);
    if (strcmp(eb->code, "denied") == 0)
        srv_reply_errorf(rs, ERR_AUTH, "unauthorized", "%s", HOOK_DENIED);
    else
        srv_reply_error(rs, rc, eb);
    srv_resp_header(rs, "WWW-Authenticate", "Bearer realm=\"herald-webhook\"");
}

int
srv_hook_early(struct srv_req *rq, struct srv_resp *rs)
{
    struct eng_runtime *rt = rq->srv->runtime;
    struct eng_hook_req h;
    struct errbuf       eb;
    const char         *p = rq->path + 7;
    char               *name;
    size_t              n;
    int                 rc;

    if (strcmp(rq->method, "POST") != 0 || strncmp(rq->path, "/hooks/", 7) != 0)
        return 0;
    n = strcspn(p, "/");
    if (n == 0 || !(p[n] == '\0' || (p[n] == '/' && p[n + 1] == '\0')))
        return 0; /* not the route: the router answers */
    rq->hook = 1;
    rq->max_body = rq->srv->cfg.webhook_max_body;
    rq->max_flag = "--webhook-max-body";
    if (rt == NULL)
        return 0; /* the handler answers "not running" */
    if ((name = strndup(p, n)) == NULL) {
        srv_reply_errorf(rs, ERR_NOMEM, "internal", "out of memory");
        return 1;
    }
    err_clear(&eb);
    hook_request(rq, name, &h);
    rc = eng_runtime_webhook_auth(rt, &h, &eb);
    free(name);
    if (rc == 0)
        return 0;
    if (rc == ERR_AUTH)
        hook_refuse(rq, rs, rc, &eb);
    else
        srv_reply_error(rs, rc, &eb);
    return 1;
}

/* The body checks every route's body gets, once the webhook is
 * authenticated (eng_hook_req.body_check). */
static int
hook_body_check(void *ud, const char *body, size_t len,
    const char *content_type, struct errbuf *eb)
{
    struct srv_req *rq = ud;
    char            mt[64];
    cJSON          *j = NULL;
    int             rc;

    (void)content_type;
    if (len == 0)
        return 0;
    srv_req_media_type(rq, mt, sizeof(mt));
    if (strcmp(mt, "text/plain") == 0)
        return srv_text_check(body, len, "the request body", eb);
    rc = srv_json_parse(body, len, &j, eb);
    cJSON_Delete(j);
    return rc;
}

static void
hook_accepted(struct srv_resp *rs, long long id, int dup)
{
    cJSON *o = cJSON_CreateObject();

    cJSON_AddNumberToObject(o, "run_id", (double)id);
    cJSON_AddBoolToObject(o, "duplicate", dup);
    srv_reply_json(rs, 202, o);
}

/* The committer's answer (eng_ack_fn), on its thread. */
static void
hook_acked(void *ud, int rc, long long id, const struct errbuf *eb)
{
    struct srv_req *rq = ud;

    if (rc != 0)
        srv_reply_error(&rq->late, rc, eb);
    else
        hook_accepted(&rq->late, id, 0);
    srv_resume(rq);
}

/* 202 once the run is on disk. The HTTP thread does not wait for the disk
 * itself: the connection is suspended while the runtime's committer syncs
 * (one sync for every webhook meanwhile), and answered from there. */
void
srv_h_hook(struct srv_req *rq, struct srv_resp *rs)
{
    struct eng_runtime *rt = rq->srv->runtime;
    struct eng_hook_req h;
    struct eng_ack     *ack = NULL;
    struct errbuf       eb;
    long long           id = 0;
    int                 dup = 0, rc, later;

    err_clear(&eb);
    if (rt == NULL) {
        rc = err_set(&eb, ERR_BUSY, "busy",
            "the execution runtime is not running");
        srv_reply_error(rs, rc, &eb);
        return;
    }
    hook_request(rq, rq->params[0], &h);
    h.body = rq->body.p ? rq->body.p : "";
    h.len = rq->body.len;
    h.body_check = hook_body_check;
    h.body_check_ud = rq;
    later = srv_defer_begin(rq);
    rc = eng_runtime_webhook_begin(rt, &h, &id, &dup, later ? &ack : NULL, &eb);
    if (ack != NULL) {
        srv_defer(rq); /* before the committer may answer */
        eng_runtime_ack_submit(rt, ack, hook_acked, rq);
        return;
    }
    if (later)
        srv_defer_cancel(rq);
    if (rc != 0) {
        if (rc == ERR_AUTH)
            hook_refuse(rq, rs, rc, &eb);
        else
            srv_reply_error(rs, rc, &eb);
        return;
    }
    hook_accepted(rs, id, dup);
}
