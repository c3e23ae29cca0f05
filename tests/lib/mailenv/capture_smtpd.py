# SPDX-License-Identifier: MIT
"""
tests/lib/mailenv/capture_smtpd.py: the second, independent SMTP server of
herald's integration tests (aiosmtpd), run by mailenv.py in a subprocess
with Debian's /usr/bin/python3.

It listens on the given loopback address and port, offers STARTTLS (and
refuses every command but EHLO/HELO/NOOP/QUIT/STARTTLS before it) unless
--no-starttls, requires AUTH (PLAIN or LOGIN) against its own user table,
refuses a MAIL FROM that is not the authenticated login (like a Gmail-style
submission server), and saves each message's exact bytes (after SMTP
dot-unstuffing, RFC 5321 4.5.2) as OUTDIR/<mailbox>/NNNN.eml with the
envelope in NNNN.json next to it. <mailbox> is the recipient's address; a
message with several recipients is saved once per recipient.

Prints "READY <port>" on stdout once it listens; logs go to stderr.
"""

import argparse
import asyncio
import json
import logging
import os
import signal
import ssl
import sys
import threading

from aiosmtpd.smtp import SMTP, AuthResult, LoginPassword

_counter_lock = threading.Lock()
_counter = [0]


def _next_id():
    with _counter_lock:
        _counter[0] += 1
        return _counter[0]


class CaptureHandler:
    def __init__(self, outdir, users, check_sender):
        self.outdir = outdir
        self.users = users
        self.check_sender = check_sender

    async def handle_MAIL(self, server, session, envelope, address,
                          mail_options):
        login = None
        if session.auth_data is not None:
            login = session.auth_data.login.decode('utf-8', 'replace')
        if self.check_sender and login is not None and \
                address.lower() != login.lower():
            return ('553 5.7.1 <%s>: Sender address rejected: not owned '
                    'by user %s' % (address, login))
        envelope.mail_from = address
        envelope.mail_options.extend(mail_options)
        return '250 OK'

    async def handle_RCPT(self, server, session, envelope, address,
                          rcpt_options):
        if '@' not in address:
            return '550 5.1.3 <%s>: bad recipient address syntax' % address
        envelope.rcpt_tos.append(address)
        envelope.rcpt_options.extend(rcpt_options)
        return '250 OK'

    async def handle_DATA(self, server, session, envelope):
        data = envelope.original_content
        login = None
        if session.auth_data is not None:
            login = session.auth_data.login.decode('utf-8', 'replace')
        meta = {
            'mail_from': envelope.mail_from,
            'rcpt_tos': list(envelope.rcpt_tos),
            'login': login,
            'tls': session.ssl is not None,
            'peer': list(session.peer) if session.peer else None,
            'size': len(data),
        }
        for rcpt in envelope.rcpt_tos:
            box = os.path.join(self.outdir, rcpt.lower())
            os.makedirs(box, exist_ok=True)
            n = _next_id()
            base = os.path.join(box, '%04d' % n)
            with open(base + '.json.tmp', 'w') as f:
                json.dump(meta, f)
            os.rename(base + '.json.tmp', base + '.json')
            with open(base + '.eml.tmp', 'wb') as f:
                f.write(data)
            os.rename(base + '.eml.tmp', base + '.eml')
        logging.info('saved message from=%s rcpts=%s size=%d',
                     envelope.mail_from, ','.join(envelope.rcpt_tos),
                     len(data))
        return '250 2.0.0 OK saved'


def make_authenticator(users):
    def authenticator(server, session, envelope, mechanism, auth_data):
        if not isinstance(auth_data, LoginPassword):
            return AuthResult(success=False, handled=False)
        login = auth_data.login.decode('utf-8', 'replace')
        password = auth_data.password.decode('utf-8', 'replace')
        ok = users.get(login) == password
        logging.info('auth mechanism=%s login=%s result=%s', mechanism,
                     login, 'ok' if ok else 'refused')
        if ok:
            return AuthResult(success=True, auth_data=auth_data)
        return AuthResult(success=False, handled=False,
                          message='535 5.7.8 Authentication credentials '
                                  'invalid')
    return authenticator


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--host', action='append', required=True)
    ap.add_argument('--port', type=int, required=True)
    ap.add_argument('--chain', help='PEM: leaf first, then the chain')
    ap.add_argument('--key')
    ap.add_argument('--users', required=True, help='JSON {login: password}')
    ap.add_argument('--outdir', required=True)
    ap.add_argument('--no-starttls', action='store_true')
    ap.add_argument('--no-sender-check', action='store_true')
    args = ap.parse_args()

    logging.basicConfig(stream=sys.stderr, level=logging.INFO,
                        format='%(asctime)s %(name)s %(levelname)s '
                               '%(message)s')
    with open(args.users) as f:
        users = json.load(f)
    os.makedirs(args.outdir, exist_ok=True)

    ctx = None
    if not args.no_starttls:
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(args.chain, args.key)

    handler = CaptureHandler(args.outdir, users, not args.no_sender_check)
    auth = make_authenticator(users)

    def factory():
        return SMTP(handler,
                    hostname='localhost',
                    ident='herald-test aiosmtpd',
                    decode_data=False,
                    tls_context=ctx,
                    require_starttls=ctx is not None,
                    auth_required=True,
                    auth_require_tls=ctx is not None,
                    authenticator=auth)

    loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)
    server = loop.run_until_complete(
        loop.create_server(factory, host=args.host, port=args.port))
    stop = asyncio.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    print('READY %d' % args.port, flush=True)
    loop.run_until_complete(stop.wait())
    server.close()
    loop.run_until_complete(server.wait_closed())
    loop.close()
    return 0


if __name__ == '__main__':
    sys.exit(main())
