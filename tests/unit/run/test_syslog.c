/* SPDX-License-Identifier: MIT */
/*
 * tests/unit/run/test_syslog.c: the syslog trigger — RFC 3164 and RFC
 * 5424 parsing, rejection of garbage with a reason, TCP framing (octet
 * counting and newlines), the occurs/period/priority condition, and the
 * listener on 127.0.0.1 over UDP and TCP (garbage counted, not fatal).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include "engine/run/runtime_int.h"

static struct eng_syslog_msg
parse_ok(const char *s)
{
    struct eng_syslog_msg m;
    struct errbuf         eb = { 0 };

    if (eng_syslog_parse(s, strlen(s), &m, &eb) != 0)
        fail_msg("\"%s\": %s", s, eb.msg);
    return m;
}

static void
assert_msg(const struct eng_syslog_msg *m, const char *want)
{
    if (m->msg_len != strlen(want) || memcmp(m->msg, want, m->msg_len) != 0)
        fail_msg("msg \"%.*s\", expected \"%s\"", (int)m->msg_len, m->msg,
            want);
}

static void
parser_should_read_rfc3164(void **state)
{
    struct eng_syslog_msg m;

    (void)state;
    m = parse_ok("<34>Oct 11 22:14:15 mymachine su[123]: 'su root' failed "
                 "for lonvick on /dev/pts/8");
    assert_int_equal(m.version, 0);
    assert_int_equal(m.facility, 4);
    assert_int_equal(m.severity, 2);
    assert_string_equal(m.timestamp, "Oct 11 22:14:15");
    assert_string_equal(m.host, "mymachine");
    assert_string_equal(m.app, "su");
    assert_string_equal(m.procid, "123");
    assert_msg(&m, "'su root' failed for lonvick on /dev/pts/8");
    /* a Cisco router line: the message starts at its '%' */
    m = parse_ok("<187>52: *Mar  1 00:10:00.123: %LINK-3-UPDOWN: Interface "
                 "Gi0/1, changed state to down\n");
    assert_int_equal(m.severity, 3);
    assert_int_equal(m.facility, 23);
    assert_int_equal(m.cisco, 1);
    assert_string_equal(m.seq, "52");
    assert_msg(&m, "%LINK-3-UPDOWN: Interface Gi0/1, changed state to down");
}

