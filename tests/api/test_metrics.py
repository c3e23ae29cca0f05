# SPDX-License-Identifier: MIT
"""tests/api/test_metrics.py: GET /metrics as Prometheus sees it.

A real herald with a metrics token: the route needs the admin or the
metrics token, and the metrics token opens nothing else; a token file works
and a short token is refused at start. After a mail test to a closed port,
a run of an applet and an applet's mail to a closed port (an outbox
delivery that is deferred), the counters and the outbox gauges say exactly
that. Debian's promtool (package prometheus, `scripts/install-deps test`)
accepts the scraped text and docs/alerts.yml.
"""
import os
import re
import shutil
import socket
import subprocess
import tempfile
import time
import unittest

from herald import Herald, run_herald

SRC = os.environ.get('HERALD_SRC',
                     os.path.join(os.path.dirname(__file__), '..', '..'))
METRICS_TOKEN = 'metrics-token-0123456789abcdef'

SAMPLE = re.compile(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$')
LABEL = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"')


def promtool():
    p = shutil.which('promtool')
    if p is None:
        raise AssertionError('promtool is missing: run scripts/install-deps '
                             'test (Debian package prometheus)')
    return p


def parse(text):
    """{(name, frozenset of (label, value)): float} of the samples."""
    out = {}
    for line in text.splitlines():
        if not line or line.startswith('#'):
            continue
        m = SAMPLE.match(line)
        if m is None:
            raise AssertionError('not a sample line: %r' % line)
        labels = frozenset(
            (k, re.sub(r'\\(.)', lambda x: {'n': '\n'}.get(x.group(1),
                                                          x.group(1)), v))
            for k, v in LABEL.findall(m.group(2) or ''))
        out[(m.group(1), labels)] = float(m.group(3))
    return out


def value(samples, name, **labels):
    return samples.get((name, frozenset(labels.items())), 0.0)


def closed_port():
    s = socket.socket()
    s.bind(('127.0.0.1', 0))
    p = s.getsockname()[1]
    s.close()
    return p


class MetricsTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.promtool = promtool()
        cls.h = Herald(env={'HERALD_METRICS_TOKEN': METRICS_TOKEN})
        cls.h.start()

    @classmethod
    def tearDownClass(cls):
        try:
            cls.h.stop()
        finally:
            cls.h.cleanup()

    def scrape(self, token=METRICS_TOKEN):
        st, hdrs, body = self.h.request('GET', '/metrics', token=token)
        self.assertEqual(st, 200, body)
        self.assertEqual(hdrs['content-type'],
                         'text/plain; version=0.0.4; charset=utf-8')
        return body

    def check_metrics(self, text):
        p = subprocess.run([self.promtool, 'check', 'metrics'], input=text,
                           capture_output=True, text=True, timeout=60)
        self.assertEqual(p.returncode, 0, 'promtool check metrics:\n%s%s\n'
                         'on:\n%s' % (p.stdout, p.stderr, text))

    def test_a_token_is_needed(self):
        st, hdrs, body = self.h.request('GET', '/metrics', token=None)
        self.assertEqual(st, 401)
        self.assertEqual(body['error']['code'], 'unauthorized')
        self.assertTrue(hdrs['www-authenticate'].startswith('Bearer'))
        st, _, _ = self.h.request('GET', '/metrics', token='x' * 32)
        self.assertEqual(st, 401)
        st, _, _ = self.h.request('GET', '/metrics',
                                  token=METRICS_TOKEN + 'x')
        self.assertEqual(st, 401)

    def test_the_admin_token_and_the_metrics_token_open_metrics(self):
        self.assertIn('herald_build_info{version="0.1.0"} 1\n',
                      self.scrape(token=True))
        self.assertIn('herald_build_info{version="0.1.0"} 1\n',
                      self.scrape())

    def test_the_metrics_token_opens_nothing_else(self):
        for method, path in (('GET', '/api/v1/applets'),
                             ('GET', '/api/v1/version'),
                             ('GET', '/api/v1/outbox'),
                             ('POST', '/api/v1/applets/x/run')):
            st, _, body = self.h.request(method, path, token=METRICS_TOKEN)
            self.assertEqual(st, 401, '%s %s: %s' % (method, path, body))
        self.assertNotIn(METRICS_TOKEN, self.h.log())

    def test_counters_match_what_happened_and_promtool_accepts_them(self):
        h = self.h
        # a mail test to a closed port: one failed delivery, class connect
        st, _, r = h.request('POST', '/api/v1/mail/test', {
            'host': '127.0.0.1', 'port': closed_port(), 'secure': 'none',
            'from': 'herald@example.test', 'to': 'noc@example.test',
            'subject': 's', 'body': 'b'}, timeout=60)
        self.assertEqual(st, 200, r)
        self.assertEqual(r['result']['klass'], 'connect', r)
        # one run of an applet, waited for
        h.api('POST', '/api/v1/applets', 'event manager applet Counted\n'
              ' event none\n action 1 puts "hi"\n', expect=201)
        r = h.api('POST', '/api/v1/applets/Counted/run', {'wait': True},
                  expect=200)
        self.assertEqual(r['status'], 'success', r)
        # an applet's mail to a closed port: queued in the outbox, its
        # first attempt deferred
        h.api('POST', '/api/v1/applets', 'event manager applet Mailer\n'
              ' event none\n action 1 mail server "127.0.0.1" to '
              '"noc@example.test" from "herald@example.test" subject "s" '
              'body "b" port %d secure none\n' % closed_port(), expect=201)
        h.api('POST', '/api/v1/applets/Mailer/run', {'wait': True},
              expect=200)
        deadline = time.monotonic() + 20
        while True:
            text = self.scrape()
            m = parse(text)
            if value(m, 'herald_deliveries_total', outcome='deferred',
                     klass='connect', source='outbox') >= 1 or \
                    time.monotonic() > deadline:
                break
            time.sleep(0.2)
        self.assertEqual(value(m, 'herald_deliveries_total',
                               outcome='failed', klass='connect',
                               source='mail_test'), 1, text)
        self.assertEqual(value(m, 'herald_deliveries_total',
                               outcome='deferred', klass='connect',
                               source='outbox'), 1, text)
        self.assertEqual(value(m, 'herald_runs_total', applet='Counted',
                               status='success'), 1, text)
        self.assertEqual(sum(v for (n, l), v in m.items()
                             if n == 'herald_runs_total' and
                             ('applet', 'Counted') in l), 1, text)
        self.assertEqual(value(m, 'herald_outbox_messages', state='queued'),
                         1, text)
        self.assertEqual(value(m, 'herald_outbox_messages', state='dead'),
                         0, text)
        self.assertGreater(value(m, 'herald_outbox_oldest_seconds'), 0, text)
        self.assertGreaterEqual(value(m, 'herald_http_requests_total',
                                      code='200'), 1, text)
        self.assertGreaterEqual(value(m, 'herald_http_requests_total',
                                      code='401'), 0, text)
        self.assertGreater(value(m, 'process_resident_memory_bytes'), 1e6)
        self.assertLessEqual(value(m, 'process_start_time_seconds'),
                             time.time())
        for series in ('herald_trigger_queue_depth',
                       'herald_trigger_queue_bound'):
            self.assertIn((series, frozenset()), m, text)
        self.assertEqual(value(m, 'herald_trigger_queue_bound'), 16, text)
        for reason in ('queue_full', 'ratelimited', 'busy'):
            key = ('herald_trigger_dropped_total',
                   frozenset({'reason': reason}.items()))
            self.assertIn(key, m, text)
            self.assertEqual(m[key], 0, text)
        # every family has its HELP and TYPE
        for name in ('herald_deliveries_total', 'herald_outbox_messages',
                     'herald_outbox_oldest_seconds', 'herald_runs_total',
                     'herald_webhooks_total', 'herald_http_requests_total',
                     'herald_trigger_queue_depth',
                     'herald_trigger_dropped_total', 'herald_build_info'):
            self.assertIn('# HELP %s ' % name, text)
            self.assertIn('# TYPE %s ' % name, text)
        self.check_metrics(text)

    def test_webhook_answers_are_counted(self):
        h = self.h
        h.api('POST', '/api/v1/applets', 'event manager applet Hooked\n'
              ' event webhook\n action 1 puts "x"\n', expect=201)
        tok = h.api('PUT', '/api/v1/applets/Hooked/webhook',
                    expect=200)['token']
        before = parse(self.scrape())
        st, _, _ = h.request('POST', '/hooks/Hooked', {'a': 1}, token=None)
        self.assertEqual(st, 401)
        st, _, _ = h.request('POST', '/hooks/Hooked', {'a': 1}, token=tok)
        self.assertEqual(st, 202)
        after = parse(self.scrape())
        for code in ('401', '202'):
            self.assertEqual(
                value(after, 'herald_webhooks_total', code=code) -
                value(before, 'herald_webhooks_total', code=code), 1, code)

    def test_the_text_after_many_kinds_of_answer_passes_promtool(self):
        # an applet name cannot hold a quote; HTTP codes and classes are
        # plain: the escaping itself is tests/unit/common/test_metrics.c.
        # Here: the whole text, after many kinds of answers, still parses.
        for path in ('/api/v1/nope', '/api/v1/applets/NoSuch', '/metrics'):
            self.h.request('GET', path)
        self.check_metrics(self.scrape())

    def test_the_example_alert_rules_pass_promtool(self):
        rules = os.path.join(SRC, 'docs', 'alerts.yml')
        p = subprocess.run([self.promtool, 'check', 'rules', rules],
                           capture_output=True, text=True, timeout=60)
        self.assertEqual(p.returncode, 0, p.stdout + p.stderr)
        self.assertIn('SUCCESS: 2 rules found', p.stdout)


class MetricsTokenFileTest(unittest.TestCase):
    def test_the_token_file_is_read_and_a_short_token_refused(self):
        d = tempfile.mkdtemp(prefix='herald-mtok-')
        try:
            f = os.path.join(d, 'metrics.token')
            with open(f, 'w') as fh:
                fh.write(METRICS_TOKEN + '\n')
            with Herald(args=['--metrics-token-file', f]) as h:
                st, _, _ = h.request('GET', '/metrics', token=METRICS_TOKEN)
                self.assertEqual(st, 200)
                st, _, _ = h.request('GET', '/api/v1/applets',
                                     token=METRICS_TOKEN)
                self.assertEqual(st, 401)
            code, out, err = run_herald(
                ['serve', '--listen', '127.0.0.1:0', '--data-dir',
                 os.path.join(d, 'data')],
                env={'HERALD_ADMIN_TOKEN': 'a' * 32,
                     'HERALD_METRICS_TOKEN': 'short'})
            self.assertEqual(code, 1, out + err)
            self.assertIn('metrics token', err)
            self.assertNotIn('short', err.replace('too short', ''))
            code, out, err = run_herald(
                ['serve', '--listen', '127.0.0.1:0', '--data-dir',
                 os.path.join(d, 'data'), '--metrics-token-file',
                 os.path.join(d, 'missing')],
                env={'HERALD_ADMIN_TOKEN': 'a' * 32})
            self.assertEqual(code, 1, out + err)
            self.assertIn('cannot read the metrics token file', err)
        finally:
            shutil.rmtree(d, ignore_errors=True)


if __name__ == '__main__':
    unittest.main()
