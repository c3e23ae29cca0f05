/* SPDX-License-Identifier: MIT */
/*
 * engine/oauth/oauth.c: access tokens for SMTP AUTH (RFC 6749 4.4 client
 * credentials and 6 refresh, RFC 6750 bearer tokens): the token cache,
 * the token endpoint's answer, and its classification.
 *
 * The cache holds one entry per credential name: the token, when it is
 * due (monotonic clock), the credential generation it was fetched for, and
 * whether a fetch is in flight. Single flight: the first caller that finds
 * the token due marks the entry and fetches without the lock; every other
 * caller for that credential waits on the condition variable and takes the
 * same outcome, a failure included (one request to the endpoint, not one
 * per sender). A fetch ends within OAUTH_EXCHANGE_MS, so waits are bounded.
 *
 * Secrets: the request and the answer live in buffers that are wiped
 * before they are freed, and so are the answer's JSON strings; tokens are
 * handed out as struct sec. Messages quote the endpoint's error and
 * error_description, never the body.
 */
#include "engine/oauth/oauth_int.h"

#include <cjson/cJSON.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "common/log.h"
#include "common/sec.h"

int
eng_oauth_grant_parse(const char *s)
{
    if (s == NULL)
        return -1;
    if (strcmp(s, "client_credentials") == 0)
        return ENG_OAUTH_CLIENT_CREDENTIALS;
    if (strcmp(s, "refresh_token") == 0)
        return ENG_OAUTH_REFRESH_TOKEN;
    return -1;
}

const char *
eng_oauth_grant_name(int grant)
{
    switch (grant) {
    case ENG_OAUTH_CLIENT_CREDENTIALS:
        return "client_credentials";
    case ENG_OAUTH_REFRESH_TOKEN:
        return "refresh_token";
    default:
        return "unknown";
    }
}

void
oauth_result(struct smtp_result *res, int rc, const char *klass, int permanent,
    const char *advice, const char *fmt, ...)
{
    va_list ap;

    if (res == NULL)
        return;
    res->rc = rc;
    snprintf(res->klass, sizeof(res->klass), "%s", klass);
    res->permanent = permanent;
    va_start(ap, fmt);
    vsnprintf(res->message, sizeof(res->message), fmt, ap);
    va_end(ap);
    snprintf(res->advice, sizeof(res->advice), "%s", advice ? advice : "");
}

void
oauth_text(const char *s, size_t n, size_t max, char *out, size_t sz)
{
    size_t o = 0, lim = max < sz - 4 ? max : sz - 4;
    int    space = 0;

    if (sz < 5) {
        if (sz > 0)
            out[0] = '\0';
        return;
    }
    for (size_t i = 0; i < n; i++) {
        unsigned char ch = (unsigned char)s[i];

        if (ch < 0x20 || ch == 0x7f || ch == ' ') {
            space = o > 0;
            continue;
        }
        if (o + space + 1 > lim) {
            /* not in the middle of a UTF-8 character */
            if ((ch & 0xc0) == 0x80) {
                while (o > 0 && ((unsigned char)out[o - 1] & 0xc0) == 0x80)
                    o--;
                if (o > 0 && (unsigned char)out[o - 1] >= 0xc0)
                    o--;
            }
            memcpy(out + o, "...", 4);
            return;
        }
        if (space)
            out[o++] = ' ';
        space = 0;
        out[o++] = (char)ch;
    }
    out[o] = '\0';
}

/* ---- the cache ------------------------------------------------------------ */

struct oauth_entry {
    struct oauth_entry *next;
    char               *name;
    long long           cred_gen;    /* credential generation of token */
    struct sec         *token;       /* NULL: none */
    long long           due_ms;      /* fetch a new one from then on */
    struct sec         *refresh;     /* rotated refresh token, not yet in
                                       the credential (cred_gen's) */
    unsigned long long  epoch;       /* bumped by forget: an in-flight fetch
                                       does not store its token */
    int                 fetching;    /* one caller is fetching */
    unsigned long long  fetch_epoch; /* epoch when it started */
    unsigned long long  done;        /* fetches ended */
    int                 last_rc;     /* the last fetch's outcome, for */
    struct smtp_result  last_res;    /* its waiters */
};

