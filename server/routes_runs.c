/* SPDX-License-Identifier: MIT */
/*
 * server/routes_runs.c: the execution routes of docs/api.md — running an
 * applet by hand, run history, the mail outbox, the applet's webhook token
 * — through the execution runtime (engine/run/runtime.h), whose life cycle
 * is server/http.c's.
 *
 * A full run queue answers 429 "busy" (srv_reply_error adds Retry-After).
 */
#include "server/srv_int.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/sec.h"
#include "engine/run/runtime.h"

/* ---- helpers -------------------------------------------------------------- */

static struct eng_runtime *
rt_of(struct srv_req *rq, struct srv_resp *rs)
{
    if (rq->srv->runtime == NULL) {
        srv_reply_errorf(rs, ERR_BUSY, "busy",
            "the execution runtime is not running");
        return NULL;
    }
    return rq->srv->runtime;
}

static int
parse_id(const char *s, long long *out)
{
    char *end;

    errno = 0;
    if (s == NULL || *s < '1' || *s > '9')
        return -1;
    *out = strtoll(s, &end, 10);
    return *end != '\0' || errno != 0 ? -1 : 0;
}

/* "since": unix seconds or RFC 3339 UTC ("2026-11-27T17:00:00Z"). */
static int
parse_since(const char *s, long long *out)
{
    struct tm tm;
    char     *end;

    errno = 0;
    *out = strtoll(s, &end, 10);
    if (*s != '\0' && *end == '\0' && errno == 0 && *out >= 0)
        return 0;
    memset(&tm, 0, sizeof(tm));
    end = strptime(s, "%Y-%m-%dT%H:%M:%S", &tm);
    if (end == NULL)
        return -1;
    if (*end == '.')
        for (end++; *end >= '0' && *end <= '9'; end++)
            ;
    if (strcmp(end, "Z") != 0 && strcmp(end, "+00:00") != 0)
        return -1;
    *out = (long long)timegm(&tm);
    return 0;
}

/* ---- POST /api/v1/applets/{name}/run ---------------------------------- */

void
srv_h_applet_run(struct srv_req *rq, struct srv_resp *rs)
{
    static const char *const allowed[] = { "args", "wait", NULL };
    struct eng_runtime      *rt = rt_of(rq, rs);
    struct eng_run_info      ri;
    struct errbuf            eb;
    const char              *args[ENG_RUN_MAX_ARGS];
    cJSON                   *body = NULL, *a, *it, *o, *w;
    size_t                   nargs = 0;
    int                      wait = 0, delivery = 0, rc;

    if (rt == NULL)
        return;
    err_clear(&eb);
    memset(&ri, 0, sizeof(ri));
    if (rq->body.len > 0) {
        if ((body = srv_req_json(rq, rs)) == NULL)
            return;
        if (!cJSON_IsObject(body)) {
            srv_reply_errorf(rs, ERR_INVAL, "invalid_json",
                "the body must be a JSON object {\"args\": [...], "
                "\"wait\": false}");
            goto out;
        }
        w = cJSON_GetObjectItemCaseSensitive(body, "wait");
        if (cJSON_IsString(w) && strcmp(w->valuestring, "delivery") == 0) {
            wait = 1;
            delivery = 1;
        } else if (cJSON_IsString(w)) {
            rc = err_field(&eb, ERR_INVAL, "wait", "invalid_field",
                "wait must be true, false or \"delivery\" (wait for the "
                "first delivery attempt of the run's mail)");
            srv_reply_error(rs, rc, &eb);
            goto out;
        }
        if ((rc = srv_json_only(body, allowed, &eb)) != 0
            || (!delivery
                && (rc = srv_json_bool(body, "wait", &wait, &eb)) != 0)) {
            srv_reply_error(rs, rc, &eb);
            goto out;
        }
        a = cJSON_GetObjectItemCaseSensitive(body, "args");
        if (a != NULL && !cJSON_IsArray(a)) {
            rc = err_field(&eb, ERR_INVAL, "args", "invalid_field",
                "args must be an array of at most %d strings",
                ENG_RUN_MAX_ARGS);
            srv_reply_error(rs, rc, &eb);
            goto out;
        }
        cJSON_ArrayForEach(it, a)
        {
            if (nargs == ENG_RUN_MAX_ARGS) {
                rc = err_field(&eb, ERR_INVAL, "args", "invalid_field",
                    "%d arguments given; an applet takes at most %d",
                    cJSON_GetArraySize(a), ENG_RUN_MAX_ARGS);
                srv_reply_error(rs, rc, &eb);
                goto out;
            }
            if (!cJSON_IsString(it)) {
                rc = err_field(&eb, ERR_INVAL, "args", "invalid_field",
                    "args[%zu] is not a string", nargs);
                srv_reply_error(rs, rc, &eb);
                goto out;
            }
            args[nargs++] = it->valuestring;
        }
    }
    if ((rc = eng_runtime_run(rt, rq->params[0], args, nargs, wait, &ri, &eb))
        != 0) {
        srv_reply_error(rs, rc, &eb);
        goto out;
    }
    if (delivery && ri.run != NULL) {
        /* the first attempt's outcome, within the request's time */
        unsigned t =
            rq->srv->cfg.timeout_s > 2 ? rq->srv->cfg.timeout_s - 1 : 1;

        cJSON_Delete(ri.run);
        ri.run = NULL;
        if ((rc = eng_runtime_run_wait_delivery(rt, ri.id, t, &o, &eb)) != 0) {
            srv_reply_error(rs, rc, &eb);
            goto out;
        }
        srv_reply_json(rs, 200, o);
    } else if (wait && ri.run != NULL) {
        srv_reply_json(rs, 200, ri.run);
        ri.run = NULL;
    } else {
        o = cJSON_CreateObject();
        cJSON_AddNumberToObject(o, "run_id", (double)ri.id);
        cJSON_AddStringToObject(o, "status", ri.status);
        srv_reply_json(rs, 202, o);
    }
out:
    eng_run_info_clear(&ri);
    cJSON_Delete(body);
}

