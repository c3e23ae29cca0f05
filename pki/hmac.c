/* SPDX-License-Identifier: MIT */
/*
 * pki/hmac.c: HMAC-SHA256 (RFC 2104) and plain SHA-256 (FIPS 180-4) for
 * callers outside the wolfSSL fence (webhook signatures and stored webhook
 * token digests in engine/run/hook_auth.c). Compare results with
 * sec_equal() (common/sec.h), which takes constant time.
 */
#include "pki/pki.h"

#include <string.h>

#include <wolfssl/options.h>
#include <wolfssl/wolfcrypt/hmac.h>
#include <wolfssl/wolfcrypt/sha256.h>

#include "common/sec.h"

int
pki_hmac_sha256(const void *key, size_t klen, const void *msg, size_t mlen,
    unsigned char out[PKI_SHA256_LEN])
{
    return pki_hmac_sha256_2(key, klen, "", 0, msg, mlen, out);
}

int
pki_hmac_sha256_2(const void *key, size_t klen, const void *m1, size_t l1,
    const void *m2, size_t l2, unsigned char out[PKI_SHA256_LEN])
{
    Hmac h;
    int  rc = ERR_INTERNAL;

    memset(out, 0, PKI_SHA256_LEN);
    if (klen > UINT32_MAX || l1 > UINT32_MAX || l2 > UINT32_MAX)
        return ERR_INVAL;
    if (wc_HmacInit(&h, NULL, INVALID_DEVID) != 0)
        return ERR_INTERNAL;
    if (wc_HmacSetKey(&h, WC_SHA256, key, (word32)klen) == 0
        && (l1 == 0 || wc_HmacUpdate(&h, m1, (word32)l1) == 0)
        && (l2 == 0 || wc_HmacUpdate(&h, m2, (word32)l2) == 0)
        && wc_HmacFinal(&h, out) == 0)
        rc = 0;
    wc_HmacFree(&h);
    sec_wipe(&h, sizeof(h)); /* the keyed pads */
    if (rc != 0)
        memset(out, 0, PKI_SHA256_LEN);
    return rc;
}

int
pki_sha256(const void *msg, size_t len, unsigned char out[PKI_SHA256_LEN])
{
    wc_Sha256 h;
    int       rc = ERR_INTERNAL;

    memset(out, 0, PKI_SHA256_LEN);
    if (len > UINT32_MAX)
        return ERR_INVAL;
    if (wc_InitSha256(&h) != 0)
        return ERR_INTERNAL;
    if (wc_Sha256Update(&h, msg, (word32)len) == 0
        && wc_Sha256Final(&h, out) == 0)
        rc = 0;
    wc_Sha256Free(&h);
    sec_wipe(&h, sizeof(h)); /* the last block of a secret input */
    if (rc != 0)
        memset(out, 0, PKI_SHA256_LEN);
    return rc;
}
