/* SPDX-License-Identifier: MIT */
/*
 * tests/unit/pki/test_cert.c: certificate parsing in every form a user
 * pastes (PEM, bare base64, running-config hex, DER), the errors for bad
 * input, the details against what the openssl CLI says about the same files,
 * and the trustpoint warnings. The PKI is generated fresh by mkpki.sh.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <cjson/cJSON.h>

#include "pki/pki.h"
#include "pkitest.h"

static struct pki_cert *
load(const char *name)
{
    struct errbuf    eb = { 0 };
    struct pki_cert *c = NULL;
    size_t           len;
    char            *data = pkitest_read(name, &len);

    assert_non_null(data);
    if (pki_cert_parse(data, len, &c, &eb) != 0)
        fail_msg("parse %s: %s", name, eb.msg);
    free(data);
    return c;
}

static char *
ossl_field(const char *name, const char *args, const char *prefix)
{
    char *out = pkitest_cmd("openssl x509 -in '%s' -noout %s",
        pkitest_path(name), args);
    char *p = strstr(out, prefix);

    assert_non_null(p);
    p = strdup(p + strlen(prefix));
    free(out);
    return p;
}

static const char *
jstr(cJSON *o, const char *k)
{
    const char *s = cJSON_GetStringValue(cJSON_GetObjectItem(o, k));

    if (s == NULL)
        fail_msg("missing string field %s", k);
    return s;
}

static int
jarr_has(cJSON *arr, const char *s)
{
    cJSON *it;

    cJSON_ArrayForEach(it, arr) if (cJSON_IsString(it)
        && strcmp(it->valuestring, s) == 0) return 1;
    return 0;
}

static void
every_input_form_should_give_the_same_certificate(void **state)
{
    struct pki_cert *pem = load("root-a.pem"), *c;
    struct errbuf    eb = { 0 };
    size_t           len;
    char            *data, *hex, *wrapped;
    const char      *forms[] = { "root-a.b64", "root-a.hex", "root-a.der" };
    size_t           i;

    (void)state;
    for (i = 0; i < 3; i++) {
        c = load(forms[i]);
        assert_string_equal(pki_cert_sha256(c), pki_cert_sha256(pem));
        pki_cert_free(c);
    }
    /* The running-config block with its certificate/quit lines. */
    data = pkitest_read("root-a.hex", &len);
    wrapped = malloc(len + 64);
    snprintf(wrapped, len + 64, "  certificate ca 01\n%s  \tquit\n", data);
    assert_int_equal(pki_cert_parse(wrapped, strlen(wrapped), &c, &eb), 0);
    assert_string_equal(pki_cert_sha256(c), pki_cert_sha256(pem));
    pki_cert_free(c);
    free(wrapped);
    free(data);
    /* A bare base64 paste ended by "quit", as typed into IOS. */
    data = pkitest_read("root-a.b64", &len);
    wrapped = malloc(len + 64);
    snprintf(wrapped, len + 64, "\n%squit\n", data);
    assert_int_equal(pki_cert_parse(wrapped, strlen(wrapped), &c, &eb), 0);
    assert_string_equal(pki_cert_sha256(c), pki_cert_sha256(pem));
    pki_cert_free(c);
    free(wrapped);
    free(data);
    /* Our own output forms parse back to the same certificate. */
    hex = pki_cert_hex(pem, 2);
    assert_int_equal(pki_cert_parse(hex, strlen(hex), &c, &eb), 0);
    assert_string_equal(pki_cert_sha256(c), pki_cert_sha256(pem));
    pki_cert_free(c);
    data = pkitest_read("root-a.hex", &len);
    assert_string_equal(hex, data); /* same layout as mkpki's dump */
    free(data);
    free(hex);
    hex = pki_cert_pem(pem);
    data = pkitest_read("root-a.pem", &len);
    assert_string_equal(hex, data); /* byte for byte what openssl wrote */
    free(data);
    free(hex);
    pki_cert_free(pem);
}

