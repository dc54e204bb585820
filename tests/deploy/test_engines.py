"""The engines' values (Temporal and NATS charts, CloudNativePG clusters) agree with the services'
configuration, and the search-attribute job really registers our attributes on a real Temporal
server."""

import asyncio
import importlib
import json
import os
import pkgutil
import re
import subprocess
from pathlib import Path
from typing import Any

import kubernetes_validate  # type: ignore[import-untyped]
import yaml
from temporalio.common import SearchAttributeIndexedValueType, SearchAttributeKey
from temporalio.testing import WorkflowEnvironment

import workflows
from tests.deploy.support import DEPLOY, PROCESSES, load_yaml, one, render
from tests.support.processes import venv_binary

HELM = DEPLOY / "helm"

# The attributes Diskominfo filters by (issue 7), with their Temporal types.
REQUIRED_ATTRIBUTES = {
    "DesaCode": "Keyword",
    "KecamatanCode": "Keyword",
    "LetterType": "Keyword",
    "Step": "Keyword",
    "AssigneeRole": "Keyword",
    "Deadline": "Datetime",
    "Overdue": "Bool",
    "Status": "Keyword",
}
TYPE_NAMES = {
    SearchAttributeIndexedValueType.KEYWORD: "Keyword",
    SearchAttributeIndexedValueType.TEXT: "Text",
    SearchAttributeIndexedValueType.INT: "Int",
    SearchAttributeIndexedValueType.DOUBLE: "Double",
    SearchAttributeIndexedValueType.BOOL: "Bool",
    SearchAttributeIndexedValueType.DATETIME: "Datetime",
    SearchAttributeIndexedValueType.KEYWORD_LIST: "KeywordList",
}


def common_config() -> dict[str, str]:
    data: dict[str, str] = one(render("production"), "ConfigMap", "smartdesa-common")["data"]
    return data


def temporal_values() -> dict[str, Any]:
    values: dict[str, Any] = load_yaml(HELM / "temporal-values.yaml")
    return values


def search_attribute_job() -> dict[str, Any]:
    """The Job in extraObjects, with the chart's template expressions filled in as Helm would
    for release "temporal" in namespace "temporal"."""
    values = temporal_values()
    (text,) = values["extraObjects"]
    fills = {
        ".Release.Namespace": "temporal",
        ".Release.Name": "temporal",
        ".Values.admintools.image.repository": "temporalio/admin-tools",
        ".Values.admintools.image.tag": "1.31.2",
    }
    rendered = re.sub(r"\{\{\s*([^}]+?)\s*\}\}", lambda m: fills[m[1]], text)
    job: dict[str, Any] = yaml.safe_load(rendered)
    return job


def job_env() -> dict[str, str]:
    (container,) = search_attribute_job()["spec"]["template"]["spec"]["containers"]
    return {e["name"]: e["value"] for e in container["env"]}


def declared_in_code() -> dict[str, str]:
    """Search attribute keys the workflow code defines (module-level SearchAttributeKey)."""
    found: dict[str, str] = {}
    for info in pkgutil.walk_packages(workflows.__path__, "workflows."):
        module = importlib.import_module(info.name)
        for value in vars(module).values():
            if isinstance(value, SearchAttributeKey):
                found[value.name] = TYPE_NAMES[value.indexed_value_type]
    return found


def test_search_attribute_job_is_a_valid_job() -> None:
    kubernetes_validate.validate(search_attribute_job(), "1.31.0", strict=True)


def test_search_attributes_cover_the_required_and_the_code() -> None:
    registered = dict(pair.split("=") for pair in job_env()["SEARCH_ATTRIBUTES"].split())
    assert REQUIRED_ATTRIBUTES.items() <= registered.items()
    for name, kind in declared_in_code().items():
        assert registered.get(name) == kind, f"the workflow uses {name} ({kind}); register it"


def test_temporal_namespace_and_address_match_the_services() -> None:
    values = temporal_values()
    config = common_config()
    namespaces = [n["name"] for n in values["server"]["config"]["namespaces"]["namespace"]]
    assert values["server"]["config"]["namespaces"]["create"] is True
    assert namespaces == [config["SMARTDESA_TEMPORAL_NAMESPACE"]]
    assert job_env()["TEMPORAL_NAMESPACE"] == config["SMARTDESA_TEMPORAL_NAMESPACE"]
    # Release "temporal" in namespace "temporal": the chart names the frontend <release>-frontend.
    assert config["SMARTDESA_TEMPORAL_ADDRESS"] == "temporal-frontend.temporal.svc:7233"
    assert job_env()["TEMPORAL_ADDRESS"] == "temporal-frontend:7233"


def test_temporal_persists_in_its_cloudnativepg_cluster() -> None:
    stores = temporal_values()["server"]["config"]["persistence"]["datastores"]
    cluster = load_yaml(DEPLOY / "cnpg" / "temporal-pg.yaml")
    assert cluster["kind"] == "Cluster"
    initdb = cluster["spec"]["bootstrap"]["initdb"]
    databases = {initdb["database"]} | {
        m[1]
        for sql in initdb.get("postInitApplicationSQL", [])
        for m in [re.match(r"CREATE DATABASE (\w+) OWNER (\w+)", sql)]
        if m
    }
    rw_service = f"{cluster['metadata']['name']}-rw.{cluster['metadata']['namespace']}.svc:5432"
    for name, expected_db in (("default", "temporal"), ("visibility", "temporal_visibility")):
        sql = stores[name]["sql"]
        assert sql["pluginName"] == "postgres12"
        assert sql["connectAddr"] == rw_service
        assert sql["databaseName"] == expected_db and expected_db in databases
        assert sql["user"] == initdb["owner"]
        # CloudNativePG's generated Secret for the owner; no password in the values.
        assert sql["existingSecret"] == f"{cluster['metadata']['name']}-app"
        assert "password" not in sql
        assert sql["createDatabase"] is False and sql["manageSchema"] is True


