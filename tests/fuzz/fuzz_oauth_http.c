/* SPDX-License-Identifier: MIT */
/*
 * tests/fuzz/fuzz_oauth_http.c: the token endpoint's answer parser
 * (oauth_http_parse and oauth_http_body, engine/oauth/oauth_int.h) and the
 * token_url parser (oauth_url_parse, on the input's first line).
 *
 * The answer is parsed as the exchange does: once while the connection is
 * open (eof 0) and once after it closed (eof 1). Bad input must be refused
 * with ERR_PROTO or ERR_TOOBIG and a message; a complete answer must have
 * a status from 100 to 599 and a body inside the input, before and after
 * chunks are decoded in place; what is complete while open stays complete
 * with the same status at eof. An accepted URL has a host, a port from 1
 * to 65535 and a path starting with '/', without control characters.
 */
#include "engine/oauth/oauth_int.h"
#include "fuzz.h"

static void
check_answer(char *buf, size_t size, int eof, int *status)
{
    struct oauth_http_resp r;
    struct errbuf          eb;
    int                    rc;

    memset(&eb, 0, sizeof(eb));
    rc = oauth_http_parse(buf, size, eof, &r, &eb);
    fuzz_check(rc == 0 || rc == 1 || rc == ERR_PROTO || rc == ERR_TOOBIG,
        "oauth_http_parse returned %d", rc);
    fuzz_check_err("oauth_http_parse", rc < 0 ? rc : 0, &eb);
    fuzz_check(!eof || rc != 0, "oauth_http_parse wants more after eof");
    if (rc != 1)
        return;
    fuzz_check(r.status >= 100 && r.status <= 599, "status %d", r.status);
    fuzz_check(*status == 0 || *status == r.status,
        "status %d at eof, %d while open", r.status, *status);
    *status = r.status;
    fuzz_check(r.body_off <= size && r.body_len <= size - r.body_off,
        "body %zu+%zu outside %zu octets", r.body_off, r.body_len, size);
    if (eof) {
        size_t announced = r.body_len;

        oauth_http_body(buf, &r);
        fuzz_check(r.body_len == announced,
            "decoded body of %zu octets, parser said %zu", r.body_len,
            announced);
        fuzz_check(r.body_off + r.body_len <= size, "decoded body outside");
    }
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char            *buf = fuzz_strndup(data, size), *nl;
    struct oauth_url u;
    struct errbuf    eb;
    int              status = 0, rc;

    fuzz_quiet_logs();
    check_answer(buf, size, 0, &status);
    check_answer(buf, size, 1, &status);
    /* the first line as a token_url */
    memcpy(buf, data, size);
    buf[size] = '\0';
    if ((nl = strchr(buf, '\n')) != NULL)
        *nl = '\0';
    memset(&eb, 0, sizeof(eb));
    rc = oauth_url_parse(buf, &u, &eb);
    fuzz_check(rc == 0 || rc == ERR_INVAL, "oauth_url_parse returned %d", rc);
    fuzz_check_err("oauth_url_parse", rc, &eb);
    if (rc == 0) {
        fuzz_check(u.host[0] != '\0', "empty host accepted");
        fuzz_check(u.port >= 1 && u.port <= 65535, "port %u", u.port);
        fuzz_check(u.path[0] == '/', "path \"%s\"", u.path);
        for (const char *p = u.host; *p; p++)
            fuzz_check((unsigned char)*p > 0x20, "control in host");
        for (const char *p = u.path; *p; p++)
            fuzz_check((unsigned char)*p > 0x20 && *p != '#',
                "control or fragment in path");
    }
    free(buf);
    return 0;
}
