# SPDX-License-Identifier: MIT
"""tests/api/test_database.py: the database as an operator sees it (issue
14, docs/storage.md).

Configuration, on any backend and without a server: --database-url,
--database-url-file, HERALD_DATABASE_URL and HERALD_DATABASE_URL_FILE. A URL
that is not PostgreSQL's and a missing or empty URL file are usage errors
(exit 2, refused before anything is touched); an unreachable server stops
the start (exit 1) with a message that names HOST:PORT. The password of the
URL is never printed, wherever the URL came from (a mistyped option
included). --help documents the options. Precedence as the admin token's:
a flag wins, the variable that gives the value wins over the file.

Health, on the backend under test (SQLite, or PostgreSQL in the @pg
variant): GET /healthz reports database {backend, ready, leader, instance}
as openapi/openapi.yaml says, /metrics has herald_database_up and
herald_leader, `herald health` says healthy.

PostgreSQL only (run in the @pg variant): PostgreSQL stopped under a running
herald (a private server: tests/lib/pgsrv.py) -> /healthz 503 with the
reason and no password, a webhook and a manual run 503 with Retry-After and
no run recorded, /metrics still answers with herald_database_up 0, `herald
health` fails; PostgreSQL back -> healthy and triggers accepted again. Runs
accepted before it went away are held and all succeed once it is back, one
mail each. Two instances on one database: the runs of one killed with
SIGKILL run on the other once their leases pass; one timer leader, a
watchdog applet runs on it only while the other counts and skips (its debug
log says so); the leader killed, the other takes the leadership and the
timer goes on.
"""
import json
import os
import re
import tempfile
import time
import unittest

import contract
import herald
from herald import Herald, run_herald

SECRET = 'SECRETPW-d41d8cd9'
UNREACHABLE = 'postgresql://u:%s@127.0.0.1:1/db' % SECRET
INSTANCE = re.compile(r'^.+:[0-9]+:[0-9a-f]{8}$')

HOOK_APPLET = ('event manager applet Hooked\n event webhook\n'
               ' action 1 puts "hooked"\n')
TICK_APPLET = ('event manager applet Tick\n event timer watchdog time 1\n'
               ' action 1 puts "tick"\n')


def pg_only(test):
    return unittest.skipUnless(
        herald.backend() == 'postgresql',
        'PostgreSQL only: runs in the @pg variant (api/test_database@pg)'
    )(test)


def wait_for(what, fn, timeout=20.0, step=0.2):
    """fn() until it returns a true value (returned), else fails."""
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        last = fn()
        if last:
            return last
        time.sleep(step)
    raise AssertionError('%s: not within %ss (last: %r)'
                         % (what, timeout, last))


def serve(*args, env=None):
    """herald serve with args (on a free loopback port, a scratch data
    directory): (exit code, stdout, stderr)."""
    d = tempfile.mkdtemp(prefix='herald-db-test-')
    try:
        return run_herald(['serve', '--listen', '127.0.0.1:0', '--data-dir',
                           d] + list(args), env=env, timeout=60)
    finally:
        import shutil
        shutil.rmtree(d, ignore_errors=True)


