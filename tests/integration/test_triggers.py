# SPDX-License-Identifier: MIT
"""
tests/integration/test_triggers.py: what fires applets besides a manual run
(issue 4): webhooks, the syslog listener and timers.

Webhooks: the credentials from PUT /api/v1/applets/{name}/webhook
authenticate POST /hooks/{name}: the token as a bearer token, or the
signing secret as the key of an HMAC-SHA256 signature over
"<timestamp>.<body>" (X-Herald-Timestamp, X-Herald-Signature:
sha256=<hex>); a wrong or missing credential, the admin token, an unknown
applet and an applet without "event webhook" get the same 401 (more in
test_webhook_auth.py); invalid JSON 400 with its position; Alertmanager- and Grafana-shaped
payloads become mail (Postfix submission) whose subject and body use
$_webhook_alertname, $_webhook_severity, $_webhook_summary and
$_webhook_title; a repeated Idempotency-Key starts one run only.

Syslog: herald started with HERALD_SYSLOG_LISTEN on a free loopback port;
an applet "event syslog pattern ... occurs 2 period 10" fires on the second
matching message only, for RFC 3164 and RFC 5424 over UDP and for TCP with
newline and octet-counting framing; $_syslog_msg reaches the output;
garbage does not take herald down.

Timers: a watchdog of 1 s runs at least twice in a few seconds (trigger
"timer"); bad cron entries are refused with 400 and a message.

Bounds (issue 11): a syslog event's ratelimit drops the matches inside its
window without a run record and counts them in the applet's "dropped";
with --trigger-queue 1 and one worker, a watchdog whose action outlasts
its period queues one run, and the fires after it are dropped and counted
(tests/soak/test_syslog_flood.py floods the syslog listener).
"""

import email
import email.policy
import hashlib
import hmac
import json
import socket
import time
import unittest
import uuid

from itest import (USER, ClassHeraldTest, addresses, api, body_of, call,
                   header_text, hook, list_runs, mailenv_module, matching,
                   new_creds, new_token, put_applet, put_env,
                   secret_forms, sign,
                   server_string, start_herald, wait_count, wait_run,
                   wait_runs, zsecrets_test)
from mailenv import free_port

ENV = None
setUpModule, tearDownModule = mailenv_module(globals(), extra_chains=(),
                                              aiosmtpd=False)


