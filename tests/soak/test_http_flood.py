# SPDX-License-Identifier: MIT
"""tests/soak/test_http_flood.py: no client can take the API's slots.

herald is started with its default limits. One client address (127.0.0.2)
opens 1,000 connections and sends nothing; another (127.0.0.3) opens 300
and drips the header block of a request at one byte a second (slowloris).
Meanwhile 127.0.0.1 makes an authenticated GET /api/v1/applets every
250 ms for 20 s, each on a new connection: every one must be answered
within 1 s. The slowloris connections must be closed by herald within the
header deadline (--header-timeout, 10 s) plus a margin, however they drip.
The figures (worst GET latency, when the flood connections were dropped)
are printed.

Loopback is all of 127.0.0.0/8 on Linux, so the three addresses are three
distinct clients for herald's per-address limit.
"""
import collections
import errno
import http.client
import resource
import selectors
import socket
import sys
import threading
import time
import unittest

from herald import Herald

IDLE, SLOW = 1000, 300
IDLE_ADDR, SLOW_ADDR, API_ADDR = '127.0.0.2', '127.0.0.3', '127.0.0.1'
HEADER_TIMEOUT = 10          # herald's default --header-timeout
MARGIN = 3.0
DURATION, PERIOD, ANSWER_WITHIN = 20.0, 0.25, 1.0
DRIP = (b'GET /api/v1/applets HTTP/1.1\r\nHost: herald\r\nX-Slow: '
        + b'a' * 200)


def raise_nofile(need):
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft != resource.RLIM_INFINITY and soft < need:
        new = need if hard == resource.RLIM_INFINITY else min(need, hard)
        resource.setrlimit(resource.RLIMIT_NOFILE, (new, hard))
    return resource.getrlimit(resource.RLIMIT_NOFILE)[0]


class Flood:
    """Connections from one source address, opened without waiting
    (non-blocking connect) and watched until herald closes them."""

    def __init__(self, name, addr, port, n, t0):
        self.name, self.t0 = name, t0
        self.socks = {}         # fd -> socket
        self.opened = {}        # fd -> seconds after t0
        self.closed = {}        # fd -> seconds after t0
        self.got408 = set()
        self.sent = collections.Counter()
        self.lock = threading.Lock()
        for _ in range(n):
            s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            s.setblocking(False)
            s.bind((addr, 0))
            rc = s.connect_ex(('127.0.0.1', port))
            if rc not in (0, errno.EINPROGRESS):
                raise AssertionError('%s: connect from %s: %s'
                                     % (name, addr, errno.errorcode[rc]))
            self.socks[s.fileno()] = s
            self.opened[s.fileno()] = time.monotonic() - t0

    def now(self):
        return time.monotonic() - self.t0

    def mark_closed(self, fd):
        with self.lock:
            self.closed.setdefault(fd, self.now())

    def on_readable(self, fd):
        s = self.socks[fd]
        try:
            data = s.recv(4096)
        except (ConnectionError, OSError):
            data = b''
        if data.startswith(b'HTTP/1.1 408'):
            self.got408.add(fd)
        if not data:
            self.mark_closed(fd)
            return False
        return True

    def drip(self):
        """One byte more of the request on every open connection."""
        for fd, s in self.socks.items():
            if fd in self.closed:
                continue
            i = self.sent[fd]
            try:
                n = s.send(DRIP[i:i + 1], socket.MSG_DONTWAIT)
                self.sent[fd] += n
            except (BlockingIOError, InterruptedError):
                pass
            except OSError as e:
                if e.errno == errno.ENOTCONN:   # not connected yet
                    continue
                self.mark_closed(fd)

    def open_count(self):
        with self.lock:
            return len(self.socks) - len(self.closed)

    def summary(self):
        """"N at T s" for each whole second in which connections closed."""
        by_s = collections.Counter(int(t) for t in self.closed.values())
        parts = ['%d at %d s' % (by_s[k], k) for k in sorted(by_s)]
        return ('%s: %d opened; closed by herald: %s; still open: %d'
                % (self.name, len(self.socks), ', '.join(parts) or 'none',
                   self.open_count()))

    def close_all(self):
        for s in self.socks.values():
            s.close()


