/* SPDX-License-Identifier: MIT */
/*
 * tests/unit/smtp/test_reply.c: the pure SMTP reply parser
 * (smtp_reply_feed): single and multiline replies, RFC 2034 enhanced status
 * codes, malformed lines, which must fail with a message naming the
 * problem, and the limits on a reply (SMTP_LINE_MAX, SMTP_REPLY_LINES,
 * SMTP_REPLY_MAX), each taken at the limit and refused one past it.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>

#include "engine/smtp/smtp.h"
#include "engine/smtp/smtp_int.h"

/* Feeds NULL-terminated lines; returns the last feed result. */
static int
feed_all(struct smtp_reply *r, const char *const *lines, struct errbuf *eb)
{
    int rc = 0;

    memset(r, 0, sizeof(*r));
    for (size_t i = 0; lines[i] != NULL; i++) {
        rc = smtp_reply_feed(r, lines[i], strlen(lines[i]), eb);
        if (rc != 0 && lines[i + 1] != NULL)
            fail_msg("reply ended early at line %zu (rc %d)", i + 1, rc);
        if (rc < 0)
            break;
    }
    return rc;
}

static void
reply_parser_should_read_a_single_line(void **state)
{
    const char       *l[] = { "220 mx.example ESMTP ready", NULL };
    struct smtp_reply r;
    struct errbuf     eb = { 0 };

    (void)state;
    assert_int_equal(feed_all(&r, l, &eb), 1);
    assert_int_equal(r.code, 220);
    assert_string_equal(r.text, "mx.example ESMTP ready");
    assert_string_equal(r.enhanced, "");
    assert_int_equal(r.nlines, 1);
}

static void
reply_parser_should_join_multiline(void **state)
{
    const char       *l[] = { "250-mx.example Hello", "250-PIPELINING",
              "250-SIZE 10240000", "250 AUTH PLAIN LOGIN", NULL };
    struct smtp_reply r;
    struct errbuf     eb = { 0 };

    (void)state;
    memset(&r, 0, sizeof(r));
    assert_int_equal(smtp_reply_feed(&r, l[0], strlen(l[0]), &eb), 0);
    assert_int_equal(r.code, 0); /* incomplete */
    assert_int_equal(smtp_reply_feed(&r, l[1], strlen(l[1]), &eb), 0);
    assert_int_equal(smtp_reply_feed(&r, l[2], strlen(l[2]), &eb), 0);
    assert_int_equal(smtp_reply_feed(&r, l[3], strlen(l[3]), &eb), 1);
    assert_int_equal(r.code, 250);
    assert_int_equal(r.nlines, 4);
    assert_string_equal(r.text,
        "mx.example Hello\nPIPELINING\nSIZE 10240000\nAUTH PLAIN LOGIN");
}

static void
reply_parser_should_split_enhanced_codes(void **state)
{
    const char       *l[] = { "535-5.7.8 Username and Password not accepted.",
              "535 5.7.8 Learn more at https://support.example/", NULL };
    struct smtp_reply r;
    struct errbuf     eb = { 0 };

    (void)state;
    assert_int_equal(feed_all(&r, l, &eb), 1);
    assert_int_equal(r.code, 535);
    assert_string_equal(r.enhanced, "5.7.8");
    assert_string_equal(r.text,
        "Username and Password not accepted.\n"
        "Learn more at https://support.example/");
}

static void
reply_parser_should_not_take_a_mismatched_class_as_enhanced(void **state)
{
    /* "4.1.1" cannot be the enhanced code of a 5xx reply: it is text */
    const char       *l[] = { "550 4.1.1 odd", NULL };
    struct smtp_reply r;
    struct errbuf     eb = { 0 };

    (void)state;
    assert_int_equal(feed_all(&r, l, &eb), 1);
    assert_string_equal(r.enhanced, "");
    assert_string_equal(r.text, "4.1.1 odd");
}

static void
reply_parser_should_accept_a_bare_code(void **state)
{
    const char       *l[] = { "250", NULL };
    struct smtp_reply r;
    struct errbuf     eb = { 0 };

    (void)state;
    assert_int_equal(feed_all(&r, l, &eb), 1);
    assert_int_equal(r.code, 250);
    assert_string_equal(r.text, "");
}

