/* SPDX-License-Identifier: MIT */
/*
 * engine/store/pg_lib.h: libpq, loaded when a PostgreSQL URL is opened.
 *
 * herald on its embedded default (SQLite) never maps libpq and what it
 * pulls in (Kerberos, LDAP, GnuTLS, OpenSSL: a few MB of resident memory
 * and, for LDAP, a second TLS library in an appliance that has wolfSSL).
 * So the store does not link libpq: pg_lib_load() dlopen()s libpq.so.5
 * on the first eng_store_open_url with a PostgreSQL URL and looks up the
 * functions below; this header then renames each PQ* call of the pg*.c
 * files to the pointer found (docs/storage.md).
 *
 * Adding a libpq function: add it to PG_LIB_FUNCS and a #define below.
 */
#ifndef HERALD_ENGINE_STORE_PG_LIB_H
#define HERALD_ENGINE_STORE_PG_LIB_H

#include <libpq-fe.h>

#include "common/err.h"

#define PG_LIB_FUNCS(X)                                                        \
    X(PQclear)                                                                 \
    X(PQcmdTuples)                                                             \
    X(PQconnectdbParams)                                                       \
    X(PQconninfoFree)                                                          \
    X(PQconninfoParse)                                                         \
    X(PQdb)                                                                    \
    X(PQerrorMessage)                                                          \
    X(PQexec)                                                                  \
    X(PQexecParams)                                                            \
    X(PQexecPrepared)                                                          \
    X(PQfinish)                                                                \
    X(PQfreemem)                                                               \
    X(PQgetisnull)                                                             \
    X(PQgetlength)                                                             \
    X(PQgetvalue)                                                              \
    X(PQhost)                                                                  \
    X(PQntuples)                                                               \
    X(PQpass)                                                                  \
    X(PQport)                                                                  \
    X(PQprepare)                                                               \
    X(PQreset)                                                                 \
    X(PQresultErrorField)                                                      \
    X(PQresultErrorMessage)                                                    \
    X(PQresultStatus)                                                          \
    X(PQsetNoticeProcessor)                                                    \
    X(PQstatus)                                                                \
    X(PQtransactionStatus)                                                     \
    X(PQunescapeBytea)

#define PG_LIB_DECLARE(f) extern __typeof__(&f) pg_lib_##f;
PG_LIB_FUNCS(PG_LIB_DECLARE)
#undef PG_LIB_DECLARE

/* Loads libpq.so.5 once per process (thread-safe). Errors:
 * ERR_UNSUPPORTED (not installed, or a function missing: eb names it and
 * the Debian package to install). */
int pg_lib_load(struct errbuf *eb);

#ifndef PG_LIB_DEFINE
#define PQclear              pg_lib_PQclear
#define PQcmdTuples          pg_lib_PQcmdTuples
#define PQconnectdbParams    pg_lib_PQconnectdbParams
#define PQconninfoFree       pg_lib_PQconninfoFree
#define PQconninfoParse      pg_lib_PQconninfoParse
#define PQdb                 pg_lib_PQdb
#define PQerrorMessage       pg_lib_PQerrorMessage
#define PQexec               pg_lib_PQexec
#define PQexecParams         pg_lib_PQexecParams
#define PQexecPrepared       pg_lib_PQexecPrepared
#define PQfinish             pg_lib_PQfinish
#define PQfreemem            pg_lib_PQfreemem
#define PQgetisnull          pg_lib_PQgetisnull
#define PQgetlength          pg_lib_PQgetlength
#define PQgetvalue           pg_lib_PQgetvalue
#define PQhost               pg_lib_PQhost
#define PQntuples            pg_lib_PQntuples
#define PQpass               pg_lib_PQpass
#define PQport               pg_lib_PQport
#define PQprepare            pg_lib_PQprepare
#define PQreset              pg_lib_PQreset
#define PQresultErrorField   pg_lib_PQresultErrorField
#define PQresultErrorMessage pg_lib_PQresultErrorMessage
#define PQresultStatus       pg_lib_PQresultStatus
#define PQsetNoticeProcessor pg_lib_PQsetNoticeProcessor
#define PQstatus             pg_lib_PQstatus
#define PQtransactionStatus  pg_lib_PQtransactionStatus
#define PQunescapeBytea      pg_lib_PQunescapeBytea
#endif

#endif
