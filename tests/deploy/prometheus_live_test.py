"""A real hymba-server scraped by a real Prometheus (Debian's package) on loopback, with the compose
stack's scrape config and rules (deploy/prometheus): after some traffic the target is up, every
query of the Grafana dashboard returns data, and every recording and alert rule evaluates.

The copy of the config differs from the compose one only where a test must: the target is the
test server's loopback metrics port, and scrape, evaluation and rule-group intervals are 1 s.

Environment: HYMBA_SERVER and HYMBA_CLI = the binaries, HYMBA_TESTDATA = the tiny checkpoints.
Without them or without prometheus the tests skip, except under CI (CI=true), where they fail.
"""
import json
import os
import re
import shutil
import socket
import subprocess
import tempfile
import time
import unittest
import urllib.parse
import urllib.request

import yaml

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
PROM = os.path.join(REPO, "deploy", "prometheus")
DASHBOARD = os.path.join(REPO, "deploy", "grafana", "dashboards", "hymba-serve.json")
SERVER = os.environ.get("HYMBA_SERVER", "")
CLI = os.environ.get("HYMBA_CLI", "")
TESTDATA = os.environ.get("HYMBA_TESTDATA", "")
PROMETHEUS = shutil.which("prometheus")
TIMEOUT_S = 90


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for(what, predicate, timeout=TIMEOUT_S):
    deadline = time.time() + timeout
    while time.time() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}")


class PrometheusLiveTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        missing = [n for n, v in [("HYMBA_SERVER", SERVER), ("HYMBA_CLI", CLI),
                                  ("HYMBA_TESTDATA", TESTDATA), ("prometheus", PROMETHEUS)] if not v]
        if missing:
            if os.environ.get("CI") == "true":
                raise AssertionError(f"missing: {missing} (scripts/install-deps --test)")
            raise unittest.SkipTest(f"missing: {missing}")
        cls.tmp = tempfile.mkdtemp()
        cls.procs = []
        cls.files = []
        cls.server_log = os.path.join(cls.tmp, "server.log")
        cls.start_server()
        cls.start_prometheus()

    @classmethod
    def tearDownClass(cls):
        for p in cls.procs:
            p.terminate()
            p.wait(timeout=60)
        for f in cls.files:
            f.close()
        shutil.rmtree(cls.tmp, ignore_errors=True)

    @classmethod
    def start_server(cls):
        log = open(cls.server_log, "w")
        cls.files.append(log)
        cls.procs.append(subprocess.Popen(
            [SERVER, "--model", os.path.join(TESTDATA, "tiny-a"), "--host", "127.0.0.1",
             "--port", "0", "--metrics_port", "0", "--precision", "f32", "--threads", "1",
             "--max_slots", "2", "--max_queue", "2"], stdout=log, stderr=subprocess.STDOUT))

        def ports():
            with open(cls.server_log) as f:
                text = f.read()
            grpc = re.search(r"serving \S+ on [0-9.]+:(\d+)", text)
            metrics = re.search(r"metrics on http://[0-9.]+:(\d+)", text)
            return (int(grpc.group(1)), int(metrics.group(1))) if grpc and metrics else None
        cls.grpc_port, cls.metrics_port = wait_for("the server", ports)

    @classmethod
    def start_prometheus(cls):
        with open(os.path.join(PROM, "prometheus.yml")) as f:
            config = yaml.safe_load(f)
        config["global"]["scrape_interval"] = "1s"
        config["global"]["evaluation_interval"] = "1s"
        config["scrape_configs"][0]["static_configs"] = [
            {"targets": [f"127.0.0.1:{cls.metrics_port}"]}]
        rules_dir = os.path.join(cls.tmp, "rules")
        os.makedirs(rules_dir)
        for name in os.listdir(os.path.join(PROM, "rules")):
            with open(os.path.join(PROM, "rules", name)) as f:
                rules = yaml.safe_load(f)
            for group in rules["groups"]:
                group["interval"] = "1s"
            with open(os.path.join(rules_dir, name), "w") as f:
                yaml.safe_dump(rules, f)
        config["rule_files"] = [os.path.join(rules_dir, "*.yml")]
        path = os.path.join(cls.tmp, "prometheus.yml")
        with open(path, "w") as f:
            yaml.safe_dump(config, f)
        cls.prom_port = free_port()
        prom_log = open(os.path.join(cls.tmp, "prom.log"), "w")
        cls.files.append(prom_log)
        cls.procs.append(subprocess.Popen(
            [PROMETHEUS, f"--config.file={path}",
             f"--storage.tsdb.path={os.path.join(cls.tmp, 'data')}",
             f"--web.listen-address=127.0.0.1:{cls.prom_port}"],
            stdout=subprocess.DEVNULL, stderr=prom_log))
        wait_for("prometheus ready", lambda: cls.get("/-/ready") is not None)

    @classmethod
    def get(cls, path):
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{cls.prom_port}{path}", timeout=5) as r:
                return r.read().decode()
        except OSError:
            return None

    def query(self, expr):
        body = self.get("/api/v1/query?" + urllib.parse.urlencode({"query": expr}))
        self.assertIsNotNone(body, expr)
        reply = json.loads(body)
        self.assertEqual(reply["status"], "success", expr)
        return reply["data"]["result"]

    def send_traffic(self):
        address = f"127.0.0.1:{self.grpc_port}"
        common = [CLI, "client", "--address", address, "--json", "--ignore-eos"]
        for i in range(6):
            r = subprocess.run([*common, "--tokens", f"5,9,{30 + i}", "--max-tokens", "16"],
                               capture_output=True, text=True, timeout=TIMEOUT_S)
            self.assertEqual(r.returncode, 0, r.stderr)
        r = subprocess.run([*common, "--tokens", "5,9", "--max-tokens", "0"],
                           capture_output=True, text=True, timeout=TIMEOUT_S)
        self.assertNotEqual(r.returncode, 0)  # INVALID_ARGUMENT, counted by code

    def test_target_up_dashboard_queries_and_rules(self):
        wait_for("the target up", lambda: any(
            t["health"] == "up"
            for t in json.loads(self.get("/api/v1/targets") or '{"data":{"activeTargets":[]}}')
            ["data"]["activeTargets"]))
        self.send_traffic()
        time.sleep(4)  # a few scrapes after the traffic, so that rates see it
        self.send_traffic()
        wait_for("requests counted", lambda: self.query("sum(hymba_requests_total)"))

        with open(DASHBOARD) as f:
            dashboard = json.load(f)
        queries = [(p["title"], t["expr"]) for p in dashboard["panels"] for t in p["targets"]]
        empty = []
        deadline = time.time() + TIMEOUT_S
        while True:
            empty = [(title, expr) for title, expr in queries if not self.query(expr)]
            if not empty or time.time() > deadline:
                break
            time.sleep(1)
        self.assertEqual(empty, [], "dashboard queries without data")

        rules = json.loads(self.get("/api/v1/rules"))["data"]["groups"]
        self.assertEqual(sorted(g["name"] for g in rules), ["hymba-alerts", "hymba-recording"])
        for group in rules:
            for rule in group["rules"]:
                self.assertEqual(rule["health"], "ok", rule)
                if rule["type"] == "recording":
                    self.assertTrue(self.query(rule["name"]), rule["name"])
        # The one replica serves: the no-ready-replica alert is not firing.
        alerts = json.loads(self.get("/api/v1/alerts"))["data"]["alerts"]
        self.assertNotIn("HymbaNoReadyReplica", [a["labels"]["alertname"] for a in alerts])


if __name__ == "__main__":
    unittest.main()
