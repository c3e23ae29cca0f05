# SPDX-License-Identifier: MIT
"""tests/api/test_http.py: the HTTP layer as a client sees it.

Authentication (401 + WWW-Authenticate, /healthz open), unknown routes
(404), wrong methods (405 + Allow), body limits (413), content types (415),
invalid JSON (400 with position), keep-alive, a slow client that does not
block others, 300 concurrent connections, header and body deadlines (408),
the per-address connection limit, waiting connections closed when slots
run short, --max-connections fitted to RLIMIT_NOFILE, the command line
(exit codes and messages) and start-up errors (data directory, database,
port in use), the admin token file (0600, printed once).
"""
import json
import os
import socket
import stat
import subprocess
import tempfile
import threading
import time
import unittest
import http.client

from herald import Herald, run_herald, sqlite_only


class HttpTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.h = Herald(args=['--max-body', '65536', '--timeout', '5',
                             '--access-log'])
        cls.h.start()

    @classmethod
    def tearDownClass(cls):
        try:
            cls.h.stop()
        finally:
            cls.h.cleanup()

    def assertError(self, resp, status, code):
        st, hdrs, body = resp
        self.assertEqual(st, status, body)
        self.assertIn('application/json', hdrs.get('content-type', ''))
        self.assertIsInstance(body, dict, body)
        self.assertEqual(body['error']['code'], code, body)
        self.assertTrue(body['error']['message'], body)
        return body['error']

    def test_healthz_needs_no_token(self):
        st, _, body = self.h.request('GET', '/healthz', token=None)
        self.assertEqual(st, 200)
        self.assertEqual(body['status'], 'ok')
        self.assertEqual(body['version'], '0.1.0')
        self.assertIsInstance(body['uptime_s'], (int, float))

    def test_version_needs_token(self):
        self.assertError(self.h.request('GET', '/api/v1/version',
                                        token=None), 401, 'unauthorized')
        st, _, body = self.h.request('GET', '/api/v1/version')
        self.assertEqual((st, body['version']), (200, '0.1.0'))

    def test_missing_token_is_401_with_bearer_challenge(self):
        st, hdrs, body = self.h.request('GET', '/api/v1/environment',
                                        token=None)
        self.assertEqual(st, 401)
        self.assertTrue(hdrs.get('www-authenticate', '').startswith(
            'Bearer'))
        self.assertEqual(body['error']['code'], 'unauthorized')

    def test_wrong_token_is_401(self):
        for tok in ('x' * 48, self.h.token[:-1], self.h.token + 'a'):
            e = self.assertError(self.h.request(
                'GET', '/api/v1/environment', token=tok), 401,
                'unauthorized')
            self.assertIn('wrong', e['message'])
        # not a bearer scheme at all
        st, _, _ = self.h.request('GET', '/api/v1/environment', token=None,
                                  headers={'Authorization': 'Basic eDp5'})
        self.assertEqual(st, 401)

    def test_unknown_route_is_404(self):
        e = self.assertError(self.h.request('GET', '/api/v1/nope'), 404,
                             'not_found')
        self.assertIn('/api/v1/nope', e['message'])
        # no token: the API shape is not revealed
        self.assertError(self.h.request('GET', '/api/v1/nope', token=None),
                         401, 'unauthorized')

    def test_unknown_object_is_404(self):
        for path in ('/api/v1/environment/none_such',
                     '/api/v1/applets/NoneSuch',
                     '/api/v1/trustpoints/NoneSuch'):
            e = self.assertError(self.h.request('GET', path), 404,
                                 'not_found')
            self.assertIn(path.rsplit('/', 1)[1], e['message'])
            self.assertError(self.h.request('DELETE', path), 404,
                             'not_found')

    def test_wrong_method_is_405_with_allow(self):
        st, hdrs, body = self.h.request('PATCH', '/api/v1/environment/x')
        self.assertEqual(st, 405, body)
        self.assertEqual(body['error']['code'], 'method_not_allowed')
        allow = [m.strip() for m in hdrs['allow'].split(',')]
        self.assertEqual(sorted(allow), ['DELETE', 'GET', 'PUT'])
        st, hdrs, _ = self.h.request('DELETE', '/api/v1/applets')
        self.assertEqual(st, 405)
        self.assertEqual(sorted(m.strip() for m in hdrs['allow'].split(',')),
                         ['GET', 'POST'])
        # a literal path is never read as a capture ({name} = import-chain)
        st, hdrs, body = self.h.request('GET',
                                        '/api/v1/trustpoints/import-chain')
        self.assertEqual(st, 405, body)
        self.assertEqual(hdrs['allow'], 'POST')
        st, _, body = self.h.request('POST', '/api/v1/trustpoints',
                                     {'name': 'import-chain'})
        self.assertEqual(st, 400, body)
        self.assertEqual(body['error']['field'], 'name')

    def test_body_over_max_body_is_413(self):
        big = {'value': 'x' * 70000}
        e = self.assertError(self.h.request(
            'PUT', '/api/v1/environment/big', big), 413, 'too_large')
        self.assertIn('65536', e['message'])
        # much larger than the socket buffers: the client, which writes
        # the whole body before reading, still gets the 413
        self.assertError(self.h.request(
            'PUT', '/api/v1/environment/big', {'value': 'y' * (3 << 20)}),
            413, 'too_large')
        # nothing was stored
        self.assertEqual(self.h.request(
            'GET', '/api/v1/environment/big')[0], 404)
        # the server is fine afterwards
        self.assertEqual(self.h.request('GET', '/healthz')[0], 200)

    def test_expect_100_continue_over_max_body_is_refused_before_body(self):
        s = socket.create_connection((self.h.host, self.h.port), timeout=10)
        try:
            s.sendall(('PUT /api/v1/environment/e HTTP/1.1\r\nHost: x\r\n'
                       'Authorization: Bearer %s\r\n'
                       'Content-Type: application/json\r\n'
                       'Content-Length: 900000\r\n'
                       'Expect: 100-continue\r\n\r\n'
                       % self.h.token).encode())
            data = s.recv(4096)
            self.assertTrue(data.startswith(b'HTTP/1.1 413'), data)
            self.assertNotIn(b'100 Continue', data)
        finally:
            s.close()

    def test_chunked_body_over_max_body_is_413(self):
        c = http.client.HTTPConnection(self.h.host, self.h.port, timeout=10)
        try:
            def chunks():
                for _ in range(20):
                    yield b'x' * 8192
            c.request('POST', '/api/v1/config', body=chunks(),
                      headers={'Authorization': 'Bearer ' + self.h.token,
                               'Content-Type': 'text/plain'},
                      encode_chunked=True)
            r = c.getresponse()
            self.assertEqual(r.status, 413)
            self.assertIn(b'too_large', r.read())
        finally:
            c.close()

    def test_wrong_content_type_is_415(self):
        e = self.assertError(self.h.request(
            'PUT', '/api/v1/environment/x', '{"value":"1"}',
            content_type='text/plain'), 415, 'unsupported_media_type')
        self.assertIn('application/json', e['message'])
        e = self.assertError(self.h.request(
            'POST', '/api/v1/applets', b'event manager applet A',
            content_type='application/octet-stream'), 415,
            'unsupported_media_type')
        self.assertIn('text/plain', e['message'])

    def test_invalid_json_is_400_with_position(self):
        e = self.assertError(self.h.request(
            'PUT', '/api/v1/environment/x', '{"value": "1",\n "secret": tru}',
            content_type='application/json'), 400, 'invalid_json')
        self.assertEqual(e['line'], 2)
        self.assertIn('position', e['message'])
        # trailing garbage after a valid document is refused too
        self.assertError(self.h.request(
            'PUT', '/api/v1/environment/x', '{"value":"1"} x',
            content_type='application/json'), 400, 'invalid_json')
        self.assertError(self.h.request(
            'PUT', '/api/v1/environment/x', '[1,2]',
            content_type='application/json'), 400, 'invalid_json')
        self.assertError(self.h.request(
            'PUT', '/api/v1/environment/x', '',
            content_type='application/json'), 400, 'invalid_json')

    def test_wrong_field_type_is_400_naming_the_field(self):
        e = self.assertError(self.h.request(
            'PUT', '/api/v1/environment/x', {'value': 5}), 400,
            'invalid_field')
        self.assertEqual(e['field'], 'value')
        e = self.assertError(self.h.request(
            'PUT', '/api/v1/environment/x', {'value': 'a', 'secret': 'no'}),
            400, 'invalid_field')
        self.assertEqual(e['field'], 'secret')
        e = self.assertError(self.h.request(
            'PUT', '/api/v1/environment/x', {}), 400, 'missing_field')
        self.assertEqual(e['field'], 'value')
        e = self.assertError(self.h.request(
            'PUT', '/api/v1/environment/x', {'value': 'a', 'colour': 1}),
            400, 'invalid_field')
        self.assertEqual(e['field'], 'colour')

    def test_oversized_headers_are_refused(self):
        s = socket.create_connection((self.h.host, self.h.port), timeout=10)
        try:
            s.sendall(b'GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: ' +
                      b'a' * 100000 + b'\r\n\r\n')
            data = s.recv(100)
            self.assertTrue(data.startswith(b'HTTP/1.1 431'), data)
        except ConnectionResetError:
            pass        # refused before the answer was read: also fine
        finally:
            s.close()
        self.assertEqual(self.h.request('GET', '/healthz')[0], 200)

    def test_keep_alive_serves_several_requests_on_one_connection(self):
        c = http.client.HTTPConnection(self.h.host, self.h.port, timeout=10)
        try:
            for _ in range(5):
                c.request('GET', '/healthz')
                r = c.getresponse()
                r.read()
                self.assertEqual(r.status, 200)
                self.assertNotEqual(r.getheader('Connection', ''), 'close')
        finally:
            c.close()

    def test_slow_client_does_not_block_others(self):
        slow = []
        try:
            for _ in range(8):   # more than the 4 HTTP threads
                s = socket.create_connection((self.h.host, self.h.port))
                s.sendall(b'GET /healthz HTTP/1.1\r\nHost: x\r\nX-Slo')
                slow.append(s)
            t0 = time.monotonic()
            for _ in range(10):
                st, _, _ = self.h.request('GET', '/healthz', timeout=5)
                self.assertEqual(st, 200)
            self.assertLess(time.monotonic() - t0, 3.0)
        finally:
            for s in slow:
                s.close()

    def test_idle_connection_is_closed_after_timeout(self):
        s = socket.create_connection((self.h.host, self.h.port))
        try:
            s.sendall(b'GET /healthz HTTP/1.1\r\nHost: x\r\n')
            s.settimeout(15)
            t0 = time.monotonic()
            data = s.recv(100)      # '' when the server closes
            self.assertEqual(data, b'')
            self.assertLess(time.monotonic() - t0, 12)
        finally:
            s.close()

    def test_300_concurrent_connections_do_not_crash_it(self):
        socks, lock, results = [], threading.Lock(), []
        try:
            for _ in range(300):
                try:
                    socks.append(socket.create_connection(
                        (self.h.host, self.h.port), timeout=5))
                except OSError:
                    pass

            def one():
                try:
                    st, _, _ = self.h.request('GET', '/healthz', timeout=20)
                except Exception as e:   # refused or reset past the limit
                    st = repr(e)
                with lock:
                    results.append(st)
            ts = [threading.Thread(target=one) for _ in range(50)]
            for t in ts:
                t.start()
            for s in socks:
                s.close()
            socks = []
            for t in ts:
                t.join(30)
        finally:
            for s in socks:
                s.close()
        self.assertEqual(len(results), 50)
        self.assertTrue(self.h.running(), 'herald died under load')
        time.sleep(0.5)
        st, _, _ = self.h.request('GET', '/healthz')
        self.assertEqual(st, 200)

    def test_access_log_has_no_secrets(self):
        self.h.request('PUT', '/api/v1/environment/logcheck',
                       {'value': 'body-secret-4711'},
                       headers={'X-Trace': '1'})
        log = self.h.wait_log('path=/api/v1/environment/logcheck')
        self.assertIn('path=/api/v1/environment/logcheck status=201', log)
        self.assertNotIn('body-secret-4711', log)
        self.assertNotIn(self.h.token, log)

    def test_console_is_served_without_token(self):
        st, hdrs, body = self.h.request('GET', '/', token=None)
        if st == 404:
            self.skipTest('no web console directory in this build')
        self.assertEqual(st, 200)
        self.assertIn('text/html', hdrs['content-type'])
        self.assertIn('<', body)

    def test_console_refuses_path_traversal(self):
        for p in ('/../CMakeLists.txt', '/ui/../../CMakeLists.txt',
                  '/%2e%2e/CMakeLists.txt', '/ui/%2e%2e/%2e%2e/etc/passwd',
                  '/.git/config'):
            st, _, body = self.h.request('GET', p, token=None)
            self.assertEqual(st, 404, (p, body))


