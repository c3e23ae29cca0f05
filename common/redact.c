/* SPDX-License-Identifier: MIT */
/*
 * common/redact.c: masking of server strings, JSON values under secret keys
 * and credential-bearing protocol lines (common/redact.h).
 */
#include "common/redact.h"

#include <cjson/cJSON.h>
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "common/buf.h"

/* 1 if s begins with the lower-case word w, in any case. */
static int
redact_begins(const char *s, const char *w)
{
    for (; *w != '\0'; s++, w++)
        if (tolower((unsigned char)*s) != *w)
            return 0; /* also at the end of s */
    return 1;
}

int
redact_key_is_secret(const char *name)
{
    static const char *const words[] = { "password", "passwd", "secret",
        "token", "private_key", "authorization", NULL };

    if (name == NULL)
        return 0;
    /* a word anywhere in the name, in any case; one pass over the name
     * (strcasestr per word was a few percent of a sender's time: every
     * key of every trace is asked) */
    for (; *name != '\0'; name++) {
        int c = tolower((unsigned char)*name);

        for (size_t i = 0; words[i] != NULL; i++)
            if (words[i][0] == c && redact_begins(name, words[i]))
                return 1;
    }
    return 0;
}

/* The ':' that starts a non-empty password before the last '@', or NULL. */
static const char *
redact_server_colon(const char *s, const char **at)
{
    const char *colon;

    *at = s ? strrchr(s, '@') : NULL;
    if (*at == NULL)
        return NULL;
    colon = memchr(s, ':', (size_t)(*at - s));
    return colon != NULL && colon + 1 < *at ? colon : NULL;
}

int
redact_server_has_password(const char *s)
{
    const char *at;

    return redact_server_colon(s, &at) != NULL;
}

char *
redact_server(const char *s)
{
    const char *at, *colon;
    struct buf  b = BUF_INIT;

    if (s == NULL)
        return NULL;
    if ((colon = redact_server_colon(s, &at)) == NULL)
        return strdup(s);
    if (buf_append(&b, s, (size_t)(colon - s) + 1) != 0
        || buf_puts(&b, REDACT_MASK) != 0 || buf_puts(&b, at) != 0) {
        buf_free(&b);
        return NULL;
    }
    return buf_take(&b);
}

char *
redact_server_parts(const char *user, int has_password, const char *host,
    unsigned port)
{
    struct buf b = BUF_INIT;
    int        rc = 0;

    if (user != NULL)
        rc |=
            buf_printf(&b, "%s%s@", user, has_password ? ":" REDACT_MASK : "");
    rc |= buf_printf(&b, strchr(host, ':') ? "[%s]:%u" : "%s:%u", host, port);
    if (rc != 0) {
        buf_free(&b);
        return NULL;
    }
    return buf_take(&b);
}

void
redact_json(struct cJSON *j)
{
    cJSON *it, *next;

    for (it = j ? j->child : NULL; it != NULL; it = next) {
        next = it->next; /* it may be replaced (and freed) below */
        if (cJSON_IsObject(j) && redact_key_is_secret(it->string)
            && !cJSON_IsBool(it) && !cJSON_IsNull(it)) {
            cJSON *r = cJSON_CreateString(REDACT_MASK);

            /* ReplaceItemViaPointer does not carry the key over */
            if (r != NULL && (r->string = strdup(it->string)) == NULL) {
                cJSON_Delete(r);
                r = NULL;
            }
            if (r == NULL || !cJSON_ReplaceItemViaPointer(j, it, r)) {
                /* no memory for the mask: drop the value instead */
                cJSON_Delete(r);
                cJSON_Delete(cJSON_DetachItemViaPointer(j, it));
            }
        } else if (cJSON_IsObject(it) || cJSON_IsArray(it)) {
            redact_json(it);
        }
    }
}

char *
redact_json_text(const char *text)
{
    cJSON *j = text ? cJSON_Parse(text) : NULL;
    char  *s;

    if (j == NULL)
        return NULL;
    redact_json(j);
    s = cJSON_PrintUnformatted(j);
    cJSON_Delete(j);
    return s;
}

void
redact_line(const char *line, enum redact_line_kind kind, char *out, size_t n)
{
    const char *sp;

    if (n == 0)
        return;
    switch (kind) {
    case REDACT_LINE_PUBLIC:
        snprintf(out, n, "%s", line);
        break;
    case REDACT_LINE_VERB:
        sp = strchr(line, ' ');
        sp = sp ? strchr(sp + 1, ' ') : NULL;
        snprintf(out, n, "%.*s " REDACT_LINE,
            (int)(sp ? (size_t)(sp - line) : strlen(line)), line);
        break;
    default:
        snprintf(out, n, REDACT_LINE);
        break;
    }
}
