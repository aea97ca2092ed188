"""The Dockerfiles through a linter (npm dockerfile-utils, installed by
scripts/install-deploy-tools) and the project's own rules: multi-stage, a non-root user in the
final stage, a HEALTHCHECK through `hymba health`, the demo model copied in. Broken copies (an
unknown instruction, a bad EXPOSE port) must fail the linter.
"""
import os
import re
import subprocess
import tempfile
import unittest

import deploy_tools

DOCKER = os.path.join(deploy_tools.REPO, "deploy", "docker")
DOCKERFILES = ["Dockerfile", "Dockerfile.cuda"]


def lint(path):
    tool = os.path.join(deploy_tools.node_modules(), ".bin", "dockerfile-utils")
    return subprocess.run([tool, "lint", path], capture_output=True, text=True, timeout=120)


def final_stage(text):
    return text[text.rfind("\nFROM "):]


class DockerfileTest(unittest.TestCase):
    def setUp(self):
        deploy_tools.require(self, os.path.join(deploy_tools.node_modules(), ".bin",
                                                "dockerfile-utils"), "dockerfile-utils")

    def test_linter_accepts_both_dockerfiles(self):
        for name in DOCKERFILES:
            r = lint(os.path.join(DOCKER, name))
            self.assertEqual(r.returncode, 0, f"{name}: {r.stdout}{r.stderr}")

    def test_linter_rejects_broken_copies(self):
        with open(os.path.join(DOCKER, "Dockerfile")) as f:
            text = f.read()
        for before, after in [("\nRUN ", "\nRUNN "), ("EXPOSE 50051 9464", "EXPOSE 50051 nine")]:
            self.assertIn(before, text)
            with tempfile.NamedTemporaryFile("w", suffix=".Dockerfile", delete=False) as f:
                f.write(text.replace(before, after, 1))
            self.addCleanup(os.unlink, f.name)
            r = lint(f.name)
            self.assertNotEqual(r.returncode, 0, f"the linter accepted {after!r}")

    def test_project_rules(self):
        for name in DOCKERFILES:
            with open(os.path.join(DOCKER, name)) as f:
                text = f.read()
            self.assertGreaterEqual(len(re.findall(r"^FROM ", text, re.M)), 2, name)
            final = final_stage(text)
            self.assertRegex(final, r"\nUSER 10001:10001\n", name)
            self.assertRegex(final, r'HEALTHCHECK .*\n\s+CMD \["hymba", "health"', name)
            self.assertIn("/models/demo", final, name)
            self.assertIn('ENTRYPOINT ["hymba-server"]', final, name)
            self.assertIsNone(re.search(r"\b[\w.+-]+-dev\b(?!ice)", final),
                              f"{name}: development packages in the final stage")


if __name__ == "__main__":
    unittest.main()
