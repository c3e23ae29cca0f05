# SPDX-License-Identifier: MIT
"""
tests/integration/test_mailenv.py: self-test of the loopback mail servers
(tests/lib/mailenv.py) with an independent client, swaks. Before herald is
blamed for a failed delivery test, this shows the servers themselves work:
mail goes through each Postfix service and aiosmtpd, the chain presented
verifies against the test root, a wrong password is refused, a From that
the login does not own is refused, STARTTLS is enforced where it must be
and absent where it must be.
"""

import os
import shutil
import socket
import subprocess
import unittest
import uuid

import mailenv
from itest import mailenv_module
from mailenv import MailEnv, pki_dir

ENV = None


def need_swaks():
    if shutil.which('swaks') is None:
        raise RuntimeError('swaks is not installed (apt-get install swaks)')


setUpModule, tearDownModule = mailenv_module(globals(), check=need_swaks)


def swaks(*args, timeout=60):
    cmd = ['swaks', '--server', ENV.host, '--timeout', '20'] + list(args)
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
    return r.returncode, r.stdout + r.stderr


def smtp_banner_and_ehlo(port, host=None):
    """Raw EHLO reply of a plain-text port (no client library in the
    way)."""
    with socket.create_connection((host or ENV.host, port),
                                  timeout=10) as s:
        f = s.makefile('rwb')
        banner = f.readline()
        f.write(b'EHLO probe.example\r\n')
        f.flush()
        lines = []
        while True:
            line = f.readline()
            if not line:
                break
            lines.append(line.decode().rstrip('\r\n'))
            if line[3:4] == b' ':
                break
        f.write(b'QUIT\r\n')
        f.flush()
        return banner.decode(), lines


class PostfixTest(unittest.TestCase):
    login = 'alerts@example.test'

    def send(self, port, *extra, to='noc@example.test', sender=None,
             user=None, password=None, token=None):
        token = token or uuid.uuid4().hex
        sender = sender or self.login
        args = ['--port', str(port), '--to', to, '--from', sender,
                '--header', 'Subject: mailenv self-test %s' % token,
                '--body', 'token %s\n.leading dot line\n' % token]
        if user is not None:
            args += ['--auth', 'PLAIN', '--auth-user', user,
                     '--auth-password', password]
        rc, out = swaks(*(args + list(extra)))
        return token, rc, out

    def test_submission_starttls_auth_delivers(self):
        user = self.login
        token, rc, out = self.send(
            ENV.ports['submission'], '--tls', '--tls-verify',
            '--tls-ca-path', os.path.join(pki_dir(), 'root-a.pem'),
            user=user, password=ENV.users[user])
        self.assertEqual(rc, 0, out)
        msg = ENV.wait_for_message('noc@example.test',
                                   contains=token.encode())
        self.assertIn(b'Subject: mailenv self-test ' + token.encode(), msg)
        self.assertIn(b'\n.leading dot line\n', msg)
        # Postfix stores LF line ends.
        self.assertNotIn(b'\r\n', msg)

    def test_submission_presents_full_chain_verifying_to_old_root(self):
        user = self.login
        token, rc, out = self.send(
            ENV.ports['submission'], '--tls', '--tls-verify',
            '--tls-ca-path', os.path.join(pki_dir(), 'root-old.pem'),
            user=user, password=ENV.users[user])
        self.assertEqual(rc, 0, out)
        ENV.wait_for_message('noc@example.test', contains=token.encode())

    def test_smtps_implicit_tls_delivers(self):
        user = 'relay@corp.example.test'
        token, rc, out = self.send(
            ENV.ports['smtps'], '--tls-on-connect', '--tls-verify',
            '--tls-ca-path', os.path.join(pki_dir(), 'root-a.pem'),
            to='ops@example.test', sender=user, user=user,
            password=ENV.users[user])
        self.assertEqual(rc, 0, out)
        ENV.wait_for_message('ops@example.test', contains=token.encode())

    def test_plain_port_delivers_without_tls_or_auth(self):
        token, rc, out = self.send(ENV.ports['plain'],
                                   to='oncall@example.test',
                                   sender='someone@elsewhere.test')
        self.assertEqual(rc, 0, out)
        ENV.wait_for_message('oncall@example.test', contains=token.encode())

    def test_every_service_listens_on_both_loopbacks(self):
        for name, port in ENV.ports.items():
            for host in ENV.hosts:
                if name == 'smtps':
                    continue    # speaks TLS first
                banner, ehlo = smtp_banner_and_ehlo(port, host)
                self.assertTrue(banner.startswith('220 '),
                                '%s on [%s]: %r' % (name, host, banner))

    def test_plain_port_offers_neither_starttls_nor_auth(self):
        _, ehlo = smtp_banner_and_ehlo(ENV.ports['plain'])
        caps = ' '.join(ehlo).upper()
        self.assertNotIn('STARTTLS', caps)
        self.assertNotIn('AUTH', caps)

    def test_submission_refuses_mail_before_starttls(self):
        token, rc, out = self.send(ENV.ports['submission'],
                                   sender=self.login)
        self.assertNotEqual(rc, 0, out)
        self.assertIn('Must issue a STARTTLS command first', out)

    def test_wrong_password_refused(self):
        token, rc, out = self.send(
            ENV.ports['submission'], '--tls',
            user=self.login, password='not-the-password')
        self.assertNotEqual(rc, 0, out)
        self.assertRegex(out, r'535[ -]5\.7\.8')

    def test_from_not_owned_by_login_refused(self):
        token, rc, out = self.send(
            ENV.ports['submission'], '--tls', sender='ops@example.test',
            user=self.login, password=ENV.users[self.login])
        self.assertNotEqual(rc, 0, out)
        self.assertIn('not owned by user', out)
        self.assertEqual(
            [m for m in ENV.messages('noc@example.test')
             if token.encode() in m], [])

    def test_unknown_recipient_refused(self):
        token, rc, out = self.send(ENV.ports['plain'],
                                   to='nobody@example.test')
        self.assertNotEqual(rc, 0, out)
        self.assertIn('550', out)

    def test_extra_chains_are_presented(self):
        ca = os.path.join(pki_dir(), 'root-a.pem')
        user = self.login
        # The expired leaf does not verify; the wronghost one has a valid
        # chain (swaks checks no host name) and the inter one as well.
        token, rc, out = self.send(
            ENV.ports['submission-expired'], '--tls', '--tls-verify',
            '--tls-ca-path', ca, user=user, password=ENV.users[user])
        self.assertNotEqual(rc, 0, out)
        for name in ('submission-wronghost', 'submission-inter'):
            token, rc, out = self.send(
                ENV.ports[name], '--tls', '--tls-verify', '--tls-ca-path',
                ca, user=user, password=ENV.users[user])
            self.assertEqual(rc, 0, name + '\n' + out)
            ENV.wait_for_message('noc@example.test',
                                 contains=token.encode())

    def test_user_with_at_sign_authenticates(self):
        user = 'relay@corp.example.test'
        self.assertIn('@', ENV.users[user])
        self.assertIn(':', ENV.users[user])
        token, rc, out = self.send(
            ENV.ports['submission'], '--tls', to='team@corp.example.test',
            sender=user, user=user, password=ENV.users[user])
        self.assertEqual(rc, 0, out)
        ENV.wait_for_message('team@corp.example.test',
                             contains=token.encode())


