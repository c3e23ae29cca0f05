# SPDX-License-Identifier: MIT
"""tests/api/test_credentials.py: /api/v1/credentials (issue 13).

Create (201) and replace (200), get and list, delete (204, then 404; 409
naming the applet while one uses it), 400 naming the field for each bad
input, secrets kept when left out or sent masked, the unknown_credential
warning, the masked-secret round trip through config export and import,
the mail test with an unknown credential (400) and with a token endpoint
that cannot be reached (classified, counted), and the secrets in no
response (GET, list, config export, applet, run, outbox, mail test) and
not in the log. Delivery through a real token endpoint and mail server is
tests/integration's.
"""
import json
import re
import time
import unittest
import urllib.parse

from herald import HeraldTestCase
from mailenv import free_port

SECRET = 'Cl1ent-S3cret-0auth'
REFRESH = 'R3fresh-T0ken-0auth'

M365 = {
    'type': 'oauth2', 'grant': 'client_credentials',
    'token_url': 'https://login.microsoftonline.com/TENANT/oauth2/v2.0/token',
    'client_id': '00000000-1111-2222-3333-444444444444',
    'client_secret': SECRET,
    'scope': 'https://outlook.office365.com/.default',
    'mechanism': 'xoauth2',
}
GOOGLE = {
    'type': 'oauth2', 'grant': 'refresh_token',
    'token_url': 'https://oauth2.googleapis.com/token',
    'client_id': 'client.apps.googleusercontent.com',
    'client_secret': SECRET, 'refresh_token': REFRESH,
    'scope': 'https://mail.google.com/', 'mechanism': 'oauthbearer',
}


def applet(name, cred, server='alerts@smtp.example.test'):
    return ('event manager applet %s\n event none\n'
            ' action 0010 mail server "%s" to "noc@example.test" from '
            '"alerts@example.test" subject "oauth" body "hello" port 587 '
            'secure tls credential %s\n' % (name, server, cred))


