# SPDX-License-Identifier: MIT
"""
bench/bench.py: herald's delivery benchmark against a reference client.

Starts a private Postfix with Dovecot SASL on loopback (tests/lib/mailenv.py:
STARTTLS required, AUTH only after TLS, MAIL FROM must match the login, the
test PKI of tests/lib/mkpki.sh) and a herald (tests/lib/herald.py) that is
configured through its REST API only: environment variables for the server
string and the sender, a trustpoint holding the test root, one applet per
phase with "event webhook" and a mail action whose subject carries the id
sent in the webhook body, and the applets' webhook tokens.

Phases, each into its own Maildir so that counting stays exact:

  reference   Python smtplib over K persistent STARTTLS+AUTH sessions
              straight to the same Postfix port, verifying the chain against
              the same root (ssl context with cafile, host name checked),
              sending N messages shaped like herald's;
  throughput  N webhooks from K concurrent HTTP clients (keep-alive);
  latency     webhooks at a fixed rate (default 50/s for 10 s), open loop;
  long        optional (--messages M): M more webhooks, for peak RSS.

Times: a trigger's time is taken just before its request (or SMTP
transaction) is written; a message's delivered time is the ctime of its
file in the Maildir, which the kernel sets when Postfix's virtual(8) links
the finished file from tmp/ into new/ (fine-grained timestamps on Linux 6.x:
sub-millisecond; on older kernels the coarse clock can be up to one jiffy,
1-4 ms, early). A watcher thread scans new/ every few milliseconds, reads
the id from the Subject header, takes the ctime and moves the file to cur/
as a mail reader would, so that new/ stays short. Polling delay therefore
does not enter the figures.

Figures: triggers accepted/s (N / first request .. last 202), delivered/s
(N / first trigger .. last delivery), p50/p99 trigger-to-delivered latency,
herald's idle RSS (VmRSS 5 s after start and configuration, before any
load; herald hands freed heap back once a burst is over), peak RSS (VmHWM
after all phases) and idle RSS again 30 s after the last phase (--smaps DIR
keeps /proc/PID/smaps of both). The ratio is herald's delivered/s
over the reference's. Each target prints PASS or MISS; the benchmark exits 0
whenever it could measure (it never fails a test suite), 1 when something
broke (herald misconfigured, messages lost), 2 on bad arguments, 124 on its
overall timeout. Everything is stopped at the end, also on Ctrl-C, SIGTERM,
errors and the timeout.

--database postgres (issue 14): after the SQLite run above, the same
phases twice more on a private PostgreSQL 15 (tests/lib/pgsrv.py, on
loopback, started and stopped here, a fresh database for each): with one
herald, and with two heralds sharing the database (one admin token, both
sending to the same Postfix, the webhooks of every phase split round
robin over them). A second table sets SQLite, pg x1 and pg x2 side by
side: delivered/s, CPU per message (summed over the herald processes; the
PostgreSQL server's separately), statements per message
(pg_stat_statements), p99 at --rate, RSS per instance, and the ratios
pg1/sqlite and pg2/pg1 against the issue's targets (>= 0.80, >= 1).
"""

import argparse
import atexit
import json
import os
import platform
import re
import shutil
import signal
import smtplib
import ssl
import subprocess
import sys
import tempfile
import threading
import time
import uuid

HERE = os.path.dirname(os.path.abspath(__file__))
SRC = os.environ.get('HERALD_SRC') or os.path.normpath(
    os.path.join(HERE, '..'))
sys.path.insert(0, os.path.join(SRC, 'tests', 'lib'))

from herald import Herald, HeraldError  # noqa: E402
from mailenv import MailEnv, MailEnvError, pki_dir  # noqa: E402

USER = 'alerts@example.test'
DOMAIN = 'example.test'
TRUSTPOINT = 'bench-root-a'
PHASES = ('ref', 'warm', 'tp', 'lat', 'long')

# Targets of the issue (2-core machine).
TARGET_RATIO = 1.10   # for the median over --repeat pairs: one pair's
                      # ratio varies by a third
TARGET_P99_MS = 50.0
TARGET_IDLE_KB = 6 * 1024        # at start, configured
TARGET_IDLE_AFTER_KB = 8 * 1024  # 30 s after the load
IDLE_SETTLE_S = 5.0       # "idle": this long with nothing to do
IDLE_AFTER_S = 30.0       # after the load (the figure): idle SMTP
                          # sessions close at 10 s, and the senders and
                          # workers started for the load end 10 s after
                          # their last work
TARGET_PEAK_KB = 32 * 1024
TARGET_PEAK_MESSAGES = 10000


class BenchError(RuntimeError):
    """Something other than a slow figure went wrong; the text says what."""


class BenchTimeout(BaseException):
    """The overall time limit (--timeout) was reached."""


def log(fmt, *a):
    sys.stderr.write('bench: ' + (fmt % a if a else fmt) + '\n')
    sys.stderr.flush()


def mailbox(phase, variant=''):
    """The Maildir of a phase; the PostgreSQL variants (pg1, pg2) have
    their own: bench-pg1-tp@..."""
    return 'bench-%s%s@%s' % (variant + '-' if variant else '', phase,
                               DOMAIN)


def proc_status(pid):
    """VmRSS and VmHWM of pid in kB, from /proc/PID/status."""
    out = {}
    with open('/proc/%d/status' % pid) as f:
        for line in f:
            k, _, v = line.partition(':')
            if k in ('VmRSS', 'VmHWM'):
                out[k] = int(v.split()[0])
    return out


def save_smaps(pid, d, name):
    """/proc/PID/smaps into d/name (--smaps): where the idle RSS is."""
    if d:
        os.makedirs(d, exist_ok=True)
        with open('/proc/%d/smaps' % pid) as f, \
                open(os.path.join(d, name), 'w') as out:
            out.write(f.read())


def cpu_seconds(pid):
    """User + system CPU time of pid so far, from /proc/PID/stat."""
    with open('/proc/%d/stat' % pid) as f:
        fields = f.read().rpartition(')')[2].split()
    # fields[11], [12] are utime and stime (fields 14 and 15 of proc(5))
    return (int(fields[11]) + int(fields[12])) / os.sysconf('SC_CLK_TCK')


def client_cpu_seconds():
    """User + system CPU time so far of the benchmark process and of the
    children it has waited for (the webhook load generator runs as one):
    the client's side of a phase. herald, also a child, is waited for
    only once its phases are over."""
    with open('/proc/self/stat') as f:
        fields = f.read().rpartition(')')[2].split()
    return sum(int(x) for x in fields[11:15]) / os.sysconf('SC_CLK_TCK')


def server_cpu_seconds(pid):
    """User + system CPU time so far of the PostgreSQL server whose
    postmaster is pid: the postmaster, its live children (the backends;
    each runs in a session of its own, so they are found by parent) and
    those it has reaped (its cutime, cstime)."""
    total = 0.0
    tck = os.sysconf('SC_CLK_TCK')
    for name in os.listdir('/proc'):
        if not name.isdigit():
            continue
        try:
            with open('/proc/%s/stat' % name) as f:
                fields = f.read().rpartition(')')[2].split()
        except OSError:
            continue
        if int(name) == pid:
            total += (int(fields[11]) + int(fields[12]) + int(fields[13])
                      + int(fields[14])) / tck
        elif int(fields[1]) == pid:
            total += (int(fields[11]) + int(fields[12])) / tck
    return total


def postfix_cpu_seconds(env):
    """CPU time so far of the bench's Postfix (its master, live daemons
    and the ones master reaped), or None: what a phase costs the server
    herald shares the machine with."""
    pid = env._postfix_master_pid()
    return server_cpu_seconds(pid) if pid else None


def per_msg(t0, t1, n):
    """Milliseconds per message between two CPU readings, or None."""
    if t0 is None or t1 is None or not n:
        return None
    return (t1 - t0) * 1000 / n


