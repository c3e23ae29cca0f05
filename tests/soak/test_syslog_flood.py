# SPDX-License-Identifier: MIT
"""tests/soak/test_syslog_flood.py: a syslog flood does not grow the run
store (issue 11).

herald listens for syslog on a free loopback port, with 2 workers and the
default trigger queue bound (16 queued runs per applet). The applet Flood
fires on every line matching "FLOOD-TEST" and its action waits 1 s, so
its runs queue up. One TCP connection (reliable: every line arrives and is
matched) sends 10,000 matching lines as fast as the socket takes them,
while /healthz is asked every 0.2 s.

Then: the runs created are at most the bound plus the workers plus a small
margin; every other line is counted in the applet's "dropped" (runs +
dropped == lines: nothing lost silently, nothing recorded twice); herald's
log holds at most a few "triggers-dropped" lines and they add up to the
same count; /healthz answered within 1 s throughout; the database (with
its WAL) stays small. The figures are printed.
"""
import glob
import os
import re
import socket
import sys
import threading
import time
import unittest

from herald import Herald

LINES = 10000
BOUND = 16                      # herald's default --trigger-queue
WORKERS = 2
MARGIN = 8                      # runs that start while the flood is read
DB_LIMIT = 4 * 1024 * 1024      # the old code wrote 32 MB for 10,100 lines
ANSWER_WITHIN = 1.0
APPLET = 'Flood'


def free_port():
    """A loopback port free for both TCP and UDP right now."""
    for _ in range(50):
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as t:
            t.bind(('127.0.0.1', 0))
            port = t.getsockname()[1]
            try:
                with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as u:
                    u.bind(('127.0.0.1', port))
                return port
            except OSError:
                continue
    raise AssertionError('no free loopback port for TCP and UDP')


def count_runs(h, applet):
    n, cursor = 0, None
    for _ in range(200):
        path = '/api/v1/runs?applet=%s&limit=500' % applet
        if cursor:
            path += '&cursor=%s' % cursor
        data = h.api('GET', path, expect=200)
        n += len(data['items'])
        cursor = data.get('next_cursor')
        if not cursor:
            break
    return n


def db_size(data_dir):
    return sum(os.path.getsize(p)
               for p in glob.glob(os.path.join(data_dir, 'herald.db*')))


class SyslogFloodTest(unittest.TestCase):
    def test_flood_is_bounded_counted_and_logged_sparingly(self):
        port = free_port()
        with Herald(env={'HERALD_SYSLOG_LISTEN': '127.0.0.1:%d' % port,
                         'HERALD_WORKERS': str(WORKERS)}) as h:
            self.run_flood(h, port)

    def healthz_poller(self, h, stop, lat):
        while not stop.is_set():
            t = time.monotonic()
            try:
                st, _, _ = h.request('GET', '/healthz', token=None,
                                     timeout=5)
            except OSError:
                st = None
            lat.append((st, time.monotonic() - t))
            stop.wait(0.2)

    def wait_for(self, what, pred, timeout):
        deadline = time.monotonic() + timeout
        while True:
            v = pred()
            if v:
                return v
            if time.monotonic() > deadline:
                raise AssertionError('%s: not within %d s' % (what, timeout))
            time.sleep(0.25)

    def dropped(self, h):
        a = h.api('GET', '/api/v1/applets/%s' % APPLET, expect=200)
        self.assertIn('dropped', a, 'the applet does not show its dropped '
                      'triggers: %s' % a)
        return a['dropped']

    def run_flood(self, h, port):
        h.api('PUT', '/api/v1/applets/%s' % APPLET,
              'event manager applet %s\n'
              ' event syslog pattern "FLOOD-TEST"\n'
              ' action 010 wait 1\n'
              ' action 020 puts "$_syslog_msg"\n' % APPLET, expect=201)
        # Registration is done once a probe line fires a run.
        probe = 0
        deadline = time.monotonic() + 10
        while count_runs(h, APPLET) == 0:
            self.assertLess(time.monotonic(), deadline,
                            'the syslog applet never fired:\n%s'
                            % h.log()[-3000:])
            with socket.create_connection(('127.0.0.1', port), 5) as s:
                s.sendall(b'<187>Nov 27 17:00:00 sw1 %FLOOD-TEST: probe\n')
            probe += 1
            time.sleep(0.3)
        time.sleep(1.5)             # the probe runs are over
        before_runs = count_runs(h, APPLET)
        before_drop = self.dropped(h)['syslog']
        size0 = db_size(h.data_dir)

        stop, lat = threading.Event(), []
        poller = threading.Thread(target=self.healthz_poller,
                                  args=(h, stop, lat), daemon=True)
        poller.start()
        data = b''.join(b'<187>Nov 27 17:00:01 sw1 %%FLOOD-TEST: Interface '
                        b'Gi0/%d, changed state to down\n' % i
                        for i in range(LINES))
        t0 = time.monotonic()
        with socket.create_connection(('127.0.0.1', port), 5) as s:
            s.sendall(data)
        sent_s = time.monotonic() - t0
        try:
            # Every line is either a run or a drop.
            self.wait_for('runs + dropped == %d lines' % LINES,
                          lambda: count_runs(h, APPLET) - before_runs
                          + self.dropped(h)['syslog'] - before_drop
                          >= LINES, 60)
            runs = count_runs(h, APPLET) - before_runs
            drops = self.dropped(h)
            dropped = drops['syslog'] - before_drop

            # The log reports all of them, in few lines (one per 10 s).
            def logged():
                lines = [ln for ln in h.log().splitlines()
                         if 'event=triggers-dropped' in ln]
                total = sum(int(re.search(r' syslog=(\d+)', ln).group(1))
                            for ln in lines)
                return lines if total >= drops['syslog'] else None
            log_lines = self.wait_for('the drops in the log', logged, 30)
        finally:
            stop.set()
            poller.join(10)
        size = db_size(h.data_dir)
        worst = max(d for _, d in lat) if lat else 0
        print('\nlines sent: %d (+%d probe) in %.2f s; runs created: %d; '
              'dropped: %d (queue_full %d, ratelimited %d); runs + dropped: '
              '%d\ndatabase: %d KiB (before the flood %d KiB); '
              '"triggers-dropped" log lines: %d; /healthz: %d answers, '
              'worst %.3f s'
              % (LINES, probe, sent_s, runs, dropped, drops['queue_full'],
                 drops['ratelimited'], runs + dropped, size // 1024,
                 size0 // 1024, len(log_lines), len(lat), worst),
              file=sys.stderr)
        for ln in log_lines:
            print('  ' + ln, file=sys.stderr)

        self.assertLessEqual(runs, BOUND + WORKERS + MARGIN,
                             'the flood created too many runs')
        self.assertEqual(runs + dropped, LINES,
                         'lines neither run nor counted as dropped')
        self.assertIsNotNone(drops['last'], drops)
        self.assertIsNotNone(drops['since'], drops)
        self.assertLessEqual(len(log_lines), 3, '\n'.join(log_lines))
        self.assertIn('bound=%d' % BOUND, log_lines[0])
        self.assertLess(size, DB_LIMIT, 'the database grew to %d bytes'
                        % size)
        bad = [(st, round(d, 3)) for st, d in lat
               if st != 200 or d > ANSWER_WITHIN]
        self.assertEqual(bad, [], '/healthz not answered 200 within %s s'
                         % ANSWER_WITHIN)
        self.assertGreater(len(lat), 0)
        self.assertTrue(h.running(), 'herald died under the flood')


if __name__ == '__main__':
    unittest.main()
