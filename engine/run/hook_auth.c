/* SPDX-License-Identifier: MIT */
/*
 * engine/run/hook_auth.c: webhook authentication and payload variables.
 *
 * A webhook POST authenticates with one of the applet's two credentials
 * (PUT /api/v1/applets/{name}/webhook makes both):
 *   - "Authorization: Bearer <token>". Only the token's SHA-256 is stored;
 *     the digests are compared in constant time.
 *   - "X-Herald-Timestamp: <unix seconds>" and "X-Herald-Signature:
 *     sha256=<hex>" carrying HMAC-SHA256(signing secret, "<timestamp>.<raw
 *     body>") (RFC 2104; the Stripe/Slack scheme). The timestamp must be
 *     within ENG_HOOK_SKEW_S of herald's clock, and a signature is accepted
 *     once: eng_hook_seen remembers the verified ones until their timestamp
 *     leaves the window. The HMAC needs the secret itself, so it is stored
 *     as it is (docs/design.md, "Webhook credentials").
 * eng_hook_parse() looks at the request alone and its errors may be shown
 * to the client; eng_hook_verify() compares with the applet's credentials
 * and its errors ("denied") are for the log only, so that every refusal
 * that depends on the applet answers alike.
 *
 * The body becomes $_webhook_body and, for a JSON object, one
 * $_webhook_<field> per top-level field, plus $_webhook_alertname,
 * $_webhook_severity and $_webhook_summary for Prometheus Alertmanager and
 * Grafana notification payloads.
 * SHA-256 and HMAC come from pki/ (pki_sha256, pki_hmac_sha256_2), which
 * keeps wolfSSL fenced.
 */
#include <ctype.h>
#include <pthread.h>
#include <stdio.h>
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

/* 64 hex digits into 32 bytes; -1 if h is not that. */
static int
hex32(const char *h, unsigned char out[32])
{
    size_t i;

    if (h == NULL || strlen(h) != 64)
        return -1;
    for (i = 0; i < 32; i++) {
        int hi = hex_val((unsigned char)h[2 * i]);
        int lo = hex_val((unsigned char)h[2 * i + 1]);

        if (hi < 0 || lo < 0)
            return -1;
        out[i] = (unsigned char)(hi << 4 | lo);
    }
    return 0;
}

#define HOOK_HOWTO                                                             \
    "send \"Authorization: Bearer <webhook token>\", or "                      \
    "\"X-Herald-Timestamp: <unix seconds>\" with \"X-Herald-Signature: "       \
    "sha256=<hex HMAC-SHA256(signing secret, \"<timestamp>.<body>\")>\""

int
eng_hook_parse(const char *authorization, const char *timestamp,
    const char *signature, long long now, struct eng_hook_auth *out,
    struct errbuf *eb)
{
    const char *t;
    size_t      n;
    long long   ts = 0, d;

    memset(out, 0, sizeof(*out));
    if (authorization != NULL && *authorization != '\0') {
        t = authorization;
        if (strncasecmp(t, "Bearer ", 7) != 0)
            return err_set(eb, ERR_AUTH, "unauthorized",
                "Authorization must be \"Bearer <webhook token>\"");
        t += 7;
        while (*t == ' ')
            t++;
        if (pki_sha256(t, strlen(t), out->digest) != 0)
            return err_set(eb, ERR_AUTH, "unauthorized",
                "the bearer token cannot be read; " HOOK_HOWTO);
        out->mode = ENG_HOOK_BEARER;
        return 0;
    }
    if (signature == NULL || *signature == '\0')
        return err_set(eb, ERR_AUTH, "unauthorized",
            "missing credentials: " HOOK_HOWTO);
    if (timestamp == NULL || *timestamp == '\0')
        return err_set(eb, ERR_AUTH, "unauthorized",
            "X-Herald-Signature without X-Herald-Timestamp: a signature of "
            "the body alone is no longer accepted (it could be replayed); "
            "send \"X-Herald-Timestamp: <unix seconds>\" and sign "
            "\"<timestamp>.<body>\" with the signing secret from PUT "
            "/api/v1/applets/{name}/webhook");
    n = strlen(timestamp);
    if (n > 18 || strspn(timestamp, "0123456789") != n)
        return err_set(eb, ERR_AUTH, "unauthorized",
            "X-Herald-Timestamp must be the time in unix seconds (digits "
            "only, e.g. %lld)",
            now);
    for (size_t i = 0; i < n; i++)
        ts = ts * 10 + (timestamp[i] - '0');
    d = now - ts;
    if (d > ENG_HOOK_SKEW_S || d < -ENG_HOOK_SKEW_S)
        return err_set(eb, ERR_AUTH, "unauthorized",
            "X-Herald-Timestamp %lld is %lld s %s herald's clock (%lld); "
            "signatures are accepted within %d s: sign each delivery with "
            "the current time, and check the sender's clock (NTP)",
            ts, d > 0 ? d : -d, d > 0 ? "behind" : "ahead of", now,
            ENG_HOOK_SKEW_S);
    if (strncasecmp(signature, "sha256=", 7) != 0)
        return err_set(eb, ERR_AUTH, "unauthorized",
            "X-Herald-Signature must be \"sha256=<64 hex digits>\"");
    if (hex32(signature + 7, out->sig) != 0)
        return err_set(eb, ERR_AUTH, "unauthorized",
            "X-Herald-Signature must hold 64 hex digits after \"sha256=\"");
    memcpy(out->ts_text, timestamp, n + 1);
    out->ts = ts;
    out->mode = ENG_HOOK_SIGNED;
    return 0;
}

