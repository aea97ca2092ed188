"""docker-compose.yml validated with Debian's docker-compose (1.29): `config -q` accepts it, and
rejects broken copies (a typo'd field, a wrong type). Also checks what `config` resolves: the
services, the gpu profile's device reservation, and health-gated start order.

docker-compose comes from scripts/install-deploy-tools. Without it the tests skip, except under CI
(CI=true), where they fail.
"""
import os
import shutil
import subprocess
import tempfile
import unittest

import yaml

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
COMPOSE = shutil.which("docker-compose")


def compose_config(directory, *args):
    return subprocess.run([COMPOSE, "-f", os.path.join(directory, "docker-compose.yml"),
                           "--project-directory", directory, "config", *args],
                          capture_output=True, text=True, timeout=120, cwd=directory)


class ComposeTest(unittest.TestCase):
    def setUp(self):
        if COMPOSE is None:
            if os.environ.get("CI") == "true":
                self.fail("docker-compose is missing (scripts/install-deploy-tools installs it)")
            self.skipTest("docker-compose is not installed")

    def broken_copy(self, before, after):
        tmp = tempfile.mkdtemp()
        self.addCleanup(shutil.rmtree, tmp)
        with open(os.path.join(REPO, "docker-compose.yml")) as f:
            text = f.read()
        self.assertIn(before, text)
        with open(os.path.join(tmp, "docker-compose.yml"), "w") as f:
            f.write(text.replace(before, after, 1))
        return tmp

    def test_config_is_valid(self):
        r = compose_config(REPO, "-q")
        self.assertEqual(r.returncode, 0, r.stderr)

    def test_resolved_stack(self):
        r = compose_config(REPO)
        self.assertEqual(r.returncode, 0, r.stderr)
        stack = yaml.safe_load(r.stdout)
        services = stack["services"]
        self.assertEqual(set(services), {"hymba", "hymba-gpu", "prometheus", "grafana"})
        self.assertEqual(services["hymba-gpu"]["profiles"], ["gpu"])
        devices = services["hymba-gpu"]["deploy"]["resources"]["reservations"]["devices"]
        self.assertEqual(devices[0]["capabilities"], ["gpu"])
        self.assertEqual(services["prometheus"]["depends_on"]["hymba"]["condition"],
                         "service_healthy")
        self.assertEqual(services["grafana"]["depends_on"]["prometheus"]["condition"],
                         "service_healthy")
        for name in ("hymba", "hymba-gpu", "prometheus", "grafana"):
            self.assertIn("healthcheck", services[name], name)

    def test_typo_is_rejected(self):
        r = compose_config(self.broken_copy("    healthcheck:\n", "    healthchek:\n"), "-q")
        self.assertNotEqual(r.returncode, 0, "a typo'd field passed docker-compose config")

    def test_wrong_type_is_rejected(self):
        r = compose_config(self.broken_copy("stop_grace_period: 40s", "stop_grace_period: [40]"),
                           "-q")
        self.assertNotEqual(r.returncode, 0, "a wrong type passed docker-compose config")


if __name__ == "__main__":
    unittest.main()
