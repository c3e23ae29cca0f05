# SPDX-License-Identifier: MIT
"""
tests/integration/test_trust.py: trustpoints decide which real servers herald
will talk to.

Each test starts its own herald (a fresh data directory, so trust starts
empty), creates the trustpoints of the case through the REST API and sends
through POST /api/v1/mail/test to the Postfix of tests/lib/mailenv.py, whose
submission services present the test PKI's chains (tests/lib/mkpki.sh):

  submission            leaf + intermediate + root A cross-signed by the
                        old root (the Gmail shape)
  submission-inter      leaf + intermediate
  submission-expired    expired leaf + intermediate + cross
  submission-wronghost  leaf for wrong.example + intermediate + cross

Cases: root A only; the old root only (through the cross-signed root);
the intermediate with chain-validation stop; the pinned leaf with stop;
nothing trusted (certificate_untrusted naming the missing issuer); wrong
host name (hostname_mismatch); expired leaf (certificate_expired); and
probe -> import-chain of the root it returns (confirmed by SHA-256) -> the
next delivery works. Secrets never appear in responses or the herald log.
"""

import base64
import json
import unittest
import uuid

import itest
from herald import Herald
from itest import mailenv_module
from mailenv import pem_sha256, read_pem, split_pems

ENV = None
USER = 'alerts@example.test'
setUpModule, tearDownModule = mailenv_module(globals())


def secrets():
    out = []
    for user, pw in ENV.users.items():
        out.append(pw)
        out.append(base64.b64encode(('\0%s\0%s' % (user, pw)).encode())
                   .decode())
    return out


def find_key(obj, key):
    """First value of key anywhere in a JSON document, or None."""
    return itest.find_key(obj, key, skip_none=False)


class TrustCase(unittest.TestCase):
    maxDiff = None

    def setUp(self):
        self.h = Herald()
        self.h.start()
        self.responses = []

    def tearDown(self):
        h, self.h = self.h, None
        try:
            log = h.log() + h.stdout_text()
            for s in secrets():
                self.assertNotIn(s, log, 'a password is in the herald log')
                for text in self.responses:
                    self.assertNotIn(s, text, 'a password is in a response')
        finally:
            h.stop()
            h.cleanup()

    # ---- API helpers -------------------------------------------------

    def call(self, method, path, body=None, **kw):
        st, hdrs, data = self.h.request(method, path, body, timeout=120,
                                        **kw)
        self.responses.append(json.dumps(data) if not isinstance(data, str)
                              else data)
        return st, data

    def trustpoint(self, name, pem_file, chain_validation):
        """Creates a trustpoint and authenticates it with one certificate
        of the test PKI, the way "crypto pki trustpoint" + "crypto pki
        authenticate" do."""
        st, body = self.call('POST', '/api/v1/trustpoints', {
            'name': name, 'revocation_check': 'none',
            'chain_validation': chain_validation, 'enrollment': 'terminal'})
        self.assertEqual(st, 201, body)
        pem = read_pem(pem_file)
        st, body = self.call('PUT', '/api/v1/trustpoints/%s/certificate'
                             % name, pem,
                             content_type='application/x-pem-file')
        self.assertEqual(st, 200, body)
        cert = body.get('certificate') or {}
        self.assertEqual(
            (cert.get('fingerprints') or {}).get('sha256', '').upper(),
            pem_sha256(pem), body)
        return body

    def send(self, service, **extra):
        t = uuid.uuid4().hex[:12]
        fields = {
            'server': '%s:%s@localhost:%d' % (USER, ENV.users[USER],
                                              ENV.ports[service]),
            'secure': 'tls', 'to': 'noc@example.test', 'from': USER,
            'subject': 'trust %s %s' % (service, t),
            'body': 'trust test %s' % t,
        }
        fields.update(extra)
        st, body = self.call('POST', '/api/v1/mail/test', fields)
        self.assertEqual(st, 200, body)
        return t, body

    def assertDelivered(self, t, body, anchor=None):
        self.assertIs(body.get('delivered'), True,
                      'not delivered: %s\nserver log:\n%s' % (
                          json.dumps(body.get('result'), indent=1),
                          ENV.log()[-3000:]))
        ENV.wait_for_message('noc@example.test', contains=t.encode())
        if anchor is not None:
            a = find_key(body.get('trace'), 'anchor')
            self.assertIsInstance(a, dict, json.dumps(body.get('trace'))
                                  [-2000:])
            self.assertEqual(a.get('trustpoint'), anchor)

    def assertFailed(self, t, body, klass):
        self.assertIs(body.get('delivered'), False, json.dumps(body)[-2000:])
        res = body.get('result') or {}
        self.assertEqual(res.get('klass'), klass, json.dumps(res, indent=1))
        self.assertTrue(res.get('permanent'), res)
        # Nothing was sent: the session stopped at TLS.
        self.assertEqual([m for m in ENV.messages('noc@example.test')
                          if t.encode() in m], [])
        return res