int
eng_hook_verify(const struct eng_hook_auth *a, const char *token_sha256,
    const char *secret, const void *body, size_t len, int have_body,
    struct errbuf *eb)
{
    unsigned char want[32];
    char          pre[sizeof(a->ts_text) + 1];
    int           ok;

    if (a->mode == ENG_HOOK_BEARER) {
        if (token_sha256 == NULL)
            return err_set(eb, ERR_AUTH, "denied",
                "the applet has no webhook token (a signing secret only?); "
                "create one with PUT /api/v1/applets/{name}/webhook");
        if (hex32(token_sha256, want) != 0)
            return err_set(eb, ERR_AUTH, "denied",
                "the stored token digest is damaged; create a new token "
                "with PUT /api/v1/applets/{name}/webhook");
        ok = sec_equal(want, sizeof(want), a->digest, sizeof(a->digest));
        sec_wipe(want, sizeof(want));
        return ok ? 0 : err_set(eb, ERR_AUTH, "denied", "wrong webhook token");
    }
    if (a->mode != ENG_HOOK_SIGNED)
        return err_set(eb, ERR_AUTH, "denied", "no credentials parsed");
    if (secret == NULL || *secret == '\0')
        return err_set(eb, ERR_AUTH, "denied",
            "the applet has no signing secret (its token predates signing "
            "secrets); create one with PUT /api/v1/applets/{name}/webhook");
    if (!have_body)
        return 0;
    snprintf(pre, sizeof(pre), "%s.", a->ts_text);
    ok = pki_hmac_sha256_2(secret, strlen(secret), pre, strlen(pre), body, len,
             want)
            == 0
        && sec_equal(want, sizeof(want), a->sig, sizeof(a->sig));
    sec_wipe(want, sizeof(want));
    return ok
        ? 0
        : err_set(eb, ERR_AUTH, "denied",
            "X-Herald-Signature does not match: expected the HMAC-SHA256 of "
            "\"<timestamp>.<exact body>\" keyed with the applet's signing "
            "secret");
}

/* ---- seen signatures ---------------------------------------------------- */

struct hook_seen_ent {
    unsigned char sig[32];
    long long     expires; /* unix s: its timestamp leaves the window */
};

struct hook_seen_applet {
    struct hook_seen_applet *next;
    char                    *name;
    struct hook_seen_ent    *v;
    size_t                   n, cap;
};

struct eng_hook_seen {
    pthread_mutex_t          mu;
    struct hook_seen_applet *applets;
};

int
eng_hook_seen_new(struct eng_hook_seen **out)
{
    if ((*out = calloc(1, sizeof(**out))) == NULL)
        return ERR_NOMEM;
    pthread_mutex_init(&(*out)->mu, NULL);
    return 0;
}

