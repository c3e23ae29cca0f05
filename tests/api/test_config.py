# SPDX-License-Identifier: MIT
"""tests/api/test_config.py: /api/v1/config, the configuration as text.

Imports the exact scenario of DESIGN.md (environment, the source document's
applet, a trustpoint authenticated with a pasted PEM generated at test time,
"event manager run"), checks the summary and that every object landed, that
the exported running-config masks the password and re-imports cleanly, and
that a bad line is reported with its number and changes nothing.
"""
import socket
import time
import unittest

from herald import HeraldTestCase, cert_sha256, pki_file

APPLET = '''event manager applet SendSecureEmailEEM
 event none
 action 0010 mail server "$_email_server" to "$_email_to" from "$_email_from" cc "$_email_cc" subject "This is my email subject" body "This is my email body." port 587 secure tls
'''


def scenario(pem):
    return ('event manager environment _email_from alerts@example.com\n'
            'event manager environment _email_to noc@example.com\n'
            'event manager environment _email_server '
            'alerts@example.com:app-password@smtp.gmail.com\n'
            + APPLET +
            'crypto pki trustpoint CA-GTS-Root-R1\n'
            ' enrollment terminal\n'
            ' revocation-check none\n'
            ' chain-validation stop\n'
            'crypto pki authenticate CA-GTS-Root-R1\n'
            + pem.strip() + '\n'
            'quit\n'
            'event manager run SendSecureEmailEEM\n')


