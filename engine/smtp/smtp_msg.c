/* SPDX-License-Identifier: MIT */
/*
 * engine/smtp/smtp_msg.c: message composition (RFC 5322, MIME RFC 2045-2047)
 * and the DATA encoding of RFC 5321 4.5.2 (dot-stuffing) and 4.5.3.1.6
 * (998-byte lines).
 *
 * The builder writes CRLF lines only. The Subject is RFC 2047 B-encoded
 * ("=?UTF-8?B?...?=", encoded words of at most 75 characters, never cutting
 * a UTF-8 sequence) when it is not plain ASCII, and folded. The body is sent
 * 7bit when it is ASCII, 8bit when it holds UTF-8, and quoted-printable when
 * a line is longer than 998 bytes or holds control characters, so that
 * smtp_send never has to refuse what the builder made.
 */
#include "engine/smtp/smtp_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

static const char b64tab[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/* Appends base64 of n bytes of p. */
static int
smtp_b64(struct buf *out, const unsigned char *p, size_t n)
{
    char q[4];

    for (size_t i = 0; i < n; i += 3) {
        unsigned v = (unsigned)p[i] << 16;

        if (i + 1 < n)
            v |= (unsigned)p[i + 1] << 8;
        if (i + 2 < n)
            v |= p[i + 2];
        q[0] = b64tab[(v >> 18) & 63];
        q[1] = b64tab[(v >> 12) & 63];
        q[2] = i + 1 < n ? b64tab[(v >> 6) & 63] : '=';
        q[3] = i + 2 < n ? b64tab[v & 63] : '=';
        if (buf_append(out, q, 4) != 0)
            return ERR_NOMEM;
    }
    return 0;
}

static int
smtp_hdr_check(const char *field, const char *v, struct errbuf *eb)
{
    if (v != NULL && strpbrk(v, "\r\n") != NULL)
        return err_field(eb, ERR_INVAL, field, "invalid_field",
            "CR or LF in the %s header value (header injection refused)",
            field);
    return 0;
}

static void
smtp_date(time_t t, char *out, size_t sz)
{
    static const char *days[] = { "Sun", "Mon", "Tue", "Wed", "Thu", "Fri",
        "Sat" };
    static const char *mons[] = { "Jan", "Feb", "Mar", "Apr", "May", "Jun",
        "Jul", "Aug", "Sep", "Oct", "Nov", "Dec" };
    struct tm          tm;

    gmtime_r(&t, &tm);
    snprintf(out, sz, "%s, %02d %s %04d %02d:%02d:%02d +0000", days[tm.tm_wday],
        tm.tm_mday, mons[tm.tm_mon], tm.tm_year + 1900, tm.tm_hour, tm.tm_min,
        tm.tm_sec);
}

/* Does s need RFC 2047 encoding (8-bit or control characters)? */
static int
smtp_needs_2047(const char *s)
{
    for (; *s != '\0'; s++) {
        unsigned char c = (unsigned char)*s;

        if (c >= 0x80 || (c < 0x20 && c != '\t') || c == 0x7f)
            return 1;
    }
    /* "=?" could be taken for an encoded word by a reader */
    return 0;
}

/* Appends "Subject: " and the value, encoded and folded, and CRLF. */
/* Length of the longest run of non-blank bytes: a word that long cannot
 * be folded and must be split as encoded words instead. */
static size_t
smtp_longest_word(const char *s)
{
    size_t best = 0, cur = 0;

    for (; *s != '\0'; s++) {
        cur = (*s == ' ' || *s == '\t') ? 0 : cur + 1;
        if (cur > best)
            best = cur;
    }
    return best;
}

static int
smtp_hostname_ok(const char *d)
{
    size_t n = strlen(d);

    return n > 0 && n <= 253
        && d[strspn(d,
               "abcdefghijklmnopqrstuvwxyz"
               "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.-_[]:")]
        == '\0';
}

static int
smtp_put_subject(struct buf *out, const char *s)
{
    size_t n = strlen(s), col;
    int    rc;

    if ((rc = buf_puts(out, "Subject:")) != 0)
        return rc;
    col = 8;
    if (!smtp_needs_2047(s) && strstr(s, "=?") == NULL
        && smtp_longest_word(s) < 900) {
        /* plain ASCII: fold at spaces to stay near 78 columns */
        const char *p = s;

        if ((rc = buf_putc(out, ' ')) != 0)
            return rc;
        col++;
        while (*p != '\0') {
            const char *w = p;
            size_t      wl;

            while (*w == ' ' || *w == '\t')
                w++;
            while (*w != '\0' && *w != ' ' && *w != '\t')
                w++;
            wl = (size_t)(w - p);
            if (col + wl > 78 && p != s && (*p == ' ' || *p == '\t')) {
                if ((rc = buf_puts(out, "\r\n")) != 0)
                    return rc;
                col = 0;
            }
            if ((rc = buf_append(out, p, wl)) != 0)
                return rc;
            col += wl;
            p = w;
        }
        return buf_puts(out, "\r\n");
    }
    /* encoded words of <= 39 bytes (52 base64 chars, 64 with markers), so
     * that even the first line, after "Subject: ", stays within 76 */
    for (size_t i = 0; i < n || i == 0;) {
        size_t take = n - i > 39 ? 39 : n - i;

        /* never split a UTF-8 sequence: back up to a lead byte */
        if (i + take < n)
            while (take > 0 && ((unsigned char)s[i + take] & 0xC0) == 0x80)
                take--;
        if (take == 0)
            take = n - i > 39 ? 39 : n - i;
        if ((rc = buf_puts(out, i == 0 ? " " : "\r\n ")) != 0
            || (rc = buf_puts(out, "=?UTF-8?B?")) != 0
            || (rc = smtp_b64(out, (const unsigned char *)s + i, take)) != 0
            || (rc = buf_puts(out, "?=")) != 0)
            return rc;
        i += take;
        if (n == 0)
            break;
    }
    return buf_puts(out, "\r\n");
}

/* Appends "Name: a, b, c" folded, and CRLF. */
static int
smtp_put_addrs(struct buf *out, const char *name, char **v, size_t n)
{
    size_t col = strlen(name) + 1;
    int    rc;

    if ((rc = buf_printf(out, "%s:", name)) != 0)
        return rc;
    for (size_t i = 0; i < n; i++) {
        size_t l = strlen(v[i]);

        if (i > 0 && col + l + 2 > 78) {
            if ((rc = buf_puts(out, ",\r\n")) != 0)
                return rc;
            col = 0;
        } else if (i > 0) {
            if ((rc = buf_putc(out, ',')) != 0)
                return rc;
            col++;
        }
        if ((rc = buf_printf(out, " %s", v[i])) != 0)
            return rc;
        col += l + 1;
    }
    return buf_puts(out, "\r\n");
}

/* Normalises line endings of the body to CRLF into out (ending with CRLF
 * when not empty), and reports what the body holds. */
static int
smtp_body_lines(const char *b, struct buf *out, int *eightbit, int *ctl,
    size_t *longest)
{
    size_t n = strlen(b), cur = 0;
    int    rc;

    *eightbit = *ctl = 0;
    *longest = 0;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)b[i];

        if (c == '\r' || c == '\n') {
            if (c == '\r' && i + 1 < n && b[i + 1] == '\n')
                i++;
            if ((rc = buf_puts(out, "\r\n")) != 0)
                return rc;
            cur = 0;
            continue;
        }
        if (c >= 0x80)
            *eightbit = 1;
        else if ((c < 0x20 && c != '\t') || c == 0x7f)
            *ctl = 1;
        if ((rc = buf_putc(out, (char)c)) != 0)
            return rc;
        if (++cur > *longest)
            *longest = cur;
    }
    if (cur > 0)
        return buf_puts(out, "\r\n");
    return 0;
}

