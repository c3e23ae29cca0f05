# SPDX-License-Identifier: MIT
"""
tests/lib/mailenv/reaper.py: stops a MailEnv's servers when the test process
dies without calling stop() (killed by a ctest timeout, SIGKILL, a crash).

mailenv.py starts it in its own session with a pipe on stdin and writes one
JSON object per line: {"pid": N} for a process to stop, {"postfix": CONFDIR}
for a Postfix instance, {"unpid": N} when a process was stopped normally,
and "done" when everything was stopped. On end of file without "done", it
stops what is registered (Postfix with "postfix -c DIR stop", the others by
PID with SIGTERM, then SIGKILL) and exits.
"""

import json
import os
import signal
import subprocess
import sys
import time


def alive(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:
        with open('/proc/%d/stat' % pid) as f:
            return f.read().split(')')[-1].split()[0] != 'Z'
    except OSError:
        return False


def kill(pid):
    if pid <= 1 or not alive(pid):
        return
    try:
        os.kill(pid, signal.SIGTERM)
    except ProcessLookupError:
        return
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and alive(pid):
        time.sleep(0.05)
    if alive(pid):
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass


def main():
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGHUP, signal.SIG_IGN)
    pids = set()
    postfix = []
    for line in sys.stdin:
        line = line.strip()
        if line == 'done':
            return 0
        try:
            msg = json.loads(line)
        except ValueError:
            continue
        if 'pid' in msg:
            pids.add(int(msg['pid']))
        if 'unpid' in msg:
            pids.discard(int(msg['unpid']))
        if 'postfix' in msg:
            postfix.append(msg['postfix'])
    for conf in postfix:
        subprocess.run(['postfix', '-c', conf, 'stop'],
                       stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                       stderr=subprocess.DEVNULL, timeout=60)
    for pid in pids:
        kill(pid)
    return 0


if __name__ == '__main__':
    sys.exit(main())
