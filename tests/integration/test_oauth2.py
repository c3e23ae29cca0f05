# SPDX-License-Identifier: MIT
"""
tests/integration/test_oauth2.py: SMTP with OAuth 2.0 (issue 13), against
real servers on loopback.

The token server is tests/lib/oauthsrv.py (HTTPS with a chain under the
test root A, both grants, opaque short-lived tokens, rotation, RFC 6749
errors, RFC 7662 introspection); the mail server is the private Postfix of
tests/lib/mailenv.py whose Dovecot, with MailEnv(oauth=...), validates every
XOAUTH2 and OAUTHBEARER token by introspection at that token server.
test_oauth_infra.py proves that pair without herald.

herald is driven only through the API the issue specifies:

  PUT /api/v1/credentials/{name}  {"type": "oauth2", "grant":
      "client_credentials"|"refresh_token", "token_url", "client_id",
      "client_secret", "refresh_token"?, "scope"?, "mechanism":
      "xoauth2"|"oauthbearer"}             -> 201 (new) or 200
  GET /api/v1/credentials[/{name}]       never a secret
  DELETE /api/v1/credentials/{name}      -> 204, or 409 naming the applet
  mail action "... credential NAME" with server "user@host"
  POST /api/v1/mail/test {"credential": "NAME", "server": "user@host", ...}

Covered: both mechanisms x both grants deliver (mail test and applet); one
token serves many mails; a token due for refresh is refreshed once for
concurrent senders; a token revoked at the server is fetched again once
(and only once when the new one is refused too); wrong client secret ->
auth_failed quoting invalid_client; revoked refresh token -> auth_failed
quoting invalid_grant; an untrusted token endpoint -> certificate_untrusted
without a request sent to it; no endpoint -> connect; a rotated refresh
token is stored and used after a restart; no secret in any response, the
log, run output and trace, or the delivered mail; config export/import
keeps the secret; DELETE while used -> 409.

Timing: tokens live 3600 s unless a test says otherwise; the expiry test
issues 10 s tokens and relies only on herald caching a token during the
first half of its life and never using it after expires_in (whatever its
exact early-refresh margin), so it sleeps about 10 s.
"""

import json
import re
import threading
import time
import unittest
import uuid

from itest import (RESPONSES, USER, api, call, find_key, put_applet,
                   run_applet, start_herald, wait_count)
from mailenv import free_port, read_pem
from oauthsrv import OAuthServer, start_with_mailenv, stop_with_mailenv

OTHER = 'relay@corp.example.test'   # the refresh-token grant's mailbox
TO = 'noc@example.test'
SCOPE_MS = 'https://outlook.office365.com/.default'
SCOPE_GOOGLE = 'https://mail.google.com/'
MECHS = ('xoauth2', 'oauthbearer')
GRANTS = ('client_credentials', 'refresh_token')

SRV = None          # the token server every test uses
ENV = None          # Postfix + Dovecot validating its tokens
EXTRA_SECRETS = []  # secrets given to herald that the server never knew


def setUpModule():
    global SRV, ENV
    SRV, ENV = start_with_mailenv()


def tearDownModule():
    global SRV, ENV
    stop_with_mailenv(SRV, ENV)
    SRV = ENV = None


def tag():
    return uuid.uuid4().hex[:12]


# ---- the helpers the feature is tested through --------------------------


def credential_body(client, grant='client_credentials', mechanism='xoauth2',
                    refresh_token=None, scope=None, token_url=None,
                    client_secret=None):
    """The JSON of PUT /api/v1/credentials/{name} for a client of an
    OAuthServer (client: the dict add_client() returned)."""
    body = {'type': 'oauth2', 'grant': grant,
            'token_url': token_url or SRV.token_url,
            'client_id': client['client_id'],
            'client_secret': client_secret or client['client_secret'],
            'mechanism': mechanism}
    if grant == 'refresh_token':
        body['refresh_token'] = refresh_token
        body['scope'] = scope or SCOPE_GOOGLE
    else:
        body['scope'] = scope or SCOPE_MS
    return body


def put_credential(h, name, body, expect=(200, 201)):
    """PUT /api/v1/credentials/{name}; returns the response body (checked
    for secrets by the caller through RESPONSES)."""
    return api(h, 'PUT', '/api/v1/credentials/%s' % name, body,
               expect=expect)


