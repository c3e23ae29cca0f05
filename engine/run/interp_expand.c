/* SPDX-License-Identifier: MIT */
/*
 * engine/run/interp_expand.c: variable expansion in applet arguments.
 *
 * $name and ${name} are replaced by the variable's value; a name is the
 * longest run of [A-Za-z0-9_]. A '$' not followed by a name character (or a
 * "${" without a valid "name}") stays literal, so that regular expression
 * anchors such as "^up$" work. "\$" gives a literal '$' (EEM.md: herald
 * accepts \" \\ \$ \n; the parser handles the others when unquoting).
 * An undefined variable fails with the IOS message
 *   %HA_EM-3-FMPD_UNKNOWN_ENV: could not find environment variable: NAME
 */
#include "engine/run/interp.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/buf.h"
#include "common/err.h"
#include "common/redact.h"
#include "common/sec.h"

static int
is_name_char(char ch)
{
    return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z')
        || (ch >= '0' && ch <= '9') || ch == '_';
}

char *
eng_secret_shown(const char *value, int marked_secret, int *oom)
{
    char *r = NULL;

    if (value != NULL && redact_server_has_password(value))
        r = redact_server(value);
    else if (marked_secret)
        r = strdup(REDACT_MASK);
    else
        return NULL;
    if (r == NULL)
        *oom = 1;
    return r;
}

static int
expand_one(const char *name, size_t nlen, eng_lookup_fn lookup, void *ud,
    int reveal, struct buf *b, struct errbuf *eb)
{
    char *key, *val, *shown = NULL;
    int   rc;

    if ((key = strndup(name, nlen)) == NULL)
        return err_set(eb, ERR_NOMEM, "nomem", "out of memory");
    val = lookup != NULL ? lookup(ud, key, &shown) : NULL;
    if (val == NULL) {
        rc = err_set(eb, ERR_INVAL, "undefined_variable",
            "%%HA_EM-3-FMPD_UNKNOWN_ENV: could not find environment "
            "variable: %s",
            key);
        if (eb != NULL)
            snprintf(eb->field, sizeof(eb->field), "%s", key);
        free(key);
        return rc;
    }
    rc = buf_puts(b, shown != NULL && !reveal ? shown : val);
    sec_free_str(val);
    sec_free_str(shown);
    free(key);
    return rc == 0 ? 0 : err_set(eb, ERR_NOMEM, "nomem", "out of memory");
}

int
eng_expand(const char *s, eng_lookup_fn lookup, void *ud, int reveal,
    char **out, struct errbuf *eb)
{
    struct buf  b = BUF_INIT;
    const char *p = s, *q;
    int         rc = 0;

    *out = NULL;
    if (s == NULL)
        return err_set(eb, ERR_INVAL, "invalid_argument", "no text");
    while (*p != '\0' && rc == 0) {
        if (p[0] == '\\' && p[1] == '$') {
            rc = buf_putc(&b, '$');
            p += 2;
            continue;
        }
        if (p[0] != '$') {
            q = p;
            while (*q != '\0' && *q != '$' && !(q[0] == '\\' && q[1] == '$'))
                q++;
            rc = buf_append(&b, p, (size_t)(q - p));
            p = q;
            continue;
        }
        if (is_name_char(p[1])) {
            q = p + 1;
            while (is_name_char(*q))
                q++;
            rc = expand_one(p + 1, (size_t)(q - p - 1), lookup, ud, reveal, &b,
                eb);
            p = q;
            continue;
        }
        if (p[1] == '{' && is_name_char(p[2])) {
            q = p + 2;
            while (is_name_char(*q))
                q++;
            if (*q == '}') {
                rc = expand_one(p + 2, (size_t)(q - p - 2), lookup, ud, reveal,
                    &b, eb);
                p = q + 1;
                continue;
            }
        }
        rc = buf_putc(&b, '$'); /* literal */
        p++;
    }
    if (rc == 0 && (*out = buf_take(&b)) == NULL)
        rc = ERR_NOMEM;
    if (rc == ERR_NOMEM && (eb == NULL || strcmp(eb->code, "nomem") != 0))
        err_set(eb, ERR_NOMEM, "nomem", "out of memory");
    buf_free(&b);
    return rc;
}
