/* SPDX-License-Identifier: MIT */
/*
 * server/routes_delivery.c: delivery checks without an applet.
 *
 * POST /api/v1/probe: eng_mail_probe connects to an SMTP server, STARTTLS or
 * implicit TLS, and verifies the presented chain against the trustpoints;
 * 200 with the report also when verification fails, 502 when the server
 * cannot be reached. POST /api/v1/mail/test: one message through
 * eng_mail_send, 200 {"delivered": bool, "result"?, "trace"}. The password
 * is never echoed: eng_mail_send redacts the trace. With "credential" the
 * message goes with an OAuth 2.0 access token of that credential (server
 * "user@host"); an unknown credential is 400 naming the field.
 * (Import of a probed chain is POST /api/v1/trustpoints/import-chain, in
 * routes_trustpoints.c.)
 */
#include "server/srv_int.h"

#include <cjson/cJSON.h>
#include <stdio.h>
#include <string.h>

#include "engine/mail/mail.h"

static cJSON *
result_json(const struct smtp_result *r)
{
    cJSON *j = cJSON_CreateObject();

    cJSON_AddStringToObject(j, "klass", r->klass);
    cJSON_AddBoolToObject(j, "permanent", r->permanent);
    if (r->code)
        cJSON_AddNumberToObject(j, "code", r->code);
    if (r->enhanced[0])
        cJSON_AddStringToObject(j, "enhanced", r->enhanced);
    if (r->reply[0])
        cJSON_AddStringToObject(j, "reply", r->reply);
    cJSON_AddStringToObject(j, "message", r->message);
    if (r->advice[0])
        cJSON_AddStringToObject(j, "advice", r->advice);
    if (r->recipient[0])
        cJSON_AddStringToObject(j, "recipient", r->recipient);
    return j;
}

static int
secure_field(const cJSON *j, const char **s, struct errbuf *eb)
{
    int rc;

    if ((rc = srv_json_string(j, "secure", 0, s, eb)) != 0 || *s == NULL)
        return rc;
    rc = eng_mail_secure_parse(*s, NULL, eb);
    return rc < 0 ? rc : 0;
}

void
srv_h_probe(struct srv_req *rq, struct srv_resp *rs)
{
    static const char *const fields[] = { "host", "port", "secure", "tls_name",
        NULL };
    struct eng_probe_req     req = { 0 };
    struct smtp_result       res = { 0 };
    struct errbuf            eb = { 0 };
    int                      rc;
    cJSON                   *j, *report = NULL;

    if ((j = srv_req_json(rq, rs)) == NULL)
        return;
    if ((rc = srv_json_only(j, fields, &eb)) != 0
        || (rc = srv_json_string(j, "host", 1, &req.host, &eb)) != 0
        || (rc = srv_json_uint(j, "port", 65535, &req.port, &eb)) != 0
        || (rc = secure_field(j, &req.secure, &eb)) != 0
        || (rc = srv_json_string(j, "tls_name", 0, &req.tls_name, &eb)) != 0)
        goto out;
    rc = eng_mail_probe(rq->srv->trust, &req, &report, &res, &eb);
    if (rc == 0) {
        srv_reply_json(rs, 200, report);
    } else if (rc == ERR_CONNECT) {
        cJSON *e = srv_err_json(ERR_CONNECT, &eb);

        cJSON_AddItemToObject(e, "result", result_json(&res));
        srv_reply_json(rs, 502, e);
        rc = 0;
    }
out:
    if (rc != 0)
        srv_reply_error(rs, rc, &eb);
    cJSON_Delete(j);
}

void
srv_h_mail_test(struct srv_req *rq, struct srv_resp *rs)
{
    static const char *const fields[] = { "server", "host", "username",
        "password", "port", "secure", "to", "from", "cc", "subject", "body",
        "tls_name", "insecure_skip_verify", "allow_plain_auth", "credential",
        NULL };
    struct eng_mail_req      req = { 0 };
    struct smtp_result       res = { 0 };
    struct errbuf            eb = { 0 };
    int                      rc;
    cJSON                   *j, *trace = NULL, *out;

    if ((j = srv_req_json(rq, rs)) == NULL)
        return;
    if ((rc = srv_json_only(j, fields, &eb)) != 0
        || (rc = srv_json_string(j, "server", 0, &req.server, &eb)) != 0
        || (rc = srv_json_string(j, "host", 0, &req.host, &eb)) != 0
        || (rc = srv_json_string(j, "username", 0, &req.username, &eb)) != 0
        || (rc = srv_json_string(j, "password", 0, &req.password, &eb)) != 0
        || (rc = srv_json_uint(j, "port", 65535, &req.port, &eb)) != 0
        || (rc = secure_field(j, &req.secure, &eb)) != 0
        || (rc = srv_json_string(j, "to", 1, &req.to, &eb)) != 0
        || (rc = srv_json_string(j, "from", 1, &req.from, &eb)) != 0
        || (rc = srv_json_string(j, "cc", 0, &req.cc, &eb)) != 0
        || (rc = srv_json_string(j, "subject", 0, &req.subject, &eb)) != 0
        || (rc = srv_json_string(j, "body", 0, &req.body, &eb)) != 0
        || (rc = srv_json_string(j, "tls_name", 0, &req.tls_name, &eb)) != 0
        || (rc = srv_json_string(j, "credential", 0, &req.credential, &eb)) != 0
        || (rc = srv_json_bool(j, "insecure_skip_verify",
                &req.insecure_skip_verify, &eb))
            != 0
        || (rc = srv_json_bool(j, "allow_plain_auth", &req.allow_plain_auth,
                &eb))
            != 0)
        goto out;
    if (req.server == NULL && req.host == NULL) {
        rc = err_field(&eb, ERR_INVAL, "server", "missing_field",
            "give \"server\" (user:password@host) or \"host\"");
        goto out;
    }
    if (req.subject == NULL)
        req.subject = "herald test message";
    if (req.body == NULL)
        req.body = "This is a test message from herald.";
    trace = cJSON_CreateObject();
    rc = eng_mail_send(rq->srv->trust, &req, trace, &res, &eb);
    if (rc != 0
        && (strcmp(res.klass, "invalid_request") == 0
            || res.klass[0] == '\0')) {
        if (!eb.code[0])
            snprintf(eb.code, sizeof(eb.code), "invalid_field");
        goto out;
    }
    out = cJSON_CreateObject();
    cJSON_AddBoolToObject(out, "delivered", rc == 0);
    rc = 0;
    if (res.klass[0])
        cJSON_AddItemToObject(out, "result", result_json(&res));
    cJSON_AddItemToObject(out, "trace", trace);
    trace = NULL;
    srv_reply_json(rs, 200, out);
out:
    if (rc != 0)
        srv_reply_error(rs, rc, &eb);
    cJSON_Delete(trace);
    cJSON_Delete(j);
}