class WebhookTest(unittest.TestCase):
    maxDiff = None

    @classmethod
    def setUpClass(cls):
        cls.h = start_herald()
        put_env(cls.h, '_email_server',
                server_string(ENV, ENV.ports['submission']))
        put_applet(cls.h, 'event manager applet HookEcho\n'
                   ' event webhook\n'
                   ' action 010 puts "body=$_webhook_body"\n')
        put_applet(cls.h, 'event manager applet AlertMail\n'
                   ' event webhook\n'
                   ' action 010 mail server "$_email_server" to '
                   '"noc@example.test" from "%s" subject '
                   '"[$_webhook_severity] $_webhook_alertname" body '
                   '"$_webhook_summary" port %d secure tls\n'
                   % (USER, ENV.ports['submission']))
        put_applet(cls.h, 'event manager applet GrafanaMail\n'
                   ' event webhook\n'
                   ' action 010 mail server "$_email_server" to '
                   '"oncall@example.test" from "%s" subject '
                   '"$_webhook_title" body "$_webhook_severity: '
                   '$_webhook_summary" port %d secure tls\n'
                   % (USER, ENV.ports['submission']))
        put_applet(cls.h, 'event manager applet ManualOnly\n event none\n'
                   ' action 010 puts "x"\n')
        cls.echo_token, cls.echo_secret = new_creds(cls.h, 'HookEcho')

    @classmethod
    def tearDownClass(cls):
        h, cls.h = cls.h, None
        try:
            log = h.log() + h.stdout_text()
            for t in (cls.echo_token, cls.echo_secret):
                if t in log:
                    raise AssertionError('a webhook token is in the log')
            for s in secret_forms(ENV):
                if s in log:
                    raise AssertionError('a password is in the log')
        finally:
            h.stop()
            h.cleanup()

    def test_bearer_token_starts_a_run_with_the_body(self):
        t = uuid.uuid4().hex
        st, _, res = hook(self.h, 'HookEcho', {'msg': t},
                          token=self.echo_token)
        self.assertEqual(st, 202, res)
        run = wait_run(self.h, res['run_id'])
        self.assertEqual(run['status'], 'success', run)
        self.assertEqual(run['trigger'], 'webhook', run)
        self.assertIn(t, run.get('output') or '')
        self.assertNotIn(self.echo_token, json.dumps(run))

    def test_hmac_signature_valid_accepted_wrong_or_missing_401(self):
        body = json.dumps({'signed': uuid.uuid4().hex}).encode()
        st, _, res = hook(self.h, 'HookEcho', body, key=self.echo_secret)
        self.assertEqual(st, 202, res)
        self.assertEqual(wait_run(self.h, res['run_id'])['status'],
                         'success')
        # Signed with another key.
        st, hdrs, res = hook(self.h, 'HookEcho', body, key='x' * 32)
        self.assertEqual(st, 401, res)
        self.assertEqual(res['error']['code'], 'unauthorized', res)
        # The bearer token is not the signing key.
        st, hdrs, res = hook(self.h, 'HookEcho', body, key=self.echo_token)
        self.assertEqual(st, 401, res)
        # Right key, other body.
        ts, sig = sign(self.echo_secret, body)
        st, _, res = hook(self.h, 'HookEcho', body + b' ', signature=sig,
                          timestamp=ts)
        self.assertEqual(st, 401, res)
        # The old signature of the body alone, without a timestamp.
        sig = 'sha256=' + hmac.new(self.echo_secret.encode(), body,
                                   hashlib.sha256).hexdigest()
        st, _, res = hook(self.h, 'HookEcho', body, signature=sig)
        self.assertEqual(st, 401, res)
        self.assertIn('X-Herald-Timestamp', res['error']['message'])
        # Not hex / no prefix.
        st, _, res = hook(self.h, 'HookEcho', body, signature='sha256=zz')
        self.assertEqual(st, 401, res)
        # No credentials at all.
        st, hdrs, res = hook(self.h, 'HookEcho', body)
        self.assertEqual(st, 401, res)
        self.assertIn('www-authenticate', hdrs)
        self.assertTrue(res['error']['message'])
        # A wrong bearer token.
        st, _, res = hook(self.h, 'HookEcho', body, token='0' * 40)
        self.assertEqual(st, 401, res)

    def test_admin_token_does_not_open_a_hook(self):
        st, _, res = hook(self.h, 'HookEcho', {'a': 1}, token=self.h.token)
        self.assertEqual(st, 401, res)

    def test_new_token_replaces_the_old_one(self):
        put_applet(self.h, 'event manager applet Rotate\n event webhook\n'
                   ' action 010 puts "r"\n')
        old = new_token(self.h, 'Rotate')
        new = new_token(self.h, 'Rotate')
        self.assertNotEqual(old, new)
        st, _, res = hook(self.h, 'Rotate', {'a': 1}, token=old)
        self.assertEqual(st, 401, res)
        st, _, res = hook(self.h, 'Rotate', {'a': 1}, token=new)
        self.assertEqual(st, 202, res)
        # The token is shown once: not in the applet.
        app = api(self.h, 'GET', '/api/v1/applets/Rotate')
        self.assertNotIn(new, json.dumps(app))

    def test_unknown_applet_is_401_like_a_wrong_token(self):
        st, _, res = hook(self.h, 'NoSuchApplet', {'a': 1},
                          token=self.echo_token)
        self.assertEqual(st, 401, res)
        self.assertEqual(res['error']['code'], 'unauthorized', res)
        # An applet without "event webhook" is not reachable either.
        st, _, res2 = hook(self.h, 'ManualOnly', {'a': 1},
                           token=self.echo_token)
        self.assertEqual(st, 401, res2)
        self.assertEqual(res2, res)

    def test_invalid_json_is_400_with_position(self):
        body = '{\n  "alertname": "x",\n  "severity": ,\n}\n'
        st, _, res = hook(self.h, 'HookEcho', body, token=self.echo_token)
        self.assertEqual(st, 400, res)
        err = res['error']
        self.assertEqual(err['code'], 'invalid_json', res)
        self.assertEqual(err.get('line'), 3, res)
        self.assertIsInstance(err.get('column'), int, res)
        # Text that is not JSON, declared as JSON.
        st, _, res = hook(self.h, 'HookEcho', 'link down',
                          token=self.echo_token)
        self.assertEqual(st, 400, res)
        # ... but accepted as text/plain, as $_webhook_body.
        st, _, res = hook(self.h, 'HookEcho', 'link down plain',
                          token=self.echo_token, content_type='text/plain')
        self.assertEqual(st, 202, res)
        self.assertIn('link down plain',
                      wait_run(self.h, res['run_id']).get('output') or '')

    def test_idempotency_key_repeated_gives_one_run(self):
        put_applet(self.h, 'event manager applet Idem\n event webhook\n'
                   ' action 010 puts "once"\n')
        tok = new_token(self.h, 'Idem')
        key = uuid.uuid4().hex
        st1, _, r1 = hook(self.h, 'Idem', {'a': 1}, token=tok, idem=key)
        st2, _, r2 = hook(self.h, 'Idem', {'a': 1}, token=tok, idem=key)
        self.assertEqual(st1, 202, r1)
        self.assertEqual(st2, 202, r2)
        self.assertEqual(r1['run_id'], r2['run_id'])
        self.assertFalse(r1.get('duplicate'), r1)
        self.assertTrue(r2.get('duplicate'), r2)
        wait_run(self.h, r1['run_id'])
        time.sleep(0.5)
        self.assertEqual(len(list_runs(self.h, 'Idem')), 1)
        # Another key is another run.
        st3, _, r3 = hook(self.h, 'Idem', {'a': 1}, token=tok,
                          idem=uuid.uuid4().hex)
        self.assertEqual(st3, 202, r3)
        self.assertNotEqual(r3['run_id'], r1['run_id'])
        wait_runs(self.h, 'Idem', 2)

    def test_alertmanager_payload_becomes_mail(self):
        tok = new_token(self.h, 'AlertMail')
        t = uuid.uuid4().hex[:10]
        summary = 'Interface Gi0/1 on core-sw1 is down %s' % t
        payload = {
            'version': '4', 'groupKey': '{}:{alertname="LinkDown"}',
            'truncatedAlerts': 0, 'status': 'firing', 'receiver': 'herald',
            'groupLabels': {'alertname': 'LinkDown'},
            'commonLabels': {'alertname': 'LinkDown', 'severity': 'critical',
                             'instance': 'core-sw1'},
            'commonAnnotations': {'summary': summary},
            'externalURL': 'http://alertmanager.example.test:9093',
            'alerts': [{
                'status': 'firing',
                'labels': {'alertname': 'LinkDown', 'severity': 'critical',
                           'instance': 'core-sw1'},
                'annotations': {'summary': summary},
                'startsAt': '2026-11-27T17:00:00Z',
                'endsAt': '0001-01-01T00:00:00Z',
                'generatorURL': 'http://prometheus.example.test/graph',
                'fingerprint': 'c0ffee'}],
        }
        st, _, res = hook(self.h, 'AlertMail', payload, token=tok)
        self.assertEqual(st, 202, res)
        run = wait_run(self.h, res['run_id'])
        self.assertEqual(run['status'], 'success', json.dumps(run)[:3000])
        raw = wait_count(ENV, 'noc@example.test', t, 1, h=self.h)[-1]
        msg = email.message_from_bytes(raw, policy=email.policy.compat32)
        self.assertEqual(header_text(msg, 'Subject'), '[critical] LinkDown')
        self.assertEqual(addresses(msg, 'From'), [USER])
        self.assertEqual(body_of(raw).rstrip('\n'), summary)
        time.sleep(0.5)
        self.assertEqual(len(matching(ENV, 'noc@example.test', t)), 1)

    def test_grafana_payload_becomes_mail(self):
        tok = new_token(self.h, 'GrafanaMail')
        t = uuid.uuid4().hex[:10]
        title = '[FIRING:1] HighCPU core-sw1 %s' % t
        payload = {
            'receiver': 'herald', 'status': 'firing', 'orgId': 1,
            'alerts': [{
                'status': 'firing',
                'labels': {'alertname': 'HighCPU', 'severity': 'warning',
                           'grafana_folder': 'Network'},
                'annotations': {'summary': 'CPU above 90%% %s' % t},
                'startsAt': '2026-11-27T17:00:00Z',
                'endsAt': '0001-01-01T00:00:00Z',
                'generatorURL': 'http://grafana.example.test/alerting',
                'fingerprint': 'beef', 'silenceURL': '', 'dashboardURL': '',
                'panelURL': '', 'values': {'A': 93.5}}],
            'groupLabels': {'alertname': 'HighCPU'},
            'commonLabels': {'alertname': 'HighCPU', 'severity': 'warning',
                             'grafana_folder': 'Network'},
            'commonAnnotations': {'summary': 'CPU above 90%% %s' % t},
            'externalURL': 'http://grafana.example.test/',
            'version': '1', 'groupKey': '{}:{alertname="HighCPU"}',
            'truncatedAlerts': 0, 'title': title, 'state': 'alerting',
            'message': '**Firing**\n\nValue: A=93.5',
        }
        st, _, res = hook(self.h, 'GrafanaMail', payload, token=tok)
        self.assertEqual(st, 202, res)
        run = wait_run(self.h, res['run_id'])
        self.assertEqual(run['status'], 'success', json.dumps(run)[:3000])
        raw = wait_count(ENV, 'oncall@example.test', t, 1, h=self.h)[-1]
        msg = email.message_from_bytes(raw, policy=email.policy.compat32)
        self.assertEqual(header_text(msg, 'Subject'), title)
        self.assertEqual(body_of(raw).rstrip('\n'),
                         'warning: CPU above 90%% %s' % t)

    def test_runs_list_shows_webhook_trigger_without_secrets(self):
        st, _, res = hook(self.h, 'HookEcho', {'k': 'v'},
                          token=self.echo_token)
        self.assertEqual(st, 202, res)
        wait_run(self.h, res['run_id'])
        items = api(self.h, 'GET', '/api/v1/runs?applet=HookEcho')['items']
        self.assertTrue(items)
        self.assertEqual({r['trigger'] for r in items}, {'webhook'})
        self.assertNotIn(self.echo_token, json.dumps(items))


