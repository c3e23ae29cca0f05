/* SPDX-License-Identifier: MIT */
/*
 * engine/run/interp_string.c: the "string ..." actions of EEM applets, with
 * Tcl's semantics (IOS implements applets on Tcl). Every operation stores
 * its result in $_string_result:
 *
 *   compare [nocase] A B      -1, 0 or 1         equal [nocase] A B   1/0
 *   first NEEDLE HAY [I]      index or -1        last NEEDLE HAY [I]  idem
 *   index S I                 the character, or "" out of range
 *   length S                  length             match [nocase] GLOB S  1/0
 *   range S FIRST LAST        substring (clamped, inclusive)
 *   replace S FIRST LAST [NEW]
 *   tolower|toupper S [FIRST [LAST]]
 *   trim|trimleft|trimright S [CHARS]  (default: white space)
 *
 * Indexes are integers, "end", "end-N" or "end+N". Strings are handled as
 * bytes (Tcl counts characters; the two agree for ASCII).
 */
#include <ctype.h>
#include <fnmatch.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "engine/lang/applet.h"
#include "engine/run/interp_int.h"

#define WHITESPACE " \t\n\r\v\f"

/* Resolves a Tcl index against a string of length len. */
static int
str_index(struct interp_ctx *c, const char *what, const char *s, size_t len,
    long long *out)
{
    long long off = 0;

    if (strncmp(s, "end", 3) == 0) {
        if (s[3] != '\0') {
            if ((s[3] != '-' && s[3] != '+') || s[4] < '0' || s[4] > '9'
                || interp_int(c, what, s + 3, &off) != 0)
                return err_set(&c->aeb, ERR_INVAL, "invalid_argument",
                    "%s: bad index \"%s\": use an integer, end or end-N", what,
                    s);
        }
        *out = (long long)len - 1 + off;
        return 0;
    }
    if (interp_int(c, what, s, out) != 0)
        return err_set(&c->aeb, ERR_INVAL, "invalid_argument",
            "%s: bad index \"%s\": use an integer, end or end-N", what, s);
    return 0;
}

static int
nocase(struct interp_ctx *c)
{
    const char *v = eng_action_arg(c->a, c->pc, "nocase");

    return v != NULL && strcmp(v, "0") != 0;
}

static int
set_result(struct interp_ctx *c, const char *v)
{
    char *dup = strdup(v);
    int   rc;

    if (dup == NULL) {
        c->nomem = 1;
        return err_set(&c->aeb, ERR_NOMEM, "nomem", "out of memory");
    }
    /* the interpreter's own variable: never a read-only built-in */
    rc = interp_setvar(c, "_string_result", dup);
    free(dup);
    return rc;
}

static int
set_result_n(struct interp_ctx *c, const char *p, size_t n)
{
    char *dup = strndup(p, n);
    int   rc;

    if (dup == NULL) {
        c->nomem = 1;
        return err_set(&c->aeb, ERR_NOMEM, "nomem", "out of memory");
    }
    rc = interp_setvar(c, "_string_result", dup);
    free(dup);
    return rc;
}

static int
set_result_int(struct interp_ctx *c, long long v)
{
    char num[32];

    snprintf(num, sizeof(num), "%lld", v);
    return set_result(c, num);
}

static int
op_compare(struct interp_ctx *c, int equal)
{
    char *l = NULL, *r = NULL;
    int   rc, cmp;

    if ((rc = interp_arg_req(c, "left", &l)) != 0
        || (rc = interp_arg_req(c, "right", &r)) != 0)
        goto out;
    cmp = nocase(c) ? strcasecmp(l, r) : strcmp(l, r);
    cmp = cmp < 0 ? -1 : cmp > 0;
    rc = set_result_int(c, equal ? cmp == 0 : cmp);
out:
    free(l);
    free(r);
    return rc;
}