def oauth_client(user=USER, grant='client_credentials', **kw):
    """(client, refresh token or None): a new client of SRV, with a
    refresh token from the consent step for the refresh_token grant."""
    c = SRV.add_client(user=user, **kw)
    rt = SRV.issue_refresh_token(c['client_id']) \
        if grant == 'refresh_token' else None
    return c, rt


def mail_test(h, credential, user=USER, subject=None, port=None, **extra):
    """POST /api/v1/mail/test with "credential" and server "user@localhost"
    on the submission port; returns the response body (status 200
    asserted)."""
    body = {'server': '%s@localhost' % user,
            'port': port or ENV.ports['submission'], 'secure': 'tls',
            'credential': credential, 'to': TO, 'from': user,
            'subject': subject or 'oauth mail test %s' % tag(),
            'body': 'sent with an OAuth token'}
    body.update(extra)
    st, _, res = call(h, 'POST', '/api/v1/mail/test', body, timeout=120)
    if st != 200:
        raise AssertionError('POST /api/v1/mail/test with credential %r: '
                             'status %d: %s\nherald log:\n%s'
                             % (credential, st, json.dumps(res)[:2000],
                                h.log()[-3000:]))
    return res


def applet_text(name, credential, user=USER, subject='oauth applet',
                port=None):
    """An applet whose mail action names credential (server user@host, no
    password)."""
    return ('event manager applet %s\n event none\n'
            ' action 010 mail server "%s@localhost" to "%s" from "%s" '
            'subject "%s" body "sent by applet %s" port %d secure tls '
            'credential %s\n' % (name, user, TO, user, subject, name,
                                 port or ENV.ports['submission'],
                                 credential))


def put_oauth_applet(h, name, credential, user=USER, subject='oauth applet',
                     port=None):
    return put_applet(h, applet_text(name, credential, user, subject, port))


def mail_entry(run):
    """The mail action's trace entry of a run (wait "delivery")."""
    mail = [e for e in run.get('trace') or [] if e.get('action') == 'mail']
    if len(mail) != 1:
        raise AssertionError('no single mail entry in the trace: %s'
                             % json.dumps(run)[:3000])
    return mail[0]


def run_delivery(h, name):
    """Runs applet name with wait "delivery"; returns (run, the mail
    entry's delivery object)."""
    _, _, run = run_applet(h, name, wait='delivery', expect=200)
    return run, mail_entry(run).get('delivery') or {}


def auth_lines(mech, user=USER):
    """How many logins with mech (XOAUTH2, OAUTHBEARER) as user Postfix
    has logged so far."""
    return len(re.findall(r'sasl_method=%s, sasl_username=%s\b' % (
        mech.upper(), re.escape(user)), ENV.log()))


def outbox_items(h):
    box = api(h, 'GET', '/api/v1/outbox')
    return box.get('items', box) if isinstance(box, dict) else box


def wait_outbox_error(h, subject, klass, timeout=30.0):
    """Waits until the outbox message with subject has last_error of
    klass; returns it."""
    deadline = time.monotonic() + timeout
    while True:
        items = [m for m in outbox_items(h) if m.get('subject') == subject]
        for m in items:
            if (m.get('last_error') or {}).get('klass') == klass:
                return m
        if time.monotonic() > deadline:
            raise AssertionError('no outbox message %r with last_error %s '
                                 'after %.0fs: %s' % (subject, klass, timeout,
                                                      json.dumps(items)))
        time.sleep(0.2)


def metric(h, name, **labels):
    """Sum of the samples of metric name whose labels include labels."""
    text = api(h, 'GET', '/metrics')
    total = 0.0
    for m in re.finditer(r'^%s\{([^}]*)\} (\S+)$' % re.escape(name), text,
                         re.M):
        got = dict(re.findall(r'(\w+)="([^"]*)"', m.group(1)))
        if all(got.get(k) == v for k, v in labels.items()):
            total += float(m.group(2))
    return total


def all_secrets():
    """Every client secret, refresh token and access token in play."""
    return [s for s in SRV.all_secrets() + EXTRA_SECRETS if s]


