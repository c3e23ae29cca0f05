# SPDX-License-Identifier: MIT
"""compose.cluster.yaml for real (issue 14, "Done when"): podman-compose
starts PostgreSQL and the two herald replicas; either replica can be lost
without losing an accepted alert.

  * Images: herald's is built as tests/docker/test_image.py builds it (same
    command and tag, so the layers are shared); PostgreSQL's, which no
    registry can give here, from tests/docker/postgres (Debian's
    postgresql-15 on the same local base image), selected through
    HERALD_POSTGRES_IMAGE.
  * Network: tests/docker/compose.hostnet.yaml (a second -f) puts the three
    services on the host network, on free loopback ports; the secrets are
    generated into a temporary directory. podman-compose runs through
    tests/docker/podman_compose_hostnet.py, which makes Debian 12's 1.0.3
    honour network_mode (it cannot on its own).
  * Scenario: both replicas healthy on one database; a trustpoint, the
    _email_server variable and a webhook applet configured through replica
    1, mailing the suite's loopback Postfix; a burst of webhooks over both
    with replica 1 killed (SIGKILL, podman kill) in its middle: every
    webhook answered 202 is delivered within 90 s; then replica 1 started
    again and replica 2 killed in a second burst: again nothing accepted is
    lost. Duplicates (at least once) are counted and printed.
  * Clean-up, also on failure: podman-compose down -v, the secrets, and
    the images this test built (kept with HERALD_KEEP_IMAGES=1).
"""
import importlib.util
import json
import os
import re
import secrets
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import unittest

from herald import Herald
from itest import (TRUSTPOINT, USER, api, hook, list_runs, mailenv_module,
                   new_token, put_applet, put_env, server_string)
from mailenv import free_port, read_pem

SRC = os.environ.get("HERALD_SRC", os.path.abspath("../.."))
HERE = os.path.join(SRC, "tests", "docker")
CONF = os.path.join(HERE, "containers.conf")
ENVIRON = dict(os.environ, CONTAINERS_CONF=CONF)
IMAGE = "localhost/herald:test"          # tests/docker/test_image.py's tag
PG_IMAGE = "localhost/herald-test-postgres:15"
COMPOSE = ["/usr/bin/python3", os.path.join(HERE, "podman_compose_hostnet.py")]
FILES = ["-f", os.path.join(SRC, "compose.cluster.yaml"),
         "-f", os.path.join(HERE, "compose.hostnet.yaml")]
# HERALD_KEEP_IMAGES=1 keeps the images (and build stages) after the test
KEEP = os.environ.get("HERALD_KEEP_IMAGES") == "1"
DELIVERY_S = 90

ENV = None


def _need_podman_compose():
    if importlib.util.find_spec("podman_compose") is None:
        raise AssertionError("podman-compose is missing: apt-get install "
                             "podman-compose (scripts/install-deps test)")


_mail_setup, _mail_teardown = mailenv_module(
    globals(), check=_need_podman_compose, extra_chains=(), aiosmtpd=False)
setUpModule, tearDownModule = _mail_setup, _mail_teardown


def podman(*args, check=True, timeout=900):
    return subprocess.run(["podman", *args], env=ENVIRON, check=check,
                          timeout=timeout, capture_output=True, text=True)


def image_exists(name):
    return podman("image", "exists", name, check=False).returncode == 0


def dangling():
    r = podman("images", "-q", "--no-trunc", "--filter", "dangling=true",
               check=False)
    return set(r.stdout.split())


class Replica(Herald):
    """A replica in its container, driven like tests/lib/herald.py's
    Herald (request(), and so itest's api(), hook(), ...). Only the HTTP
    part of Herald is used: the container is compose's."""

    def __init__(self, container, port, token):   # pylint: disable=W0231
        self.container = container
        self.host = "127.0.0.1"
        self.port = port
        self.token = self.admin_token = token
        self.base_url = "http://127.0.0.1:%d" % port

    def healthz(self):
        """(status, body) of GET /healthz; ("conn", {}) when nothing
        answers."""
        try:
            st, _, body = self.request("GET", "/healthz", token=None,
                                       timeout=5)
            return st, body if isinstance(body, dict) else {}
        except OSError:
            return "conn", {}

    def state(self):
        r = podman("inspect", "-f", "{{.State.Status}}", self.container,
                   check=False)
        return r.stdout.strip()

    def log(self):
        r = podman("logs", "--tail", "60", self.container, check=False)
        return r.stdout + r.stderr

    def stdout_text(self):
        return ""


