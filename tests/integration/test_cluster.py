# SPDX-License-Identifier: MIT
"""
tests/integration/test_cluster.py: two herald instances on one PostgreSQL
(issue 14). The suite starts its own PostgreSQL 15 (tests/lib/pgsrv.py: a
temporary directory, an unprivileged user, a loopback port) and the
loopback Postfix of tests/lib/mailenv.py; every test gets a fresh database
and two heralds sharing it (same admin token, separate data directories).

  * Configuration written through one instance is read through the other;
    an Idempotency-Key seen by one is seen by the other.
  * 300 webhooks spread over both: each message delivered exactly once.
  * kill -9 of one instance in the middle of a burst: every message whose
    webhook was answered 202 (by either) is delivered by the survivor
    within 90 s; duplicates are counted and reported (at least once).
  * A watchdog timer fires once per period across the cluster, and keeps
    firing after its leader is killed.
  * A trust change made through one instance is used by the other within
    5 s.
  * PostgreSQL stopped and started under load: meanwhile triggers are
    refused with 503 and Retry-After and /healthz says why; nothing that
    was accepted is lost.
"""

import json
import re
import sys
import threading
import time
import unittest
import uuid
import urllib.error
import urllib.request

import pgsrv
from herald import Herald
from itest import (TRUSTPOINT, USER, api, call, hook, list_runs,
                   mailenv_module, new_token, put_applet, put_env,
                   server_string)
from mailenv import read_pem

ENV = None
PG = None
_mail_setup, _mail_teardown = mailenv_module(globals(), extra_chains=(),
                                              aiosmtpd=False)


def setUpModule():
    global PG
    _mail_setup()
    try:
        PG = pgsrv.PgServer().start()
    except BaseException:
        _mail_teardown()
        raise


def tearDownModule():
    global PG
    try:
        if PG is not None:
            PG.stop()
            PG = None
    finally:
        _mail_teardown()


def burst_applet(port):
    return ('event manager applet Burst\n event webhook\n'
            ' action 010 mail server "$_email_server" to "noc@example.test" '
            'from "%s" subject "burst $_webhook_id" body "burst '
            '$_webhook_id" port %d secure tls\n' % (USER, port))


def ids_in(mailbox, prefix):
    """{id: copies} for subjects "burst <prefix>-N" in mailbox."""
    out = {}
    for m in ENV.messages(mailbox):
        for mm in re.finditer(rb'^Subject: burst (%s-\d+)\s*$'
                              % re.escape(prefix.encode()), m, re.M):
            k = mm.group(1).decode()
            out[k] = out.get(k, 0) + 1
    return out


def healthz(h):
    """(status, body) of GET /healthz."""
    try:
        with urllib.request.urlopen(h.base_url + '/healthz', timeout=10) as r:
            return r.status, json.loads(r.read() or b'{}')
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read() or b'{}')


class Cluster:
    """Two heralds on one fresh database."""

    def __init__(self, workers=2):
        self.url = PG.create_database()
        token = uuid.uuid4().hex + uuid.uuid4().hex
        self.nodes = [Herald(token=token,
                             args=['--database-url', self.url],
                             env={'HERALD_WORKERS': str(workers)})
                      for _ in range(2)]

    def __enter__(self):
        for h in self.nodes:
            h.start()
        return self

    def __exit__(self, *exc):
        for h in self.nodes:
            h.kill()
            h.cleanup()

    def logs(self):
        return '\n'.join('--- herald %d:\n%s' % (i, h.log()[-3000:])
                         for i, h in enumerate(self.nodes))


def trust_root_a(h):
    api(h, 'POST', '/api/v1/trustpoints', {
        'name': TRUSTPOINT, 'revocation_check': 'none',
        'chain_validation': 'stop', 'enrollment': 'terminal',
        'certificate': read_pem('root-a.pem')}, expect=201)


def wait_delivered(accepted, prefix, timeout):
    deadline = time.monotonic() + timeout
    while True:
        got = ids_in('noc@example.test', prefix)
        if all(a in got for a in accepted) or time.monotonic() > deadline:
            return got
        time.sleep(0.5)


def burst(nodes, n, prefix, token, threads=8, on_accept=None,
          statuses=None, until=None, pause=0.0):
    """Sends n webhooks spread over nodes (round robin), or with until (an
    Event) as many as fit until it is set, pause seconds apart per thread;
    returns the ids answered 202. statuses (a dict) counts every answer
    by status."""
    nxt, accepted, lock = [0], [], threading.Lock()

    def worker():
        while True:
            with lock:
                i = nxt[0]
                nxt[0] += 1
            if (until is None and i >= n) or (until is not None
                                               and until.is_set()):
                return
            if pause:
                time.sleep(pause)
            h = nodes[i % len(nodes)]
            mid = '%s-%d' % (prefix, i)
            try:
                st, hdrs, _ = hook(h, 'Burst', {'id': mid}, token=token)
            except Exception:
                st, hdrs = 'conn', {}
            with lock:
                if statuses is not None:
                    statuses[st] = statuses.get(st, 0) + 1
                    if st == 503 and hdrs.get('retry-after'):
                        statuses['retry-after'] = (
                            statuses.get('retry-after', 0) + 1)
                if st == 202:
                    accepted.append(mid)
                    if on_accept is not None:
                        on_accept(len(accepted))

    ths = [threading.Thread(target=worker) for _ in range(threads)]
    for t in ths:
        t.start()
    for t in ths:
        t.join(300)
    return accepted


