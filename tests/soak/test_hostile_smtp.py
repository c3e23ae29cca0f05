# SPDX-License-Identifier: MIT
"""tests/soak/test_hostile_smtp.py: a hostile mail server must not cost
herald unbounded memory or time (issue 11).

The real herald binary (tests/lib/herald.py) sends a test message through
POST /api/v1/mail/test to a hostile SMTP server on 127.0.0.1 (in this
file). After EHLO the server sends, as fast as it can:

- continuation:  "250-x" lines without end (the original report: herald
  kept every line in the trace and never timed out);
- long_line:     one line of 'x' that never ends;
- big_reply:     10 MB of 4000-octet "250-" lines, then a final line (a
  bounded but huge reply gave a 9.5 MB API answer).

Meanwhile a sampler reads VmRSS and VmHWM from /proc/PID/status every
10 ms. Each attempt must fail with class "protocol" and a message naming
the limit, herald's peak RSS must stay under PEAK_RSS_MAX, the API answer
under ANSWER_MAX, and /healthz must answer afterwards. The figures are
printed (peak RSS, duration, answer size, what the server sent), so that
they can be quoted.

A safety valve keeps a broken herald from taking the machine: the server
stops sending once herald's RSS passes SAFETY_RSS or SAFETY_SECONDS pass,
and the test then fails on what it measured.
"""
import http.client
import json
import socket
import threading
import time
import unittest

from herald import HeraldTestCase

PEAK_RSS_MAX = 64 * 1024 * 1024
ANSWER_MAX = 256 * 1024
SAFETY_RSS = 512 * 1024 * 1024
SAFETY_SECONDS = 20
CHUNK = 64 * 1024


def proc_status(pid):
    """(VmRSS, VmHWM) of pid in bytes, or (0, 0) once it is gone."""
    rss = hwm = 0
    try:
        with open('/proc/%d/status' % pid) as f:
            for line in f:
                if line.startswith('VmRSS:'):
                    rss = int(line.split()[1]) * 1024
                elif line.startswith('VmHWM:'):
                    hwm = int(line.split()[1]) * 1024
    except OSError:
        pass
    return rss, hwm


class Sampler(threading.Thread):
    """Samples a process's RSS until stopped; trips .over when it passes
    SAFETY_RSS."""

    def __init__(self, pid):
        super().__init__(daemon=True)
        self.pid = pid
        self.peak_rss = 0
        self.hwm = 0
        self.samples = 0
        self.over = threading.Event()
        self.done = threading.Event()

    def run(self):
        while not self.done.is_set():
            rss, hwm = proc_status(self.pid)
            self.peak_rss = max(self.peak_rss, rss)
            self.hwm = max(self.hwm, hwm)
            self.samples += 1
            if rss > SAFETY_RSS:
                self.over.set()
            time.sleep(0.01)

    def stop(self):
        self.done.set()
        self.join(5)