class StaticDirTest(unittest.TestCase):
    def test_web_dir_content_types_and_index(self):
        d = tempfile.mkdtemp(prefix='herald-web-')
        with open(os.path.join(d, 'index.html'), 'w') as f:
            f.write('<!doctype html><title>t</title>')
        with open(os.path.join(d, 'app.js'), 'w') as f:
            f.write('console.log(1)')
        with open(os.path.join(d, 'style.css'), 'w') as f:
            f.write('body{}')
        outside = os.path.join(os.path.dirname(d), 'herald-outside.txt')
        with open(outside, 'w') as f:
            f.write('secret outside')
        os.symlink(outside, os.path.join(d, 'link.txt'))
        try:
            with Herald(args=['--web-dir', d]) as h:
                st, hd, body = h.request('GET', '/', token=None)
                self.assertEqual(st, 200)
                self.assertIn('text/html', hd['content-type'])
                self.assertIn('<title>t</title>', body)
                st, hd, body = h.request('GET', '/ui/app.js', token=None)
                self.assertEqual(st, 200)
                self.assertIn('javascript', hd['content-type'])
                st, hd, _ = h.request('GET', '/style.css', token=None)
                self.assertEqual((st, hd['content-type'].split(';')[0]),
                                 (200, 'text/css'))
                st, _, body = h.request('GET', '/link.txt', token=None)
                self.assertEqual(st, 404)
                self.assertNotIn('secret outside', str(body))
        finally:
            os.unlink(outside)
            subprocess.run(['rm', '-rf', d])