def percentile(values, p):
    """Nearest-rank percentile of a non-empty list."""
    v = sorted(values)
    k = max(0, min(len(v) - 1, int(-(-p * len(v) // 100)) - 1))
    return v[k]


# ---- delivery watcher ------------------------------------------------------

class MaildirWatcher(threading.Thread):
    """Records when each message lands in one Maildir (see the file
    header): id -> ctime in ns. Ids come from the Subject "bench <id>"."""

    def __init__(self, root, interval=0.005):
        super().__init__(daemon=True)
        self.new = os.path.join(root, 'new')
        self.cur = os.path.join(root, 'cur')
        self.interval = interval
        self.times = {}
        self.duplicates = 0
        self.foreign = 0
        self.lags = []
        self.cond = threading.Condition()
        self.halt = threading.Event()
        self.error = None

    @staticmethod
    def subject_id(path):
        with open(path, 'rb') as f:
            head = f.read(16384)
        for line in head.split(b'\n'):
            if line in (b'', b'\r'):
                break
            if line[:9].lower() == b'subject: ':
                words = line[9:].strip().split()
                if len(words) == 2 and words[0] == b'bench':
                    return words[1].decode('ascii', 'replace')
                return None
        return None

    def scan(self):
        try:
            entries = list(os.scandir(self.new))
        except FileNotFoundError:
            return 0     # virtual(8) creates the Maildir on first delivery
        found = {}
        for e in entries:
            if e.name.startswith('.'):
                continue
            st = os.stat(e.path)
            ident = self.subject_id(e.path)
            os.makedirs(self.cur, exist_ok=True)
            os.rename(e.path, os.path.join(self.cur, e.name + ':2,S'))
            if ident is None:
                self.foreign += 1
            else:
                found[ident] = st.st_ctime_ns
                # Self-check: how long after its ctime the scan saw it.
                self.lags.append((time.time_ns() - st.st_ctime_ns) / 1e6)
        if found:
            with self.cond:
                for ident, t in found.items():
                    if ident in self.times:
                        self.duplicates += 1
                    else:
                        self.times[ident] = t
                self.cond.notify_all()
        return len(found)

    def run(self):
        try:
            while not self.halt.is_set():
                if not self.scan():
                    self.halt.wait(self.interval)
        except Exception as e:     # reported by wait_all()
            self.error = e
            with self.cond:
                self.cond.notify_all()

    def wait_all(self, ids, timeout, stall=20.0, give_up=None):
        """Waits until every id landed; returns the list of missing ids.
        Gives up early when nothing landed for stall seconds, or when
        give_up() (called about once a second) returns true."""
        deadline = time.monotonic() + timeout
        want = set(ids)
        seen, progress, asked = -1, time.monotonic(), time.monotonic()
        with self.cond:
            while True:
                if self.error is not None:
                    raise BenchError('maildir watcher %s: %s'
                                     % (self.new, self.error))
                missing = [i for i in want if i not in self.times]
                now = time.monotonic()
                if len(self.times) != seen:
                    seen, progress = len(self.times), now
                if not missing or now >= deadline or now - progress > stall:
                    return sorted(missing)
                if give_up is not None and now - asked >= 1.0:
                    asked = now
                    self.cond.release()
                    try:
                        stop = give_up()
                    finally:
                        self.cond.acquire()
                    if stop:
                        return sorted(i for i in want
                                      if i not in self.times)
                self.cond.wait(min(deadline - now, 0.25))

    def stop(self):
        self.halt.set()
        self.join(5)


# ---- load generators -------------------------------------------------------

class IdFeed:
    """Hands ids to worker threads in order; records send times."""

    def __init__(self, ids):
        self.ids = list(ids)
        self.pos = 0
        self.lock = threading.Lock()

    def next(self):
        with self.lock:
            if self.pos >= len(self.ids):
                return None
            self.pos += 1
            return self.ids[self.pos - 1]


class LoadResult:
    def __init__(self):
        self.sent = {}          # id -> ns, just before the request
        self.accepted = {}      # id -> ns, when the 202 (or 250) came back
        self.busy = 0           # 429 answers (retried)
        self.errors = []        # (id, text), first few only
        self.error_count = 0
        self.lock = threading.Lock()

    def error(self, ident, text):
        with self.lock:
            self.error_count += 1
            if len(self.errors) < 5:
                self.errors.append((ident, text))


HOOKLOAD_SRC = os.path.join(os.path.dirname(os.path.abspath(__file__)),
                            'hookload.c')
_hookload = []


def hookload():
    """The webhook load generator (bench/hookload.c), built once per run
    with cc into a temporary directory removed at exit;
    HERALD_BENCH_HOOKLOAD names a built one instead."""
    if not _hookload:
        path = os.environ.get('HERALD_BENCH_HOOKLOAD')
        if not path:
            d = tempfile.mkdtemp(prefix='herald-hookload-')
            atexit.register(shutil.rmtree, d, True)
            path = os.path.join(d, 'hookload')
            cc = os.environ.get('CC') or 'cc'
            try:
                r = subprocess.run([cc, '-O2', '-Wall', '-pthread', '-o',
                                    path, HOOKLOAD_SRC],
                                   capture_output=True, text=True)
            except OSError as e:
                raise BenchError('cannot run the C compiler %r to build '
                                 'bench/hookload.c: %s' % (cc, e))
            if r.returncode != 0:
                raise BenchError('building bench/hookload.c failed:\n%s'
                                 % (r.stdout + r.stderr)[-3000:])
        _hookload.append(path)
    return _hookload[0]


def webhook_load(h, applet, token, ids, k, rate=None, timeout=600):
    """Fires one webhook per id from k connections (bench/hookload.c).
    rate None: as fast as possible (closed loop); else open loop at rate
    per second. h: one Herald, or a list of them: the n-th id goes to
    h[n % len(h)] (round robin; each connection of the k keeps one to
    each). Times are unix ns: just before the first request for an id,
    and when its 202 came back."""
    hs = h if isinstance(h, (list, tuple)) else [h]
    res = LoadResult()
    cmd = [hookload(), '--path', '/hooks/' + applet, '--token', token,
           '--k', str(k), '--timeout', '%.3f' % timeout]
    if rate is not None:
        cmd += ['--rate', repr(float(rate))]
    cmd += ['[%s]:%d' % (x.host, x.port) if ':' in x.host else
            '%s:%d' % (x.host, x.port) for x in hs]
    try:
        p = subprocess.run(cmd, input=''.join(i + '\n' for i in ids),
                           capture_output=True, text=True,
                           timeout=timeout + 60)
    except subprocess.TimeoutExpired:
        res.error(None, 'the load generator did not end within %.0f s'
                  % (timeout + 60))
        return res
    if p.returncode != 0:
        res.error(None, 'the load generator failed (exit %d): %s'
                  % (p.returncode, p.stderr.strip()[-500:]))
        return res
    for line in p.stdout.splitlines():
        kind, _, rest = line.partition(' ')
        if kind == 'ok':
            ident, sent, accepted = rest.split(' ')
            res.sent[ident] = int(sent)
            res.accepted[ident] = int(accepted)
        elif kind == 'err':
            ident, _, text = rest.partition(' ')
            res.error(ident, text)
        elif kind == 'busy':
            res.busy = int(rest)
    missing = len(ids) - len(res.accepted)
    if missing and res.error_count == 0:
        res.error(None, '%d webhooks not sent before the phase timeout'
                  % missing)
    return res


def message_bytes(ident, to):
    """A message shaped like herald's (RFC 5322, UTF-8 text/plain)."""
    import email.utils
    lines = [
        'Date: ' + email.utils.formatdate(localtime=False),
        'From: ' + USER,
        'To: ' + to,
        'Subject: bench ' + ident,
        'Message-ID: <%s@herald-bench.example.test>' % uuid.uuid4().hex,
        'MIME-Version: 1.0',
        'Content-Type: text/plain; charset=UTF-8',
        'Content-Transfer-Encoding: 8bit',
        '',
        'bench message %s' % ident,
        '',
    ]
    return '\r\n'.join(lines).encode()


def reference_load(env, cafile, ids, k, timeout=600, to=None):
    """Sends one message per id over k persistent STARTTLS+AUTH sessions
    to Postfix's submission port with smtplib (to: the reference's
    mailbox unless given)."""
    res = LoadResult()
    feed = IdFeed(ids)
    deadline = time.monotonic() + timeout
    to = to or mailbox('ref')
    password = env.users[USER]
    port = env.ports['submission']

    def worker():
        ctx = ssl.create_default_context(cafile=cafile)   # chain + host name
        try:
            s = smtplib.SMTP('localhost', port, timeout=30)
        except OSError as e:
            res.error(None, 'connect to Postfix: %s' % e)
            return
        try:
            s.ehlo('herald-bench.localhost')
            s.starttls(context=ctx)
            s.ehlo('herald-bench.localhost')
            s.login(USER, password)
            while time.monotonic() < deadline:
                ident = feed.next()
                if ident is None:
                    break
                msg = message_bytes(ident, to)
                t = time.time_ns()
                s.sendmail(USER, [to], msg)
                now = time.time_ns()
                with res.lock:
                    res.sent[ident] = t
                    res.accepted[ident] = now
            s.quit()
        except (smtplib.SMTPException, ssl.SSLError, OSError) as e:
            res.error(None, 'reference session: %s: %s'
                      % (type(e).__name__, e))
            try:
                s.close()
            except OSError:
                pass

    threads = [threading.Thread(target=worker, daemon=True)
               for _ in range(k)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(max(0.0, deadline - time.monotonic()) + 5)
    return res


# ---- herald setup ------------------------------------------------------------

def api(h, method, path, body=None, expect=(200, 201), **kw):
    st, _, data = h.request(method, path, body, **kw)
    if st not in expect:
        raise BenchError('herald: %s %s answered %d: %s'
                         % (method, path, st, json.dumps(data)[:2000]
                            if not isinstance(data, str) else data[:2000]))
    return data


def configure(h, env, root_pem, variant=''):
    """Environment, trustpoint, one webhook applet per phase (mailing to
    the variant's Maildirs); returns {phase: webhook token}."""
    server = '%s:%s@localhost' % (USER, env.users[USER])
    api(h, 'PUT', '/api/v1/environment/_email_server',
        {'value': server, 'secret': True})
    api(h, 'PUT', '/api/v1/environment/_email_from',
        {'value': USER, 'secret': False})
    api(h, 'POST', '/api/v1/trustpoints', {
        'name': TRUSTPOINT, 'revocation_check': 'none',
        'chain_validation': 'continue', 'enrollment': 'terminal',
        'certificate': root_pem}, expect=(201,))
    tokens = {}
    for phase in PHASES[1:]:
        name = 'bench-' + phase
        text = ('event manager applet %s\n'
                ' description "herald bench, phase %s"\n'
                ' event webhook\n'
                ' action 0010 mail server "$_email_server" to "%s"'
                ' from "$_email_from" subject "bench $_webhook_id"'
                ' body "bench message $_webhook_id" port %d secure tls\n'
                % (name, phase, mailbox(phase, variant),
                   env.ports['submission']))
        api(h, 'POST', '/api/v1/applets', text, expect=(201,))
        tok = api(h, 'PUT', '/api/v1/applets/%s/webhook' % name)
        if not isinstance(tok, dict) or not tok.get('token'):
            raise BenchError('herald: PUT /api/v1/applets/%s/webhook gave '
                             'no token: %r' % (name, tok))
        tokens[phase] = tok['token']
    return tokens


def diagnose(h, applet, limit=3):
    """Text about failed runs and dead/queued mail, for error reports."""
    parts = []
    for path in ('/api/v1/runs?applet=%s&limit=%d' % (applet, limit),
                 '/api/v1/outbox?state=dead', '/api/v1/outbox?state=queued'):
        try:
            st, _, data = h.request('GET', path, timeout=10)
        except Exception as e:   # diagnostics must not hide the real error
            parts.append('GET %s: %s' % (path, e))
            continue
        if isinstance(data, dict) and isinstance(data.get('items'), list):
            data = dict(data, items=data['items'][:limit])
        parts.append('GET %s -> %d\n%s' % (
            path, st, json.dumps(data, indent=1)[:3000]))
    try:
        st, _, data = h.request('GET', '/api/v1/runs?applet=%s&limit=1'
                                % applet, timeout=10)
        items = data.get('items') if isinstance(data, dict) else None
        if items:
            st, _, run = h.request('GET', '/api/v1/runs/%s'
                                   % items[0]['id'], timeout=10)
            parts.append('newest run:\n%s'
                         % json.dumps(run, indent=1)[:5000])
    except Exception as e:
        parts.append('newest run: %s' % e)
    parts.append('herald log (tail):\n' + h.log()[-3000:])
    return '\n'.join(parts)


# ---- phases ------------------------------------------------------------------

class Phase:
    """Figures of one phase."""

    def __init__(self, name, n):
        self.name = name
        self.n = n
        self.accepted = 0
        self.delivered = 0
        self.missing = []
        self.duplicates = 0
        self.busy = 0
        self.errors = []
        self.accept_rate = None
        self.deliver_rate = None
        self.p50 = self.p99 = self.pmax = None
        self.wall = None
        self.scan_lag_ms = None

    def compute(self, res, watcher, ids):
        self.accepted = len(res.accepted)
        self.busy = res.busy
        self.errors = res.errors
        self.duplicates = watcher.duplicates
        if watcher.lags:
            self.scan_lag_ms = {'p50': percentile(watcher.lags, 50),
                                'max': max(watcher.lags),
                                'min': min(watcher.lags)}
        with watcher.cond:
            times = {i: watcher.times[i] for i in ids if i in watcher.times}
        self.delivered = len(times)
        if not res.sent:
            return
        first = min(res.sent.values())
        if res.accepted:
            last = max(res.accepted.values())
            if last > first:
                self.accept_rate = self.accepted / ((last - first) / 1e9)
        if times:
            last = max(times.values())
            self.wall = (last - first) / 1e9
            if last > first:
                self.deliver_rate = self.delivered / self.wall
            lat = [(times[i] - res.sent[i]) / 1e6 for i in times
                   if i in res.sent]
            if lat:
                self.p50 = percentile(lat, 50)
                self.p99 = percentile(lat, 99)
                self.pmax = max(lat)

    def as_dict(self):
        return {k: v for k, v in self.__dict__.items()
                if k not in ('missing',)} | {'missing': len(self.missing)}


def wait_phase(watcher, ids, res, timeout):
    sent = [i for i in ids if i in res.accepted]
    return watcher.wait_all(sent, timeout)


def run_phase(name, n, load, watcher, ids, drain_timeout):
    # what an earlier phase left dirty in the page cache (its mailbox, the
    # queue files) is written now, not by the kernel's writeback in the
    # middle of this phase (it writes pages 30 s old: the previous phase's)
    os.sync()
    log('%s: %d messages ...', name, n)
    res = load()
    missing = wait_phase(watcher, ids, res, drain_timeout)
    ph = Phase(name, n)
    ph.compute(res, watcher, ids)
    ph.missing = missing
    log('%s: accepted %d, delivered %d of %d%s', name, ph.accepted,
        ph.delivered, n, ', %d busy answers' % ph.busy if ph.busy else '')
    for ident, text in ph.errors:
        log('%s: error%s: %s', name, ' for ' + ident if ident else '', text)
    return ph


# ---- Postfix's view: sessions ------------------------------------------------

SESSION_RE = re.compile(rb'postfix/submission/smtpd\[(\d+)\]: '
                        rb'(connect|disconnect) from \S+(.*)')


def smtp_sessions(path, bounds):
    """Counts the submission sessions that carried mail, per client, from
    Postfix's log: bounds are (byte offset, name) pairs in ascending
    order, each name owning the sessions whose "connect from" line lies
    at or after its offset (and before the next); the ones before the
    first are the warm-up's ('warm-up'). Each smtpd process serves one
    session at a time, so connect/disconnect pair up by process id; the
    disconnect line has the session's command counts (mail=, rset=)."""
    out = {w: {'sessions': 0, 'mail': 0, 'rset': 0}
           for w in ['warm-up'] + [w for _, w in bounds]}

    def whose(start):
        who = 'warm-up'
        for off, name in bounds:
            if start >= off:
                who = name
        return who

    owner = {}
    pos = 0
    with open(path, 'rb') as f:
        for line in f:
            start, pos = pos, pos + len(line)
            m = SESSION_RE.search(line)
            if m is None:
                continue
            pid = m.group(1)
            if m.group(2) == b'connect':
                owner[pid] = whose(start)
                continue
            who = owner.pop(pid, None)
            counts = {k.decode(): int(v) for k, v in
                      re.findall(rb'(\w+)=(\d+)', m.group(3))}
            if who is None or counts.get('mail', 0) == 0:
                continue          # port probes, refused sessions
            out[who]['sessions'] += 1
            out[who]['mail'] += counts.get('mail', 0)
            out[who]['rset'] += counts.get('rset', 0)
    return out


# ---- report ------------------------------------------------------------------

def fmt(v, unit='', nd=1):
    if v is None:
        return '-'
    return ('%.' + str(nd) + 'f%s') % (v, unit)


def verdict(ok):
    if ok is None:
        return 'n/a'
    return 'PASS' if ok else 'MISS'


def report(args, r):
    ref, tp, lat = r.get('ref'), r.get('tp'), r.get('lat')
    rows = []
    ratio = None
    if ref and tp and ref.deliver_rate and tp.deliver_rate:
        ratio = tp.deliver_rate / ref.deliver_rate
    rows.append(('triggers accepted/s (N=%d, K=%d)' % (args.n, args.k),
                 fmt(tp and tp.accept_rate), '-', '', ''))
    rows.append(('messages delivered/s',
                 fmt(tp and tp.deliver_rate), fmt(ref and ref.deliver_rate),
                 '>= %d %% of ref' % round(TARGET_RATIO * 100),
                 verdict(None if ratio is None else ratio >= TARGET_RATIO)
                 + ('' if ratio is None else ' (%.1f %%)' % (ratio * 100))))
    rows.append(('latency p50/p99, throughput phase',
                 '%s / %s ms' % (fmt(tp and tp.p50), fmt(tp and tp.p99)),
                 '%s / %s ms' % (fmt(ref and ref.p50), fmt(ref and ref.p99)),
                 '', ''))
    rows.append(('latency p50/p99 at %g/s x %gs' % (args.rate,
                                                     args.duration),
                 '%s / %s ms' % (fmt(lat and lat.p50), fmt(lat and lat.p99)),
                 '-', 'p99 < %d ms' % TARGET_P99_MS,
                 verdict(None if not lat or lat.p99 is None
                         else lat.p99 < TARGET_P99_MS)))
    cpu = r.get('cpu_ms_per_msg')
    if cpu is not None:
        rows.append(('herald CPU per message, throughput phase',
                     '%.2f ms' % cpu, '-', '', ''))
    if r.get('pf_ms_per_msg') is not None or \
            r.get('ref_pf_ms_per_msg') is not None:
        rows.append(('Postfix CPU per message, throughput phase',
                     fmt(r.get('pf_ms_per_msg'), ' ms', 2),
                     fmt(r.get('ref_pf_ms_per_msg'), ' ms', 2), '', ''))
    if r.get('client_ms_per_msg') is not None or \
            r.get('ref_client_ms_per_msg') is not None:
        rows.append(('bench client CPU per message (load + watcher)',
                     fmt(r.get('client_ms_per_msg'), ' ms', 2),
                     fmt(r.get('ref_client_ms_per_msg'), ' ms', 2), '', ''))
    idle, peak = r.get('idle_kb'), r.get('peak_kb')
    rows.append(('herald idle RSS (VmRSS)', fmt(idle and idle / 1024, ' MB'),
                 '-', '<= %d MB' % (TARGET_IDLE_KB // 1024),
                 verdict(None if idle is None else idle <= TARGET_IDLE_KB)))
    again = r.get('idle_after_kb')
    if again is not None:
        rows.append(('herald idle RSS %d s after the load' % IDLE_AFTER_S,
                     fmt(again / 1024, ' MB'), '-',
                     '<= %d MB' % (TARGET_IDLE_AFTER_KB // 1024),
                     verdict(again <= TARGET_IDLE_AFTER_KB)))
    msgs = r.get('herald_messages', 0)
    note = verdict(None if peak is None else peak < TARGET_PEAK_KB)
    notes = []
    if peak is not None and msgs < TARGET_PEAK_MESSAGES:
        note += ' *'
        notes.append('* peak RSS after %d messages; the target is for %d '
                     '(add --messages %d)' % (
                         msgs, TARGET_PEAK_MESSAGES,
                         TARGET_PEAK_MESSAGES - msgs))
    rows.append(('herald peak RSS (VmHWM, %d msgs)' % msgs,
                 fmt(peak and peak / 1024, ' MB'), '-',
                 '< %d MB' % (TARGET_PEAK_KB // 1024), note))
    ss = r.get('sessions')
    if ss:
        def sess(w):
            x = ss.get(w)
            if not x or not x['sessions']:
                return '-'
            return '%d (%.0f msgs each)' % (
                x['sessions'], x['mail'] / x['sessions'])
        rows.append(('SMTP sessions Postfix saw', sess('herald'),
                     sess('ref'), '', ''))
    long_ = r.get('long')
    if long_:
        rows.append(('long run delivered/s (%d msgs)' % long_.n,
                     fmt(long_.deliver_rate), '-', '', ''))

    head = ('figure', 'herald', 'reference', 'target', 'result')
    w = [max(len(str(x[i])) for x in rows + [head]) for i in range(5)]
    out = []
    out.append('herald bench: %s, %d cores, Postfix STARTTLS+AUTH on '
               'loopback, chain verified against test root A; Postfix\'s '
               'queue and mailboxes %s; herald\'s data on disk'
               % (platform.node(), os.cpu_count() or 0,
                  'on disk' if args.sink == 'disk' else
                  'in memory (tmpfs %s)' % args.sink_dir))
    if r.get('load_before') is not None:
        out.append('load average (1 min) before %.2f, after %.2f: other '
                   'work on the machine skews every figure'
                   % (r['load_before'], os.getloadavg()[0]))
    line = '  '.join('%-*s' % (w[i], head[i]) for i in range(5))
    out.append(line)
    out.append('-' * len(line))
    for row in rows:
        out.append('  '.join('%-*s' % (w[i], row[i]) for i in range(5))
                   .rstrip())
    for name in PHASES:
        ph = r.get(name)
        if ph is None or name == 'warm':
            continue
        if ph.missing or ph.errors or ph.duplicates or ph.busy:
            out.append('%s: %d of %d delivered, %d missing, %d duplicates, '
                       '%d "busy" answers, %d errors'
                       % (name, ph.delivered, ph.n, len(ph.missing),
                          ph.duplicates, ph.busy, len(ph.errors)))
    out.extend(notes)
    out.append('delivered time = ctime of the Maildir file; trigger time '
               '= just before the request')
    print('\n'.join(out))
    sys.stdout.flush()
    if args.database == 'postgres':
        report_compare(args, r)
    if args.json:
        data = jsonable(r)
        data['ratio'] = ratio
        data['args'] = vars(args)
        with open(args.json, 'w') as f:
            json.dump(data, f, indent=1)


def jsonable(v):
    if isinstance(v, Phase):
        return v.as_dict()
    if isinstance(v, dict):
        return {k: jsonable(x) for k, x in v.items()}
    return v


def pg_ratios(r):
    """delivered/s of pg x1 over SQLite's, and of pg x2 over pg x1."""
    def rate(x):
        tp = x.get('tp') if x else None
        return tp.deliver_rate if tp else None
    s, p1, p2 = rate(r), rate(r.get('pg1')), rate(r.get('pg2'))
    return (p1 / s if s and p1 else None, p2 / p1 if p1 and p2 else None)


# Targets of issue 14 (herald on PostgreSQL).
TARGET_PG1 = 0.80       # pg x1 delivered/s over SQLite's
TARGET_PG2 = 1.00       # pg x2 delivered/s over pg x1's


def report_compare(args, r):
    """The --database postgres table: SQLite, one and two instances on
    PostgreSQL, and the ratios."""
    cols = [r, r.get('pg1') or {}, r.get('pg2') or {}]

    def get(x, phase, attr):
        ph = x.get(phase)
        return getattr(ph, attr) if ph is not None else None

    def ratio(a, b, nd=2):
        return '-' if a is None or not b else '%.*f' % (nd, a / b)

    def mb(xs):
        return ' / '.join('%.1f' % (k / 1024) for k in xs) + ' MB' \
            if xs else '-'

    def row(name, vals, unit='', nd=1, ratios=True, rnd=2):
        v = [fmt(x, unit, nd) for x in vals]
        if ratios:
            v += [ratio(vals[1], vals[0], rnd), ratio(vals[2], vals[1], rnd)]
        else:
            v += ['', '']
        return (name,) + tuple(v)

    rows = []
    rows.append(row('triggers accepted/s (N=%d, K=%d)' % (args.n, args.k),
                    [get(x, 'tp', 'accept_rate') for x in cols]))
    rows.append(row('messages delivered/s',
                    [get(x, 'tp', 'deliver_rate') for x in cols]))
    rows.append(row('herald CPU per message (all instances)',
                    [x.get('cpu_ms_per_msg') for x in cols], ' ms', 2))
    rows.append(('PostgreSQL CPU per message (server)', '-',
                 fmt(cols[1].get('pg_cpu_ms_per_msg'), ' ms', 2),
                 fmt(cols[2].get('pg_cpu_ms_per_msg'), ' ms', 2), '',
                 ratio(cols[2].get('pg_cpu_ms_per_msg'),
                       cols[1].get('pg_cpu_ms_per_msg'))))
    rows.append(('SQL statements per message', '-',
                 fmt(cols[1].get('pg_stmts_per_msg')),
                 fmt(cols[2].get('pg_stmts_per_msg')), '', ''))
    rows.append(('WAL flushes per message', '-',
                 fmt(cols[1].get('pg_wal_syncs_per_msg'), nd=2),
                 fmt(cols[2].get('pg_wal_syncs_per_msg'), nd=2), '', ''))
    rows.append(('latency p50 / p99, throughput phase',) + tuple(
        '%s / %s ms' % (fmt(get(x, 'tp', 'p50')), fmt(get(x, 'tp', 'p99')))
        for x in cols) + ('', ''))
    rows.append(row('latency p99 at %g/s x %gs' % (args.rate, args.duration),
                    [get(x, 'lat', 'p99') for x in cols], ' ms'))
    rows.append(('latency p50 at %g/s x %gs' % (args.rate, args.duration),)
                + tuple(fmt(get(x, 'lat', 'p50'), ' ms') for x in cols)
                + ('', ''))
    rows.append(('peak RSS per instance (VmHWM)',)
                + tuple(mb(x.get('peak_kb_each')) for x in cols) + ('', ''))
    rows.append(('idle RSS per instance (VmRSS)',)
                + tuple(mb(x.get('idle_kb_each')) for x in cols) + ('', ''))
    ss = r.get('sessions') or {}

    def sess(x):
        if not x or not x.get('sessions'):
            return '-'
        return '%d (%.0f msgs each)' % (x['sessions'],
                                        x['mail'] / x['sessions'])
    rows.append(('SMTP sessions Postfix saw', sess(ss.get('herald')),
                 sess(ss.get('pg1')), sess(ss.get('pg2')), '', ''))

    head = ('figure', 'sqlite', 'pg x1', 'pg x2', 'pg1/sqlite', 'pg2/pg1')
    w = [max(len(str(x[i])) for x in rows + [head]) for i in range(6)]
    out = ['', 'herald on PostgreSQL vs SQLite: private PostgreSQL 15 on '
           'loopback (fsync %s, synchronous_commit on); pg x2 = two '
           'instances on one database, webhooks round robin'
           % args.pg_fsync]
    line = '  '.join('%-*s' % (w[i], head[i]) for i in range(6))
    out.append(line)
    out.append('-' * len(line))
    for rw in rows:
        out.append('  '.join('%-*s' % (w[i], rw[i]) for i in range(6))
                   .rstrip())
    p1, p2 = pg_ratios(r)
    out.append('target: pg x1 delivered/s >= %d %% of SQLite\'s: %s'
               % (round(TARGET_PG1 * 100),
                  verdict(None if p1 is None else p1 >= TARGET_PG1)
                  + ('' if p1 is None else ' (%.1f %%)' % (p1 * 100))))
    out.append('target: pg x2 delivered/s >= pg x1\'s: %s'
               % (verdict(None if p2 is None else p2 >= TARGET_PG2)
                  + ('' if p2 is None else ' (x%.2f)' % p2)))
    for v, _ in PG_VARIANTS:
        x = r.get(v)
        for name in PHASES:
            ph = x and x.get(name)
            if ph is None or name == 'warm':
                continue
            if ph.missing or ph.errors or ph.duplicates or ph.busy:
                out.append('%s %s: %d of %d delivered, %d missing, %d '
                           'duplicates, %d "busy" answers, %d errors'
                           % (v, name, ph.delivered, ph.n, len(ph.missing),
                              ph.duplicates, ph.busy, len(ph.errors)))
    out.append('CPU per message: user + system of the throughput phase '
               'over the messages delivered in it; statements: '
               'pg_stat_statements calls (BEGIN/COMMIT count); WAL '
               'flushes: pg_stat_wal.wal_sync')
    for v, _ in PG_VARIANTS if args.pg_top else ():
        top = (r.get(v) or {}).get('pg_top') or []
        out.append('%s, throughput phase: statements per message (calls, '
                   'server ms), most called first:' % v)
        for calls, ms, q in top[:args.pg_top]:
            out.append('  %6.2f %7.3f  %s' % (calls, ms,
                                              q if len(q) <= 150
                                              else q[:147] + '...'))
    print('\n'.join(out))
    sys.stdout.flush()


# ---- main ----------------------------------------------------------------------

def parse_args(argv):
    p = argparse.ArgumentParser(
        prog='bench/run',
        description='Measure herald (webhook -> outbox -> Postfix over '
        'STARTTLS+AUTH) against smtplib over reused sessions.')
    p.add_argument('--n', type=int, default=2000,
                   help='messages in the throughput phase (default 2000)')
    p.add_argument('--k', type=int, default=8,
                   help='concurrent clients / SMTP sessions (default 8)')
    p.add_argument('--rate', type=float, default=50.0,
                   help='triggers per second in the latency phase (50)')
    p.add_argument('--duration', type=float, default=10.0,
                   help='seconds of the latency phase (default 10)')
    p.add_argument('--messages', type=int, default=0,
                   help='extra webhooks after the other phases, for peak '
                   'RSS (e.g. 10000; default 0)')
    p.add_argument('--timeout', type=float, default=None,
                   help='hard limit for the whole run in seconds (default '
                   '600 + 0.1 s per message)')
    p.add_argument('--sink', choices=('memory', 'disk'), default='memory',
                   help='where the private Postfix keeps its queue and '
                   'mailboxes: memory (a tmpfs, the default: the mail '
                   'server is another machine in a deployment, and here it '
                   'would share the disk with herald and charge each side '
                   'for the server\'s fsyncs) or disk (the temporary directory, '
                   'as a Postfix beside herald on one machine); herald\'s '
                   'data directory is on disk either way')
    p.add_argument('--skip-reference', action='store_true',
                   help='do not run the smtplib reference')
    p.add_argument('--skip-herald', action='store_true',
                   help='run only the reference (checks the mail setup)')
    p.add_argument('--smaps', metavar='DIR', default=None,
                   help='save /proc/PID/smaps of herald at both idle RSS '
                   'measures into DIR (herald-TAG-idle.smaps, '
                   'herald-TAG-idle-after.smaps) and its log '
                   '(herald-TAG-0.log)')
    p.add_argument('--log-level', default='warn',
                   help='herald --log-level during the run (default warn)')
    p.add_argument('--repeat', type=int, default=1,
                   help='run the herald/reference pair N times, one after '
                   'the other, and end with the median and spread of the '
                   'ratio, of CPU per message and of p99 (default 1)')
    p.add_argument('--database', choices=('sqlite', 'postgres'),
                   default='sqlite',
                   help='postgres: after herald on SQLite, run the same '
                   'phases with one and with two herald instances on a '
                   'private PostgreSQL 15 and print them side by side '
                   '(default sqlite: SQLite only)')
    p.add_argument('--pg-fsync', choices=('on', 'off'), default='on',
                   help='with --database postgres: on (default) makes '
                   'PostgreSQL durable as a deployment is; off keeps the '
                   'test settings (fsync and full_page_writes off)')
    p.add_argument('--pg-top', type=int, default=0, metavar='N',
                   help='with --database postgres: also print the N '
                   'statements run most often per message (from '
                   'pg_stat_statements, throughput phase)')
    p.add_argument('--json', metavar='FILE',
                   help='also write every figure to FILE as JSON')
    a = p.parse_args(argv)
    for name in ('n', 'k'):
        if getattr(a, name) < 1:
            p.error('--%s must be at least 1, got %d'
                    % (name, getattr(a, name)))
    if a.messages < 0:
        p.error('--messages must be 0 or more, got %d' % a.messages)
    if a.repeat < 1 or a.repeat > 50:
        p.error('--repeat must be between 1 and 50, got %d' % a.repeat)
    a.herald_first = False      # --repeat alternates it (main)
    if a.rate <= 0 or a.duration <= 0:
        p.error('--rate and --duration must be positive')
    if a.rate * a.duration > 1e6 or a.n > 1e6 or a.messages > 1e6:
        p.error('at most 1,000,000 messages per phase')
    if a.timeout is None:
        a.timeout = 600 + 0.1 * (a.n * 2 + a.rate * a.duration + a.messages)
        if a.database == 'postgres':   # two more herald runs of it all
            a.timeout += 300 + 0.2 * (a.n + a.rate * a.duration
                                      + a.messages)
    if a.timeout <= 0:
        p.error('--timeout must be positive')
    if a.skip_herald and a.skip_reference:
        p.error('--skip-herald and --skip-reference leave nothing to run')
    a.sink_dir = None
    if a.sink == 'memory':
        a.sink_dir = tmpfs_dir()
        if a.sink_dir is None:
            p.error('--sink memory needs a writable tmpfs at /dev/shm or '
                    '/run/shm (none is mounted); use --sink disk')
    return a


def tmpfs_dir():
    """A writable tmpfs mount point for --sink memory, or None."""
    try:
        with open('/proc/mounts') as f:
            mounts = {m[1]: m[2] for m in (line.split() for line in f)
                      if len(m) >= 3}
    except OSError:
        return None
    for d in ('/dev/shm', '/run/shm'):
        if mounts.get(d) == 'tmpfs' and os.access(d, os.W_OK | os.X_OK):
            return d
    return None


def on_alarm(signum, frame):
    raise BenchTimeout()


def on_term(signum, frame):
    raise KeyboardInterrupt()


def drain_time(n, rate_guess=20.0):
    """Generous time for n messages to land after the last trigger."""
    return 60 + n / rate_guess


# The PostgreSQL variants of --database postgres: (name, instances).
PG_VARIANTS = (('pg1', 1), ('pg2', 2))


def pg_variants(args):
    """The PostgreSQL runs after herald's SQLite one: (name, instances)."""
    return PG_VARIANTS if args.database == 'postgres' else ()


def start_pg(args):
    """A private PostgreSQL 15 (tests/lib/pgsrv.py) on loopback, with
    pg_stat_statements when it is installed (statements per message).
    --pg-fsync on (the default) makes it durable as a deployment is;
    off keeps the tests' settings (fsync and full_page_writes off)."""
    import pgsrv
    settings = {}
    if args.pg_fsync == 'on':
        settings.update(fsync='on', full_page_writes='on')
    lib = os.path.join(os.path.dirname(pgsrv.pg_bin('postgres')), '..',
                       'lib', 'pg_stat_statements.so')
    stats = os.path.exists(lib)
    if stats:
        settings.update(shared_preload_libraries='pg_stat_statements')
        settings['pg_stat_statements.track_utility'] = 'on'
    pg = pgsrv.PgServer(settings=settings)
    pg.start()
    pg.bench_stats = False
    if stats:
        try:
            pg.sql('CREATE EXTENSION IF NOT EXISTS pg_stat_statements')
            pg.bench_stats = True
        except pgsrv.PgError as e:
            log('pg_stat_statements not available: %s', e)
    return pg


def pg_statements(pg, reset=False):
    """Statements the server ran so far (all databases), or None; reset:
    start counting from 0."""
    if pg is None or not getattr(pg, 'bench_stats', False):
        return None
    try:
        if reset:
            pg.sql('SELECT pg_stat_statements_reset()')
        return int(pg.sql('SELECT coalesce(sum(calls), 0)::bigint '
                          'FROM pg_stat_statements').strip() or 0)
    except Exception:     # a figure less, not a failed run
        return None


def pg_wal_syncs(pg):
    """WAL flushes (fsync/fdatasync) the server made so far (pg_stat_wal),
    or None."""
    if pg is None:
        return None
    try:
        return int(pg.sql('SELECT wal_sync FROM pg_stat_wal').strip())
    except Exception:     # a figure less, not a failed run
        return None


def pg_top_statements(pg, limit=40):
    """[(calls, total ms, statement)] since the last reset, most called
    first."""
    if pg is None or not getattr(pg, 'bench_stats', False):
        return []
    try:
        text = pg.sql("SELECT calls, round(total_exec_time::numeric, 1),"
                      " regexp_replace(query, '\\s+', ' ', 'g')"
                      " FROM pg_stat_statements ORDER BY calls DESC"
                      " LIMIT %d" % limit)
    except Exception:
        return []
    out = []
    for line in text.splitlines():
        calls, ms, query = line.split('|', 2)
        out.append((int(calls), float(ms), query))
    return out


POSTFIX_WARM = 'postfix-warm'
POSTFIX_WARM_N = 400


def warm_postfix(env, cafile, tag):
    """Sends POSTFIX_WARM_N messages through the fresh Postfix before any
    measured phase, and waits for them. The phase that met a just-started
    Postfix (its smtpd, cleanup and virtual processes spawned, its maps
    opened on first use) was up to a third slower than the same phase on
    a warm one: with the pairs alternating, herald-first pairs gave ratios
    of 0.61 - 0.68 where reference-first ones gave 0.87 - 1.15."""
    w = MaildirWatcher(os.path.join(env.mail_dir, mailbox(POSTFIX_WARM)))
    w.start()
    try:
        ids = ['%s-%06d-%s' % ('pfwarm', i, tag)
               for i in range(POSTFIX_WARM_N)]
        log('warming Postfix up: %d messages ...', len(ids))
        res = reference_load(env, cafile, ids, 8, timeout=120,
                             to=mailbox(POSTFIX_WARM))
        missing = wait_phase(w, ids, res, 120)
    finally:
        w.stop()
    if missing or res.error_count:
        raise BenchError('Postfix did not take the warm-up mail (%d of %d '
                         'missing; %s); Postfix log:\n%s' % (
                             len(missing), len(ids), res.errors[:2],
                             env.log()[-4000:]))


def run(args, r):
    """One pair: the reference and herald, each on a Postfix of its own,
    started and warmed up for it (warm_postfix) and stopped after it. A
    side that shared the other's Postfix met what the other left (its
    queue files, its mailbox and the deletes of both on the disk): over 21
    pairs both sides delivered a third faster in a pair's second phase
    than in its first (Postfix's cleanup spent that much more CPU per
    message, mostly under its queue-file fsync), which made the ratio a
    coin toss of the order. Now each side meets a Postfix in the same
    state; the pairs still alternate which goes first (the machine
    drifts)."""
    tag = uuid.uuid4().hex[:6]
    variants = pg_variants(args)
    r['sink'] = args.sink
    r['order'] = 'herald first' if args.herald_first else \
        'reference first'
    r['sessions'] = {}
    sides = []
    if not args.skip_reference:
        sides.append(lambda: on_postfix(args, r, tag, 'ref', (),
                                        run_reference))
    if not args.skip_herald:
        sides.append(lambda: on_postfix(args, r, tag, 'herald', variants,
                                        run_herald_side))
    if args.herald_first:
        sides.reverse()
    for side in sides:
        side()


def on_postfix(args, r, tag, side, variants, body):
    """Starts a private Postfix + Dovecot for one side, warms it up, runs
    body(args, env, r, tag, cafile, watchers, offsets) and stops it all
    (also on errors); then counts that side's SMTP sessions from its log
    into r['sessions']."""
    env = MailEnv(extra_chains=(), aiosmtpd=False,
                  base_dir=args.sink_dir if args.sink == 'memory' else None)
    env.mailboxes = env.mailboxes + [mailbox(p) for p in PHASES] + [
        mailbox(p, v) for v, _ in variants for p in PHASES[1:]] + [
        mailbox(POSTFIX_WARM)]
    watchers = []
    offsets = []   # (Postfix log offset, who): sessions from there on
    try:
        log('starting Postfix + Dovecot for the %s ...',
            'reference' if side == 'ref' else 'herald side')
        env.start()
        cafile = os.path.join(pki_dir(), 'root-a.pem')
        warm_postfix(env, cafile, tag)
        offsets.append((os.path.getsize(env.postfix_log), side))
        body(args, env, r, tag, cafile, watchers, offsets)
    finally:
        left = signal.alarm(0)   # the clean-up must not be cut short
        for w in watchers:
            w.stop()
        try:
            env.stop()
            if getattr(env, 'postfix_log', None) and \
                    os.path.exists(env.postfix_log):
                got = smtp_sessions(env.postfix_log, offsets)
                for who, counts in got.items():
                    if who != 'warm-up':
                        r['sessions'][who] = counts
                for v, _ in variants:
                    if v in r:
                        r[v]['sessions'] = got.get(v)
        finally:
            env.cleanup()
            if left:
                signal.alarm(left)   # the overall limit goes on


def run_reference(args, env, r, tag, cafile, watchers, offsets):
    w = MaildirWatcher(os.path.join(env.mail_dir, mailbox('ref')))
    w.start()
    watchers.append(w)
    load_ids = ['%s-%06d-%s' % ('ref', i, tag) for i in range(args.n)]
    pf0, me0 = postfix_cpu_seconds(env), client_cpu_seconds()
    r['ref'] = run_phase(
        'reference', args.n,
        lambda: reference_load(env, cafile, load_ids, args.k,
                               timeout=drain_time(args.n)),
        w, load_ids, drain_time(args.n))
    r['ref_pf_ms_per_msg'] = per_msg(pf0, postfix_cpu_seconds(env),
                                     r['ref'].delivered)
    r['ref_client_ms_per_msg'] = per_msg(
        me0, client_cpu_seconds(), r['ref'].delivered)
    if r['ref'].delivered < args.n:
        raise BenchError('the reference lost messages (%d of %d '
                         'delivered): the mail setup is broken; '
                         'Postfix log:\n%s' % (
                             r['ref'].delivered, args.n,
                             env.log()[-4000:]))


def run_herald_side(args, env, r, tag, cafile, watchers, offsets):
    """herald on SQLite, then each PostgreSQL variant, on one Postfix."""
    variants = pg_variants(args)
    with open(cafile) as f:
        root_pem = f.read()
    pg = None
    try:
        if variants:
            log('starting PostgreSQL (fsync %s) ...', args.pg_fsync)
            pg = start_pg(args)
        run_herald(args, env, root_pem, r, tag, watchers)
        for variant, instances in variants:
            offsets.append((os.path.getsize(env.postfix_log), variant))
            r[variant] = {'instances': instances}
            url = pg.create_database()
            try:
                run_herald(args, env, root_pem, r[variant], tag, watchers,
                           variant, url, instances, pg)
            finally:
                try:
                    pg.drop_database(url.rsplit('/', 1)[1])
                except Exception:
                    pass   # stop() removes the server and its data
    finally:
        if pg is not None:
            log('stopping PostgreSQL ...')
            pg.stop()


def run_herald(args, env, root_pem, r, tag, watchers, variant='', url=None,
               instances=1, pg=None):
    """Starts herald (instances of it, all on the PostgreSQL database url
    when given, with one admin token), configures it through the first
    one and runs the phases with the webhooks split round robin over all;
    the figures go into r. Stops every herald it started, also on errors.
    variant: '' for SQLite (figures, names and Maildirs as they always
    were), 'pg1' / 'pg2' for PostgreSQL."""
    suffix = '-' + variant if variant else ''
    what = 'herald' if not variant else 'herald x%d on PostgreSQL' % \
        instances

    def ids(phase, n):
        return ['%s-%06d-%s%s' % (phase, i, tag, suffix) for i in range(n)]

    def watch(phase):
        w = MaildirWatcher(os.path.join(env.mail_dir,
                                        mailbox(phase, variant)))
        w.start()
        watchers.append(w)
        return w

    def phase(name):
        return '%s %s' % (variant, name) if variant else name

    hs = []
    try:
        log('starting %s %s ...', what, os.environ.get('HERALD_BIN'))
        # tuning knobs given to the bench (HERALD_MAIL_SENDERS, HERALD_WORKERS,
        # HERALD_THREADS, ...) reach herald; the harness drops HERALD_* else
        tune = {k: v for k, v in os.environ.items()
                if k.startswith('HERALD_') and k not in
                ('HERALD_BIN', 'HERALD_SRC', 'HERALD_TEST_PKI',
                 'HERALD_ADMIN_TOKEN', 'HERALD_TEST_BACKEND',
                 'HERALD_TEST_PG', 'HERALD_DATABASE_URL',
                 'HERALD_DATABASE_URL_FILE')}
        tune['HERALD_LOG_LEVEL'] = args.log_level
        token = None
        for i in range(instances):
            h = Herald(env=tune, token=token, database_url=url)
            token = h.token       # one admin token for all
            hs.append(h)
            h.start()
            if hasattr(env, '_reap'):
                # Have MailEnv's reaper kill herald too if we die by SIGKILL.
                env._reap(pid=h.proc.pid)
        h = hs[0]
        tokens = configure(h, env, root_pem, variant)
        time.sleep(IDLE_SETTLE_S)
        each = [proc_status(x.proc.pid)['VmRSS'] for x in hs]
        r['idle_kb'], r['idle_kb_each'] = each[0], each
        save_smaps(h.proc.pid, args.smaps,
                   'herald-%s%s-idle.smaps' % (tag, suffix))
        log('%s idle: VmRSS %s kB', what, ' / '.join(map(str, each)))

        # One message end to end first, through each instance: fails fast,
        # with the reason. The other instances see the configuration made
        # through the first within about a second (docs/storage.md).
        w = watch('warm')
        warm = []
        for i, x in enumerate(hs):
            ident = 'warm-' + tag + suffix + ('-%d' % i if i else '')
            until = time.monotonic() + 10
            while True:
                res = webhook_load(x, 'bench-warm', tokens['warm'], [ident],
                                   1, timeout=30)
                if not res.errors or time.monotonic() > until:
                    break
                time.sleep(0.5)
            if res.errors:
                raise BenchError('herald refused the webhook: %s\n%s'
                                 % (res.errors[0][1],
                                    diagnose(x, 'bench-warm')))
            warm.append(ident)

        def dead():
            st, _, data = h.request('GET', '/api/v1/outbox?state=dead',
                                    timeout=10)
            return st == 200 and bool(data.get('items'))

        if w.wait_all(warm, 30, give_up=dead):
            raise BenchError('herald accepted a webhook but the message did '
                             'not land (dead, or not within 30 s):\n%s\n'
                             'Postfix log (tail):\n%s'
                             % (diagnose(h, 'bench-warm'),
                                env.log()[-3000:]))
        count = len(warm)

        w = watch('tp')
        load_ids = ids('tp', args.n)
        cpu0 = sum(cpu_seconds(x.proc.pid) for x in hs)
        pf0, me0 = postfix_cpu_seconds(env), client_cpu_seconds()
        pg_cpu0 = server_cpu_seconds(pg.pid) if pg is not None else None
        stmts0 = pg_statements(pg, reset=True)
        wal0 = pg_wal_syncs(pg)
        r['tp'] = run_phase(
            phase('throughput'), args.n,
            lambda: webhook_load(hs, 'bench-tp', tokens['tp'], load_ids,
                                 args.k, timeout=drain_time(args.n)),
            w, load_ids, drain_time(args.n))
        count += r['tp'].accepted
        if r['tp'].delivered:
            n = r['tp'].delivered
            r['cpu_ms_per_msg'] = ((sum(cpu_seconds(x.proc.pid) for x in hs)
                                    - cpu0) * 1000 / n)
            r['pf_ms_per_msg'] = per_msg(pf0, postfix_cpu_seconds(env), n)
            r['client_ms_per_msg'] = per_msg(me0, client_cpu_seconds(),
                                             n)
            if pg_cpu0 is not None:
                r['pg_cpu_ms_per_msg'] = ((server_cpu_seconds(pg.pid)
                                           - pg_cpu0) * 1000 / n)
            wal1 = pg_wal_syncs(pg)
            if wal0 is not None and wal1 is not None:
                r['pg_wal_syncs_per_msg'] = (wal1 - wal0) / n
            stmts1 = pg_statements(pg)
            if stmts0 is not None and stmts1 is not None:
                # minus the psql query that read the first count
                r['pg_stmts_per_msg'] = (stmts1 - stmts0 - 1) / n
                r['pg_top'] = [(c / n, ms / n, q) for c, ms, q in
                               pg_top_statements(pg)
                               if 'pg_stat_statements' not in q]

        n_lat = max(1, int(round(args.rate * args.duration)))
        w = watch('lat')
        load_ids = ids('lat', n_lat)
        r['lat'] = run_phase(
            phase('latency'), n_lat,
            lambda: webhook_load(hs, 'bench-lat', tokens['lat'], load_ids,
                                 args.k, rate=args.rate,
                                 timeout=args.duration + drain_time(n_lat)),
            w, load_ids, drain_time(n_lat))
        count += r['lat'].accepted

        if args.messages:
            w = watch('long')
            load_ids = ids('long', args.messages)
            r['long'] = run_phase(
                phase('long'), args.messages,
                lambda: webhook_load(hs, 'bench-long', tokens['long'],
                                     load_ids, args.k,
                                     timeout=drain_time(args.messages)),
                w, load_ids, drain_time(args.messages))
            count += r['long'].accepted
        r['herald_messages'] = count
        sts = [proc_status(x.proc.pid) for x in hs]
        r['peak_kb'], r['end_rss_kb'] = sts[0]['VmHWM'], sts[0]['VmRSS']
        r['peak_kb_each'] = [s['VmHWM'] for s in sts]
        log('%s after %d messages: VmHWM %s kB, VmRSS %s kB', what, count,
            ' / '.join(str(s['VmHWM']) for s in sts),
            ' / '.join(str(s['VmRSS']) for s in sts))
        time.sleep(IDLE_AFTER_S)
        each = [proc_status(x.proc.pid)['VmRSS'] for x in hs]
        r['idle_after_kb'], r['idle_after_kb_each'] = each[0], each
        save_smaps(hs[0].proc.pid, args.smaps,
                   'herald-%s%s-idle-after.smaps' % (tag, suffix))
        log('%s idle again: VmRSS %s kB', what, ' / '.join(map(str, each)))
        lost = [(p, r[p]) for p in ('tp', 'lat', 'long')
                if p in r and (r[p].missing or r[p].errors)]
        if lost:
            p, ph = lost[0]
            raise BenchError('%s phase %s: %d of %d delivered, %d '
                             'refused or unsent triggers; first missing: '
                             '%s\n%s' % (what, p, ph.delivered, ph.n,
                                         ph.n - ph.accepted,
                                         ph.missing[:3],
                                         '\n'.join(diagnose(x, 'bench-' + p)
                                                   for x in hs)))
    except BaseException:
        signal.alarm(0)      # the clean-up below must not be cut short
        raise
    finally:
        for x in hs:
            try:
                if x.running():
                    x.stop(timeout=30)
            except HeraldError as e:
                log('stopping herald: %s', str(e)[:2000])
            finally:
                if args.smaps:
                    # with --log-level debug, each idle trim's heap figures
                    os.makedirs(args.smaps, exist_ok=True)
                    with open(os.path.join(args.smaps, 'herald-%s%s-%d.log'
                                           % (tag, suffix, hs.index(x))),
                              'w') as f:
                        f.write(x.log())
                x.cleanup()


def spread(xs):
    """'median (min - max)' of the figures that were measured."""
    xs = sorted(x for x in xs if x is not None)
    if not xs:
        return '-'
    mid = len(xs) // 2
    med = xs[mid] if len(xs) % 2 else (xs[mid - 1] + xs[mid]) / 2
    return '%.2f (%.2f - %.2f)' % (med, xs[0], xs[-1])


def summary(pairs):
    """The repeated pairs side by side, then median and spread."""
    out = ['', '== %d pairs' % len(pairs),
           '%-5s %-16s %-12s %-10s %-10s %-13s %-13s %-9s %s' % (
               'pair', 'first', 'load before', 'ratio', 'CPU/msg',
               'Postfix h/r', 'client h/r', 'p99', 'load after')]
    for i, (r, after) in enumerate(pairs, 1):
        out.append('%-5d %-16s %-12.2f %-10s %-10s %-13s %-13s %-9s %.2f' % (
            i, r.get('order', '-'), r['load_before'],
            fmt(r.get('ratio'), nd=3),
            fmt(r.get('cpu_ms_per_msg'), ' ms', 2),
            '%s / %s' % (fmt(r.get('pf_ms_per_msg'), nd=2),
                         fmt(r.get('ref_pf_ms_per_msg'), nd=2)),
            '%s / %s' % (fmt(r.get('client_ms_per_msg'), nd=2),
                         fmt(r.get('ref_client_ms_per_msg'), nd=2)),
            fmt(r.get('lat') and r['lat'].p99, ' ms'), after))
    out.append('median (spread): ratio %s; CPU per message %s ms; '
               'p99 at the trigger rate %s ms' % (
                   spread([r.get('ratio') for r, _ in pairs]),
                   spread([r.get('cpu_ms_per_msg') for r, _ in pairs]),
                   spread([r.get('lat') and r['lat'].p99
                           for r, _ in pairs])))
    print('\n'.join(out))


def summary_pg(pairs):
    """--database postgres with --repeat: the comparison per repetition,
    then median and spread."""
    def rate(x):
        tp = x.get('tp') if x else None
        return tp.deliver_rate if tp else None

    def p99(x):
        lat = x.get('lat') if x else None
        return lat.p99 if lat else None

    rs = [r for r, _ in pairs]
    out = ['', '== %d repetitions on SQLite and PostgreSQL (delivered/s, '
           'herald CPU per message, p99 at the trigger rate)' % len(pairs),
           '%-4s %-6s %-23s %-17s %-22s %s' % (
               'rep', 'load', 'delivered/s s/p1/p2', 'pg1/s  pg2/p1',
               'CPU/msg ms s/p1/p2', 'p99 ms s/p1/p2')]
    for i, r in enumerate(rs, 1):
        xs = [r, r.get('pg1'), r.get('pg2')]
        p1, p2 = pg_ratios(r)
        out.append('%-4d %-6.2f %-23s %-17s %-22s %s' % (
            i, r['load_before'],
            '/'.join(fmt(rate(x), nd=0) for x in xs),
            '%s  %s' % (fmt(p1, nd=3), fmt(p2, nd=3)),
            '/'.join(fmt(x and x.get('cpu_ms_per_msg'), nd=2) for x in xs),
            '/'.join(fmt(p99(x)) for x in xs)))
    for label, f in (
            ('delivered/s sqlite', lambda r: rate(r)),
            ('delivered/s pg x1', lambda r: rate(r.get('pg1'))),
            ('delivered/s pg x2', lambda r: rate(r.get('pg2'))),
            ('pg1/sqlite (target >= %.2f)' % TARGET_PG1,
             lambda r: pg_ratios(r)[0]),
            ('pg2/pg1 (target >= %.2f)' % TARGET_PG2,
             lambda r: pg_ratios(r)[1]),
            ('CPU per message sqlite, ms',
             lambda r: r.get('cpu_ms_per_msg')),
            ('CPU per message pg x1, ms',
             lambda r: (r.get('pg1') or {}).get('cpu_ms_per_msg')),
            ('CPU per message pg x2, ms',
             lambda r: (r.get('pg2') or {}).get('cpu_ms_per_msg')),
            ('PostgreSQL CPU per message pg x1, ms',
             lambda r: (r.get('pg1') or {}).get('pg_cpu_ms_per_msg')),
            ('PostgreSQL CPU per message pg x2, ms',
             lambda r: (r.get('pg2') or {}).get('pg_cpu_ms_per_msg')),
            ('p99 sqlite, ms', lambda r: p99(r)),
            ('p99 pg x1, ms', lambda r: p99(r.get('pg1'))),
            ('p99 pg x2, ms', lambda r: p99(r.get('pg2')))):
        out.append('median (spread) %-38s %s' % (label,
                                                 spread([f(r) for r in rs])))
    print('\n'.join(out))


def main(argv=None):
    args = parse_args(sys.argv[1:] if argv is None else argv)
    # the tests' backend switch must not move the SQLite run elsewhere
    os.environ.pop('HERALD_TEST_BACKEND', None)
    os.environ.pop('HERALD_TEST_PG', None)
    if args.repeat > 1:
        pairs, rc = [], 0
        for i in range(args.repeat):
            log('pair %d of %d', i + 1, args.repeat)
            r = {}
            args.herald_first = i % 2 == 1 and not (args.skip_herald or
                                                    args.skip_reference)
            rc = main_once(args, r) or rc
            ref, tp = r.get('ref'), r.get('tp')
            if ref and tp and ref.deliver_rate and tp.deliver_rate:
                r['ratio'] = tp.deliver_rate / ref.deliver_rate
            pairs.append((r, os.getloadavg()[0]))
        summary(pairs)
        if args.database == 'postgres':
            summary_pg(pairs)
        return rc
    return main_once(args, {})


def main_once(args, r):
    if not os.environ.get('HERALD_BIN') and not args.skip_herald:
        log('HERALD_BIN is not set: run bench/run, or set it to the herald '
            'binary')
        return 2
    signal.signal(signal.SIGTERM, on_term)
    signal.signal(signal.SIGALRM, on_alarm)
    signal.alarm(max(1, int(args.timeout)))
    r['load_before'] = os.getloadavg()[0]
    rc = 0
    try:
        run(args, r)
    except BenchTimeout:
        log('overall timeout of %.0f s reached; stopped everything',
            args.timeout)
        rc = 124
    except KeyboardInterrupt:
        log('interrupted; stopped everything')
        rc = 130
    except (BenchError, MailEnvError, HeraldError) as e:
        log('FAILED: %s', e)
        rc = 1
    finally:
        signal.alarm(0)
    report(args, r)     # what was measured, also after a failure
    return rc


if __name__ == '__main__':
    sys.exit(main())