# ---- syslog ---------------------------------------------------------------

def udp_port_free_too(port):
    try:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
            s.bind(('127.0.0.1', port))
        return True
    except OSError:
        return False


class SyslogTest(unittest.TestCase):
    APPLET = 'LinkFlap'

    @classmethod
    def setUpClass(cls):
        for _ in range(20):
            port = free_port(['127.0.0.1'])
            if udp_port_free_too(port):
                break
        cls.port = port
        cls.h = start_herald({'HERALD_SYSLOG_LISTEN': '127.0.0.1:%d' % port},
                             trust=False)
        put_applet(cls.h, 'event manager applet %s\n'
                   ' event syslog pattern "LINK-3-UPDOWN" occurs 2 period 10\n'
                   ' action 010 puts "got: $_syslog_msg"\n' % cls.APPLET)
        time.sleep(0.3)     # re-registration after the applet was saved

    @classmethod
    def tearDownClass(cls):
        h, cls.h = cls.h, None
        h.stop()
        h.cleanup()

    def udp(self, line):
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
            s.sendto(line.encode() if isinstance(line, str) else line,
                     ('127.0.0.1', self.port))

    def tcp(self, data):
        with socket.create_connection(('127.0.0.1', self.port), 5) as s:
            s.sendall(data)
            time.sleep(0.2)

    def runs(self):
        return list_runs(self.h, self.APPLET)

    def expect_fire(self, before, send_first, send_second, token):
        """Nothing after the first matching message; one run after the
        second, whose output holds the message text."""
        send_first()
        time.sleep(1.0)
        self.assertEqual(len(self.runs()), before,
                         'fired after one message of occurs 2')
        send_second()
        runs = wait_runs(self.h, self.APPLET, before + 1, timeout=10)
        time.sleep(0.5)
        runs = self.runs()
        self.assertEqual(len(runs), before + 1, runs)
        run = wait_run(self.h, runs[0]['id'])
        self.assertEqual(run['trigger'], 'syslog', run)
        self.assertEqual(run['status'], 'success', run)
        self.assertIn(token, run.get('output') or '', run)
        self.assertIn('LINK-3-UPDOWN', run.get('output') or '')
        return before + 1

    def test_1_rfc3164_udp_fires_on_second_match(self):
        n = len(self.runs())
        t = uuid.uuid4().hex[:8]

        def m(i):
            return ('<187>Nov 27 17:00:0%d core-sw1 %%LINK-3-UPDOWN: '
                    'Interface Gi0/%d, changed state to down %s' % (i, i, t))
        self.udp(m(1))
        # A non-matching message in between does not count.
        self.udp('<189>Nov 27 17:00:02 core-sw1 %SYS-5-CONFIG_I: '
                 'Configured from console')
        self.expect_fire(n, lambda: None, lambda: self.udp(m(2)), t)

    def test_2_rfc5424_udp_fires_on_second_match(self):
        n = len(self.runs())
        t = uuid.uuid4().hex[:8]

        def m(i):
            return ('<187>1 2026-11-27T17:00:0%d.000Z core-sw1 ios 42 - - '
                    '%%LINK-3-UPDOWN: Interface Gi0/%d, changed state to '
                    'down %s' % (i, i, t))
        self.expect_fire(n, lambda: self.udp(m(1)), lambda: self.udp(m(2)),
                         t)

    def test_3_tcp_newline_framing(self):
        n = len(self.runs())
        t = uuid.uuid4().hex[:8]
        line = ('<187>Nov 27 17:00:01 core-sw1 %%LINK-3-UPDOWN: Interface '
                'Gi0/3, changed state to down %s\n' % t)
        self.expect_fire(n, lambda: self.tcp(line.encode()),
                         lambda: self.tcp(line.replace('\n', '\r\n')
                                          .encode()), t)
        # Both messages in one connection, one write.
        n = len(self.runs())
        self.tcp((line + line).encode())
        wait_runs(self.h, self.APPLET, n + 1, timeout=10)

    def test_4_tcp_octet_counting_framing(self):
        n = len(self.runs())
        t = uuid.uuid4().hex[:8]
        msg = ('<187>1 2026-11-27T17:00:01Z core-sw1 ios - - - '
               '%%LINK-3-UPDOWN: Interface Gi0/4 down %s' % t).encode()
        frame = str(len(msg)).encode() + b' ' + msg
        self.expect_fire(n, lambda: self.tcp(frame),
                         lambda: self.tcp(frame), t)
        # Two frames in one write, split across two writes.
        n = len(self.runs())
        both = frame + frame
        with socket.create_connection(('127.0.0.1', self.port), 5) as s:
            s.sendall(both[:7])
            time.sleep(0.2)
            s.sendall(both[7:])
            time.sleep(0.2)
        wait_runs(self.h, self.APPLET, n + 1, timeout=10)

    def test_5_garbage_does_not_crash(self):
        for g in (b'', b'\x00\xff\xfe garbage', b'<999>bad pri', b'<',
                  b'<13', b'<13>' + b'A' * 70000, bytes(range(256)),
                  b'no pri at all, no pattern either'):
            self.udp(g[:60000])
        for g in (b'99999999999 x\n', b'\x00\x01\x02\n', b'5 ab',
                  b'<13>' + b'B' * 200000 + b'\n', b'abc\r\n\r\n\r\n'):
            try:
                self.tcp(g)
            except OSError:
                pass        # herald may close a connection it cannot frame
        time.sleep(0.5)
        self.assertTrue(self.h.running(), 'herald died:\n%s'
                        % self.h.log()[-3000:])
        st, _, res = call(self.h, 'GET', '/healthz', token=None)
        self.assertEqual(st, 200, res)
        # And it still works.
        n = len(self.runs())
        t = uuid.uuid4().hex[:8]
        m = ('<187>Nov 27 17:00:09 core-sw1 %%LINK-3-UPDOWN: Interface '
             'Gi0/9 down %s' % t)
        self.expect_fire(n, lambda: self.udp(m), lambda: self.udp(m), t)


    def dropped_metric(self, reason):
        st, _, text = self.h.request('GET', '/metrics')
        self.assertEqual(st, 200, text)
        line = 'herald_trigger_dropped_total{reason="%s"} ' % reason
        got = [ln for ln in text.splitlines() if ln.startswith(line)]
        self.assertEqual(len(got), 1, text)
        return float(got[0][len(line):])

    def test_6_ratelimit_drops_without_run_records(self):
        """50 matches inside a 60 s ratelimit: one run, 49 counted as
        dropped (ratelimited), no run recorded "ratelimited"."""
        put_applet(self.h, 'event manager applet Limited\n'
                   ' event syslog pattern "RL-TEST" ratelimit 60\n'
                   ' action 010 puts "$_syslog_msg"\n')
        time.sleep(0.3)
        before = api(self.h, 'GET', '/api/v1/applets/Limited')['dropped']
        self.assertEqual(before['ratelimited'], 0, before)
        m0 = self.dropped_metric('ratelimited')
        self.assertIsNone(before['last'], before)
        line = '<187>Nov 27 17:00:01 sw1 %RL-TEST: flap\n'
        self.tcp((line * 50).encode())
        deadline = time.monotonic() + 10
        while True:
            d = api(self.h, 'GET', '/api/v1/applets/Limited')['dropped']
            if d['syslog'] >= 49 or time.monotonic() > deadline:
                break
            time.sleep(0.1)
        self.assertEqual(d['syslog'], 49, d)
        self.assertEqual(d['ratelimited'], 49, d)
        self.assertEqual(d['queue_full'], 0, d)
        self.assertEqual(d['timer'], 0, d)
        self.assertIsNotNone(d['last'], d)
        # /metrics counts each drop once
        self.assertEqual(self.dropped_metric('ratelimited') - m0, 49)
        runs = wait_runs(self.h, 'Limited', 1)
        time.sleep(0.3)
        runs = list_runs(self.h, 'Limited')
        self.assertEqual([r['status'] for r in runs], ['success'], runs)
        log = [ln for ln in self.h.log().splitlines()
               if 'event=triggers-dropped applet=Limited' in ln]
        self.assertTrue(1 <= len(log) <= 2, log)
        self.assertIn('ratelimit', log[0])