struct eng_oauth_cache {
    pthread_mutex_t     mu;
    pthread_cond_t      cv;
    struct oauth_entry *entries;
    eng_oauth_rotate_fn rotate;
    void               *rctx;
    oauth_exchange_fn   exchange;
    void               *xctx;
    long long (*now)(void);
    struct eng_oauth_stats st;
};

static long long
oauth_now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int
eng_oauth_cache_new(eng_oauth_rotate_fn rotate, void *ctx,
    struct eng_oauth_cache **out)
{
    struct eng_oauth_cache *c = calloc(1, sizeof(*c));

    *out = NULL;
    if (c == NULL)
        return ERR_NOMEM;
    if (pthread_mutex_init(&c->mu, NULL) != 0) {
        free(c);
        return ERR_NOMEM;
    }
    if (pthread_cond_init(&c->cv, NULL) != 0) {
        pthread_mutex_destroy(&c->mu);
        free(c);
        return ERR_NOMEM;
    }
    c->rotate = rotate;
    c->rctx = ctx;
    c->exchange = oauth_https_exchange;
    c->now = oauth_now_ms;
    *out = c;
    return 0;
}

static void
oauth_entry_drop(struct oauth_entry *e)
{
    sec_free(e->token);
    e->token = NULL;
    sec_free(e->refresh);
    e->refresh = NULL;
    e->epoch++;
}

void
eng_oauth_cache_free(struct eng_oauth_cache *c)
{
    struct oauth_entry *e, *next;

    if (c == NULL)
        return;
    for (e = c->entries; e != NULL; e = next) {
        next = e->next;
        oauth_entry_drop(e);
        free(e->name);
        free(e);
    }
    pthread_cond_destroy(&c->cv);
    pthread_mutex_destroy(&c->mu);
    free(c);
}

void
oauth_cache_set_exchange(struct eng_oauth_cache *c, oauth_exchange_fn fn,
    void *ctx)
{
    c->exchange = fn ? fn : oauth_https_exchange;
    c->xctx = ctx;
}

void
oauth_cache_set_clock(struct eng_oauth_cache *c, long long (*now)(void))
{
    c->now = now ? now : oauth_now_ms;
}

/* The entry for name, created if missing; NULL on ENOMEM. Under the lock.
 * Entries stay until the cache is freed (a waiter may hold one); forget
 * only empties them. */
static struct oauth_entry *
oauth_entry_get(struct eng_oauth_cache *c, const char *name)
{
    struct oauth_entry *e;

    for (e = c->entries; e != NULL; e = e->next)
        if (strcmp(e->name, name) == 0)
            return e;
    if ((e = calloc(1, sizeof(*e))) == NULL)
        return NULL;
    if ((e->name = strdup(name)) == NULL) {
        free(e);
        return NULL;
    }
    e->next = c->entries;
    c->entries = e;
    return e;
}

void
eng_oauth_cache_forget(struct eng_oauth_cache *c, const char *name)
{
    struct oauth_entry *e;

    if (c == NULL || name == NULL)
        return;
    pthread_mutex_lock(&c->mu);
    for (e = c->entries; e != NULL; e = e->next)
        if (strcmp(e->name, name) == 0)
            oauth_entry_drop(e);
    pthread_mutex_unlock(&c->mu);
}

void
eng_oauth_stats(struct eng_oauth_cache *c, struct eng_oauth_stats *out)
{
    pthread_mutex_lock(&c->mu);
    *out = c->st;
    pthread_mutex_unlock(&c->mu);
}

/* ---- the answer ---------------------------------------------------------- */

/* Wipes every string of j before it is freed: they may hold tokens. */
static void
oauth_json_wipe(cJSON *j)
{
    for (; j != NULL; j = j->next) {
        if (j->valuestring != NULL)
            sec_wipe(j->valuestring, strlen(j->valuestring));
        oauth_json_wipe(j->child);
    }
}

static void
oauth_json_free(cJSON *j)
{
    oauth_json_wipe(j);
    cJSON_Delete(j);
}

