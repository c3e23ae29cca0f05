/* SPDX-License-Identifier: MIT */
/*
 * engine/config/trustpoint.h: the rules of a trustpoint ("crypto pki trustpoint"),
 * shared by the REST API and the config import, and the writes that take
 * more than one store call: creating a trustpoint with its certificate, and
 * trusting a probed chain (import-chain) all or nothing.
 */
#ifndef HERALD_ENGINE_TRUSTPOINT_H
#define HERALD_ENGINE_TRUSTPOINT_H

#include <stddef.h>

#include "common/err.h"

struct eng_store;
struct eng_tp_rec;

#define ENG_TP_NAME_MAX 64

/* A name is 1 to 64 letters, digits, '-', '_' and '.', and not
 * "import-chain" (POST /api/v1/trustpoints/import-chain). Errors: ERR_INVAL
 * with field "name". */
int eng_tp_name_check(const char *name, struct errbuf *eb);

/* The policy rules; NULL means "not given". revocation-check: none (crl
 * and ocsp are known but ERR_UNSUPPORTED), chain-validation: stop or
 * continue, enrollment: terminal (else ERR_UNSUPPORTED). Errors: ERR_INVAL,
 * ERR_UNSUPPORTED, with field revocation_check, chain_validation or
 * enrollment. */
int eng_tp_policy_check(const char *rev, const char *cv, const char *enr,
    struct errbuf *eb);

/* Creates trustpoint r (its fields checked as above; r's certificate fields
 * are ignored) with the certificate in pem (len bytes: PEM, bare base64 or
 * DER; NULL: none yet), in one transaction. Errors: ERR_INVAL (field
 * "certificate" for a bad certificate), ERR_UNSUPPORTED, ERR_EXISTS, ERR_DB,
 * ERR_NOMEM. */
int eng_tp_create(struct eng_store *st, const struct eng_tp_rec *r,
    const char *pem, size_t len, struct errbuf *eb);

/* Sets the certificate of trustpoint name ("crypto pki authenticate").
 * Errors: ERR_INVAL "invalid_certificate", ERR_NOTFOUND, ERR_DB. */
int eng_tp_set_cert(struct eng_store *st, const char *name, const char *data,
    size_t len, struct errbuf *eb);

/* One certificate of a probed chain to trust; plain data, borrowed. */
struct eng_tp_import {
    const char *pem;
    const char *sha256; /* the fingerprint the user confirmed */
    const char *name;   /* NULL: from the subject's CN (or O) */
};
/* Trusts n certificates as new trustpoints with the policy rev and cv
 * (rev NULL: none; cv NULL: "stop" for a certificate that is not
 * self-signed, as the probe suggests, else "continue"), all or nothing: each is parsed and checked
 * against its confirmed SHA-256, names must be distinct and new. On
 * success *names is a new array of the n names (eng_tp_names_free()).
 * Errors: ERR_INVAL (field "certificates[i].pem" or ".name"),
 * ERR_UNSUPPORTED ("fingerprint_mismatch", field "certificates[i].sha256",
 * or a policy), ERR_EXISTS, ERR_DB, ERR_NOMEM. */
int  eng_tp_import_chain(struct eng_store *st, const struct eng_tp_import *v,
     size_t n, const char *rev, const char *cv, char ***names,
     struct errbuf *eb);
void eng_tp_names_free(char **names, size_t n);

#endif
