"""Cross-reference checks over the rendered hymba-serve manifests (what a schema cannot see).

    python3 tests/deploy/manifest_checks.py FILE      # prints the problems; exit 1 when any

check(docs) takes the parsed YAML documents of one release (exactly one Deployment) and returns a
list of problems, empty when:
  * every Service, the PDB and the ServiceMonitor select the Deployment's pod labels, and the
    Deployment's own selector does; Service target ports and ServiceMonitor ports exist;
  * the HPA's scaleTargetRef names the Deployment, which then leaves `replicas` to the HPA;
  * the startup, readiness and liveness probes are gRPC probes on an integer container port, the
    readiness probe asks for hymba.v1.Hymba, and liveness tolerates a full drain;
  * the flagfile ConfigMap exists and is mounted where --flagfile points, its --port and
    --metrics_port are the container ports, and --device=cuda goes with a GPU limit;
  * terminationGracePeriodSeconds > --drain_timeout_s + the preStop sleep;
  * the pod runs as uid 10001 (non-root) and every container has a read-only root filesystem, no
    privilege escalation and no capabilities, with /tmp on an emptyDir.
"""
import sys

import yaml

FLAGFILE = "/etc/hymba/flags"
SERVICE = "hymba.v1.Hymba"


def selects(selector, labels):
    return bool(selector) and all(labels.get(k) == v for k, v in selector.items())


def of_kind(docs, kind):
    return [d for d in docs if d and d.get("kind") == kind]


def parse_flags(text):
    flags = {}
    for line in text.splitlines():
        if line.strip():
            name, _, value = line.strip().removeprefix("--").partition("=")
            flags[name] = value
    return flags


def check_selectors(docs, deployment, pod_labels, ports, problems):
    if not selects(deployment["spec"]["selector"].get("matchLabels"), pod_labels):
        problems.append("Deployment selector does not match its pod labels")
    for service in of_kind(docs, "Service"):
        name = service["metadata"]["name"]
        if not selects(service["spec"].get("selector"), pod_labels):
            problems.append(f"Service {name} selector does not match the pod labels")
        for port in service["spec"]["ports"]:
            if port.get("targetPort", port["port"]) not in ports:
                problems.append(f"Service {name} targets port {port.get('targetPort')!r}, "
                                "which the container does not have")
    for pdb in of_kind(docs, "PodDisruptionBudget"):
        if not selects(pdb["spec"]["selector"].get("matchLabels"), pod_labels):
            problems.append("PodDisruptionBudget selector does not match the pod labels")
    for monitor in of_kind(docs, "ServiceMonitor"):
        selector = monitor["spec"]["selector"].get("matchLabels")
        chosen = [s for s in of_kind(docs, "Service") if selects(selector, s["metadata"]["labels"])]
        names = {p.get("name") for s in chosen for p in s["spec"]["ports"]}
        if not chosen:
            problems.append("ServiceMonitor selects no Service")
        for endpoint in monitor["spec"]["endpoints"]:
            if endpoint.get("port") not in names:
                problems.append(f"ServiceMonitor port {endpoint.get('port')!r} is on no selected "
                                "Service")


def check_hpa(docs, deployment, problems):
    for hpa in of_kind(docs, "HorizontalPodAutoscaler"):
        ref = hpa["spec"]["scaleTargetRef"]
        if (ref.get("kind"), ref.get("name")) != ("Deployment", deployment["metadata"]["name"]):
            problems.append(f"HPA scaleTargetRef {ref} does not name the Deployment")
        if "replicas" in deployment["spec"]:
            problems.append("Deployment sets replicas although an HPA scales it")


def check_probes(container, ports, drain_s, problems):
    for kind in ("startupProbe", "readinessProbe", "livenessProbe"):
        probe = container.get(kind)
        grpc = (probe or {}).get("grpc")
        if not grpc:
            problems.append(f"{kind} is not a gRPC probe")
            continue
        if not isinstance(grpc.get("port"), int) or grpc["port"] not in ports:
            problems.append(f"{kind} port {grpc.get('port')!r} is not an integer container port")
    readiness = (container.get("readinessProbe") or {}).get("grpc") or {}
    if readiness.get("service") != SERVICE:
        problems.append(f"readinessProbe does not ask for {SERVICE}")
    live = container.get("livenessProbe") or {}
    if live.get("periodSeconds", 10) * live.get("failureThreshold", 3) < drain_s:
        problems.append("livenessProbe would restart a draining server")