/* What to do about an endpoint's error code (RFC 6749 5.2). */
static void
oauth_error_advice(const struct eng_oauth_cred *cred, const char *error,
    char *out, size_t sz)
{
    if (strcmp(error, "invalid_client") == 0)
        snprintf(out, sz,
            "Check client_id and client_secret of credential %s: the "
            "secret may be wrong or expired (create a new client secret in "
            "the app registration and PUT it).",
            cred->name);
    else if (strcmp(error, "invalid_grant") == 0)
        snprintf(out, sz,
            cred->grant == ENG_OAUTH_REFRESH_TOKEN
                ? "The refresh token of credential %s expired or was "
                  "revoked (password change, consent withdrawn, unused for "
                  "months): consent again and PUT the new refresh_token."
                : "The endpoint refused the grant of credential %s: check "
                  "the tenant in token_url and that the app may use the "
                  "client_credentials grant.",
            cred->name);
    else if (strcmp(error, "invalid_scope") == 0
        || strcmp(error, "unauthorized_client") == 0)
        snprintf(out, sz,
            "Check the scope of credential %s (Microsoft 365: "
            "https://outlook.office365.com/.default; Google: "
            "https://mail.google.com/) and that the app is permitted to use "
            "it (API permission granted with admin consent).",
            cred->name);
    else
        snprintf(out, sz,
            "Check credential %s (client_id, client_secret, "
            "refresh_token, scope) against the app registration at the "
            "identity provider.",
            cred->name);
}

/* A string member of j, or NULL. */
static const char *
oauth_str(const cJSON *j, const char *key)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(j, key);

    return cJSON_IsString(v) ? v->valuestring : NULL;
}

/* expires_in (RFC 6749 5.1: seconds, a number; some endpoints send a
 * string): OAUTH_DEFAULT_LIFE when absent or not a positive number, at
 * most OAUTH_MAX_LIFE. */
static long long
oauth_lifetime(const cJSON *j)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(j, "expires_in");
    double       d = -1;

    if (cJSON_IsNumber(v))
        d = v->valuedouble;
    else if (cJSON_IsString(v) && v->valuestring != NULL) {
        char *end;

        d = strtod(v->valuestring, &end);
        if (end == v->valuestring || *end != '\0')
            d = -1;
    }
    if (!(d >= 1))
        return OAUTH_DEFAULT_LIFE;
    return d > OAUTH_MAX_LIFE ? OAUTH_MAX_LIFE : (long long)d;
}

/* Classifies an endpoint's refusal (400/401 and friends). */
static int
oauth_refusal(const struct eng_oauth_cred *cred, const struct oauth_url *u,
    int status, const cJSON *j, struct smtp_result *res)
{
    const char *e = j ? oauth_str(j, "error") : NULL;
    const char *d = j ? oauth_str(j, "error_description") : NULL;
    char        err[80], desc[OAUTH_TEXT_MAX + 8], advice[512];

    oauth_text(e ? e : "", e ? strlen(e) : 0, 64, err, sizeof(err));
    oauth_text(d ? d : "", d ? strlen(d) : 0, OAUTH_TEXT_MAX, desc,
        sizeof(desc));
    oauth_error_advice(cred, err, advice, sizeof(advice));
    oauth_result(res, ERR_AUTH, "auth_failed", 1, advice,
        "token endpoint %s:%u refused credential %s (HTTP %d): %s%s%s", u->host,
        u->port, cred->name, status, err[0] ? err : "no error code",
        desc[0] ? ": " : "", desc);
    res->code = status;
    return ERR_AUTH;
}

/* Reads the endpoint's answer (status, body) into a token. Returns 0 with
 * *token, *life and *rotated (NULL if none, or if not rotated) set, or an
 * ERR_* value with res filled. */
static int
oauth_answer(const struct eng_oauth_cred *cred, const struct sec *refresh,
    const struct oauth_url *u, const struct oauth_http_resp *r,
    const char *body, struct sec **token, long long *life, struct sec **rotated,
    struct smtp_result *res)
{
    const char *end = NULL, *at, *tt, *rt;
    cJSON      *j = NULL;
    int         rc;