class OAuthCase(unittest.TestCase):
    """A fresh herald per test trusting root A (the mail server's and the
    token endpoint's CA); at the end no OAuth secret may be in its log."""
    maxDiff = None

    def setUp(self):
        self.h = start_herald()

    def tearDown(self):
        h, self.h = self.h, None
        try:
            self.assertNoSecrets(h.log() + h.stdout_text(), 'the herald log')
        finally:
            h.stop()
            h.cleanup()

    def assertNoSecrets(self, text, where):
        if isinstance(text, bytes):
            text = text.decode('utf-8', 'replace')
        elif not isinstance(text, str):
            text = json.dumps(text)
        for s in all_secrets():
            self.assertNotIn(s, text, 'an OAuth secret (%s...) is in %s'
                             % (s[:6], where))

    def explain(self, res):
        return '%s\n%s\nherald log:\n%s' % (json.dumps(res, indent=1)[-5000:],
                                            SRV.summary(),
                                            self.h.log()[-3000:])

    def assertDelivered(self, res):
        self.assertIs(res.get('delivered'), True,
                      'not delivered: ' + self.explain(res) +
                      '\ndovecot:\n' + ENV.log('dovecot')[-2000:])
        self.assertNoSecrets(res, 'the mail test response')

    def assertFailed(self, res, klass, *quotes):
        """A mail test that failed with klass, its message quoting each of
        quotes; returns result."""
        self.assertIs(res.get('delivered'), False, self.explain(res))
        r = res.get('result') or {}
        self.assertEqual(r.get('klass'), klass, self.explain(res))
        msg = r.get('message') or ''
        for q in quotes:
            self.assertIn(q, msg, 'the message does not quote %r: %s'
                          % (q, self.explain(res)))
        self.assertTrue(r.get('advice'), 'no advice: ' + self.explain(res))
        self.assertNoSecrets(res, 'the mail test response')
        return r

    def assertRunDelivered(self, name, subject):
        run, d = run_delivery(self.h, name)
        self.assertEqual(run.get('delivery'), 'delivered',
                         'applet %s: %s' % (name, self.explain(run)))
        raw = wait_count(ENV, TO, subject, 1, h=self.h)[-1]
        self.assertNoSecrets(raw, 'the delivered mail')
        self.assertNoSecrets(run, 'the run')
        return run, raw

    def delivered_mail(self, subject):
        raw = wait_count(ENV, TO, subject, 1, h=self.h)[-1]
        self.assertNoSecrets(raw, 'the delivered mail')
        return raw


class DeliveryTest(OAuthCase):
    """Both mechanisms x both grants, through the mail test and an applet;
    both senders share one token."""

    def test_each_mechanism_and_grant_delivers(self):
        for grant in GRANTS:
            for mech in MECHS:
                with self.subTest(grant=grant, mechanism=mech):
                    self.one(grant, mech)

    def one(self, grant, mech):
        user = USER if grant == 'client_credentials' else OTHER
        client, rt = oauth_client(user, grant)
        name = 'cred_%s_%s' % (grant, mech)
        body = credential_body(client, grant, mech, refresh_token=rt)
        created = put_credential(self.h, name, body, expect=201)
        self.assertNoSecrets(created, 'the PUT response')
        # GET one and the list: everything but the secrets
        got = api(self.h, 'GET', '/api/v1/credentials/%s' % name)
        for k in ('type', 'grant', 'token_url', 'client_id', 'mechanism',
                  'scope'):
            self.assertEqual(find_key(got, k), body[k], (k, got))
        listed = api(self.h, 'GET', '/api/v1/credentials')
        self.assertIn(name, json.dumps(listed))
        for doc in (got, listed):
            self.assertNoSecrets(doc, 'GET /api/v1/credentials')
        # PUT again: 200, the same object
        put_credential(self.h, name, body, expect=200)

        before = auth_lines(mech, user)
        subject = 'oauth %s %s mail test %s' % (grant, mech, tag())
        res = mail_test(self.h, name, user, subject)
        self.assertDelivered(res)
        self.delivered_mail(subject)
        trace = json.dumps(res.get('trace'))
        self.assertIn('AUTH %s' % mech.upper(), trace,
                      'the trace does not show AUTH %s' % mech.upper())
        self.assertEqual(auth_lines(mech, user), before + 1,
                         'Postfix logged no %s login as %s:\n%s'
                         % (mech.upper(), user, ENV.log()[-3000:]))

        applet = 'Oauth_%s_%s' % (grant, mech)
        subject = 'oauth %s %s applet %s' % (grant, mech, tag())
        put_oauth_applet(self.h, applet, name, user, subject)
        self.assertRunDelivered(applet, subject)
        self.assertEqual(auth_lines(mech, user), before + 2)
        self.assertEqual(SRV.issued_count(client['client_id']), 1,
                         'the mail test and the applet must share one '
                         'token: ' + SRV.summary())
        self.assertEqual(SRV.issued(client['client_id'])[0]['grant'], grant)


