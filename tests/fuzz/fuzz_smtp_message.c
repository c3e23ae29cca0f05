/* SPDX-License-Identifier: MIT */
/*
 * tests/fuzz/fuzz_smtp_message.c: RFC 5322 message building
 * (smtp_message_build, engine/smtp/smtp.h) with arbitrary header values.
 *
 * The input is split at NUL bytes into from, to, cc, subject, body and the
 * Message-ID domain. A header value with CR or LF must be refused (header
 * injection) with eb->field naming it. An accepted message must be made of
 * CRLF lines only (no bare CR or LF anywhere), no line over 998 bytes
 * (RFC 5322 2.1.1), a header block of "Name: value" fields and folded
 * continuations, with Date, Message-ID, From, To and Subject exactly once.
 */
#include <strings.h>

#include "common/buf.h"
#include "engine/smtp/smtp.h"
#include "fuzz.h"

static void
check_message(const char *m, size_t len)
{
    static const char *once[] = { "Date", "Message-ID", "From", "To", "Subject",
        "MIME-Version" };
    unsigned           count[sizeof(once) / sizeof(once[0])] = { 0 };
    size_t             i, start = 0, k;
    int                in_headers = 1, nheaders = 0;

    fuzz_check(len >= 2 && m[len - 2] == '\r' && m[len - 1] == '\n',
        "message does not end in CRLF");
    for (i = 0; i < len; i++) {
        if (m[i] == '\r')
            fuzz_check(i + 1 < len && m[i + 1] == '\n', "bare CR at byte %zu",
                i);
        if (m[i] == '\0')
            fuzz_fail("NUL byte at %zu of the message", i);
        if (m[i] != '\n')
            continue;
        fuzz_check(i > 0 && m[i - 1] == '\r', "bare LF at byte %zu", i);
        /* the line is m[start .. i-2] */
        fuzz_check(i - 1 - start <= 998, "line of %zu bytes at byte %zu",
            i - 1 - start, start);
        if (in_headers) {
            const char *l = m + start;
            size_t      ll = i - 1 - start;

            if (ll == 0) {
                in_headers = 0;
            } else if (l[0] == ' ' || l[0] == '\t') {
                fuzz_check(nheaders > 0,
                    "header block starts with a "
                    "continuation line");
            } else {
                const char *colon = memchr(l, ':', ll);

                fuzz_check(colon != NULL,
                    "header line without a colon: "
                    "%.*s",
                    (int)ll, l);
                for (k = 0; l + k < colon; k++)
                    fuzz_check(l[k] > 32 && l[k] < 127,
                        "bad header field name: %.*s", (int)ll, l);
                for (k = 0; k < sizeof(once) / sizeof(once[0]); k++)
                    if ((size_t)(colon - l) == strlen(once[k])
                        && strncasecmp(l, once[k], strlen(once[k])) == 0)
                        count[k]++;
                nheaders++;
            }
        }
        start = i + 1;
    }
    fuzz_check(!in_headers, "message has no empty line after the headers");
    for (k = 0; k < sizeof(once) / sizeof(once[0]); k++)
        fuzz_check(count[k] == 1, "header %s appears %u times", once[k],
            count[k]);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct smtp_message msg;
    struct errbuf       eb;
    struct buf          out = BUF_INIT;
    const char         *f[6];
    char               *s, *p, *end;
    size_t              nf = 0;
    int                 rc, injected;

    fuzz_quiet_logs();
    s = fuzz_strndup(data, size);
    end = s + size;
    for (p = s; nf < 6; nf++) {
        f[nf] = p;
        p += strlen(p);
        if (p < end)
            p++;
    }
    memset(&msg, 0, sizeof(msg));
    msg.from = f[0];
    msg.to = f[1];
    msg.cc = f[2];
    msg.subject = f[3];
    msg.body = f[4];
    msg.msgid_domain = f[5][0] != '\0' ? f[5] : NULL;
    msg.date = (time_t)1795000000;

    memset(&eb, 0, sizeof(eb));
    rc = smtp_message_build(&msg, &out, &eb);
    fuzz_check_err("smtp_message_build", rc, &eb);
    injected = fuzz_has_crlf(msg.from) || fuzz_has_crlf(msg.to)
        || fuzz_has_crlf(msg.cc) || fuzz_has_crlf(msg.subject)
        || fuzz_has_crlf(msg.msgid_domain);
    if (injected)
        fuzz_check(rc != 0, "a header value with CR or LF was accepted");
    if (rc == 0)
        check_message(buf_str(&out), out.len);
    buf_free(&out);
    free(s);
    return 0;
}