    *token = NULL;
    *rotated = NULL;
    if (r->body_len > 0)
        j = cJSON_ParseWithLengthOpts(body, r->body_len, &end, 0);
    if (j != NULL && !cJSON_IsObject(j)) {
        oauth_json_free(j);
        j = NULL;
    }
    if (r->status == 400 || r->status == 401
        || (r->status == 403 && j && oauth_str(j, "error"))) {
        rc = oauth_refusal(cred, u, r->status, j, res);
        goto out;
    }
    if (r->status != 200) {
        int temp = r->status / 100 == 5 || r->status == 408 || r->status == 429;

        oauth_result(res, ERR_PROTO, "protocol", !temp,
            temp ? "The token endpoint has trouble; herald retries later."
                 : "Check token_url: it must be the provider's OAuth 2.0 "
                   "token endpoint (herald follows no redirects).",
            "token endpoint %s:%u answered HTTP %d%s", u->host, u->port,
            r->status, r->status / 100 == 3 ? " (a redirect)" : "");
        res->code = r->status;
        rc = ERR_PROTO;
        goto out;
    }
    if (j == NULL) {
        oauth_result(res, ERR_PROTO, "protocol", 1,
            "Check token_url: it must be the provider's OAuth 2.0 token "
            "endpoint.",
            "token endpoint %s:%u answered HTTP 200 without a JSON object "
            "(Content-Type %s)",
            u->host, u->port, r->content_type[0] ? r->content_type : "none");
        rc = ERR_PROTO;
        goto out;
    }
    tt = oauth_str(j, "token_type");
    if (tt != NULL && strcasecmp(tt, "bearer") != 0) {
        char shown[48];

        oauth_text(tt, strlen(tt), 32, shown, sizeof(shown));
        oauth_result(res, ERR_PROTO, "protocol", 1,
            "herald sends bearer tokens (RFC 6750) only; check the "
            "credential's grant and scope.",
            "token endpoint %s:%u issued a token of type \"%s\", not Bearer",
            u->host, u->port, shown);
        rc = ERR_PROTO;
        goto out;
    }
    at = oauth_str(j, "access_token");
    if ((at == NULL || *at == '\0') && oauth_str(j, "error") != NULL) {
        /* a refusal with status 200 (seen behind some gateways) */
        rc = oauth_refusal(cred, u, r->status, j, res);
        goto out;
    }
    if (at == NULL || *at == '\0') {
        oauth_result(res, ERR_PROTO, "protocol", 1,
            "Check token_url: it must be the provider's OAuth 2.0 token "
            "endpoint.",
            "token endpoint %s:%u answered without an access_token", u->host,
            u->port);
        rc = ERR_PROTO;
        goto out;
    }
    if ((*token = sec_new(at, strlen(at))) == NULL) {
        rc = ERR_NOMEM;
        goto out;
    }
    *life = oauth_lifetime(j);
    rt = oauth_str(j, "refresh_token");
    if (rt != NULL && *rt != '\0' && cred->grant == ENG_OAUTH_REFRESH_TOKEN
        && (refresh == NULL
            || !sec_equal(rt, strlen(rt), sec_data(refresh), sec_len(refresh))))
        *rotated = sec_new(rt, strlen(rt)); /* NULL on ENOMEM: not stored */
    rc = 0;
out:
    oauth_json_free(j);
    return rc;
}

/* Adds the token endpoint's part to the trace: a new object, or NULL. */
static cJSON *
oauth_trace_new(cJSON *trace, const struct eng_oauth_cred *cred, int cached)
{
    struct oauth_url u;
    cJSON           *t;
    char             url[1400];

    if (trace == NULL)
        return NULL;
    cJSON_DeleteItemFromObjectCaseSensitive(trace, "oauth_endpoint");
    if ((t = cJSON_AddObjectToObject(trace, "oauth_endpoint")) == NULL)
        return NULL;
    if (oauth_url_parse(cred->token_url, &u, NULL) == 0) {
        /* without the query: nothing in a URL is needed to read a trace */
        u.path[strcspn(u.path, "?")] = '\0';
        snprintf(url, sizeof(url), "https://%s%s%s:%u%s", u.v6 ? "[" : "",
            u.host, u.v6 ? "]" : "", u.port, u.path);
        cJSON_AddStringToObject(t, "url", url);
    }
    cJSON_AddStringToObject(t, "credential", cred->name);
    cJSON_AddStringToObject(t, "grant", eng_oauth_grant_name(cred->grant));
    cJSON_AddBoolToObject(t, "cached", cached);
    return t;
}

