/* SPDX-License-Identifier: MIT */
/*
 * tests/unit/oauth/test_http.c: the token client's pure parts: the
 * token_url parser (https only), the form body and the request, and the
 * HTTP/1.1 answer parser (Content-Length, chunked, read to close) with bad
 * input: over the limits, truncated, a bad status line, bad chunk sizes.
 * Every bad input must give a clear error, never a crash; every prefix of
 * a good answer must be "incomplete", never an error.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/sec.h"
#include "engine/oauth/oauth_int.h"

/* ---- token_url ---------------------------------------------------------- */

static void
url_parser_should_take_https_with_default_and_given_ports(void **state)
{
    struct oauth_url u;
    struct errbuf    eb = { 0 };

    (void)state;
    assert_int_equal(oauth_url_parse("https://login.microsoftonline.com/"
                                     "tenant-id/oauth2/v2.0/token",
                         &u, &eb),
        0);
    assert_string_equal(u.host, "login.microsoftonline.com");
    assert_int_equal(u.port, 443);
    assert_string_equal(u.path, "/tenant-id/oauth2/v2.0/token");
    assert_int_equal(oauth_url_parse("HTTPS://127.0.0.1:8443", &u, &eb), 0);
    assert_string_equal(u.host, "127.0.0.1");
    assert_int_equal(u.port, 8443);
    assert_string_equal(u.path, "/");
    assert_int_equal(oauth_url_parse("https://[::1]:9443/token?x=1#frag", &u,
                         &eb),
        0);
    assert_string_equal(u.host, "::1");
    assert_true(u.v6);
    assert_int_equal(u.port, 9443);
    assert_string_equal(u.path, "/token?x=1");
    assert_int_equal(oauth_url_parse("https://h?q=1", &u, &eb), 0);
    assert_string_equal(u.path, "/?q=1");
}

static void
url_parser_should_refuse_anything_but_https(void **state)
{
    const char      *bad[] = { "http://login.example.com/token", "ftp://x/y",
             "login.example.com/token", "https://", "https:///x",
             "https://user:pw@host/token", "https://host:0/", "https://host:70000/",
             "https://host:/", "https://host:44x3/", "https://[::1/token",
             "https://host/a b", "https://host/\r\nX: y", "", NULL };
    struct oauth_url u;
    struct errbuf    eb;

    (void)state;
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        memset(&eb, 0, sizeof(eb));
        if (oauth_url_parse(bad[i], &u, &eb) != ERR_INVAL)
            fail_msg("accepted \"%s\"", bad[i] ? bad[i] : "(null)");
        assert_string_equal(eb.code, "invalid_request");
        assert_true(eb.msg[0] != '\0');
    }
    memset(&eb, 0, sizeof(eb));
    oauth_url_parse("http://x/", &u, &eb);
    assert_non_null(strstr(eb.msg, "https://"));
}

/* ---- the request -------------------------------------------------------- */

static void
form_should_encode_the_client_credentials_grant(void **state)
{
    struct sec           *secret = sec_new("s3cr&t=+/ ", 10);
    struct eng_oauth_cred cred = { .name = "m365",
        .grant = ENG_OAUTH_CLIENT_CREDENTIALS,
        .token_url = "https://login.example/t",
        .client_id = "app-1",
        .client_secret = secret,
        .scope = "https://outlook.office365.com/.default" };
    struct errbuf         eb = { 0 };
    size_t                n;
    char                 *f = oauth_form_new(&cred, NULL, &n, &eb);

    (void)state;
    assert_non_null(f);
    assert_int_equal(n, strlen(f));
    assert_string_equal(f,
        "grant_type=client_credentials&client_id=app-1&client_secret="
        "s3cr%26t%3D%2B%2F%20&scope=https%3A%2F%2Foutlook.office365.com%2F."
        "default");
    free(f);
    cred.client_secret = NULL;
    assert_null(oauth_form_new(&cred, NULL, &n, &eb));
    assert_string_equal(eb.code, "invalid_request");
    sec_free(secret);
}

