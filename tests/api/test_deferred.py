# SPDX-License-Identifier: MIT
"""tests/api/test_deferred.py: answers given after the HTTP thread moved on.

A webhook is answered 202 once its run is on disk: the HTTP thread hands
the run to the runtime's committer (one disk sync for every webhook that
came meanwhile) and serves other connections. Slow routes (a mail server
probe, a test mail, a run that waits) run on threads of their own. With a
single HTTP thread: a burst of webhooks gets one 202 each, every one naming
a recorded run; a probe of a mail server that holds the connection does not
hold the API; SIGTERM in a webhook flood exits 0 and keeps every run that
was answered 202.
"""
import socket
import threading
import time
import unittest

from herald import Herald

APPLET = ('event manager applet Deferred\n event webhook\n'
          ' action 1 puts "$_webhook_n"\n')


def hook(h, tok, n):
    """POST /hooks/Deferred; (status, body) or (None, error text)."""
    try:
        st, _, body = h.request('POST', '/hooks/Deferred', {'n': n},
                                token=tok, timeout=30)
        return st, body
    except Exception as e:  # the server went away mid-request
        return None, str(e)


def setup_applet(h):
    h.api('PUT', '/api/v1/applets/Deferred', APPLET, expect=201)
    return h.api('PUT', '/api/v1/applets/Deferred/webhook',
                 expect=200)['token']


class Tarpit:
    """A TCP server on loopback that accepts one connection, says nothing
    for hold seconds, then closes it: a mail server that never greets."""

    def __init__(self, hold):
        self.sock = socket.socket()
        self.sock.bind(('127.0.0.1', 0))
        self.sock.listen(4)
        self.port = self.sock.getsockname()[1]
        self.hold = hold
        self.accepted = threading.Event()
        self.t = threading.Thread(target=self._run, daemon=True)
        self.t.start()

    def _run(self):
        try:
            c, _ = self.sock.accept()
        except OSError:
            return
        self.accepted.set()
        time.sleep(self.hold)
        c.close()

    def close(self):
        self.sock.close()
        self.t.join(self.hold + 5)


class DeferredTest(unittest.TestCase):
    def setUp(self):
        self.h = Herald(args=['--threads', '1'])
        self.h.start()

    def tearDown(self):
        try:
            self.h.stop()
        finally:
            self.h.cleanup()

    def test_burst_of_webhooks_gets_a_202_each_naming_a_recorded_run(self):
        tok = setup_applet(self.h)
        answers, lock = [], threading.Lock()

        def client(k):
            for i in range(25):
                r = hook(self.h, tok, '%d-%d' % (k, i))
                with lock:
                    answers.append(r)

        threads = [threading.Thread(target=client, args=(k,))
                   for k in range(8)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(120)
        self.assertEqual(len(answers), 200)
        bad = [a for a in answers if a[0] != 202]
        self.assertEqual(bad, [], 'not 202: %s' % bad[:5])
        ids = [a[1]['run_id'] for a in answers]
        self.assertEqual(len(set(ids)), 200, 'run ids repeat')
        self.assertTrue(all(a[1]['duplicate'] is False for a in answers))
        for rid in ids[::20]:
            run = self.h.api('GET', '/api/v1/runs/%d' % rid, expect=200)
            self.assertEqual((run['applet'], run['trigger']),
                             ('Deferred', 'webhook'), run)

    def test_probe_of_a_silent_server_does_not_hold_the_api(self):
        tok = setup_applet(self.h)
        pit = Tarpit(hold=6)
        res = {}

        def probe():
            res['probe'] = self.h.request(
                'POST', '/api/v1/probe',
                {'host': '127.0.0.1', 'port': pit.port, 'secure': 'tls'},
                timeout=60)

        t = threading.Thread(target=probe)
        t.start()
        try:
            self.assertTrue(pit.accepted.wait(10), 'the probe never came')
            t0 = time.monotonic()
            st, _, body = self.h.request('GET', '/healthz', token=None)
            self.assertEqual(st, 200, body)
            st, body = hook(self.h, tok, 'during-probe')
            self.assertEqual(st, 202, body)
            st, _, _ = self.h.request('GET', '/api/v1/applets/Deferred')
            self.assertEqual(st, 200)
            took = time.monotonic() - t0
            # the server holds the probe 6 s: the only HTTP thread is free
            self.assertLess(took, 3.0, 'requests waited %.1f s behind the '
                            'probe' % took)
            t.join(60)
            st, _, body = res['probe']
            self.assertEqual(st, 502, body)
            self.assertIn('message', body['error'])
        finally:
            t.join(60)
            pit.close()

    def test_sigterm_in_a_webhook_flood_exits_0_keeping_every_202(self):
        tok = setup_applet(self.h)
        answers, lock = [], threading.Lock()
        stop = threading.Event()

        def client(k):
            i = 0
            while not stop.is_set():
                r = hook(self.h, tok, '%d-%d' % (k, i))
                i += 1
                with lock:
                    answers.append(r)
                if r[0] is None:
                    return

        threads = [threading.Thread(target=client, args=(k,))
                   for k in range(8)]
        for t in threads:
            t.start()
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            with lock:
                if sum(1 for a in answers if a[0] == 202) >= 100:
                    break
            time.sleep(0.01)
        code = self.h.stop(timeout=60, expect_code=None)
        stop.set()
        for t in threads:
            t.join(60)
        self.assertEqual(code, 0, 'exit status after SIGTERM; log:\n%s'
                         % self.h.log()[-3000:])
        accepted = [a[1]['run_id'] for a in answers if a[0] == 202]
        self.assertGreaterEqual(len(accepted), 100)
        # the others were refused while stopping, or found it gone
        odd = [a for a in answers if a[0] not in (202, 429, 503, None)]
        self.assertEqual(odd, [], odd[:5])
        self.h.start()
        runs = self.h.api('GET', '/api/v1/runs?applet=Deferred&limit=500',
                          expect=200)['items']
        have = {r['id'] for r in runs}  # the newest 500; the rest one by one
        missing = [i for i in sorted(set(accepted) - have)
                   if self.h.request('GET', '/api/v1/runs/%d' % i)[0] != 200]
        self.assertEqual(missing, [], '%d of %d runs answered 202 are gone '
                         'after the restart' % (len(missing), len(accepted)))


if __name__ == '__main__':
    unittest.main()
