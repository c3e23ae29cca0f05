# SPDX-License-Identifier: MIT
"""
tests/integration/test_delivery.py: herald delivers mail to real servers.

A fresh herald per test, trusting the test root A through a trustpoint
made in two steps (POST /api/v1/trustpoints, then PUT .../certificate),
sends through POST /api/v1/mail/test to the loopback servers of
tests/lib/mailenv.py:
Postfix submission (STARTTLS, 587-like), Postfix smtps (implicit TLS,
465-like), Postfix's plain port (secure none) and aiosmtpd (STARTTLS). Each
message is checked where it lands: the headers a reader sees (From, To, Cc,
Subject, RFC 2047 decoding) and the body; aiosmtpd's copy byte for byte
(Postfix adds Received/Return-Path/Delivered-To and stores LF line ends, so
only those parts are compared there). Failures must be classified the way
the user needs: auth_failed with the server's reply quoted, sender_rejected,
starttls_unavailable, recipient_rejected. No password may appear in any
response, trace or the herald log.
"""

import email
import email.policy
import email.utils
import json
import re
import unittest
import uuid

from herald import Herald
from itest import addresses, header_text, mailenv_module, secret_forms
from mailenv import read_pem

ENV = None
RESPONSES = []          # every response text, checked for secrets
TP_NAME = 'test-root-a'
setUpModule, tearDownModule = mailenv_module(globals())


def start_herald():
    """A fresh herald trusting root A through a trustpoint made in two
    steps, as after "crypto pki trustpoint" and "crypto pki
    authenticate"."""
    h = Herald()
    h.start()
    try:
        st, _, body = h.request('POST', '/api/v1/trustpoints', {
            'name': TP_NAME, 'revocation_check': 'none',
            'chain_validation': 'continue', 'enrollment': 'terminal'})
        if st != 201:
            raise AssertionError('POST /api/v1/trustpoints: %d %s'
                                 % (st, body))
        st, _, body = h.request('PUT', '/api/v1/trustpoints/%s/certificate'
                                % TP_NAME, read_pem('root-a.pem'),
                                content_type='application/x-pem-file')
        if st != 200:
            raise AssertionError('PUT certificate: %d %s' % (st, body))
    except BaseException:
        h.kill()
        h.cleanup()
        raise
    return h


def secrets():
    """Every form of a test password that must never be shown."""
    return secret_forms(ENV)


def split_message(raw):
    """(header bytes, body bytes) split at the first empty line, whatever
    the line ends."""
    m = re.search(rb'\r?\n\r?\n', raw)
    if m is None:
        return raw, b''
    return raw[:m.start()], raw[m.end():]


class DeliveryCase(unittest.TestCase):
    """Each test has its own herald (so that one test's TLS session cache
    or failure cannot change another's outcome) and checks at the end that
    no password reached the herald log."""
    maxDiff = None

    def setUp(self):
        self.h = start_herald()

    def tearDown(self):
        h, self.h = self.h, None
        try:
            log = h.log() + h.stdout_text()
            for s in secrets():
                self.assertNotIn(s, log, 'a password is in the herald log')
        finally:
            h.stop()
            h.cleanup()

    def mail_test(self, **fields):
        st, _, body = self.h.request('POST', '/api/v1/mail/test', fields,
                                timeout=120)
        text = json.dumps(body)
        RESPONSES.append(text)
        for s in secrets():
            self.assertNotIn(s, text, 'a password is shown in the response')
        self.assertEqual(st, 200, text)
        self.assertIsInstance(body, dict, text)
        return body

    def assertDelivered(self, body):
        self.assertIs(body.get('delivered'), True,
                      'not delivered: %s\nserver logs:\n%s' % (
                          json.dumps(body, indent=1)[-6000:],
                          ENV.all_logs()[-6000:]))

    def assertFailed(self, body, klass):
        self.assertIs(body.get('delivered'), False, json.dumps(body)[-3000:])
        res = body.get('result') or {}
        self.assertEqual(res.get('klass'), klass, json.dumps(res, indent=1))
        self.assertTrue(res.get('message'), 'result.message is empty')
        return res

    def server(self, user, port, host='localhost'):
        return '%s:%s@%s:%d' % (user, ENV.users[user], host, port)

    def token(self):
        return uuid.uuid4().hex[:12]

    def check_postfix_copy(self, raw, sender, to, cc, subject, body_text):
        """A message as Postfix stored it: LF lines; the headers herald
        wrote are there, decoded as a reader sees them; the body is the
        one sent."""
        self.assertNotIn(b'\r\n', raw)
        msg = email.message_from_bytes(raw, policy=email.policy.compat32)
        self.assertEqual(addresses(msg, 'From'), [sender])
        self.assertEqual(addresses(msg, 'To'), sorted(to))
        self.assertEqual(addresses(msg, 'Cc'), sorted(cc))
        self.assertEqual(header_text(msg, 'Subject'), subject)
        self.assertEqual(msg.get('MIME-Version'), '1.0')
        self.assertRegex(msg.get('Content-Type', ''),
                         r'(?i)^text/plain;\s*charset="?utf-8"?$')
        self.assertIsNotNone(email.utils.parsedate_to_datetime(
            msg.get('Date')), 'Date header is not RFC 5322')
        self.assertRegex(msg.get('Message-ID', ''), r'^<[^<>@\s]+@[^<>\s]+>$')
        # Postfix's own trace headers are there: it was really delivered.
        self.assertIsNotNone(msg.get('Received'))
        _, body = split_message(raw)
        expect = body_text.replace('\r\n', '\n')
        if not expect.endswith('\n'):
            expect += '\n'
        cte = (msg.get('Content-Transfer-Encoding') or '').lower()
        if cte == 'quoted-printable':
            got = msg.get_payload(decode=True)
        else:
            got = body
        self.assertEqual(got.decode('utf-8'), expect)
        return msg


