/* SPDX-License-Identifier: MIT */
/*
 * tests/unit/smtp/test_message.c: RFC 5322 message composition
 * (smtp_message_build) and the DATA encoding (smtp_data_encode): headers,
 * RFC 2047 subjects that decode back to the UTF-8 given, header injection
 * refused with the field named, CRLF normalisation, long lines, and
 * dot-stuffing.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine/smtp/smtp_int.h"

/* Returns the header block (up to the empty line) as a new string. */
static char *
headers_of(const char *msg)
{
    const char *e = strstr(msg, "\r\n\r\n");

    assert_non_null(e);
    return strndup(msg, (size_t)(e - msg) + 2);
}

/* Value of header name (unfolded, new string) or NULL. */
static char *
header(const char *msg, const char *name)
{
    char       *h = headers_of(msg), *out = NULL;
    size_t      nl = strlen(name);
    const char *p = h;

    while (*p != '\0') {
        if (strncmp(p, name, nl) == 0 && p[nl] == ':') {
            const char *v = p + nl + 1;
            size_t      cap = strlen(v) + 1, o = 0;

            out = malloc(cap);
            while (*v == ' ')
                v++;
            while (*v != '\0') {
                if (v[0] == '\r' && v[1] == '\n') {
                    if (v[2] != ' ' && v[2] != '\t')
                        break;
                    v += 2; /* unfold */
                    continue;
                }
                out[o++] = *v++;
            }
            out[o] = '\0';
            break;
        }
        p = strstr(p, "\r\n");
        p = p ? p + 2 : "";
    }
    free(h);
    return out;
}

static int
b64val(char c)
{
    const char *t =
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    const char *p = strchr(t, c);

    return p && c ? (int)(p - t) : -1;
}

/* Decodes "=?UTF-8?B?...?=" words of an unfolded header value. */
static char *
decode_2047(const char *v)
{
    char  *out = calloc(1, strlen(v) + 1);
    size_t o = 0;

    while ((v = strstr(v, "=?UTF-8?B?")) != NULL) {
        unsigned acc = 0;
        int      bits = 0;

        v += 10;
        for (; *v != '?'; v++) {
            int x = b64val(*v);

            if (*v == '=')
                continue;
            assert_true(x >= 0);
            acc = acc << 6 | (unsigned)x;
            bits += 6;
            if (bits >= 8) {
                out[o++] = (char)(acc >> (bits - 8));
                bits -= 8;
            }
        }
        assert_true(v[1] == '=');
    }
    out[o] = '\0';
    return out;
}

static char *
build(const struct smtp_message *m)
{
    struct buf    b = BUF_INIT;
    struct errbuf eb = { 0 };
    int           rc = smtp_message_build(m, &b, &eb);

    if (rc != 0)
        fail_msg("build failed: %s", eb.msg);
    return buf_take(&b);
}

static void
message_should_carry_the_rfc5322_headers(void **state)
{
    struct smtp_message m = { 0 };
    char               *msg, *v;

    (void)state;
    m.from = "alerts@example.com";
    m.to = "noc@example.com, ops@example.com";
    m.cc = "lead@example.org";
    m.subject = "This is my email subject";
    m.body = "This is my email body.";
    m.date = 1795000000; /* 2026-11-18T... UTC */
    msg = build(&m);
    v = header(msg, "Date");
    assert_string_equal(v, "Wed, 18 Nov 2026 11:06:40 +0000");
    free(v);
    v = header(msg, "Message-ID");
    assert_non_null(v);
    assert_true(v[0] == '<' && v[strlen(v) - 1] == '>');
    assert_non_null(strstr(v, "@example.com>"));
    free(v);
    v = header(msg, "From");
    assert_string_equal(v, "alerts@example.com");
    free(v);
    v = header(msg, "To");
    assert_string_equal(v, "noc@example.com, ops@example.com");
    free(v);
    v = header(msg, "Cc");
    assert_string_equal(v, "lead@example.org");
    free(v);
    v = header(msg, "Subject");
    assert_string_equal(v, "This is my email subject");
    free(v);
    v = header(msg, "MIME-Version");
    assert_string_equal(v, "1.0");
    free(v);
    v = header(msg, "Content-Type");
    assert_string_equal(v, "text/plain; charset=UTF-8");
    free(v);
    v = header(msg, "Content-Transfer-Encoding");
    assert_string_equal(v, "7bit");
    free(v);
    assert_non_null(strstr(msg, "\r\n\r\nThis is my email body.\r\n"));
    /* every line ends in CRLF: no bare LF or CR anywhere */
    for (const char *p = msg; *p; p++) {
        if (*p == '\n')
            assert_true(p > msg && p[-1] == '\r');
        if (*p == '\r')
            assert_true(p[1] == '\n');
    }
    free(msg);
}

