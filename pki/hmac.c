/* SPDX-License-Identifier: MIT */
/*
 * pki/hmac.c: HMAC-SHA256 (RFC 2104) for callers outside the wolfSSL fence
 * (webhook signatures in engine/run/hook_auth.c). Compare results with
 * sec_equal() (common/sec.h), which takes constant time.
 */
#include "pki/pki.h"

#include <string.h>

#include <wolfssl/options.h>
#include <wolfssl/wolfcrypt/hmac.h>

#include "common/sec.h"

int
pki_hmac_sha256(const void *key, size_t klen, const void *msg, size_t mlen,
    unsigned char out[PKI_SHA256_LEN])
{
    Hmac h;
    int  rc = ERR_INTERNAL;

    memset(out, 0, PKI_SHA256_LEN);
    if (klen > UINT32_MAX || mlen > UINT32_MAX)
        return ERR_INVAL;
    if (wc_HmacInit(&h, NULL, INVALID_DEVID) != 0)
        return ERR_INTERNAL;
    if (wc_HmacSetKey(&h, WC_SHA256, key, (word32)klen) == 0 &&
        wc_HmacUpdate(&h, msg, (word32)mlen) == 0 &&
        wc_HmacFinal(&h, out) == 0)
        rc = 0;
    wc_HmacFree(&h);
    sec_wipe(&h, sizeof(h)); /* the keyed pads */
    if (rc != 0)
        memset(out, 0, PKI_SHA256_LEN);
    return rc;
}