class PostfixDeliveryTest(DeliveryCase):
    def test_starttls_submission_delivers_to_each_recipient(self):
        t = self.token()
        user = 'alerts@example.test'
        to = ['noc@example.test']
        cc = ['ops@example.test', 'oncall@example.test']
        subject = 'STARTTLS delivery %s' % t
        body_text = ('Interface Gi0/1 went down.\nToken %s\n.\n'
                     '.leading dot\n..two dots\nend' % t)
        res = self.mail_test(
            server=self.server(user, ENV.ports['submission']),
            secure='tls', to=to[0], cc='%s, %s' % tuple(cc), **{'from': user},
            subject=subject, body=body_text)
        self.assertDelivered(res)
        for box in to + cc:
            raw = ENV.wait_for_message(box, contains=t.encode())
            self.check_postfix_copy(raw, user, to, cc, subject, body_text)
        # The trace shows the TLS session and the dialogue, AUTH redacted.
        trace = json.dumps(res.get('trace'))
        self.assertIn('STARTTLS', trace)
        self.assertIn('Herald Test Root A', trace)
        self.assertRegex(trace, r'AUTH (PLAIN|LOGIN)')
        # Postfix saw the login and TLS.
        log = ENV.log()
        self.assertIn('sasl_username=%s' % user, log)

    def test_implicit_tls_with_separate_fields_delivers(self):
        t = self.token()
        user = 'alerts@example.test'
        subject = 'implicit TLS %s' % t
        body_text = 'sent over smtps %s\n' % t
        res = self.mail_test(
            host='localhost', port=ENV.ports['smtps'], username=user,
            password=ENV.users[user], secure='implicit',
            to='noc@example.test', **{'from': user}, subject=subject,
            body=body_text)
        self.assertDelivered(res)
        raw = ENV.wait_for_message('noc@example.test', contains=t.encode())
        self.check_postfix_copy(raw, user, ['noc@example.test'], [],
                                subject, body_text)
        self.assertRegex(ENV.log(), r'postfix/smtps/smtpd\[\d+\]: '
                         r'[0-9A-F]+: client=\S+, sasl_method=\w+, '
                         r'sasl_username=alerts@example\.test')

    def test_plain_port_with_secure_none_delivers(self):
        t = self.token()
        sender = 'monitor@elsewhere.test'
        subject = 'plain %s' % t
        body_text = 'no TLS on this hop %s' % t
        to = ['oncall@example.test', 'alerts@example.test']
        res = self.mail_test(
            host='localhost', port=ENV.ports['plain'], secure='none',
            to='%s; %s' % tuple(to), **{'from': sender}, subject=subject,
            body=body_text)
        self.assertDelivered(res)
        for box in to:
            raw = ENV.wait_for_message(box, contains=t.encode())
            self.check_postfix_copy(raw, sender, to, [], subject, body_text)

    def test_consecutive_sessions_to_postfix_all_deliver(self):
        # herald caches TLS sessions per server; resuming them (TLS 1.3
        # tickets) must work again and again against OpenSSL's server, as
        # against Gmail.
        user = 'alerts@example.test'
        tokens = []
        resumed = []
        for i in range(4):
            t = self.token()
            res = self.mail_test(
                server=self.server(user, ENV.ports['submission']),
                secure='tls', to='ops@example.test', **{'from': user},
                subject='session %d %s' % (i, t), body='session %d' % i)
            self.assertDelivered(res)
            tokens.append(t)
            tls = (res.get('trace') or {}).get('tls') or {}
            resumed.append(tls.get('resumed'))
        for t in tokens:
            ENV.wait_for_message('ops@example.test', contains=t.encode())
        self.assertIn(True, resumed[1:], 'no session was resumed')

    def test_user_name_with_at_sign_in_server_string_delivers(self):
        # CSCwe75439: the router splits at the first '@'; herald at the
        # last. The password holds '@' and ':' too.
        t = self.token()
        user = 'relay@corp.example.test'
        server = self.server(user, ENV.ports['submission'])
        self.assertEqual(server.count('@'), 3)
        res = self.mail_test(server=server, secure='tls',
                             to='team@corp.example.test', **{'from': user},
                             subject='relay %s' % t, body='relay %s' % t)
        self.assertDelivered(res)
        raw = ENV.wait_for_message('team@corp.example.test',
                                   contains=t.encode())
        self.check_postfix_copy(raw, user, ['team@corp.example.test'], [],
                                'relay %s' % t, 'relay %s' % t)
        self.assertIn('sasl_username=relay@corp.example.test', ENV.log())

    def test_ipv4_literal_server_delivers_checking_ip_san(self):
        t = self.token()
        user = 'alerts@example.test'
        res = self.mail_test(
            server=self.server(user, ENV.ports['submission'],
                               host='127.0.0.1'),
            secure='tls', to='noc@example.test', **{'from': user},
            subject='v4 %s' % t, body='over 127.0.0.1 %s' % t)
        self.assertDelivered(res)
        ENV.wait_for_message('noc@example.test', contains=t.encode())

    def test_ipv6_literal_server_delivers_checking_ip_san(self):
        if '::1' not in ENV.hosts:
            self.fail('this machine cannot bind ::1; the servers listen on '
                      '127.0.0.1 only')
        t = self.token()
        user = 'alerts@example.test'
        res = self.mail_test(
            server=self.server(user, ENV.ports['submission'], host='[::1]'),
            secure='tls', to='noc@example.test', **{'from': user},
            subject='v6 %s' % t, body='over ::1 %s' % t)
        self.assertDelivered(res)
        raw = ENV.wait_for_message('noc@example.test', contains=t.encode())
        self.check_postfix_copy(raw, user, ['noc@example.test'], [],
                                'v6 %s' % t, 'over ::1 %s' % t)
        self.assertRegex(ENV.log(), r'client=\S*\[::1\], sasl_method')

    def test_utf8_subject_arrives_rfc2047_encoded(self):
        t = self.token()
        user = 'alerts@example.test'
        subject = 'Störung %s: Überlast – 東京 ✓ ' % t + 'ä' * 40
        body_text = 'Grüße aus dem Rechenzentrum %s' % t
        res = self.mail_test(
            server=self.server(user, ENV.ports['submission']), secure='tls',
            to='noc@example.test', **{'from': user}, subject=subject,
            body=body_text)
        self.assertDelivered(res)
        raw = ENV.wait_for_message('noc@example.test', contains=t.encode())
        headers, _ = split_message(raw)
        # The header block itself is pure ASCII with encoded words, no line
        # over 78 characters.
        headers.decode('ascii')
        subj = re.search(rb'^Subject:(.*(?:\n[ \t].*)*)', headers, re.M)
        self.assertIsNotNone(subj, headers)
        self.assertIn(b'=?UTF-8?', subj.group(1).upper())
        for line in subj.group(0).split(b'\n'):
            self.assertLessEqual(len(line), 78, line)
        self.check_postfix_copy(raw, user, ['noc@example.test'], [],
                                subject, body_text)

    def test_wrong_password_is_auth_failed_with_server_reply(self):
        user = 'alerts@example.test'
        res = self.mail_test(
            host='localhost', port=ENV.ports['submission'], username=user,
            password='not-the-password-x7Q', secure='tls',
            to='noc@example.test', **{'from': user}, subject='x', body='x')
        r = self.assertFailed(res, 'auth_failed')
        self.assertEqual(r.get('code'), 535, r)
        # Postfix's reply, quoted.
        self.assertIn('authentication failed', r.get('reply', ''))
        self.assertTrue(r.get('permanent'), r)

    def test_from_not_owned_by_login_is_sender_rejected(self):
        user = 'alerts@example.test'
        t = self.token()
        res = self.mail_test(
            server=self.server(user, ENV.ports['submission']), secure='tls',
            to='noc@example.test', **{'from': 'ops@example.test'},
            subject='mismatch %s' % t, body='x')
        r = self.assertFailed(res, 'sender_rejected')
        self.assertIn('not owned by user', r.get('reply', ''))
        self.assertEqual(r.get('code'), 553, r)
        self.assertEqual([m for m in ENV.messages('noc@example.test')
                          if t.encode() in m], [])

    def test_unknown_recipient_is_recipient_rejected(self):
        user = 'alerts@example.test'
        res = self.mail_test(
            server=self.server(user, ENV.ports['submission']), secure='tls',
            to='nobody@example.test', **{'from': user}, subject='x',
            body='x')
        r = self.assertFailed(res, 'recipient_rejected')
        self.assertIn('nobody@example.test', r.get('recipient', '') +
                      r.get('message', ''))


