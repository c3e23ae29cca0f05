/* SPDX-License-Identifier: MIT */
/*
 * tests/fuzz/fuzz_expand.c: variable expansion (eng_expand,
 * engine/run/interp.h): $name and ${name}, a '$' not followed by a name stays
 * literal (EEM.md, "Variables").
 *
 * The lookup is only ever asked for names made of letters, digits and
 * '_'; an undefined variable fails with code "undefined_variable" and a
 * message; values are inserted as they are, never expanded again. For
 * input without '\' and '{' (where EEM.md's rule alone decides the
 * result) the output must equal a simple reference expansion written from
 * that rule.
 */
#include "common/buf.h"
#include "engine/run/interp.h"
#include "fuzz.h"

static const char *const vars[][2] = {
    { "_email_to", "noc@example.com" },
    { "_email_from", "alerts@example.com" },
    { "_email_cc", "" },
    { "x", "$_email_to" }, /* must not be expanded again */
    { "brace", "${x}" },
    { "_none_arg1", "a b\tc\r\nd" },
    { "n1", "100" },
    { "q", "say \"hi\" \\ $" },
};

static const char *
find(const char *name)
{
    size_t i;

    for (i = 0; i < sizeof(vars) / sizeof(vars[0]); i++)
        if (strcmp(vars[i][0], name) == 0)
            return vars[i][1];
    return NULL;
}

static int is_name_char(char c);

/* Letters, digits and '_' (EEM.md); eng_var_name_valid() also caps the
 * length at 64, which a reference in a string does not have to respect. */
static int
name_chars_only(const char *s)
{
    if (*s == '\0')
        return 0;
    for (; *s != '\0'; s++)
        if (!is_name_char(*s))
            return 0;
    return 1;
}

static char *
lookup(void *ud, const char *name, char **shown)
{
    const char *v;

    (void)shown; /* no secrets here: the output must equal the reference */
    (*(unsigned *)ud)++;
    fuzz_check(name != NULL && name_chars_only(name),
        "lookup called with an invalid variable name \"%s\"",
        name ? name : "(null)");
    v = find(name);
    return v != NULL ? strdup(v) : NULL;
}

static int
is_name_char(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')
        || (c >= '0' && c <= '9') || c == '_';
}

/* Reference for input without '\' and '{': 0 and the expansion in *b, or
 * -1 when a variable is undefined. */
static int
reference(const char *s, struct buf *b)
{
    const char *p = s, *q;
    char        name[4096];
    const char *v;

    while (*p != '\0') {
        if (p[0] == '$' && is_name_char(p[1])) {
            for (q = p + 1; is_name_char(*q); q++)
                ;
            if ((size_t)(q - p - 1) >= sizeof(name))
                return -2; /* not checked */
            memcpy(name, p + 1, (size_t)(q - p - 1));
            name[q - p - 1] = '\0';
            if ((v = find(name)) == NULL)
                return -1;
            buf_puts(b, v);
            p = q;
        } else {
            buf_putc(b, *p++);
        }
    }
    return 0;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct errbuf eb;
    struct buf    ref = BUF_INIT;
    unsigned      calls = 0;
    char         *s, *out = NULL;
    int           rc, rr;

    fuzz_quiet_logs();
    s = fuzz_strndup(data, size);
    memset(&eb, 0, sizeof(eb));
    rc = eng_expand(s, lookup, &calls, 0, &out, &eb);
    fuzz_check_err("eng_expand", rc, &eb);
    if (rc != 0) {
        fuzz_check(out == NULL, "failed expansion returned a string");
        fuzz_check(rc != ERR_INVAL
                || strcmp(eb.code, "undefined_variable") == 0,
            "expansion failed with code \"%s\", not undefined_variable",
            eb.code);
    } else {
        fuzz_check(out != NULL, "expansion returned 0 and no string");
        if (strchr(s, '$') == NULL)
            fuzz_check(strcmp(s, out) == 0 && calls == 0,
                "text without '$' changed: \"%s\" -> \"%s\"", s, out);
    }
    if (strpbrk(s, "\\{") == NULL) {
        rr = reference(s, &ref);
        if (rr == 0)
            fuzz_check(rc == 0 && strcmp(out, buf_str(&ref)) == 0,
                "\"%s\" expands to \"%s\", EEM.md says \"%s\"", s,
                rc == 0 ? out : eb.msg, buf_str(&ref));
        else if (rr == -1)
            fuzz_check(rc == ERR_INVAL,
                "\"%s\" uses an undefined variable "
                "but expansion gave %d",
                s, rc);
    }
    buf_free(&ref);
    free(out);
    free(s);
    return 0;
}