class TokenLifecycleTest(OAuthCase):
    def test_cached_token_serves_many_mails(self):
        client, _ = oauth_client()
        put_credential(self.h, 'cached', credential_body(client))
        n = 4
        subjects = ['cached %d %s' % (i, tag()) for i in range(n)]
        intro = SRV.count('introspect_active')
        for i, s in enumerate(subjects):
            if i % 2:
                self.assertDelivered(mail_test(self.h, 'cached', subject=s))
            else:
                put_oauth_applet(self.h, 'Cached%d' % i, 'cached',
                                 subject=s)
                self.assertRunDelivered('Cached%d' % i, s)
        for s in subjects:
            self.delivered_mail(s)
        self.assertEqual(SRV.issued_count(client['client_id']), 1,
                         '%d mails must use one token: %s'
                         % (n, SRV.summary()))
        # the one token really was presented at each login: every mail
        # test opens a session of its own; the applets' mails share the
        # outbox's, which stays open between them
        logins = SRV.count('introspect_active') - intro
        self.assertGreaterEqual(logins, n // 2 + 1)
        # one fetch, and the cache answered every other login
        self.assertEqual(metric(self.h, 'herald_oauth_tokens_total',
                                outcome='fetched'), 1)
        self.assertEqual(metric(self.h, 'herald_oauth_tokens_total',
                                outcome='cached'), logins - 1)
        print('\n%d mails, %d token(s) issued' % (
            n, SRV.issued_count(client['client_id'])))

    def test_expiry_refreshes_once_for_concurrent_senders(self):
        # Tokens that live LIFE s (at herald and at the introspection
        # alike). herald may use one for a good part of its life (the
        # first half at least), and must not use it once expired: after
        # LIFE s every sender needs a new one, and they must share one
        # fetch. The endpoint answers after 1 s, so the senders overlap.
        life = 10
        client, _ = oauth_client(expires_in=life, delay=1.0)
        cid = client['client_id']
        put_credential(self.h, 'expiring', credential_body(client))
        first = 'expiry first %s' % tag()
        self.assertDelivered(mail_test(self.h, 'expiring', subject=first))
        t0 = SRV.issued(cid)[0]['issued_at']
        self.assertEqual(SRV.issued_count(cid), 1, SRV.summary())
        # early in its life: cached
        if time.monotonic() - t0 < life / 2 - 2:
            self.assertDelivered(mail_test(self.h, 'expiring'))
            self.assertEqual(SRV.issued_count(cid), 1,
                             'a token in the first half of its life was '
                             'fetched again: ' + SRV.summary())
        time.sleep(max(0.0, t0 + life + 0.5 - time.monotonic()))
        # expired now: several senders at once, through the mail test and
        # the outbox
        k = 4
        subjects = ['expiry burst %d %s' % (i, tag()) for i in range(k)]
        for i in range(0, k, 2):
            put_oauth_applet(self.h, 'Burst%d' % i, 'expiring',
                             subject=subjects[i])
        results = {}
        spans = {}

        def send(i):
            t_start = time.monotonic()
            try:
                if i % 2:
                    results[i] = mail_test(self.h, 'expiring',
                                           subject=subjects[i])
                else:
                    results[i] = run_delivery(self.h, 'Burst%d' % i)[0]
            except Exception as e:  # reported below
                results[i] = {'exception': repr(e)}
            spans[i] = (t_start, time.monotonic())

        threads = [threading.Thread(target=send, args=(i,))
                   for i in range(k)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(180)
        for i in range(k):
            r = results.get(i, {})
            ok = r.get('delivered') is True or r.get('delivery') == \
                'delivered'
            self.assertTrue(ok, 'sender %d: %s' % (i, self.explain(r)))
        for s in subjects:
            self.delivered_mail(s)
        self.assertEqual(SRV.issued_count(cid), 2,
                         'expected exactly one refresh for %d concurrent '
                         'senders after the token (expires_in %d s) '
                         'expired: %s' % (k, life, SRV.summary()))
        # and they were concurrent: the new token was handed out (1 s
        # after it was asked for) while at least two senders were waiting
        t1 = SRV.issued(cid)[1]['issued_at']
        waiting = [i for i, (a, b) in spans.items() if a < t1 < b]
        print('\nexpiry: %d senders, %d in flight while the one refresh '
              'was fetched' % (k, len(waiting)))
        self.assertGreaterEqual(len(waiting), 2, (spans, t1))

    def test_revoked_token_is_fetched_again_once(self):
        # revoked at the server: Dovecot's introspection says inactive, and
        # Postfix answers 535 (after an error challenge: XOAUTH2's JSON,
        # OAUTHBEARER's RFC 7628 status that the client ends with ^A);
        # herald fetches a new token and delivers
        for mech in MECHS:
            with self.subTest(mechanism=mech):
                self.revoked_once(mech)

    def revoked_once(self, mech):
        client, _ = oauth_client()
        cid = client['client_id']
        name = 'revoked_%s' % mech
        put_credential(self.h, name, credential_body(client, mechanism=mech))
        self.assertDelivered(mail_test(self.h, name))
        self.assertEqual(SRV.issued_count(cid), 1)
        SRV.revoke(SRV.last_token(cid))
        s = 'after revocation %s %s' % (mech, tag())
        res = mail_test(self.h, name, subject=s)
        self.assertDelivered(res)
        self.delivered_mail(s)
        self.assertEqual(SRV.issued_count(cid), 2, SRV.summary())
        # the same through the outbox
        SRV.revoke(SRV.last_token(cid))
        s = 'applet after revocation %s %s' % (mech, tag())
        put_oauth_applet(self.h, 'Revoked_%s' % mech, name, subject=s)
        self.assertRunDelivered('Revoked_%s' % mech, s)
        self.assertEqual(SRV.issued_count(cid), 3, SRV.summary())

    def test_token_refused_again_fails_after_one_refetch(self):
        # every token of this client stands for another mailbox than the
        # login: Dovecot refuses each; herald must try a new one once,
        # then give up with auth_failed (not loop), for either mechanism
        for mech in MECHS:
            with self.subTest(mechanism=mech):
                client, _ = oauth_client(user=OTHER)
                cid = client['client_id']
                name = 'mismatch_%s' % mech
                put_credential(self.h, name, credential_body(
                    client, mechanism=mech))
                res = mail_test(self.h, name, user=USER)
                r = self.assertFailed(res, 'auth_failed')
                self.assertEqual(SRV.issued_count(cid), 2,
                                 'one fetch and exactly one refetch: '
                                 + SRV.summary())
                self.assertEqual(r.get('code'), 535, self.explain(res))

    def test_rotated_refresh_token_is_stored_and_used(self):
        client, rt = oauth_client(OTHER, 'refresh_token',
                                  rotate_refresh=True)
        cid = client['client_id']
        put_credential(self.h, 'rotating', credential_body(
            client, 'refresh_token', 'oauthbearer', refresh_token=rt))
        self.assertDelivered(mail_test(self.h, 'rotating', user=OTHER))
        rt2 = SRV.valid_refresh_token(cid)
        self.assertIsNotNone(rt2)
        self.assertNotEqual(rt2, rt)
        self.assertFalse(SRV.refresh_tokens(cid)[rt])
        # a restart empties the token cache: the next mail needs the
        # refresh token, and only the rotated one is still valid
        self.h.restart()
        s = 'after rotation %s' % tag()
        res = mail_test(self.h, 'rotating', user=OTHER, subject=s)
        self.assertDelivered(res)
        self.delivered_mail(s)
        self.assertEqual(SRV.issued_count(cid), 2, SRV.summary())
        self.assertFalse(SRV.refresh_tokens(cid)[rt2],
                         'herald did not use the rotated refresh token')
        got = api(self.h, 'GET', '/api/v1/credentials/rotating')
        self.assertNoSecrets(got, 'GET /api/v1/credentials/rotating')


class EndpointFailureTest(OAuthCase):
    """Each endpoint failure through the mail test, an applet's first
    attempt and the outbox, and counted in the metrics."""

    def check_everywhere(self, name, klass, quotes, user=USER,
                         outcome='refused'):
        """The failure klass of credential name, its message quoting each
        of quotes, through the mail test, an applet's first attempt (wait
        "delivery": "failed", or "pending" for a class the outbox retries,
        like connect) and the outbox; counted in herald_deliveries_total
        and as herald_oauth_tokens_total{outcome}."""
        res = mail_test(self.h, name, user)
        r = self.assertFailed(res, klass, *quotes)
        subject = 'failing %s %s' % (name, tag())
        applet = 'Fail_%s' % name
        put_oauth_applet(self.h, applet, name, user, subject)
        run, d = run_delivery(self.h, applet)
        self.assertIn(run.get('delivery'), ('failed', 'pending'),
                      self.explain(run))
        le = d.get('last_error') or {}
        self.assertEqual(le.get('klass'), klass, self.explain(run))
        for q in quotes:
            self.assertIn(q, le.get('message') or '', self.explain(run))
        self.assertNoSecrets(run, 'the run')
        m = wait_outbox_error(self.h, subject, klass)
        self.assertNoSecrets(m, 'the outbox')
        self.assertGreaterEqual(metric(self.h, 'herald_deliveries_total',
                                       source='mail_test', klass=klass), 1)
        self.assertGreaterEqual(metric(self.h, 'herald_deliveries_total',
                                       source='outbox', klass=klass), 1)
        self.assertGreaterEqual(metric(self.h, 'herald_oauth_tokens_total',
                                       outcome=outcome), 1)
        self.assertEqual(metric(self.h, 'herald_oauth_tokens_total',
                                outcome='fetched'), 0)
        self.assertEqual([x for x in ENV.messages(TO)
                          if subject.encode() in x], [])
        print('\n%s: %s: %s / %s' % (name, r.get('klass'), r.get('message'),
                                     r.get('advice')))
        return r

    def test_wrong_client_secret_is_auth_failed_quoting_invalid_client(self):
        client, _ = oauth_client()
        wrong = 'cs-wrong-' + uuid.uuid4().hex
        EXTRA_SECRETS.append(wrong)
        put_credential(self.h, 'wrong_secret',
                       credential_body(client, client_secret=wrong))
        self.check_everywhere('wrong_secret', 'auth_failed',
                              ['invalid_client', 'Invalid client secret'])
        self.assertEqual(SRV.issued_count(client['client_id']), 0)

    def test_revoked_refresh_token_is_auth_failed_quoting_invalid_grant(self):
        client, rt = oauth_client(OTHER, 'refresh_token')
        SRV.revoke_refresh(rt)
        put_credential(self.h, 'revoked_rt', credential_body(
            client, 'refresh_token', 'xoauth2', refresh_token=rt))
        self.check_everywhere('revoked_rt', 'auth_failed',
                              ['invalid_grant', 'expired or revoked'],
                              user=OTHER)

    def test_untrusted_endpoint_is_certificate_untrusted(self):
        with OAuthServer(chain='chain-untrusted') as bad:
            # its tokens are checked by the main server's introspection
            client = bad.add_client(user=USER)
            put_credential(self.h, 'untrusted', credential_body(
                client, token_url=bad.token_url))
            r = self.check_everywhere('untrusted', 'certificate_untrusted',
                                      [], outcome='failed')
            self.assertIn('token', (r.get('message', '') +
                                    r.get('advice', '')).lower(),
                          'the message does not say the token endpoint '
                          'failed: %s' % r)
            self.assertEqual(bad.count('token_requests'), 0,
                             'herald sent its client secret to an '
                             'untrusted endpoint: ' + bad.summary())
            # trusting its CA makes it work: the endpoint is verified
            # against herald's trustpoints
            api(self.h, 'POST', '/api/v1/trustpoints', {
                'name': 'CA-Untrusted-Test', 'revocation_check': 'none',
                'chain_validation': 'stop', 'enrollment': 'terminal',
                'certificate': read_pem('untrusted-root.pem')}, expect=201)
            res = mail_test(self.h, 'untrusted')
            # (its tokens are unknown to the mail server's introspection,
            # so the mail itself is refused: the fetch is what counts)
            self.assertGreaterEqual(bad.issued_count(), 1,
                                    'no token fetched once its CA is '
                                    'trusted: %s\n%s' % (
                                        bad.summary(), self.explain(res)))
            self.assertNotEqual((res.get('result') or {}).get('klass'),
                                'certificate_untrusted', self.explain(res))

    def test_endpoint_down_is_connect(self):
        client, _ = oauth_client()
        port = free_port()
        put_credential(self.h, 'down', credential_body(
            client, token_url='https://localhost:%d/token' % port))
        r = self.check_everywhere('down', 'connect', [], outcome='failed')
        self.assertIn('token', (r.get('message', '') +
                                r.get('advice', '')).lower(), r)


class ManagementTest(OAuthCase):
    def test_delete_while_used_is_409_naming_the_applet(self):
        client, _ = oauth_client()
        put_credential(self.h, 'in_use', credential_body(client))
        put_oauth_applet(self.h, 'UsesCred', 'in_use')
        st, _, body = call(self.h, 'DELETE', '/api/v1/credentials/in_use')
        self.assertEqual(st, 409, body)
        self.assertIn('UsesCred', json.dumps(body))
        api(self.h, 'GET', '/api/v1/credentials/in_use')
        api(self.h, 'DELETE', '/api/v1/applets/UsesCred', expect=(200, 204))
        st, _, body = call(self.h, 'DELETE', '/api/v1/credentials/in_use')
        self.assertEqual(st, 204, body)
        st, _, body = call(self.h, 'GET', '/api/v1/credentials/in_use')
        self.assertEqual(st, 404, body)

    def test_unknown_credential_warns_at_save(self):
        a = put_oauth_applet(self.h, 'NoSuchCred', 'no_such_cred')
        self.assertIn('no_such_cred', json.dumps(a.get('warnings')),
                      'no save-time warning for a missing credential: %s'
                      % json.dumps(a))

    def test_config_round_trip_keeps_the_secret(self):
        client, _ = oauth_client()
        cid = client['client_id']
        put_credential(self.h, 'exported', credential_body(
            client, mechanism='oauthbearer'))
        put_oauth_applet(self.h, 'Exported', 'exported')
        text = api(self.h, 'GET', '/api/v1/config')
        self.assertIsInstance(text, str)
        self.assertNoSecrets(text, 'the config export')
        self.assertIn('exported', text)
        self.assertIn(cid, text)
        self.assertIn('credential exported', text,
                      'the applet\'s mail action lost "credential"')
        self.assertIn('*****', text, 'no masked secret in the export')
        fields = ('type', 'grant', 'token_url', 'client_id', 'scope',
                  'mechanism')
        before = api(self.h, 'GET', '/api/v1/credentials/exported')
        summary = api(self.h, 'POST', '/api/v1/config', text)
        self.assertNoSecrets(summary, 'the config import summary')
        after = api(self.h, 'GET', '/api/v1/credentials/exported')
        self.assertEqual([find_key(after, k) for k in fields],
                         [find_key(before, k) for k in fields])
        # a new process has no cached token: the fetch needs the secret
        # the import kept
        self.h.restart()
        n = SRV.issued_count(cid)
        s = 'after import %s' % tag()
        self.assertDelivered(mail_test(self.h, 'exported', subject=s))
        self.delivered_mail(s)
        self.assertEqual(SRV.issued_count(cid), n + 1, SRV.summary())


class ZSecretsTest(unittest.TestCase):
    """Runs last: no OAuth secret was in any response of this suite, nor
    in any delivered mail."""

    def test_no_secret_anywhere(self):
        secrets_ = all_secrets()
        self.assertTrue(secrets_)
        self.assertTrue(RESPONSES.texts)
        mails = ENV.messages(TO) + ENV.messages(USER) + ENV.messages(OTHER)
        for s in secrets_:
            for t in RESPONSES.texts:
                self.assertNotIn(s, t, 'an OAuth secret in a response')
            for m in mails:
                self.assertNotIn(s.encode(), m, 'an OAuth secret in a mail')
        print('\n%d secrets checked in %d responses and %d mails'
              % (len(secrets_), len(RESPONSES.texts), len(mails)))


if __name__ == '__main__':
    unittest.main()
