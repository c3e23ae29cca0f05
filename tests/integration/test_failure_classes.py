# SPDX-License-Identifier: MIT
"""
tests/integration/test_failure_classes.py: one delivery path (issue 10).

Every failure class of the delivery tests must come out the same through
the three ways a user meets it: POST /api/v1/mail/test, POST
/api/v1/probe (where a probe can see it: TLS and connection failures) and
an applet's mail through the outbox ("wait": "delivery" reports the first
attempt). One table, real servers (tests/lib/mailenv.py: Postfix with
Dovecot SASL, aiosmtpd without STARTTLS), each case through each source.
"""
import json
import re
import shutil
import subprocess
import unittest

from itest import (USER, mailenv_module, run_applet, start_herald)
from mailenv import free_port

ENV = None
setUpModule, tearDownModule = mailenv_module(globals())

WRONG = 'wrong-pw-for-classes-Zq'


def cases():
    """(name, class, trusted, fields): fields of the mail request as the
    mail test takes them; the applet and the probe are derived from
    them."""
    sub = ENV.ports['submission']
    pw = ENV.users[USER]
    return [
        ('untrusted chain', 'certificate_untrusted', False,
         dict(server='%s:%s@localhost' % (USER, pw), port=sub, secure='tls',
              to='noc@example.test', sender=USER)),
        ('wrong host name', 'hostname_mismatch', True,
         dict(server='%s:%s@localhost' % (USER, pw), port=sub, secure='tls',
              tls_name='wrong.example', to='noc@example.test',
              sender=USER)),
        ('nothing listening', 'connect', True,
         dict(server='%s:%s@127.0.0.1' % (USER, pw), port=free_port(),
              secure='tls', to='noc@example.test', sender=USER)),
        ('no STARTTLS offered', 'starttls_unavailable', True,
         dict(server='%s:%s@localhost' % (USER, pw),
              port=ENV.ports['aiosmtpd-nostarttls'], secure='tls',
              to='noc@example.test', sender=USER)),
        ('wrong password', 'auth_failed', True,
         dict(server='%s:%s@localhost' % (USER, WRONG), port=sub,
              secure='tls', to='noc@example.test', sender=USER)),
        ('From not owned by the login', 'sender_rejected', True,
         dict(server='%s:%s@localhost' % (USER, pw), port=sub, secure='tls',
              to='noc@example.test', sender='ops@example.test')),
        ('unknown recipient', 'recipient_rejected', True,
         dict(server='%s:%s@localhost' % (USER, pw), port=sub, secure='tls',
              to='nobody@example.test', sender=USER)),
    ]


# the classes a probe can see (it connects and verifies, sends nothing)
PROBED = {'certificate_untrusted', 'hostname_mismatch', 'connect',
          'starttls_unavailable'}


class FailureClassTest(unittest.TestCase):
    maxDiff = None

    @classmethod
    def setUpClass(cls):
        cls.trusted = start_herald(trust=True)
        cls.untrusted = start_herald(trust=False)

    @classmethod
    def tearDownClass(cls):
        for h in (cls.trusted, cls.untrusted):
            h.stop()
            h.cleanup()

    def via_mail_test(self, h, f):
        body = {'server': f['server'], 'port': f['port'],
                'secure': f['secure'], 'to': f['to'], 'from': f['sender'],
                'subject': 'classes', 'body': 'x'}
        if 'tls_name' in f:
            body['tls_name'] = f['tls_name']
        st, _, res = h.request('POST', '/api/v1/mail/test', body,
                               timeout=120)
        self.assertEqual(st, 200, res)
        self.assertIs(res.get('delivered'), False, res)
        return res['result']['klass'], res['result']

    def via_probe(self, h, f):
        body = {'host': f['server'].rsplit('@', 1)[1], 'port': f['port'],
                'secure': f['secure']}
        if 'tls_name' in f:
            body['tls_name'] = f['tls_name']
        st, _, rep = h.request('POST', '/api/v1/probe', body, timeout=120)
        if st == 200:
            v = rep.get('verdict') or {}
            self.assertIs(v.get('ok'), False, rep)
            return v.get('code'), rep
        self.assertEqual(st, 502, rep)
        return rep['error']['code'], rep

    def via_outbox(self, h, name, f):
        text = ('event manager applet %s\n event none\n'
                ' action 1 mail server "%s" to "%s" from "%s" subject '
                '"classes" body "x" port %d secure %s%s\n'
                % (name, f['server'], f['to'], f['sender'], f['port'],
                   f['secure'], ' tls-name %s' % f['tls_name']
                   if 'tls_name' in f else ''))
        st, _, res = h.request('PUT', '/api/v1/applets/%s' % name, text,
                               content_type='text/plain')
        self.assertIn(st, (200, 201), res)
        _, _, run = run_applet(h, name, wait='delivery', expect=200)
        mail = [e for e in run.get('trace') or []
                if e.get('action') == 'mail']
        self.assertEqual(len(mail), 1, json.dumps(run)[:2000])
        le = (mail[0].get('delivery') or {}).get('last_error') or {}
        return le.get('klass'), run

    def test_every_class_is_the_same_through_each_source(self):
        rows = []
        for i, (name, klass, trusted, f) in enumerate(cases()):
            h = self.trusted if trusted else self.untrusted
            with self.subTest(case=name):
                got = {'mail_test': self.via_mail_test(h, f)[0],
                       'outbox': self.via_outbox(h, 'Class%d' % i, f)[0]}
                if klass in PROBED:
                    got['probe'] = self.via_probe(h, f)[0]
                rows.append('%-28s %-22s %s' % (name, klass, ' '.join(
                    '%s=%s' % kv for kv in sorted(got.items()))))
                self.assertEqual(set(got.values()), {klass}, got)
        print('\n' + '\n'.join(rows))
        self.check_metrics()

    def check_metrics(self):
        """GET /metrics of the trusted herald counts what happened, by
        source and class, and the real promtool accepts the text."""
        st, _, text = self.trusted.request('GET', '/metrics')
        self.assertEqual(st, 200, text)
        n = {}
        for m in re.finditer(r'^herald_deliveries_total\{([^}]*)\} (\S+)$',
                             text, re.M):
            labels = dict(re.findall(r'(\w+)="([^"]*)"', m.group(1)))
            key = (labels['source'], labels['klass'])
            n[key] = n.get(key, 0) + float(m.group(2))
        for _, klass, trusted, _ in cases():
            if not trusted:
                continue
            self.assertEqual(n.get(('mail_test', klass)), 1, (klass, n))
            self.assertGreaterEqual(n.get(('outbox', klass), 0), 1,
                                    (klass, n))
            if klass in PROBED:
                self.assertEqual(n.get(('probe', klass)), 1, (klass, n))
        promtool = shutil.which('promtool')
        self.assertIsNotNone(promtool, 'promtool is missing: run '
                             'scripts/install-deps test')
        p = subprocess.run([promtool, 'check', 'metrics'], input=text,
                           capture_output=True, text=True, timeout=60)
        self.assertEqual(p.returncode, 0, p.stdout + p.stderr)


if __name__ == '__main__':
    unittest.main()
