/* SPDX-License-Identifier: MIT */
/*
 * engine/smtp/smtp_reply.c: the pure SMTP reply parser (RFC 5321 4.2,
 * multiline "250-" continuation, RFC 2034 enhanced status codes), the EHLO
 * capability parser, and the helper that fills a classified smtp_result.
 *
 * Nothing here touches the network, so all of it is unit-tested directly.
 */
#include "engine/smtp/smtp_int.h"

#include <ctype.h>
#include <stddef.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* Length of an enhanced status code ("5.7.8") at the start of s that
 * matches the reply class, or 0. */
static size_t
smtp_enhanced_len(const char *s, size_t len, int klass)
{
    size_t i = 0, parts = 0;

    if (len < 5 || s[0] - '0' != klass || s[1] != '.')
        return 0;
    i = 2;
    for (parts = 1; parts < 3; parts++) {
        size_t d = 0;

        while (i < len && isdigit((unsigned char)s[i]) && d < 3) {
            i++;
            d++;
        }
        if (d == 0)
            return 0;
        if (parts == 1) {
            if (i >= len || s[i] != '.')
                return 0;
            i++;
        }
    }
    if (i < len && s[i] != ' ')
        return 0;
    return i;
}

/* How much of a reply line an error message quotes: lines come with a
 * length and are not NUL-terminated. */
static int
smtp_show(size_t len)
{
    return len < 40 ? (int)len : 40;
}

int
smtp_reply_feed(struct smtp_reply *r, const char *line, size_t len,
    struct errbuf *eb)
{
    int    code;
    size_t tl, el, cur;
    int    more;

    /* the limits first: what passes them is refused unread */
    if (len > SMTP_LINE_MAX)
        return err_set(eb, ERR_TOOBIG, "reply_too_big",
            "reply line longer than %d octets", SMTP_LINE_MAX);
    if (r->nlines >= SMTP_REPLY_LINES)
        return err_set(eb, ERR_TOOBIG, "reply_too_big",
            "reply of more than %d lines", SMTP_REPLY_LINES);
    if ((r->nlines > 0 ? r->size : 0) + len + 2 > SMTP_REPLY_MAX)
        return err_set(eb, ERR_TOOBIG, "reply_too_big",
            "reply of more than %d octets", SMTP_REPLY_MAX);
    if (len < 3)
        return err_set(eb, ERR_PROTO, "bad_reply",
            "malformed SMTP reply line (%zu bytes): a reply starts with a "
            "3-digit code",
            len);
    for (int i = 0; i < 3; i++)
        if (!isdigit((unsigned char)line[i]))
            return err_set(eb, ERR_PROTO, "bad_reply",
                "malformed SMTP reply line \"%.*s\": it does not start with "
                "a 3-digit code",
                smtp_show(len), line);
    code = (line[0] - '0') * 100 + (line[1] - '0') * 10 + (line[2] - '0');
    if (line[0] < '2' || line[0] > '5')
        return err_set(eb, ERR_PROTO, "bad_reply",
            "malformed SMTP reply line \"%.*s\": code %d is outside 2xx-5xx",
            smtp_show(len), line, code);
    if (len > 3 && line[3] != ' ' && line[3] != '-')
        return err_set(eb, ERR_PROTO, "bad_reply",
            "malformed SMTP reply line \"%.*s\": the code must be followed "
            "by a space or '-'",
            smtp_show(len), line);
    for (size_t i = 0; i < len; i++)
        if (line[i] == '\0' || line[i] == '\r' || line[i] == '\n')
            return err_set(eb, ERR_PROTO, "bad_reply",
                "malformed SMTP reply line \"%.*s\": NUL, CR or LF inside "
                "the line",
                smtp_show(len), line);
    if (r->nlines > 0 && r->pending != code)
        return err_set(eb, ERR_PROTO, "bad_reply",
            "malformed SMTP reply: line %zu has code %d but the reply started "
            "with %d",
            r->nlines + 1, code, r->pending);
    more = len > 3 && line[3] == '-';
    if (r->nlines == 0) {
        r->text[0] = '\0';
        r->enhanced[0] = '\0';
        r->code = 0;
        r->size = 0;
    }
    r->pending = code;
    r->size += len + 2;
    line += len > 3 ? 4 : 3;
    tl = len > 3 ? len - 4 : 0;
    /* enhanced code: taken from the first line, stripped from every line */
    el = smtp_enhanced_len(line, tl, code / 100);
    if (el > 0) {
        if (r->nlines == 0 && el < sizeof(r->enhanced)) {
            memcpy(r->enhanced, line, el);
            r->enhanced[el] = '\0';
        }
        line += el;
        tl -= el;
        if (tl > 0 && *line == ' ') {
            line++;
            tl--;
        }
    }
    cur = strlen(r->text);
    if (r->nlines > 0 && cur + 1 < sizeof(r->text))
        r->text[cur++] = '\n';
    if (tl > sizeof(r->text) - 1 - cur)
        tl = sizeof(r->text) - 1 - cur;
    memcpy(r->text + cur, line, tl);
    r->text[cur + tl] = '\0';
    r->nlines++;
    if (more)
        return 0;
    r->code = code;
    return 1;
}