/* One request to the endpoint. Returns 0 with *token (new) and *life, and
 * *rotated (new, or NULL), or an ERR_* value with res filled. */
static int
oauth_fetch(struct eng_oauth_cache *c, const struct eng_oauth_cred *cred,
    const struct sec *refresh, struct pki_trust *trust, cJSON *tt,
    struct sec **token, long long *life, struct sec **rotated,
    struct smtp_result *res)
{
    struct oauth_url       u;
    struct oauth_http_resp r;
    struct oauth_req       req;
    struct errbuf          eb = { 0 };
    char                  *form = NULL, *rq = NULL, *ans = NULL;
    size_t                 flen = 0, rqlen = 0, alen = 0;
    int                    rc;

    *token = NULL;
    *rotated = NULL;
    if ((rc = oauth_url_parse(cred->token_url, &u, &eb)) != 0
        || (form = oauth_form_new(cred, refresh, &flen, &eb)) == NULL) {
        if (rc == 0)
            rc = eb.code[0] && strcmp(eb.code, "nomem") == 0 ? ERR_NOMEM
                                                             : ERR_INVAL;
        oauth_result(res, rc, "invalid_request", 1,
            "Fix the credential: token_url https://host/path, a "
            "client_id, a client_secret for client_credentials, a "
            "refresh_token for the refresh_token grant.",
            "credential %s: %s", cred->name, eb.msg);
        return rc;
    }
    rq = oauth_request_new(&u, form, flen, &rqlen);
    sec_wipe(form, flen);
    free(form);
    if (rq == NULL || (ans = malloc(ENG_OAUTH_REPLY_MAX + 1)) == NULL) {
        rc = ERR_NOMEM;
        oauth_result(res, rc, "protocol", 0, "", "out of memory");
        goto out;
    }
    memset(&req, 0, sizeof(req));
    req.url = &u;
    req.tls_name = cred->tls_name;
    req.trust = trust;
    req.data = rq;
    req.len = rqlen;
    rc = c->exchange(c->xctx, &req, ans, ENG_OAUTH_REPLY_MAX, &alen, tt, res);
    if (rc != 0) {
        if (res->klass[0] == '\0')
            oauth_result(res, rc, "protocol", 0,
                "Check that token_url is the provider's OAuth 2.0 token "
                "endpoint and that it answers over HTTPS; the trace's "
                "oauth_endpoint shows how far the exchange got.",
                "token endpoint %s:%u: exchange failed", u.host, u.port);
        goto out;
    }
    ans[alen] = '\0';
    rc = oauth_http_parse(ans, alen, 1, &r, &eb);
    if (rc != 1) {
        rc = rc == 0 ? ERR_PROTO : rc;
        oauth_result(res, rc, "protocol", 0,
            "Check that token_url is the provider's OAuth 2.0 token "
            "endpoint (https, the right port and path).",
            "token endpoint %s:%u: %s", u.host, u.port, eb.msg);
        goto out;
    }
    oauth_http_body(ans, &r);
    if (tt != NULL)
        cJSON_AddNumberToObject(tt, "status", r.status);
    rc = oauth_answer(cred, refresh, &u, &r, ans + r.body_off, token, life,
        rotated, res);
out:
    if (rq != NULL) {
        sec_wipe(rq, rqlen);
        free(rq);
    }
    if (ans != NULL) {
        sec_wipe(ans, ENG_OAUTH_REPLY_MAX + 1);
        free(ans);
    }
    return rc;
}

int
eng_oauth_token(struct eng_oauth_cache *c, const struct eng_oauth_cred *cred,
    struct pki_trust *trust, const struct sec *stale, struct sec **token,
    struct cJSON *trace, struct smtp_result *res)
{
    struct smtp_result  dummy;
    struct oauth_entry *e;
    struct sec         *tok = NULL, *rotated = NULL, *refresh = NULL;
    unsigned long long  epoch;
    long long           life = 0, t0;
    cJSON              *tt;
    int                 rc, current;