class ConnectionLimitTest(unittest.TestCase):
    """Slots: deadlines for the header block and the body (however the
    client drips), the per-address limit, and waiting connections closed
    when the slots run short. tests/soak/test_http_flood.py does the same
    at scale."""

    def drip(self, s, data, every=0.3, within=10):
        """Sends data a byte at a time until herald closes; returns
        (what herald sent, seconds until it closed)."""
        s.settimeout(every)
        got, t0, i = b'', time.monotonic(), 0
        while time.monotonic() - t0 < within:
            try:
                if i < len(data):
                    s.send(data[i:i + 1])
                    i += 1
                d = s.recv(4096)
                if not d:
                    return got, time.monotonic() - t0
                got += d
            except socket.timeout:
                continue
            except OSError:
                return got, time.monotonic() - t0
        self.fail('herald kept a dripping connection open for %ss' % within)

    def headers_time_out(self, h, secs):
        """Drips a request's headers; asserts a 408 within secs (the
        --header-timeout) and a margin. Returns what herald sent."""
        s = socket.create_connection((h.host, h.port))
        try:
            got, dt = self.drip(s, b'GET /healthz HTTP/1.1\r\nHost: x\r\n'
                                b'X-Slow: ' + b'a' * 100)
        finally:
            s.close()
        self.assertLess(dt, secs + 1.5)
        self.assertTrue(got.startswith(b'HTTP/1.1 408'), got)
        return got

    def test_header_and_body_deadlines_close_dripping_clients(self):
        with Herald(args=['--header-timeout', '2', '--body-timeout', '2',
                          '--timeout', '30']) as h:
            got = self.headers_time_out(h, 2)
            self.assertIn(b'application/json', got)
            body = json.loads(got.split(b'\r\n\r\n', 1)[1])
            self.assertEqual(body['error']['code'], 'timeout')
            self.assertIn('--header-timeout', body['error']['message'])
            # a body that drips gets its own deadline
            s = socket.create_connection((h.host, h.port))
            try:
                s.sendall(('PUT /api/v1/environment/slow HTTP/1.1\r\n'
                           'Host: x\r\nAuthorization: Bearer %s\r\n'
                           'Content-Type: application/json\r\n'
                           'Content-Length: 100\r\n\r\n' % h.token).encode())
                got, dt = self.drip(s, b'{"value":"' + b'x' * 100)
            finally:
                s.close()
            self.assertLess(dt, 2 + 1.5)
            self.assertTrue(got.startswith(b'HTTP/1.1 408'), got)
            self.assertIn(b'--body-timeout', got)
            self.assertEqual(h.request('GET', '/api/v1/environment/slow')[0],
                             404)
            # an idle keep-alive connection just ends, without a 408
            c = http.client.HTTPConnection(h.host, h.port, timeout=10)
            try:
                c.request('GET', '/healthz')
                r = c.getresponse()
                r.read()
                self.assertEqual(r.status, 200)
                t0 = time.monotonic()
                self.assertEqual(c.sock.recv(100), b'')
                self.assertLess(time.monotonic() - t0, 2 + 1.5)
            finally:
                c.close()
            self.assertIn('event=conn-drop', h.wait_log('event=conn-drop'))

    @staticmethod
    def thread_names(pid):
        names = []
        for t in os.listdir('/proc/%d/task' % pid):
            try:
                with open('/proc/%d/task/%s/comm' % (pid, t)) as f:
                    names.append(f.read().strip())
            except OSError:
                pass  # ended meanwhile
        return names

    def wait_threads(self, h, pred, what, within=15):
        t0 = time.monotonic()
        while time.monotonic() - t0 < within:
            names = self.thread_names(h.proc.pid)
            if pred(names):
                return names
            time.sleep(0.2)
        self.fail('%s within %d s; threads: %s' % (what, within, names))

    def test_idle_server_keeps_no_reaper_or_timer_thread(self):
        # an idle herald holds only what it needs (docs/design.md, Memory):
        # the connection reaper ends once no connection is open, the timer
        # thread runs only while a timer applet is registered; both come
        # back when needed
        with Herald(args=['--header-timeout', '2']) as h:
            self.assertEqual(h.request('GET', '/healthz')[0], 200)
            self.wait_threads(
                h, lambda n: 'herald-reaper' not in n
                and 'herald-timer' not in n,
                'the reaper and the timer thread did not end')
            # a dripping client is still closed on time: the reaper is back
            self.headers_time_out(h, 2)
            # a timer applet starts the timer thread; it fires; deleting the
            # applet ends the thread
            h.api('POST', '/api/v1/applets',
                  'event manager applet Tick\n event timer watchdog time 1\n'
                  ' action 1 puts "tick"\n', expect=201)
            self.wait_threads(h, lambda n: 'herald-timer' in n,
                              'no timer thread for a timer applet', within=5)
            t0 = time.monotonic()
            while time.monotonic() - t0 < 10:
                runs = h.api('GET', '/api/v1/runs?applet=Tick', expect=200)
                if runs.get('items'):
                    break
                time.sleep(0.2)
            self.assertTrue(runs.get('items'), runs)
            h.api('DELETE', '/api/v1/applets/Tick', expect=204)
            self.wait_threads(h, lambda n: 'herald-timer' not in n,
                              'the timer thread did not end')

    def test_one_address_cannot_take_every_slot(self):
        with Herald(args=['--max-connections', '64',
                          '--max-connections-per-ip', '8']) as h:
            socks = []
            try:
                for _ in range(20):
                    s = socket.socket()
                    s.bind(('127.0.0.2', 0))
                    s.connect((h.host, h.port))
                    socks.append(s)
                # the 12 over the limit are closed; on a loaded machine
                # that may take a while, so wait for them (up to 10 s),
                # then look once more that the other 8 stay open
                closed = set()

                def sweep():
                    for i, s in enumerate(socks):
                        if i in closed:
                            continue
                        s.settimeout(0.05)
                        try:
                            if s.recv(1) == b'':
                                closed.add(i)
                        except socket.timeout:
                            pass
                        except ConnectionResetError:
                            closed.add(i)
                deadline = time.monotonic() + 10
                sweep()
                while len(closed) < 12 and time.monotonic() < deadline:
                    time.sleep(0.1)
                    sweep()
                time.sleep(0.3)
                sweep()
                self.assertEqual(len(closed), 12)
                st, _, _ = h.request('GET', '/api/v1/applets', timeout=2)
                self.assertEqual(st, 200)
            finally:
                for s in socks:
                    s.close()
            self.assertIn('max_conn=64 per_ip=8', h.log())

    def test_waiting_connections_are_closed_when_slots_run_short(self):
        # 15 of 16 slots taken by clients that send nothing: from 7/8 on,
        # those waiting 2 s are closed, long before --header-timeout
        with Herald(args=['--threads', '1', '--max-connections', '16',
                          '--max-connections-per-ip', '8',
                          '--header-timeout', '60']) as h:
            socks = []
            try:
                for addr, n in (('127.0.0.2', 8), ('127.0.0.3', 7)):
                    for _ in range(n):
                        s = socket.socket()
                        s.bind((addr, 0))
                        s.connect((h.host, h.port))
                        socks.append(s)
                t0 = time.monotonic()
                for i, s in enumerate(socks):
                    s.settimeout(max(0.1, 15 - (time.monotonic() - t0)))
                    try:
                        got = s.recv(4096)
                    except socket.timeout:
                        # what the reaper saw, for whoever reads this
                        self.fail('connection %d of %d got no 408 within '
                                  '15 s (%d did); herald log:\n%s'
                                  % (i + 1, len(socks), i,
                                     h.log()[-3000:]))
                    self.assertTrue(got.startswith(b'HTTP/1.1 408'), got)
                # 2 s plus the reaper's tick, with room for a loaded
                # machine: what matters is long before --header-timeout 60
                self.assertLess(time.monotonic() - t0, 15)
                st, _, _ = h.request('GET', '/api/v1/applets', timeout=2)
                self.assertEqual(st, 200)
            finally:
                for s in socks:
                    s.close()
            self.assertIn('idle_when_full=15', h.wait_log('idle_when_full=15'))

    def test_max_connections_is_lowered_to_fit_rlimit_nofile(self):
        class Limited(Herald):
            def command(self):
                return ['prlimit', '--nofile=600:600'] + super().command()
        with Limited(args=['--max-connections', '5000']) as h:
            self.assertEqual(h.request('GET', '/healthz')[0], 200)
            log = h.log()
        self.assertIn('event=max-connections-lowered asked=5000 '
                      'max_conn=344 nofile=600', log)
        self.assertIn('event=limits max_conn=344 per_ip=86', log)


