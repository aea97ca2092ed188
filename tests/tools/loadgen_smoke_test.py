"""`hymba health` and `hymba loadgen` against a real hymba-server on the tiny-a checkpoint.

Environment: HYMBA_CLI = the `hymba` binary, HYMBA_SERVER = the `hymba-server` binary,
HYMBA_TESTDATA = the folder holding tiny-a (written by the build). The tests skip without them.

The server starts once with --port 0; its port comes from the log line `serving ... on HOST:PORT`.
It is stopped at the end whatever happened (tearDownClass, and a kill if SIGTERM is not enough).
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

CLI = os.environ.get("HYMBA_CLI")
SERVER = os.environ.get("HYMBA_SERVER")
TESTDATA = os.environ.get("HYMBA_TESTDATA")
MODEL = os.path.join(TESTDATA, "tiny-a") if TESTDATA else None
MAX_SEQ_LEN = 64  # the server's --max_seq_len; longer requests are refused with INVALID_ARGUMENT
START_TIMEOUT_S = 30
CALL_TIMEOUT_S = 60
SERVING_LINE = re.compile(r"serving \S+ on (\S+):(\d+)")


def run_cli(*args):
    return subprocess.run([CLI, *args], capture_output=True, text=True, timeout=CALL_TIMEOUT_S)


def unused_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@unittest.skipUnless(CLI and SERVER and MODEL and os.path.isdir(MODEL),
                     "HYMBA_CLI, HYMBA_SERVER and HYMBA_TESTDATA/tiny-a are needed")
class LoadgenSmokeTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.log = tempfile.NamedTemporaryFile(prefix="hymba-server-", suffix=".log", delete=False)
        cls.server = subprocess.Popen(
            [SERVER, "--model", MODEL, "--host", "127.0.0.1", "--port", "0", "--threads", "1",
             "--max_slots", "4", "--max_seq_len", str(MAX_SEQ_LEN), "--drain_timeout_s", "2"],
            stdout=cls.log, stderr=subprocess.STDOUT)
        try:
            cls.address = cls.wait_for_address()
        except Exception:
            cls.stop_server()
            raise

    @classmethod
    def tearDownClass(cls):
        cls.stop_server()

    @classmethod
    def wait_for_address(cls):
        deadline = time.monotonic() + START_TIMEOUT_S
        while time.monotonic() < deadline:
            with open(cls.log.name) as f:
                match = SERVING_LINE.search(f.read())
            if match:
                return f"127.0.0.1:{match.group(2)}"
            if cls.server.poll() is not None:
                break
            time.sleep(0.1)
        with open(cls.log.name) as f:
            raise RuntimeError(f"hymba-server did not start:\n{f.read()}")

    @classmethod
    def stop_server(cls):
        if cls.server.poll() is None:
            cls.server.send_signal(signal.SIGTERM)
            try:
                cls.server.wait(timeout=10)
            except subprocess.TimeoutExpired:
                cls.server.kill()
                cls.server.wait()
        cls.log.close()
        os.unlink(cls.log.name)

    def loadgen_json(self, *args):
        """Runs loadgen with --json - and returns (exit code, report, stderr)."""
        r = run_cli("loadgen", "--address", self.address, "--json", "-", *args)
        try:
            report = json.loads(r.stdout)
        except json.JSONDecodeError:
            self.fail(f"loadgen printed no JSON (exit {r.returncode}):\n{r.stdout}\n{r.stderr}")
        return r.returncode, report, r.stderr

    def test_health_is_serving(self):
        r = run_cli("health", "--address", self.address, "--timeout-s", "5")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(r.stdout.strip(), "SERVING")

    def test_health_fails_for_unknown_service_and_closed_port(self):
        r = run_cli("health", "--address", self.address, "--service", "no.such.Service")
        self.assertNotEqual(r.returncode, 0)
        r = run_cli("health", "--address", f"127.0.0.1:{unused_port()}", "--timeout-s", "2")
        self.assertNotEqual(r.returncode, 0)
        self.assertIn("(code 14)", r.stderr)  # UNAVAILABLE

    def test_closed_loop_counts_and_percentiles(self):
        code, report, stderr = self.loadgen_json(
            "--concurrency", "4", "--requests", "12", "--prompt-len", "8:24", "--output-len", "8")
        self.assertEqual(code, 0, stderr)
        self.assertEqual(report["requests_ok"], 12)
        self.assertEqual(report["requests_failed"], 0)
        self.assertEqual(report["failures"], {})
        self.assertEqual(report["output_tokens"], 96)
        self.assertTrue(12 * 8 <= report["prompt_tokens"] <= 12 * 24, report["prompt_tokens"])
        self.assertGreater(report["duration_s"], 0)
        self.assertGreater(report["output_tokens_per_s"], 0)
        self.assertEqual(report["ttft_ms"]["count"], 12)
        self.assertEqual(report["e2e_ms"]["count"], 12)
        self.assertGreater(report["itl_ms"]["count"], 0)
        for name in ("ttft_ms", "itl_ms", "e2e_ms"):
            s = report[name]
            self.assertTrue(0 < s["p50"] <= s["p90"] <= s["p99"] <= s["max"], (name, s))
            self.assertGreater(s["mean"], 0, name)
        self.assertIn("TTFT", stderr)  # the text summary goes to stderr when JSON is on stdout

    def test_open_loop_with_warmup(self):
        code, report, stderr = self.loadgen_json(
            "--rate", "200", "--max-concurrency", "3", "--requests", "6", "--warmup", "2",
            "--prompt-len", "normal:12,4", "--output-len", "4")
        self.assertEqual(code, 0, stderr)
        self.assertEqual(report["requests_ok"], 6)
        self.assertEqual(report["output_tokens"], 24)
        self.assertEqual(report["config"]["mode"], "open")

    def test_refused_requests_fail_the_run(self):
        code, report, stderr = self.loadgen_json(
            "--concurrency", "2", "--requests", "3", "--prompt-len", "8",
            "--output-len", str(MAX_SEQ_LEN + 1))
        self.assertEqual(code, 1)
        self.assertEqual(report["requests_ok"], 0)
        self.assertEqual(report["requests_failed"], 3)
        self.assertEqual(report["failures"], {"INVALID_ARGUMENT": 3})
        self.assertIn("INVALID_ARGUMENT", stderr)


if __name__ == "__main__":
    unittest.main(verbosity=2)
