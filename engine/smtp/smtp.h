/* SPDX-License-Identifier: MIT */
/*
 * engine/smtp/smtp.h: SMTP submission client (RFC 5321, 3207 STARTTLS,
 * 4954 AUTH, 8314 implicit TLS, 2034 enhanced codes) and RFC 5322 message
 * composition.
 *
 * Blocking I/O with a deadline on connect, on every reply and on every
 * operation (smtp_open, smtp_send), and limits on what a reply may hold
 * (SMTP_LINE_MAX and below), so that no server can hold herald without end
 * or make it read without end. One client is used by one thread at a
 * time. A client may carry several messages over one session (RSET between
 * transactions). Secrets: the password and an OAuth bearer token are
 * borrowed as struct sec and never appear in a trace or log ("AUTH PLAIN
 * <redacted>", "AUTH XOAUTH2 <redacted>"; every line after a 334 is
 * redacted). A token is sent only over TLS. engine/smtp/net.h exports the
 * client's transport (connect, TLS with verification) to the OAuth token
 * client.
 */
#ifndef HERALD_ENGINE_SMTP_H
#define HERALD_ENGINE_SMTP_H

#include <stddef.h>
#include <time.h>

#include "common/buf.h"
#include "common/err.h"

struct cJSON;
struct pki_trust;
struct sec;

enum smtp_oauth_mech {
    SMTP_OAUTH_NONE = 0,
    SMTP_OAUTH_XOAUTH2,     /* "xoauth2": user=..^Aauth=Bearer ..^A^A */
    SMTP_OAUTH_OAUTHBEARER, /* "oauthbearer": RFC 7628 */
};
/* "xoauth2", "oauthbearer" (any case): value or -1. The name of
 * SMTP_OAUTH_NONE is "none". */
int         smtp_oauth_mech_parse(const char *s);
const char *smtp_oauth_mech_name(int mech);

enum smtp_secure {
    SMTP_SECURE_NONE = 0, /* "none": plain */
    SMTP_SECURE_TLS,      /* "tls": STARTTLS, never downgraded */
    SMTP_SECURE_IMPLICIT, /* "implicit": TLS from the first byte (465) */
};
int         smtp_secure_parse(const char *s); /* value or -1 */
const char *smtp_secure_name(int secure);

/* ---- the server string ------------------------------------------------ */

/* "user:password@host[:port]", "user@host", "host[:port]", "[v6]:port".
 * Split at the LAST '@' (CSCwe75439); the first ':' before it separates user
 * and password; %40 and %3A are decoded in user and password. */
struct smtp_server {
    char       *user; /* NULL if none */
    struct sec *pass; /* NULL if none */
    char       *host;
    unsigned    port; /* 0 if not given */
};
/* Errors: ERR_INVAL ("empty host", "CR or LF in server string", ...). */
int  smtp_server_parse(const char *s, struct smtp_server *out,
     struct errbuf *eb);
void smtp_server_clear(struct smtp_server *s);
/* Masked for logs and traces by redact_server() (common/redact.h). */

/* ---- addresses and the message ---------------------------------------- */

/* Splits a to/cc list on ',' ';' and whitespace; each address is checked
 * (no CR/LF, one '@', no spaces, <= 254 bytes). New array of new strings
 * (free with smtp_addrs_free()). Errors: ERR_INVAL naming the address. */
int  smtp_addrs_parse(const char *list, char ***out, size_t *n,
     struct errbuf *eb);
void smtp_addrs_free(char **v, size_t n);

struct smtp_message { /* plain data; all borrowed */
    const char *from;
    const char *to; /* list as given by the user */
    const char *cc; /* may be NULL or "" */
    const char *subject;
    const char *body;
    const char *msgid_domain; /* right side of Message-ID; default: from's */
    time_t      date;         /* 0: now */
};
/* Appends an RFC 5322 message (CRLF lines, Date, Message-ID, From, To, Cc,
 * Subject RFC 2047-encoded when not ASCII, MIME-Version, text/plain;
 * charset=UTF-8, 7bit/8bit or quoted-printable as the body needs) to out. Not
 * dot-stuffed (smtp_send does that). Errors: ERR_INVAL when a header value
 * holds CR or LF (eb->field names it). */