static void
form_should_carry_the_refresh_token_for_the_refresh_grant(void **state)
{
    struct sec           *rt = sec_new("1//refresh", 10);
    struct eng_oauth_cred cred = { .name = "g",
        .grant = ENG_OAUTH_REFRESH_TOKEN,
        .token_url = "https://oauth2.googleapis.com/token",
        .client_id = "id.apps.googleusercontent.com" };
    struct errbuf         eb = { 0 };
    size_t                n;
    char                 *f;

    (void)state;
    assert_null(oauth_form_new(&cred, NULL, &n, &eb));
    assert_non_null(strstr(eb.msg, "refresh_token"));
    f = oauth_form_new(&cred, rt, &n, &eb);
    assert_non_null(f);
    assert_string_equal(f,
        "grant_type=refresh_token&refresh_token=1%2F%2Frefresh&client_id=id."
        "apps.googleusercontent.com");
    free(f);
    cred.client_id = "";
    assert_null(oauth_form_new(&cred, rt, &n, &eb));
    sec_free(rt);
}

static void
request_should_be_one_post_with_connection_close(void **state)
{
    struct oauth_url u;
    size_t           n;
    char            *rq;

    (void)state;
    assert_int_equal(oauth_url_parse("https://[::1]:8443/tok", &u, NULL), 0);
    rq = oauth_request_new(&u, "a=b", 3, &n);
    assert_non_null(rq);
    assert_int_equal(n, strlen(rq));
    assert_true(
        strncmp(rq, "POST /tok HTTP/1.1\r\nHost: [::1]:8443\r\n", 38) == 0);
    assert_non_null(
        strstr(rq, "\r\nContent-Type: application/x-www-form-urlencoded\r\n"));
    assert_non_null(strstr(rq, "\r\nContent-Length: 3\r\n"));
    assert_non_null(strstr(rq, "\r\nConnection: close\r\n\r\na=b"));
    free(rq);
    assert_int_equal(oauth_url_parse("https://h/t", &u, NULL), 0);
    rq = oauth_request_new(&u, "", 0, &n);
    assert_non_null(strstr(rq, "\r\nHost: h\r\n"));
    free(rq);
}

/* ---- the answer ---------------------------------------------------------- */

static int
parse(const char *s, int eof, struct oauth_http_resp *r, struct errbuf *eb)
{
    memset(eb, 0, sizeof(*eb));
    return oauth_http_parse(s, strlen(s), eof, r, eb);
}