class DatabaseConfigTest(unittest.TestCase):
    """The options and variables, against no server at all."""

    def assertNoSecret(self, out, err):
        self.assertNotIn(SECRET, out)
        self.assertNotIn(SECRET, err)

    def assertUnreachable(self, code, out, err):
        self.assertEqual(code, 1, err)
        self.assertIn('127.0.0.1:1', err)
        self.assertNoSecret(out, err)
        self.assertNotIn('listening on', out)

    def test_help_documents_the_database_options(self):
        code, out, err = run_herald(['--help'])
        self.assertEqual(code, 0)
        for word in ('--database-url URL', '--database-url-file F',
                     'HERALD_DATABASE_URL]', 'HERALD_DATABASE_URL_FILE',
                     'postgresql://USER:PASSWORD@HOST:PORT/DB',
                     'DATA_DIR/herald.db'):
            self.assertIn(word, out)

    def test_a_url_that_is_not_postgresql_is_a_usage_error(self):
        code, out, err = serve('--database-url',
                               'mysql://u:%s@127.0.0.1/db' % SECRET)
        self.assertEqual(code, 2, err)
        self.assertIn("scheme 'mysql'", err)
        self.assertIn('postgresql://', err)
        self.assertNoSecret(out, err)
        code, out, err = serve('--database-url', 'just-a-word')
        self.assertEqual(code, 2, err)
        self.assertIn('neither a PostgreSQL URL', err)

    def test_an_unreachable_server_stops_the_start(self):
        self.assertUnreachable(*serve('--database-url', UNREACHABLE))

    def test_the_variable_gives_the_url(self):
        self.assertUnreachable(*serve(env={'HERALD_DATABASE_URL':
                                           UNREACHABLE}))

    def test_the_file_gives_the_url_trimmed(self):
        with tempfile.NamedTemporaryFile('w', suffix='.url') as f:
            f.write('  ' + UNREACHABLE + '\n\n')
            f.flush()
            self.assertUnreachable(*serve(env={'HERALD_DATABASE_URL_FILE':
                                               f.name}))
            self.assertUnreachable(*serve('--database-url-file', f.name))

    def test_a_missing_or_empty_file_is_a_usage_error(self):
        code, out, err = serve(env={'HERALD_DATABASE_URL_FILE':
                                    '/nonexistent/herald.url'})
        self.assertEqual(code, 2, err)
        self.assertIn('HERALD_DATABASE_URL_FILE', err)
        self.assertIn('cannot read the database URL file '
                      '/nonexistent/herald.url', err)
        with tempfile.NamedTemporaryFile('w', suffix='.url') as f:
            f.write('\n')
            f.flush()
            code, out, err = serve('--database-url-file', f.name)
            self.assertEqual(code, 2, err)
            self.assertIn('is empty', err)

    def test_a_file_with_two_lines_is_refused_without_showing_them(self):
        with tempfile.NamedTemporaryFile('w', suffix='.url') as f:
            f.write(UNREACHABLE + '\nmysql://x:%s@y/z\n' % SECRET)
            f.flush()
            code, out, err = serve('--database-url-file', f.name)
        self.assertEqual(code, 2, err)
        self.assertIn('alone, on one line', err)
        self.assertNoSecret(out, err)

    def test_a_flag_wins_and_the_value_wins_over_the_file(self):
        bad = 'mysql://u:%s@127.0.0.1/db' % SECRET
        # the flag over the variable (the variable's URL would be exit 2)
        self.assertUnreachable(*serve('--database-url', UNREACHABLE,
                                      env={'HERALD_DATABASE_URL': bad}))
        with tempfile.NamedTemporaryFile('w', suffix='.url') as f:
            f.write(bad + '\n')
            f.flush()
            # HERALD_DATABASE_URL over HERALD_DATABASE_URL_FILE
            self.assertUnreachable(*serve(env={
                'HERALD_DATABASE_URL': UNREACHABLE,
                'HERALD_DATABASE_URL_FILE': f.name}))
            # --database-url-file over HERALD_DATABASE_URL
            code, out, err = serve('--database-url-file', f.name,
                                   env={'HERALD_DATABASE_URL': UNREACHABLE})
            self.assertEqual(code, 2, err)
            self.assertNoSecret(out, err)

    def test_a_mistyped_option_does_not_echo_the_url(self):
        code, out, err = serve('--database-urll=' + UNREACHABLE)
        self.assertEqual(code, 2)
        self.assertIn("'--database-urll'", err)
        self.assertNoSecret(out, err)
        code, out, err = serve(UNREACHABLE)
        self.assertEqual(code, 2)
        self.assertNoSecret(out, err)


class HealthTest(unittest.TestCase):
    """/healthz and /metrics on the backend under test."""

    @classmethod
    def setUpClass(cls):
        cls.spec = contract.Spec()
        cls.h = Herald()
        cls.h.start()

    @classmethod
    def tearDownClass(cls):
        try:
            cls.h.stop()
        finally:
            cls.h.cleanup()

    def healthz(self):
        c = self.h.connection()
        try:
            c.request('GET', '/healthz')
            r = c.getresponse()
            raw = r.read()
            hdrs = {k.lower(): v for k, v in r.getheaders()}
        finally:
            c.close()
        self.assertEqual(self.spec.check('GET', '/healthz', r.status, hdrs,
                                         raw), [])
        return r.status, json.loads(raw)

    def test_healthz_reports_the_database(self):
        # PostgreSQL: the leadership is taken by the first tick (1 s)
        st, body = wait_for('leader', lambda: (lambda r: r if r[1].get(
            'database', {}).get('leader') else None)(self.healthz()),
            timeout=10)
        self.assertEqual(st, 200)
        self.assertEqual(body['status'], 'ok')
        db = body['database']
        self.assertEqual(db['backend'], herald.backend())
        self.assertIs(db['ready'], True)
        self.assertIs(db['leader'], True)
        self.assertNotIn('error', db)
        if herald.backend() == 'sqlite':
            self.assertEqual(db['instance'], '')
        else:
            self.assertRegex(db['instance'], INSTANCE)

    def test_metrics_have_the_database_gauges(self):
        wait_for('leader', lambda: self.healthz()[1]['database']['leader'],
                 timeout=10)
        text = self.h.api('GET', '/metrics', expect=200)
        for line in ('# TYPE herald_database_up gauge', 'herald_database_up 1',
                     '# TYPE herald_leader gauge', 'herald_leader 1'):
            self.assertIn(line + '\n', text)

    def test_herald_health_says_healthy(self):
        code, out, err = run_herald(['health', '--listen',
                                     '%s:%d' % (self.h.host, self.h.port)])
        self.assertEqual(code, 0, err)
        self.assertIn('healthy', out)