class ClusterTest(unittest.TestCase):
    maxDiff = None

    def setup_burst(self, c):
        a = c.nodes[0]
        trust_root_a(a)
        put_env(a, '_email_server',
                server_string(ENV, ENV.ports['submission']))
        put_applet(a, burst_applet(ENV.ports['submission']))
        return new_token(a, 'Burst')

    def test_configuration_written_on_one_is_read_on_the_other(self):
        with Cluster() as c:
            a, b = c.nodes
            put_env(a, 'site', 'rack-7')
            got = api(b, 'GET', '/api/v1/environment/site')
            self.assertEqual(got.get('value'), 'rack-7', got)
            put_applet(a, 'event manager applet Hello\n event none\n'
                       ' action 010 puts "hello $site"\n')
            # the other instance runs the applet it did not store, with
            # the variable it did not store
            deadline = time.monotonic() + 5
            while True:
                st, _, res = call(b, 'POST', '/api/v1/applets/Hello/run',
                                  {'wait': True})
                if st == 200 or time.monotonic() > deadline:
                    break
                time.sleep(0.2)
            self.assertEqual(st, 200, res)
            self.assertIn('hello rack-7', res.get('output') or '', res)
            # a change on b is seen on a
            put_env(b, 'site', 'rack-9')
            got = api(a, 'GET', '/api/v1/environment/site')
            self.assertEqual(got.get('value'), 'rack-9', got)
            for h in (a, b):
                st, hz = healthz(h)
                self.assertEqual(st, 200, hz)
                self.assertEqual(hz['database']['backend'], 'postgresql')
                self.assertIs(hz['database']['ready'], True, hz)
            # one of them takes the timer leadership at its first tick
            deadline = time.monotonic() + 5
            while True:
                leaders = [healthz(h)[1]['database']['leader']
                           for h in (a, b)]
                if True in leaders or time.monotonic() > deadline:
                    break
                time.sleep(0.2)
            self.assertEqual(sorted(leaders), [False, True], leaders)

    def test_an_idempotency_key_seen_by_one_is_seen_by_the_other(self):
        with Cluster() as c:
            a, b = c.nodes
            put_applet(a, 'event manager applet Idem\n event webhook\n'
                       ' action 010 puts "once"\n')
            tok = new_token(a, 'Idem')
            key = uuid.uuid4().hex
            st1, _, r1 = hook(a, 'Idem', {'n': 1}, token=tok, idem=key)
            st2, _, r2 = hook(b, 'Idem', {'n': 1}, token=tok, idem=key)
            self.assertEqual((st1, st2), (202, 202), (r1, r2))
            self.assertEqual(r1['run_id'], r2['run_id'])
            self.assertTrue(r2.get('duplicate'), r2)
            time.sleep(1)
            self.assertEqual(len(list_runs(b, 'Idem')), 1)

    def test_300_webhooks_over_both_each_delivered_once(self):
        with Cluster() as c:
            token = self.setup_burst(c)
            prefix = 'c3' + uuid.uuid4().hex[:8]
            statuses = {}
            acc = burst(c.nodes, 300, prefix, token, statuses=statuses)
            self.assertEqual(len(acc), 300, statuses)
            got = wait_delivered(acc, prefix, 120)
            lost = sorted(set(acc) - set(got))
            dups = {k: v for k, v in got.items() if v > 1}
            self.assertEqual(lost, [], c.logs())
            self.assertEqual(dups, {}, 'delivered more than once')
            # each instance took its share of the runs
            runs = list_runs(c.nodes[0], 'Burst')
            self.assertEqual(len(runs), 300)

    def test_kill_9_of_one_instance_during_a_burst_loses_nothing(self):
        with Cluster() as c:
            a, b = c.nodes
            token = self.setup_burst(c)
            prefix = 'k9' + uuid.uuid4().hex[:8]
            killed = threading.Event()

            def on_accept(n):
                if n == 60 and not killed.is_set():
                    killed.set()
                    a.proc.kill()       # SIGKILL, mid-burst

            statuses = {}
            acc = burst(c.nodes, 200, prefix, token, on_accept=on_accept,
                        statuses=statuses)
            self.assertTrue(killed.is_set(), statuses)
            self.assertGreaterEqual(len(acc), 100, statuses)
            t0 = time.monotonic()
            got = wait_delivered(acc, prefix, 90)
            took = time.monotonic() - t0
            time.sleep(2)
            got = ids_in('noc@example.test', prefix)
            lost = sorted(set(acc) - set(got))
            dups = {k: v for k, v in got.items() if v > 1}
            sys.stderr.write('\n[cluster kill -9] %d accepted (%s), all '
                             'delivered %.1f s after the burst; %d '
                             'duplicated: %s\n'
                             % (len(acc), statuses, took, len(dups),
                                sorted(dups)[:10]))
            self.assertEqual(lost, [], '%d of %d accepted messages lost\n%s'
                             % (len(lost), len(acc), c.logs()))

    def test_watchdog_fires_once_per_period_and_after_its_leader_dies(self):
        with Cluster() as c:
            a, b = c.nodes
            put_applet(a, 'event manager applet Beat\n'
                       ' event timer watchdog time 1\n'
                       ' action 010 puts "beat"\n')
            time.sleep(1.5)
            n0 = len(list_runs(b, 'Beat'))
            time.sleep(8)
            n1 = len(list_runs(b, 'Beat'))
            # one instance firing: about 8; both firing would be about 16
            self.assertGreaterEqual(n1 - n0, 5, (n0, n1))
            self.assertLessEqual(n1 - n0, 10, (n0, n1))
            leader = [h for h in c.nodes
                      if healthz(h)[1]['database']['leader']]
            self.assertEqual(len(leader), 1)
            other = b if leader[0] is a else a
            leader[0].proc.kill()
            time.sleep(1)
            n2 = len(list_runs(other, 'Beat'))
            time.sleep(6)
            n3 = len(list_runs(other, 'Beat'))
            self.assertGreaterEqual(n3 - n2, 3, (n2, n3, other.log()[-2000:]))
            self.assertLessEqual(n3 - n2, 8, (n2, n3))
            self.assertIs(healthz(other)[1]['database']['leader'], True)

    def test_trust_change_on_one_is_used_by_the_other_within_5s(self):
        with Cluster() as c:
            a, b = c.nodes
            probe = {'host': 'localhost', 'port': ENV.ports['submission'],
                     'secure': 'tls'}

            def verdict():
                st, _, rep = call(b, 'POST', '/api/v1/probe', probe)
                self.assertEqual(st, 200, rep)
                return rep.get('verdict') or {}

            self.assertEqual(verdict().get('code'), 'certificate_untrusted')
            trust_root_a(a)
            t0 = time.monotonic()
            while not verdict().get('ok') and time.monotonic() - t0 < 10:
                time.sleep(0.2)
            took = time.monotonic() - t0
            self.assertIs(verdict().get('ok'), True)
            self.assertLessEqual(took, 5.0, 'trusted on b after %.1f s' % took)
            api(a, 'DELETE', '/api/v1/trustpoints/%s' % TRUSTPOINT,
                expect=204)
            t0 = time.monotonic()
            while verdict().get('ok') and time.monotonic() - t0 < 10:
                time.sleep(0.2)
            took = time.monotonic() - t0
            self.assertEqual(verdict().get('code'), 'certificate_untrusted')
            self.assertLessEqual(took, 5.0,
                                 'distrusted on b after %.1f s' % took)

    def test_database_stopped_and_started_under_load(self):
        with Cluster() as c:
            a, b = c.nodes
            token = self.setup_burst(c)
            prefix = 'pg' + uuid.uuid4().hex[:8]
            statuses = {}
            down = {}
            result = {}

            done = threading.Event()

            def load():
                result['acc'] = burst(c.nodes, 0, prefix, token, threads=2,
                                      statuses=statuses, until=done,
                                      pause=0.02)

            th = threading.Thread(target=load)
            th.start()
            time.sleep(1.5)
            PG.stop_server()
            try:
                time.sleep(2.5)
                down['health'] = [healthz(h) for h in (a, b)]
                st, hdrs, body = hook(a, 'Burst', {'id': prefix + '-x'},
                                      token=token)
                down['hook'] = (st, hdrs.get('retry-after'), body)
                time.sleep(1)
            finally:
                PG.start_server()
            time.sleep(4)
            done.set()
            th.join(300)
            acc = result.get('acc', [])
            for st, hz in down['health']:
                self.assertEqual(st, 503, hz)
                self.assertIs(hz['database']['ready'], False, hz)
            st, retry, body = down['hook']
            self.assertEqual(st, 503, body)
            self.assertTrue(retry, 'no Retry-After on a 503')
            self.assertGreater(statuses.get(503, 0), 0, statuses)
            self.assertEqual(statuses.get('retry-after'), statuses.get(503),
                             'every 503 says when to retry')
            # after the restart the instances take triggers again
            deadline = time.monotonic() + 20
            while healthz(a)[0] != 200 and time.monotonic() < deadline:
                time.sleep(0.5)
            self.assertEqual(healthz(a)[0], 200, c.logs())
            got = wait_delivered(acc, prefix, 90)
            lost = sorted(set(acc) - set(got))
            dups = {k: v for k, v in got.items() if v > 1}
            sys.stderr.write('\n[database restart] %d accepted, answers %s, '
                             '%d duplicated\n'
                             % (len(acc), statuses, len(dups)))
            self.assertEqual(lost, [], '%d of %d accepted messages lost\n%s'
                             % (len(lost), len(acc), c.logs()))


if __name__ == '__main__':
    unittest.main()
