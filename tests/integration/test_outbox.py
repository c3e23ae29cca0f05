# SPDX-License-Identifier: MIT
"""
tests/integration/test_outbox.py: the durable outbox keeps every accepted
message through outages, crashes and shutdowns (issue 4).

  * Outage: the mail server (an aiosmtpd this suite starts and stops
    itself, with STARTTLS and AUTH, on a fixed loopback port) is down; runs
    still succeed with the mail queued, GET /api/v1/outbox shows the
    messages queued with attempts and last_error class "connect"; once the
    server is up every message arrives exactly once and the outbox says
    sent.
  * kill -9 of herald in the middle of a burst of webhook-triggered mails
    to Postfix; herald restarted on the same data directory; every message
    whose webhook was answered 202 arrives (duplicates are reported, not
    failed: delivery is at least once).
  * SIGTERM while runs are queued and running: exit status 0; after a
    restart nothing accepted is lost.
  * Dead letter: a wrong password is a permanent auth_failed; the message
    is in GET /api/v1/outbox?state=dead; POST .../resend queues it again and
    it fails again the same way.
  * No password in any response or log line.
"""

import json
import os
import re
import subprocess
import sys
import tempfile
import threading
import time
import unittest
import uuid

import mailenv
from itest import (USER, api, assert_no_secrets, call, hook, list_runs,
                   mailenv_module, matching, new_token, put_applet, put_env,
                   run_applet, server_string, start_herald, zsecrets_test)
from mailenv import free_port, pki_dir

ENV = None
setUpModule, tearDownModule = mailenv_module(globals(), extra_chains=(),
                                              aiosmtpd=False)


def outbox(h, state=None):
    path = '/api/v1/outbox' + ('?state=%s' % state if state else '')
    return api(h, 'GET', path)['items']


def wait_outbox(h, pred, what, timeout=30.0, state=None):
    deadline = time.monotonic() + timeout
    while True:
        items = outbox(h, state)
        if pred(items):
            return items
        if time.monotonic() > deadline:
            raise AssertionError('outbox: %s not reached after %.0fs:\n%s\n'
                                 'log:\n%s' % (what, timeout,
                                               json.dumps(items)[:3000],
                                               h.log()[-3000:]))
        time.sleep(0.2)


class Capture:
    """aiosmtpd (tests/lib/mailenv/capture_smtpd.py) on a fixed port that
    this suite starts and stops by PID; each start saves into a fresh
    directory so that nothing is overwritten."""

    def __init__(self, users):
        self.port = free_port(['127.0.0.1'])
        self.dir = tempfile.mkdtemp(prefix='herald-outbox-capture-')
        self.users = os.path.join(self.dir, 'users.json')
        with open(self.users, 'w') as f:
            json.dump(users, f)
        self.proc = None
        self.outdirs = []
        self.logs = []

    def start(self):
        pki = pki_dir()
        out = os.path.join(self.dir, 'mail%d' % len(self.outdirs))
        log = os.path.join(self.dir, 'server%d.log' % len(self.outdirs))
        self.outdirs.append(out)
        self.logs.append(log)
        with open(log, 'wb') as lf:
            self.proc = subprocess.Popen(
                [mailenv.SYSTEM_PYTHON, mailenv.CAPTURE, '--host',
                 '127.0.0.1', '--port', str(self.port), '--users',
                 self.users, '--outdir', out,
                 '--chain', os.path.join(pki, 'chain-full.pem'),
                 '--key', os.path.join(pki, 'chain-full.key')],
                stdout=subprocess.PIPE, stderr=lf, stdin=subprocess.DEVNULL)
        line = self.proc.stdout.readline()
        if not line.startswith(b'READY'):
            self.stop()
            raise AssertionError('aiosmtpd did not start: %s' % self.log())

    def stop(self):
        p, self.proc = self.proc, None
        if p is None:
            return
        mailenv.stop_process(p)
        p.stdout.close()

    def messages(self, mailbox):
        out = []
        for d in self.outdirs:
            box = os.path.join(d, mailbox)
            if os.path.isdir(box):
                for n in sorted(os.listdir(box)):
                    if n.endswith('.eml'):
                        with open(os.path.join(box, n), 'rb') as f:
                            out.append(f.read())
        return out

    def log(self):
        text = ''
        for p in self.logs:
            try:
                with open(p, errors='replace') as f:
                    text += f.read()
            except OSError:
                pass
        return text[-4000:]

    def cleanup(self):
        self.stop()
        import shutil
        shutil.rmtree(self.dir, ignore_errors=True)


