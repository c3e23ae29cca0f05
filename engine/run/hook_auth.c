/* SPDX-License-Identifier: MIT */
/*
 * engine/run/hook_auth.c: webhook authentication and payload variables.
 *
 * A webhook POST authenticates with the applet's secret token, either as
 * "Authorization: Bearer <token>" or as "X-Herald-Signature: sha256=<hex>"
 * carrying HMAC-SHA256(token, body) (RFC 2104). Both comparisons are
 * constant-time. The body becomes $_webhook_body and, for a JSON object,
 * one $_webhook_<field> per top-level field, plus $_webhook_alertname,
 * $_webhook_severity and $_webhook_summary for Prometheus Alertmanager and
 * Grafana notification payloads.
 * The HMAC comes from pki/ (pki_hmac_sha256), which keeps wolfSSL fenced.
 */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <cjson/cJSON.h>

#include "common/sec.h"
#include "engine/run/runtime_int.h"
#include "pki/pki.h"

#define HOOK_MAX_FIELDS 256
#define HOOK_NAME_MAX   64

static int
hex_val(int c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    c = tolower(c);
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    return -1;
}

int
eng_hook_verify(const char *token, const char *authorization,
    const char *signature, const void *body, size_t len, struct errbuf *eb)
{
    unsigned char mac[32], got[32];
    size_t        i;
    int           ok;

    if (token == NULL || *token == '\0')
        return err_set(eb, ERR_AUTH, "unauthorized",
            "this applet has no webhook token yet; create one with PUT "
            "/api/v1/applets/{name}/webhook");
    if (authorization != NULL && *authorization != '\0') {
        const char *t = authorization;

        if (strncasecmp(t, "Bearer ", 7) != 0)
            return err_set(eb, ERR_AUTH, "unauthorized",
                "Authorization must be \"Bearer <webhook token>\"");
        t += 7;
        while (*t == ' ')
            t++;
        if (!sec_equal(t, strlen(t), token, strlen(token)))
            return err_set(eb, ERR_AUTH, "unauthorized",
                "wrong webhook token");
        return 0;
    }
    if (signature != NULL && *signature != '\0') {
        const char *h = signature;

        if (strncasecmp(h, "sha256=", 7) != 0)
            return err_set(eb, ERR_AUTH, "unauthorized",
                "X-Herald-Signature must be \"sha256=<64 hex digits>\"");
        h += 7;
        if (strlen(h) != 64)
            return err_set(eb, ERR_AUTH, "unauthorized",
                "X-Herald-Signature must hold 64 hex digits after "
                "\"sha256=\" (got %zu characters)", strlen(h));
        for (i = 0; i < 32; i++) {
            int hi = hex_val((unsigned char)h[2 * i]);
            int lo = hex_val((unsigned char)h[2 * i + 1]);

            if (hi < 0 || lo < 0)
                return err_set(eb, ERR_AUTH, "unauthorized",
                    "X-Herald-Signature is not hexadecimal");
            got[i] = (unsigned char)(hi << 4 | lo);
        }
        ok = pki_hmac_sha256(token, strlen(token), body, len, mac) == 0 &&
            sec_equal(mac, sizeof(mac), got, sizeof(got));
        sec_wipe(mac, sizeof(mac));
        if (!ok)
            return err_set(eb, ERR_AUTH, "unauthorized",
                "X-Herald-Signature does not match the body: expected the "
                "HMAC-SHA256 of the exact request body keyed with the "
                "applet's webhook token");
        return 0;
    }
    return err_set(eb, ERR_AUTH, "unauthorized",
        "missing credentials: send \"Authorization: Bearer <webhook token>\" "
        "or \"X-Herald-Signature: sha256=<hex HMAC-SHA256 of the body>\"");
}

/* ---- variable lists ---------------------------------------------------- */