class HostileSMTP:
    """One-connection-at-a-time SMTP server that misbehaves after EHLO."""

    def __init__(self, mode, stop_event):
        self.mode = mode
        self.stop_event = stop_event
        self.sent = 0
        self.ended = ''
        self.sock = socket.socket()
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(('127.0.0.1', 0))
        self.sock.listen(4)
        self.port = self.sock.getsockname()[1]
        self.t = threading.Thread(target=self.serve, daemon=True)
        self.t.start()

    def close(self):
        self.stop_event.set()
        self.sock.close()
        self.t.join(10)

    def serve(self):
        try:
            c, _ = self.sock.accept()
        except OSError:
            return
        self.session(c)

    def session(self, c):
        """The greeting, then converse(); records how the session ended."""
        c.settimeout(SAFETY_SECONDS)
        try:
            c.sendall(b'220 hostile.example ESMTP\r\n')
            self.converse(c)
        except (BrokenPipeError, ConnectionResetError):
            self.ended = 'herald closed the connection'
        except socket.timeout:
            self.ended = 'herald stopped reading for %ds' % SAFETY_SECONDS
        except OSError as e:
            self.ended = 'socket error: %s' % e
        finally:
            c.close()

    def converse(self, c):
        buf = b''
        while b'\n' not in buf:
            d = c.recv(4096)
            if not d:
                self.ended = 'the client closed before EHLO'
                return
            buf += d
        if not buf.upper().startswith((b'EHLO', b'HELO')):
            self.ended = 'the client sent %r, not EHLO' % buf[:40]
            return
        self.flood(c)

    def flood(self, c):
        t0 = time.monotonic()
        if self.mode == 'continuation':
            chunk = b'250-x\r\n' * (CHUNK // 7)
        elif self.mode == 'long_line':
            c.sendall(b'250-')
            chunk = b'x' * CHUNK
        else:
            chunk = (b'250-' + b'y' * 3996 + b'\r\n') * 16
        limit = 10 * 1024 * 1024 if self.mode == 'big_reply' else None
        while not self.stop_event.is_set():
            if time.monotonic() - t0 > SAFETY_SECONDS:
                self.ended = 'the safety valve: %ds of flood' % SAFETY_SECONDS
                return
            if limit is not None and self.sent >= limit:
                c.sendall(b'250 end of a 10 MB reply\r\n')
                self.ended = 'the whole 10 MB reply was sent'
                c.settimeout(SAFETY_SECONDS)
                c.recv(1)   # wait for herald to close
                return
            c.sendall(chunk)
            self.sent += len(chunk)
        self.ended = 'the safety valve: RSS over %d MB' % (SAFETY_RSS >> 20)


def hostile_start(pid, server_class, mode):
    """herald's RSS now, and a server of server_class in mode with a
    sampler of pid whose safety valve stops the server:
    (base_rss, stop event, server, sampler)."""
    base_rss, _ = proc_status(pid)
    stop = threading.Event()
    srv = server_class(mode, stop)
    sampler = Sampler(pid)
    sampler.start()
    valve = threading.Thread(
        target=lambda: (sampler.over.wait(SAFETY_SECONDS + 5), stop.set()),
        daemon=True)
    valve.start()
    return base_rss, stop, srv, sampler


def hostile_stop(pid, stop, srv, sampler):
    """Stops what hostile_start started; herald's peak RSS (bytes)."""
    time.sleep(0.1)
    sampler.stop()
    stop.set()
    srv.close()
    _, hwm_after = proc_status(pid)
    return max(sampler.peak_rss, sampler.hwm, hwm_after)


class HostileServerTest(HeraldTestCase):

    def attempt(self, mode):
        pid = self.h.proc.pid
        base_rss, stop, srv, sampler = hostile_start(pid, HostileSMTP, mode)
        body = {'host': '127.0.0.1', 'port': srv.port, 'secure': 'none',
                'from': 'soak@example.test', 'to': 'noc@example.test',
                'subject': 'hostile', 'body': 'hello'}
        t0 = time.monotonic()
        conn = http.client.HTTPConnection(self.h.host, self.h.port,
                                          timeout=SAFETY_SECONDS + 40)
        try:
            conn.request('POST', '/api/v1/mail/test', json.dumps(body),
                         {'Content-Type': 'application/json',
                          'Authorization': 'Bearer ' + self.h.token})
            r = conn.getresponse()
            raw = r.read()
            status = r.status
        finally:
            conn.close()
            duration = time.monotonic() - t0
            peak = hostile_stop(pid, stop, srv, sampler)
        answer = json.loads(raw) if raw else {}
        res = answer.get('result') or {}
        dialogue = (answer.get('trace') or {}).get('dialogue') or []
        print('\nsoak %-12s peak RSS %.1f MB (before %.1f MB, %d samples), '
              'duration %.3f s, answer %d bytes, %d trace entries, '
              'server sent %d bytes (%s); klass=%s message="%s"'
              % (mode, peak / 1048576, base_rss / 1048576, sampler.samples,
                 duration, len(raw), len(dialogue), srv.sent, srv.ended,
                 res.get('klass'), res.get('message')), flush=True)
        self.assertEqual(status, 200, raw[:2000])
        self.assertIs(answer.get('delivered'), False)
        self.assertLess(peak, PEAK_RSS_MAX,
                        'herald peaked at %.1f MB' % (peak / 1048576))
        self.assertLess(len(raw), ANSWER_MAX)
        self.assertLess(duration, SAFETY_SECONDS)
        st, _, hz = self.h.request('GET', '/healthz', token=None)
        self.assertEqual(st, 200, hz)
        return res, dialogue

    def test_endless_continuation_lines(self):
        res, dialogue = self.attempt('continuation')
        self.assertEqual(res.get('klass'), 'protocol', res)
        self.assertIn('reply of more than 1000 lines', res.get('message'))
        notes = [d['line'] for d in dialogue if d.get('dir') == '-']
        self.assertTrue(any('more lines cut' in n for n in notes), notes)
        self.assertLessEqual(
            len([d for d in dialogue if d.get('dir') == 'S']), 21)

    def test_endless_line(self):
        res, _ = self.attempt('long_line')
        self.assertEqual(res.get('klass'), 'protocol', res)
        self.assertIn('reply line longer than 4096 octets',
                      res.get('message'))

    def test_huge_bounded_reply(self):
        res, _ = self.attempt('big_reply')
        self.assertEqual(res.get('klass'), 'protocol', res)
        self.assertIn('reply of more than 65536 octets', res.get('message'))


if __name__ == '__main__':
    unittest.main()
