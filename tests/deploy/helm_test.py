"""The Helm chart (deploy/helm/hymba-serve) and the plain manifests rendered from it (deploy/k8s).

Environment: HYMBA_DEPLOY_TOOLS = the tools dir of scripts/install-deploy-tools (default
build/deploy-tools); a missing tool skips, or fails when CI=true. HYMBA_SERVER = hymba-server, for
the flagfile check (skipped without it).

For the default values and the GPU, PVC, init-image, ServiceMonitor and each HPA metric value sets:
  * `helm lint --strict` passes and `helm template` renders;
  * every rendered document passes k8s_validate.mjs (kubernetes-models schemas, strict fields);
  * manifest_checks.check finds no broken cross-reference, probe, termination or security setting.
And: deploy/k8s equals the rendered default; hymba-server accepts the rendered flagfile; the values
schema rejects typos; the prometheus-adapter rules (deploy/helm/prometheus-adapter-values.yaml)
serve the HPA's metrics in PromQL that promtool accepts; and each validator fails on a deliberately
broken copy of the chart.
"""
import os
import shutil
import tempfile
import unittest

import yaml

import deploy_tools
import manifest_checks

VALIDATOR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "k8s_validate.mjs")

VALUE_SETS = {
    "default": {},
    "gpu": {"gpu": {"enabled": True, "nodeSelector": {"nvidia.com/gpu.present": "true"},
                    "tolerations": [{"key": "nvidia.com/gpu", "operator": "Exists",
                                     "effect": "NoSchedule"}]},
            "server": {"precision": "bf16", "kvCache": "bf16"}},
    "pvc": {"model": {"pvc": {"claimName": "hymba-models", "subPath": "Hymba-1.5B-Instruct"}}},
    "init-image": {"model": {"initImage": {"repository": "registry.example/hymba-1.5b",
                                           "tag": "v1"}}},
    "service-monitor": {"serviceMonitor": {"enabled": True,
                                           "labels": {"release": "kube-prometheus-stack"}}},
    "hpa-requests-waiting": {"autoscaling": {"enabled": True, "metric": "requestsWaiting"}},
    "hpa-slot-utilization": {"autoscaling": {"enabled": True, "metric": "slotUtilization"}},
    "hpa-cpu": {"autoscaling": {"enabled": True, "metric": "cpu"}},
    "long-drain": {"server": {"drainTimeoutSeconds": 50, "extraFlags": {"log_level": "debug"}},
                   "probes": {"liveness": {"periodSeconds": 10, "failureThreshold": 6}},
                   "lifecycle": {"preStopSleepSeconds": 10}},
}


class ChartTestCase(unittest.TestCase):
    """Value-set files in a temporary folder, and the three validators."""

    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.mkdtemp(prefix="hymba-helm-")
        cls.values = {}
        for name, values in VALUE_SETS.items():
            path = os.path.join(cls.tmp, name + ".yaml")
            with open(path, "w") as f:
                yaml.safe_dump(values, f)
            cls.values[name] = path

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.tmp, ignore_errors=True)

    def setUp(self):
        self.helm = deploy_tools.require_helm(self)

    def lint(self, chart, values):
        return deploy_tools.run([self.helm, "lint", "--strict", chart, "--values", values])

    def render(self, chart=deploy_tools.CHART, values=None):
        result = deploy_tools.helm_template(self.helm, chart, [values] if values else [])
        self.assertEqual(result.returncode, 0, result.stderr)
        return result.stdout

    def schema_check(self, rendered):
        node = deploy_tools.require_node(self)
        env = dict(os.environ, HYMBA_DEPLOY_TOOLS=deploy_tools.tools_dir())
        return deploy_tools.run([node, VALIDATOR, "-"], input=rendered, env=env)

    @staticmethod
    def cross_check(rendered):
        return manifest_checks.check(list(yaml.safe_load_all(rendered)))


