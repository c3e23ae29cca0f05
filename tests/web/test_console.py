# SPDX-License-Identifier: MIT
"""
tests/web/test_console.py: the web console works in a real browser.

Starts herald (tests/lib/herald.py) on loopback and drives headless Debian
chromium through tests/web/console.mjs (playwright-core from
tests/node_modules; never a downloaded browser): sign in with the token
(a wrong one first), set an environment variable and a secret one, create
the DESIGN.md applet from text and see the $_email_cc warning, see a parse
error with its line, create a trustpoint and paste a PEM generated here with
openssl and see its SHA-256 fingerprint, probe an aiosmtpd STARTTLS server
(tests/lib/mailenv.py) and trust its intermediate with one click, run a
mail test (a refused connection, then a delivery), import a
configuration.

Issue 10 (delivery outcome where the user looks): the source document's
applet (port adapted) is run from the console before any trustpoint holds
the server's chain; the Runs page shows it as "delivery failed" with the
class certificate_untrusted and the advice in console words (no REST
path); after the probe's one-click trust, the Outbox page shows the dead
message with its attempt and resends it (the password taken again from
the environment); the Runs page then shows the run delivered with its
SMTP dialogue, AUTH redacted. The leaf of the probed chain offers no Trust
button; the Outbox tab's status line does not show in the Applets tab; no
password appears anywhere in the page.

Issue 13 (OAuth 2.0 credentials) in the Credentials tab: create a
client-credentials credential, see it listed with its secret as "set" and
the secret nowhere in the page (HTML, input values, storage, URLs); edit it
with the secret input left empty (the request leaves client_secret out, the
API still says client_secret_set); a token URL with http:// shows the API's
message next to the Token URL field, a refresh-token credential without its
token next to the Refresh token field; the mail test picks the credential
(no password sent; the unreachable token endpoint is the failure shown);
delete is refused with the 409 naming the applet that uses it, then works
once that applet is deleted. Then it checks the state through the API, that the token never went into a URL or
localStorage, that the page made no request outside herald, and that every
form control has a label. A screenshot goes to the build directory.

A missing chromium, node or playwright-core is a failure, not a skip.
"""

import base64
import json
import os
import shutil
import subprocess
import sys
import tempfile
import unittest
import urllib.error
import urllib.request

sys.path.insert(0, os.path.join(os.path.dirname(__file__), '..', 'lib'))
import contract  # noqa: E402
import mailenv  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
TESTS = os.path.dirname(HERE)
CHROMIUM = '/usr/bin/chromium'

DESIGN_APPLET = '''event manager applet SendSecureEmailEEM
 event none
 action 0010 mail server "$_email_server" to "$_email_to" from "$_email_from" cc "$_email_cc" subject "This is my email subject" body "This is my email body." port 587 secure tls
'''
BAD_APPLET = '''event manager applet Broken
 event none
 action 0010 syslog msg "this quote is never closed
'''
BAD_LINE = 3
CONFIG = '''event manager environment _email_from alerts@example.com
event manager applet FromConfig
 event none
 action 0010 syslog msg "imported from the console"
'''
SECRET_VALUE = 'alerts@example.com:Console-S3cret@smtp.example.com'
MAIL_USER = 'alerts@example.test'
CRED = 'CONSOLE_OAUTH'
CRED_SECRET = 'Cred-Console-S3cret-7f4e'
CRED_APPLET = 'UsesCredential'
DELIVERY_APPLET = 'DeliveryOutcome'


def delivery_applet_text(port):
    """The source document's applet, its port adapted (no cc: that
    variable is not set)."""
    return ('event manager applet %s\n'
            ' event none\n'
            ' action 0010 mail server "$_email_server" to "$_email_to" from'
            ' "$_email_from" subject "This is my email subject" body "This is'
            ' my email body." port %d secure tls\n' % (DELIVERY_APPLET, port))


def _openssl_ca(d):
    """A fresh self-signed CA certificate; returns (pem, 'AB:CD..')."""
    key, crt = os.path.join(d, 'ca.key'), os.path.join(d, 'ca.pem')
    subprocess.run(
        ['openssl', 'req', '-x509', '-newkey', 'ec', '-pkeyopt',
         'ec_paramgen_curve:prime256v1', '-nodes', '-keyout', key,
         '-out', crt, '-days', '90', '-subj', '/CN=Herald Console Test CA',
         '-addext', 'basicConstraints=critical,CA:TRUE',
         '-addext', 'keyUsage=critical,keyCertSign,cRLSign'],
        check=True, capture_output=True)
    out = subprocess.run(['openssl', 'x509', '-in', crt, '-noout',
                          '-fingerprint', '-sha256'], check=True,
                         capture_output=True, text=True).stdout
    fp = out.strip().split('=', 1)[1].upper()
    with open(crt) as f:
        return f.read(), fp