class AccessLogTest(unittest.TestCase):
    """At the default level a request flood writes no line per request
    (issue 15: 834k lines, 85 MB in 80 s of wrk); --access-log asks for
    them, and 5xx or aborted requests are logged anyway."""

    def requests(self, h, n):
        for _ in range(n):
            st, _, _ = h.request('GET', '/api/v1/applets')
            self.assertEqual(st, 200)

    def test_no_line_per_request_by_default(self):
        with Herald() as h:
            self.requests(h, 50)
            h.stop()
            self.assertEqual(h.log().count('event=request '), 0, h.log())

    def test_access_log_writes_a_line_per_request(self):
        with Herald(args=['--access-log']) as h:
            self.requests(h, 50)
            h.stop()
            lines = [ln for ln in h.log().splitlines()
                     if 'event=request ' in ln and 'path=/api/v1/applets'
                     in ln]
            self.assertGreaterEqual(len(lines), 50)
            self.assertIn('status=200', lines[0])
            self.assertNotIn('Bearer', h.log())


class CliTest(unittest.TestCase):
    def test_version_and_help(self):
        code, out, _ = run_herald(['--version'])
        self.assertEqual((code, out.strip()), (0, 'herald 0.1.0'))
        code, out, _ = run_herald(['--help'])
        self.assertEqual(code, 0)
        for flag in ('--listen', '--data-dir', '--threads', '--max-body',
                     '--max-connections', '--timeout', '--log-level',
                     '--web-dir', '--admin-token-file', 'HERALD_LISTEN',
                     '--max-connections-per-ip', '--header-timeout',
                     '--body-timeout', 'HERALD_HEADER_TIMEOUT'):
            self.assertIn(flag, out)

    def test_bad_flags_exit_2_with_a_message(self):
        cases = [
            (['serve', '--bogus'], "unknown option '--bogus'"),
            (['serve', '--threads', 'many'], '--threads'),
            (['serve', '--threads', '0'], '--threads'),
            (['serve', '--max-body', '-5'], '--max-body'),
            (['serve', '--timeout', '1x'], '--timeout'),
            (['serve', '--header-timeout', '0'], '--header-timeout'),
            (['serve', '--body-timeout', 'slow'], '--body-timeout'),
            (['serve', '--max-connections-per-ip', '0'],
             '--max-connections-per-ip'),
            (['serve', '--log-level', 'loud'], 'loud'),
            (['serve', '--listen', '127.0.0.1'], 'no port'),
            (['serve', '--listen', '127.0.0.1:99999'], 'port'),
            (['serve', '--listen'], 'needs a value'),
            (['serve', '--listen', '[::1:80'], 'IPv6'),
            (['serve', '--listen', 'example.invalid:80'], 'not an IPv4'),
            (['serve', '--web-dir', '/nonexistent/web'], 'not a directory'),
            (['serve', 'extra'], "unexpected argument 'extra'"),
            (['frobnicate'], "unknown command 'frobnicate'"),
        ]
        for args, msg in cases:
            code, out, err = run_herald(args)
            self.assertEqual(code, 2, (args, out, err))
            self.assertIn(msg, err, args)

    def test_env_value_is_checked_and_flag_wins(self):
        code, _, err = run_herald(['serve'], env={'HERALD_THREADS': 'lots'})
        self.assertEqual(code, 2)
        self.assertIn('lots', err)
        # a bad env value is overridden by a good flag: it starts
        with Herald(env={'HERALD_MAX_BODY': '2048'},
                    args=['--max-body', '4096']) as h:
            st, _, _ = h.request('PUT', '/api/v1/environment/a',
                                 {'value': 'x' * 3000})
            self.assertEqual(st, 201)
        with Herald(env={'HERALD_MAX_BODY': '2048'}) as h:
            st, _, _ = h.request('PUT', '/api/v1/environment/a',
                                 {'value': 'x' * 3000})
            self.assertEqual(st, 413)

    def test_ipv6_listen(self):
        try:
            socket.socket(socket.AF_INET6).bind(('::1', 0))
        except OSError:
            self.skipTest('no IPv6 loopback here')
        with Herald(listen='[::1]:0') as h:
            self.assertEqual(h.host, '::1')
            st, _, _ = h.request('GET', '/healthz')
            self.assertEqual(st, 200)

    def test_health_command(self):
        with Herald() as h:
            code, out, err = run_herald(
                ['health', '--listen', '127.0.0.1:%d' % h.port])
            self.assertEqual(code, 0, err)
            self.assertIn('healthy', out)
            # 0.0.0.0 (the container's listen address) means loopback
            code, _, err = run_herald(
                ['health'], env={'HERALD_LISTEN': '0.0.0.0:%d' % h.port})
            self.assertEqual(code, 0, err)
            port = h.port
        code, _, err = run_herald(['health', '--listen',
                                   '127.0.0.1:%d' % port])
        self.assertEqual(code, 1)
        self.assertIn('cannot connect', err)

    def test_port_in_use_exits_1(self):
        with Herald() as h:
            d = tempfile.mkdtemp()
            code, out, err = run_herald(
                ['serve', '--listen', '127.0.0.1:%d' % h.port,
                 '--data-dir', d], env={'HERALD_ADMIN_TOKEN': 'x' * 32})
            subprocess.run(['rm', '-rf', d])
            self.assertEqual(code, 1, err)
            self.assertIn('Address already in use', err)
            self.assertIn(str(h.port), err)

    def test_unusable_data_dir_exits_1(self):
        d = tempfile.mkdtemp()
        try:
            f = os.path.join(d, 'file')
            open(f, 'w').close()
            code, _, err = run_herald(
                ['serve', '--listen', '127.0.0.1:0', '--data-dir',
                 f + '/data'], env={'HERALD_ADMIN_TOKEN': 'x' * 32})
            self.assertEqual(code, 1)
            self.assertIn(f + '/data', err)
            self.assertIn('Not a directory', err)
        finally:
            subprocess.run(['rm', '-rf', d])

    def test_bad_runtime_variable_exits_2_and_creates_nothing(self):
        d = tempfile.mkdtemp()
        try:
            data = os.path.join(d, 'data')
            for var, value, words in (
                    ('HERALD_WORKERS', 'abc', 'between 1 and 256'),
                    ('HERALD_MAIL_SENDERS', '0', 'between 1 and 64'),
                    ('HERALD_MAIL_WAIT', 'later', '"queue" or "delivery"')):
                code, _, err = run_herald(
                    ['serve', '--listen', '127.0.0.1:0', '--data-dir', data],
                    env={'HERALD_ADMIN_TOKEN': 'x' * 32, var: value})
                self.assertEqual(code, 2, err)
                self.assertIn(var, err)
                self.assertIn(words, err)
                self.assertFalse(os.path.exists(data), var)
            code, _, err = run_herald(
                ['serve', '--workers', '0', '--data-dir', data],
                env={'HERALD_ADMIN_TOKEN': 'x' * 32})
            self.assertEqual(code, 2, err)
            self.assertIn('--workers', err)  # the flag the user typed
            self.assertFalse(os.path.exists(data))
        finally:
            subprocess.run(['rm', '-rf', d])

    @sqlite_only('a corrupt herald.db file')
    def test_corrupt_database_exits_1(self):
        d = tempfile.mkdtemp()
        try:
            with open(os.path.join(d, 'herald.db'), 'w') as f:
                f.write('garbage, not sqlite ' * 500)
            code, _, err = run_herald(
                ['serve', '--listen', '127.0.0.1:0', '--data-dir', d],
                env={'HERALD_ADMIN_TOKEN': 'x' * 32})
            self.assertEqual(code, 1)
            self.assertIn(os.path.join(d, 'herald.db'), err)
            self.assertIn('corrupt or not a SQLite database', err)
        finally:
            subprocess.run(['rm', '-rf', d])

    @unittest.skipUnless(os.environ.get('HERALD_TEST_MHD') == 'herald_mhd',
                         'built with the shared libmicrohttpd')
    @sqlite_only('libpq, loaded for a PostgreSQL URL, brings GnuTLS along '
                 '(through libldap) for its own connection')
    def test_no_tls_library_is_loaded_for_the_http_server(self):
        # libmicrohttpd.a without GnuTLS (docs/design.md, HTTP), and no
        # libpq either on SQLite (engine/store/pg_lib.h)
        with Herald() as h:
            with open('/proc/%d/maps' % h.proc.pid) as f:
                maps = f.read()
            for lib in ('libgnutls', 'libp11-kit', 'libmicrohttpd.so',
                        'libpq'):
                self.assertNotIn(lib, maps)
            # the SMTP client's TLS and the store: linked into herald
            # (CMakeLists.txt, HERALD_STATIC_LIBS), or shared libraries
            for lib, how in (('libwolfssl', 'HERALD_TEST_WOLFSSL'),
                             ('libsqlite3', 'HERALD_TEST_SQLITE')):
                if os.environ.get(how, '').startswith('herald_'):
                    self.assertNotIn(lib, maps)
                else:
                    self.assertIn(lib, maps)
            self.assertIn(os.path.realpath(h.command()[0]), maps)
            status, _, _ = h.request('GET', '/healthz', token=False)
            self.assertEqual(status, 200)

    @sqlite_only('the lock on herald.db; on PostgreSQL instances share '
                 'a database by design')
    def test_second_herald_on_the_same_data_dir_exits_1(self):
        first = Herald()
        try:
            first.start()
            first.request('PUT', '/api/v1/environment/kept',
                          {'value': 'first'})
            code, _, err = run_herald(
                ['serve', '--listen', '127.0.0.1:0', '--data-dir',
                 first.data_dir], env={'HERALD_ADMIN_TOKEN': 'x' * 32})
            self.assertEqual(code, 1)
            self.assertIn('in use by another process', err)
            # the first one is unharmed
            status, _, body = first.request('GET',
                                            '/api/v1/environment/kept')
            self.assertEqual(status, 200)
            self.assertEqual(body['value'], 'first')
        finally:
            first.stop()
            first.cleanup()


