/* SPDX-License-Identifier: MIT */
/*
 * server/srv_json.c: JSON helpers for the routes: the body checks every
 * JSON or text body goes through (UTF-8, NUL, one JSON value and nothing
 * after it, no \u0000 escape), typed field readers that name the bad field
 * and RFC 3339 times. Dumps of a request or trace go through redact_json()
 * (common/redact.h).
 */
#include "server/srv_int.h"

#include <cjson/cJSON.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "common/utf8.h"

int
srv_json_add_time(struct cJSON *obj, const char *name, long long t)
{
    char      s[32];
    struct tm tm;
    time_t    tt = (time_t)t;

    if (t <= 0)
        return cJSON_AddNullToObject(obj, name) ? 0 : ERR_NOMEM;
    gmtime_r(&tt, &tm);
    strftime(s, sizeof(s), "%Y-%m-%dT%H:%M:%SZ", &tm);
    return cJSON_AddStringToObject(obj, name, s) ? 0 : ERR_NOMEM;
}

int
srv_json_string(const struct cJSON *obj, const char *name, int required,
    const char **out, struct errbuf *eb)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, name);

    if (v == NULL || cJSON_IsNull(v)) {
        if (required)
            return err_field(eb, ERR_INVAL, name, "missing_field",
                "field '%s' is required", name);
        return 0;
    }
    if (!cJSON_IsString(v))
        return err_field(eb, ERR_INVAL, name, "invalid_field",
            "field '%s' must be a string", name);
    *out = v->valuestring;
    return 0;
}

int
srv_json_bool(const struct cJSON *obj, const char *name, int *out,
    struct errbuf *eb)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, name);

    if (v == NULL || cJSON_IsNull(v))
        return 0;
    if (!cJSON_IsBool(v))
        return err_field(eb, ERR_INVAL, name, "invalid_field",
            "field '%s' must be true or false", name);
    *out = cJSON_IsTrue(v);
    return 0;
}

int
srv_json_uint(const struct cJSON *obj, const char *name, unsigned max,
    unsigned *out, struct errbuf *eb)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, name);

    if (v == NULL || cJSON_IsNull(v))
        return 0;
    if (!cJSON_IsNumber(v) || v->valuedouble < 0 || v->valuedouble > (double)max
        || floor(v->valuedouble) != v->valuedouble)
        return err_field(eb, ERR_INVAL, name, "invalid_field",
            "field '%s' must be an integer from 0 to %u", name, max);
    *out = (unsigned)v->valuedouble;
    return 0;
}

int
srv_json_only(const struct cJSON *obj, const char *const *allowed,
    struct errbuf *eb)
{
    const cJSON *c;

    cJSON_ArrayForEach(c, obj)
    {
        size_t i;

        for (i = 0; allowed[i]; i++)
            if (strcmp(c->string, allowed[i]) == 0)
                break;
        if (allowed[i] == NULL)
            return err_field(eb, ERR_INVAL, c->string, "invalid_field",
                "unknown field '%s'", c->string);
    }
    return 0;
}

/* ---- body checks -------------------------------------------------------- */

/* 1-based line and column (in bytes) of offset off in p. */
static void
srv_text_pos(const char *p, size_t off, int *line, int *col)
{
    *line = 1;
    *col = 1;
    for (size_t i = 0; i < off; i++) {
        if (p[i] == '\n') {
            (*line)++;
            *col = 1;
        } else {
            (*col)++;
        }
    }
}

int
srv_text_check(const char *p, size_t len, const char *what, struct errbuf *eb)
{
    const char *nul;
    size_t      off;
    int         line, col;

    if (!utf8_valid(p, len, &off)) {
        srv_text_pos(p, off, &line, &col);
        return err_at(eb, ERR_INVAL, line, col, "invalid_utf8",
            "%s is not valid UTF-8: byte 0x%02X at offset %zu (line %d, "
            "column %d) does not begin a valid sequence; send UTF-8 text",
            what, (unsigned char)p[off], off, line, col);
    }
    if (len > 0 && (nul = memchr(p, '\0', len)) != NULL) {
        off = (size_t)(nul - p);
        srv_text_pos(p, off, &line, &col);
        return err_at(eb, ERR_INVAL, line, col, "invalid_text",
            "%s contains a NUL byte at offset %zu (line %d, column %d); "
            "NUL is not allowed in text",
            what, off, line, col);
    }
    return 0;
}

