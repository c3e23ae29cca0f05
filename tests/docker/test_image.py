# SPDX-License-Identifier: MIT
"""The container image: builds from the Dockerfile with podman (runc, host
network, local base image), runs as a non-root user, answers /healthz and an
authenticated API call, reports healthy, and stops cleanly on SIGTERM."""
import json
import os
import socket
import subprocess
import time
import unittest
import urllib.error
import urllib.request

SRC = os.environ.get("HERALD_SRC", os.path.abspath("../.."))
CONF = os.path.join(SRC, "tests", "docker", "containers.conf")
ENV = dict(os.environ, CONTAINERS_CONF=CONF)
IMAGE = "localhost/herald:test"
# HERALD_KEEP_IMAGES=1 keeps the image and its build stage after the test
KEEP = os.environ.get("HERALD_KEEP_IMAGES") == "1"


def dangling():
    r = podman("images", "-q", "--no-trunc", "--filter", "dangling=true",
               check=False)
    return set(r.stdout.split())
TOKEN = "container-test-token-0123456789abcdef"


def podman(*args, check=True, timeout=900):
    return subprocess.run(["podman", *args], env=ENV, check=check,
                          timeout=timeout, capture_output=True, text=True)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def get(url, token=None):
    req = urllib.request.Request(url)
    if token:
        req.add_header("Authorization", "Bearer " + token)
    try:
        with urllib.request.urlopen(req, timeout=5) as r:
            return r.status, json.loads(r.read() or b"null")
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read() or b"null")


class ContainerImage(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        subprocess.run(["bash", os.path.join(SRC, "scripts/base-image")],
                       env=ENV, check=True, timeout=900)
        cls.before = dangling()
        # the README's build command (runtime runc comes from CONF)
        r = podman("build", "--network=host", "--format", "docker",
                   "-t", IMAGE,
                   SRC, check=False)
        if r.returncode != 0:
            raise AssertionError("podman build failed:\n" + r.stdout[-4000:]
                                 + r.stderr[-4000:])
        cls.port = free_port()
        cls.name = "herald-test-%d" % os.getpid()
        r = podman("run", "-d", "--name", cls.name, "--network=host",
                   "--ulimit", "nofile=1024:1024", "--ulimit",
                   "nproc=1024:1024",
                   "-e", "HERALD_LISTEN=127.0.0.1:%d" % cls.port,
                   "-e", "HERALD_ADMIN_TOKEN=" + TOKEN, IMAGE, check=False)
        if r.returncode != 0:
            raise AssertionError("podman run failed: " + r.stderr)
        cls.base = "http://127.0.0.1:%d" % cls.port
        deadline = time.time() + 30
        while time.time() < deadline:
            try:
                if get(cls.base + "/healthz")[0] == 200:
                    return
            except OSError:
                pass
            time.sleep(0.3)
        logs = podman("logs", cls.name, check=False)
        podman("rm", "-f", "-v", cls.name, check=False)
        raise AssertionError("container never became healthy:\n"
                             + logs.stdout + logs.stderr)

    @classmethod
    def tearDownClass(cls):
        podman("rm", "-f", "-v", "-t", "5", cls.name, check=False)
        if not KEEP:
            podman("rmi", "-f", IMAGE, check=False)
            stages = sorted(dangling() - cls.before)
            if stages:
                podman("rmi", "-f", *stages, check=False)

    def test_1_healthz_answers_without_a_token(self):
        status, body = get(self.base + "/healthz")
        self.assertEqual(status, 200)
        self.assertEqual(body["status"], "ok")

    def test_2_api_needs_the_token_and_accepts_it(self):
        self.assertEqual(get(self.base + "/api/v1/environment")[0], 401)
        status, body = get(self.base + "/api/v1/environment", TOKEN)
        self.assertEqual(status, 200)
        self.assertIn("items", body)

    def test_3_runs_as_a_non_root_user(self):
        r = podman("exec", self.name, "id", "-u")
        self.assertNotEqual(r.stdout.strip(), "0")

    def test_4_healthcheck_command_reports_healthy(self):
        r = podman("healthcheck", "run", self.name, check=False)
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)

    def test_5_sigterm_stops_it_promptly_with_status_0(self):
        t0 = time.time()
        podman("stop", "-t", "20", self.name)
        self.assertLess(time.time() - t0, 10, "SIGTERM was not handled")
        r = podman("inspect", "-f", "{{.State.ExitCode}}", self.name)
        self.assertEqual(r.stdout.strip(), "0")


if __name__ == "__main__":
    unittest.main()
