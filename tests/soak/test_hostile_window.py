# SPDX-License-Identifier: MIT
"""tests/soak/test_hostile_window.py: a hostile mail server that offers
CHUNKING must not cost herald unbounded memory or time while it reads the
replies to a BDAT window (the outbox's batches, engine/smtp: issue 15).

test_hostile_smtp.py floods the single-message path (POST
/api/v1/mail/test, DATA). Here the mail comes from an applet's run, so the
outbox sends it as a batch; the server on 127.0.0.1 (in this file) offers
PIPELINING and CHUNKING, waits for herald's window (MAIL, RCPT, BDAT and
the content in one write; a message claimed alone goes with DATA, and the
server takes it) and then, instead of the replies, sends as fast as it
can:

- continuation:  "250-x" lines without end;
- long_line:     one line of 'x' that never ends.

A sampler reads herald's VmRSS/VmHWM every 10 ms. The message's attempt
must fail with class "protocol" and a message naming the limit, the
message must stay in the outbox to be tried again (nothing lost), herald's
peak RSS must stay under PEAK_RSS_MAX, the attempt must end within
SAFETY_SECONDS, and /healthz must answer afterwards. The figures are
printed.
"""
import socket
import threading
import time
import unittest

from herald import Herald, HeraldTestCase
from test_hostile_smtp import (PEAK_RSS_MAX, SAFETY_SECONDS, HostileSMTP,
                               hostile_start, hostile_stop)

RUNS = 4
EHLO_REPLY = (b'250-hostile.example\r\n250-PIPELINING\r\n250-CHUNKING\r\n'
              b'250 8BITMIME\r\n')


class HostileWindowSMTP(HostileSMTP):
    """test_hostile_smtp's server, but every session herald opens (a retry
    opens another), a proper EHLO (with CHUNKING), and the flood as soon
    as the client's window (a BDAT command) arrives."""

    def __init__(self, mode, stop_event):
        self.saw_bdat = False
        super().__init__(mode, stop_event)

    def serve(self):
        self.sock.settimeout(0.1)  # close() does not wake accept()
        while not self.stop_event.is_set():
            try:
                c, _ = self.sock.accept()
            except socket.timeout:
                continue
            except OSError:
                return
            threading.Thread(target=self.session, args=(c,),
                             daemon=True).start()

    def converse(self, c):
        """A well-behaved server (a message that comes alone goes with
        DATA) until the first BDAT: then the flood instead of replies."""
        buf, data = b'', False
        while True:
            d = c.recv(65536)
            if not d:
                self.ended = 'herald closed the connection before BDAT'
                return
            buf += d
            while b'\r\n' in buf:
                line, buf = buf.split(b'\r\n', 1)
                if data:
                    if line == b'.':
                        data = False
                        # slow enough for the other runs to queue their
                        # mail: the sender's next claim is a batch
                        time.sleep(0.5)
                        c.sendall(b'250 2.0.0 taken\r\n')
                    continue
                verb = line[:4].upper()
                if verb == b'BDAT' and not self.saw_bdat:
                    self.saw_bdat = True
                    self.flood(c)
                    return
                if verb in (b'EHLO', b'HELO'):
                    c.sendall(EHLO_REPLY)
                elif verb == b'DATA':
                    data = True
                    c.sendall(b'354 go on\r\n')
                elif verb == b'QUIT':
                    c.sendall(b'221 bye\r\n')
                    self.ended = 'herald quit before BDAT'
                    return
                else:
                    c.sendall(b'250 ok\r\n')


class HostileWindowTest(HeraldTestCase):

    def setUp(self):
        # one sender: the messages queued meanwhile go out as one batch
        self.h = Herald(env={'HERALD_MAIL_SENDERS': '1'})
        self.h.start()

    def attempt(self, mode):
        pid = self.h.proc.pid
        base_rss, stop, srv, sampler = hostile_start(pid, HostileWindowSMTP,
                                                     mode)
        self.h.api('PUT', '/api/v1/applets/Hostile',
                   'event manager applet Hostile\n event none\n'
                   ' action 1 mail server "127.0.0.1" to "noc@example.test"'
                   ' from "soak@example.test" subject "hostile" body "hello"'
                   ' port %d secure none\n' % srv.port, expect=201)
        t0 = time.monotonic()
        msg, items = None, None
        try:
            # several messages, so that the outbox claims a batch (one
            # alone goes with DATA; the server takes that one)
            for _ in range(RUNS):
                self.h.api('POST', '/api/v1/applets/Hostile/run', {},
                           expect=202)
            while msg is None and time.monotonic() - t0 < SAFETY_SECONDS + 10:
                items = self.h.api('GET', '/api/v1/outbox',
                                   expect=200)['items']
                msg = next((m for m in items if m.get('last_error')), None)
                time.sleep(0.05)
        finally:
            duration = time.monotonic() - t0
            peak = hostile_stop(pid, stop, srv, sampler)
        self.assertIsNotNone(msg, 'no failed attempt recorded within %d s; '
                             'server: %s, BDAT seen: %s; outbox: %s; log: %s'
                             % (SAFETY_SECONDS + 10, srv.ended, srv.saw_bdat,
                                items, self.h.log()[-3000:]))
        err = msg['last_error']
        detail = self.h.api('GET', '/api/v1/outbox/%d' % msg['id'],
                            expect=200)
        print('\nsoak window %-12s peak RSS %.1f MB (before %.1f MB, %d '
              'samples), attempt recorded after %.3f s, server sent %d bytes '
              '(%s); state=%s klass=%s message="%s"'
              % (mode, peak / 1048576, base_rss / 1048576, sampler.samples,
                 duration, srv.sent, srv.ended, msg['state'],
                 err.get('klass'), err.get('message')), flush=True)
        self.assertTrue(srv.saw_bdat, 'herald sent no BDAT window')
        self.assertEqual(err.get('klass'), 'protocol', err)
        # nothing lost: the message waits for its next attempt
        self.assertEqual(msg['state'], 'queued', msg)
        self.assertEqual(detail['attempt_count'], 1, detail)
        self.assertLess(peak, PEAK_RSS_MAX,
                        'herald peaked at %.1f MB' % (peak / 1048576))
        self.assertLess(duration, SAFETY_SECONDS)
        st, _, hz = self.h.request('GET', '/healthz', token=None)
        self.assertEqual(st, 200, hz)
        return err

    def test_endless_continuation_lines_in_a_window(self):
        err = self.attempt('continuation')
        self.assertIn('reply of more than 1000 lines', err.get('message'))

    def test_endless_line_in_a_window(self):
        err = self.attempt('long_line')
        self.assertIn('reply line longer than 4096 octets',
                      err.get('message'))


if __name__ == '__main__':
    unittest.main()
