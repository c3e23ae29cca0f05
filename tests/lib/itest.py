# SPDX-License-Identifier: MIT
"""tests/lib/itest.py: helpers shared by the integration suites.

tests/integration/test_*.py start the loopback mail servers of
tests/lib/mailenv.py once per module (mailenv_module), a herald per test or
class trusting the test root A (start_herald), and drive it through call()
and api(), which record every response text in RESPONSES so that a suite
can check at the end that no password was ever shown (assert_no_secrets,
zsecrets_test). The rest stores applets and environment variables, runs
applets and waits for runs, webhooks, outbox messages and delivered mail,
and reads headers and bodies of the mail that landed. No test cases here.
"""

import base64
import email
import email.header
import email.policy
import email.utils
import hashlib
import hmac
import json
import re
import threading
import time
import unittest

from herald import Herald
from mailenv import MailEnv, read_pem

USER = 'alerts@example.test'
TERMINAL = ('success', 'abort', 'timeout', 'cancelled', 'ratelimited')
TRUSTPOINT = 'CA-Test-Root-A'


def mailenv_module(namespace, name='ENV', check=None, **kw):
    """(setUpModule, tearDownModule) for a test module: the first runs
    check() if given, then starts MailEnv(**kw) into namespace[name]; the
    second stops it, removes its files and sets namespace[name] to None."""

    def setup():
        if check is not None:
            check()
        namespace[name] = MailEnv(**kw)
        namespace[name].start()

    def teardown():
        env = namespace.get(name)
        if env is not None:
            env.stop()
            env.cleanup()
            namespace[name] = None

    return setup, teardown


def zsecrets_test(namespace, name='ENV'):
    """A TestCase class, to be bound as ZSecretsTest so that it runs last,
    asserting that no response of the suite held a password of the MailEnv
    in namespace[name]."""

    class ZSecretsTest(unittest.TestCase):
        """Runs last: no response of this suite held a password."""

        def test_no_password_in_any_response(self):
            self.assertTrue(RESPONSES.texts)
            for s in secret_forms(namespace[name]):
                for t in RESPONSES.texts:
                    self.assertNotIn(s, t)

    # of the test module, so that unittest runs it before that module's
    # tearDownModule stops the MailEnv
    ZSecretsTest.__module__ = namespace['__name__']
    ZSecretsTest.__qualname__ = 'ZSecretsTest'
    return ZSecretsTest

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



class ClassHeraldTest(unittest.TestCase):
    """Base of a TestCase sharing one herald, cls.h, between its tests:
    start_herald(trust=False) before the first, stopped after the last."""

    @classmethod
    def setUpClass(cls):
        cls.h = start_herald(trust=False)

    @classmethod
    def tearDownClass(cls):
        h, cls.h = cls.h, None
        h.stop()
        h.cleanup()

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


def find_key(obj, key, skip_none=True):
    """First value of key anywhere in a JSON document, or None. With
    skip_none=False a key whose value is null ends the search in its
    object (null is returned there)."""
    if isinstance(obj, dict):
        if key in obj and (not skip_none or obj[key] is not None):
            return obj[key]
        for v in obj.values():
            r = find_key(v, key, skip_none)
            if r is not None:
                return r
    elif isinstance(obj, list):
        for v in obj:
            r = find_key(v, key, skip_none)
            if r is not None:
                return r
    return None


def sign(secret, data, ts=None):
    """(timestamp, 'sha256=<hex HMAC-SHA256(secret, "<ts>.<data>")>') for a
    signed webhook; ts defaults to now."""
    ts = str(int(time.time()) if ts is None else ts)
    mac = hmac.new(secret.encode(), ts.encode() + b'.' + data,
                   hashlib.sha256).hexdigest()
    return ts, 'sha256=' + mac


def hook(h, applet, body, token=None, signature=None, key=None,
         content_type='application/json', idem=None, timestamp=None):
    """POST /hooks/{applet}. body: dict (JSON) or bytes/str as is.
    token: bearer token; signature: X-Herald-Signature as is; key: sign
    with this signing secret (over "<timestamp>.<body>"); timestamp:
    X-Herald-Timestamp (default now when signing)."""
    if isinstance(body, (dict, list)):
        data = json.dumps(body).encode()
    elif isinstance(body, str):
        data = body.encode()
    else:
        data = body
    headers = {'Content-Type': content_type}
    if key is not None:
        timestamp, signature = sign(key, data, timestamp)
    if timestamp is not None:
        headers['X-Herald-Timestamp'] = str(timestamp)
    if signature is not None:
        headers['X-Herald-Signature'] = signature
    if idem is not None:
        headers['Idempotency-Key'] = idem
    st, hdrs, resp = call(h, 'POST', '/hooks/%s' % applet, data,
                          headers=headers, token=token if token else None)
    return st, hdrs, resp


def new_creds(h, applet):
    """PUT /api/v1/applets/{applet}/webhook: (bearer token, signing
    secret), both shown this once."""
    res = api(h, 'PUT', '/api/v1/applets/%s/webhook' % applet)
    tok, sk = res.get('token'), res.get('signing_secret')
    assert isinstance(tok, str) and len(tok) >= 16, res
    assert isinstance(sk, str) and len(sk) >= 32 and sk != tok, res
    return tok, sk


def new_token(h, applet):
    """The bearer token of new credentials for applet."""
    return new_creds(h, applet)[0]
