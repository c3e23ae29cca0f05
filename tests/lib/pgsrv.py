# SPDX-License-Identifier: MIT
"""
tests/lib/pgsrv.py: a private PostgreSQL server for herald's tests.

PgServer runs Debian's PostgreSQL 15 from its binaries
(/usr/lib/postgresql/15/bin, or $HERALD_TEST_PG_BIN) entirely under one
temporary directory: initdb with scram-sha-256 and a random password for
the superuser "herald", then postgres listening on 127.0.0.1 only, on a
free port, with its unix socket in the temporary directory. There is no
system cluster and nothing outside that directory is touched. As root, the
server runs as "nobody" (initdb refuses root); otherwise as the caller.
Durability is traded for speed (fsync=off, full_page_writes=off);
synchronous_commit stays on.

    with PgServer() as pg:
        url = pg.create_database()   # postgresql://herald:PW@127.0.0.1:P/DB
        pg.sql('SELECT 1', db=...)   # psql, as herald; returns the output
        pg.restart()                 # same data, same port
        pg.stop_server(); pg.start_server()   # "the database went away"

Everything started is stopped by stop() (or leaving the with block), also
when a test fails; a reaper process stops the server and removes the
directory when the test process dies without stop() (ctest timeout,
SIGKILL).

One server shared by a whole ctest run (the "pg" fixture,
tests/CMakeLists.txt):

    pgsrv.py start STATEFILE   starts a server that outlives the command
                               and writes STATEFILE (JSON: port, password,
                               pid, dir, admin_url, ...). A watcher stops
                               it when the process that ran the command
                               (ctest) exits without "stop".
    pgsrv.py stop STATEFILE    stops it (fast shutdown by PID, SIGKILL after
                               10 s), removes its directory and STATEFILE.
    pgsrv.py run               starts one, prints its state, runs until ^C.

A test finds that server through from_env() ($HERALD_TEST_PG names the
STATEFILE; None when unset) and takes a fresh database from it with
create_database(). Never stop or restart the shared server: a test that
needs the database to go away starts its own PgServer.

Python: Debian's /usr/bin/python3, stdlib only.
"""

import atexit
import json
import os
import pwd
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import weakref

import reaping

__all__ = ['PgServer', 'PgError', 'from_env', 'ENV_STATE', 'pg_bin']

ENV_STATE = 'HERALD_TEST_PG'        # the STATEFILE of the shared server
ENV_BIN = 'HERALD_TEST_PG_BIN'      # overrides DEFAULT_BIN
DEFAULT_BIN = '/usr/lib/postgresql/15/bin'
USER = 'herald'
HOST = '127.0.0.1'
SETTINGS = {
    'listen_addresses': HOST,
    'fsync': 'off',
    'full_page_writes': 'off',
    'max_connections': '200',
    'shared_buffers': '64MB',
    'log_min_messages': 'warning',
    'log_line_prefix': '%m [%p] %d ',
}


class PgError(RuntimeError):
    """The server could not start, stop, or run a statement; carries its
    log or psql's message (never the password)."""


def pg_bin(name):
    d = os.environ.get(ENV_BIN) or DEFAULT_BIN
    p = os.path.join(d, name)
    if not os.access(p, os.X_OK):
        raise PgError('%s not found: install postgresql-15 '
                      '(scripts/install-deps test) or set %s' % (p, ENV_BIN))
    return p


def free_port():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((HOST, 0))
        return s.getsockname()[1]


