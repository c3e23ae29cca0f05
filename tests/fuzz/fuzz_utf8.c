/* SPDX-License-Identifier: MIT */
/*
 * tests/fuzz/fuzz_utf8.c: the UTF-8 validator (common/utf8.c) against a
 * second, table-driven reading of RFC 3629's well-formed byte sequences
 * (section 4): both must agree on every input, and on the offset of the
 * first bad sequence.
 */
#include "fuzz.h"

#include "common/utf8.h"

/* RFC 3629, section 4: the ranges of each byte of a well-formed sequence,
 * one row per lead-byte range. */
static const struct {
    unsigned char lo[4], hi[4];
    int           n;
} rows[] = {
    { { 0x00 }, { 0x7f }, 1 },
    { { 0xc2, 0x80 }, { 0xdf, 0xbf }, 2 },
    { { 0xe0, 0xa0, 0x80 }, { 0xe0, 0xbf, 0xbf }, 3 },
    { { 0xe1, 0x80, 0x80 }, { 0xec, 0xbf, 0xbf }, 3 },
    { { 0xed, 0x80, 0x80 }, { 0xed, 0x9f, 0xbf }, 3 },
    { { 0xee, 0x80, 0x80 }, { 0xef, 0xbf, 0xbf }, 3 },
    { { 0xf0, 0x90, 0x80, 0x80 }, { 0xf0, 0xbf, 0xbf, 0xbf }, 4 },
    { { 0xf1, 0x80, 0x80, 0x80 }, { 0xf3, 0xbf, 0xbf, 0xbf }, 4 },
    { { 0xf4, 0x80, 0x80, 0x80 }, { 0xf4, 0x8f, 0xbf, 0xbf }, 4 },
};

/* Length of the well-formed sequence at p, or 0. */
static int
seq_len(const uint8_t *p, size_t left)
{
    size_t r;
    int    i;

    for (r = 0; r < sizeof(rows) / sizeof(rows[0]); r++) {
        if (p[0] < rows[r].lo[0] || p[0] > rows[r].hi[0])
            continue;
        if ((size_t)rows[r].n > left)
            return 0;
        for (i = 1; i < rows[r].n; i++)
            if (p[i] < rows[r].lo[i] || p[i] > rows[r].hi[i])
                return 0;
        return rows[r].n;
    }
    return 0;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    size_t off = 0, bad = (size_t)-1;
    int    n, want = 1, got;

    while (off < size) {
        if ((n = seq_len(data + off, size - off)) == 0) {
            want = 0;
            break;
        }
        off += (size_t)n;
    }
    got = utf8_valid(data, size, &bad);
    fuzz_check(got == want, "utf8_valid says %d, RFC 3629 says %d", got, want);
    if (!want)
        fuzz_check(bad == off,
            "first bad sequence at %zu, validator says "
            "%zu",
            off, bad);
    return 0;
}