class DatabaseDownTest(unittest.TestCase):
    """PostgreSQL stopped and started under one herald."""

    @pg_only
    def test_triggers_answer_503_while_the_database_is_down(self):
        pgsrv = herald._pgsrv()
        spec = contract.Spec()
        pg = pgsrv.PgServer().start()
        h = None
        try:
            url = pg.create_database()
            h = Herald(database_url=url)
            h.start()
            h.api('POST', '/api/v1/applets', HOOK_APPLET, expect=201)
            tok = h.api('PUT', '/api/v1/applets/Hooked/webhook',
                        expect=200)['token']
            h.api('POST', '/hooks/Hooked', {'n': 1}, token=tok, expect=202)
            bodies = []

            def call(method, path, body=None, token=True):
                st, hdrs, data = h.request(method, path, body, token=token)
                raw = (json.dumps(data) if isinstance(data, (dict, list))
                       else data).encode()
                bodies.append(raw)
                self.assertEqual(spec.check(method, path, st, hdrs, raw), [])
                return st, hdrs, data

            pg.stop_server()
            st, _, body = wait_for(
                '/healthz 503', lambda: (lambda r: r if r[0] == 503 else
                                         None)(call('GET', '/healthz')))
            self.assertEqual(body['status'], 'unavailable')
            self.assertIs(body['database']['ready'], False)
            self.assertIn('127.0.0.1:%d' % pg.port,
                          body['database']['error'])

            for method, path, b, t in (
                    ('POST', '/hooks/Hooked', {'n': 2}, tok),
                    ('POST', '/api/v1/applets/Hooked/run', {}, True)):
                st, hdrs, body = call(method, path, b, token=t)
                self.assertEqual(st, 503, body)
                self.assertEqual(hdrs.get('retry-after'), '5')
                self.assertEqual(body['error']['code'],
                                 'database_unavailable')

            st, _, text = call('GET', '/metrics')
            self.assertEqual(st, 200)
            self.assertIn('herald_database_up 0\n', text)
            self.assertNotIn('herald_outbox_messages{', text)

            code, out, err = run_herald(['health', '--listen',
                                         '%s:%d' % (h.host, h.port)])
            self.assertEqual(code, 1)
            self.assertIn('503', err)
            self.assertIn('unavailable', err)

            pg.start_server()
            wait_for('/healthz 200', lambda: call('GET', '/healthz')[0]
                     == 200, timeout=30)
            h.api('POST', '/hooks/Hooked', {'n': 3}, token=tok, expect=202)
            runs = h.api('GET', '/api/v1/runs?applet=Hooked', expect=200)
            # the one before and the one after: nothing from the outage
            self.assertEqual(len(runs['items']), 2, runs)
            for raw in bodies:
                self.assertNotIn(pg.password.encode(), raw)
            self.assertNotIn(pg.password, h.log())
            self.assertNotIn(pg.password, h.stdout_text())
            self.assertIn('database-unavailable', h.log())
            h.stop()
        finally:
            if h is not None:
                h.cleanup()
            pg.stop()


def closed_port():
    import socket
    s = socket.socket()
    s.bind(('127.0.0.1', 0))
    p = s.getsockname()[1]
    s.close()
    return p


class HeldRunsTest(unittest.TestCase):
    """Runs accepted before PostgreSQL went away are held, not lost."""

    @pg_only
    def test_accepted_runs_wait_for_the_database_and_run_once_it_is_back(self):
        pgsrv = herald._pgsrv()
        pg = pgsrv.PgServer().start()
        h = None
        try:
            # one worker: the webhooks queue up behind a run that waits
            h = Herald(database_url=pg.create_database(),
                       args=['--workers', '1'])
            h.start()
            h.api('POST', '/api/v1/applets',
                  'event manager applet Slow\n event webhook\n'
                  ' action 1 wait 1\n action 2 mail server "127.0.0.1" to'
                  ' "noc@example.test" from "herald@example.test" subject'
                  ' "s" body "b" port %d secure none\n'
                  ' action 3 puts "done"\n' % closed_port(), expect=201)
            tok = h.api('PUT', '/api/v1/applets/Slow/webhook',
                        expect=200)['token']
            ids = [h.api('POST', '/hooks/Slow', {'n': i}, token=tok,
                         expect=202)['run_id'] for i in range(6)]
            time.sleep(1.5)  # the first runs, the rest wait
            pg.stop_server()
            wait_for('held', lambda: 'event=run-deferred' in h.log())
            time.sleep(3)
            pg.start_server()

            def all_done():
                st, _, body = h.request('GET', '/api/v1/runs?applet=Slow')
                if st != 200:
                    return None
                done = {r['id']: r['status'] for r in body['items']}
                return done if (sorted(done) == sorted(ids) and all(
                    v == 'success' for v in done.values())) else None
            wait_for('every accepted run succeeded', all_done, timeout=60)
            self.assertIn('event=held-resumed', h.log())
            # one message per run: a run held before its mail was queued
            # queued it once, when it ran again
            items = h.api('GET', '/api/v1/outbox', expect=200)['items']
            self.assertEqual(sorted(m['run_id'] for m in items), sorted(ids))
            self.assertNotIn(pg.password, h.log())
            h.stop()
        finally:
            if h is not None:
                h.cleanup()
            pg.stop()