/* Is the keyword at the start of line (up to a space or NUL) kw? */
static int
smtp_kw(const char *line, size_t n, const char *kw)
{
    size_t k = strlen(kw);

    return n >= k && strncasecmp(line, kw, k) == 0
        && (n == k || line[k] == ' ' || line[k] == '=');
}

void
smtp_caps_parse(const struct smtp_reply *r, struct smtp_caps *caps)
{
    const char *p = r->text, *nl;
    int         first = 1;

    memset(caps, 0, sizeof(*caps));
    for (; *p != '\0'; p = nl + 1, first = 0) {
        size_t n;

        nl = strchr(p, '\n');
        if (nl == NULL)
            nl = p + strlen(p);
        n = (size_t)(nl - p);
        if (!first) {
            if (smtp_kw(p, n, "STARTTLS"))
                caps->flags |= SMTP_CAP_STARTTLS;
            else if (smtp_kw(p, n, "8BITMIME"))
                caps->flags |= SMTP_CAP_8BITMIME;
            else if (smtp_kw(p, n, "SMTPUTF8"))
                caps->flags |= SMTP_CAP_SMTPUTF8;
            else if (smtp_kw(p, n, "PIPELINING"))
                caps->flags |= SMTP_CAP_PIPELINING;
            else if (smtp_kw(p, n, "CHUNKING"))
                caps->flags |= SMTP_CAP_CHUNKING;
            else if (smtp_kw(p, n, "SIZE")) {
                caps->flags |= SMTP_CAP_SIZE;
                if (n > 5)
                    caps->size_max = (size_t)strtoull(p + 5, NULL, 10);
            } else if (smtp_kw(p, n, "AUTH")) {
                const char *m = p + 5;
                size_t      ml = n > 5 ? n - 5 : 0;
                char        word[32];

                caps->flags |= SMTP_CAP_AUTH;
                if (ml >= sizeof(caps->auth_mechs))
                    ml = sizeof(caps->auth_mechs) - 1;
                if (caps->auth_mechs[0] == '\0') {
                    memcpy(caps->auth_mechs, m, ml);
                    caps->auth_mechs[ml] = '\0';
                }
                while (ml > 0) {
                    size_t w = 0;

                    while (ml > 0 && *m == ' ') {
                        m++;
                        ml--;
                    }
                    while (w < ml && m[w] != ' ')
                        w++;
                    if (w > 0 && w < sizeof(word)) {
                        memcpy(word, m, w);
                        word[w] = '\0';
                        if (strcasecmp(word, "PLAIN") == 0)
                            caps->flags |= SMTP_CAP_AUTH_PLAIN;
                        else if (strcasecmp(word, "LOGIN") == 0)
                            caps->flags |= SMTP_CAP_AUTH_LOGIN;
                        else if (strcasecmp(word, "XOAUTH2") == 0)
                            caps->flags |= SMTP_CAP_AUTH_XOAUTH2;
                        else if (strcasecmp(word, "OAUTHBEARER") == 0)
                            caps->flags |= SMTP_CAP_AUTH_OAUTHBEARER;
                    }
                    m += w;
                    ml -= w;
                }
            }
        }
        if (*nl == '\0')
            break;
    }
}

void
smtp_result_set(struct smtp_result *res, int rc, const char *klass,
    int permanent, const struct smtp_reply *r, const char *advice,
    const char *fmt, ...)
{
    va_list ap;

    if (res == NULL)
        return;
    res->rc = rc;
    snprintf(res->klass, sizeof(res->klass), "%s", klass);
    res->permanent = permanent;
    if (r != NULL && r->code != 0) {
        char *q;

        res->code = r->code;
        snprintf(res->enhanced, sizeof(res->enhanced), "%s", r->enhanced);
        snprintf(res->reply, sizeof(res->reply), "%d%s%.15s %.480s", r->code,
            r->enhanced[0] ? " " : "", r->enhanced, r->text);
        for (q = res->reply; *q != '\0'; q++)
            if (*q == '\n')
                *q = ' ';
    }
    va_start(ap, fmt);
    vsnprintf(res->message, sizeof(res->message), fmt, ap);
    va_end(ap);
    snprintf(res->advice, sizeof(res->advice), "%s", advice ? advice : "");
}