def check_config(docs, pod, container, ports, problems):
    """Returns the parsed flagfile ({} when missing)."""
    args = container.get("args", [])
    if f"--flagfile={FLAGFILE}" not in args:
        problems.append(f"the server is not started with --flagfile={FLAGFILE}")
    volumes = {v["name"]: v for v in pod.get("volumes", [])}
    mount = next((m for m in container.get("volumeMounts", [])
                  if FLAGFILE.startswith(m["mountPath"].rstrip("/") + "/")), None)
    source = volumes.get(mount["name"], {}).get("configMap") if mount else None
    maps = {c["metadata"]["name"]: c for c in of_kind(docs, "ConfigMap")}
    if not source or source.get("name") not in maps:
        problems.append(f"{FLAGFILE} is not mounted from a ConfigMap of the release")
        return {}
    key = FLAGFILE[len(mount["mountPath"].rstrip("/")) + 1:]
    flags = parse_flags(maps[source["name"]].get("data", {}).get(key, ""))
    if not flags:
        problems.append(f"ConfigMap {source['name']} has no {key!r} flagfile")
    named = {p.get("name"): p["containerPort"] for p in container.get("ports", [])}
    for flag, port_name in (("port", "grpc"), ("metrics_port", "metrics")):
        if flags.get(flag) != str(named.get(port_name)):
            problems.append(f"--{flag}={flags.get(flag)} is not the {port_name} container port")
    gpu_limit = any("gpu" in k for k in container.get("resources", {}).get("limits", {}))
    if (flags.get("device") == "cuda") != gpu_limit:
        problems.append("--device=cuda and a GPU limit must go together")
    return flags


def check_termination(pod, container, flags, problems):
    command = (((container.get("lifecycle") or {}).get("preStop") or {}).get("exec") or {}).get(
        "command", [])
    sleep_s = int(command[1]) if len(command) == 2 and command[0] == "sleep" else None
    if sleep_s is None:
        problems.append("no preStop sleep")
        sleep_s = 0
    drain_s = int(flags.get("drain_timeout_s", 30))
    grace = pod.get("terminationGracePeriodSeconds", 30)
    if not grace > drain_s + sleep_s:
        problems.append(f"terminationGracePeriodSeconds {grace} <= drain {drain_s} + preStop "
                        f"{sleep_s}")


def check_security(pod, problems):
    context = pod.get("securityContext", {})
    if context.get("runAsNonRoot") is not True or context.get("runAsUser") != 10001:
        problems.append("the pod does not run as non-root uid 10001")
    for container in pod.get("containers", []) + pod.get("initContainers", []):
        sc = container.get("securityContext", {})
        if (sc.get("readOnlyRootFilesystem") is not True
                or sc.get("allowPrivilegeEscalation") is not False
                or sc.get("capabilities", {}).get("drop") != ["ALL"]):
            problems.append(f"container {container['name']} is not locked down")
    volumes = {v["name"]: v for v in pod.get("volumes", [])}
    for container in pod.get("containers", []):
        tmp = [m for m in container.get("volumeMounts", []) if m["mountPath"] == "/tmp"]
        if not tmp or "emptyDir" not in volumes.get(tmp[0]["name"], {}):
            problems.append(f"container {container['name']} has no emptyDir at /tmp")
        for mount in container.get("volumeMounts", []):
            if mount["name"] not in volumes:
                problems.append(f"volume {mount['name']} is mounted but not declared")


def check(docs):
    docs = [d for d in docs if d]
    deployments = of_kind(docs, "Deployment")
    if len(deployments) != 1:
        return [f"expected one Deployment, found {len(deployments)}"]
    deployment = deployments[0]
    pod = deployment["spec"]["template"]["spec"]
    pod_labels = deployment["spec"]["template"]["metadata"].get("labels", {})
    container = pod["containers"][0]
    ports = set()
    for port in container.get("ports", []):
        ports.update({port["containerPort"], port.get("name")})
    problems = []
    check_selectors(docs, deployment, pod_labels, ports, problems)
    check_hpa(docs, deployment, problems)
    flags = check_config(docs, pod, container, ports, problems)
    check_probes(container, ports, int(flags.get("drain_timeout_s", 30)), problems)
    check_termination(pod, container, flags, problems)
    check_security(pod, problems)
    return problems


def main(argv):
    with open(argv[1]) as f:
        problems = check(list(yaml.safe_load_all(f)))
    for problem in problems:
        print(problem)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
