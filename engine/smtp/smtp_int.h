/* SPDX-License-Identifier: MIT */
/*
 * engine/smtp/smtp_int.h: in-module declarations of the SMTP client.
 *
 * The client struct is shared by smtp_client.c (transport, state machine)
 * and smtp_tls.c (the only file outside pki/ that includes wolfSSL). The
 * message helpers (dot-stuffing, CRLF normalisation) live in smtp_msg.c.
 */
#ifndef HERALD_ENGINE_SMTP_INT_H
#define HERALD_ENGINE_SMTP_INT_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "common/buf.h"
#include "engine/smtp/smtp.h"
#include "pki/pki.h"

/* Capabilities from the EHLO reply. */
#define SMTP_CAP_STARTTLS         0x01u
#define SMTP_CAP_AUTH             0x02u
#define SMTP_CAP_SIZE             0x04u
#define SMTP_CAP_8BITMIME         0x08u
#define SMTP_CAP_SMTPUTF8         0x10u
#define SMTP_CAP_PIPELINING       0x20u
#define SMTP_CAP_AUTH_PLAIN       0x40u
#define SMTP_CAP_AUTH_LOGIN       0x80u
#define SMTP_CAP_AUTH_XOAUTH2     0x100u
#define SMTP_CAP_AUTH_OAUTHBEARER 0x200u
#define SMTP_CAP_CHUNKING         0x400u

struct smtp_caps {
    unsigned flags;
    size_t   size_max;        /* 0 if SIZE gave no number */
    char     auth_mechs[128]; /* as offered, space separated */
};
/* Parses the EHLO reply (text lines after the first) into caps. */
void smtp_caps_parse(const struct smtp_reply *r, struct smtp_caps *caps);

/*
 * Time and trace limits (the size limits of a reply are in smtp.h).
 * SMTP_TRANSACTION_MS is the default of transaction_timeout_ms: a deadline
 * for smtp_open as a whole and for each smtp_send, checked while bytes
 * keep arriving, not only while waiting for them. The trace keeps an
 * excerpt of each reply, and a note says what was cut, so that a trace
 * (and the API answer that carries it) stays small whatever the server
 * sends: at most SMTP_TRACE_LINES lines of a reply, SMTP_TRACE_LINE_MAX
 * octets of each, and SMTP_TRACE_MAX octets of server lines in one trace
 * (a transaction with many recipients has many replies).
 */
#define SMTP_TRANSACTION_MS 300000 /* 5 minutes */
#define SMTP_TRACE_LINES    20
#define SMTP_TRACE_LINE_MAX 1024
#define SMTP_TRACE_MAX      65536
/* Receive buffer: a line of SMTP_LINE_MAX with its CRLF fits, and more. */
#define SMTP_RBUF (2 * SMTP_LINE_MAX)

/* Session states: the command whose reply is awaited. */
enum smtp_state {
    S_INIT = 0,
    S_CONNECT,
    S_GREETING,
    S_EHLO,
    S_HELO,
    S_STARTTLS,
    S_TLS,
    S_AUTH,
    S_AUTH_USER,
    S_AUTH_PASS,
    S_READY,
    S_RSET,
    S_MAIL,
    S_RCPT,
    S_DATA,
    S_BODY,
    S_BDAT,
    S_QUIT,
    S_CLOSED,
    S_BROKEN,
    S__COUNT
};

/* Sensitivity of one client line, declared where it is written. */
enum smtp_sens {
    SEC_PUBLIC = 0, /* traced as is */
    SEC_VERB,       /* only the first two words: "AUTH PLAIN <redacted>" */
    SEC_SECRET,     /* traced as "<redacted>" */
};

struct smtp_client {
    int             fd;
    int             state;   /* enum smtp_state */
    struct WOLFSSL *ssl;     /* NULL until TLS is up */
    uint64_t        session; /* random id for logs */
    struct timespec t0;

