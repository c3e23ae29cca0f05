# SPDX-License-Identifier: MIT
"""tests/api/test_applets.py: /api/v1/applets.

Applets sent as EEM text and as JSON, the canonical text round trip, 409 on
POST of an existing name, PUT create/replace and the path/name check, parse
errors with line and column, 422 for router-only actions, save-time warnings
for the source document's unset $_email_cc, and persistence across restart.
"""
import socket
import unittest

from herald import HeraldTestCase

SOURCE_APPLET = '''event manager applet SendSecureEmailEEM
 event none
 action 0010 mail server "$_email_server" to "$_email_to" from "$_email_from" cc "$_email_cc" subject "This is my email subject" body "This is my email body." port 587 secure tls
'''


class AppletTest(HeraldTestCase):
    def env(self, name, value):
        st, _, b = self.h.request('PUT', '/api/v1/environment/' + name,
                                  {'value': value})
        self.assertIn(st, (200, 201), b)

    def warned_vars(self, applet):
        return sorted(w['variable'] for w in applet['warnings']
                      if w['code'] == 'undefined_variable')

    def test_source_document_applet_as_text_warns_about_unset_cc(self):
        self.env('_email_from', 'alerts@example.com')
        self.env('_email_to', 'noc@example.com')
        self.env('_email_server',
                 'alerts@example.com:app-password@smtp.gmail.com')
        st, hdrs, a = self.h.request('POST', '/api/v1/applets', SOURCE_APPLET)
        self.assertEqual(st, 201, a)
        self.assertEqual(a['name'], 'SendSecureEmailEEM')
        self.assertEqual(a['events'][0]['type'], 'none')
        act = a['actions'][0]
        self.assertEqual((act['label'], act['action']), ('0010', 'mail'))
        self.assertEqual(act['server'], '$_email_server')
        self.assertEqual(str(act['port']), '587')
        self.assertEqual(act['secure'], 'tls')
        self.assertEqual(self.warned_vars(a), ['_email_cc'])
        cc = [w for w in a['warnings'] if w.get('variable') == '_email_cc']
        self.assertEqual(cc[0]['label'], '0010')
        self.assertEqual(a['text'], SOURCE_APPLET)
        self.assertTrue(a['created'] and a['updated'])

        # defining the variable removes the warning
        self.env('_email_cc', 'cc@example.com')
        st, _, a = self.h.request('GET',
                                  '/api/v1/applets/SendSecureEmailEEM')
        self.assertEqual(st, 200)
        self.assertEqual(self.warned_vars(a), [])

        st, _, lst = self.h.request('GET', '/api/v1/applets')
        self.assertEqual(st, 200)
        self.assertEqual(len(lst['items']), 1)
        item = lst['items'][0]
        self.assertEqual(item['name'], 'SendSecureEmailEEM')
        self.assertEqual(item['action_count'], 1)
        self.assertEqual(item['events'][0]['type'], 'none')

    def test_canonical_text_round_trip_and_json_form(self):
        messy = ('event manager applet Round description "two words"\n'
                 '  event none   maxrun 60\n'
                 '  action 2.0 syslog msg "second"\n'
                 '  action 1.0 set count 1\n'
                 '  action 10.0 puts "$count"\n')
        st, _, a = self.h.request('POST', '/api/v1/applets', messy)
        self.assertEqual(st, 201, a)
        labels = [x['label'] for x in a['actions']]
        self.assertEqual(labels, ['1.0', '10.0', '2.0'])  # strcmp order
        text = a['text']
        # the canonical text parses to the same applet and prints the same
        st, _, b = self.h.request('PUT', '/api/v1/applets/Round', text)
        self.assertEqual(st, 200, b)
        self.assertEqual(b['text'], text)
        self.assertEqual(b['actions'], a['actions'])
        # the JSON form too
        model = {k: a[k] for k in ('name', 'description', 'events',
                                   'actions')}
        st, _, c = self.h.request('PUT', '/api/v1/applets/Round', model)
        self.assertEqual(st, 200, c)
        self.assertEqual(c['text'], text)
        # and POST of JSON under a new name
        model['name'] = 'RoundJson'
        st, _, d = self.h.request('POST', '/api/v1/applets', model)
        self.assertEqual(st, 201, d)
        self.assertEqual(d['text'], text.replace('applet Round\n',
                                                 'applet RoundJson\n'))

    def test_post_existing_is_409_and_put_creates_or_replaces(self):
        t = 'event manager applet Twice\n event none\n action 1 puts "a"\n'
        self.assertEqual(self.h.request('POST', '/api/v1/applets', t)[0],
                         201)
        st, _, e = self.h.request('POST', '/api/v1/applets', t)
        self.assertEqual(st, 409)
        self.assertEqual(e['error']['code'], 'conflict')
        self.assertIn('Twice', e['error']['message'])
        t2 = t.replace('"a"', '"b"')
        st, _, a = self.h.request('PUT', '/api/v1/applets/Twice', t2)
        self.assertEqual(st, 200)
        self.assertEqual(a['actions'][0]['text'], 'b')
        self.assertNotEqual(a['updated'], None)
        st, _, a = self.h.request(
            'PUT', '/api/v1/applets/Fresh',
            t.replace('Twice', 'Fresh'))
        self.assertEqual(st, 201)
        # the name in the text must match the path
        st, _, e = self.h.request('PUT', '/api/v1/applets/Other', t)
        self.assertEqual(st, 400)
        self.assertEqual(e['error']['field'], 'name')
        self.assertEqual(self.h.request('GET', '/api/v1/applets/Other')[0],
                         404)
        self.assertEqual(self.h.request('DELETE',
                                        '/api/v1/applets/Twice')[0], 204)
        self.assertEqual(self.h.request('GET',
                                        '/api/v1/applets/Twice')[0], 404)

    def test_parse_error_has_line_and_column(self):
        bad = ('event manager applet Bad\n'
               ' event none\n'
               ' action 0010 set\n')
        st, _, e = self.h.request('POST', '/api/v1/applets', bad)
        self.assertEqual(st, 400, e)
        self.assertEqual(e['error']['code'], 'parse_error')
        self.assertEqual(e['error']['line'], 3)
        self.assertGreater(e['error']['column'], 0)
        self.assertEqual(self.h.request('GET', '/api/v1/applets/Bad')[0],
                         404)
        st, _, e = self.h.request('POST', '/api/v1/applets', '')
        self.assertEqual(st, 400)

    def test_router_only_action_is_422(self):
        t = ('event manager applet Router\n event none\n'
             ' action 1.0 cli command "enable"\n')
        st, _, e = self.h.request('POST', '/api/v1/applets', t)
        self.assertEqual(st, 422, e)
        self.assertEqual(e['error']['code'], 'unsupported')
        self.assertIn('cli', e['error']['message'])
        self.assertEqual(e['error']['line'], 3)

    def test_json_with_bad_field_names_the_field(self):
        st, _, e = self.h.request('POST', '/api/v1/applets',
                                  {'events': [{'type': 'none'}],
                                   'actions': []})
        self.assertEqual(st, 400, e)
        self.assertEqual(e['error']['field'], 'name')
        st, _, e = self.h.request('POST', '/api/v1/applets',
                                  {'name': 'J', 'events': 'none',
                                   'actions': []})
        self.assertEqual(st, 400, e)
        self.assertTrue(e['error'].get('field'), e)

    def test_applets_survive_restart(self):
        self.assertEqual(self.h.request('POST', '/api/v1/applets',
                                        SOURCE_APPLET)[0], 201)
        self.h.restart()
        st, _, a = self.h.request('GET',
                                  '/api/v1/applets/SendSecureEmailEEM')
        self.assertEqual(st, 200)
        self.assertEqual(a['text'], SOURCE_APPLET)


    def test_pasted_prompts_class_and_authorization_are_accepted(self):
        pasted = ('R1(config)#event manager applet Pasted class B '
                  'authorization bypass\n'
                  'R1(config-applet)# event none\n'
                  'R1(config-applet)# action 0010 puts "R1# is not a '
                  'prompt here"\n'
                  'R1(config-applet)#end\n')
        a = self.h.api('POST', '/api/v1/applets', pasted, expect=201)
        self.assertEqual(a['prompts_removed'], 4)
        self.assertEqual(a['class'], 'B')
        self.assertEqual(a['authorization'], 'bypass')
        self.assertEqual(a['text'],
                         'event manager applet Pasted class B authorization '
                         'bypass\n event none\n'
                         ' action 0010 puts "R1# is not a prompt here"\n')
        # the JSON form round-trips the header options
        a['class'] = 'default'
        b = self.h.api('PUT', '/api/v1/applets/Pasted', a, expect=200)
        self.assertEqual(b['prompts_removed'], 0)
        self.assertEqual(b['class'], 'default')
        g = self.h.api('GET', '/api/v1/applets/Pasted', expect=200)
        self.assertNotIn('prompts_removed', g)
        self.assertTrue(g['text'].startswith(
            'event manager applet Pasted class default authorization '
            'bypass\n'))

    def test_unbalanced_blocks_are_refused_with_line_and_label(self):
        cases = [
            ('event manager applet B\n event none\n action 0010 break\n',
             3, '0010', '"break" outside a "while" or "foreach" loop'),
            ('event manager applet B\n event none\n action 0010 puts x\n'
             ' action 0020 else\n', 4, '0020',
             '"else" without an opening "if"'),
            ('event manager applet B\n event none\n action 0010 end\n',
             3, '0010', '"end" without an opening'),
            ('event manager applet B\n event none\n'
             ' action 0010 while 1 eq 1\n action 0020 puts x\n', 3, '0010',
             '"while" is never closed'),
        ]
        for text, line, label, what in cases:
            st, _, b = self.h.request('POST', '/api/v1/applets', text)
            self.assertEqual(st, 400, b)
            self.assertEqual(b['error']['code'], 'parse_error')
            self.assertEqual(b['error']['line'], line)
            self.assertIn('action %s: %s' % (label, what),
                          b['error']['message'])
        st, _, b = self.h.request('POST', '/api/v1/applets', {
            'name': 'J', 'events': [{'type': 'none'}],
            'actions': [{'label': '0010', 'action': 'continue'}]})
        self.assertEqual(st, 400, b)
        self.assertEqual(b['error']['field'], 'actions[0]')
        self.assertIn('action 0010: "continue" outside', b['error']['message'])
        self.assertEqual(self.h.api('GET', '/api/v1/applets',
                                    expect=200)['items'], [])

    def test_info_type_routername_runs_and_other_types_are_refused(self):
        self.h.api('POST', '/api/v1/applets',
                   'event manager applet Who\n event none\n'
                   ' action 0010 info type routername\n'
                   ' action 0020 puts "$_info_routername"\n', expect=201)
        r = self.h.api('POST', '/api/v1/applets/Who/run', {'wait': True},
                       expect=200)
        self.assertEqual(r['status'], 'success', r)
        self.assertEqual(r['output'], socket.gethostname() + '\n')
        st, _, b = self.h.request(
            'POST', '/api/v1/applets',
            'event manager applet Hist\n event none\n'
            ' action 0010 info type cli history\n')
        self.assertEqual(st, 422, b)
        self.assertIn('"info type cli" is router-only: herald runs off the '
                      'router', b['error']['message'])
        self.assertEqual(b['error']['line'], 3)

    def test_an_aborted_run_says_how_to_fix_it(self):
        self.h.api('POST', '/api/v1/applets', SOURCE_APPLET.replace(
            'action 0010 mail', 'action 0005 puts "$_email_cc"\n'
            ' action 0010 mail'), expect=201)
        r = self.h.api('POST', '/api/v1/applets/SendSecureEmailEEM/run',
                       {'wait': True}, expect=200)
        self.assertEqual(r['status'], 'abort', r)
        self.assertEqual(r['error'].split('\n'), [
            '%HA_EM-3-FMPD_UNKNOWN_ENV: could not find environment '
            'variable: _email_cc',
            '%HA_EM-3-FMPD_ERROR: Error executing applet SendSecureEmailEEM '
            'statement 0005',
            'Set the environment variable _email_cc (PUT '
            '/api/v1/environment/_email_cc), or remove it from action 0005.'])


if __name__ == '__main__':
    unittest.main()
