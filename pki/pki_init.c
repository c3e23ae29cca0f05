/* SPDX-License-Identifier: MIT */
/* pki/pki_init.c: library-wide wolfSSL set-up. */
#include "pki/pki.h"

#include <wolfssl/options.h>
#include <wolfssl/ssl.h>
#include <wolfssl/wolfcrypt/ecc.h>

int
pki_init(void)
{
    return wolfSSL_Init() == WOLFSSL_SUCCESS ? 0 : ERR_TLS;
}

void
pki_cleanup(void)
{
    wolfSSL_Cleanup();
}

void
pki_thread_cleanup(void)
{
#ifdef FP_ECC
    wc_ecc_fp_free();
#endif
}
