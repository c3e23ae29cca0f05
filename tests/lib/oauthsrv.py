# SPDX-License-Identifier: MIT
"""
tests/lib/oauthsrv.py: a local OAuth 2.0 authorization server's token and
introspection endpoints, for herald's OAuth tests (issue 13).

Python's standard library only (http.server + ssl), HTTPS on 127.0.0.1 (and ::1,
the same port, when the machine has it) with an ephemeral port and a certificate chain of the test PKI
(tests/lib/mkpki.sh: "chain-full" by default, leaf CN=localhost issued by
the intermediate under root A; "chain-untrusted" for an endpoint nobody
trusts). It runs in threads of the test process: start() returns once it
listens, stop() closes the listener and every open connection and joins the
threads, so nothing is left behind (also used as a context manager).

    srv = OAuthServer(expires_in=3600)
    srv.start()
    c = srv.add_client(user='alerts@example.test')     # id and secret made
    g = srv.add_client(user='relay@corp.example.test', expires_in=10,
                       rotate_refresh=True, delay=1.0)  # its own settings
    rt = srv.issue_refresh_token(g['client_id'])       # the consent step
    srv.token_url, srv.introspect_url, srv.ca_file
    srv.issued_count(), srv.revoke(token), srv.revoke_refresh(rt), ...
    srv.stop()

Endpoints (RFC 6749, RFC 7662):

  POST /token   application/x-www-form-urlencoded; the client authenticates
                with HTTP Basic (client_secret_basic) or client_id and
                client_secret in the body (client_secret_post).
      grant_type=client_credentials   a confidential client's own token
      grant_type=refresh_token        refresh_token=...; a confidential
                                      client must also authenticate
      200 {"access_token", "token_type": "Bearer", "expires_in", "scope"
           [, "refresh_token" when rotating]}
      401 {"error": "invalid_client", ...}   unknown client, wrong secret
      400 {"error": "invalid_grant", ...}    refresh token unknown, revoked,
                                             rotated away or another
                                             client's
      400 invalid_request, unsupported_grant_type, invalid_scope
      Every answer has Cache-Control: no-store and Pragma: no-cache.
  POST /introspect   token=...  (Dovecot's oauth2 passdb,
                introspection_mode = post)
      {"active": true, "username", "email", "sub", "client_id", "scope",
       "exp", "token_type"} for a live access token,
      {"active": false} for an unknown, expired or revoked one.

Access tokens are opaque random strings that live expires_in seconds
(token_lifetime, if set, makes them live a different time at the
introspection endpoint than the expires_in announced). Refresh tokens are
rotated on use when rotate_refresh is set: the answer carries a new one and
the one used is invalid from then on.

The state (clients, tokens, counters, a log of every request without
secrets in it) is guarded by one lock; every method is thread-safe.

Run as a program (python3 oauthsrv.py --client ID:SECRET:USER ...) it prints
its URLs and the CA file as JSON and serves until SIGTERM or ^C: for trying
herald by hand.
"""

import base64
import http.server
import json
import os
import secrets
import signal
import socket
import ssl
import sys
import threading
import time
import urllib.parse

try:
    from mailenv import have_ipv6_loopback, pki_dir
except ImportError:  # run from elsewhere: tests/lib next to this file
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    from mailenv import have_ipv6_loopback, pki_dir

__all__ = ['OAuthServer', 'OAuthServerError']


class OAuthServerError(RuntimeError):
    pass


def _token(prefix):
    # opaque, URL-safe, and recognisable when hunting for leaked secrets
    return prefix + secrets.token_urlsafe(24)