static void
parser_should_read_cisco_remote_lines(void **state)
{
    static const struct {
        const char *in, *seq, *host, *ts, *fac, *sub, *mnem;
        int         sev;
        const char *msg;
    } ok[] = {
        { "<189>45: R1: *Dec  2 10:00:00.123: %LINK-3-UPDOWN: Interface "
          "GigabitEthernet1, changed state to down",
            "45", "R1", "*Dec  2 10:00:00.123", "LINK", "", "UPDOWN", 3,
            "%LINK-3-UPDOWN: Interface GigabitEthernet1, changed state to "
            "down" },
        /* no sequence number, no host */
        { "<189>*Dec  2 10:00:00.123: %SYS-5-CONFIG_I: Configured from "
          "console",
            "", "", "*Dec  2 10:00:00.123", "SYS", "", "CONFIG_I", 5,
            "%SYS-5-CONFIG_I: Configured from console" },
        /* host, no sequence number; '.' = was synchronised; no ms */
        { "<187>edge-rtr.example.net: .Dec 12 01:02:03: "
          "%LINEPROTO-5-UPDOWN: Line protocol on Interface Gi1, changed state "
          "to up",
            "", "edge-rtr.example.net", ".Dec 12 01:02:03", "LINEPROTO", "",
            "UPDOWN", 5,
            "%LINEPROTO-5-UPDOWN: Line protocol on Interface "
            "Gi1, changed state to up" },
        /* year, milliseconds and time zone */
        { "<189>1234: R2: Dec  2 2025 10:00:00.123 UTC: %LINK-3-UPDOWN: x",
            "1234", "R2", "Dec  2 2025 10:00:00.123 UTC", "LINK", "", "UPDOWN",
            3, "%LINK-3-UPDOWN: x" },
        /* synchronised clock, time zone, no ms */
        { "<189>7: Mar 31 23:59:59 CEST: %SEC_LOGIN-5-LOGIN_SUCCESS: ok", "7",
            "", "Mar 31 23:59:59 CEST", "SEC_LOGIN", "", "LOGIN_SUCCESS", 5,
            "%SEC_LOGIN-5-LOGIN_SUCCESS: ok" },
        /* subfacility */
        { "<188>12: R1: *Dec  2 10:00:00.123: %FABRIC-SP-4-CLEAR_BLOCK: "
          "clear",
            "12", "R1", "*Dec  2 10:00:00.123", "FABRIC", "SP", "CLEAR_BLOCK",
            4, "%FABRIC-SP-4-CLEAR_BLOCK: clear" },
        /* uptime timestamps */
        { "<189>3: 00:10:00: %LINK-3-UPDOWN: a", "3", "", "00:10:00", "LINK",
            "", "UPDOWN", 3, "%LINK-3-UPDOWN: a" },
        { "<189>3: R9: 1d02h: %LINK-3-UPDOWN: a", "3", "R9", "1d02h", "LINK",
            "", "UPDOWN", 3, "%LINK-3-UPDOWN: a" },
        /* no timestamp at all ("no service timestamps") */
        { "<189>%LINK-3-UPDOWN: bare", "", "", "", "LINK", "", "UPDOWN", 3,
            "%LINK-3-UPDOWN: bare" },
        /* after an RFC 3164 header (a relay) */
        { "<189>Dec  2 10:00:01 R5 88: *Dec  2 10:00:00.123: "
          "%LINK-3-UPDOWN: relayed",
            "88", "R5", "*Dec  2 10:00:00.123", "LINK", "", "UPDOWN", 3,
            "%LINK-3-UPDOWN: relayed" },
        /* after an RFC 5424 header */
        { "<189>1 2025-12-02T10:00:00Z R6 - - - - %LINK-3-UPDOWN: new", "",
            "R6", "2025-12-02T10:00:00Z", "LINK", "", "UPDOWN", 3,
            "%LINK-3-UPDOWN: new" },
    };
    struct eng_syslog_msg m;
    size_t                i;

    (void)state;
    for (i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
        m = parse_ok(ok[i].in);
        if (!m.cisco)
            fail_msg("%s: not read as a Cisco line", ok[i].in);
        assert_string_equal(m.seq, ok[i].seq);
        assert_string_equal(m.host, ok[i].host);
        assert_string_equal(m.timestamp, ok[i].ts);
        assert_string_equal(m.cfacility, ok[i].fac);
        assert_string_equal(m.csubfacility, ok[i].sub);
        assert_string_equal(m.mnemonic, ok[i].mnem);
        assert_int_equal(m.csev, ok[i].sev);
        assert_msg(&m, ok[i].msg);
    }
}

static void
parser_should_not_take_lookalikes_for_cisco_lines(void **state)
{
    static const char *const like[] = {
        "<189>45: R1: *Dec  2 10:00:00.123: LINK-3-UPDOWN: no percent",
        "<189>45: R1: *Dec  2 10:00:00.123: %LINK-9-UPDOWN: severity 9",
        "<189>45: R1: *Dec  2 10:00:00.123: %LINK-3-UPDOWN no colon",
        "<189>45: R1: *Dec  2 10:00:00.123: %LINK-UPDOWN: no severity",
        "<189>45: R1: *Dec  2 10:00:00.123: %A-B-C-3-D: too many words",
        "<189>45: hello world %LINK-3-UPDOWN: text before the tag",
        "<189>45: R1: *Dec 32x 10:00:00: %LINK-3-UPDOWN: bad date",
        "<189>%: empty",
        "<189>%LINK-3-",
    };
    struct eng_syslog_msg m;
    size_t                i;

    (void)state;
    for (i = 0; i < sizeof(like) / sizeof(like[0]); i++) {
        m = parse_ok(like[i]);
        if (m.cisco)
            fail_msg("%s: read as a Cisco line", like[i]);
        assert_string_equal(m.mnemonic, "");
        assert_string_equal(m.seq, "");
        assert_int_equal(m.severity, 5);
    }
}

