# SPDX-License-Identifier: MIT
"""tests/soak/test_slow_destination.py: one slow mail server cannot hold
the outbox's senders while another destination has mail (issue 11).

The report: 16 messages to a server that dripped its replies close to the
30 s deadline held a message to a healthy server for 22 s, because every
sender was stuck in a session with the slow one. Here a slow SMTP server
on 127.0.0.1 (in this file) answers every command 4 s late; 16 runs of an
applet queue mail to it, then one run queues mail to the real Postfix of
tests/lib/mailenv.py (STARTTLS, AUTH, chain validation). The healthy
message must land while the slow ones are still being sent: within
HEALTHY_MAX seconds, which is less than two of the slow server's delays.
The figures (time to the healthy delivery, slow messages still pending
then) are printed.
"""
import socket
import threading
import time
import unittest
import uuid

from itest import (USER, api, mailenv_module, put_applet, put_env,
                   run_applet, server_string, start_herald, wait_count)

ENV = None
setUpModule, tearDownModule = mailenv_module(globals())

DELAY = 4.0          # the slow server's delay before each reply, seconds
SLOW_MESSAGES = 16
HEALTHY_MAX = 6.0    # < 2 * DELAY: no sender waited for the slow server


class SlowServer(threading.Thread):
    """Plain SMTP that accepts everything, each reply DELAY seconds late."""

    def __init__(self):
        super().__init__(daemon=True)
        self.sock = socket.socket()
        self.sock.bind(('127.0.0.1', 0))
        self.sock.listen(64)
        self.port = self.sock.getsockname()[1]
        self.stop = threading.Event()
        self.delivered = 0
        self.lock = threading.Lock()

    def run(self):
        self.sock.settimeout(0.2)
        while not self.stop.is_set():
            try:
                c, _ = self.sock.accept()
            except socket.timeout:
                continue
            except OSError:
                return
            threading.Thread(target=self.session, args=(c,),
                             daemon=True).start()

    def reply(self, f, text):
        if self.stop.wait(DELAY):
            raise OSError('stopping')
        f.write(text.encode() + b'\r\n')
        f.flush()

    def session(self, c):
        try:
            with c, c.makefile('rwb') as f:
                self.reply(f, '220 slow.example ESMTP')
                while True:
                    line = f.readline()
                    if not line:
                        return
                    cmd = line.strip().upper()
                    if cmd.startswith(b'EHLO') or cmd.startswith(b'HELO'):
                        self.reply(f, '250 slow.example')
                    elif cmd == b'DATA':
                        self.reply(f, '354 go ahead')
                        while f.readline().rstrip(b'\r\n') != b'.':
                            pass
                        self.reply(f, '250 queued')
                        with self.lock:
                            self.delivered += 1
                    elif cmd == b'QUIT':
                        self.reply(f, '221 bye')
                        return
                    else:
                        self.reply(f, '250 ok')
        except OSError:
            pass


class SlowDestinationTest(unittest.TestCase):
    def setUp(self):
        self.slow = SlowServer()
        self.slow.start()
        self.h = start_herald()

    def tearDown(self):
        self.slow.stop.set()
        self.slow.sock.close()
        self.h.stop()
        self.h.cleanup()

    def test_healthy_destination_is_not_held_by_a_slow_one(self):
        token = uuid.uuid4().hex
        put_env(self.h, '_email_server', server_string(
            ENV, ENV.ports['submission'], host='localhost'))
        put_applet(self.h, 'event manager applet Slow\n event none\n'
                   ' action 1 mail server "alerts@127.0.0.1" to '
                   '"noc@example.test" from "%s" subject "slow" body "b" '
                   'port %d secure none\n' % (USER, self.slow.port))
        put_applet(self.h, 'event manager applet Fast\n event none\n'
                   ' action 1 mail server "$_email_server" to '
                   '"noc@example.test" from "%s" subject "%s" body "b" '
                   'port %d secure tls\n'
                   % (USER, token, ENV.ports['submission']))
        for _ in range(SLOW_MESSAGES):
            run_applet(self.h, 'Slow', expect=202)
            time.sleep(0.02)     # each wakes a sender of its own
        time.sleep(0.5)
        t0 = time.monotonic()
        run_applet(self.h, 'Fast', expect=202)
        wait_count(ENV, 'noc@example.test', token, 1, timeout=60, h=self.h)
        took = time.monotonic() - t0
        with self.slow.lock:
            slow_done = self.slow.delivered
        print('\nhealthy destination delivered after %.2f s; slow server: '
              '%d of %d delivered by then, %.0f s per reply'
              % (took, slow_done, SLOW_MESSAGES, DELAY))
        self.assertLess(took, HEALTHY_MAX)
        self.assertLess(slow_done, SLOW_MESSAGES)
        box = api(self.h, 'GET', '/api/v1/outbox')
        self.assertTrue(box['items'])


if __name__ == '__main__':
    unittest.main()
