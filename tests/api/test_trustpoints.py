# SPDX-License-Identifier: MIT
"""tests/api/test_trustpoints.py: /api/v1/trustpoints.

Trustpoint policies (IOS "crypto pki trustpoint"), certificate upload as
PEM, bare base64 and DER with details checked against openssl's own view
(fingerprint, subject, CA flag), warnings for a non-CA and an expired
certificate, bad certificates, import-chain with the confirmed SHA-256
(all or nothing), and persistence across restart. The certificates come from
tests/lib/mkpki.sh, generated at test time.
"""
import re
import unittest

from herald import HeraldTestCase, cert_sha256, pki_file


def split_pem(bundle):
    return re.findall(r'-----BEGIN CERTIFICATE-----.+?-----END CERTIFICATE-----\n?',
                      bundle, re.S)


class TrustpointTest(HeraldTestCase):
    def create(self, name, expect=201, **kw):
        body = {'name': name}
        body.update(kw)
        st, _, tp = self.h.request('POST', '/api/v1/trustpoints', body)
        self.assertEqual(st, expect, tp)
        return tp

    def upload(self, name, data, ctype='application/x-pem-file',
               expect=200):
        st, _, tp = self.h.request(
            'PUT', '/api/v1/trustpoints/%s/certificate' % name, data,
            content_type=ctype)
        self.assertEqual(st, expect, tp)
        return tp

    def codes(self, tp):
        return sorted(w['code'] for w in tp['warnings'])

    def test_create_with_policies_then_authenticate(self):
        tp = self.create('CA-GTS-Root-R1', revocation_check='none',
                         chain_validation='stop', enrollment='terminal')
        self.assertEqual(tp['name'], 'CA-GTS-Root-R1')
        self.assertEqual(tp['chain_validation'], 'stop')
        self.assertEqual(tp['revocation_check'], 'none')
        self.assertEqual(tp['enrollment'], 'terminal')
        self.assertIsNone(tp['certificate'])
        # default chain validation is IOS's "continue"
        self.assertEqual(self.create('Other')['chain_validation'],
                         'continue')

        pem = pki_file('root-a.pem')
        tp = self.upload('CA-GTS-Root-R1', pem)
        c = tp['certificate']
        self.assertIn('Herald Test Root A', c['subject'])
        self.assertEqual(c['fingerprints']['sha256'].upper(),
                         cert_sha256(pem))
        self.assertIs(c['basic_constraints']['ca'], True)
        self.assertIs(c['self_signed'], True)
        self.assertEqual(self.codes(tp), [])
        st, _, got = self.h.request('GET',
                                    '/api/v1/trustpoints/CA-GTS-Root-R1')
        self.assertEqual(st, 200)
        self.assertEqual(got['certificate']['fingerprints'],
                         c['fingerprints'])
        st, _, lst = self.h.request('GET', '/api/v1/trustpoints')
        self.assertEqual([t['name'] for t in lst['items']],
                         ['CA-GTS-Root-R1', 'Other'])

        # persisted, certificate included
        self.h.restart()
        st, _, got = self.h.request('GET',
                                    '/api/v1/trustpoints/CA-GTS-Root-R1')
        self.assertEqual(got['certificate']['fingerprints']['sha256'].upper(),
                         cert_sha256(pem))

    def test_certificate_in_the_create_call_and_conflict(self):
        pem = pki_file('inter.pem')
        tp = self.create('Inter', chain_validation='stop', certificate=pem)
        self.assertIn('Herald Test Intermediate',
                      tp['certificate']['subject'])
        st, _, e = self.h.request('POST', '/api/v1/trustpoints',
                                  {'name': 'Inter'})
        self.assertEqual(st, 409)
        self.assertEqual(e['error']['code'], 'conflict')
        # the existing trustpoint is unchanged
        st, _, got = self.h.request('GET', '/api/v1/trustpoints/Inter')
        self.assertEqual(got['chain_validation'], 'stop')
        self.assertIsNotNone(got['certificate'])

    def test_bad_policies_are_refused(self):
        st, _, e = self.h.request('POST', '/api/v1/trustpoints',
                                  {'name': 'T', 'chain_validation': 'maybe'})
        self.assertEqual(st, 400)
        self.assertEqual(e['error']['field'], 'chain_validation')
        st, _, e = self.h.request('POST', '/api/v1/trustpoints',
                                  {'name': 'T', 'revocation_check': 'crl'})
        self.assertEqual(st, 422)
        self.assertEqual(e['error']['code'], 'unsupported')
        self.assertIn('crl', e['error']['message'])
        st, _, e = self.h.request('POST', '/api/v1/trustpoints',
                                  {'name': 'bad name!'})
        self.assertEqual(st, 400)
        self.assertEqual(e['error']['field'], 'name')
        st, _, e = self.h.request('POST', '/api/v1/trustpoints', {})
        self.assertEqual((st, e['error']['code']), (400, 'missing_field'))
        st, _, e = self.h.request('POST', '/api/v1/trustpoints',
                                  {'name': 'T', 'certificate': 'junk'})
        self.assertEqual(st, 400)
        self.assertEqual(e['error']['code'], 'invalid_certificate')
        self.assertEqual(e['error']['field'], 'certificate')
        st, _, lst = self.h.request('GET', '/api/v1/trustpoints')
        self.assertEqual(lst['items'], [])

    def test_warnings_for_non_ca_and_expired(self):
        self.create('Pinned', chain_validation='stop')
        tp = self.upload('Pinned', pki_file('nonca.pem'))
        self.assertIn('not_ca', self.codes(tp))
        tp = self.upload('Pinned', pki_file('leaf-expired.pem'))
        self.assertIn('expired', self.codes(tp))
        tp = self.upload('Pinned', pki_file('expiring.pem'))
        self.assertEqual(self.codes(tp), ['expiring_soon'])

    def test_other_encodings_and_bad_uploads(self):
        self.create('Enc')
        tp = self.upload('Enc', pki_file('root-a.b64'), ctype='text/plain')
        sha = cert_sha256(pki_file('root-a.pem'))
        self.assertEqual(tp['certificate']['fingerprints']['sha256'].upper(),
                         sha)
        with open(self.h_pki('root-a.der'), 'rb') as f:
            der = f.read()
        tp = self.upload('Enc', der, ctype='application/pkix-cert')
        self.assertEqual(tp['certificate']['fingerprints']['sha256'].upper(),
                         sha)
        st, _, e = self.h.request('PUT', '/api/v1/trustpoints/Enc/certificate',
                                  'not a certificate at all',
                                  content_type='text/plain')
        self.assertEqual(st, 400)
        self.assertEqual(e['error']['code'], 'invalid_certificate')
        st, _, e = self.h.request('PUT', '/api/v1/trustpoints/Enc/certificate',
                                  '', content_type='text/plain')
        self.assertEqual(st, 400)
        st, _, e = self.h.request('PUT', '/api/v1/trustpoints/Enc/certificate',
                                  {'pem': 'x'})
        self.assertEqual(st, 415)
        # the stored certificate is still the good one
        st, _, got = self.h.request('GET', '/api/v1/trustpoints/Enc')
        self.assertEqual(got['certificate']['fingerprints']['sha256'].upper(),
                         sha)
        st, _, e = self.h.request(
            'PUT', '/api/v1/trustpoints/Nope/certificate',
            pki_file('root-a.pem'), content_type='application/x-pem-file')
        self.assertEqual(st, 404)

    def h_pki(self, name):
        import os
        from herald import pki_dir
        return os.path.join(pki_dir(), name)

    def test_delete(self):
        self.create('Gone')
        st, _, body = self.h.request('DELETE', '/api/v1/trustpoints/Gone')
        self.assertEqual((st, body), (204, ''))
        self.assertEqual(self.h.request('GET', '/api/v1/trustpoints/Gone')[0],
                         404)

    def chain(self):
        certs = split_pem(pki_file('chain-full.pem'))
        self.assertEqual(len(certs), 3)
        return [{'pem': c, 'sha256': cert_sha256(c)} for c in certs[1:]]

    def test_import_chain_names_from_subject(self):
        items = self.chain()
        st, _, r = self.h.request('POST', '/api/v1/trustpoints/import-chain',
                                  {'certificates': items,
                                   'chain_validation': 'continue'})
        self.assertEqual(st, 201, r)
        names = [t['name'] for t in r['items']]
        self.assertEqual(names, ['Herald-Test-Intermediate',
                                 'Herald-Test-Root-A'])
        for t, it in zip(r['items'], items):
            self.assertEqual(t['certificate']['fingerprints']['sha256']
                             .upper(), it['sha256'])
            self.assertEqual(t['chain_validation'], 'continue')
        # lower case without colons is the same fingerprint
        one = [{'pem': items[0]['pem'], 'name': 'Again',
                'sha256': items[0]['sha256'].replace(':', '').lower()}]
        st, _, r = self.h.request('POST', '/api/v1/trustpoints/import-chain',
                                  {'certificates': one,
                                   'chain_validation': 'stop'})
        self.assertEqual(st, 201, r)
        self.assertEqual(r['items'][0]['chain_validation'], 'stop')

    def test_import_chain_default_anchors_an_intermediate_with_stop(self):
        # what the probe suggests: trusting an intermediate means "stop
        # there"; a self-signed root keeps "continue"
        inter = split_pem(pki_file('chain-full.pem'))[1]
        root = pki_file('root-a.pem')
        st, _, r = self.h.request('POST', '/api/v1/trustpoints/import-chain',
                                  {'certificates': [
                                      {'pem': inter, 'name': 'DefInter',
                                       'sha256': cert_sha256(inter)},
                                      {'pem': root, 'name': 'DefRoot',
                                       'sha256': cert_sha256(root)}]})
        self.assertEqual(st, 201, r)
        got = {t['name']: t['chain_validation'] for t in r['items']}
        self.assertEqual(got, {'DefInter': 'stop', 'DefRoot': 'continue'})
        # the answer carries each trustpoint's warnings, as GET does
        for t in r['items']:
            self.assertIn('warnings', t)
            one = self.h.api('GET', '/api/v1/trustpoints/' + t['name'])
            self.assertEqual(one['warnings'], t['warnings'])

    def test_import_chain_is_all_or_nothing(self):
        items = self.chain()
        bad = [dict(items[0]), dict(items[1])]
        bad[1]['sha256'] = items[0]['sha256']   # wrong for cert 1
        st, _, e = self.h.request('POST', '/api/v1/trustpoints/import-chain',
                                  {'certificates': bad})
        self.assertEqual(st, 422, e)
        self.assertEqual(e['error']['code'], 'fingerprint_mismatch')
        self.assertEqual(e['error']['field'], 'certificates[1].sha256')
        st, _, lst = self.h.request('GET', '/api/v1/trustpoints')
        self.assertEqual(lst['items'], [])
        # a name that exists: 409, and the first certificate not created
        self.create('Herald-Test-Root-A')
        st, _, e = self.h.request('POST', '/api/v1/trustpoints/import-chain',
                                  {'certificates': items})
        self.assertEqual(st, 409, e)
        st, _, lst = self.h.request('GET', '/api/v1/trustpoints')
        self.assertEqual([t['name'] for t in lst['items']],
                         ['Herald-Test-Root-A'])
        st, _, e = self.h.request('POST', '/api/v1/trustpoints/import-chain',
                                  {'certificates': []})
        self.assertEqual(st, 400)
        st, _, e = self.h.request('POST', '/api/v1/trustpoints/import-chain',
                                  {'certificates': [{'pem': items[0]['pem']}]})
        self.assertEqual(st, 400)
        self.assertEqual(e['error']['field'], 'certificates[0].sha256')


if __name__ == '__main__':
    unittest.main()