# ---- timers ---------------------------------------------------------------

class TimerTest(ClassHeraldTest):

    def test_watchdog_runs_repeatedly(self):
        put_applet(self.h, 'event manager applet Tick\n'
                   ' event timer watchdog time 1\n'
                   ' action 010 puts "tick $_timer_type"\n')
        t0 = time.monotonic()
        runs = wait_runs(self.h, 'Tick', 2, timeout=6)
        self.assertLess(time.monotonic() - t0, 6)
        for r in runs:
            self.assertEqual(r['trigger'], 'timer', r)
        run = wait_run(self.h, runs[-1]['id'])
        self.assertEqual(run['status'], 'success', run)
        self.assertIn('tick watchdog', run.get('output') or '', run)
        # Deleting the applet stops it.
        api(self.h, 'DELETE', '/api/v1/applets/Tick', expect=204)
        time.sleep(1.5)
        n = len(list_runs(self.h, 'Tick'))
        time.sleep(2.5)
        self.assertEqual(len(list_runs(self.h, 'Tick')), n,
                         'a deleted watchdog applet still runs')

    def test_countdown_runs_once(self):
        put_applet(self.h, 'event manager applet Once\n'
                   ' event timer countdown time 1\n'
                   ' action 010 puts "boom"\n')
        wait_runs(self.h, 'Once', 1, timeout=5)
        time.sleep(2.5)
        runs = list_runs(self.h, 'Once')
        self.assertEqual(len(runs), 1, runs)
        self.assertEqual(runs[0]['trigger'], 'timer')

    def test_bad_cron_entries_are_400_with_message(self):
        for entry, word in (('61 * * * *', '61'), ('* * *', '5'),
                            ('* 25 * * *', '25'), ('* * * foo *', 'foo'),
                            ('*/0 * * * *', '0')):
            text = ('event manager applet BadCron\n'
                    ' event timer cron cron-entry "%s"\n'
                    ' action 010 puts "x"\n' % entry)
            st, _, res = call(self.h, 'PUT', '/api/v1/applets/BadCron', text)
            self.assertEqual(st, 400, '%s: %s' % (entry, res))
            msg = res['error']['message']
            self.assertIn(word, msg, '%s: %s' % (entry, res))
        # Nothing was stored.
        st, _, res = call(self.h, 'GET', '/api/v1/applets/BadCron')
        self.assertEqual(st, 404, res)
        # A good one is accepted.
        text = ('event manager applet GoodCron\n'
                ' event timer cron cron-entry "*/5 8-18 * * mon-fri"\n'
                ' action 010 puts "x"\n')
        st, _, res = call(self.h, 'PUT', '/api/v1/applets/GoodCron', text)
        self.assertIn(st, (200, 201), res)