class _Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = 'HTTP/1.1'
    server_version = 'herald-test-oauth/1'
    sys_version = ''
    timeout = 30              # an idle keep-alive connection goes after 30 s

    def log_message(self, fmt, *args):  # quiet; the state keeps a log
        pass

    # ---- I/O ----------------------------------------------------------

    def _body(self):
        te = (self.headers.get('Transfer-Encoding') or '').lower()
        if te == 'chunked':
            out = b''
            while True:
                line = self.rfile.readline(1024)
                n = int(line.split(b';', 1)[0].strip() or b'0', 16)
                if n == 0:
                    while self.rfile.readline(1024) not in (b'\r\n', b'\n',
                                                            b''):
                        pass
                    return out
                out += self.rfile.read(n)
                self.rfile.readline(8)
                if len(out) > 1 << 20:
                    raise ValueError('body too large')
        n = int(self.headers.get('Content-Length') or 0)
        if n > 1 << 20:
            raise ValueError('body too large')
        return self.rfile.read(n) if n > 0 else b''

    def _reply(self, status, obj, extra=None):
        data = json.dumps(obj).encode()
        self.send_response(status)
        self.send_header('Content-Type', 'application/json;charset=UTF-8')
        self.send_header('Cache-Control', 'no-store')
        self.send_header('Pragma', 'no-cache')
        self.send_header('Content-Length', str(len(data)))
        for k, v in (extra or {}).items():
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(data)
        self.wfile.flush()

    def _form(self):
        ctype = (self.headers.get('Content-Type') or '').split(';')[0]
        raw = self._body()
        if ctype.strip().lower() != 'application/x-www-form-urlencoded':
            return None, raw
        try:
            form = urllib.parse.parse_qs(raw.decode('ascii'),
                                         keep_blank_values=True,
                                         strict_parsing=False)
        except (UnicodeDecodeError, ValueError):
            return None, raw
        return {k: v[0] for k, v in form.items()}, raw

    # ---- routes -------------------------------------------------------

    def do_POST(self):
        srv = self.server.owner
        path = urllib.parse.urlsplit(self.path).path
        try:
            form, raw = self._form()
        except (ValueError, OSError):
            self.close_connection = True
            return
        if path == srv.token_path:
            status, obj, extra = srv._token_request(self.headers, form, raw)
        elif path == srv.introspect_path:
            status, obj, extra = srv._introspect_request(self.headers, form)
        else:
            status, obj, extra = 404, {'error': 'not_found'}, None
        self._reply(status, obj, extra)

    def do_GET(self):
        self._reply(405, {'error': 'invalid_request',
                          'error_description': 'use POST'},
                    {'Allow': 'POST'})