#define JPATH_MAX  64 /* = sizeof(eb->field) */
#define JDEPTH_MAX 64 /* deeper levels keep the path of level 64 */

struct jpath {
    char   s[JPATH_MAX];
    size_t len;
};

static void
jpath_set(struct jpath *jp, size_t base, const char *add, size_t n, int member)
{
    jp->len = base < JPATH_MAX ? base : JPATH_MAX - 1;
    if (member && jp->len > 0 && jp->len + 1 < JPATH_MAX)
        jp->s[jp->len++] = '.';
    for (size_t i = 0; i < n && jp->len + 1 < JPATH_MAX; i++)
        jp->s[jp->len++] = add[i];
    jp->s[jp->len] = '\0';
}

static void
jpath_index(struct jpath *jp, size_t base, size_t idx)
{
    char n[32];

    snprintf(n, sizeof(n), "[%zu]", idx);
    jpath_set(jp, base, n, strlen(n), 0);
}

/*
 * cJSON turns "\u0000" into the end of the string and keeps what came
 * before: "a\u0000b" would be stored as "a". This walks the text (which
 * cJSON already accepted, so it is well-formed) for such escapes and names
 * the member they are in, e.g. "certificates[0].pem".
 */
int
srv_json_nul_check(const char *p, size_t len, struct errbuf *eb)
{
    struct {
        int    obj;
        size_t idx, base;
    } st[JDEPTH_MAX];
    struct jpath jp = { "", 0 };
    size_t       depth = 0;
    int          want_key = 0;

    for (size_t i = 0; i < len; i++) {
        size_t top =
            depth > 0 ? (depth <= JDEPTH_MAX ? depth : JDEPTH_MAX) - 1 : 0;

        switch (p[i]) {
        case '{':
        case '[':
            if (depth < JDEPTH_MAX) {
                st[depth].obj = p[i] == '{';
                st[depth].idx = 0;
                st[depth].base = jp.len;
            }
            depth++;
            want_key = p[i] == '{';
            if (p[i] == '[' && depth <= JDEPTH_MAX)
                jpath_index(&jp, st[depth - 1].base, 0);
            break;
        case '}':
        case ']':
            if (depth > 0 && depth <= JDEPTH_MAX)
                jpath_set(&jp, st[depth - 1].base, "", 0, 0);
            if (depth > 0)
                depth--;
            want_key = 0;
            break;
        case ',':
            if (depth > 0 && depth <= JDEPTH_MAX && !st[top].obj)
                jpath_index(&jp, st[top].base, ++st[top].idx);
            else if (depth > 0)
                want_key = 1;
            break;
        case '"': {
            size_t start = ++i;
            int    nul = 0;

            for (; i < len && p[i] != '"'; i++) {
                if (p[i] != '\\' || i + 1 >= len)
                    continue;
                if (p[i + 1] == 'u' && i + 5 < len
                    && memcmp(p + i + 2, "0000", 4) == 0)
                    nul = 1;
                i++; /* the escaped character */
            }
            if (want_key) {
                if (depth <= JDEPTH_MAX)
                    jpath_set(&jp, st[top].base, p + start, i - start, 1);
                want_key = 0;
                if (nul)
                    return err_field(eb, ERR_INVAL, jp.s, "invalid_field",
                        "member name \"%s\": NUL character (\\u0000) not "
                        "allowed",
                        jp.s);
            } else if (nul) {
                if (jp.len == 0)
                    return err_set(eb, ERR_INVAL, "invalid_json",
                        "the JSON string contains a NUL character "
                        "(\\u0000), which is not allowed");
                return err_field(eb, ERR_INVAL, jp.s, "invalid_field",
                    "field \"%s\": NUL character (\\u0000) not allowed", jp.s);
            }
            break;
        }
        default:
            break;
        }
    }
    return 0;
}

static int
name_cmp(const void *a, const void *b)
{
    return strcmp((*(const cJSON *const *)a)->string,
        (*(const cJSON *const *)b)->string);
}

