/* SPDX-License-Identifier: MIT */
/*
 * tests/fuzz/fuzz_syslog.c: syslog input (engine/run/runtime_int.h): one
 * message (eng_syslog_parse, RFC 3164 and 5424), the TCP stream framing
 * (eng_syslog_frame, RFC 6587) and priority names
 * (eng_syslog_severity_parse), as the listener receives them from anyone
 * who can reach its port.
 *
 * A bad message is refused with a message; an accepted one has
 * pri = facility * 8 + severity in range, NUL-terminated header fields and
 * a message text inside the input. Framing must always make progress and
 * never return a frame outside the data.
 */
#include "engine/run/runtime_int.h"
#include "fuzz.h"

static void
check_msg(const char *p, size_t len)
{
    struct eng_syslog_msg m;
    struct errbuf         eb;
    int                   rc;

    memset(&eb, 0, sizeof(eb));
    rc = eng_syslog_parse(p, len, &m, &eb);
    fuzz_check_err("eng_syslog_parse", rc, &eb);
    if (rc != 0)
        return;
    fuzz_check(m.pri >= 0 && m.pri <= 191, "PRI %d accepted", m.pri);
    fuzz_check(m.facility == m.pri / 8 && m.severity == m.pri % 8,
        "facility %d / severity %d do not match PRI %d", m.facility, m.severity,
        m.pri);
    fuzz_check(memchr(m.timestamp, '\0', sizeof(m.timestamp))
            && memchr(m.host, '\0', sizeof(m.host))
            && memchr(m.app, '\0', sizeof(m.app))
            && memchr(m.procid, '\0', sizeof(m.procid))
            && memchr(m.msgid, '\0', sizeof(m.msgid)),
        "a header field is not NUL-terminated");
    fuzz_check(m.msg_len == 0
            || (m.msg != NULL && m.msg >= p && m.msg + m.msg_len <= p + len),
        "message text lies outside the input");
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char   *p = (const char *)data;
    struct errbuf eb;
    size_t        pos = 0, off, flen, used;
    char         *s;
    int           rc, frames = 0;

    fuzz_quiet_logs();
    check_msg(p, size);

    /* the same bytes as a TCP stream */
    while (pos < size && frames < 10000) {
        off = flen = used = 0;
        memset(&eb, 0, sizeof(eb));
        rc = eng_syslog_frame(p + pos, size - pos, &off, &flen, &used, &eb);
        fuzz_check(rc == 0 || rc == 1 || rc == ERR_PROTO,
            "eng_syslog_frame returned %d", rc);
        fuzz_check_err("eng_syslog_frame", rc < 0 ? rc : 0, &eb);
        if (rc != 1)
            break;
        fuzz_check(used > 0 && used <= size - pos,
            "frame consumed %zu of %zu bytes", used, size - pos);
        fuzz_check(off + flen <= used,
            "frame [%zu, +%zu) beyond the %zu "
            "bytes consumed",
            off, flen, used);
        check_msg(p + pos + off, flen);
        pos += used;
        frames++;
    }

    s = fuzz_strndup(data, size < 64 ? size : 64);
    rc = eng_syslog_severity_parse(s);
    fuzz_check(rc >= -1 && rc <= 7, "severity name gave %d", rc);
    free(s);
    return 0;
}
