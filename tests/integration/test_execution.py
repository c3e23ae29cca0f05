# SPDX-License-Identifier: MIT
"""
tests/integration/test_execution.py: applets run end to end (issue 4).

The source document's configuration (DESIGN.md) is pasted as text into
POST /api/v1/config -- environment lines whose server string points at the
loopback Postfix submission port of tests/lib/mailenv.py with its SASL
user, the applet exactly as written there (only port adapted), and the
trustpoint authenticated with the test root pasted as bare base64 lines
ended by "quit" -- then run by hand, synchronously and asynchronously. The
mail must land in every recipient's mailbox with the From/To/Cc/Subject
and body a reader sees, and the run record must say success and carry the
TLS trace. With $_email_cc unset the same applet aborts at label 0010 with
undefined_variable and sends nothing.

Also: arguments and puts output of a synchronous run and its exit status;
ratelimit (the second run in a row is recorded "ratelimited"); maxrun (a
run that waits past it ends "timeout"); a full run queue answers 429 with
Retry-After and recovers. No password appears in a response or the log.

The helpers shared with test_triggers.py and test_outbox.py are in
tests/lib/itest.py.
"""

import email
import email.policy
import json
import os
import time
import unittest

from itest import (TRUSTPOINT, USER, ClassHeraldTest, addresses, api,
                   assert_no_secrets, body_of, call, get_run, header_text,
                   list_runs, mailenv_module, matching, put_applet,
                   run_applet, start_herald, wait_count, wait_run,
                   zsecrets_test)
from mailenv import pki_dir

ENV = None
setUpModule, tearDownModule = mailenv_module(globals(), extra_chains=())


SUBJECT = 'This is my email subject'
BODY = 'This is my email body.'


def source_config(env, with_cc=True):
    """The source document's configuration, adapted to the test servers:
    the SASL user of the loopback Postfix, its submission port, and the
    test root pasted as bare base64 lines."""
    with open(os.path.join(pki_dir(), 'root-a.b64')) as f:
        b64 = [ln.strip() for ln in f if ln.strip()]
    lines = [
        'event manager environment _email_from %s' % USER,
        'event manager environment _email_to noc@example.test',
        'event manager environment _email_server %s:%s@localhost'
        % (USER, env.users[USER]),
    ]
    if with_cc:
        lines.append('event manager environment _email_cc ops@example.test')
    lines += [
        'event manager applet SendSecureEmailEEM',
        ' event none',
        ' action 0010 mail server "$_email_server" to "$_email_to" from '
        '"$_email_from" cc "$_email_cc" subject "%s" body "%s" port %d '
        'secure tls' % (SUBJECT, BODY, env.ports['submission']),
        'crypto pki trustpoint %s' % TRUSTPOINT,
        ' enrollment terminal',
        ' revocation-check none',
        ' chain-validation stop',
        'crypto pki authenticate %s' % TRUSTPOINT,
    ] + b64 + ['quit']
    return '\n'.join(lines) + '\n'


