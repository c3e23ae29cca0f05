/* SPDX-License-Identifier: MIT */
/*
 * engine/config/credential.c: OAuth 2.0 credential rules and the checked
 * writes (engine/config/credential.h).
 */
#include "engine/config/credential.h"

#include <stdlib.h>
#include <string.h>

#include "common/redact.h"
#include "engine/config/env.h"
#include "engine/lang/applet.h"
#include "engine/store/store.h"

int
eng_cred_name_check(const char *name, struct errbuf *eb)
{
    struct errbuf neb = { 0 };

    if (eng_env_name_check(name, &neb) == 0)
        return 0;
    return err_field(eb, ERR_INVAL, "name", "invalid_field",
        "credential name '%.64s' is not valid: 1 to %d letters, digits and "
        "'_', not starting with a digit",
        name ? name : "", ENG_CRED_NAME_MAX);
}

/* 0 if s (may be NULL) has no control character and fits. */
static int
cred_text_check(const char *s, const char *field, struct errbuf *eb)
{
    size_t n;

    if (s == NULL)
        return 0;
    if ((n = strlen(s)) > ENG_CRED_VALUE_MAX)
        return err_field(eb, ERR_INVAL, field, "invalid_field",
            "%s is %zu bytes; at most %d are allowed", field, n,
            ENG_CRED_VALUE_MAX);
    for (const unsigned char *p = (const unsigned char *)s; *p; p++)
        if (*p < 0x20 || *p == 0x7f)
            return err_field(eb, ERR_INVAL, field, "invalid_field",
                "%s must not contain CR, LF or other control characters",
                field);
    return 0;
}

/* "https://" then a host (a name, an address or [v6]), an optional port,
 * then an optional path; no blanks. */
static int
cred_url_check(const char *u, struct errbuf *eb)
{
    const char *h, *e, *p;

    if (u == NULL || *u == '\0')
        return err_field(eb, ERR_INVAL, "token_url", "missing_field",
            "token_url is required: the token endpoint, e.g. "
            "https://login.microsoftonline.com/TENANT/oauth2/v2.0/token");
    if (strncmp(u, "https://", 8) != 0)
        return err_field(eb, ERR_INVAL, "token_url", "invalid_field",
            "token_url must start with https:// (herald sends the client "
            "secret and refresh token only over TLS), not '%.80s'",
            u);
    h = u + 8;
    if (*h == '[')
        e = strchr(h, ']') ? strchr(h, ']') + 1 : h;
    else
        e = h + strcspn(h, ":/?#");
    if (e == h || (h[0] == '[' && e - h < 3))
        return err_field(eb, ERR_INVAL, "token_url", "invalid_field",
            "token_url '%.80s' has no host", u);
    for (p = h; p < e; p++)
        if (*p == '@' || *p == ' ' || *p == '\\')
            return err_field(eb, ERR_INVAL, "token_url", "invalid_field",
                "token_url '%.80s' has no valid host", u);
    if (*e == ':') {
        long port = strtol(e + 1, (char **)&p, 10);
        if (p == e + 1 || port < 1 || port > 65535
            || (*p != '\0' && *p != '/' && *p != '?'))
            return err_field(eb, ERR_INVAL, "token_url", "invalid_field",
                "token_url '%.80s' has a bad port", u);
    }
    if (strpbrk(u, " \t") != NULL)
        return err_field(eb, ERR_INVAL, "token_url", "invalid_field",
            "token_url must not contain blanks");
    return 0;
}

