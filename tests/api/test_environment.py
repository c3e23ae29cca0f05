# SPDX-License-Identifier: MIT
"""tests/api/test_environment.py: /api/v1/environment.

Create (201) and replace (200), list in name order, delete (204, then 404),
name and value rules, and secrets: a secret variable's value and the password
of a user:password@host value never appear in any response or in the log,
and survive a restart.
"""
import json
import unittest

from herald import HeraldTestCase

SECRET = 'Sup3r-S3cret-pa55'
SERVER = 'relay@corp.example:%s@smtp-relay.gmail.com' % SECRET


class EnvironmentTest(HeraldTestCase):
    def put(self, name, value, secret=None, expect=None):
        body = {'value': value}
        if secret is not None:
            body['secret'] = secret
        st, _, data = self.h.request('PUT', '/api/v1/environment/' + name,
                                     body)
        if expect is not None:
            self.assertEqual(st, expect, data)
        return st, data

    def test_create_replace_get_list_delete(self):
        st, v = self.put('_email_to', 'noc@example.com')
        self.assertEqual(st, 201)
        self.assertEqual(v['name'], '_email_to')
        self.assertEqual(v['value'], 'noc@example.com')
        self.assertIs(v['secret'], False)
        self.assertIs(v['value_set'], True)
        self.assertRegex(v['updated'], r'^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$')
        st, v = self.put('_email_to', 'ops@example.com')
        self.assertEqual(st, 200)
        self.assertEqual(v['value'], 'ops@example.com')
        self.put('_email_from', 'alerts@example.com', expect=201)
        self.put('A_first', '1', expect=201)

        st, _, got = self.h.request('GET', '/api/v1/environment/_email_to')
        self.assertEqual((st, got['value']), (200, 'ops@example.com'))
        st, _, lst = self.h.request('GET', '/api/v1/environment')
        self.assertEqual(st, 200)
        names = [i['name'] for i in lst['items']]
        self.assertEqual(names, sorted(names))
        self.assertEqual(set(names), {'_email_to', '_email_from', 'A_first'})

        st, _, body = self.h.request('DELETE',
                                     '/api/v1/environment/_email_to')
        self.assertEqual((st, body), (204, ''))
        st, _, e = self.h.request('DELETE', '/api/v1/environment/_email_to')
        self.assertEqual(st, 404)
        self.assertIn('_email_to', e['error']['message'])
        self.assertEqual(self.h.request(
            'GET', '/api/v1/environment/_email_to')[0], 404)

    def test_bad_names_and_values_are_refused_with_the_field(self):
        for name in ('1abc', 'a-b', 'x' * 65, 'a%20b'):
            st, _, e = self.h.request('PUT', '/api/v1/environment/' + name,
                                      {'value': 'v'})
            self.assertEqual(st, 400, name)
            self.assertEqual(e['error']['field'], 'name')
        st, e = self.put('ok_name', 'line1\nline2')
        self.assertEqual(st, 400)
        self.assertEqual(e['error']['field'], 'value')
        self.assertIn('CR or LF', e['error']['message'])
        st, e = self.put('ok_name', 'v' * 4097)
        self.assertEqual(st, 400)
        self.assertIn('4096', e['error']['message'])
        self.put('ok_name', 'v' * 4096, expect=201)
        st, _, e = self.h.request('PUT', '/api/v1/environment/a',
                                  {'name': 'b', 'value': 'v'})
        self.assertEqual(st, 400)
        self.assertEqual(e['error']['field'], 'name')
        # nothing but ok_name was stored
        st, _, lst = self.h.request('GET', '/api/v1/environment')
        self.assertEqual([i['name'] for i in lst['items']], ['ok_name'])

    def assertNoSecret(self, *docs):
        for d in docs:
            self.assertNotIn(SECRET, json.dumps(d) if not isinstance(d, str)
                             else d)

    def test_secret_values_never_leave_the_server(self):
        st, v = self.put('_email_password', SECRET, secret=True)
        self.assertEqual(st, 201)
        self.assertNotIn('value', v)
        self.assertIs(v['secret'], True)
        self.assertIs(v['value_set'], True)
        st, v2 = self.put('_email_server', SERVER)
        self.assertEqual(st, 201)
        self.assertEqual(v2['value'],
                         'relay@corp.example:*****@smtp-relay.gmail.com')
        self.assertIs(v2['masked'], True)
        st, _, one = self.h.request('GET',
                                    '/api/v1/environment/_email_password')
        self.assertEqual(st, 200)
        self.assertNotIn('value', one)
        st, _, srv = self.h.request('GET',
                                    '/api/v1/environment/_email_server')
        st, _, lst = self.h.request('GET', '/api/v1/environment')
        self.assertNoSecret(v, v2, one, srv, lst)
        # a plain user@host value is shown as it is
        st, v3 = self.put('_plain', 'alerts@example.com')
        self.assertEqual(v3['value'], 'alerts@example.com')
        self.assertNotIn('masked', v3)

        # across a restart: still stored, still hidden
        self.h.restart()
        st, _, lst = self.h.request('GET', '/api/v1/environment')
        self.assertEqual({i['name'] for i in lst['items']},
                         {'_email_password', '_email_server', '_plain'})
        self.assertNoSecret(lst)
        st, _, cfg = self.h.request('GET', '/api/v1/config')
        if st == 200:
            self.assertNoSecret(cfg)
            self.assertIn('_email_password', cfg)
        self.h.stop()
        self.assertNoSecret(self.h.log(), self.h.stdout_text())


if __name__ == '__main__':
    unittest.main()
