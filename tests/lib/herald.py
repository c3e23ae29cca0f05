# SPDX-License-Identifier: MIT
"""tests/lib/herald.py: start and drive a herald binary in tests.

    with Herald() as h:                     # or h = Herald(); h.start()
        status, headers, body = h.request('GET', '/api/v1/environment')
        h.restart()                         # same data directory
    # stopped with SIGTERM; exit status 0 asserted

Herald starts $HERALD_BIN ("serve") on 127.0.0.1 with an ephemeral port
(--listen 127.0.0.1:0), a fresh temporary data directory (removed at the end
unless one was given) and an admin token passed in HERALD_ADMIN_TOKEN. It
parses the one "herald: listening on http://HOST:PORT" line from stdout,
captures stdout and stderr (h.log(), h.stdout_text()) so that tests can check
that no secret was printed, and never leaves a process behind: stop() sends
SIGTERM, waits, and kills (then fails) only if the process does not exit.

Backends: SQLite under the data directory by default. With
HERALD_TEST_BACKEND=postgresql (the "@pg" ctest variants) each Herald
without a database of its own (database_url=, --database-url in args,
HERALD_DATABASE_URL[_FILE] in env) gets a fresh PostgreSQL database on the
test server (tests/lib/pgsrv.py: the one named by HERALD_TEST_PG, else one
private to this process) and runs with --database-url; a later Herald on the
same data_dir gets the same database, and cleanup() drops the ones it made.
A test about SQLite itself says @sqlite_only(reason).
"""
import atexit
import http.client
import json
import os
import secrets
import shutil
import signal
import subprocess
import tempfile
import threading
import time
import unittest

__all__ = ['Herald', 'HeraldError', 'HeraldTestCase', 'herald_bin',
           'run_herald', 'backend', 'sqlite_only', 'database_url_for']

_LIVE = set()


def _reap_all():
    for h in list(_LIVE):
        try:
            h.kill()
        except Exception:
            pass


atexit.register(_reap_all)


class HeraldError(AssertionError):
    pass


# ---- the backend under test ---------------------------------------------

ENV_BACKEND = 'HERALD_TEST_BACKEND'
_PG_DBS = {}        # realpath of a data dir -> URL of its database
_PRIVATE_PG = None  # a PgServer of this process when HERALD_TEST_PG is unset


def backend():
    """'sqlite' (the default) or 'postgresql', from HERALD_TEST_BACKEND."""
    b = os.environ.get(ENV_BACKEND) or 'sqlite'
    if b not in ('sqlite', 'postgresql'):
        raise HeraldError('%s=%s: sqlite or postgresql' % (ENV_BACKEND, b))
    return b


def sqlite_only(reason):
    """Decorator: skips a test (or class) on PostgreSQL, saying why."""
    return unittest.skipIf(backend() == 'postgresql',
                           'SQLite only: ' + reason)


def _pgsrv():
    try:
        import pgsrv
    except ImportError:
        import sys
        sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
        import pgsrv
    return pgsrv


def pg_server():
    """The PostgreSQL server the tests use: the ctest fixture's
    (HERALD_TEST_PG), else one started for this process."""
    global _PRIVATE_PG
    pgsrv = _pgsrv()
    s = pgsrv.from_env()
    if s is None:
        if _PRIVATE_PG is None:
            _PRIVATE_PG = pgsrv.PgServer().start()
        s = _PRIVATE_PG
    return s


def database_url_for(data_dir):
    """The URL of data_dir's PostgreSQL database: a fresh one the first
    time, the same one afterwards."""
    key = os.path.realpath(data_dir)
    if key not in _PG_DBS:
        _PG_DBS[key] = pg_server().create_database()
    return _PG_DBS[key]


def _drop_database_of(data_dir):
    url = _PG_DBS.pop(os.path.realpath(data_dir), None)
    if url is None:
        return
    try:
        pg_server().drop_database(url.rsplit('/', 1)[1])
    except Exception:
        pass  # the server goes away with its data at the end anyway