static void
answer_parser_should_read_a_content_length_body(void **state)
{
    const char *a = "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                    "Content-Length: 13\r\n\r\n{\"a\":\"bcde\"}\n";
    struct oauth_http_resp r;
    struct errbuf          eb;

    (void)state;
    assert_int_equal(parse(a, 0, &r, &eb), 1);
    assert_int_equal(r.status, 200);
    assert_int_equal(r.content_length, 13);
    assert_string_equal(r.content_type, "application/json");
    assert_int_equal(r.body_len, 13);
    assert_memory_equal(a + r.body_off, "{\"a\":\"bcde\"}\n", 13);
    /* every prefix: incomplete, never an error */
    for (size_t i = 0; i < strlen(a); i++) {
        assert_int_equal(oauth_http_parse(a, i, 0, &r, &eb), 0);
        /* and at eof: a clear error */
        memset(&eb, 0, sizeof(eb));
        assert_int_equal(oauth_http_parse(a, i, 1, &r, &eb), ERR_PROTO);
        assert_true(eb.msg[0] != '\0');
    }
}

static void
answer_parser_should_read_to_close_without_a_length(void **state)
{
    const char *a = "HTTP/1.0 400 Bad Request\nServer: x\n\n{\"error\":1}";
    struct oauth_http_resp r;
    struct errbuf          eb;

    (void)state;
    assert_int_equal(parse(a, 0, &r, &eb), 0);
    assert_int_equal(parse(a, 1, &r, &eb), 1);
    assert_int_equal(r.status, 400);
    assert_int_equal(r.body_len, 11);
    assert_memory_equal(a + r.body_off, "{\"error\":1}", 11);
}

static void
answer_parser_should_decode_chunks(void **state)
{
    char a[] = "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
               "5;ext=1\r\n{\"a\":\r\nA \r\n\"0123456\"}\r\n0\r\n"
               "X-Trailer: y\r\n\r\n";
    struct oauth_http_resp r;
    struct errbuf          eb;

    (void)state;
    for (size_t i = 0; i < strlen(a); i++)
        assert_int_equal(oauth_http_parse(a, i, 0, &r, &eb), 0);
    assert_int_equal(parse(a, 0, &r, &eb), 1);
    assert_true(r.chunked);
    assert_int_equal(r.body_len, 15);
    oauth_http_body(a, &r);
    assert_int_equal(r.body_len, 15);
    assert_memory_equal(a + r.body_off, "{\"a\":\"0123456\"}", 15);
}

static void
answer_parser_should_skip_100_continue(void **state)
{
    const char *a = "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\n"
                    "Content-Length: 2\r\n\r\n{}";
    struct oauth_http_resp r;
    struct errbuf          eb;

    (void)state;
    assert_int_equal(parse(a, 0, &r, &eb), 1);
    assert_int_equal(r.status, 200);
    assert_int_equal(r.body_len, 2);
}

static void
answer_parser_should_name_what_is_wrong(void **state)
{
    static const struct {
        const char *in;
        int         rc;
        const char *code;
        const char *msg;
    } cases[] = {
        { "", ERR_PROTO, "no_answer", "without an answer" },
        { "220 mx.example ESMTP\r\n", ERR_PROTO, "not_http", "220 mx" },
        { "HTTP/2 200\r\n\r\n", ERR_PROTO, "not_http", "HTTP/2" },
        { "HTTP/1.1 20 OK\r\n\r\n", ERR_PROTO, "not_http", "status line" },
        { "HTTP/1.1 999 OK\r\n\r\n", ERR_PROTO, "not_http", "status line" },
        { "HTTP/1.1 200OK\r\n\r\n", ERR_PROTO, "not_http", "status line" },
        { "HTTP/1.1 200 OK\r\nNoColon\r\n\r\n", ERR_PROTO, "bad_header",
            "NoColon" },
        { "HTTP/1.1 200 OK\r\nContent-Length: 12a\r\n\r\n", ERR_PROTO,
            "bad_header", "not a number" },
        { "HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Length: 3\r\n\r\n",
            ERR_PROTO, "bad_header", "two different" },
        { "HTTP/1.1 200 OK\r\nContent-Length: 99999999999999999999\r\n\r\n",
            ERR_TOOBIG, "reply_too_big", "65536" },
        { "HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, chunked\r\n\r\n",
            ERR_PROTO, "unsupported", "gzip" },
        { "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nab\r\n",
            ERR_PROTO, "bad_chunk", "zz" },
        { "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n\r\n",
            ERR_PROTO, "bad_chunk", "chunk size" },
        { "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
          "FFFFFFFFFFFFFFFFFFFF\r\n",
            ERR_TOOBIG, "reply_too_big", "chunk" },
        { "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
          "2\r\nabc\r\n0\r\n\r\n",
            ERR_PROTO, "bad_chunk", "wrong chunk size" },
        { "HTTP/1.1 200 OK\r\n Folded: x\r\n\r\n", ERR_PROTO, "bad_header",
            "folded" },
    };
    struct oauth_http_resp r;
    struct errbuf          eb;

    (void)state;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        int rc = parse(cases[i].in, 1, &r, &eb);

        if (rc != cases[i].rc || strcmp(eb.code, cases[i].code) != 0
            || strstr(eb.msg, cases[i].msg) == NULL)
            fail_msg("case %zu: rc %d code %s msg \"%s\"; expected %d %s "
                     "\"%s\"",
                i, rc, eb.code, eb.msg, cases[i].rc, cases[i].code,
                cases[i].msg);
    }
}

