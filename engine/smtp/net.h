/* SPDX-License-Identifier: MIT */
/*
 * engine/smtp/net.h: the SMTP client's transport, for the engine's other
 * TLS client (the OAuth token client, engine/oauth).
 *
 * One TCP connection with TLS from the first byte: the same code as the
 * mail path (smtp_client.c's non-blocking connect with a deadline, every
 * address tried, source address and interface binding; smtp_tls.c's
 * handshake through pki_tls_new and pki_tls_verdict), so a peer's chain is
 * verified against the same pki_trust and a failure gets the same class
 * and advice (certificate_untrusted naming the missing issuer,
 * hostname_mismatch, certificate_expired, tls_handshake) as the mail
 * server's. Reads and writes wait against the connection's deadline.
 * wolfSSL stays behind smtp_tls.c: callers see bytes.
 *
 * Messages name the peer as "<what> HOST:PORT" ("token endpoint
 * login.example.com:443"). Nothing read or written is traced or logged:
 * the trace receives the connection notes ("dialogue") and the TLS
 * verification ("tls") only.
 */
#ifndef HERALD_ENGINE_SMTP_NET_H
#define HERALD_ENGINE_SMTP_NET_H

#include <stddef.h>

#include "engine/smtp/smtp.h"

struct cJSON;
struct pki_trust;

struct smtp_net_params {    /* plain data, copied by smtp_net_open() */
    const char       *what; /* names the peer in messages ("token
                               endpoint"); NULL: "server" */
    const char       *host;
    unsigned          port;           /* required */
    const char       *tls_name;       /* checked against the cert; NULL: host */
    int               verify;         /* enum pki_verify_mode */
    const char       *source_address; /* or NULL */
    const char       *source_interface;   /* or NULL */
    unsigned          connect_timeout_ms; /* 0: 10000 */
    unsigned          timeout_ms; /* 0: 30000; the whole connection, from
                                     smtp_net_open to the last read */
    struct pki_trust *trust;      /* borrowed; must outlive the connection */
};

struct smtp_net; /* opaque */

/* Connects and completes the TLS handshake with verification. trace, if not
 * NULL, receives "dialogue" notes and "tls" (pki_tls_verdict). Returns 0 and
 * a new connection in *out (free with smtp_net_close()), or an ERR_* value
 * with res filled: dns, connect, timeout (ERR_DNS, ERR_CONNECT,
 * ERR_TIMEOUT), tls_handshake, certificate_untrusted, hostname_mismatch,
 * certificate_expired (ERR_TLS), ERR_INVAL, ERR_NOMEM. */
int smtp_net_open(const struct smtp_net_params *p, struct smtp_net **out,
    struct cJSON *trace, struct smtp_result *res);
/* Writes all n bytes. Errors: ERR_TIMEOUT, ERR_IO (res filled). */
int smtp_net_write(struct smtp_net *n, const void *p, size_t len,
    struct smtp_result *res);
/* Reads up to len bytes: returns the count (> 0), 0 when the peer closed
 * the connection, or ERR_TIMEOUT, ERR_IO with res filled. */
long smtp_net_read(struct smtp_net *n, void *p, size_t len,
    struct smtp_result *res);
/* Closes (TLS close_notify, best effort) and frees. NULL is a no-op. */
void smtp_net_close(struct smtp_net *n);

#endif