class CredentialsTest(HeraldTestCase):
    def put(self, name, body, expect=None):
        st, _, data = self.h.request('PUT', '/api/v1/credentials/' + name,
                                     body)
        if expect is not None:
            self.assertEqual(st, expect, data)
        return st, data

    def assertNoSecret(self, text):
        for s in (SECRET, REFRESH):
            self.assertNotIn(s, text)

    def test_create_replace_get_list_delete(self):
        st, c = self.put('M365', M365, expect=201)
        self.assertEqual(c['name'], 'M365')
        self.assertEqual(c['grant'], 'client_credentials')
        self.assertEqual(c['token_url'], M365['token_url'])
        self.assertEqual(c['client_id'], M365['client_id'])
        self.assertIs(c['client_secret_set'], True)
        self.assertIs(c['refresh_token_set'], False)
        self.assertEqual(c['mechanism'], 'xoauth2')
        self.assertRegex(c['updated'], r'^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$')
        self.assertNotIn('client_secret', c)
        self.put('M365', dict(M365, mechanism='oauthbearer'), expect=200)
        self.put('Google', GOOGLE, expect=201)
        # mechanism defaults to xoauth2, type to oauth2
        body = dict(M365)
        del body['mechanism'], body['type']
        st, c = self.put('Minimal', body, expect=201)
        self.assertEqual((c['type'], c['mechanism']), ('oauth2', 'xoauth2'))

        lst = self.h.api('GET', '/api/v1/credentials', expect=200)
        self.assertEqual([i['name'] for i in lst['items']],
                         ['Google', 'M365', 'Minimal'])
        g = self.h.api('GET', '/api/v1/credentials/Google', expect=200)
        self.assertIs(g['refresh_token_set'], True)
        self.assertEqual(g['mechanism'], 'oauthbearer')
        self.assertEqual(self.h.api('GET', '/api/v1/credentials/M365')
                         ['mechanism'], 'oauthbearer')
        st, _, e = self.h.request('GET', '/api/v1/credentials/Nope')
        self.assertEqual(st, 404)
        st, _, body = self.h.request('DELETE', '/api/v1/credentials/M365')
        self.assertEqual((st, body), (204, ''))
        st, _, e = self.h.request('DELETE', '/api/v1/credentials/M365')
        self.assertEqual(st, 404)
        self.assertIn('M365', e['error']['message'])

    def test_bad_input_is_400_naming_the_field(self):
        cases = [
            ({'type': 'basic'}, 'type'),
            ({'grant': 'password'}, 'grant'),
            ({'grant': None}, 'grant'),
            ({'token_url': 'http://login.example.test/token'}, 'token_url'),
            ({'token_url': 'https://'}, 'token_url'),
            ({'token_url': 'https:///token'}, 'token_url'),
            ({'token_url': 'https://h:0/t'}, 'token_url'),
            ({'token_url': 'login.example.test/token'}, 'token_url'),
            ({'token_url': None}, 'token_url'),
            ({'client_id': None}, 'client_id'),
            ({'client_id': ''}, 'client_id'),
            ({'client_id': 'a\r\nb'}, 'client_id'),
            ({'client_secret': None}, 'client_secret'),
            ({'client_secret': ''}, 'client_secret'),
            ({'client_secret': 'x\ny'}, 'client_secret'),
            ({'client_secret': '*****'}, 'client_secret'),
            ({'scope': 'a\x07b'}, 'scope'),
            ({'mechanism': 'plain'}, 'mechanism'),
            ({'mechanism': 5}, 'mechanism'),
            ({'name': 'Other'}, 'name'),
        ]
        for change, field in cases:
            body = dict(M365)
            for k, v in change.items():
                if v is None:
                    body.pop(k, None)
                else:
                    body[k] = v
            st, e = self.put('Bad', body)
            self.assertEqual(st, 400, (change, e))
            self.assertEqual(e['error'].get('field'), field, (change, e))
            self.assertTrue(e['error']['message'])
        st, e = self.put('Bad', dict(GOOGLE, refresh_token=''))
        self.assertEqual((st, e['error'].get('field')), (400, 'refresh_token'))
        st, e = self.put('Bad', dict(M365, extra='x'))
        self.assertEqual(st, 400, e)
        for name in ('1abc', 'a-b', 'x' * 65):
            st, e = self.put(name, M365)
            self.assertEqual((st, e['error'].get('field')), (400, 'name'),
                             name)
        st, _, e = self.h.request('PUT', '/api/v1/credentials/Bad', '[1]',
                                  content_type='application/json')
        self.assertEqual(st, 400)
        self.assertEqual(self.h.api('GET', '/api/v1/credentials',
                                    expect=200)['items'], [])

    def test_a_replace_keeps_secrets_left_out_or_masked(self):
        self.put('Google', GOOGLE, expect=201)
        body = dict(GOOGLE)
        del body['client_secret'], body['refresh_token']
        st, c = self.put('Google', body, expect=200)
        self.assertIs(c['client_secret_set'], True)
        self.assertIs(c['refresh_token_set'], True)
        st, c = self.put('Google', dict(GOOGLE, client_secret='*****',
                                        refresh_token='*****'), expect=200)
        self.assertIs(c['refresh_token_set'], True)
        # "" removes: a public client of the refresh_token grant
        st, c = self.put('Google', dict(body, client_secret=''), expect=200)
        self.assertIs(c['client_secret_set'], False)
        self.assertIs(c['refresh_token_set'], True)
        # and a removed secret cannot come back masked
        st, e = self.put('Google', dict(body, client_secret='*****'))
        self.assertEqual((st, e['error'].get('field')), (400, 'client_secret'))

    def test_delete_is_409_while_an_applet_uses_it(self):
        self.put('M365', M365, expect=201)
        self.h.api('POST', '/api/v1/applets', applet('Notify', 'M365'),
                   expect=201)
        st, _, e = self.h.request('DELETE', '/api/v1/credentials/M365')
        self.assertEqual(st, 409, e)
        self.assertIn('Notify', e['error']['message'])
        self.h.api('GET', '/api/v1/credentials/M365', expect=200)
        self.h.api('DELETE', '/api/v1/applets/Notify', expect=204)
        self.h.api('DELETE', '/api/v1/credentials/M365', expect=204)

    def test_an_applet_naming_a_missing_credential_is_warned(self):
        a = self.h.api('POST', '/api/v1/applets', applet('Notify', 'Nope'),
                       expect=201)
        w = [x for x in a['warnings'] if x['code'] == 'unknown_credential']
        self.assertEqual(len(w), 1, a['warnings'])
        self.assertEqual(w[0]['credential'], 'Nope')
        self.assertEqual(w[0]['label'], '0010')
        self.assertIn('Nope', w[0]['message'])
        # the credential is in the JSON model and the canonical text
        act = a['actions'][0]
        self.assertEqual(act['credential'], 'Nope')
        self.assertIn('credential Nope\n', a['text'])
        self.put('Nope', M365, expect=201)
        a = self.h.api('GET', '/api/v1/applets/Notify', expect=200)
        self.assertEqual([x for x in a['warnings']
                          if x['code'] == 'unknown_credential'], [])
        # the JSON form takes it too
        model = {'name': 'Json', 'events': [{'type': 'none'}], 'actions': [
            {'label': '1', 'action': 'mail', 'server': 'a@h.test',
             'to': 't@x.test', 'from': 'f@x.test', 'subject': 's',
             'credential': 'Nope'}]}
        a = self.h.api('POST', '/api/v1/applets', model, expect=201)
        self.assertIn('credential Nope', a['text'])

    def test_config_export_masks_and_import_keeps_the_secrets(self):
        self.put('Google', GOOGLE, expect=201)
        self.put('M365', M365, expect=201)
        self.h.api('POST', '/api/v1/applets', applet('Notify', 'M365'),
                   expect=201)
        text = self.h.api('GET', '/api/v1/config', expect=200)
        self.assertNoSecret(text)
        self.assertIn('herald credential Google\n', text)
        self.assertIn(' client-secret *****\n', text)
        self.assertIn(' refresh-token *****\n', text)
        self.assertIn(' token-url https://oauth2.googleapis.com/token\n',
                      text)
        self.assertIn('credential M365', text)
        s = self.h.api('POST', '/api/v1/config', text, expect=200)
        self.assertEqual(s['credentials'], 2, s)
        for n in ('Google', 'M365'):
            c = self.h.api('GET', '/api/v1/credentials/' + n, expect=200)
            self.assertIs(c['client_secret_set'], True)
        self.assertIs(self.h.api('GET', '/api/v1/credentials/Google')
                      ['refresh_token_set'], True)
        # the same text on a fresh herald: the masks cannot be resolved
        self.h.stop()
        self.h.cleanup()
        from herald import Herald
        self.h = Herald()
        self.h.start()
        st, _, e = self.h.request('POST', '/api/v1/config', text)
        self.assertEqual(st, 400, e)
        self.assertIn('client_secret', e['error']['message'])
        self.assertEqual(self.h.api('GET', '/api/v1/credentials')['items'],
                         [])

    def test_mail_test_with_a_credential(self):
        base = {'server': 'alerts@127.0.0.1', 'port': free_port(),
                'secure': 'tls', 'from': 'alerts@example.test',
                'to': 'noc@example.test'}
        st, _, e = self.h.request('POST', '/api/v1/mail/test',
                                  dict(base, credential='Nope'))
        self.assertEqual(st, 400, e)
        self.assertEqual(e['error'].get('field'), 'credential')
        self.assertIn('Nope', e['error']['message'])
        # a token endpoint nobody listens on: classified like a mail server
        self.put('Closed', dict(M365, token_url='https://127.0.0.1:%d/token'
                                % free_port()), expect=201)
        st, _, r = self.h.request('POST', '/api/v1/mail/test',
                                  dict(base, credential='Closed'), timeout=60)
        self.assertEqual(st, 200, r)
        self.assertIs(r['delivered'], False)
        self.assertEqual(r['result']['klass'], 'connect', r)
        # where the token was asked for is shown, not masked as a secret
        ep = r['trace']['oauth_endpoint']
        self.assertIsInstance(ep, dict, r['trace'])
        self.assertEqual(ep['url'], 'https://127.0.0.1:%d/token'
                         % urllib.parse.urlsplit(ep['url']).port, ep)
        self.assertNotIn('dialogue', r['trace'])
        self.assertNoSecret(json.dumps(r))
        # a password together with a credential is refused
        st, _, e = self.h.request('POST', '/api/v1/mail/test',
                                  dict(base, server='alerts:pw@127.0.0.1',
                                       credential='Closed'))
        self.assertEqual((st, e['error'].get('field')), (400, 'server'), e)
        m = self.h.api('GET', '/metrics', expect=200)
        self.assertRegex(m, r'herald_oauth_tokens_total\{outcome="failed"\} '
                         r'[1-9]')
        self.assertRegex(m, r'herald_deliveries_total\{[^}]*klass="connect"'
                         r'[^}]*source="mail_test"[^}]*\} [1-9]'
                         r'|herald_deliveries_total\{[^}]*source="mail_test"'
                         r'[^}]*klass="connect"[^}]*\} [1-9]'
                         r'|herald_deliveries_total\{[^}]*klass="connect"'
                         r'[^}]*\} [1-9]')

    def test_secrets_are_in_no_response_and_no_log(self):
        self.put('Google', GOOGLE, expect=201)
        self.put('Closed', dict(M365, token_url='https://127.0.0.1:%d/token'
                                % free_port()), expect=201)
        seen = []
        seen.append(self.h.api('GET', '/api/v1/credentials'))
        seen.append(self.h.api('GET', '/api/v1/credentials/Google'))
        seen.append(self.h.api('GET', '/api/v1/config'))
        self.h.api('POST', '/api/v1/applets',
                   applet('Notify', 'Closed', 'alerts@127.0.0.1'),
                   expect=201)
        seen.append(self.h.api('GET', '/api/v1/applets/Notify'))
        seen.append(self.h.api('GET', '/api/v1/applets'))
        r = self.h.api('POST', '/api/v1/applets/Notify/run', {'wait': True},
                       expect=200)
        seen.append(r)
        # the outbox tries it: the token endpoint's failure is its class
        deadline = time.time() + 30
        item = None
        while time.time() < deadline:
            lst = self.h.api('GET', '/api/v1/outbox', expect=200)
            item = lst['items'][0] if lst['items'] else None
            if item and item.get('last_error'):
                break
            time.sleep(0.3)
        self.assertIsNotNone(item)
        self.assertEqual(item['last_error']['klass'], 'connect', item)
        seen.append(lst)
        seen.append(self.h.api('GET', '/api/v1/outbox/%d' % item['id']))
        seen.append(self.h.api('GET', '/api/v1/runs/%d' % r['id']
                               if 'id' in r else '/api/v1/runs'))
        seen.append(self.h.api('GET', '/metrics'))
        for s in seen:
            self.assertNoSecret(s if isinstance(s, str) else json.dumps(s))
        time.sleep(0.2)
        self.assertNoSecret(self.h.log())
        self.assertIsNone(re.search(r'Bearer [A-Za-z0-9]', self.h.log()))


if __name__ == '__main__':
    unittest.main()