class ValueSetTest(ChartTestCase):
    def test_lint_strict(self):
        for name, path in self.values.items():
            with self.subTest(values=name):
                result = self.lint(deploy_tools.CHART, path)
                self.assertEqual(result.returncode, 0, result.stdout + result.stderr)

    def test_rendered_documents_match_the_kubernetes_schemas(self):
        for name, path in self.values.items():
            with self.subTest(values=name):
                result = self.schema_check(self.render(values=path))
                self.assertEqual(result.returncode, 0, result.stdout + result.stderr)

    def test_cross_references_hold(self):
        for name, path in self.values.items():
            with self.subTest(values=name):
                self.assertEqual(self.cross_check(self.render(values=path)), [])

    def test_value_sets_render_what_they_ask_for(self):
        kinds = lambda name: {d["kind"] for d in yaml.safe_load_all(
            self.render(values=self.values[name])) if d}
        self.assertNotIn("HorizontalPodAutoscaler", kinds("default"))
        self.assertNotIn("ServiceMonitor", kinds("default"))
        self.assertIn("ServiceMonitor", kinds("service-monitor"))
        self.assertIn("HorizontalPodAutoscaler", kinds("hpa-cpu"))
        gpu = self.render(values=self.values["gpu"])
        for text in ("image: hymba-serve-cuda:latest", "--device=cuda", "nvidia.com/gpu: 1"):
            self.assertIn(text, gpu)
        self.assertIn("claimName: hymba-models", self.render(values=self.values["pvc"]))
        self.assertIn("terminationGracePeriodSeconds: 70",
                      self.render(values=self.values["long-drain"]))


class ChartTest(ChartTestCase):
    def test_k8s_manifests_equal_the_rendered_defaults(self):
        with open(deploy_tools.K8S_MANIFEST) as f:
            committed = f.read()
        self.assertEqual(committed, deploy_tools.k8s_manifest_text(self.render()),
                         "deploy/k8s is stale: python3 tests/deploy/deploy_tools.py --write-k8s")

    def test_values_schema_rejects_typos_and_wrong_types(self):
        for assignment in ("replicaCount=two", "server.portt=1", "server.logFormat=xml",
                           "autoscaling.metric=gpu"):
            with self.subTest(set=assignment):
                result = deploy_tools.helm_template(self.helm, sets=[assignment])
                self.assertNotEqual(result.returncode, 0, assignment)
                self.assertIn("schema", result.stderr)

    def test_conflicting_model_sources_fail(self):
        for sets, expected in (
                (["model.pvc.claimName=a", "model.initImage.repository=b"], "at most one"),
                (["model.pvc.claimName=a", "model.path=/models/x"], "model.pvc.subPath")):
            with self.subTest(sets=sets):
                result = deploy_tools.helm_template(self.helm, sets=sets)
                self.assertNotEqual(result.returncode, 0)
                self.assertIn(expected, result.stderr)

    def test_adapter_rules_serve_the_hpa_metrics_in_valid_promql(self):
        promtool = deploy_tools.require_promtool(self)
        with open(deploy_tools.ADAPTER_VALUES) as f:
            rules = yaml.safe_load(f)["rules"]["custom"]
        served = {rule["name"]["as"] for rule in rules}
        for name in ("hpa-requests-waiting", "hpa-slot-utilization"):
            hpa = next(d for d in yaml.safe_load_all(self.render(values=self.values[name]))
                       if d and d["kind"] == "HorizontalPodAutoscaler")
            self.assertIn(hpa["spec"]["metrics"][0]["pods"]["metric"]["name"], served, name)
        # The adapter's templates filled in as it would for the pods of namespace hymba.
        queries = [rule["metricsQuery"]
                   .replace("<<.Series>>", rule["seriesQuery"].split("{")[0])
                   .replace("<<.LabelMatchers>>", 'namespace="hymba",pod=~"hymba-serve-.*"')
                   .replace("<<.GroupBy>>", "pod") for rule in rules]
        self.assertEqual(self.promtool_check(promtool, queries).returncode, 0)
        broken = self.promtool_check(promtool, [queries[0].replace(")", "", 1)])
        self.assertNotEqual(broken.returncode, 0, "promtool accepted a broken query")

    def promtool_check(self, promtool, queries):
        path = os.path.join(self.tmp, "adapter-rules.yaml")
        with open(path, "w") as f:
            rules = [{"record": f"hymba:adapter_query_{i}", "expr": query}
                     for i, query in enumerate(queries)]
            yaml.safe_dump({"groups": [{"name": "adapter", "rules": rules}]}, f)
        return deploy_tools.run([promtool, "check", "rules", path])

    def test_hymba_server_accepts_the_rendered_flagfile(self):
        server = os.environ.get("HYMBA_SERVER", "")
        if not os.path.exists(server):
            self.skipTest("HYMBA_SERVER is not set")
        config = next(d for d in yaml.safe_load_all(self.render())
                      if d and d["kind"] == "ConfigMap")
        flagfile = os.path.join(self.tmp, "flags")
        with open(flagfile, "w") as f:
            f.write(config["data"]["flags"])
        # Free ports, and a model that is not there: the server must get past flag parsing.
        result = deploy_tools.run([server, f"--flagfile={flagfile}", "--model=/nonexistent/model",
                                   "--port=0", "--metrics_port=0"])
        output = result.stdout + result.stderr
        self.assertEqual(result.returncode, 1, output)
        self.assertNotIn("Unknown command line flag", output)
        self.assertIn("/nonexistent/model", output)


