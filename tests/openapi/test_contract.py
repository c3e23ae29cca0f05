# SPDX-License-Identifier: MIT
"""
tests/openapi/test_contract.py: the running server keeps the contract of
openapi/openapi.yaml.

Starts herald (tests/lib/herald.py) on loopback with a fresh data directory
and an aiosmtpd STARTTLS server (tests/lib/mailenv.py, the test PKI), then
exercises every route of the spec, the success paths and the documented
error paths, and checks each response: status documented for the
operation, Content-Type, required headers, body schema (JSON Schema 2020-12
with the spec's $refs). Routes the spec does not describe must answer 404 /
405 (or 401 without the token). All violations are collected and reported
together; behaviour checks (a secret never echoed, a parse error names its
line) are asserted as well.
"""

import http.client
import json
import os
import socket
import sys
import unittest
import urllib.parse

sys.path.insert(0, os.path.join(os.path.dirname(__file__), '..', 'lib'))
import contract  # noqa: E402
import mailenv  # noqa: E402

DESIGN_APPLET = '''event manager applet SendSecureEmailEEM
 event none
 action 0010 mail server "$_email_server" to "$_email_to" from "$_email_from" cc "$_email_cc" subject "This is my email subject" body "This is my email body." port 587 secure tls
'''

SECRET = 'S3cr3t-Contract-Pw'


class Client:
    """Raw HTTP exchanges, each recorded for the contract check."""

    def __init__(self, host, port, token, recorder):
        self.host, self.port, self.token = host, port, token
        self.rec = recorder
        self.bodies = []

    def call(self, method, path, body=None, ctype=None, auth=True,
             headers=None, record=True):
        hdrs = dict(headers or {})
        if auth is True:
            hdrs['Authorization'] = 'Bearer ' + self.token
        elif isinstance(auth, str):
            hdrs['Authorization'] = auth
        if isinstance(body, (dict, list)):
            body = json.dumps(body).encode()
            ctype = ctype or 'application/json'
        elif isinstance(body, str):
            body = body.encode()
        if ctype:
            hdrs['Content-Type'] = ctype
        c = http.client.HTTPConnection(self.host, self.port, timeout=60)
        try:
            c.request(method, path, body=body, headers=hdrs)
            r = c.getresponse()
            data = r.read()
            status, rh = r.status, r.headers
        finally:
            c.close()
        if record:
            self.rec.record(method, path, status, rh, data)
        self.bodies.append((method, path, data))
        return status, rh, data

    def json(self, method, path, body=None, **kw):
        status, rh, data = self.call(method, path, body, **kw)
        try:
            return status, json.loads(data) if data else None
        except ValueError:
            return status, data


