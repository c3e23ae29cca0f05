/* SPDX-License-Identifier: MIT */
/*
 * tests/fuzz/fuzz_smtp_reply.c: the SMTP reply parser (smtp_reply_feed,
 * engine/smtp/smtp.h), fed line by line as the client reads a server's
 * replies (the input is split at LF, a CR before it is dropped).
 *
 * A malformed line must be refused with ERR_PROTO and a message; a
 * complete reply must have a three-digit code and NUL-terminated text.
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
        fuzz_check(rc == 0 || rc == 1 || rc == ERR_PROTO,
            "smtp_reply_feed returned %d, not 0, 1 or ERR_PROTO", rc);
        fuzz_check_err("smtp_reply_feed", rc < 0 ? rc : 0, &eb);
        if (rc == 1)
            check_complete(&r);
        if (rc != 0)
            memset(&r, 0, sizeof(r));
        p = nl != NULL ? nl + 1 : end;
    }
    return 0;
}
