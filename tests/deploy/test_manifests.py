"""The Kubernetes manifests agree with the code: ports, probes, the environment variables the
settings read, the gRPC targets, who may talk to whom, and the pod hardening."""

import ast
import re
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
from pydantic import ValidationError

from tests.deploy.support import (
    BY_NAME,
    DEPLOY,
    OVERLAYS,
    PROCESSES,
    ROOT,
    Doc,
    Process,
    container_env,
    env_names,
    find,
    main_container,
    one,
    pod_spec,
    render,
)

pytestmark = pytest.mark.parametrize("overlay", OVERLAYS)
by_process = pytest.mark.parametrize("process", PROCESSES, ids=lambda p: p.name)

# Variables outside our settings that a container may carry (read by libraries, not by us).
FOREIGN_ENV_PREFIXES = ("OTEL_",)


def ports_of(container: Doc) -> dict[str, int]:
    return {p["name"]: p["containerPort"] for p in container.get("ports", [])}


@by_process
def test_each_process_has_its_objects(overlay: str, process: Process) -> None:
    docs = render(overlay)
    deployment = one(docs, "Deployment", process.name)
    spec = deployment["spec"]["template"]["spec"]
    one(docs, "ServiceAccount", process.name)
    assert spec["serviceAccountName"] == process.name
    one(docs, "ConfigMap", f"{process.name}-config")
    one(docs, "NetworkPolicy", process.name)
    assert bool(find(docs, "Service", process.name)) == (process.http or process.grpc)
    selector = deployment["spec"]["selector"]["matchLabels"]
    assert selector.items() <= deployment["spec"]["template"]["metadata"]["labels"].items()


@by_process
def test_container_ports_are_the_settings_ports(overlay: str, process: Process) -> None:
    docs = render(overlay)
    container = main_container(docs, process.name)
    env = container_env(docs, process.name)
    expected: dict[str, int] = {}
    for kind, serves in (("http", process.http), ("grpc", process.grpc)):
        if not serves:
            continue
        field = f"{process.name}_{kind}_port"
        port = process.default(field)
        expected[kind] = port
        # What the process listens on: the setting (if the manifest sets it) or its default.
        assert int(env.get(f"SMARTDESA_{field.upper()}") or port) == port
        # Listening on loopback (the default) would make the pod unreachable.
        assert env[f"SMARTDESA_{process.name.upper()}_{kind.upper()}_HOST"] == "0.0.0.0"
    metrics_field = f"{process.name}_metrics_port"
    if metrics_field in process.settings_class().model_fields:
        # A process without an HTTP port serves its metrics on a port of its own: set in the
        # manifest (unset means not served), on all interfaces so Prometheus reaches it.
        port_value = env.get(f"SMARTDESA_{metrics_field.upper()}")
        assert port_value, f"{process.name}: {metrics_field} is unset, so nothing is scraped"
        expected["metrics"] = int(port_value)
        assert env[f"SMARTDESA_{process.name.upper()}_METRICS_HOST"] == "0.0.0.0"
    assert ports_of(container) == expected
    services = find(docs, "Service", process.name)
    for service in services:
        for port in service["spec"]["ports"]:
            assert port["targetPort"] in ("http", "grpc"), port
            assert port["port"] == expected[port["targetPort"]]
        assert (
            service["spec"]["selector"]
            == one(docs, "Deployment", process.name)["spec"]["selector"]["matchLabels"]
        )


@by_process
def test_probes_fit_what_the_process_serves(overlay: str, process: Process) -> None:
    docs = render(overlay)
    container = main_container(docs, process.name)
    probes = [container[k] for k in ("startupProbe", "readinessProbe", "livenessProbe")]
    assert all(probes), "startup, readiness and liveness probes are all set"
    ports = ports_of(container)
    if process.grpc:
        # Native gRPC probes ask grpc.health.v1, which common/rpc.GrpcServer serves.
        assert any(p.get("grpc", {}).get("port") == ports["grpc"] for p in probes)
    if process.http:
        http_probes = [p["httpGet"] for p in probes if "httpGet" in p]
        assert http_probes
        for probe in http_probes:
            assert probe["path"] == "/healthz"
            assert probe["port"] in ("http", ports["http"])
    if not (process.http or process.grpc):
        # The worker serves no port: its probe is the ready file it keeps while polling.
        ready_file = container_env(docs, process.name)["SMARTDESA_WORKER_READY_FILE"]
        for probe in probes:
            assert probe["exec"]["command"] == ["test", "-f", ready_file]
        assert ready_file is not None and ready_file.startswith("/tmp/")
    for probe in probes:
        assert "tcpSocket" not in probe