static void
parser_should_read_rfc5424(void **state)
{
    struct eng_syslog_msg m;

    (void)state;
    m = parse_ok(
        "<165>1 2003-10-11T22:14:15.003Z mymachine.example.com evntslog"
        " - ID47 [exampleSDID@32473 iut=\"3\" eventSource=\"App\\]x\"]"
        " \xEF\xBB\xBF"
        "An application event log entry");
    assert_int_equal(m.version, 1);
    assert_int_equal(m.severity, 5);
    assert_int_equal(m.facility, 20);
    assert_string_equal(m.host, "mymachine.example.com");
    assert_string_equal(m.app, "evntslog");
    assert_string_equal(m.procid, "");
    assert_string_equal(m.msgid, "ID47");
    assert_msg(&m, "An application event log entry");
    m = parse_ok("<13>1 - - - - - -");
    assert_int_equal(m.msg_len, 0);
    m = parse_ok("<13>1 2026-11-27T17:00:00Z host app 42 - - link down");
    assert_string_equal(m.procid, "42");
    assert_msg(&m, "link down");
}

static void
parser_should_reject_garbage_with_a_reason(void **state)
{
    static const struct {
        const char *in;
        const char *why;
    } bad[] = {
        { "", "empty" },
        { "hello world", "missing <PRI>" },
        { "<>oops", "malformed <PRI>" },
        { "<abc>x", "malformed <PRI>" },
        { "<999>x", "out of range" },
        { "<1000>x", "out of range" },
        { "<13", "malformed <PRI>" },
        { "<13>1 2026-11-27T17:00:00Z host", "header ends" },
        { "<13>1 yesterday host app - - - msg", "TIMESTAMP" },
        { "<13>1 - host app - - [bad msg", "']'" },
        { "<13>1 - host app - - x msg", "structured data" },
    };
    struct eng_syslog_msg m;
    struct errbuf         eb;
    size_t                i;

    (void)state;
    for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        memset(&eb, 0, sizeof(eb));
        assert_int_equal(eng_syslog_parse(bad[i].in, strlen(bad[i].in), &m,
                             &eb),
            ERR_INVAL);
        if (strstr(eb.msg, bad[i].why) == NULL)
            fail_msg("\"%s\": message \"%s\" does not say \"%s\"", bad[i].in,
                eb.msg, bad[i].why);
    }
    memset(&eb, 0, sizeof(eb));
    assert_int_equal(eng_syslog_parse("<13>a\0b", 7, &m, &eb), ERR_INVAL);
    assert_non_null(strstr(eb.msg, "NUL"));
}

static void
framing_should_split_octet_counted_and_newline_streams(void **state)
{
    const char   *s = "11 <13>hello x11 <13>world\n\n<14>third\r\nrest";
    size_t        off, flen, used, pos = 0;
    struct errbuf eb = { 0 };

    (void)state;
    assert_int_equal(eng_syslog_frame(s, strlen(s), &off, &flen, &used, &eb),
        1);
    assert_int_equal(flen, 11);
    assert_memory_equal(s + off, "<13>hello x", 11);
    pos += used;
    assert_int_equal(eng_syslog_frame(s + pos, strlen(s) - pos, &off, &flen,
                         &used, &eb),
        1);
    assert_memory_equal(s + pos + off, "<13>world\n\n", 11);
    pos += used;
    assert_int_equal(eng_syslog_frame(s + pos, strlen(s) - pos, &off, &flen,
                         &used, &eb),
        1);
    assert_int_equal(flen, 9);
    assert_memory_equal(s + pos + off, "<14>third", 9);
    pos += used;
    /* "rest" has no terminator yet */
    assert_int_equal(eng_syslog_frame(s + pos, strlen(s) - pos, &off, &flen,
                         &used, &eb),
        0);
    /* incomplete octet count waits, absurd one is an error */
    assert_int_equal(eng_syslog_frame("20 <13>short", 12, &off, &flen, &used,
                         &eb),
        0);
    assert_int_equal(eng_syslog_frame("99999999 x", 10, &off, &flen, &used,
                         &eb),
        ERR_PROTO);
    assert_int_equal(eng_syslog_frame("12x<13>", 7, &off, &flen, &used, &eb),
        ERR_PROTO);
}