def herald_bin():
    b = os.environ.get('HERALD_BIN')
    if not b:
        raise HeraldError('HERALD_BIN is not set (run the tests via ctest)')
    if not os.access(b, os.X_OK):
        raise HeraldError('HERALD_BIN=%s is not executable' % b)
    return b


def run_herald(args, env=None, timeout=20):
    """Runs herald with args to completion: (exit code, stdout, stderr)."""
    e = dict(os.environ)
    e.update(env or {})
    # in a scratch directory, so that the default "./data" of a run that
    # gets further than expected lands nowhere that matters
    cwd = tempfile.mkdtemp(prefix='herald-run-')
    try:
        p = subprocess.run([herald_bin()] + list(args), env=e, cwd=cwd,
                           capture_output=True, text=True, timeout=timeout)
    finally:
        shutil.rmtree(cwd, ignore_errors=True)
    return p.returncode, p.stdout, p.stderr


class _Reader(threading.Thread):
    """Collects a pipe's lines; wakes up waiters on each line."""

    def __init__(self, pipe):
        super().__init__(daemon=True)
        self.pipe = pipe
        self.lines = []
        self.cond = threading.Condition()
        self.eof = False

    def run(self):
        for raw in iter(self.pipe.readline, b''):
            with self.cond:
                self.lines.append(raw.decode('utf-8', 'replace'))
                self.cond.notify_all()
        with self.cond:
            self.eof = True
            self.cond.notify_all()

    def text(self):
        with self.cond:
            return ''.join(self.lines)


