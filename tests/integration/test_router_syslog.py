# SPDX-License-Identifier: MIT
"""
tests/integration/test_router_syslog.py: router parity (issue 12).

Syslog from network devices: herald listens on a free loopback port; a
stream of Cisco remote lines ("<189>45: R1: *Dec  2 10:00:00.123:
%LINK-3-UPDOWN: ..."), RFC 3164 and RFC 5424 lines, from several senders
(127.0.0.2 .. 127.0.0.6) over UDP and TCP, fires a pattern applet whose
output shows $_syslog_host, $_syslog_source_ip, $_syslog_facility,
$_syslog_mnemonic, $_syslog_severity, $_syslog_seq and $_syslog_msg.

Application events: publish-event in applet A runs applet B ("event
application sub-system 798 type N") with the data; an applet that
publishes the event that fires it is stopped by its ratelimit (the drop is
counted as "application"), or without one by the publish chain limit (8);
POST /api/v1/events/application answers 202 with the runs, 200 with an
empty list, 400 naming the field.
"""

import socket
import time
import unittest
import uuid

from itest import api, call, list_runs, put_applet, start_herald, \
    wait_run, wait_runs
from mailenv import free_port


def udp_port_free_too(port):
    try:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
            s.bind(('127.0.0.1', port))
        return True
    except OSError:
        return False


SHOW = ('$_syslog_host|$_syslog_source_ip|$_syslog_facility|'
        '$_syslog_mnemonic|$_syslog_severity|$_syslog_seq|$_syslog_msg')


class RouterSyslogTest(unittest.TestCase):
    maxDiff = None

    @classmethod
    def setUpClass(cls):
        for _ in range(20):
            port = free_port(['127.0.0.1'])
            if udp_port_free_too(port):
                break
        cls.port = port
        cls.h = start_herald({'HERALD_SYSLOG_LISTEN': '0.0.0.0:%d' % port},
                             trust=False)
        put_applet(cls.h, 'event manager applet Show\n'
                   ' event syslog pattern "ROUTERTEST"\n'
                   ' action 010 puts "%s"\n' % SHOW)
        time.sleep(0.3)     # re-registration after the applet was saved

    @classmethod
    def tearDownClass(cls):
        h, cls.h = cls.h, None
        h.stop()
        h.cleanup()

    def udp(self, src, line):
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
            s.bind((src, 0))
            s.sendto(line.encode(), ('127.0.0.1', self.port))

    def tcp(self, src, data):
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
            s.bind((src, 0))
            s.settimeout(5)
            s.connect(('127.0.0.1', self.port))
            s.sendall(data)
            time.sleep(0.2)

    def test_stream_from_several_senders_sets_the_variables(self):
        t = uuid.uuid4().hex[:8]
        want = {}

        def tok(i):
            return 'ROUTERTEST %s-%d' % (t, i)
        # Cisco: sequence number, host, unsynchronised clock (UDP)
        self.udp('127.0.0.2', '<189>45: R1: *Dec  2 10:00:00.123: '
                 '%%LINK-3-UPDOWN: Interface GigabitEthernet1, changed '
                 'state to down %s' % tok(1))
        want[1] = ('R1|127.0.0.2|LINK|UPDOWN|3|45|%%LINK-3-UPDOWN: '
                   'Interface GigabitEthernet1, changed state to down %s'
                   % tok(1))
        # Cisco: no host (the sender's address stands in), no ms (UDP)
        self.udp('127.0.0.3', '<187>46: .Dec  2 10:00:01: '
                 '%%LINEPROTO-5-UPDOWN: Line protocol %s' % tok(2))
        want[2] = ('127.0.0.3|127.0.0.3|LINEPROTO|UPDOWN|5|46|'
                   '%%LINEPROTO-5-UPDOWN: Line protocol %s' % tok(2))
        # Cisco: no sequence number, year and zone, subfacility (TCP)
        self.tcp('127.0.0.4', ('<188>R4: *Dec  2 2025 10:00:02.5 UTC: '
                               '%%FABRIC-SP-4-CLEAR_BLOCK: %s\n'
                               % tok(3)).encode())
        want[3] = ('R4|127.0.0.4|FABRIC|CLEAR_BLOCK|4||'
                   '%%FABRIC-SP-4-CLEAR_BLOCK: %s' % tok(3))
        # RFC 3164 (UDP)
        self.udp('127.0.0.5', '<34>Oct 11 22:14:15 mymachine su: %s'
                 % tok(4))
        want[4] = 'mymachine|127.0.0.5|4||2||%s' % tok(4)
        # RFC 5424, octet counting (TCP)
        m = ('<165>1 2003-10-11T22:14:15.003Z host5424 app - - - %s'
             % tok(5)).encode()
        self.tcp('127.0.0.6', str(len(m)).encode() + b' ' + m)
        want[5] = 'host5424|127.0.0.6|20||5||%s' % tok(5)

        runs = wait_runs(self.h, 'Show', len(want), timeout=15,
                         pred=lambda r: True)
        got = {}
        deadline = time.monotonic() + 15
        while len(got) < len(want) and time.monotonic() < deadline:
            for r in list_runs(self.h, 'Show'):
                run = wait_run(self.h, r['id'])
                out = (run.get('output') or '').strip()
                for i in want:
                    if out.endswith(tok(i)):
                        self.assertEqual(run['trigger'], 'syslog', run)
                        got[i] = out
            time.sleep(0.3)
        self.assertEqual(got, want, runs)