    if (res == NULL)
        res = &dummy;
    memset(res, 0, sizeof(*res));
    *token = NULL;
    if (c == NULL || cred == NULL || cred->name == NULL
        || *cred->name == '\0') {
        oauth_result(res, ERR_INVAL, "invalid_request", 1, "",
            "no credential given");
        return ERR_INVAL;
    }
    pthread_mutex_lock(&c->mu);
    if ((e = oauth_entry_get(c, cred->name)) == NULL) {
        pthread_mutex_unlock(&c->mu);
        oauth_result(res, ERR_NOMEM, "protocol", 0, "", "out of memory");
        return ERR_NOMEM;
    }
    if (e->cred_gen != cred->generation) {
        oauth_entry_drop(e); /* the stored credential changed */
        e->cred_gen = cred->generation;
    }
    for (;;) {
        if (stale != NULL && e->token != NULL
            && sec_equal(sec_data(stale), sec_len(stale), sec_data(e->token),
                sec_len(e->token))) {
            /* the mail server refused it: the first caller to say so
             * drops it, and the next token is shared */
            sec_free(e->token);
            e->token = NULL;
        }
        if (e->token != NULL && c->now() < e->due_ms) {
            if ((*token = sec_dup(e->token)) == NULL) {
                pthread_mutex_unlock(&c->mu);
                return ERR_NOMEM;
            }
            c->st.cached++;
            pthread_mutex_unlock(&c->mu);
            oauth_trace_new(trace, cred, 1);
            return 0;
        }
        if (!e->fetching)
            break;
        {
            unsigned long long done = e->done;

            while (e->fetching && e->done == done)
                pthread_cond_wait(&c->cv, &c->mu);
            if (e->done != done && e->last_rc != 0
                && e->fetch_epoch == e->epoch) {
                /* the fetch this caller waited for failed: share it,
                 * unless the credential changed meanwhile (a fixed
                 * secret must not get the old one's refusal) */
                *res = e->last_res;
                rc = e->last_rc;
                pthread_mutex_unlock(&c->mu);
                if ((tt = oauth_trace_new(trace, cred, 0)) != NULL)
                    cJSON_AddBoolToObject(tt, "shared", 1);
                return rc;
            }
        }
    }
    e->fetching = 1;
    e->fetch_epoch = epoch = e->epoch;
    if (cred->grant == ENG_OAUTH_REFRESH_TOKEN)
        refresh = e->refresh      ? sec_dup(e->refresh)
            : cred->refresh_token ? sec_dup(cred->refresh_token)
                                  : NULL;
    pthread_mutex_unlock(&c->mu);

    tt = oauth_trace_new(trace, cred, 0);
    t0 = c->now();
    rc = oauth_fetch(c, cred, refresh, trust, tt, &tok, &life, &rotated, res);
    log_info("oauth", "event=token credential=%s grant=%s result=%s ms=%lld%s",
        cred->name, eng_oauth_grant_name(cred->grant),
        rc == 0 ? "ok" : res->klass, c->now() - t0,
        rotated ? " rotated=yes" : "");

    pthread_mutex_lock(&c->mu);
    current = e->epoch == epoch && e->cred_gen == cred->generation;
    e->fetching = 0;
    e->done++;
    e->last_rc = rc;
    if (rc != 0) {
        e->last_res = *res;
        if (strcmp(res->klass, "auth_failed") == 0)
            c->st.refused++;
        else
            c->st.failed++;
    } else {
        c->st.fetched++;
        if (current) {
            long long early =
                life / 2 < ENG_OAUTH_EARLY_S ? life / 2 : ENG_OAUTH_EARLY_S;

            sec_free(e->token);
            e->token = sec_dup(tok); /* NULL on ENOMEM: fetched next time */
            e->due_ms = t0 + (life - early) * 1000;
            if (rotated != NULL) {
                sec_free(e->refresh);
                e->refresh = sec_dup(rotated);
            }
        }
    }
    pthread_cond_broadcast(&c->cv);
    pthread_mutex_unlock(&c->mu);

    /* a rotated token of a credential changed or deleted meanwhile would
     * overwrite what was stored since: dropped */
    if (rotated != NULL && c->rotate != NULL && current)
        c->rotate(c->rctx, cred->name, rotated);
    sec_free(rotated);
    sec_free(refresh);
    *token = tok;
    return rc;
}