static void
match_should_need_occurs_within_period_and_priority(void **state)
{
    struct eng_syslog_match m;
    struct eng_syslog_msg   down = parse_ok("<187>%LINK-3-UPDOWN: Gi0/1 down");
    struct eng_syslog_msg   info = parse_ok("<190>%LINK-6-UPDOWN: Gi0/1 down");
    struct eng_syslog_msg   other = parse_ok("<187>%SYS-3-CPUHOG: busy");
    struct errbuf           eb = { 0 };

    (void)state;
    assert_int_equal(eng_syslog_match_init(&m, "UPDOWN: .* down$", 3, 10,
                         "errors", &eb),
        0);
    assert_int_equal(eng_syslog_match_feed(&m, &down, 100.0), 0);
    assert_int_equal(eng_syslog_match_feed(&m, &other, 101.0), 0);
    assert_int_equal(eng_syslog_match_feed(&m, &info, 101.5), 0); /* sev 6 */
    assert_int_equal(eng_syslog_match_feed(&m, &down, 102.0), 0);
    assert_int_equal(eng_syslog_match_feed(&m, &down, 103.0), 1);
    /* window reset after firing; old hits expire after the period */
    assert_int_equal(eng_syslog_match_feed(&m, &down, 104.0), 0);
    assert_int_equal(eng_syslog_match_feed(&m, &down, 105.0), 0);
    assert_int_equal(eng_syslog_match_feed(&m, &down, 120.0), 0);
    assert_int_equal(eng_syslog_match_feed(&m, &down, 121.0), 0);
    assert_int_equal(eng_syslog_match_feed(&m, &down, 122.0), 1);
    eng_syslog_match_free(&m);

    assert_int_equal(eng_syslog_match_init(&m, "(unclosed", 1, 0, NULL, &eb),
        ERR_INVAL);
    assert_non_null(strstr(eb.msg, "POSIX extended regex"));
    eng_syslog_match_free(&m);
    assert_int_equal(eng_syslog_match_init(&m, "x", 1, 0, "loud", &eb),
        ERR_INVAL);
    assert_non_null(strstr(eb.msg, "priority \"loud\""));
    eng_syslog_match_free(&m);
}

struct sink {
    pthread_mutex_t mu;
    char            got[8][128];
    char            from[8][48];
    int             n;
};

static void
on_msg(void *ud, const struct eng_syslog_msg *m)
{
    struct sink *s = ud;

    pthread_mutex_lock(&s->mu);
    if (s->n < 8) {
        snprintf(s->from[s->n], 48, "%s", m->source_ip);
        snprintf(s->got[s->n++], 128, "%.*s", (int)m->msg_len, m->msg);
    }
    pthread_mutex_unlock(&s->mu);
}

static int
sink_count(struct sink *s, int want)
{
    int i, n = 0;

    for (i = 0; i < 500; i++) {
        pthread_mutex_lock(&s->mu);
        n = s->n;
        pthread_mutex_unlock(&s->mu);
        if (n >= want)
            break;
        usleep(2000);
    }
    return n;
}