class BrokenChartTest(ChartTestCase):
    """Each validator reports a deliberately broken copy of the chart."""

    def broken(self, template, old, new):
        chart = os.path.join(tempfile.mkdtemp(dir=self.tmp), "hymba-serve")
        shutil.copytree(deploy_tools.CHART, chart)
        path = os.path.join(chart, template)
        with open(path) as f:
            text = f.read()
        self.assertIn(old, text)
        with open(path, "w") as f:
            f.write(text.replace(old, new, 1))
        return chart

    def assert_schema_fails(self, chart, expected):
        result = self.schema_check(self.render(chart))
        self.assertEqual(result.returncode, 1, result.stdout + result.stderr)
        self.assertIn(expected, result.stdout)

    def assert_cross_check_fails(self, chart, expected):
        problems = self.cross_check(self.render(chart))
        self.assertTrue(any(expected in p for p in problems), problems)

    def test_misspelled_field(self):
        chart = self.broken("templates/deployment.yaml", "      containers:", "      contaners:")
        self.assert_schema_fails(chart, 'unknown field "contaners"')
        chart = self.broken("templates/deployment.yaml", "readinessProbe:", "readinesProbe:")
        self.assert_schema_fails(chart, 'unknown field "readinesProbe"')

    def test_wrong_type(self):
        chart = self.broken("templates/deployment.yaml", "replicas: {{ .Values.replicaCount }}",
                            'replicas: "two"')
        self.assert_schema_fails(chart, "replicas must be integer")

    def test_named_probe_port(self):
        chart = self.broken("templates/deployment.yaml", "port: {{ .Values.server.port }}",
                            "port: grpc")
        self.assert_schema_fails(chart, "grpc/port must be integer")
        self.assert_cross_check_fails(chart, "not an integer container port")

    def test_selector_mismatch(self):
        chart = self.broken("templates/service.yaml",
                            '{{- include "hymba-serve.selectorLabels" . | nindent 4 }}',
                            "app.kubernetes.io/name: hymba")
        self.assert_cross_check_fails(chart, "Service hymba-serve selector does not match")

    def test_short_grace_period(self):
        chart = self.broken("templates/deployment.yaml",
                            '{{ include "hymba-serve.terminationGrace" . }}', "30")
        self.assert_cross_check_fails(chart, "terminationGracePeriodSeconds 30 <=")

    def test_writable_root_filesystem(self):
        chart = self.broken("templates/deployment.yaml", '"readOnlyRootFilesystem" true',
                            '"readOnlyRootFilesystem" false')
        self.assert_cross_check_fails(chart, "is not locked down")

    def test_values_typo_fails_lint(self):
        chart = self.broken("values.yaml", "replicaCount: 2", "replicaCont: 2")
        result = self.lint(chart, self.values["default"])
        self.assertNotEqual(result.returncode, 0, result.stdout)

    def test_template_error_fails_lint(self):
        chart = self.broken("templates/service.yaml", "{{ .Values.server.port }}",
                            "{{ .Values.server.port")
        self.assertNotEqual(self.lint(chart, self.values["default"]).returncode, 0)

    def test_changed_chart_is_out_of_sync_with_k8s(self):
        chart = self.broken("values.yaml", "replicaCount: 2", "replicaCount: 3")
        with open(deploy_tools.K8S_MANIFEST) as f:
            self.assertNotEqual(f.read(), deploy_tools.k8s_manifest_text(self.render(chart)))


if __name__ == "__main__":
    unittest.main()