static void
bad_input_should_get_a_message_naming_the_problem(void **state)
{
    struct errbuf    eb;
    struct pki_cert *c = NULL;
    size_t           len;
    char            *data, *big, *p;
    int              line;

    (void)state;
    memset(&eb, 0, sizeof(eb));
    assert_int_equal(pki_cert_parse("  \n\t ", 5, &c, &eb), ERR_INVAL);
    assert_non_null(strstr(eb.msg, "no certificate found"));
    assert_null(c);

    /* A bad base64 character on the third line of a bare paste. */
    data = pkitest_read("root-a.b64", &len);
    for (p = data, line = 1; line < 3; p++)
        if (*p == '\n')
            line++;
    p[5] = '!';
    memset(&eb, 0, sizeof(eb));
    assert_int_equal(pki_cert_parse(data, len, &c, &eb), ERR_INVAL);
    assert_non_null(strstr(eb.msg, "base64 is invalid at line 3"));
    assert_int_equal(eb.line, 3);
    free(data);

    /* A bundle where one certificate is expected. */
    data = pkitest_read("ca-bundle.pem", &len);
    assert_int_equal(pki_cert_parse(data, len, &c, &eb), ERR_INVAL);
    assert_non_null(strstr(eb.msg, "more than one certificate"));
    free(data);

    /* A private key is not a certificate. */
    data = pkitest_read("root-a.key", &len);
    assert_int_equal(pki_cert_parse(data, len, &c, &eb), ERR_INVAL);
    assert_non_null(strstr(eb.msg, "PRIVATE KEY"));
    free(data);

    /* A PEM block cut before its END line. */
    data = pkitest_read("root-a.pem", &len);
    p = strstr(data, "-----END");
    *p = '\0';
    assert_int_equal(pki_cert_parse(data, strlen(data), &c, &eb), ERR_INVAL);
    assert_non_null(strstr(eb.msg, "no END line"));
    free(data);

    /* DER that is not a certificate, and a truncated one. */
    assert_int_equal(pki_cert_parse("\x30\x82\x00\x03\x02\x01\x05", 7, &c, &eb),
        ERR_INVAL);
    assert_non_null(strstr(eb.msg, "not an X.509 certificate"));
    data = pkitest_read("root-a.der", &len);
    assert_int_equal(pki_cert_parse(data, len - 10, &c, &eb), ERR_INVAL);
    assert_non_null(strstr(eb.msg, "not an X.509 certificate"));
    free(data);

    /* Plain text that is neither base64 nor hex. */
    assert_int_equal(pki_cert_parse("hello, world", 12, &c, &eb), ERR_INVAL);
    assert_non_null(strstr(eb.msg, "line 1"));

    /* Over 64 KiB. */
    big = malloc(70000);
    memset(big, 'A', 70000);
    assert_int_equal(pki_cert_parse(big, 70000, &c, &eb), ERR_TOOBIG);
    assert_non_null(strstr(eb.msg, "65536"));
    free(big);
    assert_null(c);
}

static void
a_bundle_should_parse_in_order(void **state)
{
    struct errbuf     eb = { 0 };
    struct pki_cert **v;
    size_t            n, len;
    char             *data = pkitest_read("chain-full.pem", &len);
    const char       *files[] = { "leaf.pem", "inter.pem", "root-a-cross.pem" };
    size_t            i;

    (void)state;
    assert_int_equal(pki_certs_parse(data, len, &v, &n, &eb), 0);
    assert_int_equal(n, 3);
    for (i = 0; i < 3; i++) {
        char *subj =
            ossl_field(files[i], "-subject -nameopt RFC2253", "subject=");
        assert_string_equal(pki_cert_subject(v[i]), subj);
        free(subj);
    }
    assert_false(pki_cert_is_ca(v[0]));
    assert_true(pki_cert_is_ca(v[1]));
    assert_false(pki_cert_is_self_signed(v[2])); /* cross-signed */
    pki_certs_free(v, n);
    free(data);
}

