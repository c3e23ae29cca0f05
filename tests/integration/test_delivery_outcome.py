# SPDX-License-Identifier: MIT
"""
tests/integration/test_delivery_outcome.py: a run knows its mail's fate
(issue 10).

The source document's applet, queued (HERALD_MAIL_WAIT at its default,
"queue"), against the loopback Postfix submission port of
tests/lib/mailenv.py, whose chain herald does not trust yet:

  * the run answers at once; within seconds GET /api/v1/runs/{id} says
    delivery "failed", its mail action's trace entry carries the message's
    state, attempts and last error (certificate_untrusted, its message and
    advice), GET /api/v1/runs?delivery=failed lists the run, and GET
    /api/v1/outbox/{id} shows the attempt with its TLS trace;
  * then the test root A becomes a trustpoint and POST /api/v1/outbox/{id}/
    resend delivers the message: the run says delivery "delivered", the
    mail lands, and the latest attempt's trace holds the SMTP dialogue with
    AUTH redacted;
  * a synchronous run ("wait": true) says plainly that its mail is queued,
    not delivered; "wait": "delivery" reports the first attempt's outcome,
    failed before the trustpoint and sent after it.

No password appears in any response or in the log.
"""

import json
import re
import time
import unittest

from itest import (TRUSTPOINT, USER, api, assert_no_secrets, call, get_run,
                   mailenv_module, put_applet, put_env, run_applet,
                   start_herald, wait_count, zsecrets_test)
from mailenv import read_pem

ENV = None
setUpModule, tearDownModule = mailenv_module(globals(), extra_chains=())

APPLET = 'SendSecureEmailEEM'
SUBJECT = 'Delivery outcome'


def applet_text(env):
    """The source document's applet (port adapted), no trustpoint."""
    return ('event manager applet %s\n'
            ' event none\n'
            ' action 0010 mail server "$_email_server" to "$_email_to" from'
            ' "$_email_from" subject "%s" body "This is my email body."'
            ' port %d secure tls\n' % (APPLET, SUBJECT,
                                         env.ports['submission']))


def mail_entry(run):
    mail = [e for e in run.get('trace') or [] if e.get('action') == 'mail']
    assert len(mail) == 1, json.dumps(run)[:3000]
    return mail[0]


def wait_delivery(h, run_id, want, timeout=20.0):
    """Polls GET /api/v1/runs/{id} until its delivery is want."""
    deadline = time.monotonic() + timeout
    while True:
        run = get_run(h, run_id)
        if run.get('delivery') == want:
            return run
        if time.monotonic() > deadline:
            raise AssertionError('run %d: delivery %s after %.0fs, expected '
                                 '%s:\n%s\nlog:\n%s'
                                 % (run_id, run.get('delivery'), timeout,
                                    want, json.dumps(run)[:3000],
                                    h.log()[-3000:]))
        time.sleep(0.1)


def add_trustpoint(h):
    """As a user would: probe the server, then trust the intermediate the
    chain presents through import-chain, without chain_validation: an
    intermediate gets "stop" by default, which is what makes it an anchor
    here."""
    rep = api(h, 'POST', '/api/v1/probe', {
        'host': 'localhost', 'port': ENV.ports['submission'],
        'secure': 'tls'})
    chain = (rep.get('tls') or {}).get('chain') or []
    inter = [c for c in chain if c.get('ca') and not c.get('self_signed')]
    assert inter, json.dumps(rep)[:3000]
    res = api(h, 'POST', '/api/v1/trustpoints/import-chain', {
        'certificates': [{'pem': inter[0]['pem'], 'name': TRUSTPOINT,
                          'sha256': inter[0]['sha256']}]}, expect=201)
    assert res['items'][0]['chain_validation'] == 'stop', res


def dialogue(trace):
    return [ln.get('line', '') for ln in (trace or {}).get('dialogue') or []]