int
eng_cred_check(const struct eng_cred_rec *r, struct errbuf *eb)
{
    static const char *const fields[] = { "type", "grant", "token_url",
        "client_id", "client_secret", "refresh_token", "scope", "mechanism" };
    const char *const vals[] = { r->type, r->grant, r->token_url, r->client_id,
        r->client_secret, r->refresh_token, r->scope, r->mechanism };
    int               rc, cc;

    for (size_t i = 0; i < sizeof(fields) / sizeof(fields[0]); i++)
        if ((rc = cred_text_check(vals[i], fields[i], eb)) != 0)
            return rc;
    if (r->type == NULL || strcmp(r->type, "oauth2") != 0)
        return err_field(eb, ERR_INVAL, "type", "invalid_field",
            "type must be \"oauth2\"%s%.32s%s", r->type ? ", not '" : "",
            r->type ? r->type : "", r->type ? "'" : "");
    if (r->grant == NULL || *r->grant == '\0')
        return err_field(eb, ERR_INVAL, "grant", "missing_field",
            "grant is required: \"client_credentials\" or \"refresh_token\"");
    if (strcmp(r->grant, "client_credentials") != 0
        && strcmp(r->grant, "refresh_token") != 0)
        return err_field(eb, ERR_INVAL, "grant", "invalid_field",
            "grant must be \"client_credentials\" or \"refresh_token\", not "
            "'%.32s'",
            r->grant);
    cc = strcmp(r->grant, "client_credentials") == 0;
    if ((rc = cred_url_check(r->token_url, eb)) != 0)
        return rc;
    if (r->client_id == NULL || *r->client_id == '\0')
        return err_field(eb, ERR_INVAL, "client_id", "missing_field",
            "client_id is required (the application's id at the token "
            "endpoint)");
    if (cc && (r->client_secret == NULL || *r->client_secret == '\0'))
        return err_field(eb, ERR_INVAL, "client_secret", "missing_field",
            "client_secret is required with the client_credentials grant");
    if (!cc && (r->refresh_token == NULL || *r->refresh_token == '\0'))
        return err_field(eb, ERR_INVAL, "refresh_token", "missing_field",
            "refresh_token is required with the refresh_token grant");
    if (r->mechanism == NULL
        || (strcmp(r->mechanism, "xoauth2") != 0
            && strcmp(r->mechanism, "oauthbearer") != 0))
        return err_field(eb, ERR_INVAL, "mechanism", "invalid_field",
            "mechanism must be \"xoauth2\" or \"oauthbearer\", not "
            "'%.32s'",
            r->mechanism ? r->mechanism : "");
    return 0;
}

/* *dst = new copy of src (NULL stays NULL); 0 or ERR_NOMEM. */
static int
cred_dup(char **dst, const char *src)
{
    *dst = NULL;
    if (src == NULL)
        return 0;
    return (*dst = strdup(src)) == NULL ? ERR_NOMEM : 0;
}

/* A secret as given merged with the stored one: NULL or masked keeps it,
 * "" removes it. */
static int
cred_secret(char **dst, const char *given, char *stored, int have,
    const char *field, struct errbuf *eb)
{
    *dst = NULL;
    if (given == NULL || strcmp(given, REDACT_MASK) == 0) {
        if (given != NULL && (!have || stored == NULL))
            return err_field(eb, ERR_INVAL, field, "invalid_field",
                "%s is masked (%s) and no %s is stored: give the real value",
                field, REDACT_MASK, field);
        if (!have || stored == NULL)
            return 0;
        return (*dst = strdup(stored)) == NULL ? ERR_NOMEM : 0;
    }
    if (*given == '\0')
        return 0;
    return (*dst = strdup(given)) == NULL ? ERR_NOMEM : 0;
}

