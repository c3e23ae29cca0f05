/* SPDX-License-Identifier: MIT */
/*
 * tests/fuzz/fuzz_smtp_reply.c: the SMTP reply parser (smtp_reply_feed,
 * engine/smtp/smtp.h), fed line by line as the client reads a server's
 * replies (the input is split at LF, a CR before it is dropped).
 *
 * A malformed line must be refused with ERR_PROTO and a message, a line
 * or reply past the limits of smtp.h (SMTP_LINE_MAX, SMTP_REPLY_LINES,
 * SMTP_REPLY_MAX) with ERR_TOOBIG and a message naming the limit; a
 * complete reply must have a three-digit code, NUL-terminated text, and
 * be within the limits.
 */
#include "engine/smtp/smtp.h"
#include "fuzz.h"

static void
check_complete(const struct smtp_reply *r)
{
    fuzz_check(r->code >= 100 && r->code <= 999,
        "complete reply has code %d, not three digits", r->code);
    fuzz_check(memchr(r->text, '\0', sizeof(r->text)) != NULL,
        "reply text is not NUL-terminated");
    fuzz_check(memchr(r->enhanced, '\0', sizeof(r->enhanced)) != NULL,
        "enhanced code is not NUL-terminated");
    fuzz_check(r->nlines >= 1, "complete reply with %zu lines", r->nlines);
    fuzz_check(r->nlines <= SMTP_REPLY_LINES,
        "complete reply with %zu lines, over the limit", r->nlines);
    fuzz_check(r->size <= SMTP_REPLY_MAX,
        "complete reply of %zu octets, over the limit", r->size);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct smtp_reply r;
    struct errbuf     eb;
    const char       *p = (const char *)data, *end = p + size, *nl;
    size_t            len;
    int               rc;

    fuzz_quiet_logs();
    memset(&r, 0, sizeof(r));
    while (p < end) {
        nl = memchr(p, '\n', (size_t)(end - p));
        len = (nl != NULL ? nl : end) - p;
        if (len > 0 && p[len - 1] == '\r')
            len--;
        memset(&eb, 0, sizeof(eb));
        rc = smtp_reply_feed(&r, p, len, &eb);
        fuzz_check(rc == 0 || rc == 1 || rc == ERR_PROTO || rc == ERR_TOOBIG,
            "smtp_reply_feed returned %d, not 0, 1, ERR_PROTO or ERR_TOOBIG",
            rc);
        fuzz_check_err("smtp_reply_feed", rc < 0 ? rc : 0, &eb);
        fuzz_check(rc != ERR_TOOBIG || strstr(eb.msg, "more than") != NULL
                || strstr(eb.msg, "longer than") != NULL,
            "ERR_TOOBIG without naming the limit: \"%s\"", eb.msg);
        fuzz_check(rc != ERR_TOOBIG || len > SMTP_LINE_MAX
                || r.nlines >= SMTP_REPLY_LINES
                || r.size + len + 2 > SMTP_REPLY_MAX,
            "ERR_TOOBIG for a %zu-octet line %zu of a reply of %zu octets", len,
            r.nlines + 1, r.size);
        if (rc == 1)
            check_complete(&r);
        if (rc != 0)
            memset(&r, 0, sizeof(r));
        p = nl != NULL ? nl + 1 : end;
    }
    return 0;
}
