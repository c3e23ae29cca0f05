/* SPDX-License-Identifier: MIT */
/*
 * common/redact.h: the one place that knows what a secret looks like on its
 * way out (API responses, run records, logs, traces).
 *
 * Secret shapes: the password of a "user:password@host[:port]" server string
 * (split at the LAST '@', CSCwe75439, the first ':' before it), values under
 * secret-sounding names in JSON and in variable names, and the argument of a
 * protocol command line that carries a credential ("AUTH PLAIN <redacted>").
 * A masked value reads "*****" (REDACT_MASK): that is also what a config
 * import recognises as "keep the stored value". A redacted protocol argument
 * reads "<redacted>" (REDACT_LINE).
 */
#ifndef HERALD_COMMON_REDACT_H
#define HERALD_COMMON_REDACT_H

#include <stddef.h>

struct cJSON;

#define REDACT_MASK "*****"
#define REDACT_LINE "<redacted>"

/* 1 if a JSON key or variable name sounds secret: it contains, in any case,
 * password, passwd, secret, token, private_key or authorization. NULL: 0. */
int redact_key_is_secret(const char *name);

/* 1 if s is a server string with a non-empty password part. */
int redact_server_has_password(const char *s);

/* "user:password@host[:port]" -> "user:*****@host[:port]"; any other string
 * (no '@', no ':' before it, an empty password) is copied unchanged. Returns
 * a new string (free()), or NULL when s is NULL or on ENOMEM. */
char *redact_server(const char *s);

/* The server string shown for separate parts: "[user[:*****]@]host:port",
 * an IPv6 literal host in brackets. user may be NULL. New string (free()),
 * or NULL on ENOMEM. */
char *redact_server_parts(const char *user, int has_password, const char *host,
    unsigned port);

/* In place and recursively: every value under a secret key becomes
 * REDACT_MASK (strings, numbers, objects and arrays alike); booleans and
 * null stay, since they say whether a secret is set, not what it is. NULL is
 * a no-op. */
void redact_json(struct cJSON *j);

/* The JSON text with redact_json() applied, as a new string (free()), or
 * NULL when text is not JSON or on ENOMEM. */
char *redact_json_text(const char *text);

/* How a protocol command line may be shown. */
enum redact_line_kind {
    REDACT_LINE_PUBLIC = 0, /* as is */
    REDACT_LINE_VERB,       /* first two words only: "AUTH PLAIN <redacted>" */
    REDACT_LINE_SECRET,     /* "<redacted>" (e.g. every line after a 334) */
};
/* Writes the shown form of line into out (n bytes, always terminated). */
void redact_line(const char *line, enum redact_line_kind kind, char *out,
    size_t n);

#endif