class Herald:
    def __init__(self, data_dir=None, token=None, args=None, env=None,
                 listen='127.0.0.1:0', use_token_env=True, database_url=None):
        """database_url: run on that PostgreSQL database (--database-url);
        by default SQLite, or with HERALD_TEST_BACKEND=postgresql a
        database of data_dir's own (database_url_for)."""
        self.own_dir = data_dir is None
        self.data_dir = data_dir or tempfile.mkdtemp(prefix='herald-test-')
        self.token = token or secrets.token_hex(24)
        self.admin_token = self.token
        self.extra_args = list(args or [])
        self.extra_env = dict(env or {})
        self.listen = listen
        self.use_token_env = use_token_env
        self.proc = None
        self.host = None
        self.port = None
        self.base_url = None
        self._out = self._err = None
        self._old_logs = ''
        self._old_out = ''
        self.starts = 0
        self.database_url = database_url
        self.own_db = False
        if (database_url is None and backend() == 'postgresql'
                and '--database-url' not in self.extra_args
                and not any(a.startswith('--database-url=')
                            for a in self.extra_args)
                and 'HERALD_DATABASE_URL' not in self.extra_env
                and 'HERALD_DATABASE_URL_FILE' not in self.extra_env):
            self.database_url = database_url_for(self.data_dir)
            self.own_db = self.own_dir

    # ---- lifecycle -------------------------------------------------------

    def command(self):
        db = ['--database-url', self.database_url] if self.database_url \
            else []
        return [herald_bin(), 'serve', '--listen', self.listen,
                '--data-dir', self.data_dir] + db + self.extra_args

    def start(self, timeout=20):
        if self.proc is not None and self.proc.poll() is None:
            return self
        env = dict(os.environ)
        for k in list(env):
            if k.startswith('HERALD_') and k not in ('HERALD_BIN',
                                                     'HERALD_SRC',
                                                     'HERALD_TEST_PKI'):
                del env[k]
        if self.use_token_env:
            env['HERALD_ADMIN_TOKEN'] = self.token
        env.update(self.extra_env)
        self.proc = subprocess.Popen(self.command(), env=env,
                                     stdin=subprocess.DEVNULL,
                                     stdout=subprocess.PIPE,
                                     stderr=subprocess.PIPE,
                                     start_new_session=True)
        _LIVE.add(self)
        self.starts += 1
        self._out = _Reader(self.proc.stdout)
        self._err = _Reader(self.proc.stderr)
        self._out.start()
        self._err.start()
        deadline = time.monotonic() + timeout
        prefix = 'herald: listening on http://'
        with self._out.cond:
            while True:
                for line in self._out.lines:
                    if line.startswith(prefix):
                        addr = line[len(prefix):].strip()
                        host, _, port = addr.rpartition(':')
                        self.host = host.strip('[]')
                        self.port = int(port)
                        self.base_url = 'http://%s:%d' % (
                            host, self.port)
                        if not self.use_token_env:
                            self._token_from_stdout()
                        return self
                left = deadline - time.monotonic()
                if self._out.eof or left <= 0:
                    break
                self._out.cond.wait(min(left, 0.2))
        code = self.proc.poll()
        if code is None and self._out.eof:  # exiting: its status
            try:
                code = self.proc.wait(5)
            except subprocess.TimeoutExpired:
                pass
        out, err = self._out, self._err  # kill() drops them
        if code is None:
            self.kill()
        else:
            self.proc.wait()
            _LIVE.discard(self)
        err.join(5)
        raise HeraldError('herald did not start (exit %s):\nstdout:\n%s\n'
                          'stderr:\n%s' % (code, out.text(), err.text()))

    def _token_from_stdout(self):
        for line in self._out.lines:
            if line.startswith('herald: admin token'):
                self.token = self.admin_token = line.rsplit(' ', 1)[1].strip()

    def running(self):
        return self.proc is not None and self.proc.poll() is None

    def stop(self, timeout=20, expect_code=0):
        """SIGTERM, wait, assert the exit status. Returns it."""
        if self.proc is None:
            return None
        p = self.proc
        if p.poll() is None:
            p.send_signal(signal.SIGTERM)
        try:
            code = p.wait(timeout)
        except subprocess.TimeoutExpired:
            self.kill()
            raise HeraldError('herald did not exit within %ss of SIGTERM'
                              % timeout)
        self._finish()
        if expect_code is not None and code != expect_code:
            raise HeraldError('herald exited with %s, expected %s; '
                              'stderr:\n%s' % (code, expect_code,
                                               self._old_logs[-4000:]))
        return code

    def kill(self):
        if self.proc is None:
            return
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait()
        self._finish()

    def _finish(self):
        for r in (self._out, self._err):
            if r is not None:
                r.join(5)
        self._old_logs += self._err.text() if self._err else ''
        self._old_out += self._out.text() if self._out else ''
        self._out = self._err = None
        for pipe in (self.proc.stdout, self.proc.stderr):
            if pipe is not None:
                pipe.close()
        _LIVE.discard(self)
        self.proc = None

    def restart(self):
        self.stop()
        return self.start()

    def cleanup(self):
        self.kill()
        if self.own_db:
            _drop_database_of(self.data_dir)
            self.own_db = False
        if self.own_dir:
            shutil.rmtree(self.data_dir, ignore_errors=True)

    def __enter__(self):
        return self.start()

    def __exit__(self, exc_type, exc, tb):
        try:
            if self.proc is not None:
                if exc_type is None:
                    self.stop()
                else:
                    self.kill()
        finally:
            self.cleanup()
        return False

    # ---- output -----------------------------------------------------------

    def log(self):
        """Everything herald wrote to stderr, across restarts."""
        return self._old_logs + (self._err.text() if self._err else '')

    def wait_log(self, text, timeout=10):
        """The log once it holds text (herald wrote the line before the
        event the test saw, but the reader thread may not have read it
        yet on a loaded machine), or the log as it is after timeout."""
        deadline = time.monotonic() + timeout
        r = self._err
        while text not in self.log() and r is not None:
            left = deadline - time.monotonic()
            if left <= 0:
                break
            with r.cond:
                if r.eof:
                    break
                r.cond.wait(min(left, 0.5))
        return self.log()

    def stdout_text(self):
        return self._old_out + (self._out.text() if self._out else '')

    # ---- HTTP -------------------------------------------------------------

    def connection(self, timeout=30):
        return http.client.HTTPConnection(self.host, self.port,
                                          timeout=timeout)

    def request(self, method, path, body=None, headers=None, token=True,
                timeout=30, content_type=None):
        """One request on a new connection.

        body: dict/list -> JSON; str/bytes -> sent as is (text/plain
        unless content_type or a Content-Type header says otherwise).
        token: True = the admin token, None/False = no Authorization,
        a string = that bearer token.
        Returns (status, headers as a dict with lower-case names, body):
        the body is parsed JSON for application/json, else text."""
        h = {}
        data = None
        if isinstance(body, (dict, list)):
            data = json.dumps(body).encode()
            h['Content-Type'] = 'application/json'
        elif isinstance(body, str):
            data = body.encode()
            h['Content-Type'] = 'text/plain'
        elif isinstance(body, bytes):
            data = body
            h['Content-Type'] = 'application/octet-stream'
        if content_type is not None:
            h['Content-Type'] = content_type
        if token is True:
            h['Authorization'] = 'Bearer ' + self.token
        elif isinstance(token, str):
            h['Authorization'] = 'Bearer ' + token
        for k, v in (headers or {}).items():
            if v is None:
                h.pop(k, None)
            else:
                h[k] = v
        c = self.connection(timeout)
        try:
            c.request(method, path, body=data, headers=h)
            r = c.getresponse()
            raw = r.read()
            hdrs = {k.lower(): v for k, v in r.getheaders()}
            status = r.status
        finally:
            c.close()
        ctype = hdrs.get('content-type', '')
        if ctype.startswith('application/json') and raw:
            try:
                return status, hdrs, json.loads(raw)
            except ValueError:
                raise HeraldError('%s %s: invalid JSON in response: %r'
                                  % (method, path, raw[:200]))
        return status, hdrs, raw.decode('utf-8', 'replace')

    def api(self, method, path, body=None, expect=None, **kw):
        """request() that asserts the status (expect) and returns the body."""
        status, hdrs, data = self.request(method, path, body, **kw)
        if expect is not None and status != expect:
            raise HeraldError('%s %s: status %d, expected %d: %s'
                              % (method, path, status, expect, data))
        return data