/* The first member name given twice in object j, or NULL. Sorted, so that
 * an object of many members costs n log n, not n^2. */
static const char *
json_dup_name(const cJSON *j, int *oom)
{
    const cJSON *a, **v;
    const char  *dup = NULL;
    size_t       n = 0, i;

    for (a = j->child; a != NULL; a = a->next)
        n++;
    if (n < 2)
        return NULL;
    if ((v = malloc(n * sizeof(*v))) == NULL) {
        *oom = 1;
        return NULL;
    }
    for (i = 0, a = j->child; a != NULL; a = a->next)
        v[i++] = a;
    qsort(v, n, sizeof(*v), name_cmp);
    for (i = 1; i < n && dup == NULL; i++)
        if (strcmp(v[i - 1]->string, v[i]->string) == 0)
            dup = v[i]->string;
    free(v);
    return dup;
}

/* What cJSON accepts but herald must not: a member name given twice in
 * one object (cJSON keeps both and every reader takes the first,
 * silently) and a number beyond a double's range (it reads as infinity
 * and prints as null). ERR_INVAL naming the member. */
static int
json_tree_check(const cJSON *j, struct errbuf *eb)
{
    const cJSON *a;
    const char  *dup;
    int          rc, oom = 0;

    if (cJSON_IsObject(j) && (dup = json_dup_name(j, &oom)) != NULL) {
        rc = err_set(eb, ERR_INVAL, "invalid_json",
            "member \"%.64s\" is "
            "given twice in one object; give each member once",
            dup);
        snprintf(eb->field, sizeof(eb->field), "%s", dup);
        return rc;
    }
    if (oom)
        return err_set(eb, ERR_NOMEM, "internal", "out of memory");
    if (cJSON_IsNumber(j) && !isfinite(j->valuedouble)) {
        rc = err_set(eb, ERR_INVAL, "invalid_json",
            "a number%s%.64s%s is "
            "out of range (beyond +-1.8e308)",
            j->string ? " (member \"" : "", j->string ? j->string : "",
            j->string ? "\")" : "");
        if (j->string != NULL)
            snprintf(eb->field, sizeof(eb->field), "%s", j->string);
        return rc;
    }
    if (cJSON_IsObject(j) || cJSON_IsArray(j))
        for (a = j->child; a != NULL; a = a->next)
            if ((rc = json_tree_check(a, eb)) != 0)
                return rc;
    return 0;
}

int
srv_json_parse(const char *p, size_t len, struct cJSON **out, struct errbuf *eb)
{
    const char *end = NULL;
    cJSON      *j;
    size_t      pos;
    int         line, col, rc;

    *out = NULL;
    if (len == 0)
        return err_set(eb, ERR_INVAL, "invalid_json",
            "the request body is empty; a JSON object was expected");
    if ((rc = srv_text_check(p, len, "the request body", eb)) != 0) {
        if (strcmp(eb->code, "invalid_text") == 0)
            snprintf(eb->code, sizeof(eb->code), "invalid_json");
        return rc;
    }
    j = cJSON_ParseWithLengthOpts(p, len, &end, 0);
    if (j == NULL) {
        pos = end && end >= p ? (size_t)(end - p) : 0;
        if (pos > len)
            pos = len;
        srv_text_pos(p, pos, &line, &col);
        return err_at(eb, ERR_INVAL, line, col, "invalid_json",
            "the request body is not valid JSON: error at position %zu "
            "(line %d, column %d)",
            pos, line, col);
    }
    pos = (size_t)(end - p);
    while (pos < len && strchr(" \t\r\n", p[pos]) != NULL)
        pos++;
    if (pos < len) {
        cJSON_Delete(j);
        srv_text_pos(p, pos, &line, &col);
        return err_at(eb, ERR_INVAL, line, col, "invalid_json",
            "the request body goes on after the JSON value: %zu more "
            "bytes from position %zu (line %d, column %d); send one JSON "
            "value and nothing after it",
            len - pos, pos, line, col);
    }
    if ((rc = srv_json_nul_check(p, len, eb)) != 0
        || (rc = json_tree_check(j, eb)) != 0) {
        cJSON_Delete(j);
        return rc;
    }
    *out = j;
    return 0;
}
