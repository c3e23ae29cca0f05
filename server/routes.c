/* SPDX-License-Identifier: MIT */
/*
 * server/routes.c: the one route table (method + path pattern + handler),
 * and dispatch: authentication, path captures, 404 for an unknown route,
 * 405 with Allow for a known path with another method, and the web console
 * for everything outside /api, /hooks and /healthz.
 *
 * A pattern segment "{x}" captures one path segment into rq->params[] in
 * order. Add a route by adding a line. A pattern without captures wins
 * over captures that would also match its path (".../import-chain" is
 * never the trustpoint "import-chain").
 */
#include "server/srv_int.h"

#include <stdlib.h>
#include <string.h>

static const struct srv_route srv_routes[] = {
    { "GET", "/healthz", srv_h_healthz, SRV_ROUTE_NOAUTH },
    { "GET", "/metrics", srv_h_metrics, SRV_ROUTE_NOAUTH },
    { "GET", "/api/v1/version", srv_h_version, 0 },

    { "GET", "/api/v1/environment", srv_h_env_list, 0 },
    { "GET", "/api/v1/environment/{name}", srv_h_env_get, 0 },
    { "PUT", "/api/v1/environment/{name}", srv_h_env_put, 0 },
    { "DELETE", "/api/v1/environment/{name}", srv_h_env_del, 0 },

    { "GET", "/api/v1/credentials", srv_h_cred_list, 0 },
    { "GET", "/api/v1/credentials/{name}", srv_h_cred_get, 0 },
    { "PUT", "/api/v1/credentials/{name}", srv_h_cred_put, 0 },
    { "DELETE", "/api/v1/credentials/{name}", srv_h_cred_del, 0 },

    { "GET", "/api/v1/applets", srv_h_applet_list, 0 },
    { "POST", "/api/v1/applets", srv_h_applet_post, 0 },
    { "GET", "/api/v1/applets/{name}", srv_h_applet_get, 0 },
    { "PUT", "/api/v1/applets/{name}", srv_h_applet_put, 0 },
    { "DELETE", "/api/v1/applets/{name}", srv_h_applet_del, 0 },
    { "POST", "/api/v1/applets/{name}/run", srv_h_applet_run, SRV_ROUTE_SLOW },
    { "PUT", "/api/v1/applets/{name}/webhook", srv_h_applet_webhook, 0 },
    { "POST", "/hooks/{name}", srv_h_hook, SRV_ROUTE_NOAUTH },
    { "POST", "/api/v1/events/application", srv_h_event_application, 0 },
    { "GET", "/api/v1/runs", srv_h_runs_list, 0 },
    { "GET", "/api/v1/runs/{id}", srv_h_run_get, 0 },
    { "GET", "/api/v1/outbox", srv_h_outbox_list, 0 },
    { "GET", "/api/v1/outbox/{id}", srv_h_outbox_get, 0 },
    { "POST", "/api/v1/outbox/{id}/resend", srv_h_outbox_resend, 0 },

    { "GET", "/api/v1/trustpoints", srv_h_tp_list, 0 },
    { "POST", "/api/v1/trustpoints", srv_h_tp_post, 0 },
    { "POST", "/api/v1/trustpoints/import-chain", srv_h_tp_import_chain, 0 },
    { "GET", "/api/v1/trustpoints/{name}", srv_h_tp_get, 0 },
    { "DELETE", "/api/v1/trustpoints/{name}", srv_h_tp_del, 0 },
    { "PUT", "/api/v1/trustpoints/{name}/certificate", srv_h_tp_cert_put, 0 },

    { "GET", "/api/v1/config", srv_h_config_get, 0 },
    { "POST", "/api/v1/config", srv_h_config_post, 0 },

    { "GET", "/api/v1/settings", srv_h_settings_get, 0 },
    { "PUT", "/api/v1/settings", srv_h_settings_put, 0 },

    { "POST", "/api/v1/probe", srv_h_probe, SRV_ROUTE_SLOW },
    { "POST", "/api/v1/mail/test", srv_h_mail_test, SRV_ROUTE_SLOW },
};

#define SRV_NROUTES (sizeof(srv_routes) / sizeof(srv_routes[0]))