int
eng_cred_prepare(struct eng_store *st, const char *name,
    const struct eng_cred_in *in, struct eng_cred_rec *out, struct errbuf *eb)
{
    struct eng_cred_rec cur;
    struct errbuf       geb = { 0 }, seb = { 0 }, reb = { 0 }, ceb = { 0 };
    int                 rc, rrc, crc, have;

    memset(out, 0, sizeof(*out));
    memset(&cur, 0, sizeof(cur));
    if ((rc = eng_cred_name_check(name, eb)) != 0)
        return rc;
    rc = eng_store_cred_get(st, name, &cur, &geb);
    if (rc != 0 && rc != ERR_NOTFOUND) {
        if (eb != NULL)
            *eb = geb;
        return rc;
    }
    have = rc == 0;
    if ((rc = cred_dup(&out->name, name)) != 0
        || (rc = cred_dup(&out->type, in->type ? in->type : "oauth2")) != 0
        || (rc = cred_dup(&out->grant, in->grant)) != 0
        || (rc = cred_dup(&out->token_url, in->token_url)) != 0
        || (rc = cred_dup(&out->client_id, in->client_id)) != 0
        || (rc = cred_dup(&out->scope,
                in->scope && *in->scope ? in->scope : NULL))
            != 0
        || (rc = cred_dup(&out->mechanism,
                in->mechanism ? in->mechanism : "xoauth2"))
            != 0)
        goto out;
    /* each secret merged on its own; a masked one with nothing stored is
     * remembered (seb: the first) and blamed only when the fields given
     * are otherwise right, so the first bad field of the request is named */
    rc = cred_secret(&out->client_secret, in->client_secret, cur.client_secret,
        have, "client_secret", &seb);
    if (rc == ERR_NOMEM
        || (rrc = cred_secret(&out->refresh_token, in->refresh_token,
                cur.refresh_token, have, "refresh_token",
                rc != 0 ? &reb : &seb))
            == ERR_NOMEM) {
        rc = ERR_NOMEM;
        goto out;
    }
    if (rc == 0)
        rc = rrc;
    if ((crc = eng_cred_check(out, &ceb)) != 0
        && (rc == 0
            || (strcmp(ceb.field, seb.field) != 0
                && (rrc == 0 || strcmp(ceb.field, "refresh_token") != 0)))) {
        if (eb != NULL)
            *eb = ceb;
        rc = crc;
        goto out;
    }
    if (rc != 0 && eb != NULL)
        *eb = seb;
out:
    if (rc == ERR_NOMEM)
        err_set(eb, rc, "nomem", "out of memory");
    eng_cred_rec_clear(&cur);
    return rc;
}

int
eng_cred_set(struct eng_store *st, const char *name,
    const struct eng_cred_in *in, int *created, struct errbuf *eb)
{
    struct eng_cred_rec r;
    int                 rc;

    if ((rc = eng_cred_prepare(st, name, in, &r, eb)) == 0)
        rc = eng_store_cred_put(st, &r, created, eb);
    eng_cred_rec_clear(&r);
    return rc;
}

/* 1 if the applet text has a mail action with credential name. */
static int
cred_applet_uses(const char *text, const char *name)
{
    struct eng_applet *a = NULL;
    const char        *c;
    size_t             i, n;
    int                uses = 0;

    if (eng_applet_parse(text, strlen(text), 1, &a, NULL) != 0)
        return 0;
    n = eng_applet_action_count(a);
    for (i = 0; i < n && !uses; i++)
        uses = strcmp(eng_applet_action(a, i)->verb, "mail") == 0
            && (c = eng_action_arg(a, i, "credential")) != NULL
            && strcmp(c, name) == 0;
    eng_applet_free(a);
    return uses;
}

int
eng_cred_used_by(struct eng_store *st, const char *name, char **applet,
    struct errbuf *eb)
{
    struct eng_applet_rec *v = NULL;
    size_t                 n = 0, i;
    int                    rc;

    *applet = NULL;
    if ((rc = eng_store_applet_list(st, &v, &n, eb)) != 0)
        return rc;
    for (i = 0; i < n; i++)
        if (cred_applet_uses(v[i].text, name)) {
            if ((*applet = strdup(v[i].name)) == NULL)
                rc = err_set(eb, ERR_NOMEM, "nomem", "out of memory");
            break;
        }
    eng_applet_recs_free(v, n);
    return rc;
}

int
eng_cred_delete(struct eng_store *st, const char *name, struct errbuf *eb)
{
    struct eng_cred_rec r;
    char               *user = NULL;
    int                 rc;

    if ((rc = eng_store_cred_get(st, name, &r, eb)) != 0)
        return rc;
    eng_cred_rec_clear(&r);
    if ((rc = eng_cred_used_by(st, name, &user, eb)) != 0)
        return rc;
    if (user != NULL) {
        rc = err_set(eb, ERR_EXISTS, "conflict",
            "credential %s is used by applet %s: change or delete the "
            "applet's mail action first",
            name, user);
        free(user);
        return rc;
    }
    return eng_store_cred_del(st, name, eb);
}

int
eng_cred_exists(void *store, const char *name)
{
    struct eng_cred_rec r;
    int                 rc;

    memset(&r, 0, sizeof(r));
    rc = eng_store_cred_get(store, name, &r, NULL);
    eng_cred_rec_clear(&r);
    return rc == 0;
}
