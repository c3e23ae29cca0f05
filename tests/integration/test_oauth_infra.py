# SPDX-License-Identifier: MIT
"""
tests/integration/test_oauth_infra.py: the OAuth test infrastructure works
without herald (issue 13).

Before herald's OAuth tests can mean anything, the servers they run against
must be shown to work on their own: the token server of tests/lib/oauthsrv.py
answers both grants over TLS the way RFC 6749 says (and refuses the way it
says), and the private Postfix + Dovecot of tests/lib/mailenv.py, started
with MailEnv(oauth=...), offers XOAUTH2 and OAUTHBEARER after STARTTLS only,
accepts a live token (Python's smtplib logs in, the mail lands in the
Maildir), and refuses with 535 a token that is revoked, expired, unknown or
someone else's, because Dovecot introspects each one at the token server.
"""

import base64
import json
import os
import smtplib
import socket
import ssl
import time
import unittest
import urllib.error
import urllib.parse
import urllib.request
import uuid

from oauthsrv import OAuthServer, start_with_mailenv, stop_with_mailenv

USER = 'alerts@example.test'
OTHER = 'relay@corp.example.test'
SRV = None
ENV = None


def setUpModule():
    global SRV, ENV
    SRV, ENV = start_with_mailenv()


def tearDownModule():
    global SRV, ENV
    port = SRV.port if SRV is not None else None
    stop_with_mailenv(SRV, ENV)
    SRV = ENV = None
    if port is not None:
        # nothing is left listening
        with socket.socket() as sock:
            sock.settimeout(2)
            if sock.connect_ex(('127.0.0.1', port)) == 0:
                raise AssertionError('the token server still listens')


def logs():
    """The servers' logs, for failure messages."""
    return '%s\n==== dovecot (%s) ====\n%s\n==== postfix ====\n%s' % (
        SRV.summary(), ENV.dir, ENV.log('dovecot')[-3000:],
        ENV.log()[-3000:])


def post(url, form, ca=None, basic=None, timeout=10):
    """(status, JSON) of a form POST over verified TLS."""
    ctx = ssl.create_default_context(cafile=ca or SRV.ca_file)
    hdr = {'Content-Type': 'application/x-www-form-urlencoded'}
    if basic is not None:
        hdr['Authorization'] = 'Basic ' + base64.b64encode(
            ('%s:%s' % basic).encode()).decode()
    req = urllib.request.Request(url, urllib.parse.urlencode(form).encode(),
                                 hdr, method='POST')
    try:
        with urllib.request.urlopen(req, context=ctx, timeout=timeout) as r:
            return r.status, json.load(r), dict(r.headers)
    except urllib.error.HTTPError as e:
        return e.code, json.load(e), dict(e.headers)


def client_credentials(client, basic=False):
    form = {'grant_type': 'client_credentials',
            'scope': 'https://outlook.office365.com/.default'}
    if basic:
        st, body, _ = post(SRV.token_url, form,
                           basic=(client['client_id'],
                                  client['client_secret']))
    else:
        form.update(client_id=client['client_id'],
                    client_secret=client['client_secret'])
        st, body, _ = post(SRV.token_url, form)
    assert st == 200, (st, body)
    return body['access_token']


def xoauth2(user, token):
    return 'user=%s\x01auth=Bearer %s\x01\x01' % (user, token)


def oauthbearer(user, token, port):
    return 'n,a=%s,\x01host=localhost\x01port=%d\x01auth=Bearer %s\x01\x01' \
        % (user, port, token)


class Submission:
    """smtplib on the submission port: EHLO, STARTTLS verified against
    root A, EHLO."""

    def __init__(self):
        self.port = ENV.ports['submission']
        self.s = smtplib.SMTP('127.0.0.1', self.port, local_hostname='test',
                              timeout=30)
        self.s.ehlo()
        self.before_tls = dict(self.s.esmtp_features)
        ctx = ssl.create_default_context(
            cafile=os.path.join(ENV.pki, 'root-a.pem'))
        ctx.check_hostname = False   # 127.0.0.1 is in the SANs anyway
        self.s.starttls(context=ctx)
        self.s.ehlo()
        self.mechs = self.s.esmtp_features.get('auth', '').upper().split()

    def auth(self, mech, user, token):
        """(code, reply) of AUTH mech with token: the initial response,
        then (on a 334 error challenge) the client's reply that ends the
        exchange: empty for XOAUTH2, ^A for OAUTHBEARER (RFC 7628 3.2.3)."""
        if mech == 'XOAUTH2':
            first = xoauth2(user, token)
            last = ''
        else:
            first = oauthbearer(user, token, self.port)
            last = '\x01'
        self.challenges = []

        def obj(challenge=None):
            if challenge is None:
                return first
            self.challenges.append(challenge)
            return last
        try:
            return self.s.auth(mech, obj)
        except smtplib.SMTPAuthenticationError as e:
            return e.smtp_code, e.smtp_error

    def send(self, sender, to, subject):
        msg = ('From: %s\r\nTo: %s\r\nSubject: %s\r\n\r\nsent by the OAuth '
               'infrastructure test\r\n' % (sender, to, subject))
        return self.s.sendmail(sender, [to], msg)

    def close(self):
        try:
            self.s.quit()
        except (smtplib.SMTPException, OSError):
            self.s.close()