/* 64 messages: more than one refill of the random pool (21 ids each) */
static void
message_ids_should_differ_between_messages(void **state)
{
    struct smtp_message m = { 0 };
    char               *msg, *id[64];
    size_t              i, j, k;

    (void)state;
    m.from = "a@example.com";
    m.to = "b@example.com";
    m.subject = "s";
    m.body = "b";
    m.msgid_domain = "herald.test";
    for (i = 0; i < 64; i++) {
        msg = build(&m);
        id[i] = header(msg, "Message-ID");
        free(msg);
        /* <24 hex digits.unix time@domain> */
        assert_int_equal(id[i][0], '<');
        for (k = 1; k <= 24; k++)
            assert_non_null(strchr("0123456789abcdef", id[i][k]));
        assert_int_equal(id[i][25], '.');
        assert_non_null(strstr(id[i], "@herald.test>"));
        for (j = 0; j < i; j++)
            assert_string_not_equal(id[i], id[j]);
    }
    for (i = 0; i < 64; i++)
        free(id[i]);
}

static void
utf8_subject_should_be_rfc2047_encoded_and_decode_back(void **state)
{
    static const char *subjects[] = {
        "Störung: Schnittstelle Gi0/1 ist ausgefallen",
        "障害: インターフェース Gi0/1 がダウンしました。至急確認してください。"
        "繰り返します、至急確認してください。",
        "é",
    };

    (void)state;
    for (size_t i = 0; i < 3; i++) {
        struct smtp_message m = { 0 };
        char               *msg, *v, *dec, *h;

        m.from = "a@example.com";
        m.to = "b@example.com";
        m.subject = subjects[i];
        m.body = "x";
        msg = build(&m);
        h = headers_of(msg);
        /* the header block itself is pure ASCII, lines <= 78 */
        for (const char *p = h, *ls = h; *p; p++) {
            assert_true((unsigned char)*p < 0x80);
            if (*p == '\n') {
                assert_true(p - ls <= 79);
                ls = p + 1;
            }
        }
        v = header(msg, "Subject");
        assert_non_null(strstr(v, "=?UTF-8?B?"));
        dec = decode_2047(v);
        assert_string_equal(dec, subjects[i]);
        free(dec);
        free(v);
        free(h);
        free(msg);
    }
}

static void
long_ascii_subject_should_be_folded(void **state)
{
    struct smtp_message m = { 0 };
    char               *msg, *v, *h;
    const char         *subj =
        "word word word word word word word word word "
        "word word word word word word word word word word word word end";

    (void)state;
    m.from = "a@example.com";
    m.to = "b@example.com";
    m.subject = subj;
    m.body = "";
    msg = build(&m);
    h = headers_of(msg);
    assert_non_null(strstr(h, "\r\n word"));
    v = header(msg, "Subject");
    assert_string_equal(v, subj);
    free(v);
    free(h);
    free(msg);
}

static void
header_values_with_cr_or_lf_should_be_refused_naming_the_field(void **state)
{
    static const struct {
        const char         *field;
        struct smtp_message m;
    } cases[] = {
        { "subject",
            { "a@example.com", "b@example.com", NULL,
                "hi\r\nBcc: victim@example.net", "x", NULL, 0 } },
        { "subject",
            { "a@example.com", "b@example.com", NULL, "hi\nX: y", "x", NULL,
                0 } },
        { "from",
            { "a@example.com\r\nBcc: v@example.net", "b@example.com", NULL, "s",
                "x", NULL, 0 } },
        { "to",
            { "a@example.com", "b@example.com\nBcc: v@example.net", NULL, "s",
                "x", NULL, 0 } },
        { "cc",
            { "a@example.com", "b@example.com", "c@example.com\r", "s", "x",
                NULL, 0 } },
    };

    (void)state;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct buf    b = BUF_INIT;
        struct errbuf eb = { 0 };

        assert_int_equal(smtp_message_build(&cases[i].m, &b, &eb), ERR_INVAL);
        assert_string_equal(eb.field, cases[i].field);
        assert_non_null(strstr(eb.msg, "CR or LF"));
        assert_int_equal(b.len, 0);
        buf_free(&b);
    }
}

static void
bad_addresses_should_be_refused_naming_the_field(void **state)
{
    struct smtp_message m = { "alerts@example.com", "noc.example.com", NULL,
        "s", "b", NULL, 0 };
    struct buf          b = BUF_INIT;
    struct errbuf       eb = { 0 };

    (void)state;
    assert_int_equal(smtp_message_build(&m, &b, &eb), ERR_INVAL);
    assert_string_equal(eb.field, "to");
    assert_non_null(strstr(eb.msg, "noc.example.com"));
    m.to = "noc@example.com";
    m.from = "a@example.com b@example.com";
    assert_int_equal(smtp_message_build(&m, &b, &eb), ERR_INVAL);
    assert_string_equal(eb.field, "from");
    buf_free(&b);
}

