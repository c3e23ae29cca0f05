# SPDX-License-Identifier: MIT
"""tests/api/test_bad_input.py: bodies that must be refused whole.

Every JSON body (environment, applets, trustpoints, webhooks) and every text
body (applet CLI text, configuration text, PEM) is checked before anything
is stored: a \\u0000 escape in any string (cJSON would cut the string there
and store the rest), bytes that are not UTF-8 (herald would echo them and
its own answer would not be JSON), a NUL byte, and anything but whitespace
after the JSON value. Each answers 400 with a message that names the
problem and where it is (field, byte offset), and a GET afterwards shows
that nothing was stored.
"""
import json
import unittest

from herald import Herald, pki_file

JSON = 'application/json'
TEXT = 'text/plain'


class BadInputTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.h = Herald()
        cls.h.start()

    @classmethod
    def tearDownClass(cls):
        try:
            cls.h.stop()
        finally:
            cls.h.cleanup()

    def send(self, method, path, raw, ctype, token=True):
        return self.h.request(method, path, raw, content_type=ctype,
                              token=token)

    def refused(self, resp, code, *words):
        """Asserts a 400 with this code whose message holds every word."""
        st, hdrs, body = resp
        self.assertEqual(st, 400, body)
        self.assertIn('application/json', hdrs.get('content-type', ''))
        self.assertIsInstance(body, dict, body)
        e = body['error']
        self.assertEqual(e['code'], code, e)
        for w in words:
            self.assertIn(w, e['message'], e)
        return e

    def absent(self, path):
        st, _, body = self.h.request('GET', path)
        self.assertEqual(st, 404, body)

    # ---- a member given twice -------------------------------------------

    def test_a_member_given_twice_is_400_naming_it(self):
        # cJSON keeps both; every reader took the first, silently
        e = self.refused(self.send('PUT', '/api/v1/environment/dup1',
                                   b'{"value":"shown","secret":false,'
                                   b'"value":"stored?"}', JSON),
                         'invalid_json', 'member "value" is given twice')
        self.assertEqual(e['field'], 'value')
        self.absent('/api/v1/environment/dup1')

    def test_a_number_beyond_range_is_400_naming_it(self):
        # cJSON reads 1e999 as infinity, which prints as null
        e = self.refused(self.send('POST', '/api/v1/applets/nope/run',
                                   b'{"wait":false,"timeout":1e999}', JSON),
                         'invalid_json', 'member "timeout"', 'out of range')
        self.assertEqual(e['field'], 'timeout')

    # ---- an applet without an event -------------------------------------

    def test_an_applet_without_an_event_is_400_naming_it(self):
        # text
        e = self.refused(self.send('PUT', '/api/v1/applets/NoEvent',
                                   b'event manager applet NoEvent\n'
                                   b' action 1 puts "never"\n', TEXT),
                         'no_event', 'applet NoEvent has no event',
                         'event none')
        self.assertEqual(e['field'], 'events')
        # JSON
        raw = json.dumps({'name': 'NoEvent', 'events': [], 'actions': [
            {'label': '1', 'action': 'puts', 'text': 'never'}]}).encode()
        self.refused(self.send('PUT', '/api/v1/applets/NoEvent', raw, JSON),
                     'no_event', 'applet NoEvent has no event')
        self.absent('/api/v1/applets/NoEvent')
        # config import: nothing of it is stored
        st, _, body = self.send('POST', '/api/v1/config',
                                b'event manager environment ne_x 1\n'
                                b'event manager applet NoEvent\n'
                                b' action 1 puts "never"\n', TEXT)
        self.assertEqual(st, 400, body)
        self.assertIn('applet NoEvent has no event', body['error']['message'])
        self.absent('/api/v1/applets/NoEvent')
        self.absent('/api/v1/environment/ne_x')

    # ---- \u0000 ------------------------------------------------------------

    def test_nul_escape_in_a_json_string_is_400_naming_the_field(self):
        e = self.refused(self.send('PUT', '/api/v1/environment/nul1',
                                   b'{"value":"a\\u0000b"}', JSON),
                         'invalid_field', 'field "value"',
                         'NUL character (\\u0000) not allowed')
        self.assertEqual(e['field'], 'value')
        self.absent('/api/v1/environment/nul1')
        # in a member name
        e = self.refused(self.send('PUT', '/api/v1/environment/nul2',
                                   b'{"value":"x","sec\\u0000ret":true}',
                                   JSON), 'invalid_field', 'NUL')
        self.assertEqual(e['field'], 'sec\\u0000ret')
        self.absent('/api/v1/environment/nul2')
        # nested: the path names the array element and the member
        raw = (b'{"name":"NulApplet","events":[{"type":"none"}],'
               b'"actions":[{"label":"1","action":"puts","text":"ok"},'
               b'{"label":"2","action":"puts","text":"x\\u0000"}]}')
        e = self.refused(self.send('POST', '/api/v1/applets', raw, JSON),
                         'invalid_field', 'field "actions[1].text"')
        self.assertEqual(e['field'], 'actions[1].text')
        self.absent('/api/v1/applets/NulApplet')
        before = self.h.api('GET', '/api/v1/trustpoints', expect=200)
        pem = json.dumps(pki_file('root-a.pem'))[1:-1].encode()
        raw = (b'{"certificates":[{"pem":"' + pem + b'\\u0000",'
               b'"sha256":"00"}]}')
        e = self.refused(self.send('POST', '/api/v1/trustpoints/import-chain',
                                   raw, JSON), 'invalid_field')
        self.assertEqual(e['field'], 'certificates[0].pem')
        self.assertEqual(self.h.api('GET', '/api/v1/trustpoints',
                                    expect=200), before)

    def test_escaped_backslash_before_u0000_is_text_and_is_stored(self):
        st, _, body = self.send('PUT', '/api/v1/environment/bs',
                                b'{"value":"a\\\\u0000b"}', JSON)
        self.assertEqual(st, 201, body)
        self.assertEqual(body['value'], 'a\\u0000b')
        # other escapes, and a \u0000 look-alike, are fine too
        st, _, body = self.send('PUT', '/api/v1/environment/bs2',
                                b'{"value":"\\u00000 \\u0001 \\"q\\" '
                                b'\\u20ac"}', JSON)
        self.assertEqual(st, 400, body)   # \u0000 followed by a 0
        st, _, body = self.send('PUT', '/api/v1/environment/bs2',
                                b'{"value":"\\u0001 \\"q\\" \\u20ac"}', JSON)
        self.assertEqual(st, 201, body)
        self.assertEqual(body['value'], '\x01 "q" \u20ac')

    # ---- UTF-8 -------------------------------------------------------------

    def test_invalid_utf8_in_json_is_400_naming_the_offset(self):
        cases = [
            (b'{"value":"a\xffb"}', 11),
            (b'{"value":"\xc0\xaf"}', 10),        # overlong '/'
            (b'{"value":"ok \xed\xa0\x80"}', 13),   # a UTF-16 surrogate
            (b'{"value":"caf\xc3"}', 13),           # cut short
            (b'{"value":"x", "\xe9":"latin-1"}', 15),
        ]
        for raw, off in cases:
            e = self.refused(self.send('PUT', '/api/v1/environment/u8', raw,
                                       JSON), 'invalid_utf8', 'UTF-8',
                             'offset %d' % off)
            self.assertEqual((e['line'], e['column']), (1, off + 1), raw)
            self.absent('/api/v1/environment/u8')
        # valid multi-byte text is stored and echoed as it was
        st, _, body = self.send('PUT', '/api/v1/environment/u8',
                                '{"value":"caf\u00e9 \u20ac \U0001f4e7"}'
                                .encode(), JSON)
        self.assertEqual(st, 201, body)
        self.assertEqual(body['value'], 'caf\u00e9 \u20ac \U0001f4e7')
        raw = (b'{"name":"U8Applet","description":"\xff",'
               b'"events":[{"type":"none"}],"actions":[]}')
        self.refused(self.send('POST', '/api/v1/applets', raw, JSON),
                     'invalid_utf8', 'offset %d' % raw.index(b'\xff'))
        self.absent('/api/v1/applets/U8Applet')

    def test_invalid_utf8_in_text_bodies_is_400_naming_the_offset(self):
        text = (b'event manager applet Latin1\n event none\n'
                b' action 1 puts "caf\xe9"\n')
        off = text.index(b'\xe9')
        e = self.refused(self.send('POST', '/api/v1/applets', text, TEXT),
                         'invalid_utf8', 'applet text', 'offset %d' % off)
        self.assertEqual((e['line'], e['column']),
                         (3, off - text.rindex(b'\n', 0, off)))
        self.absent('/api/v1/applets/Latin1')
        self.refused(self.send('PUT', '/api/v1/applets/Latin1', text, TEXT),
                     'invalid_utf8')
        self.absent('/api/v1/applets/Latin1')
        conf = (b'event manager environment good one\n'
                b'event manager environment bad caf\xe9\n')
        e = self.refused(self.send('POST', '/api/v1/config', conf, TEXT),
                         'invalid_utf8', 'configuration text',
                         'offset %d' % conf.index(b'\xe9'), 'line 2')
        self.absent('/api/v1/environment/good')
        self.absent('/api/v1/environment/bad')
        conf = b'event manager environment nul a\x00b\n'
        e = self.refused(self.send('POST', '/api/v1/config', conf, TEXT),
                         'invalid_text',
                         'NUL byte at offset %d' % conf.index(b'\x00'))
        self.absent('/api/v1/environment/nul')
        # PEM is text; DER (application/pkix-cert) is binary and not checked
        self.h.api('POST', '/api/v1/trustpoints', {'name': 'U8Tp'},
                   expect=201)
        pem = pki_file('root-a.pem').encode().replace(b'\n', b'\n\xff', 1)
        for ctype in ('application/x-pem-file', TEXT):
            self.refused(self.send('PUT',
                                   '/api/v1/trustpoints/U8Tp/certificate',
                                   pem, ctype), 'invalid_utf8', 'offset 28')
        tp = self.h.api('GET', '/api/v1/trustpoints/U8Tp', expect=200)
        self.assertFalse(tp.get('certificate'), tp)

    # ---- trailing bytes ----------------------------------------------------

    def test_bytes_after_the_json_value_are_400_naming_the_offset(self):
        for raw, pos in ((b'{"value":"x"} junk', 14),
                         (b'{"value":"x"}{"value":"y"}', 13),
                         (b'{"value":"x"}\n\n]', 15)):
            self.refused(self.send('PUT', '/api/v1/environment/tr', raw,
                                   JSON), 'invalid_json',
                         'after the JSON value', 'position %d' % pos)
            self.absent('/api/v1/environment/tr')
        # whitespace after the value is fine
        st, _, body = self.send('PUT', '/api/v1/environment/tr',
                                b'{"value":"x"}\r\n \t\n', JSON)
        self.assertEqual(st, 201, body)

    # ---- webhooks ----------------------------------------------------------

    def test_webhook_bodies_get_the_same_checks_and_start_no_run(self):
        self.h.api('POST', '/api/v1/applets',
                   'event manager applet BadHook\n event webhook\n'
                   ' action 1 puts "$_webhook_body"\n', expect=201)
        st, _, body = self.h.request('PUT',
                                     '/api/v1/applets/BadHook/webhook')
        self.assertIn(st, (200, 201), body)
        tok = body['token']
        cases = [
            (b'{"a":1} trailing', JSON, 'invalid_json', 'position 8'),
            (b'{"a":"x\\u0000y"}', JSON, 'invalid_field', 'field "a"'),
            (b'{"a":"\xff"}', JSON, 'invalid_utf8', 'offset 6'),
            (b'link \xff down', TEXT, 'invalid_utf8', 'offset 5'),
        ]
        for raw, ctype, code, words in cases:
            self.refused(self.send('POST', '/hooks/BadHook', raw, ctype,
                                   token=tok), code, words)
        runs = self.h.api('GET', '/api/v1/runs?applet=BadHook', expect=200)
        self.assertEqual(runs['items'], [])
        st, _, body = self.send('POST', '/hooks/BadHook', b'{"a":1}\n',
                                JSON, token=tok)
        self.assertEqual(st, 202, body)


if __name__ == '__main__':
    unittest.main()