def burst_applet(port):
    return ('event manager applet Burst\n event webhook\n'
            ' action 010 mail server "$_email_server" to "noc@example.test" '
            'from "%s" subject "burst $_webhook_id" body "burst '
            '$_webhook_id" port %d secure tls\n' % (USER, port))


def ids_in(prefix):
    """{id: copies} for the subjects "burst <prefix>-N" in noc's mailbox."""
    out = {}
    for m in ENV.messages("noc@example.test"):
        for mm in re.finditer(rb"^Subject: burst (%s-\d+)\s*$"
                              % re.escape(prefix.encode()), m, re.M):
            k = mm.group(1).decode()
            out[k] = out.get(k, 0) + 1
    return out


def burst(nodes, n, prefix, token, kill_at, kill, threads=8, after=40):
    """Sends webhooks round robin over nodes; when kill_at have been
    answered 202, kill() runs (in its own thread, the burst going on).
    Stops once n are sent, the kill is done and at least `after` more were
    answered since (so the kill is in the middle: `podman kill` may take
    longer than many webhooks, so the burst goes on until it is done, up
    to 50 n or 120 s). Returns (ids answered 202, answers by status,
    whether the kill happened)."""
    st8 = {"next": 0, "after": 0, "acc": [], "answers": {}}
    lock = threading.Lock()
    trigger, killed = threading.Event(), threading.Event()

    def killer():
        if trigger.wait(120):
            kill()
            killed.set()

    end = time.monotonic() + 120

    def worker():
        while True:
            with lock:
                i = st8["next"]
                if i >= 50 * n or time.monotonic() > end or (
                        i >= n and killed.is_set() and st8["after"] >= after):
                    return
                st8["next"] += 1
            h = nodes[i % len(nodes)]
            mid = "%s-%d" % (prefix, i)
            try:
                st, _, _ = hook(h, "Burst", {"id": mid}, token=token)
            except Exception:     # refused, reset, cut short
                st = "conn"
            with lock:
                st8["answers"][st] = st8["answers"].get(st, 0) + 1
                if killed.is_set():
                    st8["after"] += 1
                if st == 202:
                    st8["acc"].append(mid)
                    if len(st8["acc"]) == kill_at:
                        trigger.set()

    kt = threading.Thread(target=killer, daemon=True)
    kt.start()
    ths = [threading.Thread(target=worker) for _ in range(threads)]
    for t in ths:
        t.start()
    for t in ths:
        t.join(300)
    trigger.set()           # never triggered: let the killer end
    kt.join(60)
    return st8["acc"], st8["answers"], killed.is_set()


