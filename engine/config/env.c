/* SPDX-License-Identifier: MIT */
/* engine/config/env.c: environment variable rules and the checked write. */
#include "engine/config/env.h"

#include <string.h>

#include "common/redact.h"
#include "engine/store/store.h"

int
eng_env_name_check(const char *n, struct errbuf *eb)
{
    size_t len = n ? strlen(n) : 0;

    if (len == 0 || len > ENG_ENV_NAME_MAX)
        return err_field(eb, ERR_INVAL, "name", "invalid_field",
            "variable name must be 1 to %d characters", ENG_ENV_NAME_MAX);
    if (!((n[0] >= 'A' && n[0] <= 'Z') || (n[0] >= 'a' && n[0] <= 'z')
            || n[0] == '_'))
        goto bad;
    for (size_t i = 1; i < len; i++)
        if (!((n[i] >= 'A' && n[i] <= 'Z') || (n[i] >= 'a' && n[i] <= 'z')
                || (n[i] >= '0' && n[i] <= '9') || n[i] == '_'))
            goto bad;
    return 0;
bad:
    return err_field(eb, ERR_INVAL, "name", "invalid_field",
        "variable name '%.64s' is not valid: use letters, digits and '_', "
        "not starting with a digit",
        n);
}

int
eng_env_value_check(const char *value, struct errbuf *eb)
{
    if (strlen(value) > ENG_ENV_VALUE_MAX)
        return err_field(eb, ERR_INVAL, "value", "invalid_field",
            "value is %zu bytes; at most %d are allowed", strlen(value),
            ENG_ENV_VALUE_MAX);
    if (strpbrk(value, "\r\n") != NULL)
        return err_field(eb, ERR_INVAL, "value", "invalid_field",
            "value must not contain CR or LF");
    return 0;
}

int
eng_env_set(struct eng_store *st, const char *name, const char *value,
    int secret, int *created, struct errbuf *eb)
{
    int rc;

    if ((rc = eng_env_name_check(name, eb)) != 0
        || (rc = eng_env_value_check(value, eb)) != 0)
        return rc;
    return eng_store_env_put(st, name, value, secret, created, eb);
}

int
eng_env_kind(const char *value, int secret)
{
    return secret || redact_server_has_password(value) ? 2 : 1;
}

int
eng_env_defined(void *store, const char *name)
{
    struct eng_env_var v;
    int                kind;

    memset(&v, 0, sizeof(v));
    if (eng_store_env_get(store, name, &v, NULL) != 0)
        return 0;
    kind = eng_env_kind(v.value, v.secret);
    eng_env_var_clear(&v);
    return kind;
}