class _HTTPServer(http.server.ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False
    allow_reuse_address = True

    def __init__(self, owner, addr, ctx, family=socket.AF_INET):
        self.owner = owner
        self.ctx = ctx
        self.address_family = family
        super().__init__(addr, _Handler, bind_and_activate=False)
        try:
            if family == socket.AF_INET6:
                self.socket.setsockopt(socket.IPPROTO_IPV6,
                                       socket.IPV6_V6ONLY, 1)
            self.server_bind()
            self.server_activate()
        except BaseException:
            self.server_close()
            raise

    def finish_request(self, request, client_address):
        # The TLS handshake runs here, in the connection's own thread, so
        # that a client that stalls or hangs up during it (herald refusing
        # an untrusted chain) never blocks the accept loop.
        owner = self.owner
        owner._track(request, True)
        try:
            request.settimeout(15)
            try:
                tls = self.ctx.wrap_socket(request, server_side=True)
            except (ssl.SSLError, OSError) as e:
                owner._count('tls_failures', repr(e))
                return
            owner._track(tls, True)
            try:
                owner._count('connections')
                self.RequestHandlerClass(tls, client_address, self)
            finally:
                owner._track(tls, False)
                try:
                    tls.close()
                except OSError:
                    pass
        finally:
            owner._track(request, False)

    def handle_error(self, request, client_address):
        self.owner._count('handler_errors', repr(sys.exc_info()[1]))


class OAuthServer:
    """The token and introspection endpoints; see the module docstring.

    chain: PKI file stem (chain-full, chain-untrusted, ...) whose .pem and
    .key are presented. expires_in: seconds announced with each access
    token (and its life, unless token_lifetime says otherwise).
    rotate_refresh: answer a refresh_token grant with a new refresh token
    and invalidate the one used. delay: seconds each /token answer waits
    (to make concurrent fetches overlap)."""

    def __init__(self, chain='chain-full', host='127.0.0.1', port=0,
                 expires_in=3600, token_lifetime=None, rotate_refresh=False,
                 delay=0.0, url_host='localhost', ipv6=True):
        self.chain = chain
        self.ipv6 = ipv6
        self.host = host
        self.port = port
        self.url_host = url_host
        self.token_path = '/token'
        self.introspect_path = '/introspect'
        self._lock = threading.RLock()
        self._expires_in = expires_in
        self._lifetime = token_lifetime
        self._rotate = rotate_refresh
        self._delay = delay
        self._clients = {}      # client_id -> dict(secret, user, scope)
        self._access = {}       # token -> dict(client, user, exp, revoked,
                                #   scope, grant, n)
        self._refresh = {}      # token -> dict(client, user, valid, why)
        self._forced = []       # [(status, body)] answered before anything
        self._counts = {}
        self._errors = []       # details of tls/handler failures
        self.requests = []      # a log, no secrets: dicts
        self._conns = set()
        self._httpd = None
        self._httpds = []
        self._threads = []
        self.hosts = []
        self._issued_n = 0
        self.pki = None

    # ---- lifecycle ------------------------------------------------------

    def start(self):
        if self._httpd is not None:
            return self
        self.pki = pki_dir()
        pem = os.path.join(self.pki, self.chain + '.pem')
        key = os.path.join(self.pki, self.chain + '.key')
        for p in (pem, key):
            if not os.path.exists(p):
                raise OAuthServerError('TLS material missing: %s' % p)
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.minimum_version = ssl.TLSVersion.TLSv1_2
        ctx.load_cert_chain(pem, key)
        # 127.0.0.1, and ::1 on the same port when the machine has it:
        # "localhost" may resolve to either first, and a client that
        # meets a refused ::1 (Dovecot's http-client backs off) must not
        # wait for it.
        hosts = [self.host]
        if self.host == '127.0.0.1' and self.ipv6 and have_ipv6_loopback():
            hosts.append('::1')
        for attempt in range(20):
            servers = []
            try:
                port = self.port
                for h in hosts:
                    srv = _HTTPServer(self, (h, port), ctx,
                                      socket.AF_INET6 if ':' in h
                                      else socket.AF_INET)
                    servers.append(srv)
                    port = srv.server_address[1]
                break
            except OSError:
                for srv in servers:
                    srv.server_close()
                if self.port or attempt == 19:
                    raise
        self._httpds = servers
        self._httpd = servers[0]
        self.port = servers[0].server_address[1]
        self.hosts = hosts
        self._threads = []
        for srv in servers:
            t = threading.Thread(
                target=srv.serve_forever, kwargs={'poll_interval': 0.1},
                name='oauthsrv-%d' % self.port, daemon=True)
            t.start()
            self._threads.append(t)
        return self

    def stop(self):
        """Stops listening, closes every connection, joins the thread.
        Idempotent."""
        if self._httpd is None:
            return
        servers, self._httpds, self._httpd = self._httpds, [], None
        for srv in servers:
            srv.shutdown()
            srv.server_close()
        with self._lock:
            conns = list(self._conns)
        for s in conns:
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
        for t in self._threads:
            t.join(10)
        self._threads = []
        # the handler threads see their sockets shut down and end
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            with self._lock:
                if not self._conns:
                    break
            time.sleep(0.02)

    def running(self):
        return self._httpd is not None

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()
        return False

    # ---- addresses --------------------------------------------------------

    @property
    def base_url(self):
        return 'https://%s:%d' % (self.url_host, self.port)

    @property
    def token_url(self):
        return self.base_url + self.token_path

    @property
    def introspect_url(self):
        return self.base_url + self.introspect_path

    @property
    def ca_file(self):
        """The CA a client must trust: root A, or the untrusted root for
        chain-untrusted."""
        name = 'untrusted-root.pem' if self.chain == 'chain-untrusted' \
            else 'root-a.pem'
        return os.path.join(self.pki or pki_dir(), name)

    # ---- configuration (tests) -------------------------------------------

    def add_client(self, client_id=None, secret=None, user=None, scope=None,
                   public=False, expires_in=None, token_lifetime=None,
                   rotate_refresh=None, delay=None):
        """Registers a client. user: the mailbox its tokens stand for (what
        the introspection answers as username and email); scope: the scopes
        it may have (space-separated; None: any). public: no secret (a
        refresh_token grant needs only client_id). expires_in,
        token_lifetime, rotate_refresh, delay: this client's own settings
        (None: the server's). Returns a dict with client_id, client_secret,
        user."""
        client_id = client_id or 'client-' + secrets.token_hex(4)
        if not public and secret is None:
            secret = _token('cs-')
        with self._lock:
            self._clients[client_id] = {
                'secret': None if public else secret, 'user': user,
                'scope': scope, 'expires_in': expires_in,
                'lifetime': token_lifetime, 'rotate': rotate_refresh,
                'delay': delay}
        return {'client_id': client_id, 'client_secret': secret,
                'user': user}

    def set_client_secret(self, client_id, secret):
        """Changes the secret the server expects (a secret rotated at the
        provider: the one herald holds is now wrong)."""
        with self._lock:
            self._clients[client_id]['secret'] = secret

    def issue_refresh_token(self, client_id, user=None):
        """A refresh token for client_id, as the consent step of the
        authorization code flow would hand it out."""
        with self._lock:
            c = self._clients[client_id]
            rt = _token('rt-')
            self._refresh[rt] = {'client': client_id,
                                 'user': user or c['user'], 'valid': True,
                                 'why': None}
            return rt

    def set_expires_in(self, seconds, token_lifetime=None):
        """expires_in of the tokens issued from now on (and their life at
        the introspection endpoint: token_lifetime, default the same)."""
        with self._lock:
            self._expires_in = seconds
            self._lifetime = token_lifetime

    def set_rotate_refresh(self, on):
        with self._lock:
            self._rotate = bool(on)

    def set_delay(self, seconds):
        with self._lock:
            self._delay = seconds

    def force_error(self, error, description, status=400, count=1):
        """The next count /token requests are answered with this error
        (e.g. invalid_scope, or temporarily_unavailable with 503)."""
        with self._lock:
            for _ in range(count):
                self._forced.append((status, {'error': error,
                                              'error_description':
                                              description}))

    # ---- revocation -------------------------------------------------------

    def revoke(self, token):
        """Revokes one access token: introspection says inactive."""
        with self._lock:
            self._access[token]['revoked'] = True

    def revoke_access(self, client_id=None):
        """Revokes every live access token (of client_id); returns how
        many."""
        n = 0
        with self._lock:
            for t in self._access.values():
                if not t['revoked'] and (client_id is None or
                                         t['client'] == client_id):
                    t['revoked'] = True
                    n += 1
        return n

    def revoke_refresh(self, refresh_token, why='revoked'):
        """Invalidates a refresh token (the user withdrew consent)."""
        with self._lock:
            self._refresh[refresh_token]['valid'] = False
            self._refresh[refresh_token]['why'] = why

    # ---- what happened ----------------------------------------------------

    def issued(self, client_id=None):
        """The access tokens issued (oldest first), each a dict: token,
        client, user, grant, scope, expires_in, exp (time.time() when it
        stops being active), issued_at (time.monotonic() when it was
        handed out), revoked, active, n (1, 2, ... across clients)."""
        now = time.time()
        with self._lock:
            out = []
            for tok, t in self._access.items():
                if client_id is not None and t['client'] != client_id:
                    continue
                d = dict(t)
                d['token'] = tok
                d['active'] = not t['revoked'] and now < t['exp']
                out.append(d)
        out.sort(key=lambda d: d['n'])
        return out

    def issued_count(self, client_id=None):
        """How many access tokens were issued (to client_id)."""
        return len(self.issued(client_id))

    def last_token(self, client_id=None):
        """The newest access token issued (to client_id), or None."""
        got = self.issued(client_id)
        return got[-1]['token'] if got else None

    def refresh_tokens(self, client_id=None):
        """{refresh token: valid} (of client_id)."""
        with self._lock:
            return {rt: r['valid'] for rt, r in self._refresh.items()
                    if client_id is None or r['client'] == client_id}

    def valid_refresh_token(self, client_id):
        """The one valid refresh token of client_id (rotation leaves one),
        or None; raises if there are several."""
        live = [rt for rt, v in self.refresh_tokens(client_id).items() if v]
        if len(live) > 1:
            raise OAuthServerError('%d valid refresh tokens for %s'
                                   % (len(live), client_id))
        return live[0] if live else None

    def count(self, name):
        """A counter: token_requests, token_errors, introspections,
        introspect_active, introspect_inactive, connections,
        tls_failures, handler_errors, and per grant/error
        'grant:<grant>', 'error:<error>'."""
        with self._lock:
            return self._counts.get(name, 0)

    def counts(self):
        with self._lock:
            return dict(self._counts)

    def errors(self):
        """Details of TLS handshake and handler failures (for messages)."""
        with self._lock:
            return list(self._errors)

    def all_secrets(self):
        """Every client secret, refresh token and access token this server
        handed out or was configured with: none may show anywhere but
        here and on the wire."""
        with self._lock:
            out = [c['secret'] for c in self._clients.values()
                   if c['secret']]
            out += list(self._refresh)
            out += list(self._access)
        return out

    def summary(self):
        """A line for test output and failure messages."""
        with self._lock:
            return 'oauthsrv %s: issued %d, counts %s, last requests %s' % (
                self.base_url, len(self._access), json.dumps(self._counts,
                                                             sort_keys=True),
                json.dumps(self.requests[-8:]))

    def wait_issued(self, count, timeout=20.0, client_id=None):
        """Waits until at least count tokens were issued; returns the
        count."""
        deadline = time.monotonic() + timeout
        while True:
            n = self.issued_count(client_id)
            if n >= count or time.monotonic() > deadline:
                return n
            time.sleep(0.05)

    # ---- internals ----------------------------------------------------------

    def _track(self, sock, add):
        with self._lock:
            if add:
                self._conns.add(sock)
            else:
                self._conns.discard(sock)

    def _count(self, name, detail=None):
        with self._lock:
            self._counts[name] = self._counts.get(name, 0) + 1
            if detail is not None:
                self._errors.append('%s: %s' % (name, detail))
                del self._errors[:-50]

    def _client_auth(self, headers, form):
        """(client_id, secret or None, method) from Basic or the body."""
        auth = headers.get('Authorization') or ''
        if auth[:6].lower() == 'basic ':
            try:
                dec = base64.b64decode(auth[6:].strip(),
                                       validate=True).decode('utf-8')
                cid, _, sec = dec.partition(':')
                return (urllib.parse.unquote_plus(cid),
                        urllib.parse.unquote_plus(sec), 'basic')
            except (ValueError, UnicodeDecodeError):
                return None, None, 'basic-invalid'
        if 'client_id' in form:
            return (form['client_id'], form.get('client_secret'),
                    'post' if 'client_secret' in form else 'none')
        return None, None, 'none'

    def _token_request(self, headers, form, raw):
        with self._lock:
            delay = self._delay
            cid = self._client_auth(headers, form or {})[0]
            c = self._clients.get(cid)
            if c is not None and c['delay'] is not None:
                delay = c['delay']
        if delay:
            time.sleep(delay)
        with self._lock:
            self._count('token_requests')
            entry = {'path': self.token_path, 'time': time.time()}
            self.requests.append(entry)
            del self.requests[:-500]
            st, obj, extra = self._token_locked(headers, form, entry)
            entry['status'] = st
            if st != 200:
                self._count('token_errors')
                self._count('error:%s' % obj.get('error'))
                entry['error'] = obj.get('error')
            return st, obj, extra

    def _token_locked(self, headers, form, entry):
        if self._forced:
            st, obj = self._forced.pop(0)
            return st, dict(obj), None
        if form is None:
            return 400, {'error': 'invalid_request', 'error_description':
                         'the body must be application/x-www-form-'
                         'urlencoded'}, None
        grant = form.get('grant_type')
        entry['grant'] = grant
        self._count('grant:%s' % grant)
        cid, sec, method = self._client_auth(headers, form)
        entry['client_id'] = cid
        entry['client_auth'] = method
        entry['scope'] = form.get('scope')
        basic = {'WWW-Authenticate': 'Basic realm="herald-test"'} \
            if method.startswith('basic') else None
        if grant not in ('client_credentials', 'refresh_token'):
            return 400, {'error': 'unsupported_grant_type',
                         'error_description': 'grant_type %r is not '
                         'supported' % grant}, None
        c = self._clients.get(cid)
        if c is None:
            return 401, {'error': 'invalid_client', 'error_description':
                         'AADSTS700016: client %r is unknown' % cid}, basic
        if c['secret'] is not None and sec != c['secret']:
            return 401, {'error': 'invalid_client', 'error_description':
                         'AADSTS7000215: Invalid client secret provided '
                         'for client %r' % cid}, basic
        if grant == 'client_credentials' and c['secret'] is None:
            return 400, {'error': 'unauthorized_client', 'error_description':
                         'a public client cannot use client_credentials'}, \
                None
        scope = form.get('scope') or ''
        if scope and c['scope'] is not None:
            extra = set(scope.split()) - set(c['scope'].split())
            if extra:
                return 400, {'error': 'invalid_scope', 'error_description':
                             'scope %s is not granted to this client'
                             % ' '.join(sorted(extra))}, None
        user = c['user']
        rotated = None
        if grant == 'refresh_token':
            rt = form.get('refresh_token')
            if not rt:
                return 400, {'error': 'invalid_request', 'error_description':
                             'refresh_token is missing'}, None
            r = self._refresh.get(rt)
            if r is None or r['client'] != cid:
                return 400, {'error': 'invalid_grant', 'error_description':
                             'Bad Request: the refresh token is unknown or '
                             'was issued to another client'}, None
            if not r['valid']:
                return 400, {'error': 'invalid_grant', 'error_description':
                             'Token has been expired or %s.' % r['why']}, None
            user = r['user']
            entry['refresh'] = 'valid'
            rotate = self._rotate if c['rotate'] is None else c['rotate']
            if rotate:
                r['valid'] = False
                r['why'] = 'rotated'
                rotated = _token('rt-')
                self._refresh[rotated] = {'client': cid, 'user': user,
                                          'valid': True, 'why': None}
        tok = _token('at-')
        expires_in = self._expires_in if c['expires_in'] is None \
            else c['expires_in']
        if c['expires_in'] is not None:
            life = c['lifetime'] if c['lifetime'] is not None else expires_in
        else:
            life = self._lifetime if self._lifetime is not None \
                else expires_in
        self._issued_n += 1
        self._access[tok] = {'client': cid, 'user': user,
                             'exp': time.time() + life, 'revoked': False,
                             'scope': scope, 'grant': grant,
                             'expires_in': expires_in, 'issued_at':
                             time.monotonic(), 'n': self._issued_n}
        entry['issued'] = self._issued_n
        obj = {'access_token': tok, 'token_type': 'Bearer',
               'expires_in': expires_in}
        if scope:
            obj['scope'] = scope
        if rotated is not None:
            obj['refresh_token'] = rotated
        return 200, obj, None

    def _introspect_request(self, headers, form):
        with self._lock:
            self._count('introspections')
            entry = {'path': self.introspect_path, 'time': time.time()}
            self.requests.append(entry)
            del self.requests[:-500]
            tok = (form or {}).get('token')
            t = self._access.get(tok) if tok else None
            if t is None:
                entry['result'] = 'unknown'
            elif t['revoked']:
                entry['result'] = 'revoked'
            elif time.time() >= t['exp']:
                entry['result'] = 'expired'
            else:
                entry['result'] = 'active'
            if entry['result'] != 'active':
                self._count('introspect_inactive')
                return 200, {'active': False}, None
            self._count('introspect_active')
            entry['issued'] = t['n']
            return 200, {'active': True, 'username': t['user'],
                         'email': t['user'], 'sub': t['user'],
                         'client_id': t['client'], 'scope': t['scope'],
                         'exp': int(t['exp']), 'token_type': 'Bearer'}, \
                None


def start_with_mailenv():
    """A token server and a MailEnv whose Dovecot validates its tokens
    (XOAUTH2 and OAUTHBEARER after STARTTLS): (server, env), both
    started; the server is stopped again if the mail servers fail."""
    from mailenv import MailEnv
    srv = OAuthServer(expires_in=3600)
    srv.start()
    try:
        env = MailEnv(oauth=srv, aiosmtpd=False, extra_chains=())
        env.start()
    except BaseException:
        srv.stop()
        raise
    return srv, env


def stop_with_mailenv(srv, env):
    """Stops what start_with_mailenv started (either may be None)."""
    try:
        if env is not None:
            env.stop()
            env.cleanup()
    finally:
        if srv is not None:
            srv.stop()


def main(argv=None):
    import argparse
    ap = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    ap.add_argument('--chain', default='chain-full')
    ap.add_argument('--port', type=int, default=0)
    ap.add_argument('--expires-in', type=int, default=3600)
    ap.add_argument('--rotate', action='store_true')
    ap.add_argument('--client', action='append', default=[],
                    metavar='ID:SECRET:USER')
    a = ap.parse_args(argv)
    srv = OAuthServer(chain=a.chain, port=a.port, expires_in=a.expires_in,
                      rotate_refresh=a.rotate)
    srv.start()
    out = {'token_url': srv.token_url, 'introspect_url': srv.introspect_url,
           'ca_file': srv.ca_file, 'clients': [], 'refresh_tokens': {}}
    for spec in a.client:
        cid, sec, user = spec.split(':', 2)
        srv.add_client(cid, sec, user)
        out['clients'].append(cid)
        out['refresh_tokens'][cid] = srv.issue_refresh_token(cid)
    print(json.dumps(out, indent=2))
    sys.stdout.flush()

    def on_term(signum, frame):
        raise KeyboardInterrupt
    signal.signal(signal.SIGTERM, on_term)
    try:
        signal.pause()
    except KeyboardInterrupt:
        pass
    finally:
        srv.stop()
    return 0


if __name__ == '__main__':
    sys.exit(main())