class AiosmtpdDeliveryTest(DeliveryCase):
    def test_starttls_delivers_exact_bytes(self):
        t = self.token()
        user = 'alerts@example.test'
        subject = 'aiosmtpd %s' % t
        body_text = ('first line %s\n.leading dot\n..two dots\n.\n'
                     'a line with a lone dot above\n\nlast' % t)
        res = self.mail_test(
            server=self.server(user, ENV.ports['aiosmtpd']), secure='tls',
            to='noc@example.test', cc='ops@example.test', **{'from': user},
            subject=subject, body=body_text)
        self.assertDelivered(res)
        raw = ENV.wait_for_message('noc@example.test', server='aiosmtpd',
                                   contains=t.encode())
        # Same bytes for each recipient of the one transaction.
        self.assertEqual(ENV.wait_for_message(
            'ops@example.test', server='aiosmtpd', contains=t.encode()), raw)
        path = [p for p, m in zip(
            ENV.list_messages('noc@example.test', 'aiosmtpd'),
            ENV.messages('noc@example.test', 'aiosmtpd'))
            if t.encode() in m][-1]
        envl = ENV.envelope(path)
        self.assertEqual(envl['mail_from'], user)
        self.assertEqual(sorted(envl['rcpt_tos']),
                         ['noc@example.test', 'ops@example.test'])
        self.assertTrue(envl['tls'])
        self.assertEqual(envl['login'], user)

        # Every line ends in CRLF; no bare CR or LF anywhere.
        self.assertTrue(raw.endswith(b'\r\n'))
        self.assertEqual(raw.replace(b'\r\n', b''), raw.replace(
            b'\r\n', b'').replace(b'\r', b'').replace(b'\n', b''))
        headers, body = raw.split(b'\r\n\r\n', 1)
        # The body, byte for byte (dot-stuffing undone by the server).
        self.assertEqual(body, body_text.replace('\n', '\r\n').encode()
                         + b'\r\n')
        # The headers herald wrote, byte for byte, except the two that
        # change on every message.
        lines = headers.split(b'\r\n')
        date = [ln for ln in lines if ln.startswith(b'Date: ')]
        mid = [ln for ln in lines if ln.startswith(b'Message-ID: ')]
        self.assertEqual(len(date), 1, headers)
        self.assertEqual(len(mid), 1, headers)
        self.assertIsNotNone(email.utils.parsedate_to_datetime(
            date[0][6:].decode()))
        self.assertRegex(mid[0].decode(), r'^Message-ID: <[^<>@\s]+'
                         r'@example\.test>$')
        rest = [ln for ln in lines if ln not in (date[0], mid[0])]
        self.assertEqual(sorted(rest), sorted([
            b'From: alerts@example.test',
            b'To: noc@example.test',
            b'Cc: ops@example.test',
            b'Subject: ' + subject.encode(),
            b'MIME-Version: 1.0',
            b'Content-Type: text/plain; charset=UTF-8',
            b'Content-Transfer-Encoding: 7bit',
        ]))

    def test_starttls_not_offered_is_starttls_unavailable(self):
        user = 'alerts@example.test'
        t = self.token()
        before = ENV.log('aiosmtpd-nostarttls')
        res = self.mail_test(
            server=self.server(user, ENV.ports['aiosmtpd-nostarttls']),
            secure='tls', to='noc@example.test', **{'from': user},
            subject='must not be sent %s' % t, body='x')
        self.assertFailed(res, 'starttls_unavailable')
        after = ENV.log('aiosmtpd-nostarttls')[len(before):]
        # No downgrade: neither AUTH nor MAIL reached the server.
        self.assertIn(">> b'EHLO", after)
        self.assertNotIn(">> b'AUTH", after)
        self.assertNotIn(">> b'MAIL", after)
        self.assertEqual([m for m in ENV.messages('noc@example.test',
                                                  'aiosmtpd-nostarttls')
                          if t.encode() in m], [])

    def test_password_not_sent_in_clear_unless_allowed(self):
        # aiosmtpd-nostarttls offers AUTH PLAIN/LOGIN without TLS.
        user = 'alerts@example.test'
        before = ENV.log('aiosmtpd-nostarttls')
        res = self.mail_test(
            server=self.server(user, ENV.ports['aiosmtpd-nostarttls']),
            secure='none', to='noc@example.test', **{'from': user},
            subject='clear', body='x')
        r = self.assertFailed(res, 'auth_unavailable')
        self.assertIn('unencrypted', r['message'])
        after = ENV.log('aiosmtpd-nostarttls')[len(before):]
        self.assertIn(">> b'EHLO", after)      # it did talk to the server
        self.assertNotIn(">> b'AUTH", after)   # ... but sent no AUTH
        # Told explicitly, herald logs in over the plain connection.
        t = self.token()
        res = self.mail_test(
            server=self.server(user, ENV.ports['aiosmtpd-nostarttls']),
            secure='none', allow_plain_auth=True, to='noc@example.test',
            **{'from': user}, subject='clear %s' % t, body='x')
        self.assertDelivered(res)
        ENV.wait_for_message('noc@example.test',
                             server='aiosmtpd-nostarttls',
                             contains=t.encode())
        path = ENV.list_messages('noc@example.test',
                                 'aiosmtpd-nostarttls')[-1]
        envl = ENV.envelope(path)
        self.assertEqual(envl['login'], user)
        self.assertFalse(envl['tls'])

    def test_utf8_subject_and_body_exact(self):
        t = self.token()
        user = 'alerts@example.test'
        subject = 'Störung %s – 東京' % t
        body_text = 'Grüße %s\n.ß' % t
        res = self.mail_test(
            server=self.server(user, ENV.ports['aiosmtpd']), secure='tls',
            to='noc@example.test', **{'from': user}, subject=subject,
            body=body_text)
        self.assertDelivered(res)
        raw = ENV.wait_for_message('noc@example.test', server='aiosmtpd',
                                   contains=t.encode())
        headers, body = raw.split(b'\r\n\r\n', 1)
        headers.decode('ascii')
        msg = email.message_from_bytes(raw, policy=email.policy.compat32)
        self.assertEqual(header_text(msg, 'Subject'), subject)
        self.assertIn(b'=?UTF-8?B?', headers.upper().replace(b'?b?', b'?B?'))
        self.assertEqual(body, body_text.replace('\n', '\r\n')
                         .encode('utf-8') + b'\r\n')
        self.assertIn(b'Content-Transfer-Encoding: 8bit', headers)


class ZSecretsTest(DeliveryCase):
    """Runs after the others (unittest sorts classes by name): every
    response of every test, and this herald's log after an authenticated
    delivery and a refused login."""

    def test_password_nowhere_in_responses_or_log(self):
        # At least one authenticated delivery and one failure first, so that
        # the log has something to leak.
        user = 'alerts@example.test'
        res = self.mail_test(
            server=self.server(user, ENV.ports['submission']), secure='tls',
            to='noc@example.test', **{'from': user}, subject='secrets',
            body='secrets')
        self.assertDelivered(res)
        self.mail_test(host='localhost', port=ENV.ports['submission'],
                       username=user, password='not-the-password-x7Q',
                       secure='tls', to='noc@example.test',
                       **{'from': user}, subject='x', body='x')
        log = self.h.log() + self.h.stdout_text()
        self.assertTrue(RESPONSES)
        for s in secrets():
            self.assertNotIn(s, log, 'a password is in the herald log')
            for text in RESPONSES:
                self.assertNotIn(s, text)
        # What the trace shows instead.
        self.assertRegex(json.dumps(res.get('trace')),
                         r'AUTH (PLAIN|LOGIN)[^"]*(redacted|\*\*\*)')


if __name__ == '__main__':
    unittest.main()