/* Quoted-printable (RFC 2045 6.7) of CRLF-lined text. */
static int
smtp_qp(struct buf *out, const char *t, size_t n)
{
    static const char hex[] = "0123456789ABCDEF";
    size_t            col = 0;
    int               rc;

    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)t[i];
        char          enc[4];
        size_t        el;
        int           eol = i + 1 >= n || t[i + 1] == '\r';

        if (c == '\r' && i + 1 < n && t[i + 1] == '\n') {
            if ((rc = buf_puts(out, "\r\n")) != 0)
                return rc;
            i++;
            col = 0;
            continue;
        }
        if ((c >= 33 && c <= 126 && c != '=')
            || ((c == ' ' || c == '\t') && !eol)) {
            enc[0] = (char)c;
            el = 1;
        } else {
            enc[0] = '=';
            enc[1] = hex[c >> 4];
            enc[2] = hex[c & 15];
            el = 3;
        }
        if (col + el > 75) {
            if ((rc = buf_puts(out, "=\r\n")) != 0)
                return rc;
            col = 0;
        }
        if ((rc = buf_append(out, enc, el)) != 0)
            return rc;
        col += el;
    }
    return 0;
}

/* n (<= 64) random bytes for a Message-ID, from a per-thread pool that
 * getrandom(2) refills: one system call per 21 messages, not one each (a
 * Message-ID must be unique, not secret). 0 or -1. */
