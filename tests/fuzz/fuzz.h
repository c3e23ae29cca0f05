/* SPDX-License-Identifier: MIT */
/*
 * tests/fuzz/fuzz.h: helpers shared by the fuzz targets.
 *
 * Every tests/fuzz/fuzz_<name>.c defines LLVMFuzzerTestOneInput() for one
 * parser. It is built twice: with clang's libFuzzer and ASan/UBSan by
 * scripts/fuzz, and with tests/fuzz/driver.c (any compiler) as a ctest smoke
 * test that replays tests/fuzz/corpus/<name>/ and a fixed number of
 * deterministic mutations. A broken property calls fuzz_fail(), which names
 * the property and aborts, so both builds report it as a crash.
 *
 * The properties are herald's parser rule: bad input is rejected with a
 * message that names the problem (a non-empty errbuf), nothing crashes, and
 * what a parser accepts survives the round trips its header promises.
 */
#ifndef HERALD_TESTS_FUZZ_H
#define HERALD_TESTS_FUZZ_H

#include <fcntl.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/err.h"
#include "common/log.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Prints what was violated and aborts (libFuzzer and the driver then save
 * the input). */
#define fuzz_fail(...)                                                         \
    do {                                                                       \
        fprintf(stderr, "fuzz: property violated at %s:%d: ", __FILE__,        \
            __LINE__);                                                         \
        fprintf(stderr, __VA_ARGS__);                                          \
        fputc('\n', stderr);                                                   \
        abort();                                                               \
    } while (0)

#define fuzz_check(cond, ...)                                                  \
    do {                                                                       \
        if (!(cond))                                                           \
            fuzz_fail(__VA_ARGS__);                                            \
    } while (0)

/* A failing call must say why: rc is an enum err, and a non-zero rc with an
 * empty message breaks herald's error rule. */
#define fuzz_check_err(what, rc, eb)                                           \
    do {                                                                       \
        fuzz_check((rc) <= 0, "%s returned %d, not 0 or a negative enum err",  \
            (what), (rc));                                                     \
        fuzz_check((rc) == 0 || (eb)->msg[0] != '\0',                          \
            "%s failed with %s (%d) but left no message in the errbuf",        \
            (what), err_name(rc), (rc));                                       \
        fuzz_check(memchr((eb)->msg, '\0', sizeof((eb)->msg)) != NULL,         \
            "%s: errbuf message is not NUL-terminated", (what));               \
    } while (0)

/* New NUL-terminated copy of data (aborts on ENOMEM: not a finding). */
static inline char *
fuzz_strndup(const uint8_t *data, size_t size)
{
    char *s = malloc(size + 1);

    if (s == NULL)
        abort();
    if (size > 0)
        memcpy(s, data, size);
    s[size] = '\0';
    return s;
}

/* 1 if s holds a CR or LF. */
static inline int
fuzz_has_crlf(const char *s)
{
    return s != NULL && strpbrk(s, "\r\n") != NULL;
}

/* Sends herald's log lines to /dev/null once, so that fuzzing output stays
 * readable. */
static inline void
fuzz_quiet_logs(void)
{
    static int done;
    int        fd;

    if (done)
        return;
    done = 1;
    if ((fd = open("/dev/null", O_WRONLY | O_CLOEXEC)) >= 0)
        log_set_fd(fd);
}

#endif
