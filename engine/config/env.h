/* SPDX-License-Identifier: MIT */
/*
 * engine/config/env.h: the rules of an EEM environment variable ("event manager
 * environment NAME VALUE") and the checked write. Names follow
 * [A-Za-z_][A-Za-z0-9_]*, up to 64 bytes; values up to 4096 bytes, no CR
 * or LF (they would reach mail headers and the SMTP dialogue).
 */
#ifndef HERALD_ENGINE_ENV_H
#define HERALD_ENGINE_ENV_H

#include "common/err.h"

struct eng_store;

#define ENG_ENV_NAME_MAX  64
#define ENG_ENV_VALUE_MAX 4096

/* Errors: ERR_INVAL with field "name". */
int eng_env_name_check(const char *name, struct errbuf *eb);
/* Errors: ERR_INVAL with field "value". */
int eng_env_value_check(const char *value, struct errbuf *eb);

/* Checks name and value, then creates or replaces the variable; *created
 * (may be NULL) is 1 if it did not exist. Errors: ERR_INVAL, ERR_DB. */
int eng_env_set(struct eng_store *st, const char *name, const char *value,
    int secret, int *created, struct errbuf *eb);

/* For eng_applet_warnings' is_defined (ctx: the store): 0 when name is
 * not defined, 2 when its value is a secret (marked secret, or a server
 * string with a password), else 1. */
int eng_env_defined(void *store, const char *name);
/* The same classification of a value: 2 secret, 1 plain. */
int eng_env_kind(const char *value, int secret);

#endif