class TokenServerTest(unittest.TestCase):
    """The token endpoint by itself, over verified TLS."""

    def test_client_credentials_both_client_auth_methods(self):
        c = SRV.add_client(user=USER)
        n = SRV.issued_count(c['client_id'])
        t1 = client_credentials(c)
        t2 = client_credentials(c, basic=True)
        self.assertNotEqual(t1, t2)
        self.assertEqual(SRV.issued_count(c['client_id']), n + 2)
        st, body, hdr = post(SRV.introspect_url, {'token': t1})
        self.assertEqual((st, body['active'], body['username']),
                         (200, True, USER), body)
        self.assertEqual(hdr.get('Cache-Control'), 'no-store')

    def test_errors_are_rfc6749(self):
        c = SRV.add_client(user=USER)
        form = {'grant_type': 'client_credentials',
                'client_id': c['client_id'], 'client_secret': 'wrong'}
        st, body, _ = post(SRV.token_url, form)
        self.assertEqual((st, body['error']), (401, 'invalid_client'), body)
        self.assertIn('error_description', body)
        st, body, hdr = post(SRV.token_url, {'grant_type':
                                             'client_credentials'},
                             basic=(c['client_id'], 'wrong'))
        self.assertEqual((st, body['error']), (401, 'invalid_client'), body)
        self.assertIn('Basic', hdr.get('WWW-Authenticate', ''))
        st, body, _ = post(SRV.token_url, {'grant_type': 'password',
                                           'client_id': c['client_id']})
        self.assertEqual((st, body['error']), (400,
                                               'unsupported_grant_type'))
        st, body, _ = post(SRV.token_url, {
            'grant_type': 'refresh_token', 'client_id': c['client_id'],
            'client_secret': c['client_secret'], 'refresh_token': 'rt-no'})
        self.assertEqual((st, body['error']), (400, 'invalid_grant'), body)

    def test_refresh_grant_rotation_and_revocation(self):
        c = SRV.add_client(user=OTHER)
        rt = SRV.issue_refresh_token(c['client_id'])
        form = {'grant_type': 'refresh_token', 'client_id': c['client_id'],
                'client_secret': c['client_secret'], 'refresh_token': rt}
        st, body, _ = post(SRV.token_url, form)
        self.assertEqual(st, 200, body)
        self.assertNotIn('refresh_token', body)   # no rotation: reusable
        SRV.set_rotate_refresh(True)
        try:
            st, body, _ = post(SRV.token_url, form)
            self.assertEqual(st, 200, body)
            new = body['refresh_token']
            self.assertNotEqual(new, rt)
            self.assertEqual(SRV.valid_refresh_token(c['client_id']), new)
            st, body, _ = post(SRV.token_url, form)   # the rotated-away one
            self.assertEqual((st, body['error']), (400, 'invalid_grant'))
            form['refresh_token'] = new
            st, body, _ = post(SRV.token_url, form)
            self.assertEqual(st, 200, body)
            newer = body['refresh_token']
        finally:
            SRV.set_rotate_refresh(False)
        SRV.revoke_refresh(newer)
        form['refresh_token'] = newer
        st, body, _ = post(SRV.token_url, form)
        self.assertEqual((st, body['error']), (400, 'invalid_grant'), body)
        self.assertIn('revoked', body['error_description'])

    def test_untrusted_chain_is_refused_by_a_verifying_client(self):
        with OAuthServer(chain='chain-untrusted') as bad:
            c = bad.add_client(user=USER)
            form = {'grant_type': 'client_credentials',
                    'client_id': c['client_id'],
                    'client_secret': c['client_secret']}
            with self.assertRaises(urllib.error.URLError) as cm:
                post(bad.token_url, form,
                     ca=os.path.join(SRV.pki, 'root-a.pem'))
            self.assertIsInstance(cm.exception.reason,
                                  ssl.SSLCertVerificationError)
            self.assertEqual(bad.count('token_requests'), 0)
            st, _, _ = post(bad.token_url, form, ca=bad.ca_file)
            self.assertEqual(st, 200)


