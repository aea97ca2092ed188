"""The `hymba-server` binary as operators run it, driven through the `hymba` CLI.

Environment: HYMBA_SERVER and HYMBA_CLI = the binaries; HYMBA_TESTDATA = the folder holding the
tiny checkpoints (the tests skip without them).

Checks, on tiny-a (f32, 2 threads):
  * streamed, unary and greedy/seeded outputs of `hymba client --json` equal `hymba generate --json`
    on the same checkpoint, for a text prompt and for token ids;
  * SIGTERM while a long stream is in flight: the stream still completes, the server logs the
    drain and exits 0, and the port is closed afterwards;
  * a second server on a taken port exits 1 with a message naming the address;
  * a missing model directory exits 1 with a message naming the problem;
  * the server runs with GOMP_SPINCOUNT=3000 unless the caller set a wait policy or spin count.
"""
import json
import os
import re
import signal
import socket
import subprocess
import tempfile
import time
import unittest
import urllib.request

SERVER = os.environ.get("HYMBA_SERVER", "")
CLI = os.environ.get("HYMBA_CLI", "")
TESTDATA = os.environ.get("HYMBA_TESTDATA", "")
TIMEOUT_S = 120


def model_dir():
    return os.path.join(TESTDATA, "tiny-a")


class Server:
    """A hymba-server child process on port 0, with its log in a temporary file."""

    def __init__(self, *extra, env=None):
        self.log = tempfile.NamedTemporaryFile("w+", suffix=".log", delete=False)
        self.proc = subprocess.Popen(
            [SERVER, "--model", model_dir(), "--host", "127.0.0.1", "--port", "0",
             "--metrics_port", "0", "--precision", "f32", "--threads", "2", *extra],
            stdout=self.log, stderr=subprocess.STDOUT, env=env)
        self.port = None
        deadline = time.time() + TIMEOUT_S
        while time.time() < deadline and self.proc.poll() is None:
            m = re.search(r"serving \S+ on [0-9.]+:(\d+)", self.text())
            if m:
                self.port = int(m.group(1))
                return
            time.sleep(0.05)
        raise AssertionError("the server did not start:\n" + self.text())

    def text(self):
        with open(self.log.name) as f:
            return f.read()

    def metrics(self):
        port = re.search(r"metrics on http://[0-9.]+:(\d+)", self.text()).group(1)
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10) as r:
            return r.read().decode()

    def address(self):
        return f"127.0.0.1:{self.port}"

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        rc = self.proc.wait(timeout=TIMEOUT_S)
        os.unlink(self.log.name)
        return rc


def run(*args):
    return subprocess.run(list(args), capture_output=True, text=True, timeout=TIMEOUT_S)


@unittest.skipUnless(SERVER and CLI and TESTDATA, "HYMBA_SERVER, HYMBA_CLI, HYMBA_TESTDATA unset")
class ServerProcessTest(unittest.TestCase):
    def test_client_outputs_equal_generate(self):
        server = Server()
        try:
            for prompt in (["--prompt", "hello world, the"], ["--tokens", "5,9,33,71,200"]):
                for sampling in (["--temperature", "0"],
                                 ["--temperature", "0.8", "--top-p", "0.9", "--seed", "11"]):
                    common = [*prompt, "--max-tokens", "24", "--ignore-eos", *sampling, "--json"]
                    local = run(CLI, "generate", "--model", model_dir(), "--precision", "f32",
                                "--threads", "2", *common)
                    self.assertEqual(local.returncode, 0, local.stderr)
                    for mode in ([], ["--unary"]):
                        remote = run(CLI, "client", "--address", server.address(), *mode, *common)
                        self.assertEqual(remote.returncode, 0, remote.stderr)
                        self.assertEqual(remote.stdout, local.stdout, (prompt, sampling, mode))
        finally:
            self.assertEqual(server.stop(), 0)

    def test_sigterm_drains_streams_in_flight_then_exits_0(self):
        server = Server("--max_seq_len", "4096", "--drain_timeout_s", "60")
        client = subprocess.Popen(
            [CLI, "client", "--address", server.address(), "--tokens", "5,9,33",
             "--max-tokens", "3000", "--ignore-eos", "--json"],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        deadline = time.time() + TIMEOUT_S
        while "hymba_requests_running 1" not in server.metrics():
            self.assertLess(time.time(), deadline, "the stream never started")
            time.sleep(0.02)
        server.proc.send_signal(signal.SIGTERM)
        out, err = client.communicate(timeout=TIMEOUT_S)
        self.assertEqual(client.returncode, 0, err)
        self.assertEqual(len(json.loads(out)["tokens"]), 3000)
        rc = server.proc.wait(timeout=TIMEOUT_S)
        log = server.text()
        self.assertEqual(rc, 0, log)
        self.assertIn("draining", log)
        self.assertIn("stopped", log)
        self.assertIn("completion_tokens=3000", log)
        with self.assertRaises(OSError):
            socket.create_connection(("127.0.0.1", server.port), timeout=2).close()

    def test_second_server_on_a_taken_port_fails_clearly(self):
        server = Server()
        try:
            second = run(SERVER, "--model", model_dir(), "--host", "127.0.0.1",
                         "--port", str(server.port), "--metrics_port", "-1")
            self.assertEqual(second.returncode, 1)
            self.assertIn(f"cannot listen on 127.0.0.1:{server.port}", second.stderr)
        finally:
            self.assertEqual(server.stop(), 0)

    def test_idle_openmp_workers_spin_briefly_unless_told_otherwise(self):
        def openmp_variables(env):
            server = Server(env=env)
            try:
                with open(f"/proc/{server.proc.pid}/environ", "rb") as f:
                    variables = f.read().split(b"\0")
            finally:
                self.assertEqual(server.stop(), 0)
            return sorted(v for v in variables
                          if v.startswith(b"OMP_WAIT_POLICY=") or v.startswith(b"GOMP_SPINCOUNT="))
        base = {k: v for k, v in os.environ.items()
                if k not in ("OMP_WAIT_POLICY", "GOMP_SPINCOUNT")}
        self.assertEqual(openmp_variables(base), [b"GOMP_SPINCOUNT=3000"])
        self.assertEqual(openmp_variables({**base, "OMP_WAIT_POLICY": "PASSIVE"}),
                         [b"OMP_WAIT_POLICY=PASSIVE"])
        self.assertEqual(openmp_variables({**base, "GOMP_SPINCOUNT": "100"}),
                         [b"GOMP_SPINCOUNT=100"])

    def test_missing_model_fails_clearly(self):
        result = run(SERVER, "--model", "/nonexistent/model", "--port", "0", "--metrics_port", "-1")
        self.assertEqual(result.returncode, 1)
        self.assertIn("/nonexistent/model", result.stderr)


if __name__ == "__main__":
    unittest.main()
