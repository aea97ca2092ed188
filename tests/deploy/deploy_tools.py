"""Where the deploy tests find their tools, and how they run them.

The tools dir is $HYMBA_DEPLOY_TOOLS, default build/deploy-tools under the repository root, as laid
out by scripts/install-deploy-tools (bin/helm, node_modules/). A missing tool skips the test, or
fails it when CI=true so that a CI run cannot pass by skipping.

Also here: rendering the chart, and the generated manifests in deploy/k8s that the tests keep in
sync with it (`python3 tests/deploy/deploy_tools.py --write-k8s` rewrites them).
"""
import os
import shutil
import subprocess
import sys

REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
CHART = os.path.join(REPO, "deploy", "helm", "hymba-serve")
K8S_MANIFEST = os.path.join(REPO, "deploy", "k8s", "hymba-serve.yaml")
ADAPTER_VALUES = os.path.join(REPO, "deploy", "helm", "prometheus-adapter-values.yaml")
RELEASE = "hymba-serve"
NAMESPACE = "hymba"
RENDER_COMMAND = f"helm template {RELEASE} deploy/helm/hymba-serve --namespace {NAMESPACE}"
K8S_HEADER = (
    "# hymba-serve for kubectl users: deploy/helm/hymba-serve rendered with its default values\n"
    "# (CPU image, demo model, 2 replicas, namespace hymba). Generated; do not edit by hand.\n"
    f"#   {RENDER_COMMAND}\n"
    "# Regenerate: python3 tests/deploy/deploy_tools.py --write-k8s (the helm test checks it).\n"
    "# Apply: kubectl create namespace hymba && kubectl apply -f deploy/k8s/hymba-serve.yaml\n"
)
TIMEOUT_S = 120


def tools_dir():
    """$HYMBA_DEPLOY_TOOLS (a relative path is taken from the repository root)."""
    return os.path.join(REPO, os.environ.get("HYMBA_DEPLOY_TOOLS", "build/deploy-tools"))


def helm_path():
    return os.path.join(tools_dir(), "bin", "helm")


def node_modules():
    return os.path.join(tools_dir(), "node_modules")


def require(test, path, what):
    """Skips `test` (fails it when CI=true) unless `path` exists."""
    if path and os.path.exists(path):
        return
    message = f"{what} not found at {path or '(none)'}: run scripts/install-deploy-tools"
    if os.environ.get("CI") == "true":
        test.fail(message)
    test.skipTest(message)


def require_helm(test):
    require(test, helm_path(), "helm")
    return helm_path()


def require_promtool(test):
    require(test, shutil.which("promtool"), "promtool")
    return shutil.which("promtool")


def require_node(test):
    """Returns the node binary, requiring kubernetes-models and yaml in the tools dir."""
    require(test, shutil.which("node"), "node")
    for package in ("kubernetes-models", "@kubernetes-models/prometheus-operator", "yaml"):
        require(test, os.path.join(node_modules(), package), package)
    return shutil.which("node")


def run(args, **kwargs):
    """Runs a command; returns the CompletedProcess with text stdout and stderr."""
    return subprocess.run(args, capture_output=True, text=True, timeout=TIMEOUT_S, **kwargs)


def helm_template(helm, chart=CHART, values=(), sets=()):
    """`helm template` of `chart` as deploy/k8s is rendered; returns the CompletedProcess."""
    args = [helm, "template", RELEASE, chart, "--namespace", NAMESPACE]
    for path in values:
        args += ["--values", path]
    for assignment in sets:
        args += ["--set", assignment]
    return run(args)


def k8s_manifest_text(rendered):
    return K8S_HEADER + rendered


def main(argv):
    if argv[1:] != ["--write-k8s"]:
        sys.exit("usage: deploy_tools.py --write-k8s")
    result = helm_template(helm_path())
    if result.returncode != 0:
        sys.exit(result.stderr)
    os.makedirs(os.path.dirname(K8S_MANIFEST), exist_ok=True)
    with open(K8S_MANIFEST, "w") as f:
        f.write(k8s_manifest_text(result.stdout))
    print("wrote", os.path.relpath(K8S_MANIFEST, REPO))


if __name__ == "__main__":
    main(sys.argv)