class TokenTest(unittest.TestCase):
    def test_token_file_is_created_0600_and_printed_once(self):
        h = Herald(use_token_env=False)
        try:
            h.start()
            path = os.path.join(h.data_dir, 'admin.token')
            mode = stat.S_IMODE(os.stat(path).st_mode)
            self.assertEqual(mode, 0o600)
            with open(path) as f:
                tok = f.read().strip()
            self.assertRegex(tok, r'^[0-9a-f]{64}$')
            self.assertEqual(h.token, tok)
            self.assertIn('herald: admin token (saved in %s): %s'
                          % (path, tok), h.stdout_text())
            self.assertEqual(h.request('GET', '/api/v1/environment')[0], 200)
            self.assertNotIn(tok, h.log())
            h.restart()
            # the same token, not printed again
            self.assertEqual(h.stdout_text().count(tok), 1)
            self.assertEqual(h.request('GET', '/api/v1/environment')[0], 200)
            h.stop()
        finally:
            h.cleanup()

    def test_token_from_file_option(self):
        d = tempfile.mkdtemp()
        tf = os.path.join(d, 'tok')
        with open(tf, 'w') as f:
            f.write('file-token-0123456789abcdef\n')
        try:
            with Herald(use_token_env=False, token='file-token-0123456789abcdef',
                        args=['--admin-token-file', tf]) as h:
                self.assertEqual(h.request('GET', '/api/v1/environment')[0],
                                 200)
                self.assertFalse(os.path.exists(
                    os.path.join(h.data_dir, 'admin.token')))
            code, _, err = run_herald(
                ['serve', '--listen', '127.0.0.1:0', '--data-dir', d,
                 '--admin-token-file', os.path.join(d, 'missing')])
            self.assertEqual(code, 1)
            self.assertIn('missing', err)
        finally:
            subprocess.run(['rm', '-rf', d])


if __name__ == '__main__':
    unittest.main()
