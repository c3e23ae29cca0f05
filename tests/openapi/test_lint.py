# SPDX-License-Identifier: MIT
"""
tests/openapi/test_lint.py: openapi/openapi.yaml is a valid OpenAPI 3.1
document that passes Redocly's recommended rules without errors, and it
describes every route docs/api.md lists.

Runs tests/node_modules' @redocly/cli (installed by `npm ci` in tests/;
scripts/install-deps test does that). A missing linter is a failure, not a
skip.
"""

import os
import re
import shutil
import subprocess
import sys
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(__file__), '..', 'lib'))
import contract  # noqa: E402

SRC = contract.SRC
TESTS = os.path.join(SRC, 'tests')
SPEC = contract.SPEC_PATH


class OpenApiLint(unittest.TestCase):

    def test_spec_passes_redocly_lint_without_errors(self):
        npx = shutil.which('npx')
        self.assertIsNotNone(npx, 'npx (node/npm) is not installed')
        redocly = os.path.join(TESTS, 'node_modules', '.bin', 'redocly')
        self.assertTrue(os.path.exists(redocly),
                        'tests/node_modules has no redocly: run `npm ci` in '
                        'tests/ (scripts/install-deps test)')
        env = dict(os.environ, REDOCLY_TELEMETRY='off',
                   REDOCLY_SUPPRESS_UPDATE_NOTICE='true', NO_COLOR='1',
                   FORCE_COLOR='0')
        p = subprocess.run(
            [npx, '--no-install', 'redocly', 'lint', '--format=stylish',
             SPEC], cwd=TESTS, env=env, capture_output=True, text=True,
            timeout=300)
        out = p.stdout + p.stderr
        self.assertEqual(p.returncode, 0,
                         'redocly lint failed:\n' + out[-6000:])

    def test_spec_describes_every_route_of_api_md(self):
        with open(os.path.join(SRC, 'docs', 'api.md'), encoding='utf-8') as f:
            doc = f.read()
        spec = contract.Spec()
        described = set(spec.operations())
        missing = []
        found = 0
        for m in re.finditer(r'`(GET|PUT|POST|DELETE|PATCH)\s+(/[^`\s?]*)',
                             doc):
            method, path = m.group(1), m.group(2)
            found += 1
            # api.md writes "/hooks/{applet}" and "/api/v1/runs/{id}";
            # compare templates with parameter names ignored.
            norm = re.sub(r'\{[^}]+\}', '{}', path)
            if not any(meth == method and
                       re.sub(r'\{[^}]+\}', '{}', t) == norm
                       for meth, t in described):
                missing.append('%s %s' % (method, path))
        self.assertGreater(found, 20, 'docs/api.md routes were not found')
        self.assertEqual(missing, [], 'routes in docs/api.md that '
                         'openapi.yaml does not describe')

    def test_every_operation_documents_its_errors(self):
        spec = contract.Spec()
        problems = []
        for method, template in spec.operations():
            op = spec.doc['paths'][template][method.lower()]
            codes = set(op.get('responses', {}))
            public = op.get('security') == []
            if template.startswith('/api/v1') and '401' not in codes:
                problems.append('%s %s: no 401' % (method, template))
            if not public and '500' not in codes:
                problems.append('%s %s: no 500' % (method, template))
            creates = method == 'PUT' and '201' in codes
            if '{' in template and template.startswith('/api/v1') and \
                    not creates and '404' not in codes:
                problems.append('%s %s: no 404' % (method, template))
            if 'requestBody' in op:
                for c in ('400', '413', '415'):
                    if c not in codes:
                        problems.append('%s %s: takes a body but has no %s'
                                        % (method, template, c))
            if not op.get('operationId'):
                problems.append('%s %s: no operationId' % (method, template))
        self.assertEqual(problems, [])

    def test_secret_request_fields_are_write_only(self):
        spec = contract.Spec()
        s = spec.doc['components']['schemas']
        self.assertTrue(s['MailTestRequest']['properties']['password']
                        .get('writeOnly'))
        self.assertTrue(s['MailTestRequest']['properties']['server']
                        .get('writeOnly'))
        self.assertTrue(s['EnvVarWrite']['properties']['value']
                        .get('writeOnly'))
        # A secret variable's answer must not be allowed to carry a value.
        self.assertNotEqual(spec.validate_schema(
            {'$ref': '#/components/schemas/EnvVar'},
            {'name': 'pw', 'secret': True, 'value': 'hunter2',
             'value_set': True, 'updated': '2026-01-01T00:00:00Z'}), [])


if __name__ == '__main__':
    unittest.main()