/* ---- PUT /api/v1/applets/{name}/webhook --------------------------------- */

void
srv_h_applet_webhook(struct srv_req *rq, struct srv_resp *rs)
{
    struct eng_runtime *rt = rt_of(rq, rs);
    struct errbuf       eb;
    char               *tok = NULL, *sk = NULL, url[320];
    cJSON              *o;
    int                 rc;

    if (rt == NULL)
        return;
    err_clear(&eb);
    if ((rc = eng_runtime_webhook_token(rt, rq->params[0], &tok, &sk, &eb))
        != 0) {
        srv_reply_error(rs, rc, &eb);
        return;
    }
    snprintf(url, sizeof(url), "/hooks/%s", rq->params[0]);
    o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "token", tok);
    cJSON_AddStringToObject(o, "signing_secret", sk);
    cJSON_AddStringToObject(o, "url", url);
    cJSON_AddStringToObject(o, "note",
        "shown once (herald keeps only a "
        "hash of the token): send 'Authorization: Bearer <token>', or sign "
        "each delivery with the signing secret: 'X-Herald-Timestamp: <unix "
        "seconds>' and 'X-Herald-Signature: sha256=<hex HMAC-SHA256("
        "signing_secret, \"<timestamp>.<body>\")>' (accepted within 300 s, "
        "once)");
    srv_reply_json(rs, 200, o);
    sec_wipe(tok, strlen(tok));
    free(tok);
    sec_wipe(sk, strlen(sk));
    free(sk);
}

/* ---- GET /api/v1/runs, GET /api/v1/runs/{id} ---------------------------- */