class OutageTest(unittest.TestCase):
    def test_server_down_messages_queued_then_all_delivered(self):
        cap = Capture(ENV.users)
        h = start_herald()
        try:
            put_env(h, '_email_server', server_string(ENV, cap.port))
            put_applet(h, 'event manager applet OutageMail\n event none\n'
                       ' action 010 mail server "$_email_server" to '
                       '"noc@example.test" from "%s" subject '
                       '"outage $_none_arg1" body "queued while down" '
                       'port %d secure tls\n' % (USER, cap.port))
            t = uuid.uuid4().hex[:8]
            ids = []
            for i in range(3):
                st, _, run = run_applet(h, 'OutageMail',
                                        args=['%s-%d' % (t, i)], wait=True,
                                        expect=200)
                self.assertEqual(run.get('status'), 'success',
                                 'the run must succeed with the mail '
                                 'queued: %s' % json.dumps(run)[:2000])
                ids.append(run['id'])
            items = wait_outbox(
                h, lambda it: len([m for m in it if t in m.get('subject', '')
                                   and m['attempts'] >= 1
                                   and m.get('last_error')]) == 3,
                '3 queued messages with a failed attempt', timeout=20)
            mine = [m for m in items if t in m.get('subject', '')]
            for m in mine:
                self.assertEqual(m['state'], 'queued', m)
                self.assertEqual(m['last_error']['klass'], 'connect', m)
                self.assertFalse(m['last_error'].get('permanent'), m)
                self.assertTrue(m.get('next_attempt'), m)
                self.assertIn(m.get('run_id'), ids, m)
                self.assertEqual(m.get('applet'), 'OutageMail')
                self.assertIn(':*****@', m.get('server') or ':*****@', m)
            queued = outbox(h, 'queued')
            self.assertEqual(len([m for m in queued
                                  if t in m.get('subject', '')]), 3)
            # The server comes up: everything arrives, exactly once.
            cap.start()
            deadline = time.monotonic() + 75
            while time.monotonic() < deadline:
                got = [m for m in cap.messages('noc@example.test')
                       if t.encode() in m]
                if len(got) >= 3:
                    break
                time.sleep(0.5)
            got = [m for m in cap.messages('noc@example.test')
                   if t.encode() in m]
            self.assertEqual(len(got), 3, 'after the outage: %d of 3 '
                             'delivered\nserver log:\n%s\nherald log:\n%s'
                             % (len(got), cap.log(), h.log()[-3000:]))
            for i in range(3):
                self.assertEqual(len([m for m in got if (
                    'outage %s-%d' % (t, i)).encode() in m]), 1)
            wait_outbox(h, lambda it: len([m for m in it if t in
                                           m.get('subject', '') and
                                           m['state'] == 'sent']) == 3,
                        '3 sent', timeout=10)
            assert_no_secrets(self, ENV, h)
        finally:
            h.stop()
            h.cleanup()
            cap.cleanup()


def burst_applet(port, slow=False):
    return ('event manager applet Burst\n event webhook\n' +
            (' action 005 wait 1\n' if slow else '') +
            ' action 010 mail server "$_email_server" to "noc@example.test" '
            'from "%s" subject "burst $_webhook_id" body "burst '
            '$_webhook_id" port %d secure tls\n' % (USER, port))


def ids_in(env, mailbox, prefix):
    """{id: copies} for subjects "burst <prefix>-N" in mailbox."""
    out = {}
    for m in env.messages(mailbox):
        for mm in re.finditer(rb'^Subject: burst (%s-\d+)\s*$'
                              % re.escape(prefix.encode()), m, re.M):
            k = mm.group(1).decode()
            out[k] = out.get(k, 0) + 1
    return out