def test_temporal_ui_signs_in_through_the_kabupaten_sso() -> None:
    web = temporal_values()["web"]
    env = {e["name"]: e["value"] for e in web["additionalEnv"]}
    assert env["TEMPORAL_AUTH_ENABLED"] == "true"
    assert env["TEMPORAL_AUTH_TYPE"] == "oidc"
    for name in ("PROVIDER_URL", "CLIENT_ID", "CALLBACK_URL", "SCOPES"):
        assert env[f"TEMPORAL_AUTH_{name}"]
    assert "openid" in env["TEMPORAL_AUTH_SCOPES"].split(",")
    assert "TEMPORAL_AUTH_CLIENT_SECRET" not in env, "the client secret comes from a Secret"
    assert f"`{web['additionalEnvSecretName']}`" in (DEPLOY / "README.md").read_text()


def test_nats_is_a_three_node_jetstream_cluster_on_files() -> None:
    values = load_yaml(HELM / "nats-values.yaml")
    config = values["config"]
    assert config["cluster"]["enabled"] is True
    assert config["cluster"]["replicas"] == 3
    assert config["jetstream"]["enabled"] is True
    assert config["jetstream"]["fileStore"]["enabled"] is True
    assert config["jetstream"]["fileStore"]["pvc"]["enabled"] is True
    assert config["jetstream"]["memoryStore"]["enabled"] is False
    common = common_config()
    # Release "nats" in namespace "nats": the chart's client Service is named after the release.
    assert common["SMARTDESA_NATS_URL"] == "nats://nats.nats.svc:4222"
    assert int(common["SMARTDESA_NATS_STREAM_REPLICAS"]) == config["cluster"]["replicas"]


def test_each_service_has_its_own_database_and_role() -> None:
    documents = list(yaml.safe_load_all((DEPLOY / "cnpg" / "smartdesa-pg.yaml").read_text()))
    (cluster,) = [d for d in documents if d and d["kind"] == "Cluster"]
    assert cluster["metadata"]["namespace"] == "smartdesa"
    name = cluster["metadata"]["name"]
    initdb = cluster["spec"]["bootstrap"]["initdb"]
    owners = {initdb["database"]: initdb["owner"]}
    passwords = {initdb["owner"]: initdb["secret"]["name"]}
    for role in cluster["spec"]["managed"]["roles"]:
        assert role["login"] is True and role["ensure"] == "present"
        passwords[role["name"]] = role["passwordSecret"]["name"]
    for database in (d for d in documents if d and d["kind"] == "Database"):
        assert database["spec"]["cluster"]["name"] == name
        owners[database["spec"]["name"]] = database["spec"]["owner"]
    with_database = {
        p.name for p in PROCESSES if f"{p.name}_database_url" in p.settings_class().model_fields
    }
    assert with_database == {"intake", "verification", "signing", "notification"}
    assert owners == {service: service for service in with_database}
    readme = (DEPLOY / "README.md").read_text()
    for role, secret in passwords.items():
        assert role in with_database
        assert f"`{secret}`" in readme
    # The services' NetworkPolicies select this cluster's pods.
    for process in with_database:
        policy = one(render("production"), "NetworkPolicy", process)
        selectors = [
            peer.get("podSelector", {}) for r in policy["spec"]["egress"] for peer in r["to"]
        ]
        assert {"matchLabels": {"cnpg.io/cluster": name}} in selectors


async def test_search_attribute_job_registers_them_on_a_real_server(
    temporal_env: WorkflowEnvironment, tmp_path: Path
) -> None:
    """Run the Job's script with the temporal CLI against the dev server, twice (post-upgrade
    runs it again), and read the attributes back."""
    (container,) = search_attribute_job()["spec"]["template"]["spec"]["containers"]
    assert container["command"] == ["/bin/sh", "-c"]
    (script,) = container["args"]
    target = temporal_env.client.service_client.config.target_host
    cli = venv_binary("temporal")
    namespace = job_env()["TEMPORAL_NAMESPACE"]
    env = {
        **os.environ,
        **job_env(),
        "TEMPORAL_ADDRESS": target,
        "PATH": f"{Path(cli).parent}:{os.environ['PATH']}",
        "HOME": str(tmp_path),
    }

    def run(*argv: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(list(argv), env=env, capture_output=True, text=True, timeout=120)

    created = await asyncio.to_thread(
        run, cli, "operator", "namespace", "create", "--namespace", namespace, "--address", target
    )
    assert created.returncode == 0, created.stderr
    for _ in range(2):
        job = await asyncio.to_thread(run, "/bin/sh", "-c", script)
        assert job.returncode == 0, job.stdout + job.stderr
    listed = await asyncio.to_thread(
        run, cli, "operator", "search-attribute", "list", "--namespace", namespace, "-o", "json"
    )
    assert listed.returncode == 0, listed.stderr
    custom = json.loads(listed.stdout)["customAttributes"]
    types = {name: kind.removeprefix("INDEXED_VALUE_TYPE_") for name, kind in custom.items()}
    for name, kind in REQUIRED_ATTRIBUTES.items():
        assert types[name].replace("_", "").lower() == kind.lower(), (name, types[name])
