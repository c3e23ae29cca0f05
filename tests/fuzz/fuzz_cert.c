/* SPDX-License-Identifier: MIT */
/*
 * tests/fuzz/fuzz_cert.c: certificate input (pki_cert_parse and
 * pki_certs_parse, pki/pki.h): PEM, bare base64 as pasted after "crypto pki
 * authenticate", the running-config hex dump, and DER.
 *
 * Bad input must be refused with a message. An accepted certificate must
 * give its details, warnings and fingerprints without crashing, and its
 * PEM and hex forms must parse back to the same DER.
 */
#include <cjson/cJSON.h>

#include "fuzz.h"
#include "pki/pki.h"

static void
same_der(const struct pki_cert *c, const char *text, const char *form)
{
    struct pki_cert     *c2 = NULL;
    struct errbuf        eb;
    const unsigned char *d1, *d2;
    size_t               l1, l2;
    int                  rc;

    fuzz_check(text != NULL, "pki_cert_%s returned NULL", form);
    memset(&eb, 0, sizeof(eb));
    rc = pki_cert_parse(text, strlen(text), &c2, &eb);
    fuzz_check(rc == 0,
        "the %s form of an accepted certificate does not "
        "parse (%s: %s):\n%s",
        form, err_name(rc), eb.msg, text);
    d1 = pki_cert_der(c, &l1);
    d2 = pki_cert_der(c2, &l2);
    fuzz_check(l1 == l2 && memcmp(d1, d2, l1) == 0,
        "the %s form parses to a different certificate", form);
    pki_cert_free(c2);
}

static void
check_cert(const struct pki_cert *c)
{
    const unsigned char *der;
    size_t               len;
    cJSON               *d, *w;
    char                *pem, *hex;

    der = pki_cert_der(c, &len);
    fuzz_check(der != NULL && len > 0, "accepted certificate has no DER");
    fuzz_check(pki_cert_subject(c) != NULL && pki_cert_issuer(c) != NULL,
        "accepted certificate has no subject or issuer string");
    fuzz_check(pki_cert_sha256(c) != NULL && strlen(pki_cert_sha256(c)) == 95,
        "SHA-256 fingerprint is not 32 hex pairs: \"%s\"",
        pki_cert_sha256(c) ? pki_cert_sha256(c) : "(null)");
    (void)pki_cert_is_ca(c);
    (void)pki_cert_is_self_signed(c);
    (void)pki_cert_not_after(c);

    d = pki_cert_details(c);
    fuzz_check(d != NULL && cJSON_IsObject(d), "pki_cert_details: no object");
    free(cJSON_PrintUnformatted(d));
    cJSON_Delete(d);
    w = pki_cert_warnings(c, (time_t)1800000000);
    fuzz_check(w != NULL && cJSON_IsArray(w), "pki_cert_warnings: no array");
    cJSON_Delete(w);

    pem = pki_cert_pem(c);
    same_der(c, pem, "pem");
    free(pem);
    hex = pki_cert_hex(c, 2);
    same_der(c, hex, "hex");
    free(hex);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static int       init;
    struct pki_cert *c = NULL, **v = NULL;
    struct errbuf    eb;
    size_t           n = 0, i;
    int              rc;

    if (!init) {
        fuzz_quiet_logs();
        pki_init();
        init = 1;
    }

    memset(&eb, 0, sizeof(eb));
    rc = pki_cert_parse((const char *)data, size, &c, &eb);
    fuzz_check_err("pki_cert_parse", rc, &eb);
    if (rc == 0) {
        fuzz_check(c != NULL, "pki_cert_parse returned 0 and no cert");
        check_cert(c);
        pki_cert_free(c);
    }

    memset(&eb, 0, sizeof(eb));
    rc = pki_certs_parse((const char *)data, size, &v, &n, &eb);
    fuzz_check_err("pki_certs_parse", rc, &eb);
    if (rc == 0) {
        for (i = 0; i < n; i++)
            check_cert(v[i]);
        pki_certs_free(v, n);
    }

    memset(&eb, 0, sizeof(eb));
    rc = pki_cert_from_der(data, size, &c, &eb);
    fuzz_check_err("pki_cert_from_der", rc, &eb);
    if (rc == 0) {
        check_cert(c);
        pki_cert_free(c);
    }
    return 0;
}