class SourceDocumentTest(unittest.TestCase):
    """The scenario DESIGN.md says must be easy, end to end. The mail
    action waits for delivery (HERALD_MAIL_WAIT=delivery) so that the run's
    trace holds the SMTP dialogue and the TLS session."""
    maxDiff = None

    def setUp(self):
        self.h = start_herald({'HERALD_MAIL_WAIT': 'delivery'}, trust=False)

    def tearDown(self):
        h, self.h = self.h, None
        try:
            assert_no_secrets(self, ENV, h)
        finally:
            h.stop()
            h.cleanup()

    def import_config(self, with_cc=True):
        res = api(self.h, 'POST', '/api/v1/config',
                  source_config(ENV, with_cc), expect=200)
        self.assertEqual(res.get('applets'), 1, res)
        self.assertEqual(res.get('trustpoints'), 1, res)
        self.assertEqual(res.get('certificates'), 1, res)
        self.assertEqual(res.get('environment'), 4 if with_cc else 3, res)
        return res

    def counts(self):
        return {box: len(matching(ENV, box, SUBJECT))
                for box in ('noc@example.test', 'ops@example.test')}

    def check_landed(self, before):
        """Exactly one more copy in noc (To) and ops (Cc), as sent."""
        for box in ('noc@example.test', 'ops@example.test'):
            msgs = wait_count(ENV, box, SUBJECT, before[box] + 1, h=self.h)
            raw = msgs[-1]
            msg = email.message_from_bytes(raw,
                                           policy=email.policy.compat32)
            self.assertEqual(addresses(msg, 'From'), [USER])
            self.assertEqual(addresses(msg, 'To'), ['noc@example.test'])
            self.assertEqual(addresses(msg, 'Cc'), ['ops@example.test'])
            self.assertEqual(header_text(msg, 'Subject'), SUBJECT)
            self.assertEqual(body_of(raw).rstrip('\n'), BODY)
        time.sleep(0.5)
        after = self.counts()
        self.assertEqual(after, {k: v + 1 for k, v in before.items()},
                         'one run must give one message per recipient')

    def check_trace(self, run):
        self.assertEqual(run.get('status'), 'success', json.dumps(run)[:3000])
        self.assertEqual(run.get('applet'), 'SendSecureEmailEEM')
        self.assertEqual(run.get('trigger'), 'manual')
        trace = run.get('trace')
        self.assertIsInstance(trace, list)
        mail = [e for e in trace if e.get('label') == '0010']
        self.assertEqual(len(mail), 1, json.dumps(trace)[:3000])
        self.assertEqual(mail[0].get('action'), 'mail')
        smtp = mail[0].get('smtp') or {}
        tls = smtp.get('tls') or {}
        self.assertTrue(tls.get('tls_version'), json.dumps(smtp)[:3000])
        self.assertTrue(tls.get('cipher'), json.dumps(tls)[:2000])
        self.assertEqual((tls.get('anchor') or {}).get('trustpoint'),
                         TRUSTPOINT, json.dumps(tls)[:2000])
        self.assertIn('Herald Test Root A', json.dumps(tls))
        dialogue = json.dumps(smtp.get('dialogue'))
        self.assertIn('STARTTLS', dialogue)
        self.assertRegex(dialogue, r'AUTH (PLAIN|LOGIN)')
        for st in ('queued', 'started', 'ended'):
            self.assertTrue(run.get(st), '%s missing: %s' % (st, run))

    def test_source_config_runs_synchronously_and_mail_lands(self):
        self.import_config()
        before = self.counts()
        st, _, run = run_applet(self.h, 'SendSecureEmailEEM', wait=True,
                                expect=200)
        self.check_trace(run)
        self.assertEqual(get_run(self.h, run['id']).get('status'), 'success')
        self.check_landed(before)
        # Postfix saw the SASL login of the server string.
        self.assertIn('sasl_username=%s' % USER, ENV.log())

    def test_source_config_runs_asynchronously_and_mail_lands(self):
        self.import_config()
        before = self.counts()
        st, _, acc = run_applet(self.h, 'SendSecureEmailEEM', wait=False,
                                expect=202)
        self.assertIsInstance(acc.get('run_id'), int, acc)
        run = wait_run(self.h, acc['run_id'])
        self.check_trace(run)
        self.check_landed(before)

    def test_source_config_default_queue_mode_mail_lands(self):
        # The default HERALD_MAIL_WAIT=queue: the action succeeds once the
        # message is in the outbox (the trace names it); a sender delivers.
        h = start_herald(trust=False)
        try:
            res = api(h, 'POST', '/api/v1/config', source_config(ENV),
                      expect=200)
            self.assertEqual(res.get('applets'), 1, res)
            before = self.counts()
            st, _, run = run_applet(h, 'SendSecureEmailEEM', wait=True,
                                    expect=200)
            self.assertEqual(run.get('status'), 'success',
                             json.dumps(run)[:3000])
            smtp = [e for e in run['trace'] if e.get('label') == '0010'][0]
            oid = (smtp.get('smtp') or {}).get('outbox_id')
            self.assertIsInstance(oid, int, smtp)
            self.check_landed(before)
            deadline = time.monotonic() + 10
            while True:
                items = api(h, 'GET', '/api/v1/outbox?state=sent')['items']
                if [m for m in items if m['id'] == oid]:
                    break
                self.assertLess(time.monotonic(), deadline,
                                'outbox message %d not "sent": %s'
                                % (oid, json.dumps(items)[:2000]))
                time.sleep(0.2)
            assert_no_secrets(self, ENV, h)
        finally:
            h.stop()
            h.cleanup()

    def test_unset_email_cc_aborts_at_0010_with_undefined_variable(self):
        self.import_config(with_cc=False)
        # The save-time warning the design asks for.
        applet = api(self.h, 'GET', '/api/v1/applets/SendSecureEmailEEM')
        self.assertIn('_email_cc', json.dumps(applet.get('warnings')))
        before = self.counts()
        st, _, run = run_applet(self.h, 'SendSecureEmailEEM', wait=True)
        self.assertIn(st, (200, 202), run)
        if st == 202:
            run = wait_run(self.h, run['run_id'])
        self.assertEqual(run.get('status'), 'abort', json.dumps(run)[:2000])
        self.assertEqual(run.get('failed_label'), '0010', run)
        self.assertEqual(run.get('error_class'), 'undefined_variable', run)
        self.assertIn('_email_cc', run.get('error') or '', run)
        time.sleep(1.0)
        self.assertEqual(self.counts(), before, 'a message was sent anyway')


