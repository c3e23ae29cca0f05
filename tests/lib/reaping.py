# SPDX-License-Identifier: MIT
"""tests/lib/reaping.py: the test side of a reaper process (a helper in a
session of its own that ends what a test started if the test dies): one
JSON line per thing to reap, "done" when the test ended them itself.
Used by mailenv.py (mailenv/reaper.py) and pgsrv.py (its _reap mode)."""

import json
import subprocess


def tell(proc, **msg):
    """Sends msg to the reaper proc as one JSON line (if it still runs)."""
    if proc is None or proc.poll() is not None:
        return
    try:
        proc.stdin.write((json.dumps(msg) + '\n').encode())
        proc.stdin.flush()
    except OSError:
        pass


def done(proc):
    """Tells the reaper proc nothing is left to reap and waits for it."""
    if proc is None:
        return
    try:
        proc.stdin.write(b'done\n')
        proc.stdin.close()
    except OSError:
        pass
    try:
        proc.wait(10)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(5)
