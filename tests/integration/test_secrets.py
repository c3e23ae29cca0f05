# SPDX-License-Identifier: MIT
"""
tests/integration/test_secrets.py: a password never comes back through
variable expansion (issue 11). The source document's _email_server holds
user:password@host; an applet prints it, logs it through syslog, copies it
with set, upper-cases it with string, puts it in the mail's subject and
body, and mails through the copy. The mail must be delivered by the real
Postfix (the copy still authenticates), and the password is then hunted
through every API response, herald's log, every table of its database but
the environment (where it must live) and the delivered mail.
"""

import os
import sqlite3
import time
import unittest
import uuid

from itest import (USER, api, assert_no_secrets, get_run, mailenv_module,
                   put_applet, put_env, run_applet, start_herald,
                   wait_count, wait_run, zsecrets_test)

ENV = None
setUpModule, tearDownModule = mailenv_module(globals())


class ExpansionTest(unittest.TestCase):
    maxDiff = None

    def setUp(self):
        self.h = start_herald()

    def tearDown(self):
        h, self.h = self.h, None
        try:
            assert_no_secrets(self, ENV, h)
        finally:
            h.stop()
            h.cleanup()

    def test_password_reaches_only_the_mail_server(self):
        pw = ENV.users[USER]
        token = uuid.uuid4().hex
        put_env(self.h, '_email_server', '%s:%s@localhost' % (USER, pw))
        put_env(self.h, '_email_to', 'noc@example.test')
        applet = put_applet(self.h, '\n'.join([
            'event manager applet Leaky',
            ' event none',
            ' action 010 puts "server is $_email_server"',
            ' action 020 syslog msg "sending via $_email_server"',
            ' action 030 set copy "$_email_server"',
            ' action 040 string toupper "$copy"',
            ' action 050 puts "upper $_string_result"',
            ' action 060 mail server "$copy" to "$_email_to" from "%s" '
            'subject "%s via $_email_server" body "body $_email_server" '
            'port %d secure tls' % (USER, token, ENV.ports['submission']),
        ]) + '\n')
        # the applet is saved, with a warning for each place that shows it
        codes = [(w['code'], w['label']) for w in applet['warnings']]
        self.assertIn(('secret_variable', '010'), codes)
        self.assertIn(('secret_variable', '020'), codes)
        self.assertIn(('secret_variable', '060'), codes)
        self.assertNotIn(('secret_variable', '030'), codes)

        _, _, res = run_applet(self.h, 'Leaky', wait=True, expect=200)
        run = wait_run(self.h, res['id'])
        self.assertEqual(run['status'], 'success', run)
        shown = '%s:*****@localhost' % USER
        self.assertIn('server is ' + shown, run['output'])
        self.assertIn('upper ' + shown.upper(), run['output'])

        # delivered through Postfix with the password taken from the copy
        msgs = wait_count(ENV, 'noc@example.test', token, 1, h=self.h)
        raw = msgs[-1]
        self.assertIn(shown.encode(), raw)
        self.assertNotIn(pw.encode(), raw, 'the password is in the mail')
        self.assertIn(b'sending via ' + shown.encode(),
                      self.h.log().encode())

        # the outbox has recorded the delivery (a sent row keeps no
        # password)
        deadline = time.monotonic() + 90
        while True:
            box = api(self.h, 'GET', '/api/v1/outbox')
            items = box.get('items', box) if isinstance(box, dict) else box
            if items and all(m.get('state') == 'sent' for m in items):
                break
            self.assertLess(time.monotonic(), deadline, box)
            time.sleep(0.2)

        # every listing a user may look at
        for path in ('/api/v1/runs/%d' % res['id'], '/api/v1/runs',
                     '/api/v1/outbox', '/api/v1/applets/Leaky',
                     '/api/v1/environment', '/api/v1/config'):
            api(self.h, 'GET', path)

        # the database: only the environment table may hold the password
        db = os.path.join(self.h.data_dir, 'herald.db')
        self.h.stop()
        con = sqlite3.connect(db)
        try:
            tables = [r[0] for r in con.execute(
                "SELECT name FROM sqlite_master WHERE type='table'")]
            for t in tables:
                if t == 'environment':
                    continue
                for row in con.execute('SELECT * FROM "%s"' % t):
                    self.assertNotIn(pw, repr(row),
                                     'the password is in table %s' % t)
        finally:
            con.close()
        self.h.start()


ZSecretsTest = zsecrets_test(globals())

if __name__ == '__main__':
    unittest.main()