static void
body_line_endings_should_become_crlf(void **state)
{
    struct smtp_message m = { 0 };
    char               *msg;

    (void)state;
    m.from = "a@example.com";
    m.to = "b@example.com";
    m.subject = "s";
    m.body = "one\ntwo\r\nthree\rfour";
    msg = build(&m);
    assert_non_null(strstr(msg, "\r\n\r\none\r\ntwo\r\nthree\r\nfour\r\n"));
    free(msg);
}

static void
utf8_body_should_be_8bit_and_long_lines_quoted_printable(void **state)
{
    struct smtp_message m = { 0 };
    char               *msg, *v, *body, *line;
    size_t              n = 2500;

    (void)state;
    m.from = "a@example.com";
    m.to = "b@example.com";
    m.subject = "s";
    m.body = "Grüße\n";
    msg = build(&m);
    v = header(msg, "Content-Transfer-Encoding");
    assert_string_equal(v, "8bit");
    free(v);
    free(msg);

    line = malloc(n + 1);
    for (size_t i = 0; i < n; i++)
        line[i] = (char)('a' + i % 26);
    line[n] = '\0';
    line[100] = '=';
    m.body = line;
    msg = build(&m);
    v = header(msg, "Content-Transfer-Encoding");
    assert_string_equal(v, "quoted-printable");
    free(v);
    body = strstr(msg, "\r\n\r\n") + 4;
    /* no line longer than 76, and decoding gives the line back */
    {
        char  *dec = malloc(n + 16);
        size_t o = 0;

        for (const char *p = body, *ls = body; *p; p++) {
            if (*p == '\n') {
                assert_true(p - ls - 1 <= 76);
                ls = p + 1;
            }
        }
        for (const char *p = body; *p;) {
            if (p[0] == '=' && p[1] == '\r' && p[2] == '\n')
                p += 3;
            else if (p[0] == '=') {
                unsigned x;

                assert_int_equal(sscanf(p + 1, "%2X", &x), 1);
                dec[o++] = (char)x;
                p += 3;
            } else if (p[0] == '\r' && p[1] == '\n')
                p += 2;
            else
                dec[o++] = *p++;
        }
        dec[o] = '\0';
        assert_string_equal(dec, line);
        free(dec);
    }
    free(msg);
    free(line);
}

static void
data_encoding_should_dot_stuff_and_terminate(void **state)
{
    struct buf  b = BUF_INIT;
    size_t      bad;
    int         eight;
    const char *msg = "Subject: x\n\n.hidden line\n..two dots\nlast\n.";

    (void)state;
    assert_int_equal(smtp_data_encode(msg, strlen(msg), &b, &eight, &bad), 0);
    assert_string_equal(buf_str(&b),
        "Subject: x\r\n\r\n..hidden line\r\n"
        "...two dots\r\nlast\r\n..\r\n.\r\n");
    assert_int_equal(eight, 0);
    buf_free(&b);
}

static void
data_encoding_should_refuse_lines_over_998_bytes(void **state)
{
    struct buf b = BUF_INIT;
    size_t     bad = 0;
    int        eight;
    char       msg[1200];

    (void)state;
    memset(msg, 'x', sizeof(msg));
    memcpy(msg, "ok\r\n", 4);
    assert_int_equal(smtp_data_encode(msg, sizeof(msg), &b, &eight, &bad),
        ERR_TOOBIG);
    assert_int_equal(bad, 2);
    buf_free(&b);
    /* 998 is still fine */
    memset(msg, 'x', 998);
    assert_int_equal(smtp_data_encode(msg, 998, &b, &eight, &bad), 0);
    buf_free(&b);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(message_should_carry_the_rfc5322_headers),
        cmocka_unit_test(message_ids_should_differ_between_messages),
        cmocka_unit_test(
            utf8_subject_should_be_rfc2047_encoded_and_decode_back),
        cmocka_unit_test(long_ascii_subject_should_be_folded),
        cmocka_unit_test(
            header_values_with_cr_or_lf_should_be_refused_naming_the_field),
        cmocka_unit_test(bad_addresses_should_be_refused_naming_the_field),
        cmocka_unit_test(body_line_endings_should_become_crlf),
        cmocka_unit_test(
            utf8_body_should_be_8bit_and_long_lines_quoted_printable),
        cmocka_unit_test(data_encoding_should_dot_stuff_and_terminate),
        cmocka_unit_test(data_encoding_should_refuse_lines_over_998_bytes),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