class ConfigTest(HeraldTestCase):
    def state(self):
        env = self.h.api('GET', '/api/v1/environment', expect=200)
        app = self.h.api('GET', '/api/v1/applets', expect=200)
        tps = self.h.api('GET', '/api/v1/trustpoints', expect=200)
        return env, app, tps

    def test_design_scenario_imports_and_exports(self):
        pem = pki_file('root-a.pem')
        st, _, s = self.h.request('POST', '/api/v1/config', scenario(pem))
        self.assertEqual(st, 200, s)
        self.assertEqual((s['environment'], s['applets'], s['trustpoints'],
                          s['certificates']), (3, 1, 1, 1))
        self.assertEqual(s['runs_requested'], ['SendSecureEmailEEM'])
        self.assertIsInstance(s['warnings'], list)

        env, app, tps = self.state()
        vals = {v['name']: v.get('value') for v in env['items']}
        self.assertEqual(vals['_email_to'], 'noc@example.com')
        self.assertEqual(vals['_email_server'],
                         'alerts@example.com:*****@smtp.gmail.com')
        a = self.h.api('GET', '/api/v1/applets/SendSecureEmailEEM',
                       expect=200)
        self.assertEqual(a['text'], APPLET)
        self.assertIn('_email_cc', [w.get('variable')
                                    for w in a['warnings']])
        tp = self.h.api('GET', '/api/v1/trustpoints/CA-GTS-Root-R1',
                        expect=200)
        self.assertEqual(tp['chain_validation'], 'stop')
        self.assertEqual(tp['certificate']['fingerprints']['sha256'].upper(),
                         cert_sha256(pem))

        st, hdrs, text = self.h.request('GET', '/api/v1/config')
        self.assertEqual(st, 200)
        self.assertTrue(hdrs['content-type'].startswith('text/plain'))
        self.assertNotIn('app-password', text)
        self.assertIn('event manager environment _email_server '
                      'alerts@example.com:*****@smtp.gmail.com', text)
        self.assertIn('event manager applet SendSecureEmailEEM', text)
        self.assertIn('crypto pki trustpoint CA-GTS-Root-R1', text)
        self.assertIn('crypto pki certificate chain CA-GTS-Root-R1', text)

        # the export imports again, without changing anything
        before = self.state()
        st, _, s2 = self.h.request('POST', '/api/v1/config', text)
        self.assertEqual(st, 200, s2)
        after = self.state()
        self.assertEqual([v.get('value') for v in before[0]['items']],
                         [v.get('value') for v in after[0]['items']])
        self.assertEqual([t['certificate'] for t in before[2]['items']],
                         [t['certificate'] for t in after[2]['items']])
        self.h.stop()
        self.assertNotIn('app-password', self.h.log())

    def test_trustpoint_warnings_come_with_the_import(self):
        # a leaf pasted where a CA belongs: the import says so, as GET
        # /api/v1/trustpoints/{name} would
        leaf = pki_file('leaf.pem')
        st, _, s = self.h.request('POST', '/api/v1/config', scenario(leaf))
        self.assertEqual(st, 200, s)
        tw = [w for w in s['warnings'] if w.get('trustpoint')]
        self.assertEqual([w['trustpoint'] for w in tw], ['CA-GTS-Root-R1'])
        got = self.h.api('GET', '/api/v1/trustpoints/CA-GTS-Root-R1',
                         expect=200)['warnings']
        self.assertEqual([w['code'] for w in tw], [w['code'] for w in got])
        self.assertIn('not_ca', [w['code'] for w in tw])

    def test_bad_line_changes_nothing(self):
        self.h.api('PUT', '/api/v1/environment/keep', {'value': 'old'},
                   expect=201)
        before = self.state()
        text = ('event manager environment keep new\n'
                'event manager environment other 1\n'
                'event manager environment\n'
                + APPLET)
        st, _, e = self.h.request('POST', '/api/v1/config', text)
        self.assertEqual(st, 400, e)
        self.assertEqual(e['error']['code'], 'parse_error')
        self.assertEqual(e['error']['line'], 3)
        self.assertEqual(self.state(), before)
        # a command herald does not do: refused by name, at its line
        st, _, e = self.h.request('POST', '/api/v1/config',
                                  text.replace('environment\n',
                                               'frobnicate now\n'))
        self.assertIn(st, (400, 422), e)
        self.assertEqual(e['error']['line'], 3)
        self.assertIn('frobnicate', e['error']['message'])
        self.assertEqual(self.state(), before)
        # an error inside the applet block is reported at its line
        text = ('event manager environment keep new\n'
                + APPLET.replace(' event none', ' event none\n action 1 set'))
        st, _, e = self.h.request('POST', '/api/v1/config', text)
        self.assertEqual(st, 400, e)
        self.assertEqual(e['error']['line'], 4)
        self.assertEqual(self.state(), before)
        # a certificate that is not one
        text = ('crypto pki trustpoint T\n chain-validation stop\n'
                'crypto pki authenticate T\nAAAA not base64 !!\nquit\n')
        st, _, e = self.h.request('POST', '/api/v1/config', text)
        self.assertEqual(st, 400, e)
        self.assertEqual(self.state(), before)
        # the name the API reserves for POST .../import-chain
        text = ('event manager environment keep new\n'
                'crypto pki trustpoint import-chain\n'
                ' chain-validation stop\n')
        st, _, e = self.h.request('POST', '/api/v1/config', text)
        self.assertEqual(st, 400, e)
        self.assertEqual(e['error']['line'], 2)
        self.assertIn('reserved', e['error']['message'])
        self.assertEqual(self.state(), before)

    def test_content_type_and_empty_body(self):
        st, _, e = self.h.request('POST', '/api/v1/config',
                                  {'text': 'event manager environment a b'})
        self.assertEqual(st, 415)
        st, _, e = self.h.request('POST', '/api/v1/config', '')
        self.assertEqual(st, 400)


    def test_a_pasted_terminal_session_imports_and_runs(self):
        pem = pki_file('root-a.pem').strip()
        text = ('R1#configure terminal\n'
                'Enter configuration commands, one per line.  '
                'End with CNTL/Z.\n'
                'R1(config)#event manager environment greeting hello\n'
                'R1(config)#event manager applet Pasted class A '
                'authorization bypass\n'
                'R1(config-applet)# event none\n'
                'R1(config-applet)# action 0010 info type routername\n'
                'R1(config-applet)# action 0020 puts "$greeting $_none_arg1 '
                '# $_info_routername"\n'
                'R1(config-applet)#exit\n'
                'R1(config)#crypto pki trustpoint CA-Test\n'
                'R1(ca-trustpoint)# enrollment terminal\n'
                'R1(ca-trustpoint)# revocation-check none\n'
                'R1(ca-trustpoint)# chain-validation stop\n'
                'R1(ca-trustpoint)#exit\n'
                'R1(config)#crypto pki authenticate CA-Test\n'
                '\n'
                'Enter the base 64 encoded CA certificate.\n'
                'End with a blank line or the word "quit" on a line by '
                'itself\n'
                '\n' + pem + '\n'
                'quit\n'
                'Certificate has the following attributes:\n'
                '       Fingerprint MD5: 01234567 89ABCDEF 01234567 '
                '89ABCDEF\n'
                '\n'
                '% Do you accept this certificate? [yes/no]: yes\n'
                'Trustpoint CA certificate accepted.\n'
                '% Certificate successfully imported\n'
                '\n'
                'R1(config)#end\n'
                'R1#event manager run Pasted world\n'
                'R1#\n')
        s = self.h.api('POST', '/api/v1/config?run=true', text, expect=200)
        self.assertEqual((s['environment'], s['applets'], s['trustpoints'],
                          s['certificates']), (1, 1, 1, 1))
        self.assertEqual(s['prompts_removed'], 16)
        self.assertEqual(s['runs_requested'], ['Pasted'])
        self.assertEqual(len(s['runs']), 1)
        run = s['runs'][0]
        self.assertEqual(run['applet'], 'Pasted')
        self.assertEqual(run['line'], text.count('\n', 0,
                         text.index('R1#event manager run')) + 1)
        self.assertIn(run['status'], ('queued', 'running', 'success'))
        # the run happens
        deadline = time.time() + 20
        while True:
            r = self.h.api('GET', '/api/v1/runs/%d' % run['run_id'],
                           expect=200)
            if r['status'] not in ('queued', 'running'):
                break
            self.assertLess(time.time(), deadline, r)
            time.sleep(0.1)
        self.assertEqual(r['status'], 'success', r)
        self.assertEqual(r['output'],
                         'hello world # %s\n' % socket.gethostname())
        a = self.h.api('GET', '/api/v1/applets/Pasted', expect=200)
        self.assertEqual((a['class'], a['authorization']), ('A', 'bypass'))
        tp = self.h.api('GET', '/api/v1/trustpoints/CA-Test', expect=200)
        self.assertEqual(tp['chain_validation'], 'stop')
        self.assertEqual(tp['certificate']['fingerprints']['sha256'].upper(),
                         cert_sha256(pem))
        # without run=true the same text runs nothing
        s = self.h.api('POST', '/api/v1/config', text, expect=200)
        self.assertNotIn('runs', s)
        st, _, e = self.h.request('POST', '/api/v1/config?run=maybe', text)
        self.assertEqual(st, 400, e)
        self.assertEqual(e['error']['field'], 'run')

    def test_new_refusals_name_the_line(self):
        cases = [
            ('R1(config)#event manager applet B\nR1(config-applet)# event '
             'none\nR1(config-applet)# action 0010 continue\n', 400, 3,
             'action 0010: "continue" outside a "while" or "foreach" loop'),
            ('event manager applet B\n event none\n action 0010 if 1 eq 1\n',
             400, 3, 'action 0010: "if" is never closed'),
            ('event manager applet B\n action 0010 info type snmp oid 1\n',
             422, 2, '"info type snmp" is router-only'),
        ]
        for text, status, line, what in cases:
            st, _, e = self.h.request('POST', '/api/v1/config?run=true', text)
            self.assertEqual(st, status, e)
            self.assertEqual(e['error']['line'], line)
            self.assertIn(what, e['error']['message'])
        self.assertEqual(self.h.api('GET', '/api/v1/applets',
                                    expect=200)['items'], [])


if __name__ == '__main__':
    unittest.main()
