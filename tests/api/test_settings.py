# SPDX-License-Identifier: MIT
"""tests/api/test_settings.py: /api/v1/settings.

The trustpool (the system CA bundle) is off until turned on; the setting
survives a restart; an empty body changes nothing; bad bodies are refused
naming the field and change nothing.
"""
import unittest

from herald import HeraldTestCase


class SettingsTest(HeraldTestCase):
    def test_trustpool_is_off_by_default_and_can_be_turned_on(self):
        st, _, body = self.h.request('GET', '/api/v1/settings')
        self.assertEqual(st, 200, body)
        self.assertEqual(body, {'trustpool': False})
        st, _, body = self.h.request('PUT', '/api/v1/settings',
                                     {'trustpool': True})
        self.assertEqual(st, 200, body)
        self.assertEqual(body, {'trustpool': True})
        self.h.restart()
        st, _, body = self.h.request('GET', '/api/v1/settings')
        self.assertEqual(body, {'trustpool': True})
        st, _, body = self.h.request('PUT', '/api/v1/settings',
                                     {'trustpool': False})
        self.assertEqual(body, {'trustpool': False})

    def test_an_empty_body_changes_nothing(self):
        self.h.request('PUT', '/api/v1/settings', {'trustpool': True})
        st, _, body = self.h.request('PUT', '/api/v1/settings', {})
        self.assertEqual(st, 200, body)
        self.assertEqual(body, {'trustpool': True})

    def test_bad_bodies_are_refused_naming_the_field(self):
        st, _, body = self.h.request('PUT', '/api/v1/settings',
                                     {'trustpool': 'yes'})
        self.assertEqual(st, 400, body)
        self.assertEqual(body['error']['field'], 'trustpool')
        st, _, body = self.h.request('PUT', '/api/v1/settings',
                                     {'trustpool': True, 'crl': True})
        self.assertEqual(st, 400, body)
        self.assertIn('crl', body['error']['message'])
        st, _, body = self.h.request('GET', '/api/v1/settings')
        self.assertEqual(body, {'trustpool': False})

    def test_settings_need_the_admin_token(self):
        st, _, _ = self.h.request('GET', '/api/v1/settings', token=False)
        self.assertEqual(st, 401)
        st, _, _ = self.h.request('PUT', '/api/v1/settings',
                                  {'trustpool': True}, token=False)
        self.assertEqual(st, 401)


if __name__ == '__main__':
    unittest.main()