int
eng_vars_addn(struct eng_vars *vs, const char *name, const char *value,
    size_t vlen)
{
    char  *n, *v;
    size_t i;

    if (vs->n == vs->cap) {
        size_t         cap = vs->cap ? vs->cap * 2 : 16;
        struct eng_kv *nv = realloc(vs->v, cap * sizeof(*nv));

        if (nv == NULL)
            return ERR_NOMEM;
        vs->v = nv;
        vs->cap = cap;
    }
    if ((n = strdup(name)) == NULL)
        return ERR_NOMEM;
    if ((v = malloc(vlen + 1)) == NULL) {
        free(n);
        return ERR_NOMEM;
    }
    memcpy(v, value, vlen);
    v[vlen] = '\0';
    for (i = 0; i < vs->n; i++) /* replace an existing name */
        if (strcmp(vs->v[i].name, name) == 0) {
            free(n);
            free((char *)vs->v[i].value);
            vs->v[i].value = v;
            return 0;
        }
    vs->v[vs->n].name = n;
    vs->v[vs->n].value = v;
    vs->n++;
    return 0;
}

int
eng_vars_add(struct eng_vars *vs, const char *name, const char *value)
{
    return eng_vars_addn(vs, name, value ? value : "",
        value ? strlen(value) : 0);
}

const char *
eng_vars_get(const struct eng_vars *vs, const char *name)
{
    size_t i;

    for (i = 0; i < vs->n; i++)
        if (strcmp(vs->v[i].name, name) == 0)
            return vs->v[i].value;
    return NULL;
}

void
eng_vars_free(struct eng_vars *vs)
{
    size_t i;

    for (i = 0; i < vs->n; i++) {
        free((char *)vs->v[i].name);
        free((char *)vs->v[i].value);
    }
    free(vs->v);
    memset(vs, 0, sizeof(*vs));
}

/* ---- payload flattening ------------------------------------------------ */

/* Text form of a JSON value: strings as-is, others compact JSON, null "". */
static char *
hook_text(const cJSON *j)
{
    if (cJSON_IsString(j))
        return strdup(j->valuestring);
    if (cJSON_IsNull(j))
        return strdup("");
    return cJSON_PrintUnformatted(j);
}

static int
hook_add_json(struct eng_vars *vs, const char *name, const cJSON *j)
{
    char *t = hook_text(j);
    int   rc;

    if (t == NULL)
        return ERR_NOMEM;
    rc = eng_vars_add(vs, name, t);
    free(t);
    return rc;
}

static const cJSON *
hook_path(const cJSON *root, const char *obj, const char *key)
{
    const cJSON *o = cJSON_GetObjectItemCaseSensitive(root, obj);
    const cJSON *v = cJSON_IsObject(o)
        ? cJSON_GetObjectItemCaseSensitive(o, key) : NULL;

    return cJSON_IsString(v) && *v->valuestring ? v : NULL;
}

/* Alertmanager (and Grafana unified alerting, same shape) and legacy
 * Grafana: derive alertname, severity and summary when not already set. */