@by_process
def test_every_variable_is_one_the_settings_read(overlay: str, process: Process) -> None:
    docs = render(overlay)
    known = env_names(process.settings_class())
    env = container_env(docs, process.name)
    unknown = {
        name for name in env if name not in known and not name.startswith(FOREIGN_ENV_PREFIXES)
    }
    assert not unknown, f"{process.name} sets variables its settings never read: {unknown}"


@by_process
def test_settings_accept_the_manifest_values(
    overlay: str, process: Process, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The configured values parse: a typo in a number or a profile fails here, not at start."""
    docs = render(overlay)
    for name in list(env_names(process.settings_class())):
        monkeypatch.delenv(name, raising=False)
    for name, value in container_env(docs, process.name).items():
        # Secret-backed values are the operator's; any string stands in for them here.
        monkeypatch.setenv(name, value if value is not None else "from-a-secret")
    try:
        settings: Any = process.settings_class()()
    except ValidationError as exc:
        pytest.fail(f"{process.name}: {exc}")
    assert settings.profile == "production"
    data_dir = str(settings.data_dir)
    mounts = {m["mountPath"] for m in main_container(docs, process.name)["volumeMounts"]}
    assert data_dir in mounts, "the data folder is a mounted volume (the root is read-only)"
    volumes = {v["name"]: v for v in pod_spec(docs, process.name)["volumes"]}
    mount_sources = {
        m["mountPath"]: volumes[m["name"]]
        for m in main_container(docs, process.name)["volumeMounts"]
    }
    for field in process.settings_class().model_fields:
        if not field.endswith(("_file", "_dir")) or field == "data_dir":
            continue
        path = getattr(settings, field)
        if path is None:
            continue
        # Key files and the PKI folder come from Secrets (the PKI through the init container's
        # memory-backed folder), never from the image or a writable volume.
        mount = next((m for m in mounts if str(path) == m or str(path).startswith(m + "/")), None)
        assert mount is not None, f"{process.name}: {field}={path} is on no mounted volume"
        if not str(path).startswith("/tmp/"):
            source = mount_sources[mount]
            assert "secret" in source or source.get("emptyDir", {}).get("medium") == "Memory", (
                f"{process.name}: {field} is not mounted from a Secret"
            )
    for field in secret_files_the_code_reads(process):
        assert getattr(settings, field) is not None, (
            f"{process.name} reads {field} but the manifests do not set it: the production "
            "profile would not start"
        )


def _sources(process: Process) -> list[Path]:
    """The process's own package and the common modules it imports."""
    package = ROOT / Path(process.source).parent
    files = list(package.rglob("*.py"))
    common: set[str] = set()
    for path in files:
        common.update(re.findall(r"^\s*from common\.(\w+) import", path.read_text(), re.M))
    # common.secrets names every key for the dev profile's generator, and common.auth every token
    # key for whichever role a process takes: neither says what this process needs.
    common -= {"secrets", "auth"}
    modules = [ROOT / "common" / f"{name}.py" for name in sorted(common)]
    packages = [ROOT / "common" / name / "__init__.py" for name in sorted(common)]
    return files + [p for p in (*modules, *packages) if p.exists()]


# Secret files only some set-ups use (an HSM, BSrE, encrypted keys): checked when set, above.
CONDITIONAL_FILES = {
    "signing_pkcs11_module",
    "signing_pkcs11_pin_file",
    "signing_bsre_password_file",
    "signing_key_password_file",
    "worker_ready_file",
}


def secret_files_the_code_reads(process: Process) -> set[str]:
    """The `*_file` settings the process's code (or the common code it imports) reads through
    `settings.<field>`: the production profile has no default for them, so each must be set."""
    fields = set(process.settings_class().model_fields)
    used: set[str] = set()
    for path in _sources(process):
        used.update(re.findall(r"settings\.(\w+_file)\b", path.read_text()))
    return (used & fields) - CONDITIONAL_FILES


def test_grpc_targets_name_our_services(overlay: str) -> None:
    docs = render(overlay)
    common = one(docs, "ConfigMap", "smartdesa-common")["data"]
    targets = {k: v for k, v in common.items() if k.endswith("_GRPC_TARGET")}
    servers = [p for p in PROCESSES if p.grpc]
    assert set(targets) == {f"SMARTDESA_{p.name.upper()}_GRPC_TARGET" for p in servers}
    for process in servers:
        host, _, port = targets[f"SMARTDESA_{process.name.upper()}_GRPC_TARGET"].rpartition(":")
        service = one(docs, "Service", host)
        grpc_ports = [p["port"] for p in service["spec"]["ports"] if p["name"] == "grpc"]
        assert grpc_ports == [int(port)]


def test_secrets_are_referenced_and_documented(overlay: str) -> None:
    """No Secret is rendered; every Secret a pod needs is one deploy/README.md tells the
    operator to create."""
    docs = render(overlay)
    assert not find(docs, "Secret"), "Secrets are created by the operator, never committed"
    readme = (DEPLOY / "README.md").read_text()
    referenced: set[str] = set()
    for deployment in find(docs, "Deployment"):
        spec = deployment["spec"]["template"]["spec"]
        for volume in spec.get("volumes", []):
            if "secret" in volume:
                referenced.add(volume["secret"]["secretName"])
        for container in spec["containers"] + spec.get("initContainers", []):
            for var in container.get("env", []):
                ref = var.get("valueFrom", {}).get("secretKeyRef")
                if ref:
                    referenced.add(ref["name"])
            for source in container.get("envFrom", []):
                if "secretRef" in source:
                    referenced.add(source["secretRef"]["name"])
    assert referenced
    undocumented = {name for name in referenced if f"`{name}`" not in readme}
    assert not undocumented, f"deploy/README.md does not say how to create {undocumented}"


def test_no_secret_is_committed_under_deploy(overlay: str) -> None:
    for path in DEPLOY.rglob("*.yaml"):
        assert not re.search(r"^kind:\s*Secret\s*$", path.read_text(), re.M), path
        assert "BEGIN PRIVATE KEY" not in path.read_text(), path
    assert overlay


@by_process
def test_pods_are_locked_down(overlay: str, process: Process) -> None:
    docs = render(overlay)
    spec = pod_spec(docs, process.name)
    assert spec["automountServiceAccountToken"] is False
    pod_security = spec["securityContext"]
    assert pod_security["runAsNonRoot"] is True
    assert pod_security["runAsUser"] != 0
    assert pod_security["seccompProfile"] == {"type": "RuntimeDefault"}
    volumes = {v["name"]: v for v in spec["volumes"]}
    for container in spec["containers"] + spec.get("initContainers", []):
        security = container["securityContext"]
        assert security["readOnlyRootFilesystem"] is True
        assert security["allowPrivilegeEscalation"] is False
        assert security["capabilities"] == {"drop": ["ALL"]}
        for kind in ("requests", "limits"):
            assert {"cpu", "memory"} <= container["resources"][kind].keys(), container["name"]
    mounts = {m["mountPath"]: m["name"] for m in main_container(docs, process.name)["volumeMounts"]}
    assert "emptyDir" in volumes[mounts["/tmp"]], "a writable /tmp on a read-only root"


def test_worker_drains_before_it_is_killed(overlay: str) -> None:
    """Kubernetes waits longer than the worker's graceful_shutdown_timeout, so in-flight
    activities finish (or are handed back) before SIGKILL."""
    tree = ast.parse((ROOT / "workflows/approval/worker.py").read_text())
    seconds = [
        kw.value
        for node in ast.walk(tree)
        if isinstance(node, ast.Call)
        for kw in node.keywords
        if kw.arg == "graceful_shutdown_timeout"
    ]
    assert len(seconds) == 1
    call = seconds[0]
    assert isinstance(call, ast.Call) and call.keywords[0].arg == "seconds"
    drain = ast.literal_eval(call.keywords[0].value)
    grace = pod_spec(render(overlay), "worker")["terminationGracePeriodSeconds"]
    # The drain, then closing the gRPC channels and the Temporal connection.
    assert grace >= drain + 10


def test_replicas_autoscaling_and_disruption_budgets(overlay: str) -> None:
    docs = render(overlay)
    hpas = {h["spec"]["scaleTargetRef"]["name"]: h for h in find(docs, "HorizontalPodAutoscaler")}
    pdbs = find(docs, "PodDisruptionBudget")
    for process in PROCESSES:
        deployment = one(docs, "Deployment", process.name)
        replicas = deployment["spec"]["replicas"]
        if overlay == "dev":
            assert replicas == 1
            assert not hpas and not pdbs
            continue
        assert replicas >= 2
        hpa = hpas[process.name]
        assert hpa["spec"]["scaleTargetRef"]["kind"] == "Deployment"
        assert hpa["spec"]["minReplicas"] == replicas < hpa["spec"]["maxReplicas"]
        labels = deployment["spec"]["template"]["metadata"]["labels"]
        budgets = [
            p for p in pdbs if p["spec"]["selector"]["matchLabels"].items() <= labels.items()
        ]
        assert len(budgets) == 1
        assert budgets[0]["spec"]["minAvailable"] < replicas
        spread = deployment["spec"]["template"]["spec"]["topologySpreadConstraints"]
        assert any(
            c["topologyKey"] == "kubernetes.io/hostname"
            and c["labelSelector"]["matchLabels"].items() <= labels.items()
            for c in spread
        )


# -- network policies against the code ----------------------------------------------------------

ENGINE_PORTS = {"postgres": 5432, "nats": 4222, "temporal": 7233}


def code_peers(process: Process) -> set[str]:
    """What the process connects to, read from the file that opens its connections."""
    source = (ROOT / process.source).read_text()
    peers = set(re.findall(r"client_channel\(\s*settings\.(\w+)_grpc_target", source))
    if "settings.nats_url" in source:
        peers.add("nats")
    if "settings.temporal_address" in source:
        peers.add("temporal")
    if "create_engine(" in source:
        peers.add("postgres")
    return peers


def _peer_of(rule_peer: Doc) -> str:
    if "ipBlock" in rule_peer:
        return "outside"
    pod = rule_peer.get("podSelector", {}).get("matchLabels", {})
    namespace = rule_peer.get("namespaceSelector", {}).get("matchLabels", {})
    if "cnpg.io/cluster" in pod and not namespace:
        return "postgres"
    if namespace.get("kubernetes.io/metadata.name") in ("nats", "temporal"):
        return str(namespace["kubernetes.io/metadata.name"])
    if not namespace and pod.get("app.kubernetes.io/name") in BY_NAME:
        return str(pod["app.kubernetes.io/name"])
    if namespace:
        return "namespace:" + str(namespace.get("kubernetes.io/metadata.name"))
    return f"unknown {rule_peer}"


def _policy(docs: tuple[Doc, ...], name: str) -> Doc:
    policy = one(docs, "NetworkPolicy", name)
    assert policy["spec"]["podSelector"]["matchLabels"] == {"app.kubernetes.io/name": name}
    assert sorted(policy["spec"]["policyTypes"]) == ["Egress", "Ingress"]
    return policy


def _policies_selecting(docs: tuple[Doc, ...], name: str) -> list[Doc]:
    labels = one(docs, "Deployment", name)["spec"]["template"]["metadata"]["labels"]
    return [
        p
        for p in find(docs, "NetworkPolicy")
        if p["spec"]["podSelector"].get("matchLabels", {}).items() <= labels.items()
    ]


def _grpc_port(docs: tuple[Doc, ...], name: str) -> int:
    return ports_of(main_container(docs, name))["grpc"]


@by_process
def test_egress_is_exactly_what_the_code_calls(overlay: str, process: Process) -> None:
    docs = render(overlay)
    allowed: dict[str, set[int]] = {}
    _policy(docs, process.name)
    for policy in _policies_selecting(docs, process.name):
        for rule in policy["spec"].get("egress", []):
            ports = {p["port"] for p in rule["ports"]}
            for peer in rule["to"]:
                allowed.setdefault(_peer_of(peer), set()).update(ports)
    needed = code_peers(process)
    assert needed, process.source
    expected = {
        peer: {ENGINE_PORTS[peer]} if peer in ENGINE_PORTS else {_grpc_port(docs, peer)}
        for peer in needed
    }
    if process.name == "notification":
        # Providers outside the cluster: HTTPS APIs (WhatsApp, SMS) and SMTP submission.
        expected["outside"] = {443, 465, 587}
    expected["namespace:kube-system"] = {53}  # cluster DNS
    otlp = container_env(docs, process.name).get("SMARTDESA_OTLP_ENDPOINT")
    if otlp:
        # Traces go to the collector the setting names: <service>.<namespace>[.svc...]:<port>.
        url = urlsplit(otlp)
        assert url.hostname and url.port, otlp
        expected[f"namespace:{url.hostname.split('.')[1]}"] = {url.port}
    assert allowed == expected


@by_process
def test_ingress_is_exactly_who_calls(overlay: str, process: Process) -> None:
    docs = render(overlay)
    allowed: dict[int, set[str]] = {}
    for rule in _policy(docs, process.name)["spec"].get("ingress", []):
        for port in rule["ports"]:
            allowed.setdefault(port["port"], set()).update(_peer_of(p) for p in rule["from"])
    ports = ports_of(main_container(docs, process.name))
    expected: dict[int, set[str]] = {}
    if process.http:
        expected[ports["http"]] = {"namespace:ingress-nginx", "namespace:monitoring"}
    if process.grpc:
        expected[ports["grpc"]] = {c.name for c in PROCESSES if process.name in code_peers(c)}
    if "metrics" in ports:
        expected[ports["metrics"]] = {"namespace:monitoring"}
    assert allowed == expected


def test_everything_else_is_denied(overlay: str) -> None:
    docs = render(overlay)
    deny = one(docs, "NetworkPolicy", "default-deny")["spec"]
    assert deny["podSelector"] == {"matchLabels": {"app.kubernetes.io/part-of": "smartdesa"}}
    assert sorted(deny["policyTypes"]) == ["Egress", "Ingress"]
    assert "ingress" not in deny and "egress" not in deny
    for process in PROCESSES:
        labels = one(docs, "Deployment", process.name)["spec"]["template"]["metadata"]["labels"]
        assert labels["app.kubernetes.io/part-of"] == "smartdesa"


# -- metrics -------------------------------------------------------------------------------------


@by_process
def test_prometheus_scrapes_every_process(overlay: str, process: Process) -> None:
    """Every pod says where its /metrics is (the HTTP port, or the worker's metrics port)."""
    docs = render(overlay)
    template = one(docs, "Deployment", process.name)["spec"]["template"]
    annotations = template["metadata"]["annotations"]
    ports = ports_of(main_container(docs, process.name))
    assert annotations["prometheus.io/scrape"] == "true"
    assert annotations["prometheus.io/path"] == "/metrics"
    assert int(annotations["prometheus.io/port"]) == ports.get("http", ports.get("metrics"))


def test_metrics_are_not_public_and_the_webhook_is(overlay: str) -> None:
    """On every public host /metrics goes nowhere; WhatsApp reaches notification's webhook."""
    from services.notification.api.routes.whatsapp_webhook import router

    docs = render(overlay)
    ingresses = find(docs, "Ingress")
    if overlay == "dev":
        assert not ingresses
        return
    (ingress,) = ingresses
    webhook_hosts = []
    for rule in ingress["spec"]["rules"]:
        paths = rule["http"]["paths"]
        blocked = [p for p in paths if p["path"] == "/metrics"]
        assert len(blocked) == 1 and blocked[0]["pathType"] == "Exact", rule["host"]
        sink = one(docs, "Service", blocked[0]["backend"]["service"]["name"])
        assert "selector" not in sink["spec"], "the /metrics backend has no pods"
        for path in paths:
            service = path["backend"]["service"]["name"]
            if (
                service == "notification"
                and path["pathType"] == "Prefix"
                and router.prefix.startswith(path["path"])
            ):
                webhook_hosts.append(rule["host"])
    assert len(webhook_hosts) == 1, "the WhatsApp webhook has one public address"


def test_notification_names_real_providers_and_public_links(overlay: str) -> None:
    """Provider names the code knows for their channel (a typo would stop notification at
    start), and letter links that open on intake's public host where there is an Ingress."""
    from services.notification.channels import PROVIDER_CHANNELS, REQUIRED_CHANNELS

    docs = render(overlay)
    env = container_env(docs, "notification")
    for channel in ("whatsapp", "sms", "email"):
        provider = env.get(f"SMARTDESA_NOTIFICATION_{channel.upper()}_PROVIDER")
        assert provider is not None or channel not in REQUIRED_CHANNELS, channel
        if provider is not None:
            assert provider != "dev", "the dev sink sends nothing"
            assert channel in PROVIDER_CHANNELS[provider], (channel, provider)
    base = urlsplit(env["SMARTDESA_NOTIFICATION_LETTER_LINK_BASE_URL"] or "")
    assert base.scheme == "https"
    for ingress in find(docs, "Ingress"):
        hosts = {
            rule["host"]
            for rule in ingress["spec"]["rules"]
            for path in rule["http"]["paths"]
            if path["backend"]["service"]["name"] == "intake" and path["path"] == "/"
        }
        assert base.hostname in hosts