class AdoptTest(unittest.TestCase):
    """The runs of an instance killed with SIGKILL run on another."""

    @pg_only
    def test_runs_of_a_killed_instance_are_taken_over(self):
        server = herald.pg_server()
        url = server.create_database()
        a = b = None
        try:
            a = Herald(database_url=url, args=['--workers', '1'])
            a.start()
            b = Herald(database_url=url)
            b.start()
            a.api('POST', '/api/v1/applets',
                  'event manager applet Slow\n event webhook\n'
                  ' action 1 wait 2\n action 2 puts "done"\n', expect=201)
            tok = a.api('PUT', '/api/v1/applets/Slow/webhook',
                        expect=200)['token']
            ids = [a.api('POST', '/hooks/Slow', {'n': i}, token=tok,
                         expect=202)['run_id'] for i in range(5)]
            time.sleep(1)
            a.kill()
            killed = time.monotonic()

            def all_done():
                runs = b.api('GET', '/api/v1/runs?applet=Slow',
                             expect=200)['items']
                done = {r['id']: r['status'] for r in runs}
                return done if (sorted(done) == sorted(ids) and all(
                    v == 'success' for v in done.values())) else None
            # leases last 15 s; then b takes them at its next tick
            wait_for('b ran every accepted run', all_done, timeout=60)
            self.assertGreater(time.monotonic() - killed, 10.0)
            self.assertRegex(b.log(), r'event=runs-adopted count=[1-5] ')
            b.stop()
        finally:
            for h in (a, b):
                if h is not None:
                    h.cleanup()
            try:
                server.drop_database(url.rsplit('/', 1)[1])
            except Exception:
                pass


class TimerLeaderTest(unittest.TestCase):
    """Two instances on one database: the timers fire on one."""

    @pg_only
    def test_one_leader_fires_the_timers_and_another_takes_over(self):
        server = herald.pg_server()
        url = server.create_database()
        a = b = None
        try:
            a = Herald(database_url=url, args=['--log-level', 'debug'])
            a.start()

            def leader(h):
                return h.api('GET', '/healthz', token=None,
                             expect=200)['database']['leader']
            wait_for('a leads', lambda: leader(a), timeout=10)
            b = Herald(database_url=url, args=['--log-level', 'debug'])
            b.start()
            a.api('POST', '/api/v1/applets', TICK_APPLET, expect=201)
            # b reads the new applet (config generation) and counts the
            # timer, but does not fire it
            wait_for('b skips', lambda: 'event=timer-skipped applet=Tick'
                     in b.log(), timeout=20)
            wait_for('a runs', lambda: re.search(
                r'event=run-end run=\d+ applet=Tick ', a.log()), timeout=20)
            self.assertIs(leader(b), False)
            self.assertNotIn('event=timer-skipped', a.log())
            self.assertIsNone(re.search(r'event=run-(start|end) run=\d+ '
                                        r'applet=Tick ', b.log()))

            a.kill()  # SIGKILL: its session, and the leader lock, end
            killed = time.monotonic()
            wait_for('b leads', lambda: leader(b), timeout=10)
            # b's own timer, not a's runs taken over: their leases last
            # 15 s after the kill
            wait_for('b runs', lambda: re.search(
                r'event=run-end run=\d+ applet=Tick ', b.log()), timeout=10)
            self.assertLess(time.monotonic() - killed, 14.0)
            self.assertNotIn(server.password, a.log() + b.log())
            b.stop()
        finally:
            for h in (a, b):
                if h is not None:
                    h.cleanup()
            try:
                server.drop_database(url.rsplit('/', 1)[1])
            except Exception:
                pass


if __name__ == '__main__':
    unittest.main()