static void
details_should_match_what_openssl_says(void **state)
{
    const char *files[] = { "leaf.pem", "root-a.pem", "inter.pem" };
    size_t      i;

    (void)state;
    for (i = 0; i < 3; i++) {
        struct pki_cert *c = load(files[i]);
        cJSON           *d = pki_cert_details(c), *fp, *pk;
        char            *s, *text, buf[64];
        const char      *alg;

        assert_non_null(d);
        fp = cJSON_GetObjectItem(d, "fingerprints");
        s = ossl_field(files[i], "-fingerprint -sha256", "Fingerprint=");
        assert_string_equal(jstr(fp, "sha256"), s);
        assert_string_equal(pki_cert_sha256(c), s);
        free(s);
        s = ossl_field(files[i], "-fingerprint -sha1", "Fingerprint=");
        assert_string_equal(jstr(fp, "sha1"), s);
        free(s);
        s = ossl_field(files[i], "-fingerprint -md5", "Fingerprint=");
        assert_string_equal(jstr(fp, "md5"), s);
        free(s);
        s = ossl_field(files[i], "-serial", "serial=");
        assert_string_equal(jstr(d, "serial"), s);
        free(s);
        s = ossl_field(files[i], "-subject -nameopt RFC2253", "subject=");
        assert_string_equal(jstr(d, "subject"), s);
        free(s);
        s = ossl_field(files[i], "-issuer -nameopt RFC2253", "issuer=");
        assert_string_equal(jstr(d, "issuer"), s);
        free(s);
        s = ossl_field(files[i], "-enddate -dateopt iso_8601", "notAfter=");
        s[10] = 'T';
        assert_string_equal(jstr(d, "not_after"), s);
        free(s);
        s = ossl_field(files[i], "-startdate -dateopt iso_8601", "notBefore=");
        s[10] = 'T';
        assert_string_equal(jstr(d, "not_before"), s);
        free(s);
        s = ossl_field(files[i], "-ext subjectKeyIdentifier", "Identifier: \n");
        {
            char *t = s;
            while (*t == ' ')
                t++;
            assert_string_equal(jstr(d, "subject_key_id"), t);
        }
        free(s);

        text = pkitest_cmd("openssl x509 -in '%s' -noout -text",
            pkitest_path(files[i]));
        alg = jstr(d, "signature_algorithm");
        snprintf(buf, sizeof(buf), "Signature Algorithm: %s", alg);
        assert_non_null(strstr(text, buf));
        pk = cJSON_GetObjectItem(d, "public_key");
        snprintf(buf, sizeof(buf), "Public-Key: (%d bit)",
            (int)cJSON_GetNumberValue(cJSON_GetObjectItem(pk, "bits")));
        assert_non_null(strstr(text, buf));
        assert_int_equal(cJSON_IsTrue(
                             cJSON_GetObjectItem(cJSON_GetObjectItem(d,
                                                     "basic_constraints"),
                                 "ca")),
            strstr(text, "CA:TRUE") != NULL);
        assert_int_equal(cJSON_IsTrue(cJSON_GetObjectItem(d, "self_signed")),
            i == 1);
        /* every CRL, OCSP, CA issuers URI and policy openssl shows */
        {
            cJSON *arr = cJSON_GetObjectItem(d, "crl_distribution_points");
            cJSON *aia = cJSON_GetObjectItem(d, "authority_info_access");
            cJSON *it;
            int    n = 0;
            cJSON_ArrayForEach(it, arr)
            {
                snprintf(buf, sizeof(buf), "URI:%s", it->valuestring);
                assert_non_null(strstr(text, buf));
                n++;
            }
            assert_int_equal(n, strstr(text, "CRL Distribution") ? 1 : 0);
            cJSON_ArrayForEach(it, cJSON_GetObjectItem(aia, "ocsp"))
            {
                snprintf(buf, sizeof(buf), "OCSP - URI:%s", it->valuestring);
                assert_non_null(strstr(text, buf));
                n++;
            }
            cJSON_ArrayForEach(it, cJSON_GetObjectItem(aia, "ca_issuers"))
            {
                snprintf(buf, sizeof(buf), "CA Issuers - URI:%s",
                    it->valuestring);
                assert_non_null(strstr(text, buf));
                n++;
            }
            assert_int_equal(n, strstr(text, "Authority Information") ? 3 : 0);
            n = 0;
            cJSON_ArrayForEach(it, cJSON_GetObjectItem(d, "policies"))
            {
                snprintf(buf, sizeof(buf), "Policy: %s", it->valuestring);
                assert_non_null(strstr(text, buf));
                n++;
            }
            {
                int   m = 0;
                char *q = text;
                while ((q = strstr(q, "Policy: ")) != NULL) {
                    m++;
                    q++;
                }
                assert_int_equal(n, m);
            }
        }
        if (i == 0) { /* the leaf: SANs, usages, AKI */
            cJSON *sans = cJSON_GetObjectItem(d, "subject_alt_names");
            char  *aki;
            assert_true(jarr_has(sans, "DNS:localhost"));
            assert_true(jarr_has(sans, "IP:127.0.0.1"));
            assert_true(jarr_has(sans, "IP:::1"));
            assert_int_equal(cJSON_GetArraySize(sans), 3);
            assert_true(jarr_has(cJSON_GetObjectItem(d, "key_usage"),
                "digitalSignature"));
            assert_true(jarr_has(cJSON_GetObjectItem(d, "extended_key_usage"),
                "serverAuth"));
            aki = ossl_field("inter.pem", "-ext subjectKeyIdentifier",
                "Identifier: \n");
            {
                char *t = aki;
                while (*t == ' ')
                    t++;
                assert_string_equal(jstr(d, "authority_key_id"), t);
            }
            free(aki);
        }
        if (i == 1)
            assert_true(
                jarr_has(cJSON_GetObjectItem(d, "key_usage"), "keyCertSign"));
        free(text);
        cJSON_Delete(d);
        pki_cert_free(c);
    }
}

