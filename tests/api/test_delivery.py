# SPDX-License-Identifier: MIT
"""tests/api/test_delivery.py: /api/v1/probe, /api/v1/mail/test and the
probe -> import-chain flow.

A small STARTTLS SMTP server (Python ssl, in this file) on 127.0.0.1 presents
the test PKI's Gmail-shaped chain (leaf, intermediate, cross-signed root
from tests/lib/mkpki.sh). The probe must report the chain as untrusted with
no trustpoints, the user trusts what it fetched with import-chain (checking
the SHA-256), and the next probe verifies. mail/test delivers through AUTH
PLAIN and the password is in no response and no log line. Unreachable
servers give 502 (probe) or delivered=false with a class (mail/test).
"""
import base64
import os
import socket
import ssl
import threading
import time
import unittest

from herald import HeraldTestCase, cert_sha256, pki_dir

PASSWORD = 'Pr0be-p@ss:w0rd!'
USER = 'relay@corp.example.test'


class MiniSMTP:
    """STARTTLS + AUTH PLAIN submission server, one thread per client."""

    def __init__(self, chain='chain-full'):
        d = pki_dir()
        self.ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        self.ctx.load_cert_chain(os.path.join(d, chain + '.pem'),
                                 os.path.join(d, chain + '.key'))
        self.sock = socket.socket()
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(('127.0.0.1', 0))
        self.sock.listen(16)
        self.port = self.sock.getsockname()[1]
        self.messages = []
        self.auth = []
        self.stopped = False
        self.t = threading.Thread(target=self.serve, daemon=True)
        self.t.start()

    def stop(self):
        self.stopped = True
        self.sock.close()
        self.t.join(5)

    def serve(self):
        while not self.stopped:
            try:
                c, _ = self.sock.accept()
            except OSError:
                return
            threading.Thread(target=self.session, args=(c,),
                             daemon=True).start()

    def session(self, c):
        c.settimeout(20)
        f = c.makefile('rwb')
        tls = False

        def send(line):
            f.write(line.encode() + b'\r\n')
            f.flush()
        try:
            send('220 mini ESMTP')
            mail = None
            while True:
                raw = f.readline()
                if not raw:
                    return
                line = raw.decode().rstrip('\r\n')
                verb = line.split(' ', 1)[0].upper()
                if verb in ('EHLO', 'HELO'):
                    if tls:
                        send('250-mini\r\n250-AUTH PLAIN\r\n250 8BITMIME')
                    else:
                        send('250-mini\r\n250-STARTTLS\r\n250 8BITMIME')
                elif verb == 'STARTTLS':
                    send('220 go ahead')
                    f.close()
                    try:
                        c = self.ctx.wrap_socket(c, server_side=True)
                    except (ssl.SSLError, OSError):
                        return   # the client refused our chain
                    f = c.makefile('rwb')
                    tls = True
                elif verb == 'AUTH':
                    parts = line.split(' ')
                    if len(parts) < 3:
                        send('334 ')
                        parts.append(f.readline().decode().strip())
                    dec = base64.b64decode(parts[2]).split(b'\0')
                    self.auth.append((dec[1].decode(), dec[2].decode()))
                    if (dec[1].decode(), dec[2].decode()) == (USER, PASSWORD):
                        send('235 2.7.0 ok')
                    else:
                        send('535 5.7.8 bad credentials')
                elif verb == 'MAIL':
                    mail = {'from': line, 'rcpt': [], 'data': b''}
                    send('250 ok')
                elif verb == 'RCPT':
                    mail['rcpt'].append(line)
                    send('250 ok')
                elif verb == 'DATA':
                    send('354 go')
                    data = b''
                    while True:
                        ln = f.readline()
                        if ln in (b'.\r\n', b''):
                            break
                        data += ln
                    mail['data'] = data
                    self.messages.append(mail)
                    send('250 queued')
                elif verb == 'RSET':
                    send('250 ok')
                elif verb == 'QUIT':
                    send('221 bye')
                    return
                else:
                    send('502 unknown')
        except (OSError, ValueError, IndexError):
            return
        finally:
            try:
                c.close()
            except OSError:
                pass


def closed_port():
    s = socket.socket()
    s.bind(('127.0.0.1', 0))
    p = s.getsockname()[1]
    s.close()
    return p