def _pid_alive(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:  # a zombie counts as gone
        with open('/proc/%d/stat' % pid) as f:
            return f.read().split(')')[-1].split()[0] != 'Z'
    except OSError:
        return False


def _group_alive(pgid):
    """True while a process of group pgid runs (zombies do not count:
    who reaps an orphan's is not up to us)."""
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass
    for pid in os.listdir('/proc'):
        if not pid.isdigit():
            continue
        try:
            with open('/proc/%s/stat' % pid) as f:
                fields = f.read().rsplit(')', 1)[1].split()
        except OSError:
            continue
        if int(fields[2]) == pgid and fields[0] != 'Z':
            return True
    return False


def _is_postmaster(pid, datadir):
    """True if pid is a postgres serving datadir (guards against a recycled
    PID in a stale STATEFILE)."""
    try:
        with open('/proc/%d/cmdline' % pid, 'rb') as f:
            args = f.read().split(b'\0')
    except OSError:
        return False
    return (bool(args) and os.path.basename(args[0]) in (b'postgres',
                                                         b'postmaster')
            and datadir.encode() in args)


def _read(path, limit=8000, offset=0):
    try:
        with open(path, 'rb') as f:
            f.seek(offset)
            data = f.read()
        return data[-limit:].decode('utf-8', 'replace')
    except OSError as e:
        return '(cannot read %s: %s)' % (path, e)


def _stop_pid(pid, datadir=None, timeout=10.0, wait=None):
    """Fast shutdown (SIGINT) of the postmaster pid; after timeout, SIGKILL
    to its process group (it leads its own session, so that is the server
    and its backends, nothing else). wait: a callable reaping our child,
    when it is one. Only for servers this module started."""
    if pid is None or pid <= 1:
        return
    if datadir is not None and not _is_postmaster(pid, datadir):
        return
    try:
        os.kill(pid, signal.SIGINT)
    except ProcessLookupError:
        return
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if wait is not None:
            wait()
        if not _pid_alive(pid):
            break
        time.sleep(0.05)
    _kill_group(pid, wait)


def _kill_group(pgid, wait=None):
    """SIGKILL to what is left of the process group pgid (a postmaster
    started in its own session, and its backends), then waits until it is
    empty. While the group has a member its id cannot be reused, so this
    never reaches a stranger."""
    if _group_alive(pgid):
        try:
            os.killpg(pgid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
    if wait is not None:
        wait()
    deadline = time.monotonic() + 10
    while _group_alive(pgid) and time.monotonic() < deadline:
        time.sleep(0.05)


_LIVE = weakref.WeakSet()


@atexit.register
def _stop_all():
    for s in list(_LIVE):
        try:
            s.stop()
        except Exception:
            pass


class PgServer:
    """A private PostgreSQL 15 under a temporary directory (see the module
    docstring). Attributes once started: port, password, dir, datadir,
    pid, admin_url, host, user."""

    def __init__(self, settings=None, start_timeout=60.0):
        self.settings = dict(SETTINGS)
        self.settings.update(settings or {})
        self.start_timeout = start_timeout
        self.host = HOST
        self.user = USER
        self.port = None
        self.password = None
        self.dir = None
        self.datadir = None
        self.pid = None
        self._proc = None
        self._reaper = None
        self._as = None        # (uid, gid) the server runs as, when root
        self._owner = True     # False: attached to a server from a STATEFILE
        self._dbn = 0

    # ---- lifecycle ------------------------------------------------------

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()
        return False

    def start(self, daemon=False):
        """initdb in a new temporary directory and start_server(). daemon:
        the server outlives this process (no reaper, no atexit stop)."""
        if self.dir is not None:
            return self
        self.password = secrets.token_hex(16)
        self.dir = tempfile.mkdtemp(prefix='herald-pg-')
        self.datadir = os.path.join(self.dir, 'data')
        if not daemon:
            _LIVE.add(self)
        try:
            self._as = self._user()
            if self._as is not None:
                os.chown(self.dir, self._as[0], self._as[1])
            os.chmod(self.dir, 0o700)
            pwfile = os.path.join(self.dir, 'pwfile')
            with open(pwfile, 'w') as f:
                f.write(self.password + '\n')
            if self._as is not None:
                os.chown(pwfile, self._as[0], self._as[1])
            os.chmod(pwfile, 0o600)
            r = subprocess.run(
                self._cmd(pg_bin('initdb'), '-D', self.datadir, '-U',
                          self.user, '--auth=scram-sha-256',
                          '--pwfile=' + pwfile, '-E', 'UTF8', '--locale=C',
                          '--no-sync'),
                cwd=self.dir, stdin=subprocess.DEVNULL, capture_output=True,
                text=True, timeout=120, env=self._env())
            os.unlink(pwfile)
            if r.returncode != 0:
                raise PgError('initdb failed (exit %d):\n%s%s'
                              % (r.returncode, r.stdout, r.stderr))
            if not daemon:
                self._start_reaper()
            self.start_server(daemon=daemon)
        except BaseException:
            self.stop()
            raise
        return self

    def _user(self):
        """(uid, gid) to run as when root, else None."""
        if os.geteuid() != 0:
            return None
        pw = pwd.getpwnam('nobody')
        return pw.pw_uid, pw.pw_gid

    def _cmd(self, *argv):
        if self._as is None:
            return list(argv)
        return ['setpriv', '--reuid=%d' % self._as[0],
                '--regid=%d' % self._as[1], '--clear-groups', '--'] + \
            list(argv)

    def _env(self):
        e = {k: v for k, v in os.environ.items() if not k.startswith('PG')}
        e['LC_ALL'] = 'C'
        e.pop('LANG', None)
        return e

    def start_server(self, daemon=False, timeout=None):
        """Starts postgres on the existing data directory (on the same port
        after stop_server(); a free one the first time) and waits until it
        accepts logins."""
        if self.running():
            return self
        if not self._owner:
            raise PgError('the shared test server (%s) is started by the '
                          'ctest fixture pg/start' % ENV_STATE)
        timeout = timeout or self.start_timeout
        fixed = self.port is not None
        for attempt in range(5):
            if not fixed:
                self.port = free_port()
            argv = [pg_bin('postgres'), '-D', self.datadir, '-p',
                    str(self.port), '-k', self.dir]
            for k, v in self.settings.items():
                argv += ['-c', '%s=%s' % (k, v)]
            logpath = os.path.join(self.dir, 'postgres.log')
            with open(logpath, 'ab') as log:
                if self._as is not None:
                    os.fchown(log.fileno(), self._as[0], self._as[1])
                start_at = log.tell()
                self._proc = subprocess.Popen(
                    self._cmd(*argv), cwd=self.dir, env=self._env(),
                    stdin=subprocess.DEVNULL, stdout=log,
                    stderr=subprocess.STDOUT, start_new_session=True)
            self.pid = self._proc.pid
            self._reap(pid=self.pid)
            if self._wait_ready(timeout):
                if daemon:
                    # not our child to wait for any more: the CLI exits
                    self._proc = None
                return self
            text = _read(logpath, offset=start_at)
            self._kill_server()
            if 'could not bind' in text or 'in use' in text:
                time.sleep(0.2 * (attempt + 1))
                continue
            break
        raise PgError('postgres did not start on %s:%s; its log:\n%s'
                      % (self.host, self.port,
                         _read(os.path.join(self.dir, 'postgres.log'))))

    def _wait_ready(self, timeout):
        deadline = time.monotonic() + timeout
        isready = pg_bin('pg_isready')
        while time.monotonic() < deadline:
            if self._proc is not None and self._proc.poll() is not None:
                return False
            r = subprocess.run([isready, '-q', '-h', self.host, '-p',
                                str(self.port), '-U', self.user, '-d',
                                'postgres', '-t', '2'],
                               stdin=subprocess.DEVNULL,
                               stdout=subprocess.DEVNULL,
                               stderr=subprocess.DEVNULL, env=self._env())
            if r.returncode == 0:
                # accepting connections; a real login proves the password
                try:
                    self.sql('SELECT 1')
                    return True
                except PgError:
                    pass
            time.sleep(0.1)
        return False

    def running(self):
        if self.pid is None:
            return False
        if self._proc is not None:
            return self._proc.poll() is None
        return _pid_alive(self.pid)

    def stop_server(self, mode='fast', timeout=10.0):
        """Stops postgres, keeping the data directory and the port for
        start_server(). mode 'fast' (SIGINT: clients are disconnected,
        a clean shutdown; SIGKILL after timeout) or 'kill' (SIGKILL to
        the server and its backends at once, a crash)."""
        if not self._owner:
            raise PgError('the shared test server (%s) is not for one test '
                          'to stop: start a PgServer of your own' % ENV_STATE)
        if self.pid is None:
            return
        if mode == 'kill':
            self._kill_server()
            return
        if mode != 'fast':
            raise ValueError('mode: fast or kill')
        p = self._proc
        _stop_pid(self.pid, None if p is not None else self.datadir,
                  timeout, wait=(p.poll if p is not None else None))
        self._gone()

    def _kill_server(self):
        p = self._proc
        _kill_group(self.pid, p.wait if p is not None else None)
        self._gone()

    def _gone(self):
        self._reap(unpid=self.pid)
        self._proc = None
        self.pid = None

    def restart(self, mode='fast'):
        """stop_server(mode) then start_server(): same data, same port."""
        self.stop_server(mode)
        return self.start_server()

    def stop(self):
        """Stops the server and removes the directory; idempotent. On a
        server attached from a STATEFILE (from_env) it does nothing."""
        if not self._owner:
            return
        try:
            self.stop_server()
        finally:
            if self.dir is not None:
                shutil.rmtree(self.dir, ignore_errors=True)
            self.dir = None
            self._stop_reaper()
            _LIVE.discard(self)

    def log(self):
        """The server's log (a tail)."""
        return _read(os.path.join(self.dir, 'postgres.log'))

    # ---- the reaper: stops the server if this process dies without stop()

    def _start_reaper(self):
        self._reaper = subprocess.Popen(
            [sys.executable, os.path.abspath(__file__), '_reap', self.dir],
            stdin=subprocess.PIPE, stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL, start_new_session=True)

    def _reap(self, **msg):
        reaping.tell(self._reaper, **msg)

    def _stop_reaper(self):
        r, self._reaper = self._reaper, None
        reaping.done(r)

    # ---- databases and SQL ---------------------------------------------

    def url(self, db='postgres'):
        return 'postgresql://%s:%s@%s:%d/%s' % (self.user, self.password,
                                                self.host, self.port, db)

    @property
    def admin_url(self):
        return self.url('postgres')

    def create_database(self, name=None):
        """Creates a fresh, empty database (a new unique name unless one is
        given) and returns its URL."""
        if name is None:
            self._dbn += 1
            name = 'herald_%d_%d_%s' % (os.getpid(), self._dbn,
                                        secrets.token_hex(3))
        self.sql('CREATE DATABASE "%s"' % name)
        return self.url(name)

    def drop_database(self, name):
        """Drops it, disconnecting whoever is still connected."""
        self.sql('DROP DATABASE IF EXISTS "%s" WITH (FORCE)' % name)

    def sql(self, statement, db='postgres', timeout=60):
        """Runs statement (one or several, ';'-separated) with psql as the
        superuser; returns the output (unaligned, tuples only, '|' between
        columns). Raises PgError with psql's message on an error."""
        env = self._env()
        env['PGPASSWORD'] = self.password
        env['PGCONNECT_TIMEOUT'] = '5'
        try:
            r = subprocess.run(
                [pg_bin('psql'), '-X', '-q', '-A', '-t', '-v',
                 'ON_ERROR_STOP=1', '-h', self.host, '-p', str(self.port),
                 '-U', self.user, '-d', db, '-c', statement],
                stdin=subprocess.DEVNULL, capture_output=True, text=True,
                env=env, timeout=timeout)
        except subprocess.TimeoutExpired:
            raise PgError('psql timed out after %ss: %s' % (timeout,
                                                           statement[:200]))
        if r.returncode != 0:
            raise PgError('psql (db %s): %s: %s' % (db, statement[:200],
                                                    r.stderr.strip()))
        return r.stdout

    # ---- the STATEFILE -------------------------------------------------

    def state(self):
        return {'port': self.port, 'password': self.password,
                'pid': self.pid, 'dir': self.dir, 'datadir': self.datadir,
                'host': self.host, 'user': self.user,
                'admin_url': self.admin_url}

    @classmethod
    def attach(cls, state):
        """A handle on a running server described by state (a STATEFILE's
        JSON): create_database, drop_database, sql, url work; stop does
        nothing."""
        s = cls()
        s._owner = False
        s._as = None
        for k in ('port', 'password', 'pid', 'dir', 'datadir', 'host',
                  'user'):
            setattr(s, k, state[k])
        return s


_ENV_SERVER = None


def from_env():
    """The shared server named by $HERALD_TEST_PG (a STATEFILE written by
    "pgsrv.py start"), or None when it is not set. Raises PgError when it
    is set but the server is not running."""
    global _ENV_SERVER
    path = os.environ.get(ENV_STATE)
    if not path:
        return None
    if _ENV_SERVER is not None and _ENV_SERVER._path == path:
        return _ENV_SERVER
    try:
        with open(path) as f:
            state = json.load(f)
    except (OSError, ValueError) as e:
        raise PgError('%s=%s: %s (is the ctest fixture pg/start running?)'
                      % (ENV_STATE, path, e))
    s = PgServer.attach(state)
    if not _pid_alive(s.pid):
        raise PgError('%s=%s: the server (pid %s) is not running'
                      % (ENV_STATE, path, s.pid))
    s._path = path
    _ENV_SERVER = s
    return s


# ---- CLI ---------------------------------------------------------------


def _write_state(path, state):
    tmp = path + '.tmp'
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, 'w') as f:
        json.dump(state, f, indent=2)
        f.write('\n')
    os.replace(tmp, path)


def _stop_state(path):
    """Stops the server recorded in path (if it still runs), its watcher,
    removes its directory and path. Returns a message or None."""
    try:
        with open(path) as f:
            state = json.load(f)
    except FileNotFoundError:
        return None
    except ValueError as e:
        os.unlink(path)
        return 'removed unreadable %s: %s' % (path, e)
    w = state.get('watcher_pid')
    if w and _pid_alive(w):
        try:
            os.kill(w, signal.SIGTERM)
        except ProcessLookupError:
            pass
    _stop_pid(state.get('pid'), state.get('datadir'))
    d = state.get('dir')
    if d and os.path.basename(d).startswith('herald-pg-'):
        shutil.rmtree(d, ignore_errors=True)
    try:
        os.unlink(path)
    except FileNotFoundError:
        pass
    return None


def cmd_start(path, watch_pid):
    path = os.path.abspath(path)
    msg = _stop_state(path)  # a server left by an interrupted run
    if msg:
        print(msg)
    s = PgServer()
    s.start(daemon=True)
    st = s.state()
    if watch_pid > 1:
        w = subprocess.Popen(
            [sys.executable, os.path.abspath(__file__), '_watch', path,
             str(watch_pid), str(s.pid), s.datadir, s.dir],
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL, start_new_session=True)
        st['watcher_pid'] = w.pid
        st['watching'] = watch_pid
    _write_state(path, st)
    print('pgsrv: PostgreSQL (pid %d) on %s:%d, dir %s; state in %s'
          % (s.pid, s.host, s.port, s.dir, path))
    return 0


def cmd_stop(path):
    path = os.path.abspath(path)
    if not os.path.exists(path):
        print('pgsrv: %s: no server recorded' % path)
        return 0
    msg = _stop_state(path)
    if msg:
        print(msg)
    print('pgsrv: stopped; %s removed' % path)
    return 0


def cmd_watch(path, watch_pid, pg_pid, datadir, d):
    """Hidden: stops the server when watch_pid (the process that ran
    "start") exits first; ends when the server stops."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGHUP, signal.SIG_IGN)
    while _pid_alive(pg_pid):
        if not _pid_alive(watch_pid):
            _stop_pid(pg_pid, datadir)
            shutil.rmtree(d, ignore_errors=True)
            try:
                with open(path) as f:
                    if json.load(f).get('pid') == pg_pid:
                        os.unlink(path)
            except (OSError, ValueError):
                pass
            return 0
        time.sleep(1)
    return 0


def cmd_reap(d):
    """Hidden: the reaper of a library PgServer. Reads {"pid": N},
    {"unpid": N} and "done" lines; at end of file without "done", stops
    the registered servers and removes d."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGHUP, signal.SIG_IGN)
    pids = set()
    for line in sys.stdin:
        line = line.strip()
        if line == 'done':
            return 0
        try:
            msg = json.loads(line)
        except ValueError:
            continue
        if 'pid' in msg:
            pids.add(int(msg['pid']))
        if 'unpid' in msg:
            pids.discard(int(msg['unpid']))
    for pid in pids:
        _stop_pid(pid, os.path.join(d, 'data'))
    shutil.rmtree(d, ignore_errors=True)
    return 0


def cmd_run():
    def on_term(signum, frame):
        raise KeyboardInterrupt
    signal.signal(signal.SIGTERM, on_term)
    with PgServer() as s:
        print(json.dumps(s.state(), indent=2))
        print('psql "%s"' % s.admin_url)
        sys.stdout.flush()
        try:
            signal.pause()
        except KeyboardInterrupt:
            pass
    return 0


USAGE = '''usage: pgsrv.py start STATEFILE [--watch-pid PID]
       pgsrv.py stop STATEFILE
       pgsrv.py run
start: a private PostgreSQL that outlives the command; STATEFILE (JSON)
  says where. It is stopped when PID (default: this command's parent, e.g.
  ctest) exits without "stop"; --watch-pid 0: never.
stop: stops the server in STATEFILE and removes its directory.
run: starts one, prints its state and admin URL, stops it on ^C.'''


def main(argv):
    if len(argv) >= 2 and argv[0] == 'start':
        watch = os.getppid()
        rest = argv[2:]
        if rest[:1] == ['--watch-pid'] and len(rest) == 2:
            watch = int(rest[1])
        elif rest:
            print(USAGE, file=sys.stderr)
            return 2
        return cmd_start(argv[1], watch)
    if len(argv) == 2 and argv[0] == 'stop':
        return cmd_stop(argv[1])
    if argv == ['run']:
        return cmd_run()
    if len(argv) == 6 and argv[0] == '_watch':
        return cmd_watch(argv[1], int(argv[2]), int(argv[3]), argv[4],
                         argv[5])
    if len(argv) == 2 and argv[0] == '_reap':
        return cmd_reap(argv[1])
    print(USAGE, file=sys.stderr)
    return 2


if __name__ == '__main__':
    try:
        sys.exit(main(sys.argv[1:]))
    except PgError as e:
        print('pgsrv: %s' % e, file=sys.stderr)
        sys.exit(1)