static int
op_first_last(struct interp_ctx *c, int last)
{
    char     *needle = NULL, *hay = NULL, *idx = NULL;
    long long start, pos = -1, p;
    size_t    nl, hl;
    int       rc;

    if ((rc = interp_arg_req(c, "needle", &needle)) != 0
        || (rc = interp_arg_req(c, "haystack", &hay)) != 0
        || (rc = interp_arg(c, "index", &idx)) != 0)
        goto out;
    nl = strlen(needle);
    hl = strlen(hay);
    if (idx != NULL) {
        if ((rc = str_index(c, "index", idx, hl, &start)) != 0)
            goto out;
    } else
        start = last ? (long long)hl - 1 : 0;
    if (nl == 0 || nl > hl)
        goto done;
    if (!last) {
        if (start < 0)
            start = 0;
        for (p = start; p + (long long)nl <= (long long)hl; p++)
            if (memcmp(hay + p, needle, nl) == 0) {
                pos = p;
                break;
            }
    } else {
        /* the match must lie within characters 0..start */
        if (start >= (long long)hl)
            start = (long long)hl - 1;
        for (p = start - (long long)nl + 1; p >= 0; p--)
            if (memcmp(hay + p, needle, nl) == 0) {
                pos = p;
                break;
            }
    }
done:
    rc = set_result_int(c, pos);
out:
    free(needle);
    free(hay);
    free(idx);
    return rc;
}

static int
op_index(struct interp_ctx *c, int arg)
{
    char     *s = NULL, *idx = NULL;
    long long i;
    size_t    len;
    int       rc;

    (void)arg;
    if ((rc = interp_arg_req(c, "string", &s)) != 0
        || (rc = interp_arg_req(c, "index", &idx)) != 0)
        goto out;
    len = strlen(s);
    if ((rc = str_index(c, "index", idx, len, &i)) != 0)
        goto out;
    if (i < 0 || i >= (long long)len)
        rc = set_result(c, "");
    else
        rc = set_result_n(c, s + i, 1);
out:
    free(s);
    free(idx);
    return rc;
}

static int
op_length(struct interp_ctx *c, int arg)
{
    char *s = NULL;
    int   rc;

    (void)arg;
    if ((rc = interp_arg_req(c, "string", &s)) == 0)
        rc = set_result_int(c, (long long)strlen(s));
    free(s);
    return rc;
}

static int
op_match(struct interp_ctx *c, int arg)
{
    char *pat = NULL, *s = NULL;
    int   rc;

    (void)arg;
    if ((rc = interp_arg_req(c, "pattern", &pat)) != 0
        || (rc = interp_arg_req(c, "string", &s)) != 0)
        goto out;
    rc = set_result_int(c, fnmatch(pat, s, nocase(c) ? FNM_CASEFOLD : 0) == 0);
out:
    free(pat);
    free(s);
    return rc;
}

/* Reads string, first and last (first/last optional when opt) and clamps
 * them to the string; *empty is set when the range selects nothing. */
static int
get_range(struct interp_ctx *c, int opt, char **s, long long *first,
    long long *last, int *empty)
{
    char  *f = NULL, *l = NULL;
    size_t len;
    int    rc;

    *s = NULL;
    if ((rc = interp_arg_req(c, "string", s)) != 0)
        goto out;
    len = strlen(*s);
    if ((rc = opt ? interp_arg(c, "first", &f) : interp_arg_req(c, "first", &f))
            != 0
        || (rc = opt ? interp_arg(c, "last", &l)
                     : interp_arg_req(c, "last", &l))
            != 0)
        goto out;
    *first = 0;
    if (f != NULL && (rc = str_index(c, "first", f, len, first)) != 0)
        goto out;
    if (l != NULL) {
        if ((rc = str_index(c, "last", l, len, last)) != 0)
            goto out;
    } else
        *last = f != NULL ? *first : (long long)len - 1;
    *empty = *first > *last || *first >= (long long)len || *last < 0;
    if (*first < 0)
        *first = 0;
    if (*last >= (long long)len)
        *last = (long long)len - 1;
out:
    free(f);
    free(l);
    return rc;
}

