# SPDX-License-Identifier: MIT
"""
tests/lib/mailenv.py: real mail servers on loopback for herald's
integration tests.

MailEnv starts, entirely under one temporary directory, on 127.0.0.1 and
::1 (when the machine has it) with ephemeral ports:

  * a private Postfix instance (postfix -c DIR start) delivering to virtual
    Maildir mailboxes under the temp dir, never to the outside (no DNS, every
    non-local destination goes to the error transport), with these smtpd
    services:
      submission  STARTTLS required, SASL AUTH only after TLS, MAIL FROM
                  must be owned by the login (reject_sender_login_mismatch,
                  checked at MAIL FROM)
      smtps       the same behind implicit TLS (smtpd_tls_wrappermode)
      plain       no STARTTLS and no AUTH; accepts mail for local domains
      submission-<name>  one extra STARTTLS submission service per entry of
                  extra_chains, presenting another certificate chain
                  (e.g. chain-expired, chain-wronghost, chain-inter);
  * a private Dovecot (dovecot -c CONF) that serves only SASL to Postfix
    over QUEUE/private/auth, with a passwd-file user table; with
    MailEnv(oauth=...) it also offers XOAUTH2 and OAUTHBEARER through its
    oauth2 passdb, validating each bearer token by RFC 7662 introspection
    (POST) against the given endpoint over TLS (tests/lib/oauthsrv.py), so
    that Postfix's submission services offer them after STARTTLS;
  * aiosmtpd (tests/lib/mailenv/capture_smtpd.py) as a second independent
    server: "aiosmtpd" requires STARTTLS and AUTH and saves each message's
    exact bytes; "aiosmtpd-nostarttls" offers no STARTTLS at all.

The TLS material comes from tests/lib/mkpki.sh. Everything started is
stopped by stop() (or leaving the with block), by PID, also when a test
fails. A server that cannot start raises MailEnvError with its log: tests
never skip silently. Nothing here touches /etc/postfix, /etc/dovecot or a
system instance.

Python: Debian's /usr/bin/python3, stdlib only (aiosmtpd in the child).
"""

import atexit
import base64
import hashlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import weakref

import reaping

HERE = os.path.dirname(os.path.abspath(__file__))
MKPKI = os.path.join(HERE, 'mkpki.sh')
CAPTURE = os.path.join(HERE, 'mailenv', 'capture_smtpd.py')
REAPER = os.path.join(HERE, 'mailenv', 'reaper.py')
SYSTEM_PYTHON = '/usr/bin/python3'

# Test accounts. Passwords deliberately hold '@' and ':' (the server string
# is split at the last '@', the password at the first ':').
USERS = {
    'alerts@example.test': 'Al3rt@s:secret!x',
    'relay@corp.example.test': 'p@ss:w0rd',
}
# Mailboxes that exist (Postfix refuses any other recipient).
MAILBOXES = [
    'alerts@example.test',
    'noc@example.test',
    'ops@example.test',
    'oncall@example.test',
    'relay@corp.example.test',
    'team@corp.example.test',
]
LOCAL_DOMAINS = ['example.test', 'corp.example.test']

DEFAULT_EXTRA_CHAINS = ('inter', 'expired', 'wronghost')


class MailEnvError(RuntimeError):
    """A mail server could not start or misbehaved; carries its log."""


def have_ipv6_loopback():
    """True if ::1 can be bound here."""
    try:
        with socket.socket(socket.AF_INET6, socket.SOCK_STREAM) as s:
            s.bind(('::1', 0))
        return True
    except OSError:
        return False


def free_port(hosts=('127.0.0.1',)):
    """An ephemeral TCP port that is free on every one of hosts right
    now."""
    for _ in range(100):
        socks = []
        try:
            port = 0
            for h in hosts:
                fam = socket.AF_INET6 if ':' in h else socket.AF_INET
                s = socket.socket(fam, socket.SOCK_STREAM)
                socks.append(s)
                if fam == socket.AF_INET6:
                    s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
                s.bind((h, port))
                port = s.getsockname()[1]
            return port
        except OSError:
            continue
        finally:
            for s in socks:
                s.close()
    raise MailEnvError('no free port on %s' % ', '.join(hosts))


