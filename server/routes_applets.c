/* SPDX-License-Identifier: MIT */
/*
 * server/routes_applets.c: /api/v1/applets — applets as EEM text
 * (text/plain) or as the JSON model (application/json). The store keeps the
 * canonical text (eng_applet_to_text); responses carry the JSON model, the
 * text, save-time warnings (undefined variables judged against the stored
 * environment, label order), times and the syslog and timer triggers
 * dropped since herald started.
 */
#include "server/srv_int.h"

#include <cjson/cJSON.h>
#include <stdlib.h>
#include <string.h>

#include "engine/config/credential.h"
#include "engine/config/env.h"
#include "engine/lang/applet.h"
#include "engine/run/runtime.h"
#include "engine/store/store.h"

static const char *const applet_types[] = { "text/plain", "application/json",
    NULL };

static int
applet_parse_text(const char *text, size_t len, struct eng_applet **out,
    struct errbuf *eb)
{
    return eng_applet_parse(text, len, 1, out, eb);
}

/* {syslog, timer, application, queue_full, ratelimited, since, last}: the
 * triggers of the applet dropped without a run (engine/run/runtime.h),
 * counted in memory since herald started or the applet was created, if
 * later. */
static cJSON *
applet_dropped_json(struct srv *s, const struct eng_applet_rec *r)
{
    struct eng_trigger_drops d;
    cJSON                   *o;
    long long                since;

    memset(&d, 0, sizeof(d));
    if (s->runtime != NULL)
        eng_runtime_applet_drops(s->runtime, r->name, &d);
    else
        d.since_ms = (long long)s->started * 1000;
    since = d.since_ms / 1000;
    if (r->created > since)
        since = r->created;
    if ((o = cJSON_CreateObject()) == NULL)
        return NULL;
    cJSON_AddNumberToObject(o, "syslog", (double)d.syslog);
    cJSON_AddNumberToObject(o, "timer", (double)d.timer);
    cJSON_AddNumberToObject(o, "application", (double)d.application);
    cJSON_AddNumberToObject(o, "queue_full", (double)d.queue_full);
    cJSON_AddNumberToObject(o, "ratelimited", (double)d.ratelimited);
    srv_json_add_time(o, "since", since);
    srv_json_add_time(o, "last", d.last_ms / 1000);
    return o;
}

/* Builds the Applet object from a stored record. */
static cJSON *
applet_json(struct srv *s, const struct eng_applet_rec *r, int full,
    struct errbuf *eb, int *rcp)
{
    struct eng_applet *a = NULL;
    cJSON             *j, *model;
    int                rc;

    if ((rc = applet_parse_text(r->text, strlen(r->text), &a, eb)) != 0) {
        *rcp = rc;
        return NULL;
    }
    model = eng_applet_to_json(a);
    if (model == NULL) {
        eng_applet_free(a);
        *rcp = err_set(eb, ERR_NOMEM, "internal", "out of memory");
        return NULL;
    }
    if (full) {
        j = model;
        cJSON_AddStringToObject(j, "text", r->text);
        cJSON *w = eng_applet_warnings(a, eng_env_defined, s->store);

        if (w != NULL)
            eng_applet_credential_warnings(a, eng_cred_exists, s->store, w);
        cJSON_AddItemToObject(j, "warnings", w);
        cJSON_AddBoolToObject(j, "webhook_token_set", r->webhook_token != NULL);
        cJSON_AddItemToObject(j, "dropped", applet_dropped_json(s, r));
    } else {
        cJSON *ev = cJSON_DetachItemFromObjectCaseSensitive(model, "events");

        j = cJSON_CreateObject();
        cJSON_AddStringToObject(j, "name", r->name);
        if (eng_applet_description(a))
            cJSON_AddStringToObject(j, "description",
                eng_applet_description(a));
        else
            cJSON_AddNullToObject(j, "description");
        cJSON_AddItemToObject(j, "events", ev ? ev : cJSON_CreateArray());
        cJSON_AddNumberToObject(j, "action_count",
            (double)eng_applet_action_count(a));
        cJSON_Delete(model);
    }
    srv_json_add_time(j, "created", r->created);
    srv_json_add_time(j, "updated", r->updated);
    eng_applet_free(a);
    *rcp = 0;
    return j;
}

void
srv_h_applet_list(struct srv_req *rq, struct srv_resp *rs)
{
    struct eng_applet_rec *v = NULL;
    struct errbuf          eb = { 0 };
    size_t                 n = 0;
    int                    rc;
    cJSON                 *root, *items;

    if ((rc = eng_store_applet_list(rq->srv->store, &v, &n, &eb)) != 0) {
        srv_reply_error(rs, rc, &eb);
        return;
    }
    root = cJSON_CreateObject();
    items = cJSON_AddArrayToObject(root, "items");
    for (size_t i = 0; i < n; i++) {
        cJSON *j = applet_json(rq->srv, &v[i], 0, &eb, &rc);

        if (j == NULL) { /* stored by an older binary? show it plainly */
            j = cJSON_CreateObject();
            cJSON_AddStringToObject(j, "name", v[i].name);
            cJSON_AddStringToObject(j, "error", eb.msg);
        }
        cJSON_AddItemToArray(items, j);
    }
    eng_applet_recs_free(v, n);
    srv_reply_json(rs, 200, root);
}