class AiosmtpdTest(unittest.TestCase):
    def test_starttls_auth_delivers_exact_bytes(self):
        user = 'alerts@example.test'
        token = uuid.uuid4().hex
        rc, out = swaks('--port', str(ENV.ports['aiosmtpd']), '--tls',
                        '--tls-verify', '--tls-ca-path',
                        os.path.join(pki_dir(), 'root-a.pem'),
                        '--auth', 'LOGIN', '--auth-user', user,
                        '--auth-password', ENV.users[user],
                        '--from', user, '--to', 'noc@example.test',
                        '--data', 'Subject: %s\r\n\r\n.dotted\r\nend'
                        % token)
        self.assertEqual(rc, 0, out)
        msg = ENV.wait_for_message('noc@example.test', server='aiosmtpd',
                                   contains=token.encode())
        # swaks dot-stuffs ".dotted" on the wire and ends the data with
        # CRLF; the server removes the stuffing (RFC 5321 4.5.2) and keeps
        # every other byte.
        self.assertEqual(msg, ('Subject: %s\r\n\r\n.dotted\r\nend\r\n'
                               % token).encode())
        path = ENV.list_messages('noc@example.test', 'aiosmtpd')[-1]
        env = ENV.envelope(path)
        self.assertEqual(env['mail_from'], user)
        self.assertEqual(env['rcpt_tos'], ['noc@example.test'])
        self.assertTrue(env['tls'])

    def test_requires_starttls(self):
        user = 'alerts@example.test'
        rc, out = swaks('--port', str(ENV.ports['aiosmtpd']),
                        '--from', user, '--to', 'noc@example.test')
        self.assertNotEqual(rc, 0, out)
        self.assertIn('530', out)

    def test_wrong_password_refused(self):
        user = 'alerts@example.test'
        rc, out = swaks('--port', str(ENV.ports['aiosmtpd']), '--tls',
                        '--auth', 'PLAIN', '--auth-user', user,
                        '--auth-password', 'wrong', '--from', user,
                        '--to', 'noc@example.test')
        self.assertNotEqual(rc, 0, out)
        self.assertIn('535', out)

    def test_from_mismatch_refused(self):
        user = 'alerts@example.test'
        rc, out = swaks('--port', str(ENV.ports['aiosmtpd']), '--tls',
                        '--auth', 'PLAIN', '--auth-user', user,
                        '--auth-password', ENV.users[user],
                        '--from', 'ops@example.test',
                        '--to', 'noc@example.test')
        self.assertNotEqual(rc, 0, out)
        self.assertIn('553', out)

    def test_nostarttls_variant_does_not_offer_starttls(self):
        _, ehlo = smtp_banner_and_ehlo(ENV.ports['aiosmtpd-nostarttls'])
        caps = ' '.join(ehlo).upper()
        self.assertIn('250', caps)
        self.assertNotIn('STARTTLS', caps)


class LifecycleTest(unittest.TestCase):
    def test_stop_leaves_no_process_and_frees_ports(self):
        env = MailEnv(extra_chains=())
        env.start()
        try:
            pids = [p.pid for p in env._procs.values()]
            master = env._postfix_master_pid()
            dovecot = env._dovecot_pid
            self.assertIsNotNone(master)
            self.assertIsNotNone(dovecot)
            ports = dict(env.ports)
        finally:
            env.stop()
            env.cleanup()
        for pid in pids + [master, dovecot]:
            self.assertFalse(mailenv._pid_alive(pid),
                             'pid %d still running' % pid)
        for name, port in ports.items():
            with socket.socket() as s:
                self.assertNotEqual(s.connect_ex((env.host, port)), 0,
                                    '%s port %d still open' % (name, port))

    def test_unstartable_server_raises_with_log(self):
        env = MailEnv(chain='chain-does-not-exist', extra_chains=())
        with self.assertRaises(Exception) as cm:
            env.start()
        env.cleanup()
        self.assertIn('chain-does-not-exist', str(cm.exception))


if __name__ == '__main__':
    unittest.main()
