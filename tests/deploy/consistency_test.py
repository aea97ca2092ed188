"""Ports, probes and flags agree across the server, the Dockerfiles, the compose stack, the
Prometheus scrape config and the Helm chart (its default render and its GPU render):

  * every flag given anywhere is one `hymba-server --helpfull` knows;
  * the gRPC and metrics ports given by flags are the ports exposed, published, probed, scraped
    and health-checked;
  * probes and health checks ask the standard health service for hymba.v1.Hymba (readiness) or the
    server as a whole;
  * grace periods outlast the drain timeout.

Environment: HYMBA_SERVER = the server binary; HYMBA_DEPLOY_TOOLS = the deploy tools (helm).
"""
import os
import re
import subprocess
import unittest

import yaml

import deploy_tools

REPO = deploy_tools.REPO
SERVER = os.environ.get("HYMBA_SERVER", "")
FLAG = re.compile(r"^--([a-z_]+)(?:=(.*))?$")


def server_flags():
    """The flag names `hymba-server --helpfull` lists."""
    r = subprocess.run([SERVER, "--helpfull"], capture_output=True, text=True, timeout=60)
    return set(re.findall(r"^\s+--([a-z_]+) ", r.stdout + r.stderr, re.M))


def flags_of(args):
    """{name: value} of `--name=value` / `--name value` arguments."""
    out, i = {}, 0
    while i < len(args):
        m = FLAG.match(args[i])
        if m:
            if m.group(2) is not None:
                out[m.group(1)] = m.group(2)
            elif i + 1 < len(args) and not args[i + 1].startswith("--"):
                out[m.group(1)] = args[i + 1]
                i += 1
            else:
                out[m.group(1)] = ""
        i += 1
    return out


def dockerfile(name):
    with open(os.path.join(REPO, "deploy", "docker", name)) as f:
        text = f.read().replace("\\\n", " ")
    final = text[text.rfind("\nFROM "):]
    cmd = yaml.safe_load(re.search(r"^CMD (\[.*\])$", final, re.M).group(1))
    health = yaml.safe_load(re.search(r"^HEALTHCHECK .*?CMD (\[.*\])$", final, re.M).group(1))
    expose = re.search(r"^EXPOSE (.*)$", final, re.M).group(1).split()
    return flags_of(cmd), health, sorted(int(p) for p in expose)


def health_port_and_service(command):
    """The port and service of a `hymba health --address HOST:PORT --service S` command."""
    flags = flags_of(command[command.index("health") + 1:])
    return int(flags["address"].rsplit(":", 1)[1]), flags.get("service", "")


class ConsistencyTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        if not SERVER or not os.path.exists(SERVER):
            if os.environ.get("CI") == "true":
                raise AssertionError("HYMBA_SERVER is not set")
            raise unittest.SkipTest("HYMBA_SERVER is not set")
        cls.known = server_flags()
        assert {"port", "metrics_port", "drain_timeout_s", "model"} <= cls.known, cls.known

    def assert_known(self, flags, where):
        unknown = set(flags) - self.known
        self.assertFalse(unknown, f"{where}: flags the server does not know: {sorted(unknown)}")

    def test_dockerfiles(self):
        for name in ("Dockerfile", "Dockerfile.cuda"):
            flags, health, expose = dockerfile(name)
            self.assert_known(flags, name)
            port, metrics = int(flags["port"]), int(flags["metrics_port"])
            self.assertEqual(expose, sorted([port, metrics]), name)
            self.assertEqual(health_port_and_service(health), (port, "hymba.v1.Hymba"), name)

    def test_compose_and_scrape_config(self):
        with open(os.path.join(REPO, "docker-compose.yml")) as f:
            services = yaml.safe_load(f)["services"]
        with open(os.path.join(REPO, "deploy", "prometheus", "prometheus.yml")) as f:
            scrape = yaml.safe_load(f)["scrape_configs"]
        targets = {t for job in scrape for c in job["static_configs"] for t in c["targets"]}
        for name in ("hymba", "hymba-gpu"):
            service = services[name]
            flags = flags_of(service["command"])
            self.assert_known(flags, f"compose {name}")
            port, metrics = int(flags["port"]), int(flags["metrics_port"])
            published = {int(p.split(":")[1]) for p in service["ports"]}
            self.assertEqual(published, {port, metrics}, name)
            self.assertIn(f"{name}:{metrics}", targets)
            self.assertEqual(health_port_and_service(service["healthcheck"]["test"]),
                             (port, "hymba.v1.Hymba"), name)
            grace = int(service["stop_grace_period"].rstrip("s"))
            self.assertGreater(grace, int(flags["drain_timeout_s"]), name)
        self.assertEqual(flags_of(services["hymba-gpu"]["command"])["device"], "cuda")

    def check_chart_render(self, docs, where, gpu):
        by_kind = {}
        for d in docs:
            by_kind.setdefault(d["kind"], []).append(d)
        flags_text = by_kind["ConfigMap"][0]["data"]["flags"]
        flags = flags_of(flags_text.split())
        self.assert_known(flags, f"{where} flagfile")
        pod = by_kind["Deployment"][0]["spec"]["template"]["spec"]
        container = pod["containers"][0]
        self.assert_known(flags_of(container["args"]), f"{where} args")
        ports = {p["name"]: p["containerPort"] for p in container["ports"]}
        self.assertEqual(ports, {"grpc": int(flags["port"]), "metrics": int(flags["metrics_port"])})
        self.assertEqual(container["readinessProbe"]["grpc"],
                         {"port": ports["grpc"], "service": "hymba.v1.Hymba"}, where)
        for probe in ("livenessProbe", "startupProbe"):
            self.assertEqual(container[probe]["grpc"]["port"], ports["grpc"], f"{where} {probe}")
        self.assertGreater(pod["terminationGracePeriodSeconds"], int(flags["drain_timeout_s"]))
        self.assertEqual(flags["device"], "cuda" if gpu else "cpu", where)
        for service in by_kind["Service"]:
            for p in service["spec"]["ports"]:
                self.assertIn(p["targetPort"], (*ports.values(), *ports.keys()), where)
        annotations = by_kind["Deployment"][0]["spec"]["template"]["metadata"]["annotations"]
        self.assertEqual(int(annotations["prometheus.io/port"]), ports["metrics"], where)

    def test_chart(self):
        helm = deploy_tools.require_helm(self)
        for sets, gpu in (((), False), (("gpu.enabled=true",), True)):
            r = deploy_tools.helm_template(helm, sets=sets)
            self.assertEqual(r.returncode, 0, r.stderr)
            docs = [d for d in yaml.safe_load_all(r.stdout) if d]
            self.check_chart_render(docs, f"chart {sets or 'defaults'}", gpu)
        with open(deploy_tools.K8S_MANIFEST) as f:
            self.check_chart_render([d for d in yaml.safe_load_all(f) if d], "deploy/k8s", False)


if __name__ == "__main__":
    unittest.main()