static void
details_should_show_email_and_uri_names(void **state)
{
    struct pki_cert *c = load("nonca.pem");
    cJSON           *d = pki_cert_details(c);
    cJSON           *sans = cJSON_GetObjectItem(d, "subject_alt_names");

    (void)state;
    assert_true(jarr_has(sans, "email:client@herald.test"));
    assert_true(jarr_has(sans, "URI:https://herald.test/client"));
    assert_true(
        jarr_has(cJSON_GetObjectItem(d, "extended_key_usage"), "clientAuth"));
    cJSON_Delete(d);
    pki_cert_free(c);
}

static int
has_warning(cJSON *w, const char *code)
{
    cJSON *it;

    cJSON_ArrayForEach(it, w)
    {
        const char *c = cJSON_GetStringValue(cJSON_GetObjectItem(it, "code"));
        const char *m =
            cJSON_GetStringValue(cJSON_GetObjectItem(it, "message"));
        assert_non_null(m);
        assert_true(strlen(m) > 10);
        if (c && strcmp(c, code) == 0)
            return 1;
    }
    return 0;
}

static void
warnings_should_flag_leaf_expired_and_expiring(void **state)
{
    struct pki_cert *root = load("root-a.pem"), *leaf = load("nonca.pem");
    struct pki_cert *old = load("leaf-expired.pem"),
                    *soon = load("expiring.pem");
    time_t now = time(NULL);
    cJSON *w;

    (void)state;
    w = pki_cert_warnings(root, now);
    assert_int_equal(cJSON_GetArraySize(w), 0);
    cJSON_Delete(w);
    w = pki_cert_warnings(leaf, now);
    assert_true(has_warning(w, "not_ca"));
    assert_int_equal(cJSON_GetArraySize(w), 1);
    cJSON_Delete(w);
    w = pki_cert_warnings(old, now);
    assert_true(has_warning(w, "expired"));
    assert_true(has_warning(w, "not_ca"));
    cJSON_Delete(w);
    w = pki_cert_warnings(soon, now);
    assert_true(has_warning(w, "expiring_soon"));
    assert_false(has_warning(w, "not_ca"));
    cJSON_Delete(w);
    /* Root A seen from the day before it became valid. */
    {
        char     *s = ossl_field("root-a.pem", "-startdate -dateopt iso_8601",
                "notBefore=");
        struct tm tm;
        memset(&tm, 0, sizeof(tm));
        assert_non_null(strptime(s, "%Y-%m-%d %H:%M:%S", &tm));
        w = pki_cert_warnings(root, timegm(&tm) - 86400);
        assert_true(has_warning(w, "not_yet_valid"));
        cJSON_Delete(w);
        free(s);
    }
    pki_cert_free(root);
    pki_cert_free(leaf);
    pki_cert_free(old);
    pki_cert_free(soon);
}

static int
setup(void **state)
{
    (void)state;
    if (pki_init() != 0)
        return -1;
    return pkitest_make();
}

static int
teardown(void **state)
{
    (void)state;
    pkitest_remove();
    pki_cleanup();
    return 0;
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(every_input_form_should_give_the_same_certificate),
        cmocka_unit_test(bad_input_should_get_a_message_naming_the_problem),
        cmocka_unit_test(a_bundle_should_parse_in_order),
        cmocka_unit_test(details_should_match_what_openssl_says),
        cmocka_unit_test(details_should_show_email_and_uri_names),
        cmocka_unit_test(warnings_should_flag_leaf_expired_and_expiring),
    };

    return cmocka_run_group_tests(tests, setup, teardown);
}