class Console(unittest.TestCase):

    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.mkdtemp(prefix='herald-web-')
        cls.mail, cls.h = contract.start_with_aiosmtpd()
        cls.host, cls.port, cls.token = contract.herald_address(cls.h)
        cls.base = 'http://%s:%d' % (cls.host, cls.port)

    @classmethod
    def tearDownClass(cls):
        try:
            contract.stop_with_aiosmtpd(cls.mail, cls.h)
        finally:
            shutil.rmtree(cls.tmp, ignore_errors=True)

    def api(self, method, path):
        req = urllib.request.Request(
            self.base + path, method=method,
            headers={'Authorization': 'Bearer ' + self.token})
        try:
            with urllib.request.urlopen(req, timeout=30) as r:
                return r.status, json.loads(r.read() or b'null')
        except urllib.error.HTTPError as e:
            return e.code, json.loads(e.read() or b'null')

    def test_console_scenario(self):
        self.assertTrue(os.access(CHROMIUM, os.X_OK),
                        'chromium is not installed (apt-get install -y '
                        'chromium); the browser test cannot run')
        node = shutil.which('node')
        self.assertIsNotNone(node, 'node is not installed')
        self.assertTrue(os.path.isdir(os.path.join(
            TESTS, 'node_modules', 'playwright-core')),
            'tests/node_modules/playwright-core is missing: run npm ci in '
            'tests/')

        pem, fp = _openssl_ca(self.tmp)
        bin_dir = os.path.dirname(os.environ.get('HERALD_BIN', '')) or \
            self.tmp
        shot = os.path.join(bin_dir, 'console.png')
        if os.path.exists(shot):
            os.unlink(shot)
        scenario = {
            'base': self.base, 'token': self.token, 'screenshot': shot,
            'userDataDir': os.path.join(self.tmp, 'chromium-profile'),
            'appletText': DESIGN_APPLET, 'badAppletText': BAD_APPLET,
            'badLine': BAD_LINE, 'pem': pem, 'tpName': 'CA-CONSOLE-TEST',
            'configText': CONFIG, 'secretValue': SECRET_VALUE,
            'smtpPort': self.mail.ports['aiosmtpd'], 'trustDepth': 1,
            'closedPort': mailenv.free_port(), 'mailUser': MAIL_USER,
            'mailPassword': self.mail.users[MAIL_USER],
            'mailTo': 'noc@example.test',
        }
        # The run button needs POST /api/v1/applets/{name}/run (issue 4):
        # drive it when the server has the route, and say so when not.
        st, body = self.api('POST', '/api/v1/applets/NoSuchApplet/run')
        has_run = not (st == 404 and str(body.get('error', {}).get(
            'message', '')).startswith('no route'))
        password = self.mail.users[MAIL_USER]
        if has_run:
            scenario['runApplet'] = 'FromConfig'
            scenario['deliveryApplet'] = DELIVERY_APPLET
            scenario['deliveryAppletText'] = delivery_applet_text(
                self.mail.ports['aiosmtpd'])
            scenario['deliveryServer'] = '%s:%s@localhost' % (MAIL_USER,
                                                               password)
        else:
            sys.stderr.write('note: the server has no run route yet; the '
                             'run button was not driven\n')
        closed = scenario['closedPort']
        scenario.update({
            'credName': CRED, 'credSecret': CRED_SECRET,
            # nothing listens there: the mail test's token fetch fails
            'credTokenUrl': 'https://127.0.0.1:%d/tenant/oauth2/v2.0/token'
                            % closed,
            'credBadTokenUrl': 'http://127.0.0.1:%d/token' % closed,
            'credClientId': 'console-client-id',
            'credScope': 'https://outlook.office365.com/.default',
            'credScope2': 'https://mail.google.com/',
            'credApplet': CRED_APPLET,
            'credAppletText': (
                'event manager applet %s\n event none\n action 0010 mail'
                ' server "%s@127.0.0.1" to "noc@example.test" from "%s"'
                ' subject "s" body "b" port 587 secure tls credential %s\n'
                % (CRED_APPLET, MAIL_USER, MAIL_USER, CRED)),
        })
        sc_path = os.path.join(self.tmp, 'scenario.json')
        with open(sc_path, 'w') as f:
            json.dump(scenario, f)
        p = subprocess.run([node, os.path.join(HERE, 'console.mjs'),
                            sc_path], cwd=HERE, capture_output=True,
                           text=True, timeout=300)
        seen = {}
        if p.stdout.strip():
            seen = json.loads(p.stdout.strip().splitlines()[-1])
        self.assertEqual(p.returncode, 0, 'browser scenario failed:\n' +
                         p.stderr[-5000:])

        # what the page showed
        self.assertIn('herald', seen['title'])
        self.assertIn('refused', seen['wrong_token_status'])
        self.assertEqual(seen['token_in_session_storage'], self.token)
        self.assertNotIn(self.token, seen['token_in_local_storage'])
        self.assertIn('noc@example.com', seen['env_row'])
        self.assertIn('set', seen['secret_row'])
        self.assertNotIn('Console-S3cret', seen['env_page_text'])
        self.assertIn('_email_cc', seen['applet_warnings'])
        self.assertIn('line %d' % BAD_LINE, seen['parse_error'])
        self.assertEqual(seen['tp_sha256'].replace(' ', ''), fp)
        # probe: untrusted first, then trusted after one click on the
        # intermediate the server sent
        self.assertGreaterEqual(seen['probe_chain_rows'], 2)
        self.assertIn('Not trusted', seen['probe_before'])
        self.assertIn('certificate_untrusted', seen['probe_before'])
        self.assertIn('Trusted', seen['probe_after'])
        inter_fp = mailenv.pem_sha256(mailenv.read_pem('inter.pem'))
        self.assertIn(inter_fp, seen['probe_after'])
        # mail test: the class, message and advice of a failure; then a
        # delivery whose page shows no password
        self.assertIn('connect', seen['mail_failed'])
        self.assertIn('What to do', seen['mail_failed'])
        self.assertIn('Delivered', seen['mail_sent'])
        self.assertIn('SMTP dialogue', seen['mail_sent'])
        self.assertNotIn(self.mail.users[MAIL_USER], seen['mail_page_html'])
        self.assertIn('Imported', seen['config_result'])
        # the leaf of the probed chain is not offered as an anchor
        self.assertEqual(seen['probe_leaf_buttons'], 0, seen['probe_leaf_row'])
        self.assertIn('not an anchor', seen['probe_leaf_row'])
        if has_run:
            self.assertIn('success', seen['run_result'])
            self.check_delivery(seen, password)
        self.check_credentials(seen)
        self.assertIn('_email_from', seen['running_config'])
        self.assertLessEqual(seen['scroll_width'], 1024,
                             'the console does not fit 1024 px')
        self.assertEqual(seen['unlabelled'], [],
                         'form controls without a label')
        # the token never in a URL; nothing fetched outside herald
        for u in seen['urls'] + [seen['url_at_end']]:
            self.assertNotIn(self.token, u)
            self.assertTrue(u.startswith(self.base + '/'),
                            'request outside herald: ' + u)
        errors = [e for e in seen['console_errors']
                  if 'Failed to load resource' not in e]
        self.assertEqual(errors, [], 'script errors in the page')
        self.assertTrue(os.path.getsize(shot) > 10000, 'no screenshot')

        # the state, checked through the API
        st, v = self.api('GET', '/api/v1/environment/_email_to')
        self.assertEqual((st, v.get('value')), (200, 'noc@example.com'))
        st, v = self.api('GET', '/api/v1/environment/_email_server')
        self.assertEqual(st, 200)
        self.assertTrue(v['secret'])
        self.assertNotIn('value', v)
        st, a = self.api('GET', '/api/v1/applets/SendSecureEmailEEM')
        self.assertEqual(st, 200)
        self.assertIn('_email_cc', json.dumps(a['warnings']))
        st, _ = self.api('GET', '/api/v1/applets/Broken')
        self.assertEqual(st, 404, 'an applet with a parse error was stored')
        st, t = self.api('GET', '/api/v1/trustpoints/CA-CONSOLE-TEST')
        self.assertEqual(st, 200)
        self.assertEqual(t['certificate']['fingerprints']['sha256'], fp)
        st, v = self.api('GET', '/api/v1/environment/_email_from')
        self.assertEqual((st, v.get('value')), (200, 'alerts@example.com'))
        st, _ = self.api('GET', '/api/v1/applets/FromConfig')
        self.assertEqual(st, 200)
        st, tps = self.api('GET', '/api/v1/trustpoints')
        self.assertIn(inter_fp, [t['certificate']['fingerprints']['sha256']
                                 for t in tps['items'] if t['certificate']])
        st, _ = self.api('GET', '/api/v1/credentials/' + CRED)
        self.assertEqual(st, 404, 'the credential was not deleted')
        st, _ = self.api('GET', '/api/v1/credentials/' + CRED + '_RT')
        self.assertEqual(st, 404, 'a credential with an error was stored')
        st, _ = self.api('GET', '/api/v1/applets/' + CRED_APPLET)
        self.assertEqual(st, 404)

    def check_credentials(self, seen):
        """Issue 13: what the Credentials tab showed and sent."""
        # listed: grant, token URL, client id, mechanism, secrets as "set"
        head = seen['cred_head']
        for col in ('Grant', 'Token URL', 'Client ID', 'Mechanism',
                    'Client secret', 'Refresh token'):
            self.assertIn(col, head)
        row = seen['cred_row']
        sys.stderr.write('\ncredential row: %r\n' % row)
        self.assertIn(CRED, row)
        self.assertIn('client credentials', row)
        self.assertIn('/tenant/oauth2/v2.0/token', row)
        self.assertIn('console-client-id', row)
        self.assertIn('XOAUTH2', row)
        cells = row.split('\t')
        self.assertIn('set', cells)       # the client secret
        self.assertIn('not set', cells)   # no refresh token
        self.assertEqual(seen['cred_secret_input_after_create'], '')
        self.assertLessEqual(seen['cred_scroll_width'], 1024)
        # the edit: form filled but for the secret, which is kept
        f = seen['cred_edit_form']
        self.assertIn('/tenant/oauth2/v2.0/token', f['token_url'])
        self.assertEqual(f['client_id'], 'console-client-id')
        self.assertEqual((f['secret'], f['secret_type']), ('', 'password'))
        self.assertIn('leave this empty to keep it', f['secret_note'].lower())
        self.assertIn('OAUTHBEARER', seen['cred_row_edited'])
        self.assertIn('https://mail.google.com/', seen['cred_row_edited'])
        api = seen['cred_api_after_edit']
        self.assertIs(api['client_secret_set'], True, api)
        self.assertIs(api['refresh_token_set'], False, api)
        self.assertEqual(api['mechanism'], 'oauthbearer')
        self.assertEqual(api['scope'], 'https://mail.google.com/')
        self.assertNotIn('client_secret', api)
        # what went over the wire: the secret once, in the create's body;
        # the edit left it out (keep), never "" or the mask
        puts = [json.loads(r['body']) for r in seen['cred_requests']
                if r['method'] == 'PUT']
        self.assertEqual(puts[0].get('client_secret'), CRED_SECRET)
        self.assertNotIn('client_secret', puts[1])
        self.assertNotIn('refresh_token', puts[1])
        for p in puts:
            self.assertNotIn('*****', json.dumps(p))
        for r in seen['cred_requests']:
            self.assertNotIn(CRED_SECRET, r['url'])
        # the field error sits next to the field the API named
        sys.stderr.write('token_url error: %r\n' % seen['cred_field_error'])
        self.assertIn('token_url', seen['cred_field_error'])
        self.assertIn('https', seen['cred_field_error'])
        placed = seen['cred_field_error_placed']
        self.assertEqual(placed, {'same_box': True, 'invalid': 'true',
                                  'described': True, 'focused': True,
                                  'others': []})
        self.assertIn('Token URL', seen['cred_error_summary'])
        self.assertNotIn('Updated', seen['cred_status_after_bad'])
        self.assertIn('refresh_token', seen['cred_rt_error'])
        self.assertEqual(seen['cred_token_url_error_cleared'], '')
        # the mail test with the credential: no password sent; the token
        # endpoint (nothing listening) is what failed
        if 'mail_cred_result' in seen:
            sys.stderr.write('mail test with credential:\n%s\n'
                             % seen['mail_cred_result'])
            self.assertTrue(seen['mail_password_disabled'])
            mt = [json.loads(r['body']) for r in seen['cred_requests']
                  if r['url'].endswith('/api/v1/mail/test')]
            self.assertEqual(mt[-1].get('credential'), CRED)
            self.assertNotIn('password', mt[-1])
            self.assertIn('connect', seen['mail_cred_result'])
            self.assertIn('OAuth 2.0 token', seen['mail_cred_result'])
        # the 409, plainly, naming the applet; the row stays
        sys.stderr.write('409 shown: %r\n' % seen['cred_conflict'])
        self.assertIn('Not deleted', seen['cred_conflict'])
        self.assertIn(CRED_APPLET, seen['cred_conflict'])
        self.assertIn('not deleted', seen['cred_conflict_status'])
        self.assertEqual(seen['cred_rows_after_conflict'], 1)
        self.assertEqual(seen['cred_error_after_delete'], '')
        self.assertNotIn(CRED, seen['cred_rows_end'])
        # the secret: nowhere in the page, its inputs, storage or a URL
        for name in ('cred_state_after_create', 'cred_state_after_edit',
                     'cred_state_end', 'body_html_end', 'body_text_end'):
            self.assertNotIn(CRED_SECRET, seen[name], name)
        for u in seen['urls'] + [seen['url_at_end']]:
            self.assertNotIn(CRED_SECRET, u)

    def check_delivery(self, seen, password):
        """Issue 10: what the Runs and Outbox pages showed."""
        sys.stderr.write('\nrun result in the Applets tab:\n%s\n'
                         % seen['delivery_run_result'])
        self.assertIn('mail pending', seen['delivery_run_result'])
        # failed, where the user looks first; never "mail ok"
        rid = seen['delivery_run_id']
        self.assertIn(rid, seen['runs_failed_ids'])
        sys.stderr.write('runs, delivery failed:\n%s\n'
                         % seen['runs_failed_rows'])
        self.assertIn('delivery failed', seen['runs_failed_rows'])
        self.assertIn('DeliveryOutcome', seen['runs_failed_rows'])
        self.assertIn('manual', seen['runs_failed_rows'])
        for text in (seen['runs_page_text_failed'], seen['run_failed_detail']):
            self.assertNotIn('mail ok', text.lower())
            self.assertNotIn('mail delivered', text)
        d = seen['run_failed_detail']
        self.assertIn('certificate_untrusted', d)
        self.assertIn('dead', d)
        self.assertIn('STARTTLS', d, 'the latest attempt\'s dialogue')
        self.assertIn('TLS', d)
        # the advice in console words
        adv = seen['run_failed_advice']
        sys.stderr.write('advice shown: %s\n' % adv)
        self.assertIn('Trustpoints tab \u2192 Probe \u2192 Trust', adv)
        self.assertNotIn('/api/v1/', adv)
        # the outbox: the dead message, its attempt, the resend's answer
        self.assertIn('dead', seen['outbox_dead_rows'])
        self.assertIn('certificate_untrusted', seen['outbox_dead_rows'])
        self.assertIn('Attempt 1', seen['outbox_detail'])
        self.assertIn('STARTTLS', seen['outbox_detail'])
        self.assertNotIn('/api/v1/', seen['outbox_detail'])
        sys.stderr.write('resend: %s\n' % seen['resend_status'])
        self.assertIn('queued again', seen['resend_status'])
        self.assertIn('taken again from the environment',
                      seen['resend_status'])
        # the Outbox tab's message stays in the Outbox tab
        self.assertFalse([t for t in seen['applets_visible_status']
                          if 'again' in t or 'Message' in t],
                         seen['applets_visible_status'])
        # delivered, with its dialogue and AUTH redacted
        self.assertIn('mail delivered', seen['runs_delivered_row'])
        dd = seen['run_delivered_detail']
        self.assertIn('sent', dd)
        self.assertNotIn('delivery failed', dd)
        dia = seen['run_delivered_dialogue']
        sys.stderr.write('delivered dialogue:\n%s\n' % dia)
        auth = [ln for ln in dia.splitlines() if 'AUTH ' in ln and 'C: ' in ln]
        self.assertTrue(auth, dia)
        self.assertTrue(all('redacted' in ln for ln in auth), auth)
        self.assertIn('MAIL FROM', dia)
        # no password anywhere in the pages
        b64 = [base64.b64encode(x.encode()).decode() for x in (
            '\0%s\0%s' % (MAIL_USER, password), password,
            '%s\0%s\0%s' % (MAIL_USER, MAIL_USER, password))]
        for name in ('runs_page_text_failed', 'run_failed_detail',
                     'outbox_detail', 'outbox_page_text',
                     'run_delivered_detail', 'runs_page_text_delivered',
                     'body_text_end', 'body_html_end'):
            for secret in [password] + b64:
                self.assertNotIn(secret, seen[name], name)


if __name__ == '__main__':
    unittest.main()