class ApplicationEventTest(unittest.TestCase):
    maxDiff = None

    @classmethod
    def setUpClass(cls):
        cls.h = start_herald(trust=False)
        put_applet(cls.h, 'event manager applet Pub\n event none\n'
                   ' action 1 publish-event sub-system 798 type 10 arg1 hello'
                   ' arg2 "$_none_arg1"\n')
        put_applet(cls.h, 'event manager applet Sub\n'
                   ' event application sub-system 798 type 10\n'
                   ' action 1 puts "Sub got $_application_sub_system/'
                   '$_application_type $_application_data1 '
                   '$_application_data2 [$_application_data3]"\n')
        put_applet(cls.h, 'event manager applet Loop\n'
                   ' event application sub-system 798 type 20\n'
                   ' action 1 publish-event sub-system 798 type 20\n')
        put_applet(cls.h, 'event manager applet Limited\n'
                   ' event application sub-system 798 type 30 ratelimit 60\n'
                   ' action 1 publish-event sub-system 798 type 30\n')

    @classmethod
    def tearDownClass(cls):
        h, cls.h = cls.h, None
        h.stop()
        h.cleanup()

    def test_1_publish_event_runs_the_subscriber_with_the_data(self):
        arg = uuid.uuid4().hex[:8]
        run = api(self.h, 'POST', '/api/v1/applets/Pub/run',
                  {'args': [arg], 'wait': True})
        self.assertEqual(run['status'], 'success', run)
        entry = [e for e in run['trace'] if e.get('action') ==
                 'publish-event'][0]
        self.assertEqual([r['applet'] for r in entry['runs']], ['Sub'],
                         entry)
        sub = wait_run(self.h, entry['runs'][0]['run_id'])
        self.assertEqual(sub['status'], 'success', sub)
        self.assertEqual(sub['trigger'], 'application', sub)
        self.assertEqual(sub['output'].strip(),
                         'Sub got 798/10 hello %s []' % arg)

    def test_2_rest_event_answers_202_200_400(self):
        st, _, res = call(self.h, 'POST', '/api/v1/events/application',
                          {'sub_system': 798, 'type': 10,
                           'data': ['a', 'b', 'c']})
        self.assertEqual(st, 202, res)
        self.assertEqual(len(res['runs']), 1, res)
        self.assertEqual(res['runs'][0]['applet'], 'Sub')
        self.assertEqual(res['runs'][0]['status'], 'queued')
        sub = wait_run(self.h, res['runs'][0]['run_id'])
        self.assertEqual(sub['output'].strip(), 'Sub got 798/10 a b [c]')
        st, _, res = call(self.h, 'POST', '/api/v1/events/application',
                          {'sub_system': 798, 'type': 999})
        self.assertEqual((st, res), (200, {'runs': []}))
        for body, field in (({'type': 1}, 'sub_system'),
                            ({'sub_system': 0, 'type': 1}, 'sub_system'),
                            ({'sub_system': 1, 'type': 1000}, 'type'),
                            ({'sub_system': 1, 'type': 1.5}, 'type'),
                            ({'sub_system': 1, 'type': 1,
                              'data': ['1', '2', '3', '4', '5']}, 'data'),
                            ({'sub_system': 1, 'type': 1, 'data': [1]},
                             'data'),
                            ({'sub_system': 1, 'type': 1, 'x': 1}, 'x')):
            st, _, res = call(self.h, 'POST', '/api/v1/events/application',
                              body)
            self.assertEqual(st, 400, (body, res))
            self.assertEqual(res['error'].get('field'), field, (body, res))
        st, _, res = call(self.h, 'POST', '/api/v1/events/application',
                          {'sub_system': 798, 'type': 10}, token=False)
        self.assertEqual(st, 401, res)

    def test_2b_an_applet_fires_as_soon_as_its_save_is_answered(self):
        # its events are registered before the answer, and gone before the
        # answer to its delete: no wait between the calls
        for i in range(15):
            t = 100 + i
            put_applet(self.h, 'event manager applet Fresh\n'
                       ' event application sub-system 798 type %d\n'
                       ' action 1 puts "fresh %d"\n' % (t, t))
            res = api(self.h, 'POST', '/api/v1/events/application',
                      {'sub_system': 798, 'type': t}, expect=(200, 202))
            self.assertEqual([r['applet'] for r in res['runs']], ['Fresh'],
                             'iteration %d: %r' % (i, res))
            api(self.h, 'DELETE', '/api/v1/applets/Fresh', expect=204)
            res = api(self.h, 'POST', '/api/v1/events/application',
                      {'sub_system': 798, 'type': t}, expect=(200, 202))
            self.assertEqual(res['runs'], [], 'iteration %d' % i)

    def test_3_a_loop_without_ratelimit_ends_at_the_chain_limit(self):
        api(self.h, 'POST', '/api/v1/events/application',
            {'sub_system': 798, 'type': 20}, expect=202)
        runs = wait_runs(self.h, 'Loop', 9, timeout=20)
        time.sleep(1.5)
        runs = [wait_run(self.h, r['id']) for r in list_runs(self.h, 'Loop')]
        self.assertEqual(len(runs), 9, [r['status'] for r in runs])
        aborted = [r for r in runs if r['status'] == 'abort']
        self.assertEqual(len(aborted), 1, runs)
        self.assertIn('chain', aborted[0]['error'])

    def test_4_a_loop_with_ratelimit_runs_once(self):
        api(self.h, 'POST', '/api/v1/events/application',
            {'sub_system': 798, 'type': 30}, expect=202)
        wait_runs(self.h, 'Limited', 1, timeout=10)
        time.sleep(1.5)
        runs = list_runs(self.h, 'Limited')
        self.assertEqual(len(runs), 1, runs)
        self.assertEqual(wait_run(self.h, runs[0]['id'])['status'],
                         'success')
        d = api(self.h, 'GET', '/api/v1/applets/Limited')['dropped']
        self.assertEqual(d['application'], 1, d)
        self.assertEqual(d['ratelimited'], 1, d)


if __name__ == '__main__':
    unittest.main()