class TimerQueueBoundTest(unittest.TestCase):
    """--trigger-queue 1, one worker: a watchdog firing every second whose
    action takes 10 s runs once, queues one run and drops the rest."""

    def test_watchdog_fires_beyond_the_bound_are_dropped_and_counted(self):
        h = start_herald({'HERALD_WORKERS': '1',
                          'HERALD_TRIGGER_QUEUE': '1'}, trust=False)
        try:
            put_applet(h, 'event manager applet Slow\n'
                       ' event timer watchdog time 1\n'
                       ' action 010 wait 10\n')
            time.sleep(5.5)
            d = api(h, 'GET', '/api/v1/applets/Slow')['dropped']
            api(h, 'DELETE', '/api/v1/applets/Slow', expect=204)
            runs = list_runs(h, 'Slow')
            # fires at 1..5 s: one runs, one waits, the others are dropped
            self.assertLessEqual(len(runs), 2, runs)
            self.assertGreaterEqual(d['timer'], 2, d)
            self.assertEqual(d['queue_full'], d['timer'], d)
            self.assertEqual(d['syslog'], 0, d)
            log = [ln for ln in h.log().splitlines()
                   if 'event=triggers-dropped applet=Slow' in ln]
            self.assertTrue(1 <= len(log) <= 2, log)
            self.assertIn('bound=1', log[0])
        finally:
            h.kill()
            h.cleanup()


ZSecretsTest = zsecrets_test(globals())


if __name__ == '__main__':
    unittest.main()