class HttpFloodTest(unittest.TestCase):
    def test_flood_and_slowloris_leave_the_api_answering(self):
        have = raise_nofile(IDLE + SLOW + 256)
        # a container may cap the hard limit (podman's default: 1024):
        # flood with what it allows, in the same proportion; herald, under
        # the same cap, lowers its own limits to fit (and logs it)
        n_idle, n_slow = IDLE, SLOW
        if have < IDLE + SLOW + 64:
            budget = have - 64
            n_idle = budget * IDLE // (IDLE + SLOW)
            n_slow = budget - n_idle
            print('\nRLIMIT_NOFILE hard limit %d: %d idle and %d slowloris '
                  'connections instead of %d and %d'
                  % (have, n_idle, n_slow, IDLE, SLOW), file=sys.stderr)
        self.assertGreaterEqual(n_idle + n_slow, 600,
                                'RLIMIT_NOFILE hard limit too low for the '
                                'test: raise it (ulimit -Hn)')
        with Herald() as h:
            self.run_flood(h, n_idle, n_slow)

    def run_flood(self, h, n_idle, n_slow):
        t0 = time.monotonic()
        idle = Flood('idle flood (%s)' % IDLE_ADDR, IDLE_ADDR, h.port,
                     n_idle, t0)
        slow = Flood('slowloris (%s)' % SLOW_ADDR, SLOW_ADDR, h.port,
                     n_slow, t0)
        sel = selectors.DefaultSelector()
        for fl in (idle, slow):
            for fd in fl.socks:
                sel.register(fd, selectors.EVENT_READ, fl)
        stop = threading.Event()

        def watch():
            while not stop.is_set():
                for key, _ in sel.select(0.1):
                    if not key.data.on_readable(key.fd):
                        sel.unregister(key.fd)

        def dripper():
            while not stop.wait(1.0):
                slow.drip()

        threads = [threading.Thread(target=watch, daemon=True),
                   threading.Thread(target=dripper, daemon=True)]
        for t in threads:
            t.start()
        slow.drip()
        lat, failures = [], []
        try:
            time.sleep(0.5)
            end = time.monotonic() + DURATION
            while time.monotonic() < end:
                tick = time.monotonic()
                st, dt, err = self.get(h)
                lat.append((round(tick - t0, 2), dt))
                if st != 200 or dt > ANSWER_WITHIN:
                    failures.append((round(tick - t0, 2), st, round(dt, 3),
                                     err))
                time.sleep(max(0.0, PERIOD - (time.monotonic() - tick)))
            # the slowloris connections' deadline (+ margin) is over by now
            wait_until = t0 + HEADER_TIMEOUT + MARGIN + 1
            while time.monotonic() < wait_until and slow.open_count():
                time.sleep(0.2)
        finally:
            stop.set()
            for t in threads:
                t.join(5)
            sel.close()
            idle.close_all()
            slow.close_all()
        worst = max(lat, key=lambda x: x[1])
        print('\nGETs from %s: %d, worst %.3f s (at %.1f s), median %.3f s'
              % (API_ADDR, len(lat), worst[1], worst[0],
                 sorted(d for _, d in lat)[len(lat) // 2]), file=sys.stderr)
        print(idle.summary(), file=sys.stderr)
        print(slow.summary() + '; with a 408: %d' % len(slow.got408),
              file=sys.stderr)
        self.assertEqual(failures, [], 'GETs not answered 200 within %s s '
                         '(t, status, seconds, error)' % ANSWER_WITHIN)
        late = {fd: slow.closed.get(fd) for fd in slow.socks
                if slow.closed.get(fd) is None
                or slow.closed[fd] - slow.opened[fd]
                > HEADER_TIMEOUT + MARGIN}
        self.assertEqual(late, {}, 'slowloris connections not closed within '
                         '%d + %.0f s (fd: closed at)'
                         % (HEADER_TIMEOUT, MARGIN))
        self.assertTrue(h.running(), 'herald died under the flood')
        st, _, _ = h.request('GET', '/api/v1/applets', timeout=5)
        self.assertEqual(st, 200)

    def get(self, h):
        c = http.client.HTTPConnection(h.host, h.port, timeout=3,
                                       source_address=(API_ADDR, 0))
        t = time.monotonic()
        try:
            c.request('GET', '/api/v1/applets',
                      headers={'Authorization': 'Bearer ' + h.token})
            r = c.getresponse()
            r.read()
            return r.status, time.monotonic() - t, None
        except (OSError, http.client.HTTPException) as e:
            return None, time.monotonic() - t, repr(e)
        finally:
            c.close()


if __name__ == '__main__':
    unittest.main()