static int
smtp_msgid_random(unsigned char *p, size_t n)
{
    static __thread unsigned char pool[256];
    static __thread size_t        left;

    if (n > 64)
        return -1;
    if (left < n) {
        if (getrandom(pool, sizeof(pool), 0) != (ssize_t)sizeof(pool))
            return -1;
        left = sizeof(pool);
    }
    memcpy(p, pool + sizeof(pool) - left, n);
    left -= n;
    return 0;
}

int
smtp_message_build(const struct smtp_message *m, struct buf *out,
    struct errbuf *eb)
{
    char        **to = NULL, **cc = NULL, **from = NULL;
    size_t        nto = 0, ncc = 0, nfrom = 0, longest;
    struct buf    body = BUF_INIT;
    char          date[64], hex[25];
    unsigned char rnd[12];
    const char   *dom;
    int           rc, eightbit, ctl;

    if ((rc = smtp_hdr_check("from", m->from, eb)) != 0
        || (rc = smtp_hdr_check("to", m->to, eb)) != 0
        || (rc = smtp_hdr_check("cc", m->cc, eb)) != 0
        || (rc = smtp_hdr_check("subject", m->subject, eb)) != 0
        || (rc = smtp_hdr_check("msgid_domain", m->msgid_domain, eb)) != 0)
        return rc;
    if ((rc = smtp_addrs_parse(m->from, &from, &nfrom, eb)) != 0) {
        if (eb != NULL)
            snprintf(eb->field, sizeof(eb->field), "from");
        goto out;
    }
    if (nfrom != 1) {
        rc = err_field(eb, ERR_INVAL, "from", "invalid_field",
            "from must hold exactly one address (it holds %zu)", nfrom);
        goto out;
    }
    if ((rc = smtp_addrs_parse(m->to, &to, &nto, eb)) != 0) {
        if (eb != NULL)
            snprintf(eb->field, sizeof(eb->field), "to");
        goto out;
    }
    if (nto == 0) {
        rc = err_field(eb, ERR_INVAL, "to", "missing_field",
            "to holds no address");
        goto out;
    }
    if ((rc = smtp_addrs_parse(m->cc, &cc, &ncc, eb)) != 0) {
        if (eb != NULL)
            snprintf(eb->field, sizeof(eb->field), "cc");
        goto out;
    }
    dom = m->msgid_domain && *m->msgid_domain ? m->msgid_domain
                                              : strchr(from[0], '@') + 1;
    if (!smtp_hostname_ok(dom)) {
        if (dom == m->msgid_domain) {
            rc = err_field(eb, ERR_INVAL, "msgid_domain", "invalid_field",
                "the Message-ID domain must be a host name of at most 253 "
                "letters, digits, dots and hyphens");
            goto out;
        }
        dom = "herald.invalid"; /* From's domain is odd: stay well-formed */
    }
    if (smtp_msgid_random(rnd, sizeof(rnd)) != 0) {
        rc = err_set(eb, ERR_INTERNAL, "internal", "no random bytes");
        goto out;
    }
    for (size_t i = 0; i < sizeof(rnd); i++) {
        hex[2 * i] = "0123456789abcdef"[rnd[i] >> 4];
        hex[2 * i + 1] = "0123456789abcdef"[rnd[i] & 15];
    }
    hex[2 * sizeof(rnd)] = '\0';
    smtp_date(m->date ? m->date : time(NULL), date, sizeof(date));
    if ((rc = buf_printf(out, "Date: %s\r\n", date)) != 0
        || (rc = buf_printf(out, "Message-ID: <%s.%lld@%s>\r\n", hex,
                (long long)time(NULL), dom))
            != 0
        || (rc = buf_printf(out, "From: %s\r\n", from[0])) != 0
        || (rc = smtp_put_addrs(out, "To", to, nto)) != 0
        || (ncc > 0 && (rc = smtp_put_addrs(out, "Cc", cc, ncc)) != 0)
        || (rc = smtp_put_subject(out, m->subject ? m->subject : "")) != 0
        || (rc = buf_puts(out,
                "MIME-Version: 1.0\r\n"
                "Content-Type: text/plain; charset=UTF-8\r\n"))
            != 0)
        goto out;
    if ((rc = smtp_body_lines(m->body ? m->body : "", &body, &eightbit, &ctl,
             &longest))
        != 0)
        goto out;
    if (ctl || longest > 998) {
        if ((rc = buf_puts(out,
                 "Content-Transfer-Encoding: quoted-printable\r\n\r\n"))
                != 0
            || (rc = smtp_qp(out, buf_str(&body), body.len)) != 0)
            goto out;
    } else if ((rc = buf_printf(out, "Content-Transfer-Encoding: %s\r\n\r\n",
                    eightbit ? "8bit" : "7bit"))
            != 0
        || (rc = buf_append(out, buf_str(&body), body.len)) != 0)
        goto out;
out:
    buf_free(&body);
    smtp_addrs_free(to, nto);
    smtp_addrs_free(cc, ncc);
    smtp_addrs_free(from, nfrom);
    return rc;
}