class DeliveryOutcomeTest(unittest.TestCase):
    maxDiff = None

    def setUp(self):
        self.h = start_herald(trust=False)
        put_env(self.h, '_email_from', USER)
        put_env(self.h, '_email_to', 'noc@example.test')
        put_env(self.h, '_email_server', '%s:%s@localhost'
                % (USER, ENV.users[USER]))
        put_applet(self.h, applet_text(ENV))

    def tearDown(self):
        h, self.h = self.h, None
        try:
            assert_no_secrets(self, ENV, h)
        finally:
            h.stop()
            h.cleanup()

    def check_untrusted(self, d):
        """A delivery object after the failed first attempt."""
        self.assertIn(d.get('state'), ('dead', 'retrying'), d)
        self.assertGreaterEqual(d.get('attempts'), 1, d)
        self.assertTrue(d.get('failed'), d)
        le = d.get('last_error') or {}
        self.assertEqual(le.get('klass'), 'certificate_untrusted', d)
        self.assertTrue(le.get('message'), d)
        self.assertTrue(le.get('advice'), d)
        self.assertIn('permanent', le)

    def test_untrusted_mail_shows_failed_then_resend_delivers(self):
        h = self.h
        t0 = time.monotonic()
        _, _, acc = run_applet(h, APPLET, wait=False, expect=202)
        self.assertLess(time.monotonic() - t0, 5.0, 'the run answers at once')
        run_id = acc['run_id']

        run = wait_delivery(h, run_id, 'failed')
        print('\nrun %d after the first attempt: status %s, delivery %s'
              % (run_id, run.get('status'), run.get('delivery')))
        self.assertEqual(run.get('status'), 'success')
        entry = mail_entry(run)
        d = entry.get('delivery') or {}
        print('trace entry delivery: %s' % json.dumps(
            {k: v for k, v in d.items() if k != 'trace'}))
        self.check_untrusted(d)
        oid = d['outbox_id']
        self.assertEqual((entry.get('smtp') or {}).get('outbox_id'), oid)
        self.assertIn('tls', json.dumps(d.get('trace')))

        failed = api(h, 'GET', '/api/v1/runs?delivery=failed')['items']
        self.assertIn(run_id, [r['id'] for r in failed])
        self.assertTrue(all(r.get('delivery') == 'failed' for r in failed))
        everything = api(h, 'GET', '/api/v1/runs')['items']
        self.assertEqual([r.get('delivery') for r in everything
                          if r['id'] == run_id], ['failed'])

        msg = api(h, 'GET', '/api/v1/outbox/%d' % oid)
        self.assertEqual(msg.get('id'), oid)
        self.assertEqual(msg.get('run_id'), run_id)
        self.assertTrue(msg.get('failed'))
        atts = msg.get('attempts')
        self.assertIsInstance(atts, list)
        self.assertGreaterEqual(len(atts), 1)
        self.assertLessEqual(len(atts), 6)
        first = atts[0]
        self.assertFalse(first.get('ok'))
        self.assertEqual(first['result'].get('klass'),
                         'certificate_untrusted')
        self.assertTrue(first['result'].get('advice'))
        tr = first.get('trace') or {}
        print('first attempt: %s; trace keys %s; dialogue %s'
              % (json.dumps(first['result']), sorted(tr),
                 dialogue(tr)[:8]))
        self.assertIn('tls', tr, json.dumps(tr)[:2000])
        self.assertIn('STARTTLS', ' '.join(dialogue(tr)))
        self.assertNotIn('password', json.dumps(msg))

        # trust the root; the resend takes the password from the
        # environment again (a dead message keeps none)
        add_trustpoint(h)
        res = api(h, 'POST', '/api/v1/outbox/%d/resend' % oid)
        self.assertEqual(res.get('state'), 'queued')
        run = wait_delivery(h, run_id, 'delivered')
        d = mail_entry(run).get('delivery') or {}
        print('after the trustpoint and the resend: delivery %s, %s'
              % (run.get('delivery'), json.dumps(
                  {k: v for k, v in d.items() if k != 'trace'})))
        self.assertEqual(d.get('state'), 'sent', d)
        self.assertIsNone(d.get('last_error'), d)
        self.assertFalse(d.get('failed'), d)
        lines = dialogue(d.get('trace'))
        auth = [ln for ln in lines if re.match(r'AUTH (PLAIN|LOGIN)', ln)]
        print('sent attempt dialogue (AUTH lines): %s' % auth)
        self.assertTrue(auth, lines)
        self.assertTrue(any(ln.startswith('MAIL FROM') for ln in lines),
                        lines)
        self.assertIn('tls', d.get('trace') or {})
        failed = api(h, 'GET', '/api/v1/runs?delivery=failed')['items']
        self.assertNotIn(run_id, [r['id'] for r in failed])
        msg = api(h, 'GET', '/api/v1/outbox/%d' % oid)
        self.assertTrue(msg['attempts'][-1]['ok'])
        self.assertEqual(msg['attempts'][0]['result']['klass'],
                         'certificate_untrusted')
        wait_count(ENV, 'noc@example.test', SUBJECT, 1, h=h)

    def test_synchronous_run_says_its_mail_is_queued(self):
        add_trustpoint(self.h)
        _, _, run = run_applet(self.h, APPLET, wait=True, expect=200)
        self.assertEqual(run.get('status'), 'success')
        print('\nwait true: delivery %s, note %r' % (run.get('delivery'),
                                                    run.get('note')))
        # the sender may already have delivered it when the answer is made
        self.assertIn(run.get('delivery'), ('pending', 'delivered'), run)
        if run.get('delivery') == 'pending':
            self.assertIn('queued', run.get('note', ''))
        wait_delivery(self.h, run['id'], 'delivered')

    def test_wait_delivery_reports_the_first_attempt(self):
        h = self.h
        _, _, run = run_applet(h, APPLET, wait='delivery', expect=200)
        d = mail_entry(run).get('delivery') or {}
        print('\nwait delivery, untrusted: delivery %s, %s'
              % (run.get('delivery'), json.dumps(
                  {k: v for k, v in d.items() if k != 'trace'})))
        self.assertEqual(run.get('delivery'), 'failed', run)
        self.check_untrusted(d)
        self.assertNotIn('note', run)

        add_trustpoint(h)
        _, _, run = run_applet(h, APPLET, wait='delivery', expect=200)
        d = mail_entry(run).get('delivery') or {}
        print('wait delivery, trusted: delivery %s, state %s, attempts %s'
              % (run.get('delivery'), d.get('state'), d.get('attempts')))
        self.assertEqual(run.get('delivery'), 'delivered', run)
        self.assertEqual(d.get('state'), 'sent')
        self.assertEqual(d.get('attempts'), 1)
        wait_count(ENV, 'noc@example.test', SUBJECT, 1, h=h)

    def test_wait_must_be_a_boolean_or_delivery(self):
        st, _, data = call(self.h, 'POST', '/api/v1/applets/%s/run' % APPLET,
                           {'wait': 'forever'})
        self.assertEqual(st, 400, data)
        self.assertIn('delivery', json.dumps(data))
        st, _, data = call(self.h, 'GET', '/api/v1/runs?delivery=lost')
        self.assertEqual(st, 400, data)


ZSecretsTest = zsecrets_test(globals())


if __name__ == '__main__':
    unittest.main()
