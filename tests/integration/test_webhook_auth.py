# SPDX-License-Identifier: MIT
"""
tests/integration/test_webhook_auth.py: webhook authentication that cannot
be replayed, probed or flooded (issue 11).

- A signed delivery (X-Herald-Timestamp + X-Herald-Signature over
  "<timestamp>.<body>") is accepted once: the same request again is 401
  "replayed"; a timestamp 301 s old or 301 s ahead is 401 naming the skew.
- An unknown applet, an applet without "event webhook", one without
  credentials and a wrong token answer byte-identical 401 bodies.
- Credentials are checked before the body is read: a body to an unknown
  applet is answered 401 while the client has not sent any of it; a 20 MB
  body (declared or chunked) to a real webhook is answered 413 after a
  fraction of it (--webhook-max-body).
- 2,000 bad attempts write a few log lines and a "suppressed" count, not
  two lines each.
- The database holds the token's SHA-256, never the token; a clear token
  of an older database is hashed at start and keeps working as a bearer
  token.
"""

import hashlib
import http.client
import json
import os
import socket
import sqlite3
import threading
import time
import unittest

from itest import (api, hook, new_creds, put_applet, sign, start_herald)

BIG = 20 * 1024 * 1024


def raw_post(h, path, headers, timeout=10):
    """A socket with the request line and headers of a POST sent."""
    s = socket.create_connection((h.host, h.port), timeout=timeout)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 64 * 1024)
    lines = ['POST %s HTTP/1.1' % path, 'Host: %s:%d' % (h.host, h.port)]
    lines += ['%s: %s' % kv for kv in headers.items()]
    s.sendall(('\r\n'.join(lines) + '\r\n\r\n').encode())
    return s


def read_answer(s, timeout=10):
    """Everything the server sends until it closes (or timeout)."""
    s.settimeout(timeout)
    out = b''
    try:
        while True:
            d = s.recv(65536)
            if not d:
                break
            out += d
    except (socket.timeout, ConnectionResetError):
        pass
    return out


def pump(s, total, chunked=False, block=64 * 1024):
    """Sends up to total body bytes until the server answers or closes.
    Returns (bytes sent, seconds)."""
    sent, t0 = 0, time.monotonic()
    piece = b'x' * block
    s.setblocking(False)
    try:
        while sent < total:
            try:
                if s.recv(1, socket.MSG_PEEK):
                    break  # an answer is there
            except BlockingIOError:
                pass
            data = (b'%x\r\n' % block + piece + b'\r\n') if chunked \
                else piece
            try:
                n = s.send(data)
            except BlockingIOError:
                time.sleep(0.005)
                if time.monotonic() - t0 > 30:
                    break
                continue
            if n < len(data):
                # the rest of a partial write must follow for the framing
                s.setblocking(True)
                s.sendall(data[n:])
                s.setblocking(False)
                n = len(data)
            sent += block if chunked else n
    except (BrokenPipeError, ConnectionResetError):
        pass
    s.setblocking(True)
    return sent, time.monotonic() - t0


def status_of(raw):
    line = raw.split(b'\r\n', 1)[0]
    return int(line.split()[1]) if line.startswith(b'HTTP/1.1 ') else 0


def body_of(raw):
    return raw.split(b'\r\n\r\n', 1)[1] if b'\r\n\r\n' in raw else b''


def raw_hook(h, applet, data, headers):
    """POST /hooks/{applet} on a new connection; (status, raw body)."""
    c = http.client.HTTPConnection(h.host, h.port, timeout=10)
    try:
        c.request('POST', '/hooks/%s' % applet, data, headers)
        r = c.getresponse()
        return r.status, r.read()
    finally:
        c.close()


class WebhookAuthTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.h = start_herald(trust=False)
        put_applet(cls.h, 'event manager applet Hook\n event webhook\n'
                   ' action 010 puts "$_webhook_body"\n')
        put_applet(cls.h, 'event manager applet Manual\n event none\n'
                   ' action 010 puts "m"\n')
        put_applet(cls.h, 'event manager applet Bare\n event webhook\n'
                   ' action 010 puts "b"\n')
        cls.tok, cls.sk = new_creds(cls.h, 'Hook')

    @classmethod
    def tearDownClass(cls):
        h, cls.h = cls.h, None
        try:
            log = h.log() + h.stdout_text()
            for t in (cls.tok, cls.sk):
                if t in log:
                    raise AssertionError('a webhook credential is in the log')
        finally:
            h.stop()
            h.cleanup()

    # ---- replay and the timestamp window ---------------------------------

    def test_a_replayed_signed_request_is_refused(self):
        body = json.dumps({'n': 'replay'}).encode()
        ts, sig = sign(self.sk, body)
        got = [hook(self.h, 'Hook', body, signature=sig, timestamp=ts)
               for _ in range(20)]
        codes = [g[0] for g in got]
        print('replay: statuses of 20 identical signed requests: %s'
              % {c: codes.count(c) for c in set(codes)})
        self.assertEqual(codes[0], 202, got[0])
        self.assertEqual(codes[1:], [401] * 19, got[1])
        self.assertIn('replayed', got[1][2]['error']['message'])
        # a new timestamp makes a new signature: accepted
        st, _, res = hook(self.h, 'Hook', body, key=self.sk,
                          timestamp=int(ts) + 1)
        self.assertEqual(st, 202, res)

    def test_stale_and_future_timestamps_are_refused(self):
        body = b'{"t": 1}'
        now = int(time.time())
        st, _, res = hook(self.h, 'Hook', body, key=self.sk,
                          timestamp=now - 301)
        self.assertEqual(st, 401, res)
        msg = res['error']['message']
        print('stale: %s' % msg)
        self.assertIn('behind', msg)
        self.assertIn('300 s', msg)
        st, _, res = hook(self.h, 'Hook', body, key=self.sk,
                          timestamp=now + 301)
        self.assertEqual(st, 401, res)
        self.assertIn('ahead of', res['error']['message'])
        st, _, res = hook(self.h, 'Hook', body, key=self.sk,
                          timestamp=now - 200)
        self.assertEqual(st, 202, res)

    # ---- no enumeration ----------------------------------------------------

    def test_unknown_applet_and_bad_token_answer_byte_identical_401s(self):
        hdr = {'Content-Type': 'application/json',
               'Authorization': 'Bearer ' + '0' * 48}
        answers = {
            'unknown applet': raw_hook(self.h, 'NoSuchApplet', b'{}', hdr),
            'wrong token': raw_hook(self.h, 'Hook', b'{}', hdr),
            'no event webhook': raw_hook(self.h, 'Manual', b'{}', hdr),
            'no credentials': raw_hook(self.h, 'Bare', b'{}', hdr),
        }
        ts, sig = sign('not-the-secret', b'{}')
        answers['wrong signature'] = raw_hook(
            self.h, 'Hook', b'{}', {'Content-Type': 'application/json',
                                    'X-Herald-Timestamp': ts,
                                    'X-Herald-Signature': sig})
        answers['signature, unknown applet'] = raw_hook(
            self.h, 'NoSuchApplet', b'{}', {
                'Content-Type': 'application/json',
                'X-Herald-Timestamp': ts, 'X-Herald-Signature': sig})
        first = answers['unknown applet']
        print('401 body: %s' % first[1].decode())
        self.assertEqual(first[0], 401)
        for why, a in answers.items():
            self.assertEqual(a, first, why)
        # the log keeps the real reason
        time.sleep(1.2)
        raw_hook(self.h, 'NoSuchApplet', b'{}', hdr)
        time.sleep(0.2)
        self.assertIn('no applet named', self.h.log())

    # ---- nothing is read before the credentials ---------------------------

    def test_a_body_to_an_unknown_applet_is_refused_before_it_is_sent(self):
        for framing in ({'Content-Length': str(BIG)},
                        {'Transfer-Encoding': 'chunked'}):
            s = raw_post(self.h, '/hooks/NoSuchApplet', dict(
                framing, **{'Content-Type': 'application/json',
                            'Authorization': 'Bearer ' + '1' * 48}))
            try:
                t0 = time.monotonic()
                raw = read_answer(s, timeout=5)  # not a byte of body sent
                took = time.monotonic() - t0
            finally:
                s.close()
            print('unknown applet, %s, no body sent: %d after %.3f s'
                  % (list(framing)[0], status_of(raw), took))
            self.assertEqual(status_of(raw), 401, raw[:300])
            self.assertLess(took, 4)

    def test_a_20_mb_webhook_body_is_refused_413_unread(self):
        for chunked in (False, True):
            framing = {'Transfer-Encoding': 'chunked'} if chunked \
                else {'Content-Length': str(BIG)}
            s = raw_post(self.h, '/hooks/Hook', dict(
                framing, **{'Content-Type': 'application/json',
                            'Authorization': 'Bearer ' + self.tok}))
            try:
                sent, took = pump(s, BIG, chunked=chunked)
                raw = read_answer(s, timeout=5)
            finally:
                s.close()
            print('20 MB body, %s: %d after %d bytes sent in %.2f s'
                  % ('chunked' if chunked else 'Content-Length',
                     status_of(raw), sent, took))
            self.assertEqual(status_of(raw), 413, raw[:300])
            self.assertIn(b'--webhook-max-body', body_of(raw))
            self.assertLess(sent, BIG // 4)
        # herald is fine afterwards
        st, _, res = hook(self.h, 'Hook', {'after': 1}, token=self.tok)
        self.assertEqual(st, 202, res)

    # ---- bounded log -------------------------------------------------------

    def test_a_flood_of_bad_attempts_writes_a_few_log_lines(self):
        time.sleep(1.1)  # past any earlier refusal's second
        mark = len(self.h.log())
        hdr = {'Content-Type': 'application/json',
               'Authorization': 'Bearer ' + '2' * 48}
        n, errors = 2000, []

        def worker(k):
            for i in range(k):
                try:
                    st, _ = raw_hook(self.h, 'Hook' if i % 2 else 'Nope',
                                     b'{}', hdr)
                    if st != 401:
                        errors.append(st)
                except OSError as e:
                    errors.append(str(e))

        t0 = time.monotonic()
        ts = [threading.Thread(target=worker, args=(n // 4,))
              for _ in range(4)]
        for t in ts:
            t.start()
        for t in ts:
            t.join()
        took = time.monotonic() - t0
        time.sleep(2.0)  # the reaper reports what was suppressed
        lines = self.h.log()[mark:].splitlines()
        hooks = [ln for ln in lines if 'webhook-refused' in ln or
                 '/hooks/' in ln]
        supp = [ln for ln in lines if 'suppressed' in ln]
        total = sum(int(ln.split('count=')[1].split()[0]) for ln in supp)
        print('flood: %d bad attempts in %.1f s -> %d log lines (%d of them '
              '"suppressed", counting %d)' % (n, took, len(hooks),
                                              len(supp), total))
        self.assertEqual(errors, [])
        self.assertLessEqual(len(hooks), 2 * took + 6, hooks[:10])
        self.assertTrue(supp, lines[-5:])
        self.assertEqual(total + len(hooks) - len(supp), n)

    # ---- tokens at rest -----------------------------------------------------

    def test_the_database_holds_no_clear_token(self):
        put_applet(self.h, 'event manager applet Stored\n event webhook\n'
                   ' action 010 puts "s"\n')
        tok, sk = new_creds(self.h, 'Stored')
        path = os.path.join(self.h.data_dir, 'herald.db')
        raw = b''
        for suffix in ('', '-wal'):
            if os.path.exists(path + suffix):
                with open(path + suffix, 'rb') as f:
                    raw += f.read()
        # (herald holds the database locked: read its bytes)
        self.assertNotIn(tok.encode(), raw)
        self.assertIn(hashlib.sha256(tok.encode()).hexdigest().encode(), raw)
        st, _, res = hook(self.h, 'Stored', {'a': 1}, token=tok)
        self.assertEqual(st, 202, res)
        st, _, res = hook(self.h, 'Stored', {'a': 2}, key=sk)
        self.assertEqual(st, 202, res)
        # the applet says only that credentials are set
        app = api(self.h, 'GET', '/api/v1/applets/Stored')
        self.assertTrue(app.get('webhook_token_set'), app)
        self.assertNotIn(tok, json.dumps(app))
        self.assertNotIn(sk, json.dumps(app))


class MigrationTest(unittest.TestCase):
    def test_a_clear_token_of_an_older_database_is_hashed(self):
        h = start_herald(trust=False)
        try:
            put_applet(h, 'event manager applet Old\n event webhook\n'
                       ' action 010 puts "o"\n')
            h.stop()
            old = 'c1ea' * 12
            path = os.path.join(h.data_dir, 'herald.db')
            db = sqlite3.connect(path)
            # what version 3 left: the token in clear
            db.execute('UPDATE applets SET webhook_token = ? WHERE name = ?',
                       (old, 'Old'))
            db.execute('DELETE FROM schema_version WHERE version >= 4')
            db.commit()
            db.execute('VACUUM')
            db.close()
            h.start()
            self.assertIn('webhook-tokens-hashed count=1', h.log())
            st, _, res = hook(h, 'Old', {'a': 1}, token=old)
            self.assertEqual(st, 202, res)
            # not a signing key any more: that needs a signing secret
            time.sleep(1.1)  # past the log limit's second
            st, _, res = hook(h, 'Old', {'a': 1}, key=old)
            self.assertEqual(st, 401, res)
            time.sleep(0.2)
            self.assertIn('no signing secret', h.log())
            h.stop()  # checkpoints the WAL into the file
            with open(path, 'rb') as f:
                self.assertNotIn(old.encode(), f.read())
        finally:
            h.cleanup()


if __name__ == '__main__':
    unittest.main()