void
srv_h_runs_list(struct srv_req *rq, struct srv_resp *rs)
{
    struct eng_runtime   *rt = rt_of(rq, rs);
    struct eng_run_filter f;
    struct errbuf         eb;
    const char           *v;
    cJSON                *out = NULL;
    long long             n;
    int                   rc;

    if (rt == NULL)
        return;
    err_clear(&eb);
    memset(&f, 0, sizeof(f));
    f.applet = srv_req_query(rq, "applet");
    f.status = srv_req_query(rq, "status");
    f.cursor = srv_req_query(rq, "cursor");
    f.delivery = srv_req_query(rq, "delivery");
    if ((v = srv_req_query(rq, "since")) != NULL && *v != '\0'
        && parse_since(v, &f.since) != 0) {
        rc = err_field(&eb, ERR_INVAL, "since", "invalid_field",
            "since \"%.64s\" is not unix seconds or an RFC 3339 UTC time "
            "(2026-11-27T17:00:00Z)",
            v);
        srv_reply_error(rs, rc, &eb);
        return;
    }
    if ((v = srv_req_query(rq, "limit")) != NULL && *v != '\0') {
        if (parse_id(v, &n) != 0 || n > 500) {
            rc = err_field(&eb, ERR_INVAL, "limit", "invalid_field",
                "limit \"%.32s\" is not a number from 1 to 500", v);
            srv_reply_error(rs, rc, &eb);
            return;
        }
        f.limit = (unsigned)n;
    }
    if ((rc = eng_runtime_runs_list(rt, &f, &out, &eb)) != 0) {
        srv_reply_error(rs, rc, &eb);
        return;
    }
    srv_reply_json(rs, 200, out);
}

/* GET .../{id}: the object get() finds, or 404 naming what (run, outbox
 * message) for an id that is not a positive integer. */
static void
reply_by_id(struct srv_req *rq, struct srv_resp *rs, const char *what,
    int (*get)(struct eng_runtime *, long long, cJSON **, struct errbuf *))
{
    struct eng_runtime *rt = rt_of(rq, rs);
    struct errbuf       eb;
    cJSON              *out = NULL;
    long long           id;
    int                 rc;

    if (rt == NULL)
        return;
    err_clear(&eb);
    if (parse_id(rq->params[0], &id) != 0) {
        srv_reply_errorf(rs, ERR_NOTFOUND, "not_found",
            "no %s with id \"%.32s\" (ids are positive integers)", what,
            rq->params[0]);
        return;
    }
    if ((rc = get(rt, id, &out, &eb)) != 0) {
        srv_reply_error(rs, rc, &eb);
        return;
    }
    srv_reply_json(rs, 200, out);
}

void
srv_h_run_get(struct srv_req *rq, struct srv_resp *rs)
{
    reply_by_id(rq, rs, "run", eng_runtime_run_get);
}

/* ---- GET /api/v1/outbox, GET /api/v1/outbox/{id},
 *      POST /api/v1/outbox/{id}/resend ------------------------------------ */

void
srv_h_outbox_list(struct srv_req *rq, struct srv_resp *rs)
{
    struct eng_runtime *rt = rt_of(rq, rs);
    struct errbuf       eb;
    cJSON              *out = NULL;
    int                 rc;

    if (rt == NULL)
        return;
    err_clear(&eb);
    if ((rc = eng_runtime_outbox_list(rt, srv_req_query(rq, "state"), &out,
             &eb))
        != 0) {
        srv_reply_error(rs, rc, &eb);
        return;
    }
    srv_reply_json(rs, 200, out);
}

void
srv_h_outbox_get(struct srv_req *rq, struct srv_resp *rs)
{
    reply_by_id(rq, rs, "outbox message", eng_runtime_outbox_get);
}

void
srv_h_outbox_resend(struct srv_req *rq, struct srv_resp *rs)
{
    struct eng_runtime *rt = rt_of(rq, rs);
    struct errbuf       eb;
    long long           id;
    cJSON              *o;
    int                 rc, renewed = 0;

    if (rt == NULL)
        return;
    err_clear(&eb);
    if (parse_id(rq->params[0], &id) != 0) {
        srv_reply_errorf(rs, ERR_NOTFOUND, "not_found",
            "no outbox message with id \"%.32s\"", rq->params[0]);
        return;
    }
    if ((rc = eng_runtime_outbox_resend(rt, id, &renewed, &eb)) != 0) {
        srv_reply_error(rs, rc, &eb);
        return;
    }
    o = cJSON_CreateObject();
    cJSON_AddNumberToObject(o, "id", (double)id);
    cJSON_AddStringToObject(o, "state", "queued");
    cJSON_AddStringToObject(o, "credentials", renewed ? "environment" : "kept");
    if (renewed)
        cJSON_AddStringToObject(o, "note",
            "the message had dropped its "
            "password; the credentials were taken again from the current "
            "environment");
    srv_reply_json(rs, 200, o);
}