int smtp_message_build(const struct smtp_message *m, struct buf *out,
    struct errbuf *eb);

/* ---- replies (pure, for unit tests) ----------------------------------- */

/*
 * What one reply may cost, so that a broken or hostile server cannot make
 * herald read without end: RFC 5321 4.5.3.1.5 allows 512 octets a reply
 * line; herald takes 8 times that. A real EHLO reply is some 20 lines and
 * 1 KiB; the limits are far above it and far below what hurts.
 */
#define SMTP_LINE_MAX    4096  /* octets of one reply line, without CRLF */
#define SMTP_REPLY_MAX   65536 /* octets of one reply, CRLFs counted */
#define SMTP_REPLY_LINES 1000  /* lines of one reply */

struct smtp_reply {
    int    code;         /* 3 digits, or 0 while incomplete */
    char   enhanced[16]; /* "5.7.8" or "" */
    char   text[1024];   /* lines joined by "\n", without codes; cut */
    size_t nlines;
    size_t size;    /* octets of the lines so far, CRLFs counted */
    int    pending; /* internal: code of the lines so far */
};
/* Feeds one line (without CRLF). Returns 1 when the reply is complete, 0 if
 * more lines follow, ERR_PROTO for a malformed line, or ERR_TOOBIG when the
 * line or the reply passes SMTP_LINE_MAX, SMTP_REPLY_MAX or
 * SMTP_REPLY_LINES (eb names the problem and the limit). */
int smtp_reply_feed(struct smtp_reply *r, const char *line, size_t len,
    struct errbuf *eb);

/* ---- the client -------------------------------------------------------- */

struct smtp_params { /* plain data, copied by smtp_open() */
    const char       *host;
    unsigned          port;             /* 0: 25 */
    int               secure;           /* enum smtp_secure */
    const char       *user;             /* NULL: no AUTH */
    const struct sec *pass;             /* borrowed; never logged */
    const struct sec *oauth_token;      /* borrowed; not NULL: AUTH with
                                           oauth_mech and this bearer token
                                           instead of pass; never logged */
    int               oauth_mech;       /* enum smtp_oauth_mech; NONE:
                                           XOAUTH2 if offered, else
                                           OAUTHBEARER */
    int               allow_plain_auth; /* AUTH without TLS allowed */
    const char       *tls_name; /* name checked against the cert; NULL=host */
    int               verify;   /* enum pki_verify_mode */
    const char       *source_address;     /* bind local side, or NULL */
    const char       *source_interface;   /* SO_BINDTODEVICE, or NULL */
    const char       *helo_name;          /* NULL: "herald.localdomain"-ish */
    unsigned          connect_timeout_ms; /* 0: 10000 */
    unsigned          reply_timeout_ms;   /* 0: 30000; each reply, from
                                             its command, however fast
                                             the server trickles bytes */
    unsigned          transaction_timeout_ms; /* 0: 300000; smtp_open as a
                                             whole (connect to AUTH), and
                                             each smtp_send (RSET to the
                                             final reply) */
    struct pki_trust *trust; /* borrowed; must outlive the client */
};

/* Classified outcome of an operation. klass is "" on success, else one of:
 * dns, connect, timeout, starttls_unavailable, tls_handshake,
 * certificate_untrusted, hostname_mismatch, certificate_expired,
 * auth_unavailable, auth_failed, sender_rejected, recipient_rejected,
 * data_rejected, protocol; and for the OAuth token client (engine/oauth),
 * invalid_request. */
struct smtp_result {
    int  rc; /* 0 or an ERR_* value (negative) */
    char klass[32];
    int  permanent; /* 1: do not retry (5xx, trust, auth) */
    int  code;      /* last SMTP reply code, 0 if none */
    char enhanced[16];
    char reply[512];     /* server reply quoted (never a secret) */
    char message[768];   /* what happened, one sentence */
    char advice[512];    /* what to do */
    char recipient[256]; /* refused recipient, if any */
    int  token_refused;  /* AUTH with oauth_token failed (535, OAUTHBEARER
                            error): the caller discards the token and
                            retries once with a fresh one */
};

struct smtp_client;