static void
reply_parser_should_reject_malformed_lines_with_a_reason(void **state)
{
    static const struct {
        const char *line;
        const char *why; /* a word the message must contain */
    } bad[] = {
        { "", "3-digit" },
        { "25", "3-digit" },
        { "hello world", "3-digit" },
        { "2x0 ok", "3-digit" },
        { "250_ok", "space or '-'" },
        { "650 ok", "outside 2xx-5xx" },
        { "150 ok", "outside 2xx-5xx" },
    };

    (void)state;
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        struct smtp_reply r;
        struct errbuf     eb = { 0 };

        memset(&r, 0, sizeof(r));
        assert_int_equal(smtp_reply_feed(&r, bad[i].line, strlen(bad[i].line),
                             &eb),
            ERR_PROTO);
        if (strstr(eb.msg, bad[i].why) == NULL)
            fail_msg("line \"%s\": message \"%s\" lacks \"%s\"", bad[i].line,
                eb.msg, bad[i].why);
        assert_string_equal(eb.code, "bad_reply");
    }
}

static void
reply_parser_should_reject_a_code_change_inside_a_reply(void **state)
{
    struct smtp_reply r;
    struct errbuf     eb = { 0 };

    (void)state;
    memset(&r, 0, sizeof(r));
    assert_int_equal(smtp_reply_feed(&r, "250-first", 9, &eb), 0);
    assert_int_equal(smtp_reply_feed(&r, "251 second", 10, &eb), ERR_PROTO);
    assert_non_null(strstr(eb.msg, "line 2 has code 251"));
}

static void
reply_parser_should_truncate_huge_replies_safely(void **state)
{
    struct smtp_reply r;
    struct errbuf     eb = { 0 };
    char              line[600];

    (void)state;
    memset(&r, 0, sizeof(r));
    memcpy(line, "250-", 4);
    memset(line + 4, 'x', sizeof(line) - 4);
    for (int i = 0; i < 5; i++)
        assert_int_equal(smtp_reply_feed(&r, line, sizeof(line), &eb), 0);
    line[3] = ' ';
    assert_int_equal(smtp_reply_feed(&r, line, sizeof(line), &eb), 1);
    assert_int_equal(strlen(r.text), sizeof(r.text) - 1);
    assert_int_equal(r.nlines, 6);
}

/* A reply line of n octets: "250-" or "250 " and then 'x'. */
static char *
make_line(char *buf, size_t n, int last)
{
    memcpy(buf, last ? "250 " : "250-", 4);
    memset(buf + 4, 'x', n - 4);
    return buf;
}

static void
reply_parser_should_take_4096_octets_and_refuse_a_longer_line(void **state)
{
    static char       line[SMTP_LINE_MAX + 2];
    struct smtp_reply r;
    struct errbuf     eb = { 0 };

    (void)state;
    memset(&r, 0, sizeof(r));
    make_line(line, SMTP_LINE_MAX, 1);
    assert_int_equal(smtp_reply_feed(&r, line, SMTP_LINE_MAX, &eb), 1);
    assert_int_equal(r.size, SMTP_LINE_MAX + 2);
    memset(&r, 0, sizeof(r));
    make_line(line, SMTP_LINE_MAX + 1, 1);
    assert_int_equal(smtp_reply_feed(&r, line, SMTP_LINE_MAX + 1, &eb),
        ERR_TOOBIG);
    assert_string_equal(eb.code, "reply_too_big");
    assert_string_equal(eb.msg, "reply line longer than 4096 octets");
    assert_int_equal(r.nlines, 0);
}

static void
reply_parser_should_take_1000_lines_and_refuse_the_1001st(void **state)
{
    struct smtp_reply r;
    struct errbuf     eb = { 0 };
    int               i;

    (void)state;
    memset(&r, 0, sizeof(r));
    for (i = 0; i < SMTP_REPLY_LINES - 1; i++)
        assert_int_equal(smtp_reply_feed(&r, "250-x", 5, &eb), 0);
    assert_int_equal(smtp_reply_feed(&r, "250 x", 5, &eb), 1);
    assert_int_equal(r.nlines, SMTP_REPLY_LINES);
    memset(&r, 0, sizeof(r));
    for (i = 0; i < SMTP_REPLY_LINES; i++)
        assert_int_equal(smtp_reply_feed(&r, "250-x", 5, &eb), 0);
    assert_int_equal(smtp_reply_feed(&r, "250 x", 5, &eb), ERR_TOOBIG);
    assert_string_equal(eb.msg, "reply of more than 1000 lines");
    assert_int_equal(r.code, 0); /* never complete */
}