class CrashTest(unittest.TestCase):
    maxDiff = None

    def test_kill_9_during_burst_loses_no_accepted_mail(self):
        self.kill_9_burst(n=50, kill_at=25, slow=False)

    def test_kill_9_with_runs_queued_and_running_loses_nothing(self):
        # Each run waits 1 s before its mail: at the kill two runs are in
        # a worker and the rest are queued; all were answered 202.
        self.kill_9_burst(n=16, kill_at=16, slow=True)

    def kill_9_burst(self, n, kill_at, slow):
        h = start_herald({'HERALD_WORKERS': '2'})
        try:
            put_env(h, '_email_server',
                    server_string(ENV, ENV.ports['submission']))
            put_applet(h, burst_applet(ENV.ports['submission'], slow))
            tok = new_token(h, 'Burst')
            prefix = 'k9' + uuid.uuid4().hex[:8]
            nxt = [0]
            accepted, lock = [], threading.Lock()
            stop = threading.Event()

            def worker():
                while not stop.is_set():
                    with lock:
                        i = nxt[0]
                        nxt[0] += 1
                    if i >= n:
                        return
                    mid = '%s-%d' % (prefix, i)
                    try:
                        st, _, _ = hook(h, 'Burst', {'id': mid}, token=tok)
                    except Exception:
                        return
                    if st == 202:
                        with lock:
                            accepted.append(mid)
                    time.sleep(0.03)    # spread: deliveries under way

            threads = [threading.Thread(target=worker) for _ in range(4)]
            for th in threads:
                th.start()
            deadline = time.monotonic() + 30
            while time.monotonic() < deadline:
                with lock:
                    if len(accepted) >= kill_at:
                        break
                time.sleep(0.005)
            h.proc.kill()           # SIGKILL, mid-burst
            stop.set()
            for th in threads:
                th.join(30)
            h.kill()                # reap
            with lock:
                acc = list(accepted)
            self.assertGreaterEqual(len(acc), kill_at)
            before = ids_in(ENV, 'noc@example.test', prefix)
            sys.stderr.write('\n[kill -9] %d accepted, %d delivered before '
                             'the restart\n' % (len(acc), len(before)))
            h.start()
            deadline = time.monotonic() + 60
            while time.monotonic() < deadline:
                got = ids_in(ENV, 'noc@example.test', prefix)
                if all(a in got for a in acc):
                    break
                time.sleep(0.5)
            time.sleep(2)
            got = ids_in(ENV, 'noc@example.test', prefix)
            lost = sorted(set(acc) - set(got), key=lambda s: int(
                s.rsplit('-', 1)[1]))
            dups = {k: v for k, v in got.items() if v > 1}
            if dups:
                sys.stderr.write('[kill -9] at-least-once: %d duplicated '
                                 'message(s): %s\n' % (len(dups), dups))
            if lost:
                runs = list_runs(h, 'Burst')
                bad = [r for r in runs if r['status'] != 'success']
                self.fail('%d of %d accepted messages lost after kill -9: '
                          '%s\nruns not successful: %s\nherald log:\n%s'
                          % (len(lost), len(acc), lost,
                             json.dumps(bad)[:2000], h.log()[-4000:]))
            assert_no_secrets(self, ENV, h)
        finally:
            h.kill()
            h.cleanup()

    def test_sigterm_during_runs_exits_0_and_loses_nothing(self):
        h = start_herald({'HERALD_WORKERS': '2'})
        try:
            put_env(h, '_email_server',
                    server_string(ENV, ENV.ports['submission']))
            put_applet(h, 'event manager applet TermMail\n event none\n'
                       ' action 010 wait 1\n'
                       ' action 020 mail server "$_email_server" to '
                       '"ops@example.test" from "%s" subject '
                       '"term $_none_arg1" body "x" port %d secure tls\n'
                       % (USER, ENV.ports['submission']))
            t = 'st' + uuid.uuid4().hex[:8]
            acc = []
            for i in range(8):
                st, _, body = run_applet(h, 'TermMail',
                                         args=['%s-%d' % (t, i)])
                self.assertEqual(st, 202, body)
                acc.append('%s-%d' % (t, i))
            time.sleep(0.5)         # two running, six queued
            t0 = time.monotonic()
            code = h.stop(timeout=60, expect_code=None)
            self.assertEqual(code, 0, 'exit status after SIGTERM; log:\n%s'
                             % h.log()[-3000:])
            sys.stderr.write('\n[sigterm] stopped in %.1fs\n'
                             % (time.monotonic() - t0))
            h.start()
            deadline = time.monotonic() + 60
            while time.monotonic() < deadline:
                got = [a for a in acc if matching(
                    ENV, 'ops@example.test', 'Subject: term %s\n' % a)]
                if len(got) == len(acc):
                    break
                time.sleep(0.5)
            missing = [a for a in acc if not matching(
                ENV, 'ops@example.test', 'Subject: term %s\n' % a)]
            if missing:
                runs = list_runs(h, 'TermMail')
                self.fail('lost after SIGTERM + restart: %s\nruns: %s\n'
                          'log:\n%s' % (missing, json.dumps(
                              [(r['id'], r['status']) for r in runs]),
                              h.log()[-4000:]))
            # Every run ended; none is left queued or running.
            runs = list_runs(h, 'TermMail')
            self.assertEqual(len([r for r in runs if r['status'] in
                                  ('queued', 'running')]), 0, runs)
            assert_no_secrets(self, ENV, h)
        finally:
            h.kill()
            h.cleanup()