/* Connects, EHLO, STARTTLS or implicit TLS with verification through
 * params->trust, EHLO again, AUTH (PLAIN or LOGIN, as offered; with
 * oauth_token, XOAUTH2 or OAUTHBEARER as oauth_mech says, if the server
 * offers it, else auth_unavailable naming what it offers; never without
 * TLS, whatever allow_plain_auth says). oauth_token needs user (the
 * mailbox) and must be printable ASCII without spaces (else ERR_INVAL,
 * auth_unavailable). A refused token gives auth_failed with
 * res->token_refused set (5xx, or an error challenge whose status and
 * scope the message quotes). trace, if
 * not NULL, is a JSON object that receives "dialogue" [{t_ms, dir: "C"|"S"|
 * "-", line}], "tls" (pki_tls_verdict trace), "capabilities". Returns 0 and
 * a client in *out (free with smtp_close()), or an ERR_* value (they are
 * negative) with *res filled. */
int smtp_open(const struct smtp_params *params, struct smtp_client **out,
    struct cJSON *trace, struct smtp_result *res);
/* One transaction: (RSET if not the first) MAIL FROM, one RCPT TO per
 * address, DATA with dot-stuffing and CRLF normalisation. When the server
 * offers PIPELINING, RSET, MAIL and the RCPTs go out in one write, with
 * DATA too for a single recipient (RFC 2920). A refused recipient means the
 * message goes to no one. The trace is the one given to smtp_open unless
 * trace is not NULL. Errors: as klass. */
int smtp_send(struct smtp_client *c, const char *from, char *const *rcpts,
    size_t nrcpts, const char *msg, size_t len, struct cJSON *trace,
    struct smtp_result *res);
/* One message of smtp_send_batch: smtp_send's arguments. Plain data; all
 * borrowed. */
struct smtp_batch_msg {
    const char   *from;
    char *const  *rcpts;
    size_t        nrcpts;
    const char   *msg;
    size_t        len;
    struct cJSON *trace; /* this message's trace; NULL: smtp_open's */
};
/*
 * Sends n messages over the session, in order, as n smtp_send calls
 * would: res[i] is message i's result, m[i].trace receives its commands
 * and replies only, and each transaction has its own deadline. When the
 * server offers PIPELINING, the content of a message goes out in one
 * write with the next message's envelope (the content may begin a group:
 * RFC 2920 section 3.1), and the final reply of the one and the envelope
 * replies of the other are read in turn, so that a batch of
 * single-recipient messages costs one round trip a message instead of
 * two. A refused envelope or a refusal after the content affects only its
 * own message (the next MAIL needs no RSET after a final reply; after a
 * refused envelope RSET follows at once, as with smtp_send). With
 * CHUNKING too (RFC 3030), single-recipient messages of one sender go out
 * whole, up to 32 in one write (MAIL, RCPT, "BDAT <size> LAST" and the
 * content each), and their replies are read after it; a message with
 * several recipients goes with DATA after its RCPT replies. Without
 * PIPELINING: smtp_send for each message.
 * Returns how many messages were dealt with, res filled: n, unless the
 * session broke (smtp_usable() is then 0). The messages from the returned
 * index on were not written at all (their res say so, klass connect): they
 * may go over a new session; so may the message whose envelope went out
 * with the content of the one before when the session ended there (its
 * content never did; its trace, which holds that envelope, is not its
 * result). A message whose content was written but whose final reply never
 * came gets the transport failure, as with smtp_send (it may have been
 * delivered: delivery is at least once); so does every message of a BDAT
 * window whose replies did not all come.
 */
size_t smtp_send_batch(struct smtp_client *c, const struct smtp_batch_msg *m,
    size_t n, struct smtp_result *res);
/* 1 if the session is still usable for another smtp_send. */
int smtp_usable(const struct smtp_client *c);
/* QUIT (best effort) and free. NULL is a no-op. */
void smtp_close(struct smtp_client *c);

/* Probe: connect, EHLO, STARTTLS (secure tls) or implicit TLS, capture and
 * verify the presented chain; no AUTH, no mail. Returns a new JSON object
 * {host, port, secure, speaks: "starttls"|"implicit"|"plain", capabilities
 * [..], tls {...pki trace...}, verdict {ok, code, message, advice}} or NULL
 * with *res filled. */
struct cJSON *smtp_probe(const struct smtp_params *params,
    struct smtp_result                            *res);

#endif