class HeraldTestCase(unittest.TestCase):
    """A fresh started Herald in self.h for each test; stopped (exit status
    0 asserted) and its data directory removed afterwards."""

    def setUp(self):
        self.h = Herald()
        self.h.start()

    def tearDown(self):
        try:
            if self.h.running():
                self.h.stop()
        finally:
            self.h.cleanup()


# ---- test PKI ----------------------------------------------------------------


def pki_dir():
    """The test PKI of tests/lib/mkpki.sh (generated once, shared with the
    other suites through HERALD_TEST_PKI). Returns its directory."""
    d = os.environ.get('HERALD_TEST_PKI')
    if not d:
        d = os.path.join(tempfile.gettempdir(),
                         'herald-test-pki-%d' % os.getuid())
        os.environ['HERALD_TEST_PKI'] = d
    src = os.environ.get('HERALD_SRC') or os.path.normpath(
        os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', '..'))
    r = subprocess.run(['sh', os.path.join(src, 'tests', 'lib', 'mkpki.sh'),
                        d], capture_output=True, text=True)
    if r.returncode != 0:
        raise HeraldError('mkpki.sh %s failed (exit %d):\n%s%s'
                          % (d, r.returncode, r.stdout, r.stderr))
    return d


def pki_file(name):
    with open(os.path.join(pki_dir(), name)) as f:
        return f.read()


def cert_sha256(pem):
    """SHA-256 fingerprint "AB:CD:..." computed by openssl, independently
    of herald."""
    r = subprocess.run(['openssl', 'x509', '-noout', '-fingerprint',
                        '-sha256'], input=pem, capture_output=True,
                       text=True, check=True)
    return r.stdout.strip().split('=', 1)[1].upper()