static void
listener_should_take_udp_and_tcp_and_count_garbage(void **state)
{
    struct sink s = { PTHREAD_MUTEX_INITIALIZER, { { 0 } }, { { 0 } }, 0 };
    struct eng_syslog_listener *l = NULL;
    struct errbuf               eb = { 0 };
    struct sockaddr_in          sa = { 0 };
    long long                   rec = 0, rej = 0;
    const char                 *tcp = "17 <13>over tcp one\n<13>over tcp two\n";
    int                         fd, i;

    (void)state;
    assert_int_equal(eng_syslog_listen("127.0.0.1:0", on_msg, &s, &l, &eb), 0);
    assert_true(eng_syslog_port(l) > 0);
    sa.sin_family = AF_INET;
    sa.sin_port = htons((uint16_t)eng_syslog_port(l));
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);

    fd = socket(AF_INET, SOCK_DGRAM, 0);
    assert_true(fd >= 0);
    assert_true(
        sendto(fd, "<13>via udp", 11, 0, (struct sockaddr *)&sa, sizeof(sa))
        == 11);
    assert_true(
        sendto(fd, "garbage", 7, 0, (struct sockaddr *)&sa, sizeof(sa)) == 7);
    close(fd);
    assert_int_equal(sink_count(&s, 1), 1);

    fd = socket(AF_INET, SOCK_STREAM, 0);
    assert_int_equal(connect(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
    assert_true(write(fd, tcp, strlen(tcp)) == (ssize_t)strlen(tcp));
    assert_int_equal(sink_count(&s, 3), 3);
    close(fd);
    for (i = 0; i < 100; i++) {
        eng_syslog_counts(l, &rec, &rej);
        if (rej == 1)
            break;
        usleep(2000);
    }
    eng_syslog_stop(l);
    assert_string_equal(s.got[0], "via udp");
    assert_string_equal(s.got[1], "over tcp one");
    assert_string_equal(s.got[2], "over tcp two");
    /* the sender's address, of the datagram and of the TCP peer */
    assert_string_equal(s.from[0], "127.0.0.1");
    assert_string_equal(s.from[1], "127.0.0.1");
    assert_string_equal(s.from[2], "127.0.0.1");
    assert_int_equal(rec, 3);
    assert_int_equal(rej, 1);
}

/* Waits until the listener has received want messages; returns how many. */
static long long
received(struct eng_syslog_listener *l, long long want)
{
    long long rec = 0, rej = 0;

    for (int i = 0; i < 1000 && rec < want; i++) {
        eng_syslog_counts(l, &rec, &rej);
        if (rec < want)
            usleep(2000);
    }
    return rec;
}

static void
listener_should_close_the_longest_silent_tcp_sender_when_full(void **state)
{
    struct sink s = { PTHREAD_MUTEX_INITIALIZER, { { 0 } }, { { 0 } }, 0 };
    struct eng_syslog_listener *l = NULL;
    struct errbuf               eb = { 0 };
    struct sockaddr_in          sa = { 0 };
    struct timeval              tv = { 5, 0 };
    int                         fd[65], i;
    char                        c;

    (void)state;
    assert_int_equal(eng_syslog_listen("127.0.0.1:0", on_msg, &s, &l, &eb), 0);
    sa.sin_family = AF_INET;
    sa.sin_port = htons((uint16_t)eng_syslog_port(l));
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    /* 64 connections (the limit): the first stays silent, the others each
     * send a message, so the first is the one silent longest */
    for (i = 0; i < 64; i++) {
        fd[i] = socket(AF_INET, SOCK_STREAM, 0);
        assert_int_equal(connect(fd[i], (struct sockaddr *)&sa, sizeof(sa)), 0);
        if (i == 0)
            usleep(50000);
    }
    usleep(50000);
    for (i = 1; i < 64; i++)
        assert_true(write(fd[i], "<13>hello\n", 10) == 10);
    assert_int_equal(received(l, 63), 63);
    /* one more sender: it is served, and the silent one is closed */
    fd[64] = socket(AF_INET, SOCK_STREAM, 0);
    assert_int_equal(connect(fd[64], (struct sockaddr *)&sa, sizeof(sa)), 0);
    assert_true(write(fd[64], "<13>newcomer\n", 13) == 13);
    assert_int_equal(received(l, 64), 64);
    setsockopt(fd[0], SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    assert_int_equal(read(fd[0], &c, 1), 0); /* EOF: closed by herald */
    /* the others are still served */
    assert_true(write(fd[1], "<13>still here\n", 15) == 15);
    assert_int_equal(received(l, 65), 65);
    for (i = 0; i < 65; i++)
        close(fd[i]);
    eng_syslog_stop(l);
}

static void
listener_should_refuse_a_bad_address(void **state)
{
    struct eng_syslog_listener *l = NULL;
    struct errbuf               eb = { 0 };

    (void)state;
    assert_int_equal(eng_syslog_listen("127.0.0.1", on_msg, NULL, &l, &eb),
        ERR_INVAL);
    assert_non_null(strstr(eb.msg, "HOST:PORT"));
    assert_null(l);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(parser_should_read_rfc3164),
        cmocka_unit_test(parser_should_read_rfc5424),
        cmocka_unit_test(parser_should_read_cisco_remote_lines),
        cmocka_unit_test(parser_should_not_take_lookalikes_for_cisco_lines),
        cmocka_unit_test(parser_should_reject_garbage_with_a_reason),
        cmocka_unit_test(
            framing_should_split_octet_counted_and_newline_streams),
        cmocka_unit_test(match_should_need_occurs_within_period_and_priority),
        cmocka_unit_test(listener_should_take_udp_and_tcp_and_count_garbage),
        cmocka_unit_test(listener_should_refuse_a_bad_address),
        cmocka_unit_test(
            listener_should_close_the_longest_silent_tcp_sender_when_full),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