class RunBehaviourTest(ClassHeraldTest):
    """Runs by hand without mail: args, output, exit status, ratelimit,
    maxrun."""

    def test_args_and_puts_output_returned_by_synchronous_run(self):
        put_applet(self.h, 'event manager applet ArgsEcho\n'
                   ' event none\n'
                   ' action 010 puts "argc=$_none_argc first=$_none_arg1 '
                   'second=$_none_arg2"\n'
                   ' action 020 exit 3\n'
                   ' action 030 puts "not reached"\n')
        st, _, run = run_applet(self.h, 'ArgsEcho',
                                args=['alpha', 'beta gamma'], wait=True,
                                expect=200)
        self.assertEqual(run.get('status'), 'success', run)
        self.assertEqual(run.get('exit_status'), 3, run)
        out = run.get('output') or ''
        self.assertIn('argc=2 first=alpha second=beta gamma', out)
        self.assertNotIn('not reached', out)
        # The stored record says the same.
        again = get_run(self.h, run['id'])
        self.assertEqual(again.get('output'), run.get('output'))
        self.assertEqual(again.get('exit_status'), 3)
        self.assertEqual((again.get('trigger_data') or {}).get('_none_arg1'),
                         'alpha', again.get('trigger_data'))
        # No arguments: argc 0.
        put_applet(self.h, 'event manager applet ArgCount\n event none\n'
                   ' action 010 puts "argc=$_none_argc"\n')
        st, _, run = run_applet(self.h, 'ArgCount', args=[], wait=True,
                                expect=200)
        self.assertEqual(run.get('status'), 'success', run)
        self.assertEqual(run.get('exit_status'), 0, run)
        self.assertEqual((run.get('output') or '').strip(), 'argc=0')

    def test_too_many_args_is_400_naming_the_limit(self):
        put_applet(self.h, 'event manager applet ManyArgs\n event none\n'
                   ' action 010 puts "x"\n')
        st, _, body = run_applet(self.h, 'ManyArgs',
                                 args=[str(i) for i in range(16)])
        self.assertEqual(st, 400, body)
        self.assertIn('15', body['error']['message'])
        st, _, body = run_applet(self.h, 'NoSuchApplet', wait=True)
        self.assertEqual(st, 404, body)

    def test_ratelimit_records_second_run_as_ratelimited(self):
        put_applet(self.h, 'event manager applet Limited\n'
                   ' event none ratelimit 60\n'
                   ' action 010 puts "ran"\n')
        st, _, first = run_applet(self.h, 'Limited', wait=True, expect=200)
        self.assertEqual(first.get('status'), 'success', first)
        st, _, second = run_applet(self.h, 'Limited', wait=True)
        self.assertIn(st, (200, 202), second)
        sid = second.get('id', second.get('run_id'))
        self.assertEqual(second.get('status'), 'ratelimited', second)
        rec = get_run(self.h, sid)
        self.assertEqual(rec.get('status'), 'ratelimited', rec)
        self.assertFalse(rec.get('output'), 'a ratelimited run ran: %s' % rec)
        runs = list_runs(self.h, 'Limited')
        self.assertEqual(sorted(r['status'] for r in runs),
                         ['ratelimited', 'success'], runs)
        # Filter by status.
        only = api(self.h, 'GET', '/api/v1/runs?applet=Limited&'
                   'status=ratelimited')['items']
        self.assertEqual([r['id'] for r in only], [sid])

    def test_maxrun_ends_long_run_with_timeout(self):
        put_applet(self.h, 'event manager applet Slow\n'
                   ' event none maxrun 1\n'
                   ' action 1 wait 5\n'
                   ' action 2 puts "after the wait"\n')
        t0 = time.monotonic()
        st, _, run = run_applet(self.h, 'Slow', wait=True)
        took = time.monotonic() - t0
        self.assertIn(st, (200, 202), run)
        if st == 202:
            run = wait_run(self.h, run['run_id'])
        self.assertEqual(run.get('status'), 'timeout', run)
        self.assertLess(took, 4.5, 'maxrun 1 did not stop a wait 5')
        self.assertNotIn('after the wait', run.get('output') or '')

    def test_bad_run_body_is_400_naming_the_field(self):
        put_applet(self.h, 'event manager applet BodyCheck\n event none\n'
                   ' action 010 puts "x"\n')
        st, _, body = call(self.h, 'POST', '/api/v1/applets/BodyCheck/run',
                           {'args': 'not-a-list'})
        self.assertEqual(st, 400, body)
        self.assertEqual(body['error'].get('field'), 'args', body)
        st, _, body = call(self.h, 'POST', '/api/v1/applets/BodyCheck/run',
                           '{"wait": tru', content_type='application/json')
        self.assertEqual(st, 400, body)