void
srv_h_applet_get(struct srv_req *rq, struct srv_resp *rs)
{
    struct eng_applet_rec r;
    struct errbuf         eb = { 0 };
    int                   rc;
    cJSON                *j;

    if ((rc = eng_store_applet_get(rq->srv->store, rq->params[0], &r, &eb))
        != 0) {
        srv_reply_error(rs, rc, &eb);
        return;
    }
    j = applet_json(rq->srv, &r, 1, &eb, &rc);
    eng_applet_rec_clear(&r);
    if (j == NULL)
        srv_reply_error(rs, rc, &eb);
    else
        srv_reply_json(rs, 200, j);
}

/* Parses the body (text or JSON) into an applet. path_name (PUT) must match
 * the name in the body. Replies and returns NULL on error. */
static struct eng_applet *
applet_from_body(struct srv_req *rq, struct srv_resp *rs, const char *path_name)
{
    struct eng_applet *a = NULL;
    struct errbuf      eb = { 0 };
    char               mt[64];
    int                rc;

    if (!srv_req_accept_types(rq, rs, applet_types))
        return NULL;
    srv_req_media_type(rq, mt, sizeof(mt));
    if (strcmp(mt, "application/json") == 0) {
        cJSON      *j = srv_parse_json(rq, rs);
        const char *jn = NULL;

        if (j == NULL)
            return NULL;
        if ((rc = srv_json_string(j, "name", path_name == NULL, &jn, &eb)) == 0
            && path_name && jn && strcmp(jn, path_name) != 0)
            rc = err_field(&eb, ERR_INVAL, "name", "name_mismatch",
                "applet name '%.64s' in the body does not match '%.64s' in "
                "the path",
                jn, path_name);
        if (rc == 0)
            rc = eng_applet_from_json(j, path_name, &a, &eb);
        cJSON_Delete(j);
    } else {
        if (rq->body.len == 0)
            rc = err_set(&eb, ERR_INVAL, "parse_error",
                "the body is empty; send an 'event manager applet NAME' "
                "block");
        else if ((rc = srv_text_check(buf_str(&rq->body), rq->body.len,
                      "the applet text", &eb))
            == 0)
            rc = applet_parse_text(buf_str(&rq->body), rq->body.len, &a, &eb);
        if (rc == 0 && path_name && strcmp(eng_applet_name(a), path_name) != 0)
            rc = err_field(&eb, ERR_INVAL, "name", "name_mismatch",
                "applet name '%.64s' in the text does not match '%.64s' in "
                "the path",
                eng_applet_name(a), path_name);
    }
    if (rc == 0)
        rc = eng_applet_storable(a, &eb);
    if (rc != 0) {
        eng_applet_free(a);
        srv_reply_error(rs, rc, &eb);
        return NULL;
    }
    return a;
}

static void
applet_save(struct srv_req *rq, struct srv_resp *rs, const char *path_name)
{
    struct eng_store     *st = rq->srv->store;
    struct eng_applet    *a;
    struct eng_applet_rec r;
    struct errbuf         eb = { 0 };
    char                 *text = NULL;
    int                   rc, created = 0;
    cJSON                *j;

    if ((a = applet_from_body(rq, rs, path_name)) == NULL)
        return;
    if ((text = eng_applet_to_text(a)) == NULL) {
        rc = err_set(&eb, ERR_NOMEM, "internal", "out of memory");
        goto out;
    }
    if ((rc = eng_store_begin(st, &eb)) != 0)
        goto out;
    if (path_name == NULL) { /* POST: create only */
        rc = eng_store_applet_get(st, eng_applet_name(a), &r, NULL);
        if (rc == 0) {
            eng_applet_rec_clear(&r);
            eng_store_rollback(st);
            rc = err_set(&eb, ERR_EXISTS, "conflict",
                "applet %s already exists; use PUT "
                "/api/v1/applets/%s to replace it",
                eng_applet_name(a), eng_applet_name(a));
            goto out;
        }
    }
    if ((rc = eng_store_applet_put(st, eng_applet_name(a), text, &created, &eb))
        != 0) {
        eng_store_rollback(st);
        goto out;
    }
    if ((rc = eng_store_commit(st, &eb)) != 0)
        goto out;
    /* its events are registered before the answer: a syslog line or an
     * application event sent right after it fires it */
    srv_runtime_applets_changed(rq->srv);
    if ((rc = eng_store_applet_get(st, eng_applet_name(a), &r, &eb)) != 0)
        goto out;
    j = applet_json(rq->srv, &r, 1, &eb, &rc);
    eng_applet_rec_clear(&r);
    if (j != NULL)
        cJSON_AddNumberToObject(j, "prompts_removed",
            eng_applet_prompts_removed(a));
    if (j != NULL)
        srv_reply_json(rs, created ? 201 : 200, j);
out:
    if (rc != 0)
        srv_reply_error(rs, rc, &eb);
    free(text);
    eng_applet_free(a);
}

void
srv_h_applet_post(struct srv_req *rq, struct srv_resp *rs)
{
    applet_save(rq, rs, NULL);
}

void
srv_h_applet_put(struct srv_req *rq, struct srv_resp *rs)
{
    applet_save(rq, rs, rq->params[0]);
}

void
srv_h_applet_del(struct srv_req *rq, struct srv_resp *rs)
{
    struct errbuf eb = { 0 };
    int           rc;

    if ((rc = eng_store_applet_del(rq->srv->store, rq->params[0], &eb)) != 0) {
        srv_reply_error(rs, rc, &eb);
        return;
    }
    srv_runtime_applets_changed(rq->srv); /* its events no longer fire */
    srv_reply_status(rs, 204);
}