    char             *host;
    unsigned          port;
    int               secure;
    char             *user;
    struct sec       *pass;
    struct sec       *oauth_token; /* not NULL: AUTH with a bearer token */
    int               oauth_mech;  /* enum smtp_oauth_mech */
    int               allow_plain_auth;
    char             *tls_name;
    int               verify;
    char             *source_address;
    char             *source_interface;
    char             *helo_name;
    unsigned          connect_timeout_ms;
    unsigned          reply_timeout_ms;
    unsigned          transaction_timeout_ms;
    long long         deadline;      /* smtp_now_ms() by which the current
                                      operation ends (smtp_wait_fd and
                                      the reply reader hold to it); 0:
                                      none */
    const char       *deadline_what; /* the operation: "session setup",
                                      "transaction", "probe" */
    struct pki_trust *trust;         /* borrowed */

    struct cJSON    *trace;           /* borrowed; may be NULL */
    struct buf       tline;           /* a dialogue entry being written
                                         (smtp_trace_add) */
    size_t           traced;          /* octets of server lines in trace */
    struct buf      *pipe;            /* borrowed; not NULL while smtp_send
                                      builds a pipelined group (RFC 2920):
                                      smtp_cmd appends there, smtp_send
                                      writes the group at once */
    char             rbuf[SMTP_RBUF]; /* received, not yet consumed */
    size_t           rlen;
    int              wrote;     /* written since the last read */
    char             tin[4096]; /* TLS: received, not yet taken by
                                   wolfSSL (smtp_tls.c) */
    size_t           tin_off, tin_len;
    int              last_code; /* code of the last reply */
    struct smtp_caps caps;
    int              esmtp;   /* EHLO accepted (not HELO) */
    int              tx_open; /* a transaction was started and not
                                    * ended (final reply to the content,
                                    * or RSET): the next starts with RSET */
    int              usable;
    int              insecure;          /* verification is off */
    int              save_session;      /* remember the TLS session after
                                       the next reply (TLS 1.3 tickets
                                       arrive after the handshake) */
    int              tls_resume_failed; /* the handshake that offered a
                                       cached TLS session failed; the
                                       session is dropped: a new
                                       connection (full handshake) may
                                       be tried once */
};

/* smtp_client.c: the deadline wait for the socket; c->deadline, if
 * earlier, holds too. Returns 0, ERR_TIMEOUT or ERR_IO. */
int smtp_wait_fd(struct smtp_client *c, int for_write, long long deadline);
long long smtp_now_ms(void);
/* Adds a "-" (note) line to the dialogue trace. */
void smtp_trace_note(struct smtp_client *c, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* smtp_tls.c. Handshake on c->fd, verification through c->trust; fills res
 * and c->trace["tls"]. Errors: ERR_TLS, ERR_TIMEOUT, ERR_NOMEM. */
int smtp_tls_start(struct smtp_client *c, struct smtp_result *res);
/* Return bytes moved (> 0), 0 on EOF, or -1 with *want set to 1 (wait for
 * read), 2 (wait for write) or 0 (fatal error). */
long smtp_tls_read(struct smtp_client *c, char *buf, size_t n, int *want);
long smtp_tls_write(struct smtp_client *c, const char *buf, size_t n,
    int *want);
/* 1 if TLS holds received bytes, decrypted or not, that a read returns
 * (or needs) without the socket becoming readable. */
int smtp_tls_pending(struct smtp_client *c);
/* Hands the TLS session to the trust's cache for resumption. */
void smtp_tls_save_session(struct smtp_client *c);
void smtp_tls_free(struct smtp_client *c);

/* smtp_msg.c. Appends msg to out as DATA content: CRLF line endings (bare
 * CR and LF become CRLF), dot-stuffed, ending with CRLF "." CRLF. Returns 0,
 * ERR_NOMEM, or ERR_TOOBIG when a line exceeds 998 bytes (*badline is its
 * 1-based number). *eightbit is set when a byte >= 0x80 occurs. */
int smtp_data_encode(const char *msg, size_t len, struct buf *out,
    int *eightbit, size_t *badline);
/* The same for a BDAT chunk (RFC 3030): CRLF line endings, the same line
 * limit, but no dot-stuffing and no final ".": the chunk's size delimits
 * it. */
int smtp_chunk_encode(const char *msg, size_t len, struct buf *out,
    int *eightbit, size_t *badline);

/* smtp_reply.c: classification helpers. */
void smtp_result_set(struct smtp_result *res, int rc, const char *klass,
    int permanent, const struct smtp_reply *r, const char *advice,
    const char *fmt, ...) __attribute__((format(printf, 7, 8)));

#endif