static int
op_range(struct interp_ctx *c, int arg)
{
    char     *s;
    long long f, l;
    int       rc, empty;

    (void)arg;
    if ((rc = get_range(c, 0, &s, &f, &l, &empty)) == 0)
        rc = empty ? set_result(c, "")
                   : set_result_n(c, s + f, (size_t)(l - f + 1));
    free(s);
    return rc;
}

static int
op_replace(struct interp_ctx *c, int arg)
{
    char     *s, *nw = NULL, *r = NULL;
    long long f, l;
    size_t    len, nlen;
    int       rc, empty;

    (void)arg;
    if ((rc = get_range(c, 0, &s, &f, &l, &empty)) != 0
        || (rc = interp_arg(c, "new", &nw)) != 0)
        goto out;
    if (empty) {
        rc = set_result(c, s);
        goto out;
    }
    len = strlen(s);
    nlen = nw != NULL ? strlen(nw) : 0;
    if ((r = malloc(len + nlen + 1)) == NULL) {
        c->nomem = 1;
        rc = err_set(&c->aeb, ERR_NOMEM, "nomem", "out of memory");
        goto out;
    }
    memcpy(r, s, (size_t)f);
    if (nlen)
        memcpy(r + f, nw, nlen);
    memcpy(r + f + nlen, s + l + 1, len - (size_t)l - 1 + 1);
    rc = set_result(c, r);
out:
    free(s);
    free(nw);
    free(r);
    return rc;
}

static int
op_case(struct interp_ctx *c, int upper)
{
    char     *s;
    long long f, l, i;
    int       rc, empty;

    if ((rc = get_range(c, 1, &s, &f, &l, &empty)) != 0)
        goto out;
    if (!empty)
        for (i = f; i <= l; i++)
            s[i] = (char)(upper ? toupper((unsigned char)s[i])
                                : tolower((unsigned char)s[i]));
    rc = set_result(c, s);
out:
    free(s);
    return rc;
}

static int
op_trim(struct interp_ctx *c, int left, int right)
{
    char       *s = NULL, *chars = NULL;
    const char *set, *b, *e;
    int         rc;

    if ((rc = interp_arg_req(c, "string", &s)) != 0
        || (rc = interp_arg(c, "chars", &chars)) != 0)
        goto out;
    set = chars != NULL ? chars : WHITESPACE;
    b = s;
    e = s + strlen(s);
    if (left)
        while (b < e && strchr(set, *b) != NULL)
            b++;
    if (right)
        while (e > b && strchr(set, e[-1]) != NULL)
            e--;
    rc = set_result_n(c, b, (size_t)(e - b));
out:
    free(s);
    free(chars);
    return rc;
}

#define TRIM_LEFT  1
#define TRIM_RIGHT 2

static int
op_trim_sides(struct interp_ctx *c, int sides)
{
    return op_trim(c, (sides & TRIM_LEFT) != 0, (sides & TRIM_RIGHT) != 0);
}

/* The "string ..." rows of the dispatch table (see interp_int.h). */
const struct interp_action interp_string_actions[] = {
    { "string compare", K_PLAIN, op_compare, 0 },
    { "string equal", K_PLAIN, op_compare, 1 },
    { "string first", K_PLAIN, op_first_last, 0 },
    { "string last", K_PLAIN, op_first_last, 1 },
    { "string index", K_PLAIN, op_index, 0 },
    { "string length", K_PLAIN, op_length, 0 },
    { "string match", K_PLAIN, op_match, 0 },
    { "string range", K_PLAIN, op_range, 0 },
    { "string replace", K_PLAIN, op_replace, 0 },
    { "string tolower", K_PLAIN, op_case, 0 },
    { "string toupper", K_PLAIN, op_case, 1 },
    { "string trim", K_PLAIN, op_trim_sides, TRIM_LEFT | TRIM_RIGHT },
    { "string trimleft", K_PLAIN, op_trim_sides, TRIM_LEFT },
    { "string trimright", K_PLAIN, op_trim_sides, TRIM_RIGHT },
};

const size_t n_interp_string_actions =
    sizeof(interp_string_actions) / sizeof(interp_string_actions[0]);