/* Matches path against pattern; on success fills caps (new strings). */
static int
route_match(const char *pattern, const char *path, char **caps, size_t *ncaps)
{
    const char *p = pattern, *u = path;

    *ncaps = 0;
    while (*p && *u) {
        if (*p == '{') {
            const char *pe = strchr(p, '}');
            size_t      n = strcspn(u, "/");

            if (pe == NULL || n == 0 || *ncaps >= SRV_MAX_PARAMS)
                goto no;
            if ((caps[*ncaps] = strndup(u, n)) == NULL)
                goto no;
            (*ncaps)++;
            p = pe + 1;
            u += n;
            continue;
        }
        if (*p != *u)
            goto no;
        p++;
        u++;
    }
    if (*p == '\0' && (*u == '\0' || (u[0] == '/' && u[1] == '\0')))
        return 1;
no:
    for (size_t i = 0; i < *ncaps; i++)
        free(caps[i]);
    *ncaps = 0;
    return 0;
}

static int
route_is_api(const char *path)
{
    return strncmp(path, "/api/", 5) == 0 || strcmp(path, "/api") == 0
        || strncmp(path, "/hooks/", 7) == 0 || strcmp(path, "/healthz") == 0;
}

void
srv_dispatch(struct srv_req *rq, struct srv_resp *rs)
{
    const struct srv_route *hit = NULL;
    char                    allow[128] = "";
    char                   *caps[SRV_MAX_PARAMS];
    size_t                  ncaps;
    int                     path_known = 0;
    int                     is_head = strcmp(rq->method, "HEAD") == 0;
    int                     literal = 0;

    /* a pattern without captures that matches the path names that path:
     * captures that would also match it (".../{name}" for
     * ".../import-chain") do not count, for dispatch or for 405 */
    for (size_t i = 0; i < SRV_NROUTES && !literal; i++)
        literal = strchr(srv_routes[i].pattern, '{') == NULL
            && route_match(srv_routes[i].pattern, rq->path, caps, &ncaps);
    for (size_t i = 0; i < SRV_NROUTES; i++) {
        const struct srv_route *r = &srv_routes[i];

        if (literal && strchr(r->pattern, '{') != NULL)
            continue;
        if (!route_match(r->pattern, rq->path, caps, &ncaps))
            continue;
        if (strcmp(r->method, rq->method) == 0
            || (is_head && strcmp(r->method, "GET") == 0)) {
            if (hit == NULL) {
                hit = r;
                memcpy(rq->params, caps, ncaps * sizeof(caps[0]));
                rq->nparams = ncaps;
                continue;
            }
        }
        path_known = 1;
        if (strstr(allow, r->method) == NULL) {
            if (*allow)
                strcat(allow, ", ");
            strcat(allow, r->method);
        }
        for (size_t k = 0; k < ncaps; k++)
            free(caps[k]);
    }
    if (hit != NULL) {
        if (!(hit->flags & SRV_ROUTE_NOAUTH) && !srv_auth_ok(rq)) {
            srv_reply_unauthorized(rs,
                srv_req_header(rq, MHD_HTTP_HEADER_AUTHORIZATION)
                    ? "the admin token is wrong"
                    : "this route needs 'Authorization: Bearer <admin "
                      "token>'");
            return;
        }
        if (hit->flags & SRV_ROUTE_SLOW)
            srv_slow_run(rq->srv, rq, rs, hit->handler);
        else
            hit->handler(rq, rs);
        return;
    }
    if (path_known) {
        /* do not reveal the API shape without the token */
        if (!srv_auth_ok(rq)) {
            srv_reply_unauthorized(rs,
                "this route needs 'Authorization: "
                "Bearer <admin token>'");
            return;
        }
        srv_reply_errorf(rs, ERR_UNSUPPORTED, "method_not_allowed",
            "method %s is not allowed on %s; allowed: %s", rq->method, rq->path,
            allow);
        srv_resp_header(rs, MHD_HTTP_HEADER_ALLOW, allow);
        return;
    }
    if (!route_is_api(rq->path) && srv_static_serve(rq, rs) == 0)
        return;
    if (strncmp(rq->path, "/api/", 5) == 0 && !srv_auth_ok(rq)) {
        srv_reply_unauthorized(rs,
            "this route needs 'Authorization: Bearer "
            "<admin token>'");
        return;
    }
    srv_reply_errorf(rs, ERR_NOTFOUND, "not_found", "no route %s %s",
        rq->method, rq->path);
}