void
eng_hook_seen_free(struct eng_hook_seen *c)
{
    struct hook_seen_applet *a, *next;

    if (c == NULL)
        return;
    for (a = c->applets; a != NULL; a = next) {
        next = a->next;
        free(a->name);
        free(a->v);
        free(a);
    }
    pthread_mutex_destroy(&c->mu);
    free(c);
}

/* Drops the entries of every applet whose timestamp left the window, and
 * applets left with none. Under c->mu. */
static void
hook_seen_prune(struct eng_hook_seen *c, long long now)
{
    struct hook_seen_applet **pp = &c->applets, *a;

    while ((a = *pp) != NULL) {
        size_t k = 0;

        for (size_t i = 0; i < a->n; i++)
            if (a->v[i].expires >= now)
                a->v[k++] = a->v[i];
        a->n = k;
        if (k == 0) {
            *pp = a->next;
            free(a->name);
            free(a->v);
            free(a);
            continue;
        }
        pp = &a->next;
    }
}

int
eng_hook_seen_add(struct eng_hook_seen *c, const char *applet,
    const unsigned char sig[32], long long ts, long long now)
{
    struct hook_seen_applet *a;
    int                      rc = 0;

    pthread_mutex_lock(&c->mu);
    for (a = c->applets; a != NULL; a = a->next)
        if (strcmp(a->name, applet) == 0)
            break;
    if (a != NULL)
        for (size_t i = 0; i < a->n; i++)
            if (a->v[i].expires >= now && memcmp(a->v[i].sig, sig, 32) == 0) {
                rc = 1;
                goto out;
            }
    if (a == NULL || a->n == a->cap) {
        hook_seen_prune(c, now); /* may free a */
        for (a = c->applets; a != NULL; a = a->next)
            if (strcmp(a->name, applet) == 0)
                break;
    }
    if (a == NULL) {
        if ((a = calloc(1, sizeof(*a))) == NULL
            || (a->name = strdup(applet)) == NULL) {
            free(a);
            rc = ERR_NOMEM;
            goto out;
        }
        a->next = c->applets;
        c->applets = a;
    }
    if (a->n == a->cap) {
        size_t                cap = a->cap ? a->cap * 2 : 16;
        struct hook_seen_ent *nv;

        if (a->cap >= ENG_HOOK_SEEN_MAX) {
            rc = ERR_BUSY; /* refuse rather than forget one */
            goto out;
        }
        if (cap > ENG_HOOK_SEEN_MAX)
            cap = ENG_HOOK_SEEN_MAX;
        if ((nv = realloc(a->v, cap * sizeof(*nv))) == NULL) {
            rc = ERR_NOMEM;
            goto out;
        }
        a->v = nv;
        a->cap = cap;
    }
    memcpy(a->v[a->n].sig, sig, 32);
    a->v[a->n].expires = ts + ENG_HOOK_SKEW_S;
    a->n++;
out:
    pthread_mutex_unlock(&c->mu);
    return rc;
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
    const cJSON *v =
        cJSON_IsObject(o) ? cJSON_GetObjectItemCaseSensitive(o, key) : NULL;

    return cJSON_IsString(v) && *v->valuestring ? v : NULL;
}

/* Alertmanager (and Grafana unified alerting, same shape) and legacy
 * Grafana: derive alertname, severity and summary when not already set. */
static int
hook_alert_vars(struct eng_vars *vs, const cJSON *root)
{
    const cJSON *alerts = cJSON_GetObjectItemCaseSensitive(root, "alerts");
    const cJSON *first =
        cJSON_IsArray(alerts) ? cJSON_GetArrayItem(alerts, 0) : NULL;
    const cJSON *v;
    int          am, gf, rc;
    static const struct {
        const char *var, *common, *key, *in_alert, *fallback1, *fallback2;
    } map[3] = {
        { "_webhook_alertname", "commonLabels", "alertname", "labels",
            "ruleName", "title" },
        { "_webhook_severity", "commonLabels", "severity", "labels", NULL,
            NULL },
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
        if ((rc = eng_vars_add(vs, map[i].var, v ? v->valuestring : "")) != 0)
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
    const char *end = NULL;
    cJSON      *root, *it;
    char        name[sizeof("_webhook_") + HOOK_NAME_MAX];
    size_t      i, nfields = 0;
    int         rc;

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
    cJSON_ArrayForEach(it, root)
    {
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