def wait_port(host, port, timeout, proc=None):
    """True once something accepts on host:port; False on timeout or when
    proc (if given) exits first."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            return False
        try:
            with socket.create_connection((host, port), timeout=0.5):
                return True
        except OSError:
            time.sleep(0.05)
    return False


def _read(path, limit=20000):
    try:
        with open(path, 'rb') as f:
            data = f.read()
        return data[-limit:].decode('utf-8', 'replace')
    except OSError as e:
        return '(cannot read %s: %s)' % (path, e)


def _pid_alive(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # A zombie child of ours counts as gone.
    try:
        with open('/proc/%d/stat' % pid) as f:
            if f.read().split(')')[-1].split()[0] == 'Z':
                return False
    except OSError:
        return False
    return True


def _kill_pid(pid, timeout=10.0):
    """SIGTERM pid, wait, then SIGKILL. Only for PIDs we started."""
    if pid is None or pid <= 1 or not _pid_alive(pid):
        return
    try:
        os.kill(pid, signal.SIGTERM)
    except ProcessLookupError:
        return
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not _pid_alive(pid):
            return
        time.sleep(0.05)
    try:
        os.kill(pid, signal.SIGKILL)
    except ProcessLookupError:
        pass


_LIVE = weakref.WeakSet()
_DIRS = set()           # temp dirs made in this process


@atexit.register
def _stop_all():
    """Stops every MailEnv still running when the interpreter exits, and
    removes the temp dirs (unless HERALD_KEEP_MAILENV is set)."""
    for env in list(_LIVE):
        try:
            env.stop()
        except Exception:
            pass
    if not os.environ.get('HERALD_KEEP_MAILENV'):
        for d in list(_DIRS):
            shutil.rmtree(d, ignore_errors=True)


def _run_daemon(cmd, outpath, env=None, timeout=60):
    """Runs a command that starts a daemon, with output to a file (a
    daemon inheriting a pipe would keep it open forever). Returns (exit
    code, output text)."""
    with open(outpath, 'wb') as f:
        r = subprocess.run(cmd, stdout=f, stderr=subprocess.STDOUT,
                           stdin=subprocess.DEVNULL, env=env,
                           timeout=timeout)
    return r.returncode, _read(outpath)


def stop_process(p):
    """Stops a subprocess.Popen this suite started: SIGTERM, up to 10 s,
    then SIGKILL. Nothing if it has already exited."""
    if p.poll() is None:
        p.terminate()
        try:
            p.wait(10)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait(5)


def pki_dir():
    """Generates (once per process tree, cached) the test PKI and returns
    its directory. HERALD_TEST_PKI may point at an existing one."""
    d = os.environ.get('HERALD_TEST_PKI')
    if not d:
        d = os.path.join(tempfile.gettempdir(),
                         'herald-test-pki-%d' % os.getuid())
        os.environ['HERALD_TEST_PKI'] = d
    r = subprocess.run(['sh', MKPKI, d], capture_output=True, text=True)
    if r.returncode != 0:
        raise MailEnvError('mkpki.sh %s failed (exit %d):\n%s%s' % (
            d, r.returncode, r.stdout, r.stderr))
    return d


def read_pem(name):
    """Text of a PEM file of the test PKI (e.g. 'root-a.pem')."""
    with open(os.path.join(pki_dir(), name)) as f:
        return f.read()


def pem_sha256(pem_text):
    """'AB:CD:..' SHA-256 fingerprint of the first certificate in pem_text."""
    body = pem_text.split('-----BEGIN CERTIFICATE-----', 1)[1]
    body = body.split('-----END CERTIFICATE-----', 1)[0]
    der = base64.b64decode(''.join(body.split()))
    h = hashlib.sha256(der).hexdigest().upper()
    return ':'.join(h[i:i + 2] for i in range(0, len(h), 2))


def split_pems(text):
    """List of the PEM certificate blocks in text, in order."""
    out = []
    marker = '-----END CERTIFICATE-----'
    for part in text.split(marker)[:-1]:
        i = part.find('-----BEGIN CERTIFICATE-----')
        if i >= 0:
            out.append(part[i:] + marker + '\n')
    return out


class MailEnv:
    """Real mail servers on loopback. Use as a context manager:

        with MailEnv() as env:
            env.ports['submission'], env.users, env.wait_for_message(...)
    """

    def __init__(self, chain='chain-full', extra_chains=DEFAULT_EXTRA_CHAINS,
                 postfix=True, aiosmtpd=True, start_timeout=30.0,
                 oauth=None, oauth_ca=None, base_dir=None):
        """oauth: None (password logins only, the default), an introspection
        URL (https://...), or an object with introspect_url and ca_file (an
        oauthsrv.OAuthServer): Dovecot then also accepts XOAUTH2 and
        OAUTHBEARER tokens it validates there, the token's username (or
        email) being the login. oauth_ca: the CA file that verifies the
        introspection endpoint (default: the object's ca_file, else the
        test root A). base_dir: where the servers' directory (queues,
        mailboxes, logs) is made; default: the temporary directory."""
        self.chain = chain
        self.base_dir = base_dir
        if oauth is not None and not isinstance(oauth, str):
            oauth_ca = oauth_ca or getattr(oauth, 'ca_file', None)
            oauth = oauth.introspect_url
        self.oauth_url = oauth
        self.oauth_ca = oauth_ca
        self.extra_chains = tuple(extra_chains or ())
        self.want_postfix = postfix
        self.want_aiosmtpd = aiosmtpd
        self.start_timeout = start_timeout
        self.host = '127.0.0.1'
        # Every server also listens on ::1 when the machine has it.
        self.hosts = ['127.0.0.1'] + (['::1'] if have_ipv6_loopback()
                                      else [])
        self.users = dict(USERS)
        self.mailboxes = list(MAILBOXES)
        self.ports = {}
        self.dir = None
        self.pki = None
        self._procs = {}          # name -> Popen (aiosmtpd, ...)
        self._postfix_started = False
        self._dovecot_pid = None
        self._dovecot_pidfile = None
        self._started = False
        self._reaper = None

    # ---- lifecycle ---------------------------------------------------

    def __enter__(self):
        self.start()
        return self

    def __exit__(self, *exc):
        self.stop()
        return False

    def start(self):
        if self._started:
            return self
        self._started = True
        _LIVE.add(self)
        try:
            self._start_reaper()
            self.pki = pki_dir()
            self.dir = tempfile.mkdtemp(prefix='herald-mailenv-',
                                        dir=self.base_dir)
            _DIRS.add(self.dir)
            # Postfix and Dovecot children (postfix, dovecot users) must be
            # able to traverse into it.
            os.chmod(self.dir, 0o755)
            if self.want_postfix:
                self._start_dovecot()
                self._start_postfix()
            if self.want_aiosmtpd:
                self._start_aiosmtpd('aiosmtpd', starttls=True)
                self._start_aiosmtpd('aiosmtpd-nostarttls', starttls=False)
        except BaseException:
            self.stop()
            raise
        return self

    def stop(self):
        """Stops everything this instance started; idempotent."""
        errors = []
        for name, p in list(self._procs.items()):
            try:
                stop_process(p)
            except Exception as e:  # keep stopping the others
                errors.append('%s: %s' % (name, e))
            for f in (p.stdout, p.stderr):
                if f is not None:
                    try:
                        f.close()
                    except OSError:
                        pass
        self._procs.clear()
        if self._postfix_started:
            self._stop_postfix()
            self._postfix_started = False
        if self._dovecot_pid is None and self._dovecot_pidfile:
            try:
                with open(self._dovecot_pidfile) as f:
                    self._dovecot_pid = int(f.read().strip())
            except (OSError, ValueError):
                pass
        if self._dovecot_pid is not None:
            _kill_pid(self._dovecot_pid)
            self._dovecot_pid = None
        self._dovecot_pidfile = None
        self._started = False
        self._stop_reaper()
        _LIVE.discard(self)
        if errors:
            raise MailEnvError('stopping: ' + '; '.join(errors))

    def cleanup(self):
        """Removes the temp dir (call after stop()); kept, with every
        server's log, when HERALD_KEEP_MAILENV is set. Without a call it
        goes when the process exits."""
        if self.dir and not os.environ.get('HERALD_KEEP_MAILENV'):
            shutil.rmtree(self.dir, ignore_errors=True)
            _DIRS.discard(self.dir)

    # ---- the reaper: cleans up if this process dies without stop() -----

    def _start_reaper(self):
        self._reaper = subprocess.Popen(
            [SYSTEM_PYTHON, REAPER], stdin=subprocess.PIPE,
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
            start_new_session=True)

    def _reap(self, **msg):
        reaping.tell(self._reaper, **msg)

    def _stop_reaper(self):
        r, self._reaper = self._reaper, None
        reaping.done(r)

    # ---- Dovecot (SASL only) -----------------------------------------

    def _start_dovecot(self):
        d = os.path.join(self.dir, 'dovecot')
        os.makedirs(os.path.join(d, 'run'))
        os.makedirs(os.path.join(d, 'state'))
        queue = os.path.join(self.dir, 'postfix', 'queue')
        os.makedirs(os.path.join(queue, 'private'), exist_ok=True)
        users = os.path.join(d, 'users')
        with open(users, 'w') as f:
            for login, pw in self.users.items():
                digest = base64.b64encode(
                    hashlib.sha256(pw.encode()).digest()).decode()
                f.write('%s:{SHA256}%s::::::\n' % (login, digest))
        os.chmod(users, 0o644)
        self.dovecot_log = os.path.join(d, 'dovecot.log')
        conf = os.path.join(d, 'dovecot.conf')
        with open(conf, 'w') as f:
            f.write('''# private SASL-only Dovecot for herald's tests
base_dir = {d}/run
state_dir = {d}/state
instance_name = herald-test-{tag}
log_path = {log}
info_log_path = {log}
protocols =
listen = 127.0.0.1
ssl = no
disable_plaintext_auth = no
auth_mechanisms = plain login{oauth_mechs}
auth_verbose = yes
auth_username_format = %u
default_login_user = dovenull
default_internal_user = dovecot
passdb {{
  driver = passwd-file
  args = scheme=SHA256 username_format=%u {users}{passwd_mechs}
}}
{oauth_passdb}userdb {{
  driver = static
  args = uid=65534 gid=65534 home=/nonexistent
}}
service auth {{
  unix_listener {queue}/private/auth {{
    mode = 0660
    user = postfix
    group = postfix
  }}
}}
'''.format(d=d, log=self.dovecot_log, users=users, queue=queue,
           tag=os.path.basename(self.dir), **self._dovecot_oauth(d)))
        # The daemon keeps inherited descriptors: never give it a pipe.
        rc, out = _run_daemon(['dovecot', '-c', conf],
                              os.path.join(d, 'start.out'))
        if rc != 0:
            raise MailEnvError('dovecot did not start (exit %d):\n%s\n%s'
                               % (rc, out, _read(self.dovecot_log)))
        pidfile = os.path.join(d, 'run', 'master.pid')
        self._dovecot_pidfile = pidfile
        sock = os.path.join(queue, 'private', 'auth')
        deadline = time.monotonic() + self.start_timeout
        while time.monotonic() < deadline:
            if os.path.exists(pidfile) and self._dovecot_pid is None:
                try:
                    with open(pidfile) as pf:
                        self._dovecot_pid = int(pf.read().strip())
                    self._reap(pid=self._dovecot_pid)
                except (OSError, ValueError):
                    pass
            if self._dovecot_pid is not None and os.path.exists(sock):
                return
            time.sleep(0.05)
        raise MailEnvError('dovecot: no auth socket %s after %.0fs:\n%s'
                           % (sock, self.start_timeout,
                              _read(self.dovecot_log)))

    def _dovecot_oauth(self, d):
        """The dovecot.conf pieces for MailEnv(oauth=...): none by default
        (the configuration stays exactly what it was). With it, the
        passwd-file passdb serves PLAIN and LOGIN only and an oauth2
        passdb XOAUTH2 and OAUTHBEARER, introspecting every token (no
        cache: auth_cache_size stays 0, so a revoked token is refused at
        once)."""
        if not self.oauth_url:
            return {'oauth_mechs': '', 'passwd_mechs': '',
                    'oauth_passdb': ''}
        ca_src = self.oauth_ca or os.path.join(self.pki, 'root-a.pem')
        # a copy the auth process (user dovecot) can surely read
        ca = os.path.join(d, 'oauth-ca.pem')
        shutil.copyfile(ca_src, ca)
        os.chmod(ca, 0o644)
        ext = os.path.join(d, 'dovecot-oauth2.conf.ext')
        with open(ext, 'w') as f:
            f.write('''# oauth2 passdb: RFC 7662 introspection, herald's tests
introspection_mode = post
introspection_url = {url}
force_introspection = yes
username_attribute = username
active_attribute = active
active_value = true
tls_ca_cert_file = {ca}
timeout_msecs = 10000
max_idle_time_msecs = 1000
'''.format(url=self.oauth_url, ca=ca))
        os.chmod(ext, 0o644)
        self.dovecot_oauth_conf = ext
        # Herald's OAuth tests fail logins on purpose (revoked, expired
        # tokens), all from 127.0.0.1: without anvil's auth penalty each
        # failure would delay the next login from there by 2, 4, 8, 15 s.
        return {'oauth_mechs': ' xoauth2 oauthbearer\n'
                'auth_failure_delay = 0\n'
                'service anvil {\n'
                '  unix_listener anvil-auth-penalty {\n'
                '    mode = 0\n'
                '  }\n'
                '}',
                'passwd_mechs': '\n  mechanisms = plain login',
                'oauth_passdb': '''passdb {{
  driver = oauth2
  mechanisms = xoauth2 oauthbearer
  args = {ext}
}}
'''.format(ext=ext)}

    # ---- Postfix -----------------------------------------------------

    def _chain_files(self, chain):
        key = os.path.join(self.pki, chain + '.key')
        pem = os.path.join(self.pki, chain + '.pem')
        for p in (key, pem):
            if not os.path.exists(p):
                raise MailEnvError('TLS material missing: %s' % p)
        return key, pem

    def _start_postfix(self):
        pf = os.path.join(self.dir, 'postfix')
        conf = os.path.join(pf, 'conf')
        queue = os.path.join(pf, 'queue')
        data = os.path.join(pf, 'data')
        mail = os.path.join(self.dir, 'mail')
        for p in (conf, queue, data, mail):
            os.makedirs(p, exist_ok=True)
        os.chown(mail, 65534, 65534)
        self.mail_dir = mail
        self.postfix_dir = pf
        self.postfix_log = os.path.join(pf, 'maillog')

        key, pem = self._chain_files(self.chain)
        services = [('submission', 'starttls', key, pem),
                    ('smtps', 'wrapper', key, pem),
                    ('plain', 'plain', None, None)]
        for name in self.extra_chains:
            k, p = self._chain_files('chain-' + name)
            services.append(('submission-' + name, 'starttls', k, p))
        for name, _, _, _ in services:
            self.ports[name] = free_port(self.hosts)

        with open(os.path.join(conf, 'vmailbox'), 'w') as f:
            for box in self.mailboxes:
                f.write('%s %s/\n' % (box, box))
        with open(os.path.join(conf, 'sender_login'), 'w') as f:
            for login in self.users:
                f.write('%s %s\n' % (login, login))

        main_cf = '''# private Postfix for herald's tests; nothing leaves this host
compatibility_level = 3.6
queue_directory = {queue}
data_directory = {data}
command_directory = /usr/sbin
daemon_directory = /usr/lib/postfix/sbin
meta_directory = /etc/postfix
shlib_directory = /usr/lib/postfix
mail_owner = postfix
setgid_group = postdrop
myhostname = localhost
mydomain = localdomain
myorigin = localhost
mydestination = localhost
inet_interfaces = loopback-only
inet_protocols = all
mynetworks = 127.0.0.1/32
maillog_file = {log}
maillog_file_prefixes = {dir}
biff = no
append_dot_mydomain = no
smtputf8_enable = no
alias_maps =
alias_database =
local_recipient_maps =
local_transport = error:local delivery is disabled in this test instance
default_transport = error:outside delivery is disabled in this test instance
relay_transport = error:outside delivery is disabled in this test instance
smtp_dns_support_level = disabled
disable_dns_lookups = yes
smtpd_peername_lookup = no
virtual_mailbox_domains = {domains}
virtual_mailbox_base = {mail}
virtual_mailbox_maps = texthash:{conf}/vmailbox
virtual_uid_maps = static:65534
virtual_gid_maps = static:65534
virtual_minimum_uid = 100
smtpd_relay_restrictions = permit_sasl_authenticated, reject_unauth_destination
smtpd_recipient_restrictions = reject_unlisted_recipient
smtpd_tls_chain_files = {key}, {pem}
smtpd_tls_security_level = may
smtpd_tls_loglevel = 1
smtpd_sasl_type = dovecot
smtpd_sasl_path = private/auth
smtpd_sasl_auth_enable = no
smtpd_sender_login_maps = texthash:{conf}/sender_login
smtpd_banner = $myhostname ESMTP herald-test Postfix
message_size_limit = 10240000
'''.format(queue=queue, data=data, log=self.postfix_log, dir=self.dir,
           domains=', '.join(LOCAL_DOMAINS), mail=mail, conf=conf,
           key=key, pem=pem)
        with open(os.path.join(conf, 'main.cf'), 'w') as f:
            f.write(main_cf)

        sub_opts = [
            'syslog_name=postfix/$service_name',
            'smtpd_tls_security_level=encrypt',
            'smtpd_sasl_auth_enable=yes',
            'smtpd_tls_auth_only=yes',
            'smtpd_delay_reject=no',
            'smtpd_sender_restrictions=reject_sender_login_mismatch',
            'smtpd_relay_restrictions=permit_sasl_authenticated,reject',
        ]
        lines = []
        for name, kind, k, p in services:
            if kind == 'plain':
                opts = ['syslog_name=postfix/plain',
                        'smtpd_tls_security_level=none',
                        'smtpd_sasl_auth_enable=no']
            else:
                opts = list(sub_opts)
                opts[0] = 'syslog_name=postfix/' + name
                if kind == 'wrapper':
                    opts.append('smtpd_tls_wrappermode=yes')
            if k is not None:
                opts.append('{ smtpd_tls_chain_files = %s, %s }' % (k, p))
            for h in self.hosts:
                lines.append('%s:%d inet n - n - - smtpd' % (
                    '[%s]' % h if ':' in h else h, self.ports[name]))
                lines.extend('  -o %s' % o for o in opts)
        master_cf = '\n'.join(lines) + '''
pickup    unix  n       -       n       60      1       pickup
cleanup   unix  n       -       n       -       0       cleanup
qmgr      unix  n       -       n       300     1       qmgr
tlsmgr    unix  -       -       n       1000?   1       tlsmgr
rewrite   unix  -       -       n       -       -       trivial-rewrite
bounce    unix  -       -       n       -       0       bounce
defer     unix  -       -       n       -       0       bounce
trace     unix  -       -       n       -       0       bounce
verify    unix  -       -       n       -       1       verify
flush     unix  n       -       n       1000?   0       flush
proxymap  unix  -       -       n       -       -       proxymap
proxywrite unix -       -       n       -       1       proxymap
showq     unix  n       -       n       -       -       showq
error     unix  -       -       n       -       -       error
retry     unix  -       -       n       -       -       error
discard   unix  -       -       n       -       -       discard
local     unix  -       n       n       -       -       local
virtual   unix  -       n       n       -       -       virtual
anvil     unix  -       -       n       -       1       anvil
scache    unix  -       -       n       -       1       scache
postlog   unix-dgram n  -       n       -       1       postlogd
'''
        with open(os.path.join(conf, 'master.cf'), 'w') as f:
            f.write(master_cf)
        self.postfix_conf = conf

        env = dict(os.environ)
        env.pop('MAIL_CONFIG', None)
        for cmd in (['postfix', '-c', conf, 'set-permissions'],
                    ['postfix', '-c', conf, 'check']):
            r = subprocess.run(cmd, capture_output=True, text=True, env=env)
            if r.returncode != 0:
                raise MailEnvError('%s failed (exit %d):\n%s%s' % (
                    ' '.join(cmd), r.returncode, r.stdout, r.stderr))
        self._reap(postfix=conf)
        self._postfix_started = True    # stop() is harmless if it failed
        rc, out = _run_daemon(['postfix', '-c', conf, 'start'],
                              os.path.join(pf, 'start.out'), env=env)
        if rc != 0:
            raise MailEnvError('postfix start failed (exit %d):\n%s\n%s'
                               % (rc, out, _read(self.postfix_log)))
        for name, _, _, _ in services:
            for h in self.hosts:
                if not wait_port(h, self.ports[name], self.start_timeout):
                    raise MailEnvError('postfix service %s did not listen '
                                       'on [%s]:%d:\n%s' % (
                                           name, h, self.ports[name],
                                           _read(self.postfix_log)))

    def _postfix_master_pid(self):
        p = os.path.join(self.postfix_dir, 'queue', 'pid', 'master.pid')
        try:
            with open(p) as f:
                return int(f.read().strip())
        except (OSError, ValueError):
            return None

    def _stop_postfix(self):
        pid = self._postfix_master_pid()
        _run_daemon(['postfix', '-c', self.postfix_conf, 'stop'],
                    os.path.join(self.postfix_dir, 'stop.out'))
        if pid is not None:
            deadline = time.monotonic() + 15
            while time.monotonic() < deadline and _pid_alive(pid):
                time.sleep(0.05)
            _kill_pid(pid, timeout=5)

    # ---- aiosmtpd ----------------------------------------------------

    def _start_aiosmtpd(self, name, starttls):
        d = os.path.join(self.dir, name)
        os.makedirs(d)
        users = os.path.join(d, 'users.json')
        with open(users, 'w') as f:
            json.dump(self.users, f)
        key, pem = self._chain_files(self.chain)
        port = free_port(self.hosts)
        log = os.path.join(d, 'server.log')
        cmd = [SYSTEM_PYTHON, CAPTURE, '--port', str(port), '--users', users,
               '--outdir', os.path.join(d, 'mail')]
        for h in self.hosts:
            cmd += ['--host', h]
        if starttls:
            cmd += ['--chain', pem, '--key', key]
        else:
            cmd += ['--no-starttls']
        logf = open(log, 'wb')
        try:
            p = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=logf,
                                 stdin=subprocess.DEVNULL)
        finally:
            logf.close()
        self._procs[name] = p
        self._reap(pid=p.pid)
        line = b''
        deadline = time.monotonic() + self.start_timeout
        # The child prints READY after it listens.
        import selectors
        sel = selectors.DefaultSelector()
        sel.register(p.stdout, selectors.EVENT_READ)
        try:
            while time.monotonic() < deadline and not line.endswith(b'\n'):
                if not sel.select(timeout=0.2):
                    if p.poll() is not None:
                        break
                    continue
                ch = p.stdout.read1(256) if hasattr(p.stdout, 'read1') \
                    else os.read(p.stdout.fileno(), 256)
                if not ch:
                    break
                line += ch
        finally:
            sel.close()
        if not line.startswith(b'READY'):
            raise MailEnvError('%s did not start (exit %s):\n%s' % (
                name, p.poll(), _read(log)))
        self.ports[name] = port
        setattr(self, name.replace('-', '_') + '_log', log)

    # ---- messages ----------------------------------------------------

    def _box_dir(self, server, mailbox):
        mailbox = mailbox.lower()
        if server == 'postfix':
            return os.path.join(self.mail_dir, mailbox, 'new')
        return os.path.join(self.dir, server, 'mail', mailbox)

    def list_messages(self, mailbox, server='postfix'):
        """Paths of the messages in mailbox, oldest first. server is
        'postfix', 'aiosmtpd' or 'aiosmtpd-nostarttls'."""
        d = self._box_dir(server, mailbox)
        try:
            names = os.listdir(d)
        except FileNotFoundError:
            return []
        if server == 'postfix':
            names = [n for n in names if not n.startswith('.')]
        else:
            names = [n for n in names if n.endswith('.eml')]
        paths = [os.path.join(d, n) for n in names]
        paths.sort(key=lambda p: (os.stat(p).st_mtime_ns, p))
        return paths

    def messages(self, mailbox, server='postfix'):
        """The bytes of each message in mailbox, oldest first."""
        out = []
        for p in self.list_messages(mailbox, server):
            with open(p, 'rb') as f:
                out.append(f.read())
        return out

    def envelope(self, path):
        """The envelope JSON saved next to an aiosmtpd message."""
        with open(path[:-4] + '.json') as f:
            return json.load(f)

    def wait_for_message(self, mailbox, timeout=20.0, server='postfix',
                         count=1, contains=None):
        """Waits until mailbox holds at least count messages (with
        contains, a bytes needle, only matching ones count) and returns the
        bytes of the newest matching one. Raises MailEnvError with the
        server log on timeout."""
        deadline = time.monotonic() + timeout
        while True:
            msgs = self.messages(mailbox, server)
            if contains is not None:
                msgs = [m for m in msgs if contains in m]
            if len(msgs) >= count:
                return msgs[-1]
            if time.monotonic() >= deadline:
                raise MailEnvError('no message in %s (%s) after %.0fs; '
                                   'server log:\n%s' % (
                                       mailbox, server, timeout,
                                       self.log(server)[-6000:]))
            time.sleep(0.1)

    def log(self, server='postfix'):
        """The server's log text so far."""
        if server == 'postfix':
            return _read(self.postfix_log, 200000)
        if server == 'dovecot':
            return _read(self.dovecot_log, 200000)
        return _read(os.path.join(self.dir, server, 'server.log'), 200000)

    def all_logs(self):
        parts = []
        for s in ('postfix', 'dovecot', 'aiosmtpd', 'aiosmtpd-nostarttls'):
            if s in ('postfix', 'dovecot') and not self.want_postfix:
                continue
            if s.startswith('aiosmtpd') and not self.want_aiosmtpd:
                continue
            parts.append('==== %s ====\n%s' % (s, self.log(s)))
        return '\n'.join(parts)


def main():
    """python3 mailenv.py: start everything, print ports, wait for ^C."""
    def on_term(signum, frame):
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, on_term)
    with MailEnv() as env:
        print(json.dumps({'dir': env.dir, 'ports': env.ports,
                          'users': env.users}, indent=2))
        sys.stdout.flush()
        try:
            signal.pause()
        except KeyboardInterrupt:
            pass
    env.cleanup()


if __name__ == '__main__':
    main()