class TrustTest(TrustCase):
    def test_root_a_only_delivers(self):
        self.trustpoint('root-a', 'root-a.pem', 'continue')
        t, body = self.send('submission')
        self.assertDelivered(t, body, anchor='root-a')

    def test_old_root_only_delivers_through_cross_signed_root(self):
        self.trustpoint('old-root', 'root-old.pem', 'continue')
        t, body = self.send('submission')
        self.assertDelivered(t, body, anchor='old-root')

    def test_intermediate_with_chain_validation_stop_delivers(self):
        self.trustpoint('inter', 'inter.pem', 'stop')
        t, body = self.send('submission')
        self.assertDelivered(t, body, anchor='inter')
        # Also when the server sends no root at all.
        t, body = self.send('submission-inter')
        self.assertDelivered(t, body, anchor='inter')

    def test_intermediate_with_continue_is_not_an_anchor(self):
        self.trustpoint('inter', 'inter.pem', 'continue')
        t, body = self.send('submission-inter')
        res = self.assertFailed(t, body, 'certificate_untrusted')
        self.assertIn('inter', res['message'] + res.get('advice', ''))

    def test_pinned_leaf_with_stop_delivers(self):
        self.trustpoint('pinned', 'leaf.pem', 'stop')
        t, body = self.send('submission')
        self.assertDelivered(t, body, anchor='pinned')

    def test_nothing_trusted_names_missing_issuer(self):
        t, body = self.send('submission')
        res = self.assertFailed(t, body, 'certificate_untrusted')
        # The chain ends at root A as cross-signed by the old root: the
        # old root is the issuer nobody holds.
        self.assertIn('Herald Test Old Root', res['message'])
        self.assertTrue(res.get('advice'), res)
        self.assertEqual(find_key(body.get('trace'), 'missing_issuer'),
                         'CN=Herald Test Old Root,O=Herald Test')
        # The same server without the cross cert: root A is missing.
        t, body = self.send('submission-inter')
        res = self.assertFailed(t, body, 'certificate_untrusted')
        self.assertIn('Herald Test Root A', res['message'])

    def test_wrong_host_name_is_hostname_mismatch(self):
        self.trustpoint('root-a', 'root-a.pem', 'continue')
        t, body = self.send('submission-wronghost')
        res = self.assertFailed(t, body, 'hostname_mismatch')
        self.assertIn('localhost', res['message'])
        self.assertIn('wrong.example', res['message'])
        # A valid certificate checked against another name fails the same
        # way (tls_name overrides the name checked).
        t, body = self.send('submission', tls_name='mail.example.test')
        res = self.assertFailed(t, body, 'hostname_mismatch')
        self.assertIn('mail.example.test', res['message'])

    def test_removed_trustpoint_is_not_bypassed_by_a_cached_session(self):
        # A resumed TLS session skips certificate checks: herald must drop
        # its cached sessions when trust changes.
        self.trustpoint('root-a', 'root-a.pem', 'continue')
        t, body = self.send('submission')
        self.assertDelivered(t, body, anchor='root-a')
        st, data = self.call('DELETE', '/api/v1/trustpoints/root-a')
        self.assertEqual(st, 204, data)
        t, body = self.send('submission')
        self.assertFailed(t, body, 'certificate_untrusted')

    def test_host_name_is_checked_even_with_a_cached_session(self):
        self.trustpoint('root-a', 'root-a.pem', 'continue')
        t, body = self.send('submission')
        self.assertDelivered(t, body, anchor='root-a')
        t, body = self.send('submission', tls_name='mail.example.test')
        self.assertFailed(t, body, 'hostname_mismatch')

    def test_expired_leaf_is_certificate_expired(self):
        self.trustpoint('root-a', 'root-a.pem', 'continue')
        t, body = self.send('submission-expired')
        res = self.assertFailed(t, body, 'certificate_expired')
        self.assertIn('2021', res['message'])

    def test_probe_import_chain_then_delivers(self):
        # 1. Nothing trusted: delivery fails.
        t, body = self.send('submission')
        self.assertFailed(t, body, 'certificate_untrusted')
        # 2. Probe shows the chain and what to import.
        st, rep = self.call('POST', '/api/v1/probe', {
            'host': 'localhost', 'port': ENV.ports['submission'],
            'secure': 'tls'})
        self.assertEqual(st, 200, rep)
        self.assertEqual(rep.get('speaks'), 'starttls', rep)
        verdict = rep.get('verdict') or {}
        self.assertIs(verdict.get('ok'), False, verdict)
        self.assertEqual(verdict.get('code'), 'certificate_untrusted')
        chain = find_key(rep, 'chain')
        self.assertEqual(len(chain), 3, chain)
        presented = read_pem('chain-full.pem')
        for c in chain:
            # What the server really sent, with fingerprints that match an
            # independent computation.
            self.assertEqual(c['sha256'].upper(), pem_sha256(c['pem']))
        self.assertEqual([c['sha256'].upper() for c in chain],
                         [pem_sha256(p) for p in split_pems(presented)])
        fix = find_key(rep, 'fix') or {}
        cand = (fix.get('trustpoint_candidates') or [None])[0]
        self.assertIsNotNone(cand, rep)
        root = chain[cand['chain_index']]
        self.assertEqual(root['sha256'], cand['sha256'])
        self.assertEqual(pem_sha256(root['pem']),
                         pem_sha256(read_pem('root-a-cross.pem')))
        # 3. A wrong fingerprint imports nothing.
        st, err = self.call('POST', '/api/v1/trustpoints/import-chain', {
            'certificates': [{'pem': root['pem'],
                              'sha256': pem_sha256(read_pem('leaf.pem')),
                              'name': 'gmail-root'}],
            'chain_validation': cand['chain_validation']})
        self.assertEqual(st, 422, err)
        self.assertEqual(err['error']['code'], 'fingerprint_mismatch')
        st, lst = self.call('GET', '/api/v1/trustpoints')
        self.assertEqual(st, 200, lst)
        self.assertEqual(lst['items'], [])
        # 4. The confirmed import.
        st, imp = self.call('POST', '/api/v1/trustpoints/import-chain', {
            'certificates': [{'pem': root['pem'], 'sha256': root['sha256'],
                              'name': 'gmail-root'}],
            'chain_validation': cand['chain_validation']})
        self.assertEqual(st, 201, imp)
        self.assertEqual([i['name'] for i in imp['items']], ['gmail-root'])
        # 5. Now it delivers, anchored at the imported trustpoint.
        t, body = self.send('submission')
        self.assertDelivered(t, body, anchor='gmail-root')

    def test_trustpoint_from_router_config_text_delivers(self):
        # The source document's way: paste the IOS configuration.
        pem = read_pem('inter.pem').strip()
        text = ('crypto pki trustpoint CA-Test-Inter\n'
                ' enrollment terminal\n'
                ' revocation-check none\n'
                ' chain-validation stop\n'
                'crypto pki authenticate CA-Test-Inter\n'
                '%s\n'
                'quit\n' % pem)
        st, res = self.call('POST', '/api/v1/config', text)
        self.assertEqual(st, 200, res)
        self.assertEqual(res.get('trustpoints'), 1, res)
        self.assertEqual(res.get('certificates'), 1, res)
        t, body = self.send('submission')
        self.assertDelivered(t, body, anchor='CA-Test-Inter')

    def test_probe_of_trusted_server_is_ok(self):
        self.trustpoint('root-a', 'root-a.pem', 'continue')
        st, rep = self.call('POST', '/api/v1/probe', {
            'host': 'localhost', 'port': ENV.ports['smtps'],
            'secure': 'implicit'})
        self.assertEqual(st, 200, rep)
        self.assertEqual(rep.get('speaks'), 'implicit', rep)
        self.assertIs((rep.get('verdict') or {}).get('ok'), True, rep)

    def test_starttls_probe_of_an_implicit_tls_port_says_use_implicit(self):
        # herald waits for a 220 while the server waits for a ClientHello
        st, rep = self.call('POST', '/api/v1/probe', {
            'host': 'localhost', 'port': ENV.ports['smtps'],
            'secure': 'tls'})
        self.assertEqual(st, 502, rep)
        self.assertEqual(rep['error']['code'], 'timeout', rep)
        self.assertIn('seems to speak implicit TLS', rep['error']['message'])
        self.assertIn('secure implicit', rep['result']['advice'])


if __name__ == '__main__':
    unittest.main()
