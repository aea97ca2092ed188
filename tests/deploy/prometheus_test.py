"""Prometheus configuration, rules and the Grafana dashboard's queries, validated with promtool.

Checks: `promtool check config` on deploy/prometheus/prometheus.yml, `check rules` on the rule
files, `test rules` on deploy/prometheus/tests, and every dashboard query parsed by promtool (as
a recording rule of a generated rule file). Each validator is also shown failing on a broken copy:
a typo'd field in the config, a wrong type in a rule, a bad PromQL expression in a rule and in the
dashboard.

promtool comes from Debian's prometheus package (scripts/install-deps --test). Without it the tests
skip, except under CI (CI=true), where they fail.
"""
import json
import os
import shutil
import subprocess
import tempfile
import unittest

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
PROM = os.path.join(REPO, "deploy", "prometheus")
DASHBOARDS = os.path.join(REPO, "deploy", "grafana", "dashboards")
PROMTOOL = shutil.which("promtool")


def read(path):
    with open(path) as f:
        return f.read()


def dashboard_queries(path):
    """Every PromQL expression of a dashboard's panels."""
    with open(path) as f:
        dashboard = json.load(f)
    queries = []
    for panel in dashboard["panels"]:
        for target in panel.get("targets", []):
            queries.append((panel["title"], target["expr"]))
    return queries


def queries_as_rules(queries):
    """A rule file holding each query as a recording rule, so promtool parses it."""
    lines = ["groups:", "  - name: dashboard-queries", "    rules:"]
    for i, (_, expr) in enumerate(queries):
        lines.append(f"      - record: dashboard:query_{i}")
        lines.append("        expr: " + json.dumps(expr))
    return "\n".join(lines) + "\n"


def promtool(*args, cwd=None):
    return subprocess.run([PROMTOOL, *args], capture_output=True, text=True, cwd=cwd, timeout=120)


class PrometheusConfigTest(unittest.TestCase):
    def setUp(self):
        if PROMTOOL is None:
            if os.environ.get("CI") == "true":
                self.fail("promtool is missing (scripts/install-deps --test installs it)")
            self.skipTest("promtool is not installed")
        self.tmp = tempfile.mkdtemp()
        self.addCleanup(shutil.rmtree, self.tmp)

    def copy_prometheus(self):
        """deploy/prometheus copied to a temporary folder, to break."""
        dest = tempfile.mkdtemp(dir=self.tmp)
        shutil.copytree(PROM, dest, dirs_exist_ok=True)
        return dest

    def test_config_is_valid_and_a_typo_is_caught(self):
        r = promtool("check", "config", "prometheus.yml", cwd=PROM)
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        broken = self.copy_prometheus()
        path = os.path.join(broken, "prometheus.yml")
        text = read(path)
        with open(path, "w") as f:
            f.write(text.replace("scrape_configs:", "scrape_config:"))
        r = promtool("check", "config", "prometheus.yml", cwd=broken)
        self.assertNotEqual(r.returncode, 0, "a typo'd field passed check config")

    def test_rules_are_valid_and_a_wrong_type_or_bad_promql_is_caught(self):
        rules = sorted(os.listdir(os.path.join(PROM, "rules")))
        self.assertTrue(rules)
        r = promtool("check", "rules", *[os.path.join("rules", n) for n in rules], cwd=PROM)
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        for before, after, what in [
            ("for: 5m", "for: five minutes", "a wrong type"),
            ("hymba:server_errors:ratio_rate5m > 0.05", "hymba:server_errors:ratio_rate5m >> 0.05",
             "bad PromQL"),
        ]:
            broken = self.copy_prometheus()
            path = os.path.join(broken, "rules", "hymba-alerts.yml")
            text = read(path)
            self.assertIn(before, text)
            with open(path, "w") as f:
                f.write(text.replace(before, after, 1))
            r = promtool("check", "rules", path)
            self.assertNotEqual(r.returncode, 0, f"{what} passed check rules")

    def test_rule_unit_tests_pass_and_a_wrong_expectation_fails(self):
        tests = os.path.join("tests", "hymba-rules.test.yml")
        r = promtool("test", "rules", tests, cwd=PROM)
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        broken = self.copy_prometheus()
        path = os.path.join(broken, tests)
        text = read(path)
        with open(path, "w") as f:
            f.write(text.replace("value: 0.5", "value: 0.6", 1))
        r = promtool("test", "rules", tests, cwd=broken)
        self.assertNotEqual(r.returncode, 0, "a wrong expectation passed test rules")

    def test_every_dashboard_query_parses_and_a_bad_one_is_caught(self):
        names = [n for n in os.listdir(DASHBOARDS) if n.endswith(".json")]
        self.assertTrue(names)
        for name in names:
            queries = dashboard_queries(os.path.join(DASHBOARDS, name))
            self.assertGreaterEqual(len(queries), 10, name)
            path = os.path.join(self.tmp, name + ".rules.yml")
            with open(path, "w") as f:
                f.write(queries_as_rules(queries))
            r = promtool("check", "rules", path)
            self.assertEqual(r.returncode, 0, f"{name}: {r.stdout}{r.stderr}")
            bad = queries + [("broken", "sum(rate(hymba_requests_total[5m]) by")]
            with open(path, "w") as f:
                f.write(queries_as_rules(bad))
            r = promtool("check", "rules", path)
            self.assertNotEqual(r.returncode, 0, "a bad dashboard query passed")


if __name__ == "__main__":
    unittest.main()