class ComposeCluster(unittest.TestCase):
    maxDiff = None

    # ---- set-up and clean-up -------------------------------------------

    @classmethod
    def setUpClass(cls):
        cls.t0 = time.monotonic()
        cls.project = "heraldct%d" % os.getpid()
        cls.secrets = tempfile.mkdtemp(prefix="herald-compose-")
        cls.made_images = []
        cls.before = set()
        cls.reaper = None
        cls.up = False
        try:
            cls._start()
        except BaseException:
            cls._cleanup()
            raise

    @classmethod
    def tearDownClass(cls):
        cls._cleanup()
        sys.stderr.write("\n[compose cluster] %.0f s in all\n"
                         % (time.monotonic() - cls.t0))

    @classmethod
    def _start(cls):
        cls._start_reaper()
        subprocess.run(["bash", os.path.join(SRC, "scripts/base-image")],
                       env=ENVIRON, check=True, timeout=900)
        cls._build_images()
        t_build = time.monotonic() - cls.t0
        pg_port, p1, p2 = free_port(), free_port(), free_port()
        while len({pg_port, p1, p2}) < 3:
            p2 = free_port()
        cls._write_secrets(pg_port)
        cls.env = dict(ENVIRON, HERALD_IMAGE=IMAGE,
                       HERALD_POSTGRES_IMAGE=PG_IMAGE,
                       HERALD_CONTAINER=cls.project,
                       HERALD_TEST_PG_PORT=str(pg_port),
                       HERALD_TEST_PORT_1=str(p1),
                       HERALD_TEST_PORT_2=str(p2),
                       HERALD_TEST_SECRETS=cls.secrets)
        cls.nodes = [Replica("%s-%d" % (cls.project, i + 1), p,
                             cls.admin_token)
                     for i, p in enumerate((p1, p2))]
        cls.pg = "%s_postgres_1" % cls.project
        cls.up = True
        # the README's start (the images are there: nothing is built)
        t_up = time.monotonic()
        cls.compose("up", "-d")
        for h in cls.nodes:
            cls.wait_healthy(h, 120)
        sys.stderr.write("\n[compose cluster] images ready after %.0f s; "
                         "both replicas healthy %.1f s after up -d began\n"
                         % (t_build, time.monotonic() - t_up))

    @classmethod
    def _start_reaper(cls):
        """Removes the project's containers, volumes and secrets should
        this process die without tearDownClass (a ctest timeout)."""
        label = "label=io.podman.compose.project=" + cls.project
        script = (
            'read -r line; [ "$line" = done ] && exit 0; '
            'podman ps -aq --filter "$1" | xargs -r podman rm -f -v -t 2; '
            'podman volume ls -q --filter "$1" | xargs -r podman volume rm -f; '
            'rm -rf "$2"')
        cls.reaper = subprocess.Popen(
            ["sh", "-c", script, "reaper", label, cls.secrets],
            stdin=subprocess.PIPE, stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL, env=ENVIRON, start_new_session=True)

    @classmethod
    def _build_images(cls):
        cls.before = dangling()
        for name in (IMAGE, PG_IMAGE):
            if not image_exists(name):
                cls.made_images.append(name)
        # PostgreSQL's (mostly apt) beside herald's (mostly the compiler);
        # herald's with test_image.py's command, so that either test finds
        # the other's layers
        with tempfile.TemporaryFile() as pglog:
            pgb = subprocess.Popen(
                ["podman", "build", "--network=host", "--format", "docker",
                 "-t", PG_IMAGE, os.path.join(HERE, "postgres")],
                env=ENVIRON, stdout=pglog, stderr=subprocess.STDOUT)
            try:
                r = podman("build", "--network=host", "--format", "docker",
                           "-t", IMAGE, SRC, check=False)
                rc = pgb.wait(900)
            except BaseException:
                pgb.kill()
                pgb.wait()
                raise
            pglog.seek(0)
            pgout = pglog.read().decode("utf-8", "replace")
        if r.returncode != 0:
            raise AssertionError("podman build (herald) failed:\n"
                                 + r.stdout[-4000:] + r.stderr[-4000:])
        if rc != 0:
            raise AssertionError("podman build (PostgreSQL) failed:\n"
                                 + pgout[-6000:])

    @classmethod
    def _write_secrets(cls, pg_port):
        pw = secrets.token_urlsafe(24)
        cls.admin_token = secrets.token_hex(32)
        # The directory is root's only (mkdtemp: 0700). herald (uid 10001
        # in its container) reads database_url and admin_token through
        # bind mounts, so those must be readable by it; db_password is read
        # by PostgreSQL's entrypoint as root.
        files = {
            "db_password": (pw, 0o600),
            "database_url": ("postgresql://herald:%s@127.0.0.1:%d/herald"
                             % (pw, pg_port), 0o644),
            "admin_token": (cls.admin_token, 0o644),
        }
        for name, (text, mode) in files.items():
            p = os.path.join(cls.secrets, name)
            with open(p, "w") as f:
                f.write(text)
            os.chmod(p, mode)

    @classmethod
    def _cleanup(cls):
        errors = []
        if cls.up:
            r = cls.compose("down", "-v", check=False)
            if r.returncode != 0:
                errors.append("podman-compose down -v: " + r.stdout[-2000:])
            cls.up = False
        # whatever down missed (it removes by name, not by label)
        label = "label=io.podman.compose.project=" + cls.project
        left = podman("ps", "-aq", "--filter", label, check=False).stdout.split()
        if left:
            errors.append("containers left after down: %s" % left)
            podman("rm", "-f", "-v", "-t", "2", *left, check=False)
        vols = podman("volume", "ls", "-q", "--filter", label,
                      check=False).stdout.split()
        if vols:
            errors.append("volumes left after down -v: %s" % vols)
            podman("volume", "rm", "-f", *vols, check=False)
        shutil.rmtree(cls.secrets, ignore_errors=True)
        if not KEEP:
            for name in cls.made_images:
                podman("rmi", "-f", name, check=False)
            stages = sorted(dangling() - cls.before)
            if stages:
                podman("rmi", "-f", *stages, check=False)
        if cls.reaper is not None:
            try:
                cls.reaper.communicate(b"done\n", timeout=10)
            except (OSError, subprocess.TimeoutExpired):
                cls.reaper.kill()
                cls.reaper.wait()
            cls.reaper = None
        if errors:
            sys.stderr.write("\n[compose cluster] clean-up: %s\n"
                             % "; ".join(errors))

    # ---- helpers ---------------------------------------------------------

    @classmethod
    def compose(cls, *args, check=True, timeout=300):
        r = subprocess.run(COMPOSE + ["-p", cls.project] + FILES + list(args),
                           env=cls.env, cwd=cls.secrets, timeout=timeout,
                           capture_output=True, text=True)
        if check and r.returncode != 0:
            raise AssertionError("podman-compose %s failed (%d):\n%s\n%s\n%s"
                                 % (" ".join(args), r.returncode,
                                    r.stdout[-4000:], r.stderr[-4000:],
                                    cls.logs()))
        return r

    @classmethod
    def logs(cls):
        out = []
        for name in (cls.pg, cls.nodes[0].container, cls.nodes[1].container):
            r = podman("logs", "--tail", "40", name, check=False)
            out.append("--- %s:\n%s%s" % (name, r.stdout, r.stderr))
        return "\n".join(out)

    @classmethod
    def wait_healthy(cls, h, timeout):
        """Until GET /healthz answers 200 with the database ready (herald
        restarts, restart: unless-stopped, while PostgreSQL initialises:
        podman-compose 1.0.3 does not wait for service_healthy)."""
        deadline = time.monotonic() + timeout
        while True:
            st, body = h.healthz()
            if st == 200 and (body.get("database") or {}).get("ready"):
                return body
            if time.monotonic() > deadline:
                raise AssertionError("%s not healthy after %.0f s: %s %s\n%s"
                                     % (h.container, timeout, st, body,
                                        cls.logs()))
            time.sleep(0.5)

    def kill_phase(self, label, victim, n, kill_at):
        """A burst over both replicas with victim killed in its middle;
        every message answered 202 must arrive within DELIVERY_S."""
        survivor = [h for h in self.nodes if h is not victim][0]
        prefix = "%s%s" % (label, secrets.token_hex(4))

        def kill():
            podman("kill", victim.container)     # SIGKILL

        acc, answers, killed = burst(self.nodes, n, prefix,
                                     type(self).hook_token, kill_at, kill)
        self.assertTrue(killed, "the kill never came: %s" % answers)
        self.assertGreater(answers.get("conn", 0), 0,
                           "no request met the dead replica: %s" % answers)
        self.assertGreaterEqual(len(acc), kill_at, answers)
        # podman kill is a stop by the user: no restart by the policy
        time.sleep(1)
        self.assertEqual(victim.state(), "exited")
        t0 = time.monotonic()
        while True:
            got = ids_in(prefix)
            if all(a in got for a in acc):
                break
            if time.monotonic() - t0 > DELIVERY_S:
                break
            time.sleep(0.5)
        took = time.monotonic() - t0
        time.sleep(2)
        got = ids_in(prefix)
        lost = sorted(set(acc) - set(got), key=lambda s: int(s.split("-")[1]))
        dups = {k: v for k, v in got.items() if v > 1}
        sys.stderr.write(
            "\n[compose cluster: %s killed] %d accepted (answers %s); "
            "%s %.1f s after the burst; %d delivered twice or more%s\n"
            % (victim.container, len(acc), answers,
               "all delivered" if not lost else "%d LOST" % len(lost), took,
               len(dups), (": %s" % sorted(dups)[:10]) if dups else ""))
        self.assertEqual(lost, [], "%d of %d accepted messages lost "
                         "(survivor %s):\n%s"
                         % (len(lost), len(acc), survivor.container,
                            self.logs()))
        # the survivor is still healthy and now leads the timers
        st, body = survivor.healthz()
        self.assertEqual(st, 200, body)
        self.assertIs(body["database"]["leader"], True, body)

    # ---- the scenario ----------------------------------------------------

    def test_1_both_replicas_healthy_and_configured_through_one(self):
        leaders = []
        for h in self.nodes:
            st, body = h.healthz()
            self.assertEqual(st, 200, body)
            self.assertEqual(body["database"]["backend"], "postgresql")
            self.assertIs(body["database"]["ready"], True, body)
            leaders.append(body["database"]["leader"])
        deadline = time.monotonic() + 5
        while True not in leaders and time.monotonic() < deadline:
            time.sleep(0.3)
            leaders = [h.healthz()[1]["database"]["leader"]
                       for h in self.nodes]
        self.assertEqual(sorted(leaders), [False, True], leaders)
        # the compose file's health checks (podman runs them on demand
        # here: no systemd timers on these machines)
        for name in (self.pg, self.nodes[0].container,
                     self.nodes[1].container):
            r = podman("healthcheck", "run", name, check=False)
            self.assertEqual(r.returncode, 0, "%s: %s%s"
                             % (name, r.stdout, r.stderr))
        # the same admin token (the admin_token secret) on both
        for h in self.nodes:
            st, _, _ = h.request("GET", "/api/v1/environment", token=None)
            self.assertEqual(st, 401)
        a, b = self.nodes
        api(a, "POST", "/api/v1/trustpoints", {
            "name": TRUSTPOINT, "revocation_check": "none",
            "chain_validation": "stop", "enrollment": "terminal",
            "certificate": read_pem("root-a.pem")}, expect=201)
        put_env(a, "_email_server",
                server_string(ENV, ENV.ports["submission"]))
        put_applet(a, burst_applet(ENV.ports["submission"]))
        type(self).hook_token = new_token(a, "Burst")
        # replica 2 knows the applet replica 1 stored
        got = api(b, "GET", "/api/v1/applets/Burst")
        self.assertIn("Burst", json.dumps(got))
        # replica 2 trusts the Postfix's root once replica 1's change
        # reached it (within about a second), and mails a webhook it took
        probe = {"host": "localhost", "port": ENV.ports["submission"],
                 "secure": "tls"}
        deadline = time.monotonic() + 10
        while True:
            rep = api(b, "POST", "/api/v1/probe", probe)
            if (rep.get("verdict") or {}).get("ok") is True:
                break
            self.assertLess(time.monotonic(), deadline,
                            "replica 2 never trusted the root: %s" % rep)
            time.sleep(0.3)
        prefix = "one" + secrets.token_hex(4)
        st, _, body = hook(b, "Burst", {"id": prefix + "-0"},
                           token=self.hook_token)
        self.assertEqual(st, 202, body)
        try:
            ENV.wait_for_message("noc@example.test", timeout=30,
                                 contains=b"burst " + prefix.encode())
        except Exception as e:
            raise AssertionError("no mail through replica 2: %s\n%s"
                                 % (e, self.logs()))

    def test_2_replica_1_killed_mid_burst_nothing_accepted_lost(self):
        self.assertTrue(getattr(type(self), "hook_token", None),
                        "test_1 did not configure the applet")
        self.kill_phase("ka", self.nodes[0], n=200, kill_at=60)

    def test_3_replica_1_back_replica_2_killed_nothing_accepted_lost(self):
        self.assertTrue(getattr(type(self), "hook_token", None),
                        "test_1 did not configure the applet")
        a, b = self.nodes
        if a.state() != "running":
            self.compose("start", "herald-1")
        self.wait_healthy(a, 60)
        # replica 1, back, sees the runs of the first phase
        self.assertGreaterEqual(len(list_runs(a, "Burst")), 1)
        self.kill_phase("kb", b, n=100, kill_at=30)


if __name__ == "__main__":
    unittest.main()