class DeliveryTest(HeraldTestCase):
    @classmethod
    def setUpClass(cls):
        cls.smtp = MiniSMTP()

    @classmethod
    def tearDownClass(cls):
        cls.smtp.stop()

    def probe(self, **kw):
        body = {'host': '127.0.0.1', 'port': self.smtp.port, 'secure': 'tls'}
        body.update(kw)
        return self.h.request('POST', '/api/v1/probe', body, timeout=60)

    def test_probe_untrusted_then_import_chain_then_verified(self):
        st, _, r = self.probe()
        self.assertEqual(st, 200, r)
        self.assertEqual(r['speaks'], 'starttls')
        self.assertIs(r['verdict']['ok'], False)
        self.assertEqual(r['verdict']['code'], 'certificate_untrusted')
        chain = r['tls']['chain']
        self.assertEqual(len(chain), 3)
        leaf_pem = chain[0]['pem']
        self.assertEqual(chain[0]['sha256'].upper(), cert_sha256(leaf_pem))

        # trust the intermediate and the (cross-signed) root the server
        # sent; that root is not self-signed, so it must be an anchor
        items = [{'pem': c['pem'], 'sha256': c['sha256']} for c in chain[1:]]
        st, _, imp = self.h.request('POST',
                                    '/api/v1/trustpoints/import-chain',
                                    {'certificates': items,
                                     'chain_validation': 'stop'})
        self.assertEqual(st, 201, imp)
        st, _, r = self.probe()
        self.assertEqual(st, 200, r)
        self.assertIs(r['verdict']['ok'], True, r['verdict'])

    def test_probe_errors(self):
        st, _, r = self.h.request('POST', '/api/v1/probe',
                                  {'host': '127.0.0.1', 'port': closed_port(),
                                   'secure': 'tls'}, timeout=60)
        self.assertEqual(st, 502, r)
        self.assertTrue(r['error']['message'])
        self.assertEqual(r['error']['code'], 'connect')
        self.assertEqual(r['result']['klass'], 'connect')
        st, _, r = self.h.request('POST', '/api/v1/probe', {'port': 25})
        self.assertEqual((st, r['error']['field']), (400, 'host'))
        st, _, r = self.probe(secure='sometimes')
        self.assertEqual((st, r['error']['field']), (400, 'secure'))
        st, _, r = self.probe(port=70000)
        self.assertEqual((st, r['error']['field']), (400, 'port'))
        st, _, r = self.h.request('POST', '/api/v1/probe', 'host=x',
                                  content_type='text/plain')
        self.assertEqual(st, 415)

    def mail(self, **kw):
        body = {'host': '127.0.0.1', 'port': self.smtp.port, 'secure': 'tls',
                'username': USER, 'password': PASSWORD,
                'from': USER, 'to': 'noc@example.test',
                'subject': 'probe subject', 'body': 'hello'}
        body.update(kw)
        return self.h.request('POST', '/api/v1/mail/test', body, timeout=60)

    def test_mail_test_delivers_and_never_echoes_the_password(self):
        tp = os.path.join(pki_dir(), 'root-a.pem')
        with open(tp) as f:
            st, _, _ = self.h.request('POST', '/api/v1/trustpoints',
                                      {'name': 'RootA',
                                       'certificate': f.read()})
        self.assertEqual(st, 201)
        n0 = len(self.smtp.messages)
        st, _, r = self.mail()
        self.assertEqual(st, 200, r)
        self.assertIs(r['delivered'], True, r)
        self.assertEqual(len(self.smtp.messages), n0 + 1)
        self.assertIn(b'probe subject', self.smtp.messages[-1]['data'])
        self.assertIn((USER, PASSWORD), self.smtp.auth)
        # the server string form, split at the last '@'
        st, _, r2 = self.mail(host=None, username=None, password=None,
                              server='%s:%s@127.0.0.1' % (USER, PASSWORD))
        self.assertIs(r2['delivered'], True, r2)
        time.sleep(0.2)
        for text in (str(r), str(r2), self.h.log()):
            self.assertNotIn(PASSWORD, text)
            self.assertNotIn(base64.b64encode(
                ('\0%s\0%s' % (USER, PASSWORD)).encode()).decode(), text)

    def test_mail_test_untrusted_and_unreachable_are_reported(self):
        st, _, r = self.mail()      # no trustpoint: chain untrusted
        self.assertEqual(st, 200, r)
        self.assertIs(r['delivered'], False)
        self.assertEqual(r['result']['klass'], 'certificate_untrusted')
        self.assertTrue(r['result']['message'])
        st, _, r = self.mail(port=closed_port())
        self.assertEqual(st, 200, r)
        self.assertIs(r['delivered'], False)
        self.assertEqual(r['result']['klass'], 'connect')
        self.assertNotIn(PASSWORD, str(r))

    def test_mail_test_bad_input_names_the_field(self):
        st, _, r = self.mail(to=None)
        self.assertEqual((st, r['error']['field']), (400, 'to'))
        st, _, r = self.mail(host=None)
        self.assertEqual((st, r['error']['field']), (400, 'server'))
        st, _, r = self.mail(secure='always')
        self.assertEqual((st, r['error']['field']), (400, 'secure'))
        st, _, r = self.mail(to='not an address\r\nBcc: x@y')
        self.assertEqual(st, 400, r)
        self.assertNotIn(PASSWORD, str(r))


if __name__ == '__main__':
    unittest.main()