static int
hook_alert_vars(struct eng_vars *vs, const cJSON *root)
{
    const cJSON *alerts = cJSON_GetObjectItemCaseSensitive(root, "alerts");
    const cJSON *first = cJSON_IsArray(alerts)
        ? cJSON_GetArrayItem(alerts, 0) : NULL;
    const cJSON *v;
    int          am, gf, rc;
    static const struct {
        const char *var, *common, *key, *in_alert, *fallback1, *fallback2;
    } map[3] = {
        { "_webhook_alertname", "commonLabels", "alertname", "labels",
          "ruleName", "title" },
        { "_webhook_severity", "commonLabels", "severity", "labels",
          NULL, NULL },
        { "_webhook_summary", "commonAnnotations", "summary", "annotations",
          "message", "title" },
    };
    size_t i;

    am = cJSON_IsArray(alerts)
        && (cJSON_HasObjectItem(root, "receiver")
            || cJSON_HasObjectItem(root, "groupLabels")
            || cJSON_HasObjectItem(root, "commonLabels"));
    gf = cJSON_HasObjectItem(root, "ruleName")
        || (cJSON_HasObjectItem(root, "title")
            && cJSON_HasObjectItem(root, "state"));
    if (!am && !gf)
        return 0;
    for (i = 0; i < 3; i++) {
        if (eng_vars_get(vs, map[i].var) != NULL)
            continue; /* a top-level field of that name wins */
        v = hook_path(root, map[i].common, map[i].key);
        if (v == NULL && cJSON_IsObject(first))
            v = hook_path(first, map[i].in_alert, map[i].key);
        if (v == NULL && map[i].fallback1 != NULL) {
            v = cJSON_GetObjectItemCaseSensitive(root, map[i].fallback1);
            if (!cJSON_IsString(v) || !*v->valuestring)
                v = cJSON_GetObjectItemCaseSensitive(root, map[i].fallback2);
            if (!cJSON_IsString(v) || !*v->valuestring)
                v = NULL;
        }
        if ((rc = eng_vars_add(vs, map[i].var,
                 v ? v->valuestring : "")) != 0)
            return rc;
    }
    return 0;
}

static int
is_text_plain(const char *ct)
{
    while (ct != NULL && *ct == ' ')
        ct++;
    return ct != NULL && strncasecmp(ct, "text/plain", 10) == 0
        && (ct[10] == '\0' || ct[10] == ';' || ct[10] == ' ');
}

int
eng_webhook_vars(const char *body, size_t len, const char *content_type,
    struct eng_vars *out, struct errbuf *eb)
{
    const char  *end = NULL;
    cJSON       *root, *it;
    char         name[sizeof("_webhook_") + HOOK_NAME_MAX];
    size_t       i, nfields = 0;
    int          rc;

    if (body == NULL)
        body = "";
    if (memchr(body, '\0', len) != NULL)
        return err_set(eb, ERR_INVAL, "invalid_body",
            "the body contains a NUL byte");
    if ((rc = eng_vars_addn(out, "_webhook_body", body, len)) != 0)
        return rc;
    if (len == 0 || is_text_plain(content_type))
        return 0;
    root = cJSON_ParseWithLengthOpts(body, len, &end, 0);
    if (root == NULL) {
        size_t off = end && end >= body ? (size_t)(end - body) : 0;
        int    line = 1, col = 1;

        if (off > len)
            off = len;
        for (i = 0; i < off; i++) {
            if (body[i] == '\n') {
                line++;
                col = 1;
            } else {
                col++;
            }
        }
        return err_at(eb, ERR_INVAL, line, col, "invalid_json",
            "the body is not valid JSON (error at line %d, column %d, byte "
            "%zu); send JSON, or Content-Type: text/plain for plain text",
            line, col, off);
    }
    if (!cJSON_IsObject(root)) {
        cJSON_Delete(root);
        return 0;
    }
    rc = 0;
    cJSON_ArrayForEach(it, root) {
        size_t k, n;

        if (it->string == NULL || *it->string == '\0')
            continue;
        if (++nfields > HOOK_MAX_FIELDS)
            break;
        n = strlen(it->string);
        if (n > HOOK_NAME_MAX)
            n = HOOK_NAME_MAX;
        memcpy(name, "_webhook_", 9);
        for (k = 0; k < n; k++) {
            unsigned char c = (unsigned char)it->string[k];

            name[9 + k] = (char)(isalnum(c) || c == '_' ? c : '_');
        }
        name[9 + n] = '\0';
        if (strcmp(name, "_webhook_body") == 0)
            continue; /* never shadow the body itself */
        if ((rc = hook_add_json(out, name, it)) != 0)
            break;
    }
    if (rc == 0)
        rc = hook_alert_vars(out, root);
    cJSON_Delete(root);
    return rc;
}