static void
answer_parser_should_refuse_truncated_answers_at_eof(void **state)
{
    struct oauth_http_resp r;
    struct errbuf          eb;

    (void)state;
    assert_int_equal(parse("HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\n"
                           "{}",
                         1, &r, &eb),
        ERR_PROTO);
    assert_non_null(strstr(eb.msg, "2 of the 10"));
    assert_int_equal(parse("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n"
                           "\r\n5\r\nab",
                         1, &r, &eb),
        ERR_PROTO);
    assert_non_null(strstr(eb.msg, "last chunk"));
    assert_int_equal(parse("HTTP/1.1 200 OK\r\nX: y", 1, &r, &eb), ERR_PROTO);
    assert_non_null(strstr(eb.msg, "headers"));
}

static void
answer_parser_should_bound_the_headers(void **state)
{
    size_t                 n = OAUTH_HEAD_MAX + 100;
    char                  *a = malloc(n + 1);
    struct oauth_http_resp r;
    struct errbuf          eb = { 0 };

    (void)state;
    memcpy(a, "HTTP/1.1 200 OK\r\nX-Big: ", 24);
    memset(a + 24, 'x', n - 24);
    a[n] = '\0';
    assert_int_equal(oauth_http_parse(a, n, 0, &r, &eb), ERR_TOOBIG);
    assert_non_null(strstr(eb.msg, "headers longer"));
    memset(a, 'H', n);
    assert_int_equal(oauth_http_parse(a, n, 0, &r, &eb), ERR_TOOBIG);
    free(a);
}

static void
answer_parser_should_survive_garbage(void **state)
{
    const char *seed = "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n"
                       "Content-Length: 4\r\n\r\n4\r\nabcd\r\n0\r\n\r\n";
    size_t      n = strlen(seed);
    char        buf[256];
    unsigned    x = 12345;

    (void)state;
    for (int round = 0; round < 20000; round++) {
        struct oauth_http_resp r;
        struct errbuf          eb = { 0 };
        int                    rc;

        memcpy(buf, seed, n + 1);
        for (int k = 0; k < 3; k++) {
            x = x * 1103515245u + 12345u;
            buf[(x >> 8) % n] = (char)(x >> 16);
        }
        rc = oauth_http_parse(buf, n, round & 1, &r, &eb);
        if (rc < 0)
            assert_true(eb.msg[0] != '\0');
        if (rc == 1) {
            assert_true(r.body_off <= n);
            oauth_http_body(buf, &r);
            assert_true(r.body_off + r.body_len <= n);
        }
    }
}

static void
text_should_drop_control_characters_and_cut(void **state)
{
    char out[64];

    (void)state;
    oauth_text("AADSTS7000215: Invalid\r\nTrace ID: 1\r\n", 37, 200, out,
        sizeof(out));
    assert_string_equal(out, "AADSTS7000215: Invalid Trace ID: 1");
    oauth_text("abcdefghij", 10, 5, out, sizeof(out));
    assert_string_equal(out, "abcde...");
    oauth_text("ab\xc3\xa9"
               "cd",
        6, 3, out, sizeof(out));
    assert_string_equal(out, "ab...");
    oauth_text("\x01\x02", 2, 5, out, sizeof(out));
    assert_string_equal(out, "");
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(
            url_parser_should_take_https_with_default_and_given_ports),
        cmocka_unit_test(url_parser_should_refuse_anything_but_https),
        cmocka_unit_test(form_should_encode_the_client_credentials_grant),
        cmocka_unit_test(
            form_should_carry_the_refresh_token_for_the_refresh_grant),
        cmocka_unit_test(request_should_be_one_post_with_connection_close),
        cmocka_unit_test(answer_parser_should_read_a_content_length_body),
        cmocka_unit_test(answer_parser_should_read_to_close_without_a_length),
        cmocka_unit_test(answer_parser_should_decode_chunks),
        cmocka_unit_test(answer_parser_should_skip_100_continue),
        cmocka_unit_test(answer_parser_should_name_what_is_wrong),
        cmocka_unit_test(answer_parser_should_refuse_truncated_answers_at_eof),
        cmocka_unit_test(answer_parser_should_bound_the_headers),
        cmocka_unit_test(answer_parser_should_survive_garbage),
        cmocka_unit_test(text_should_drop_control_characters_and_cut),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