class Contract(unittest.TestCase):

    @classmethod
    def setUpClass(cls):
        cls.spec = contract.Spec()
        cls.rec = contract.Recorder(cls.spec)
        cls.mail, cls.h = contract.start_with_aiosmtpd()
        host, port, token = contract.herald_address(cls.h)
        cls.c = Client(host, port, token, cls.rec)
        cls.smtp_port = cls.mail.ports['aiosmtpd']
        cls.pki = mailenv.pki_dir()

    @classmethod
    def tearDownClass(cls):
        contract.stop_with_aiosmtpd(cls.mail, cls.h)

    def setUp(self):
        self.rec.violations = []   # each test reports its own

    def assertContract(self, wrong=()):
        """Fails with every violation recorded by this test, and the
        behaviour problems in wrong, all in one message."""
        v, self.rec.violations = self.rec.violations, []
        msg = []
        if wrong:
            msg.append('unexpected answers:\n' +
                       '\n'.join('- ' + x for x in wrong))
        if v:
            msg.append('contract violations:\n' +
                       '\n'.join('- ' + x for x in v))
        self.assertFalse(msg, '\n'.join(msg))

    # ---- the routes -----------------------------------------------------

    def test_01_health_and_auth(self):
        c = self.c
        st, body = c.json('GET', '/healthz', auth=False)
        self.assertEqual(st, 200)
        st, body = c.json('GET', '/api/v1/version')
        self.assertEqual(st, 200)
        st, _ = c.json('GET', '/api/v1/version', auth=False)
        self.assertEqual(st, 401)
        st, _ = c.json('GET', '/api/v1/environment', auth='Bearer wrong')
        self.assertEqual(st, 401)
        st, _ = c.json('GET', '/api/v1/applets', auth='Basic Zm9vOmJhcg==')
        self.assertEqual(st, 401)
        self.assertContract()

    def test_02_environment(self):
        c = self.c
        st, _ = c.json('GET', '/api/v1/environment')
        self.assertEqual(st, 200)
        st, v = c.json('PUT', '/api/v1/environment/_email_to',
                       {'value': 'noc@example.test'})
        self.assertEqual(st, 201)
        st, v = c.json('PUT', '/api/v1/environment/_email_to',
                       {'value': 'ops@example.test', 'secret': False})
        self.assertEqual(st, 200)
        self.assertEqual(v.get('value'), 'ops@example.test')
        st, v = c.json('PUT', '/api/v1/environment/_email_pw',
                       {'value': SECRET, 'secret': True})
        self.assertEqual(st, 201)
        self.assertNotIn('value', v)
        st, v = c.json('PUT', '/api/v1/environment/_email_server',
                       {'value': 'relay@corp.example.test:' + SECRET +
                        '@smtp.example.test'})
        self.assertIn(st, (200, 201))
        self.assertTrue(v.get('masked'), v)
        self.assertNotIn(SECRET, json.dumps(v))
        st, v = c.json('GET', '/api/v1/environment/_email_pw')
        self.assertEqual(st, 200)
        self.assertTrue(v['secret'])
        st, v = c.json('GET', '/api/v1/environment/_email_server')
        self.assertEqual(st, 200)
        st, _ = c.json('GET', '/api/v1/environment/no_such_var')
        self.assertEqual(st, 404)
        # bad input: each names the problem
        st, e = c.json('PUT', '/api/v1/environment/1bad-name',
                       {'value': 'x'})
        self.assertEqual(st, 400)
        st, e = c.json('PUT', '/api/v1/environment/ok_name', '{"value": ',
                       ctype='application/json')
        self.assertEqual(st, 400)
        self.assertEqual(e['error']['code'], 'invalid_json')
        st, e = c.json('PUT', '/api/v1/environment/ok_name', {'secret': True})
        self.assertEqual(st, 400)
        self.assertEqual(e['error'].get('field'), 'value')
        st, e = c.json('PUT', '/api/v1/environment/ok_name',
                       {'value': 'a\r\nb'})
        self.assertEqual(st, 400)
        st, e = c.json('PUT', '/api/v1/environment/ok_name', {'value': 5})
        self.assertEqual(st, 400)
        st, e = c.json('PUT', '/api/v1/environment/ok_name', 'value=x',
                       ctype='text/plain')
        self.assertEqual(st, 415)
        st, e = c.json('PUT', '/api/v1/environment/ok_name',
                       {'value': 'x' * (2 * 1024 * 1024)})
        self.assertEqual(st, 413)
        st, _ = c.json('PUT', '/api/v1/environment/gone', {'value': '1'})
        st, _ = c.json('DELETE', '/api/v1/environment/gone')
        self.assertEqual(st, 204)
        st, _ = c.json('DELETE', '/api/v1/environment/gone')
        self.assertEqual(st, 404)
        st, lst = c.json('GET', '/api/v1/environment')
        names = [x['name'] for x in lst['items']]
        self.assertEqual(names, sorted(names))
        self.assertContract()

    def test_02c_credentials(self):
        c = self.c
        body = {'type': 'oauth2', 'grant': 'client_credentials',
                'token_url': 'https://login.example.test/t/oauth2/v2.0/token',
                'client_id': 'app-1', 'client_secret': SECRET,
                'scope': 'https://outlook.office365.com/.default',
                'mechanism': 'xoauth2'}
        st, v = c.json('PUT', '/api/v1/credentials/M365', body)
        self.assertEqual(st, 201, v)
        self.assertTrue(v['client_secret_set'])
        body['client_secret'] = '*****'
        st, v = c.json('PUT', '/api/v1/credentials/M365', body)
        self.assertEqual(st, 200, v)
        st, _ = c.json('GET', '/api/v1/credentials')
        self.assertEqual(st, 200)
        st, _ = c.json('GET', '/api/v1/credentials/M365')
        self.assertEqual(st, 200)
        st, _ = c.json('GET', '/api/v1/credentials/Nope')
        self.assertEqual(st, 404)
        st, e = c.json('PUT', '/api/v1/credentials/Bad',
                       dict(body, token_url='http://x/token'))
        self.assertEqual(st, 400)
        self.assertEqual(e['error'].get('field'), 'token_url', e)
        st, e = c.json('PUT', '/api/v1/credentials/Bad', 'x',
                       ctype='text/plain')
        self.assertEqual(st, 415)
        st, e = c.json('PUT', '/api/v1/credentials/Bad',
                       dict(body, client_id='x' * (2 * 1024 * 1024)))
        self.assertEqual(st, 413)
        applet = ('event manager applet UsesM365\n event none\n'
                  ' action 1 mail server a@smtp.example.test to t@x.test '
                  'from f@x.test subject s credential M365\n')
        st, _ = c.json('PUT', '/api/v1/applets/UsesM365', applet,
                       ctype='text/plain')
        self.assertIn(st, (200, 201))
        st, e = c.json('DELETE', '/api/v1/credentials/M365')
        self.assertEqual(st, 409)
        self.assertIn('UsesM365', e['error']['message'])
        st, _ = c.json('DELETE', '/api/v1/applets/UsesM365')
        self.assertEqual(st, 204)
        st, _ = c.json('DELETE', '/api/v1/credentials/M365')
        self.assertEqual(st, 204)
        st, _ = c.json('DELETE', '/api/v1/credentials/M365')
        self.assertEqual(st, 404)
        self.assertContract()

    def test_03_applets(self):
        c = self.c
        st, a = c.json('POST', '/api/v1/applets', DESIGN_APPLET,
                       ctype='text/plain')
        self.assertEqual(st, 201, a)
        self.assertIn('_email_cc', json.dumps(a.get('warnings')))
        st, e = c.json('POST', '/api/v1/applets', DESIGN_APPLET,
                       ctype='text/plain')
        self.assertEqual(st, 409)
        model = {'name': 'JsonApplet', 'description': 'from JSON',
                 'events': [{'type': 'none'}],
                 'actions': [{'label': '1.0', 'action': 'puts',
                              'text': 'hello'}]}
        st, a = c.json('POST', '/api/v1/applets', model)
        self.assertEqual(st, 201, a)
        bad = ('event manager applet Broken\n event none\n'
               ' action 0010 syslog msg "unterminated\n')
        st, e = c.json('POST', '/api/v1/applets', bad, ctype='text/plain')
        self.assertEqual(st, 400)
        self.assertEqual(e['error'].get('line'), 3, e)
        st, e = c.json('POST', '/api/v1/applets',
                       'event manager applet RouterOnly\n event none\n'
                       ' action 1 cli command "enable"\n', ctype='text/plain')
        self.assertEqual(st, 422, e)
        st, e = c.json('POST', '/api/v1/applets', b'\x00\x01',
                       ctype='application/octet-stream')
        self.assertEqual(st, 415)
        st, e = c.json('POST', '/api/v1/applets', '{"name": ',
                       ctype='application/json')
        self.assertEqual(st, 400)
        st, _ = c.json('GET', '/api/v1/applets')
        self.assertEqual(st, 200)
        st, _ = c.json('GET', '/api/v1/applets/SendSecureEmailEEM')
        self.assertEqual(st, 200)
        st, _ = c.json('GET', '/api/v1/applets/NoSuchApplet')
        self.assertEqual(st, 404)
        st, _ = c.json('PUT', '/api/v1/applets/JsonApplet',
                       'event manager applet JsonApplet\n event none\n'
                       ' action 1.0 puts "again"\n', ctype='text/plain')
        self.assertEqual(st, 200)
        st, _ = c.json('PUT', '/api/v1/applets/PutCreated',
                       'event manager applet PutCreated\n event none\n'
                       ' action 1 puts "x"\n', ctype='text/plain')
        self.assertEqual(st, 201)
        st, e = c.json('PUT', '/api/v1/applets/OtherName',
                       'event manager applet PutCreated\n event none\n'
                       ' action 1 puts "x"\n', ctype='text/plain')
        self.assertEqual(st, 400)
        st, _ = c.json('DELETE', '/api/v1/applets/PutCreated')
        self.assertEqual(st, 204)
        st, _ = c.json('DELETE', '/api/v1/applets/PutCreated')
        self.assertEqual(st, 404)
        self.assertContract()

    def test_04_trustpoints(self):
        c = self.c
        root = mailenv.read_pem('root-a.pem')
        inter = mailenv.read_pem('inter.pem')
        st, t = c.json('POST', '/api/v1/trustpoints',
                       {'name': 'EMPTY-TP', 'revocation_check': 'none',
                        'chain_validation': 'continue',
                        'enrollment': 'terminal'})
        self.assertEqual(st, 201, t)
        self.assertIsNone(t['certificate'])
        st, _ = c.json('POST', '/api/v1/trustpoints', {'name': 'EMPTY-TP'})
        self.assertEqual(st, 409)
        st, t = c.json('POST', '/api/v1/trustpoints',
                       {'name': 'INTER-TP', 'chain_validation': 'stop',
                        'certificate': inter})
        self.assertEqual(st, 201, t)
        self.assertEqual(t['certificate']['fingerprints']['sha256'],
                         mailenv.pem_sha256(inter))
        st, e = c.json('POST', '/api/v1/trustpoints',
                       {'name': 'CRL-TP', 'revocation_check': 'crl'})
        self.assertEqual(st, 422, e)
        st, e = c.json('POST', '/api/v1/trustpoints', {'revocation_check':
                                                       'none'})
        self.assertEqual(st, 400)
        st, t = c.json('PUT', '/api/v1/trustpoints/EMPTY-TP/certificate',
                       root, ctype='application/x-pem-file')
        self.assertEqual(st, 200, t)
        st, e = c.json('PUT', '/api/v1/trustpoints/EMPTY-TP/certificate',
                       'not a certificate', ctype='text/plain')
        self.assertIn(st, (400, 422))
        self.assertEqual(e['error']['code'], 'invalid_certificate')
        st, _ = c.json('PUT', '/api/v1/trustpoints/NO-TP/certificate', root,
                       ctype='text/plain')
        self.assertEqual(st, 404)
        st, _ = c.json('GET', '/api/v1/trustpoints')
        self.assertEqual(st, 200)
        st, t = c.json('GET', '/api/v1/trustpoints/EMPTY-TP')
        self.assertEqual(st, 200)
        st, _ = c.json('GET', '/api/v1/trustpoints/NO-TP')
        self.assertEqual(st, 404)
        st, _ = c.json('DELETE', '/api/v1/trustpoints/INTER-TP')
        self.assertEqual(st, 204)
        st, _ = c.json('DELETE', '/api/v1/trustpoints/INTER-TP')
        self.assertEqual(st, 404)
        self.assertContract()

    def test_05_config(self):
        c = self.c
        st, rh, data = c.call('GET', '/api/v1/config')
        self.assertEqual(st, 200)
        self.assertNotIn(SECRET.encode(), data)
        text = ('event manager environment _email_from alerts@example.test\n'
                'event manager applet FromConfig\n event none\n'
                ' action 0010 syslog msg "imported"\n'
                'event manager run FromConfig\n')
        st, s = c.json('POST', '/api/v1/config', text, ctype='text/plain')
        self.assertEqual(st, 200, s)
        self.assertEqual(s['runs_requested'], ['FromConfig'])
        st, e = c.json('POST', '/api/v1/config',
                       'event manager environment _a 1\nbogus line here\n',
                       ctype='text/plain')
        self.assertEqual(st, 400)
        self.assertEqual(e['error'].get('line'), 2, e)
        st, _ = c.json('GET', '/api/v1/environment/_a')
        self.assertEqual(st, 404, 'a failed import changed the state')
        st, _ = c.json('POST', '/api/v1/config', {'text': text})
        self.assertEqual(st, 415)
        self.assertContract()

    def test_06_probe_and_import_chain(self):
        c = self.c
        st, e = c.json('POST', '/api/v1/probe', {'port': 25})
        self.assertEqual(st, 400)
        closed = mailenv.free_port()
        st, e = c.json('POST', '/api/v1/probe',
                       {'host': '127.0.0.1', 'port': closed,
                        'secure': 'tls'})
        self.assertEqual(st, 502, e)
        self.assertEqual(e['result']['klass'], 'connect')
        st, rep = c.json('POST', '/api/v1/probe',
                         {'host': '127.0.0.1', 'port': self.smtp_port,
                          'secure': 'tls', 'tls_name': 'localhost'})
        self.assertEqual(st, 200, rep)
        chain = rep['tls']['chain']
        self.assertGreaterEqual(len(chain), 2)
        # Trust the intermediate the server sent, as the console does.
        inter = [x for x in chain if x['depth'] == 1][0]
        st, e = c.json('POST', '/api/v1/trustpoints/import-chain',
                       {'certificates': [{'pem': inter['pem'],
                                          'sha256': chain[0]['sha256']}],
                        'chain_validation': 'stop'})
        self.assertEqual(st, 422, e)
        self.assertEqual(e['error']['code'], 'fingerprint_mismatch')
        st, r = c.json('POST', '/api/v1/trustpoints/import-chain',
                       {'certificates': [{'pem': inter['pem'],
                                          'sha256': inter['sha256'],
                                          'name': 'PROBED-INTER'}],
                        'chain_validation': 'stop'})
        self.assertEqual(st, 201, r)
        st, rep = c.json('POST', '/api/v1/probe',
                         {'host': '127.0.0.1', 'port': self.smtp_port,
                          'secure': 'tls', 'tls_name': 'localhost'})
        self.assertEqual(st, 200)
        self.assertTrue(rep['verdict']['ok'], rep['verdict'])
        self.assertContract()

    def test_07_mail_test(self):
        c = self.c
        user = 'alerts@example.test'
        pw = self.mail.users[user]
        st, e = c.json('POST', '/api/v1/mail/test', {'to': 'x'})
        self.assertEqual(st, 400)
        st, r = c.json('POST', '/api/v1/mail/test', {
            'host': '127.0.0.1', 'port': mailenv.free_port(),
            'secure': 'tls', 'from': user, 'to': 'noc@example.test',
            'subject': 's', 'body': 'b'})
        self.assertEqual(st, 200, r)
        self.assertFalse(r['delivered'])
        self.assertEqual(r['result']['klass'], 'connect')
        st, r = c.json('POST', '/api/v1/mail/test', {
            'host': '127.0.0.1', 'port': self.smtp_port, 'secure': 'tls',
            'tls_name': 'localhost', 'username': user, 'password': pw,
            'from': user, 'to': 'noc@example.test', 'subject': 'contract',
            'body': 'hello'})
        self.assertEqual(st, 200, r)
        self.assertNotIn(pw, json.dumps(r))
        self.assertContract()

    def test_07b_settings(self):
        c = self.c
        st, v = c.json('GET', '/api/v1/settings')
        self.assertEqual(st, 200)
        self.assertEqual(v, {'trustpool': False})
        st, v = c.json('PUT', '/api/v1/settings', {'trustpool': True})
        self.assertEqual(st, 200)
        st, e = c.json('PUT', '/api/v1/settings', {'trustpool': 1})
        self.assertEqual(st, 400)
        st, v = c.json('PUT', '/api/v1/settings', {'trustpool': False})
        self.assertEqual(v, {'trustpool': False})

    def test_08_execution(self):
        """Issue 4 routes. Every call is made even when an earlier one
        fails, so that one run lists everything that is missing."""
        c = self.c
        wrong = []

        def expect(want, method, path, body=None, **kw):
            st, data = c.json(method, path, body, **kw)
            ok = st in want if isinstance(want, tuple) else st == want
            if not ok:
                wrong.append('%s %s: %d, expected %s: %s' % (
                    method, path, st, want, str(data)[:200]))
            return st, data

        st, r = expect(200, 'POST', '/api/v1/applets/JsonApplet/run',
                       {'args': ['a1'], 'wait': True})
        if st == 200 and r.get('output') is not None:
            self.assertIn('again', r['output'])
        st, q = expect(202, 'POST', '/api/v1/applets/JsonApplet/run', {})
        run_id = q.get('run_id', 1) if st == 202 else 1
        expect(404, 'POST', '/api/v1/applets/NoSuchApplet/run', {})
        expect(400, 'POST', '/api/v1/applets/JsonApplet/run',
               {'args': ['x'] * 16})
        expect(200, 'GET', '/api/v1/runs?applet=JsonApplet&limit=5')
        expect(400, 'GET', '/api/v1/runs?status=bogus')
        expect(200, 'GET', '/api/v1/runs/%s' % run_id)
        expect(404, 'GET', '/api/v1/runs/999999999')
        hook = ('event manager applet Hooked\n event webhook\n'
                ' action 1 puts "$_webhook_body"\n')
        c.json('PUT', '/api/v1/applets/Hooked', hook, ctype='text/plain')
        st, tok = expect(200, 'PUT', '/api/v1/applets/Hooked/webhook')
        token = tok.get('token', 'none') if st == 200 else 'none'
        expect(404, 'PUT', '/api/v1/applets/NoSuchApplet/webhook')
        expect(401, 'POST', '/hooks/Hooked', {'x': 1}, auth=False)
        expect(401, 'POST', '/hooks/Hooked', {'x': 1},
               auth='Bearer wrong-token')
        expect(202, 'POST', '/hooks/Hooked', {'x': 1},
               auth='Bearer ' + token)
        expect((401, 404), 'POST', '/hooks/NoSuchApplet', {'x': 1},
               auth='Bearer x')
        expect(200, 'GET', '/api/v1/outbox?state=dead')
        expect(400, 'GET', '/api/v1/outbox?state=bogus')
        expect(404, 'POST', '/api/v1/outbox/999999999/resend')
        expect(200, 'POST', '/api/v1/applets/JsonApplet/run',
               {'wait': 'delivery'})
        # a message whose first attempt fails (nothing listens on port 1)
        c.json('PUT', '/api/v1/applets/Mailer',
               'event manager applet Mailer\n event none\n action 1 mail'
               ' server "127.0.0.1" to "a@example.test" from'
               ' "b@example.test" subject "s" body "b" port 1 secure none\n',
               ctype='text/plain')
        expect(200, 'POST', '/api/v1/applets/Mailer/run',
               {'wait': 'delivery'})
        expect(400, 'POST', '/api/v1/applets/JsonApplet/run',
               {'wait': 'forever'})
        expect(200, 'GET', '/api/v1/runs?delivery=failed')
        expect(400, 'GET', '/api/v1/runs?delivery=bogus')
        st, ob = expect(200, 'GET', '/api/v1/outbox')
        for m in (ob.get('items') or [])[:3] if st == 200 else []:
            expect(200, 'GET', '/api/v1/outbox/%d' % m['id'])
            if m.get('run_id'):
                expect(200, 'GET', '/api/v1/runs/%d' % m['run_id'])
        expect(404, 'GET', '/api/v1/outbox/999999999')
        # application events (issue 12)
        c.json('PUT', '/api/v1/applets/AppEv',
               'event manager applet AppEv\n event application sub-system'
               ' 798 type 3\n action 1 puts "$_application_data1"\n',
               ctype='text/plain')
        expect(202, 'POST', '/api/v1/events/application',
               {'sub_system': 798, 'type': 3, 'data': ['x']})
        expect(200, 'POST', '/api/v1/events/application',
               {'sub_system': 798, 'type': 4})
        expect(400, 'POST', '/api/v1/events/application',
               {'sub_system': 1000, 'type': 3})
        leaked = [p for (m, p, d) in c.bodies
                  if token != 'none' and p.startswith('/api/v1/runs') and
                  token.encode() in d]
        self.assertEqual(leaked, [], 'the webhook token appears in runs')
        self.assertContract(wrong)

    def test_08b_metrics(self):
        c = self.c
        st, _, _ = c.call('GET', '/metrics', auth=False)
        self.assertEqual(st, 401)
        st, _, _ = c.call('GET', '/metrics', auth='Bearer wrong-token-x')
        self.assertEqual(st, 401)
        st, rh, data = c.call('GET', '/metrics')
        self.assertEqual(st, 200)
        self.assertIn(b'# TYPE herald_deliveries_total counter', data)
        self.assertContract()

    def test_09_undescribed_routes(self):
        c = self.c
        for method, path in [
                ('GET', '/api/v1/nope'), ('GET', '/api/v2/version'),
                ('GET', '/api/v1/environment/a/b'),
                ('DELETE', '/api/v1/version'), ('POST', '/healthz'),
                ('PATCH', '/api/v1/applets/SendSecureEmailEEM'),
                ('GET', '/hooks/SendSecureEmailEEM'),
                ('GET', '/api/v1/trustpoints/import-chain'),
                ('POST', '/api/v1/config/extra'), ('GET', '/api'),
                ('POST', '/metrics'), ('GET', '/ui/../openapi/openapi.yaml'),
                ('GET', '/ui/no-such-file.js')]:
            c.call(method, path, auth=True)
        c.call('GET', '/api/v1/nope', auth=False)
        c.call('GET', '/')
        c.call('GET', '/ui/app.js')
        c.call('GET', '/ui/style.css')
        self.assertContract()

    def test_10_no_secret_in_any_response(self):
        leaks = [(m, p) for (m, p, d) in self.c.bodies
                 if SECRET.encode() in d]
        self.assertEqual(leaks, [], 'the secret value was echoed')

    def test_99_every_operation_exercised(self):
        self.assertEqual(self.rec.unexercised(), [],
                         'operations of the spec no test reached')


if __name__ == '__main__':
    unittest.main()
