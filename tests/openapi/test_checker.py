# SPDX-License-Identifier: MIT
"""
tests/openapi/test_checker.py: the contract checker (tests/lib/contract.py)
finds what it must find, so that a passing test_contract means something.
Each case feeds one hand-made exchange to contract.Spec.check(); no server.
"""

import json
import os
import sys
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(__file__), '..', 'lib'))
import contract  # noqa: E402

JSON = {'Content-Type': 'application/json'}
T = '2026-11-27T17:00:00Z'


def j(obj):
    return json.dumps(obj).encode()


def err(code):
    return j({'error': {'code': code, 'message': 'something went wrong'}})


class Checker(unittest.TestCase):

    @classmethod
    def setUpClass(cls):
        cls.spec = contract.Spec()

    def check(self, method, path, status, headers, body):
        return self.spec.check(method, path, status, headers, body)

    def test_a_valid_answer_has_no_violation(self):
        self.assertEqual(self.check(
            'GET', '/api/v1/environment/_to', 200, JSON,
            j({'name': '_to', 'value': 'a@b', 'secret': False,
               'value_set': True, 'updated': T})), [])

    def test_a_secret_value_in_an_answer_is_a_violation(self):
        v = self.check('GET', '/api/v1/environment/pw', 200, JSON,
                       j({'name': 'pw', 'value': 'hunter2', 'secret': True,
                          'value_set': True, 'updated': T}))
        self.assertEqual(len(v), 1, v)

    def test_a_bad_time_format_is_a_violation(self):
        v = self.check('GET', '/api/v1/environment/x', 200, JSON,
                       j({'name': 'x', 'value': '', 'secret': False,
                          'value_set': True, 'updated': '27/11/2026'}))
        self.assertIn('date-time', v[0])

    def test_an_undocumented_status_is_a_violation(self):
        v = self.check('GET', '/api/v1/environment', 418, JSON, err('teapot'))
        self.assertIn('not documented', v[0])

    def test_a_wrong_content_type_is_a_violation(self):
        v = self.check('GET', '/api/v1/config', 200,
                       {'Content-Type': 'application/json'}, b'{}')
        self.assertIn('Content-Type', v[0])

    def test_a_documented_media_type_parameter_must_be_sent(self):
        text = b'# TYPE x gauge\nx 1\n'
        self.assertEqual(self.check(
            'GET', '/metrics', 200, {'Content-Type': 'text/plain; '
                                     'version=0.0.4; charset=utf-8'},
            text), [])
        v = self.check('GET', '/metrics', 200,
                       {'Content-Type': 'text/plain'}, text)
        self.assertIn('version=0.0.4', v[0])

    def test_a_missing_required_header_is_a_violation(self):
        v = self.check('GET', '/api/v1/version', 401, JSON,
                       err('unauthorized'))
        self.assertIn('WWW-Authenticate', v[0])
        self.assertEqual(self.check(
            'GET', '/api/v1/version', 401,
            dict(JSON, **{'WWW-Authenticate': 'Bearer realm="herald"'}),
            err('unauthorized')), [])

    def test_the_wrong_error_code_for_a_status_is_a_violation(self):
        v = self.check('GET', '/api/v1/applets/x', 404, JSON, err('gone'))
        self.assertEqual(len(v), 1, v)

    def test_an_answer_on_an_undescribed_route_is_a_violation(self):
        v = self.check('GET', '/api/v1/secret-debug', 200, JSON, b'{}')
        self.assertIn('does not describe', v[0])
        self.assertEqual(self.check('GET', '/api/v1/secret-debug', 404,
                                    JSON, err('not_found')), [])

    def test_405_needs_allow_and_its_code(self):
        v = self.check('DELETE', '/api/v1/version', 405, JSON,
                       err('method_not_allowed'))
        self.assertIn('Allow', v[0])

    def test_concrete_paths_win_over_templates(self):
        t, op = self.spec.operation('POST', '/api/v1/trustpoints/import-chain')
        self.assertEqual(t, '/api/v1/trustpoints/import-chain')
        t, op = self.spec.operation('GET', '/api/v1/trustpoints/CA-1')
        self.assertEqual(t, '/api/v1/trustpoints/{name}')

    def test_a_body_where_none_is_documented_is_a_violation(self):
        v = self.check('DELETE', '/api/v1/applets/x', 204, {}, b'{"x":1}')
        self.assertEqual(len(v), 1, v)

    def test_no_route_404s_do_not_count_as_exercised(self):
        rec = contract.Recorder(self.spec)
        rec.record('GET', '/api/v1/runs', 404, JSON,
                   j({'error': {'code': 'not_found',
                                'message': 'no route GET /api/v1/runs'}}))
        self.assertIn(('GET', '/api/v1/runs'), rec.unexercised())
        rec.record('GET', '/api/v1/runs/7', 404, JSON,
                   j({'error': {'code': 'not_found',
                                'message': 'no run with id 7'}}))
        self.assertNotIn(('GET', '/api/v1/runs/{id}'), rec.unexercised())


if __name__ == '__main__':
    unittest.main()
