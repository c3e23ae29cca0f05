/* SPDX-License-Identifier: MIT */
/*
 * server/srv_json.c: JSON helpers for the routes: typed field readers that
 * name the bad field and RFC 3339 times. Dumps of a request or trace go
 * through redact_json() (common/redact.h).
 */
#include "server/srv_int.h"

#include <cjson/cJSON.h>
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <time.h>

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
    if (!cJSON_IsNumber(v) || v->valuedouble < 0 ||
        v->valuedouble > (double)max ||
        floor(v->valuedouble) != v->valuedouble)
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

    cJSON_ArrayForEach(c, obj) {
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
