/* SPDX-License-Identifier: MIT */
/*
 * tests/fuzz/fuzz_json_body.c: the JSON body reader of every route
 * (srv_json_parse, server/srv_json.c). Properties: bad input is refused
 * with a message; what is accepted is valid UTF-8 without NUL bytes, and
 * its printed form reads back to an equal value; input that is not UTF-8
 * is refused as invalid_utf8.
 */
#include "fuzz.h"

#include <cjson/cJSON.h>

#include "common/utf8.h"
#include "server/srv_int.h"

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct errbuf eb;
    cJSON        *j = NULL, *k = NULL;
    char         *txt;
    int           rc, utf8;

    fuzz_quiet_logs();
    memset(&eb, 0, sizeof(eb));
    utf8 = utf8_valid(data, size, NULL);
    rc = srv_json_parse((const char *)data, size, &j, &eb);
    fuzz_check_err("srv_json_parse", rc, &eb);
    if (!utf8)
        fuzz_check(rc == ERR_INVAL && strcmp(eb.code, "invalid_utf8") == 0,
            "input that is not UTF-8 accepted or refused as \"%s\"", eb.code);
    if (rc != 0) {
        fuzz_check(j == NULL, "a refused body left a value");
        return 0;
    }
    fuzz_check(j != NULL, "accepted without a value");
    fuzz_check(memchr(data, 0, size) == NULL, "a NUL byte was accepted");
    if ((txt = cJSON_PrintUnformatted(j)) != NULL) {
        memset(&eb, 0, sizeof(eb));
        rc = srv_json_parse(txt, strlen(txt), &k, &eb);
        fuzz_check(rc == 0,
            "the printed form of an accepted body is "
            "refused: %s",
            eb.msg);
        fuzz_check(cJSON_Compare(j, k, 1),
            "the printed form reads back "
            "to a different value");
        free(txt);
    }
    cJSON_Delete(k);
    cJSON_Delete(j);
    return 0;
}