static void
reply_parser_should_take_64k_and_refuse_one_octet_more(void **state)
{
    static char       line[SMTP_LINE_MAX + 2];
    struct smtp_reply r;
    struct errbuf     eb = { 0 };
    /* 16 lines of 4094 octets + CRLF are exactly 65536 */
    size_t n = SMTP_REPLY_MAX / 16 - 2;

    (void)state;
    memset(&r, 0, sizeof(r));
    for (int i = 0; i < 15; i++)
        assert_int_equal(smtp_reply_feed(&r, make_line(line, n, 0), n, &eb), 0);
    assert_int_equal(smtp_reply_feed(&r, make_line(line, n, 1), n, &eb), 1);
    assert_int_equal(r.size, SMTP_REPLY_MAX);
    memset(&r, 0, sizeof(r));
    for (int i = 0; i < 15; i++)
        assert_int_equal(smtp_reply_feed(&r, make_line(line, n, 0), n, &eb), 0);
    assert_int_equal(smtp_reply_feed(&r, make_line(line, n + 1, 1), n + 1, &eb),
        ERR_TOOBIG);
    assert_string_equal(eb.msg, "reply of more than 65536 octets");
}

static void
reply_parser_should_count_each_reply_from_zero(void **state)
{
    struct smtp_reply r;
    struct errbuf     eb = { 0 };

    (void)state;
    memset(&r, 0, sizeof(r));
    assert_int_equal(smtp_reply_feed(&r, "250-a", 5, &eb), 0);
    assert_int_equal(smtp_reply_feed(&r, "250 b", 5, &eb), 1);
    assert_int_equal(r.size, 14);
    r.nlines = 0; /* the next reply, as the fuzz target and client do */
    assert_int_equal(smtp_reply_feed(&r, "354 go", 6, &eb), 1);
    assert_int_equal(r.size, 8);
}

static void
ehlo_caps_should_flag_the_oauth_mechanisms(void **state)
{
    const char *l[] = { "250-smtp.gmail.com at your service",
        "250-AUTH LOGIN PLAIN XOAUTH2 PLAIN-CLIENTTOKEN OAUTHBEARER XOAUTH",
        "250 STARTTLS", NULL };
    const char *l2[] = { "250-mx", "250-AUTH=LOGIN", "250 AUTH xoauth2", NULL };
    struct smtp_reply r;
    struct smtp_caps  caps;
    struct errbuf     eb = { 0 };

    (void)state;
    assert_int_equal(feed_all(&r, l, &eb), 1);
    smtp_caps_parse(&r, &caps);
    assert_true(caps.flags & SMTP_CAP_AUTH_XOAUTH2);
    assert_true(caps.flags & SMTP_CAP_AUTH_OAUTHBEARER);
    assert_true(caps.flags & SMTP_CAP_AUTH_PLAIN);
    assert_true(caps.flags & SMTP_CAP_STARTTLS);
    assert_string_equal(caps.auth_mechs,
        "LOGIN PLAIN XOAUTH2 PLAIN-CLIENTTOKEN OAUTHBEARER XOAUTH");
    /* case-insensitive; XOAUTH and PLAIN-CLIENTTOKEN are not XOAUTH2 */
    assert_int_equal(feed_all(&r, l2, &eb), 1);
    smtp_caps_parse(&r, &caps);
    assert_true(caps.flags & SMTP_CAP_AUTH_XOAUTH2);
    assert_false(caps.flags & SMTP_CAP_AUTH_OAUTHBEARER);
    assert_false(caps.flags & SMTP_CAP_AUTH_PLAIN);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(reply_parser_should_read_a_single_line),
        cmocka_unit_test(reply_parser_should_join_multiline),
        cmocka_unit_test(reply_parser_should_split_enhanced_codes),
        cmocka_unit_test(
            reply_parser_should_not_take_a_mismatched_class_as_enhanced),
        cmocka_unit_test(reply_parser_should_accept_a_bare_code),
        cmocka_unit_test(
            reply_parser_should_reject_malformed_lines_with_a_reason),
        cmocka_unit_test(
            reply_parser_should_reject_a_code_change_inside_a_reply),
        cmocka_unit_test(reply_parser_should_truncate_huge_replies_safely),
        cmocka_unit_test(
            reply_parser_should_take_4096_octets_and_refuse_a_longer_line),
        cmocka_unit_test(
            reply_parser_should_take_1000_lines_and_refuse_the_1001st),
        cmocka_unit_test(
            reply_parser_should_take_64k_and_refuse_one_octet_more),
        cmocka_unit_test(reply_parser_should_count_each_reply_from_zero),
        cmocka_unit_test(ehlo_caps_should_flag_the_oauth_mechanisms),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
