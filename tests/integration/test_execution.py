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

The helpers at the top are shared with test_triggers.py and
test_outbox.py (imported from here; they hold no test cases).
"""

import base64
import email
import email.header
import email.policy
import email.utils
import json
import os
import re
import threading
import time
import unittest

from herald import Herald
from mailenv import MailEnv, read_pem, pki_dir

USER = 'alerts@example.test'
TERMINAL = ('success', 'abort', 'timeout', 'cancelled', 'ratelimited')
TRUSTPOINT = 'CA-Test-Root-A'


# ---- helpers shared by the execution suites ---------------------------

class Recorder:
    """Every response text a suite saw, to check for secrets at the end."""

    def __init__(self):
        self.texts = []
        self.lock = threading.Lock()

    def add(self, body):
        text = body if isinstance(body, str) else json.dumps(body)
        with self.lock:
            self.texts.append(text)


RESPONSES = Recorder()


def call(h, method, path, body=None, **kw):
    """h.request() that records the response text."""
    st, hdrs, data = h.request(method, path, body, **kw)
    RESPONSES.add(data)
    return st, hdrs, data


def api(h, method, path, body=None, expect=(200,), **kw):
    """call() asserting the status; returns the body."""
    st, _, data = call(h, method, path, body, **kw)
    if isinstance(expect, int):
        expect = (expect,)
    if st not in expect:
        raise AssertionError('%s %s: status %d, expected %s: %s\n'
                             'herald log (tail):\n%s'
                             % (method, path, st, expect,
                                json.dumps(data)[:2000], h.log()[-3000:]))
    return data


def secret_forms(env):
    """Every form of a test password that must never be shown."""
    out = []
    for user, pw in env.users.items():
        out.append(pw)
        out.append(base64.b64encode(('\0%s\0%s' % (user, pw)).encode())
                   .decode())
        out.append(base64.b64encode(pw.encode()).decode())
    out.append('not-the-password-x7Q')
    return out


def assert_no_secrets(tc, env, h):
    log = h.log() + h.stdout_text()
    for s in secret_forms(env):
        tc.assertNotIn(s, log, 'a password is in the herald log')
        for t in RESPONSES.texts:
            tc.assertNotIn(s, t, 'a password is in an API response')


def server_string(env, port, user=USER, password=None, host='localhost'):
    pw = env.users[user] if password is None else password
    return '%s:%s@%s:%d' % (user, pw, host, port)


def start_herald(extra_env=None, data_dir=None, trust=True):
    """A fresh herald (or one on data_dir) trusting the test root A."""
    h = Herald(env=extra_env or {}, data_dir=data_dir)
    h.start()
    try:
        if trust:
            api(h, 'POST', '/api/v1/trustpoints', {
                'name': TRUSTPOINT, 'revocation_check': 'none',
                'chain_validation': 'stop', 'enrollment': 'terminal',
                'certificate': read_pem('root-a.pem')}, expect=201)
    except BaseException:
        h.kill()
        h.cleanup()
        raise
    return h


def put_env(h, name, value):
    api(h, 'PUT', '/api/v1/environment/%s' % name, {'value': value},
        expect=(200, 201))


def put_applet(h, text):
    """Stores an applet given as EEM text; returns the Applet object."""
    m = re.search(r'^event manager applet (\S+)', text, re.M)
    return api(h, 'PUT', '/api/v1/applets/%s' % m.group(1), text,
               expect=(200, 201))


def run_applet(h, name, args=None, wait=False, expect=None):
    """POST .../run. Returns (status, headers, body)."""
    body = {'wait': wait}
    if args is not None:
        body['args'] = args
    st, hdrs, data = call(h, 'POST', '/api/v1/applets/%s/run' % name, body,
                          timeout=120)
    if expect is not None and st != expect:
        raise AssertionError('run %s: status %d, expected %d: %s\nlog:\n%s'
                             % (name, st, expect, json.dumps(data)[:2000],
                                h.log()[-3000:]))
    return st, hdrs, data


def get_run(h, run_id):
    return api(h, 'GET', '/api/v1/runs/%d' % run_id)


def wait_run(h, run_id, timeout=30.0):
    """Polls GET /api/v1/runs/{id} until the run ended; returns the Run."""
    deadline = time.monotonic() + timeout
    while True:
        r = get_run(h, run_id)
        if r.get('status') in TERMINAL:
            return r
        if time.monotonic() > deadline:
            raise AssertionError('run %d still %s after %.0fs:\n%s\nlog:\n%s'
                                 % (run_id, r.get('status'), timeout,
                                    json.dumps(r)[:3000], h.log()[-3000:]))
        time.sleep(0.1)


def list_runs(h, applet, limit=500):
    """Every run of an applet (following next_cursor), newest first."""
    items = []
    path = '/api/v1/runs?applet=%s&limit=%d' % (applet, limit)
    cursor = None
    for _ in range(50):
        p = path + ('&cursor=%s' % cursor if cursor else '')
        data = api(h, 'GET', p)
        items.extend(data['items'])
        cursor = data.get('next_cursor')
        if not cursor:
            break
    return items


def wait_runs(h, applet, count, timeout=15.0, pred=None):
    """Waits until applet has at least count runs (matching pred)."""
    deadline = time.monotonic() + timeout
    while True:
        runs = [r for r in list_runs(h, applet) if pred is None or pred(r)]
        if len(runs) >= count:
            return runs
        if time.monotonic() > deadline:
            raise AssertionError(
                '%s: %d runs after %.0fs, expected %d: %s\nlog:\n%s'
                % (applet, len(runs), timeout, count,
                   json.dumps(runs)[:2000], h.log()[-3000:]))
        time.sleep(0.1)


def matching(env, mailbox, needle, server='postfix'):
    if isinstance(needle, str):
        needle = needle.encode()
    return [m for m in env.messages(mailbox, server) if needle in m]


def wait_count(env, mailbox, needle, count, timeout=30.0, server='postfix',
               h=None):
    """Waits until count messages containing needle are in mailbox."""
    deadline = time.monotonic() + timeout
    while True:
        msgs = matching(env, mailbox, needle, server)
        if len(msgs) >= count:
            return msgs
        if time.monotonic() > deadline:
            raise AssertionError(
                '%s (%s): %d messages with %r after %.0fs, expected %d\n'
                'server log:\n%s\nherald log:\n%s' % (
                    mailbox, server, len(msgs), needle, timeout, count,
                    env.log(server)[-3000:],
                    h.log()[-3000:] if h is not None else ''))
        time.sleep(0.2)


def header_text(msg, name):
    v = msg.get(name)
    if v is None:
        return None
    return str(email.header.make_header(email.header.decode_header(v)))


def addresses(msg, name):
    return sorted(a for _, a in email.utils.getaddresses(
        msg.get_all(name, [])))


def body_of(raw):
    msg = email.message_from_bytes(raw, policy=email.policy.compat32)
    payload = msg.get_payload(decode=True) or b''
    return payload.decode('utf-8').replace('\r\n', '\n')


def find_key(obj, key):
    """First value of key anywhere in a JSON document, or None."""
    if isinstance(obj, dict):
        if key in obj and obj[key] is not None:
            return obj[key]
        for v in obj.values():
            r = find_key(v, key)
            if r is not None:
                return r
    elif isinstance(obj, list):
        for v in obj:
            r = find_key(v, key)
            if r is not None:
                return r
    return None


# ---- the suite ---------------------------------------------------------

ENV = None


def setUpModule():
    global ENV
    ENV = MailEnv(extra_chains=())
    ENV.start()


def tearDownModule():
    global ENV
    if ENV is not None:
        ENV.stop()
        ENV.cleanup()
        ENV = None


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


class RunBehaviourTest(unittest.TestCase):
    """Runs by hand without mail: args, output, exit status, ratelimit,
    maxrun."""

    @classmethod
    def setUpClass(cls):
        cls.h = start_herald(trust=False)

    @classmethod
    def tearDownClass(cls):
        h, cls.h = cls.h, None
        h.stop()
        h.cleanup()

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


class ZSecretsTest(unittest.TestCase):
    """Runs last: no response of this suite held a password."""

    def test_no_password_in_any_response(self):
        self.assertTrue(RESPONSES.texts)
        for s in secret_forms(ENV):
            for t in RESPONSES.texts:
                self.assertNotIn(s, t)


if __name__ == '__main__':
    unittest.main()