class DeadLetterTest(unittest.TestCase):
    def test_wrong_password_dead_letters_and_resend_requeues(self):
        h = start_herald()
        try:
            put_env(h, '_email_server', server_string(
                ENV, ENV.ports['submission'],
                password='not-the-password-x7Q'))
            put_applet(h, 'event manager applet WrongPass\n event none\n'
                       ' action 010 mail server "$_email_server" to '
                       '"noc@example.test" from "%s" subject "dead %s" '
                       'body "x" port %d secure tls\n'
                       % (USER, 'DL', ENV.ports['submission']))
            st, _, run = run_applet(h, 'WrongPass', wait=True, expect=200)
            self.assertEqual(run['status'], 'success', run)
            dead = wait_outbox(h, lambda it: len(it) == 1, 'one dead message',
                               timeout=30, state='dead')
            m = dead[0]
            self.assertEqual(m['state'], 'dead', m)
            self.assertEqual(m['run_id'], run['id'], m)
            le = m['last_error']
            self.assertEqual(le['klass'], 'auth_failed', m)
            self.assertEqual(le.get('code'), 535, m)
            self.assertTrue(le.get('permanent'), m)
            self.assertIn('authentication failed', le['message'].lower())
            self.assertGreaterEqual(m['attempts'], 1)
            self.assertEqual(m.get('subject'), 'dead DL')
            self.assertRegex(m.get('server') or '', r':\*+@localhost', m)
            # Not among the queued ones.
            self.assertEqual([x for x in outbox(h, 'queued')
                              if x['id'] == m['id']], [])
            attempts = m['attempts']
            # Resend: queued again, tried again, dead again the same way.
            res = api(h, 'POST', '/api/v1/outbox/%d/resend' % m['id'])
            self.assertEqual(res.get('state'), 'queued', res)
            again = wait_outbox(
                h, lambda it: any(x['id'] == m['id'] and
                                  x['attempts'] > attempts for x in it),
                'a second attempt', timeout=30, state='dead')
            m2 = [x for x in again if x['id'] == m['id']][0]
            self.assertEqual(m2['last_error']['klass'], 'auth_failed', m2)
            # Unknown ids and states are clear errors.
            st, _, body = call(h, 'POST', '/api/v1/outbox/999999/resend')
            self.assertEqual(st, 404, body)
            st, _, body = call(h, 'GET', '/api/v1/outbox?state=bogus')
            self.assertEqual(st, 400, body)
            self.assertIn('bogus', body['error']['message'])
            self.assertEqual(matching(ENV, 'noc@example.test', 'dead DL'), [])
            assert_no_secrets(self, ENV, h)
        finally:
            h.stop()
            h.cleanup()


ZSecretsTest = zsecrets_test(globals())


if __name__ == '__main__':
    unittest.main()