/* smtp_data_encode and smtp_chunk_encode: dot, whether the content is
 * DATA's (dot-stuffed, ending with "."). */
static int
smtp_content_encode(const char *msg, size_t len, int dot, struct buf *out,
    int *eightbit, size_t *badline)
{
    size_t i = 0, line = 0;
    int    rc;

    *eightbit = 0;
    *badline = 0;
    while (i < len) {
        size_t s = i, e;

        while (i < len && msg[i] != '\r' && msg[i] != '\n') {
            if ((unsigned char)msg[i] >= 0x80)
                *eightbit = 1;
            i++;
        }
        e = i;
        line++;
        if (e - s > 998) {
            *badline = line;
            return ERR_TOOBIG;
        }
        if (i < len) {
            if (msg[i] == '\r' && i + 1 < len && msg[i + 1] == '\n')
                i++;
            i++;
        }
        if ((dot && e > s && msg[s] == '.' && (rc = buf_putc(out, '.')) != 0)
            || (rc = buf_append(out, msg + s, e - s)) != 0
            || (rc = buf_puts(out, "\r\n")) != 0)
            return rc;
    }
    return dot ? buf_puts(out, ".\r\n") : 0;
}

int
smtp_data_encode(const char *msg, size_t len, struct buf *out, int *eightbit,
    size_t *badline)
{
    return smtp_content_encode(msg, len, 1, out, eightbit, badline);
}

int
smtp_chunk_encode(const char *msg, size_t len, struct buf *out, int *eightbit,
    size_t *badline)
{
    return smtp_content_encode(msg, len, 0, out, eightbit, badline);
}
