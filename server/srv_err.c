/* SPDX-License-Identifier: MIT */
/*
 * server/srv_err.c: the one place where an enum err (common/err.h) becomes an
 * HTTP status, and where JSON error bodies are made:
 *   {"error": {"code", "message", "field"?, "line"?, "column"?}}
 * The detail (code, message, field, position) comes from the struct errbuf
 * that the engine or pki filled; when a module left no code, the status
 * gives one. 429 (busy) and 503 (ERR_UNAVAILABLE: the database cannot be
 * reached) carry Retry-After.
 */
#include "server/srv_int.h"

#include <cjson/cJSON.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

static int
srv_err_norm(int rc)
{
    /* some headers say "-ERR_*": both spellings mean the same error */
    return rc > 0 ? -rc : rc;
}

int
srv_err_status(int rc, const struct errbuf *eb)
{
    const char *code = eb ? eb->code : "";

    if (strcmp(code, "unsupported_media_type") == 0)
        return MHD_HTTP_UNSUPPORTED_MEDIA_TYPE;
    if (strcmp(code, "method_not_allowed") == 0)
        return MHD_HTTP_METHOD_NOT_ALLOWED;
    if (strcmp(code, "fingerprint_mismatch") == 0)
        return MHD_HTTP_UNPROCESSABLE_CONTENT;
    switch (srv_err_norm(rc)) {
    case ERR_OK:
        return MHD_HTTP_OK;
    case ERR_INVAL:
        return MHD_HTTP_BAD_REQUEST;
    case ERR_NOTFOUND:
        return MHD_HTTP_NOT_FOUND;
    case ERR_EXISTS:
        return MHD_HTTP_CONFLICT;
    case ERR_TOOBIG:
        return MHD_HTTP_CONTENT_TOO_LARGE;
    case ERR_UNSUPPORTED:
        return MHD_HTTP_UNPROCESSABLE_CONTENT;
    case ERR_BUSY:
        return MHD_HTTP_TOO_MANY_REQUESTS;
    case ERR_AUTH:
        return MHD_HTTP_UNAUTHORIZED;
    case ERR_TIMEOUT:
        return MHD_HTTP_GATEWAY_TIMEOUT;
    case ERR_UNAVAILABLE:
        return MHD_HTTP_SERVICE_UNAVAILABLE;
    case ERR_DNS:
    case ERR_CONNECT:
    case ERR_TLS:
    case ERR_PROTO:
    case ERR_REJECTED:
        return MHD_HTTP_BAD_GATEWAY;
    case ERR_NOMEM:
    case ERR_IO:
    case ERR_DB:
    case ERR_INTERNAL:
    default:
        return MHD_HTTP_INTERNAL_SERVER_ERROR;
    }
}

static const char *
srv_err_default_code(int status)
{
    switch (status) {
    case 400:
        return "invalid_request";
    case 401:
        return "unauthorized";
    case 404:
        return "not_found";
    case 405:
        return "method_not_allowed";
    case 409:
        return "conflict";
    case 413:
        return "too_large";
    case 415:
        return "unsupported_media_type";
    case 422:
        return "unsupported";
    case 429:
        return "busy";
    case 502:
        return "bad_gateway";
    case 503:
        return "unavailable";
    case 504:
        return "timeout";
    default:
        return "internal";
    }
}

struct cJSON *
srv_err_json(int rc, const struct errbuf *eb)
{
    int    status = srv_err_status(rc, eb);
    cJSON *root = cJSON_CreateObject(), *e = cJSON_CreateObject();

    if (root == NULL || e == NULL) {
        cJSON_Delete(root);
        cJSON_Delete(e);
        return NULL;
    }
    cJSON_AddItemToObject(root, "error", e);
    cJSON_AddStringToObject(e, "code",
        eb && eb->code[0] ? eb->code : srv_err_default_code(status));
    cJSON_AddStringToObject(e, "message",
        eb && eb->msg[0] ? eb->msg : err_name(srv_err_norm(rc)));
    if (eb && eb->field[0])
        cJSON_AddStringToObject(e, "field", eb->field);
    if (eb && eb->line > 0) {
        cJSON_AddNumberToObject(e, "line", eb->line);
        if (eb->col > 0)
            cJSON_AddNumberToObject(e, "column", eb->col);
    }
    return root;
}

void
srv_reply_error(struct srv_resp *rs, int rc, const struct errbuf *eb)
{
    int status = srv_err_status(rc, eb);

    srv_reply_json(rs, status, srv_err_json(rc, eb));
    /* busy, or the database cannot be reached: the client may try again
     * (another instance, or this one once the database is back) */
    if (status == MHD_HTTP_TOO_MANY_REQUESTS
        || status == MHD_HTTP_SERVICE_UNAVAILABLE)
        srv_resp_header(rs, MHD_HTTP_HEADER_RETRY_AFTER, SRV_RETRY_AFTER);
}

void
srv_reply_errorf(struct srv_resp *rs, int rc, const char *code, const char *fmt,
    ...)
{
    struct errbuf eb = { 0 };
    va_list       ap;

    snprintf(eb.code, sizeof(eb.code), "%s", code);
    va_start(ap, fmt);
    vsnprintf(eb.msg, sizeof(eb.msg), fmt, ap);
    va_end(ap);
    srv_reply_error(rs, rc, &eb);
}