class QueueFullTest(unittest.TestCase):
    """One worker, a queue of two, a slow applet: a burst overflows the
    queue (429 with Retry-After), and once it drained runs are accepted
    again."""

    def test_burst_gets_429_then_recovers(self):
        h = start_herald({'HERALD_WORKERS': '1', 'HERALD_QUEUE_SIZE': '2'},
                         trust=False)
        try:
            put_applet(h, 'event manager applet Sleepy\n event none\n'
                       ' action 1 wait 2\n action 2 puts "done"\n')
            accepted, busy = [], []
            for _ in range(8):
                st, hdrs, body = run_applet(h, 'Sleepy')
                if st == 202:
                    accepted.append(body['run_id'])
                else:
                    busy.append((st, hdrs, body))
            self.assertTrue(busy, 'no run was refused with 1 worker and a '
                            'queue of 2: %s' % accepted)
            self.assertLessEqual(len(accepted), 3, accepted)
            self.assertGreaterEqual(len(accepted), 2, accepted)
            for st, hdrs, body in busy:
                self.assertIn(st, (429, 503), body)
                self.assertIn('retry-after', hdrs)
                self.assertRegex(hdrs['retry-after'], r'^\d+$')
                self.assertEqual(body['error']['code'], 'busy', body)
            # Every accepted run completes.
            for rid in accepted:
                self.assertEqual(wait_run(h, rid, timeout=20)['status'],
                                 'success')
            # Recovery: accepted again.
            st, _, body = run_applet(h, 'Sleepy')
            self.assertEqual(st, 202, body)
            self.assertEqual(wait_run(h, body['run_id'], timeout=10)
                             ['status'], 'success')
        finally:
            h.stop()
            h.cleanup()


ZSecretsTest = zsecrets_test(globals())


if __name__ == '__main__':
    unittest.main()