class SubmissionOAuthTest(unittest.TestCase):
    """smtplib against Postfix submission with Dovecot's oauth2 passdb."""

    def setUp(self):
        self.sub = Submission()

    def tearDown(self):
        self.sub.close()

    def test_mechanisms_only_after_starttls(self):
        self.assertNotIn('auth', self.sub.before_tls)
        self.assertIn('XOAUTH2', self.sub.mechs)
        self.assertIn('OAUTHBEARER', self.sub.mechs)
        self.assertIn('PLAIN', self.sub.mechs)
        print('\nAUTH after STARTTLS: %s' % ' '.join(self.sub.mechs))

    def deliver(self, mech, user, token):
        code, reply = self.sub.auth(mech, user, token)
        self.assertEqual(code, 235, '%s refused: %r\n%s' % (
            mech, reply, logs()))
        tag = uuid.uuid4().hex[:12]
        self.sub.send(user, 'noc@example.test', 'oauth infra %s %s'
                      % (mech, tag))
        raw = ENV.wait_for_message('noc@example.test',
                                   contains=tag.encode())
        self.assertIn(('Subject: oauth infra %s %s' % (mech, tag)).encode(),
                      raw)
        self.assertRegex(ENV.log(), r'sasl_method=%s, sasl_username=%s'
                         % (mech, user.replace('.', r'\.')))
        self.assertNotIn(token.encode(), raw)
        print('\n%s with a live token: 235, delivered to the Maildir' % mech)

    def test_xoauth2_client_credentials_token_delivers(self):
        c = SRV.add_client(user=USER)
        self.deliver('XOAUTH2', USER, client_credentials(c))

    def test_oauthbearer_refresh_grant_token_delivers(self):
        c = SRV.add_client(user=OTHER)
        rt = SRV.issue_refresh_token(c['client_id'])
        st, body, _ = post(SRV.token_url, {
            'grant_type': 'refresh_token', 'client_id': c['client_id'],
            'client_secret': c['client_secret'], 'refresh_token': rt})
        self.assertEqual(st, 200, body)
        self.deliver('OAUTHBEARER', OTHER, body['access_token'])

    def refused(self, mech, user, token, what):
        before = SRV.count('introspections')
        code, reply = self.sub.auth(mech, user, token)
        self.assertEqual(code, 535, '%s with %s: %s %r\n%s' % (
            mech, what, code, reply, logs()))
        self.assertGreater(SRV.count('introspections'), before,
                           'Dovecot did not ask the token server')
        print('\n%s with %s: %d %s%s' % (
            mech, what, code, reply.decode('utf-8', 'replace'),
            ' (error challenge %r)' % self.sub.challenges
            if self.sub.challenges else ''))

    def test_revoked_token_is_refused_with_535(self):
        c = SRV.add_client(user=USER)
        tok = client_credentials(c)
        SRV.revoke(tok)
        self.refused('XOAUTH2', USER, tok, 'a revoked token')

    def test_revoked_token_is_refused_with_535_oauthbearer(self):
        c = SRV.add_client(user=USER)
        tok = client_credentials(c)
        SRV.revoke(tok)
        self.refused('OAUTHBEARER', USER, tok, 'a revoked token')

    def test_expired_unknown_and_foreign_tokens_are_refused(self):
        c = SRV.add_client(user=USER)
        SRV.set_expires_in(3600, token_lifetime=1)
        try:
            tok = client_credentials(c)
        finally:
            SRV.set_expires_in(3600)
        time.sleep(1.2)
        self.refused('XOAUTH2', USER, tok, 'an expired token')
        self.sub.close()
        self.sub = Submission()
        self.refused('XOAUTH2', USER, 'at-made-up-token', 'an unknown token')
        self.sub.close()
        self.sub = Submission()
        # a live token, but of another mailbox than the login
        self.refused('XOAUTH2', OTHER, client_credentials(c),
                     'the token of another user')


if __name__ == '__main__':
    unittest.main()
