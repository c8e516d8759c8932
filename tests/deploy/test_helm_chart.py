"""Render helm/triage with the real Helm engine and check what an operator relies on."""

from __future__ import annotations

import copy
import json
import re
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml

from .conftest import CHART_DIR, RELEASE, Manifest, annotations_of, find, one, parse_manifests
from .crd_schemas import CUSTOM_RESOURCE_SCHEMAS

pytestmark = pytest.mark.integration

# The oldest Kubernetes the chart declares (Chart.yaml kubeVersion) and the newest schema bundled.
KUBE_VERSIONS = ("1.27.0", "1.37.0")
FULL = "triage"  # fullnameOverride in ci/full-values.yaml
DEFAULT = f"{RELEASE}-triage"
WORKLOAD_KINDS = {"Deployment", "StatefulSet"}
OPTIONAL_KINDS = {
    "Ingress",
    "HorizontalPodAutoscaler",
    "ScaledObject",
    "TriggerAuthentication",
    "ServiceMonitor",
    "PrometheusRule",
    "StatefulSet",
}


def _containers(workload: Manifest) -> list[dict[str, Any]]:
    containers: list[dict[str, Any]] = workload["spec"]["template"]["spec"]["containers"]
    return containers


def _env(container: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {entry["name"]: entry for entry in container.get("env", [])}


def _pods(manifests: list[Manifest]) -> list[tuple[Manifest, dict[str, Any]]]:
    """Every pod spec rendered, with the object that holds it."""
    pods = []
    for manifest in manifests:
        if manifest["kind"] in WORKLOAD_KINDS | {"Job"}:
            pods.append((manifest, manifest["spec"]["template"]["spec"]))
        elif manifest["kind"] == "Pod":
            pods.append((manifest, manifest["spec"]))
    return pods


def _selectors(manifests: list[Manifest]) -> dict[tuple[str, str], dict[str, str]]:
    """Selectors of every workload, Service and PodDisruptionBudget, by kind and name."""
    selectors = {}
    for m in manifests:
        key = (m["kind"], m["metadata"]["name"])
        if m["kind"] in WORKLOAD_KINDS or m["kind"] == "PodDisruptionBudget":
            selectors[key] = m["spec"]["selector"]["matchLabels"]
        elif m["kind"] == "Service":
            selectors[key] = m["spec"]["selector"]
    return selectors


# --- the chart renders and validates ------------------------------------------------------------


@pytest.mark.parametrize("value_set", ["default", "full"])
@pytest.mark.parametrize("kube_version", KUBE_VERSIONS)
def test_every_manifest_validates_against_kubernetes_schemas(
    value_set: str,
    kube_version: str,
    default_manifests: list[Manifest],
    full_manifests: list[Manifest],
) -> None:
    import kubernetes_validate

    manifests = default_manifests if value_set == "default" else full_manifests
    assert manifests, "the chart rendered nothing"
    for manifest in manifests:
        custom = CUSTOM_RESOURCE_SCHEMAS.get((manifest["apiVersion"], manifest["kind"]))
        if custom is not None:
            jsonschema.validate(manifest, custom)
            continue
        # strict: unknown fields are errors, so a misspelt key cannot pass silently.
        kubernetes_validate.validate(manifest, kube_version, strict=True)


def test_crd_schemas_reject_a_misspelt_field(full_manifests: list[Manifest]) -> None:
    monitor = copy.deepcopy(find(full_manifests, "ServiceMonitor")[0])
    monitor["spec"]["endpoints"][0]["scrapeInterval"] = "30s"
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(monitor, CUSTOM_RESOURCE_SCHEMAS[("monitoring.coreos.com/v1", "ServiceMonitor")])


def test_kubernetes_validation_rejects_a_misspelt_field(default_manifests: list[Manifest]) -> None:
    import kubernetes_validate

    deployment = copy.deepcopy(one(default_manifests, "Deployment", f"{DEFAULT}-api"))
    deployment["spec"]["template"]["spec"]["containers"][0]["resource"] = {}
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(deployment, KUBE_VERSIONS[-1], strict=True)


@pytest.mark.parametrize("value_set", ["default", "full"])
def test_helm_lint_is_clean(helm: Any, value_set: str, full_values: dict[str, Any]) -> None:
    values = None if value_set == "default" else full_values
    report = helm.lint(str(CHART_DIR), values, strict=True, kube_version="v1.30.0")
    problems = [m for m in report["messages"] if m["severity"] >= 2]  # 2 = warning, 3 = error
    assert not report["errors"] and not problems, report


def test_chart_packages_with_its_files_and_without_ci_values(helm: Any, tmp_path: Path) -> None:
    archive = helm.package(str(CHART_DIR), destination=str(tmp_path))
    with helm.Chart.load(archive) as packaged:
        names = {f["name"] for f in packaged.files}
        assert packaged.version == yaml.safe_load((CHART_DIR / "Chart.yaml").read_text())["version"]
        assert packaged.schema is not None
    assert any(n.startswith("files/dashboards/") for n in names)
    assert any(n.startswith("files/rules/") for n in names)
    assert not any(n.startswith("ci/") for n in names)


def test_values_schema_accepts_both_value_sets(chart: Any, full_values: dict[str, Any]) -> None:
    chart.validate_schema(None)
    chart.validate_schema(full_values)


@pytest.mark.parametrize(
    "bad_values",
    [
        {"secrets": {"apiKey": "s3cr3t"}},
        {"database": {"url": "postgresql+psycopg://u:p@h/db"}},
        {"workers": {"inference": {"gpu": {"count": 0}}}},
        {"api": {"ingress": {"pathType": "Anything"}}},
        {"redis": {"maxmemory": "lots"}},
    ],
    ids=["api-key-as-value", "database-url-as-value", "zero-gpus", "bad-path-type", "bad-maxmemory"],
)
def test_values_schema_refuses_bad_values(helm: Any, chart: Any, bad_values: dict[str, Any]) -> None:
    with pytest.raises(helm.HelmValuesError):
        chart.validate_schema(bad_values)


# --- GPU inference workers ----------------------------------------------------------------------


@pytest.mark.parametrize("value_set", ["default", "full"])
def test_inference_worker_requests_a_gpu_on_gpu_nodes(
    value_set: str, default_manifests: list[Manifest], full_manifests: list[Manifest]
) -> None:
    manifests, prefix = (default_manifests, DEFAULT) if value_set == "default" else (full_manifests, FULL)
    worker = one(manifests, "Deployment", f"{prefix}-worker-inference")
    pod = worker["spec"]["template"]["spec"]
    container = _containers(worker)[0]
    assert container["resources"]["limits"]["nvidia.com/gpu"] == 1
    assert "triage-worker-gpu" in container["image"]
    assert _env(container)["TRIAGE_DEVICE"]["value"] == "cuda"
    assert container["args"] == ["worker", "--queues", "inference", "--concurrency", "1"]
    assert {"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoSchedule"} in pod["tolerations"]
    if value_set == "full":
        assert pod["nodeSelector"] == {"nvidia.com/gpu.present": "true"}
        assert {"key": "dedicated", "operator": "Equal", "value": "gpu", "effect": "NoSchedule"} in pod[
            "tolerations"
        ]
        assert container["image"].endswith("@sha256:" + "0123456789abcdef" * 4)


def test_actions_worker_stays_on_cpu(default_manifests: list[Manifest]) -> None:
    worker = one(default_manifests, "Deployment", f"{DEFAULT}-worker-actions")
    container = _containers(worker)[0]
    assert "nvidia.com/gpu" not in container["resources"].get("limits", {})
    assert "triage-worker-cpu" in container["image"]
    assert _env(container)["TRIAGE_DEVICE"]["value"] == "cpu"
    assert container["args"] == ["worker", "--queues", "actions", "--concurrency", "4"]
    assert "tolerations" not in worker["spec"]["template"]["spec"]


def test_gpu_off_runs_inference_on_the_cpu_image(render: Callable[..., dict[str, str]]) -> None:
    manifests = parse_manifests(render({"workers": {"inference": {"gpu": {"enabled": False}}}}))
    container = _containers(one(manifests, "Deployment", f"{DEFAULT}-worker-inference"))[0]
    assert "nvidia.com/gpu" not in container["resources"].get("limits", {})
    assert "triage-worker-cpu" in container["image"]
    assert _env(container)["TRIAGE_DEVICE"]["value"] == "cpu"


def test_workers_get_their_process_environment(default_manifests: list[Manifest]) -> None:
    for name in ("inference", "actions"):
        worker = one(default_manifests, "Deployment", f"{DEFAULT}-worker-{name}")
        env = _env(_containers(worker)[0])
        assert env["TOKENIZERS_PARALLELISM"]["value"] == "false"
        assert env["HF_HUB_OFFLINE"]["value"] == "1"
        multiproc = env["PROMETHEUS_MULTIPROC_DIR"]["value"]
        mounts = {m["mountPath"]: m["name"] for m in _containers(worker)[0]["volumeMounts"]}
        volumes = {v["name"]: v for v in worker["spec"]["template"]["spec"]["volumes"]}
        # The multiprocess directory must be a fresh, writable emptyDir under a read-only root.
        assert "emptyDir" in volumes[mounts[multiproc]]
        assert env["TRIAGE_WORKER_METRICS_PORT"]["value"] == "9100"
        # The startup probe and Prometheus reach the pod address; the worker's default is loopback.
        assert env["TRIAGE_WORKER_METRICS_HOST"]["value"] == "0.0.0.0"


# --- secrets are referenced, never inlined ------------------------------------------------------

SECRET_ENV = {"TRIAGE_API_KEY", "TRIAGE_OUTBOUND_WEBHOOK_SECRET", "TRIAGE_DATABASE_URL", "REDIS_PASSWORD"}


@pytest.mark.parametrize("value_set", ["default", "full"])
def test_secrets_are_referenced_not_inlined(
    value_set: str, default_manifests: list[Manifest], full_manifests: list[Manifest]
) -> None:
    manifests = default_manifests if value_set == "default" else full_manifests
    assert not find(manifests, "Secret"), "the chart must not create or template a Secret"
    checked = 0
    for owner, pod in _pods(manifests):
        for container in pod["containers"]:
            for name, entry in _env(container).items():
                if name in SECRET_ENV or re.search(r"(KEY|SECRET|PASSWORD|TOKEN)$", name):
                    assert "value" not in entry, f"{owner['metadata']['name']}: {name} is inlined"
                    assert "secretKeyRef" in entry["valueFrom"], f"{name} must come from a Secret"
                    checked += 1
    assert checked >= 10


def test_api_gets_every_secret_by_reference(full_manifests: list[Manifest]) -> None:
    env = _env(_containers(one(full_manifests, "Deployment", f"{FULL}-api"))[0])
    refs = {name: env[name]["valueFrom"]["secretKeyRef"] for name in env if "valueFrom" in env[name]}
    assert refs["TRIAGE_API_KEY"] == {"name": "triage-app", "key": "api-key"}
    assert refs["TRIAGE_DATABASE_URL"] == {"name": "triage-postgres", "key": "database-url"}
    for optional in (
        "TRIAGE_OUTBOUND_WEBHOOK_SECRET",
        "TRIAGE_PAGER_ROUTING_KEY",
        "TRIAGE_PAGER_SECRET",
        "TRIAGE_DRAFT_ENDPOINT_API_KEY",
    ):
        assert refs[optional]["name"] == "triage-app" and refs[optional]["optional"] is True
    # Bundled Redis with a password: the URL is assembled by the kubelet from a secret reference.
    assert refs["REDIS_PASSWORD"] == {"name": "triage-redis", "key": "redis-password"}
    assert env["TRIAGE_REDIS_URL"]["value"] == "redis://:$(REDIS_PASSWORD)@triage-redis:6379/0"
    names = list(env)
    assert names.index("REDIS_PASSWORD") < names.index("TRIAGE_REDIS_URL"), "$(VAR) needs VAR first"


def test_external_redis_url_comes_from_a_secret(default_manifests: list[Manifest]) -> None:
    env = _env(_containers(one(default_manifests, "Deployment", f"{DEFAULT}-api"))[0])
    assert env["TRIAGE_REDIS_URL"]["valueFrom"]["secretKeyRef"] == {
        "name": f"{DEFAULT}-redis-url",
        "key": "redis-url",
    }


def test_tenants_file_is_mounted_from_a_secret(full_manifests: list[Manifest]) -> None:
    api = one(full_manifests, "Deployment", f"{FULL}-api")
    container = _containers(api)[0]
    volumes = {v["name"]: v for v in api["spec"]["template"]["spec"]["volumes"]}
    assert volumes["tenants"]["secret"]["secretName"] == "triage-tenants"
    mount = next(m for m in container["volumeMounts"] if m["name"] == "tenants")
    assert mount["readOnly"] is True
    assert _env(container)["TRIAGE_TENANTS_FILE"]["value"] == f"{mount['mountPath']}/tenants.yaml"


# --- selectors ----------------------------------------------------------------------------------


def test_selectors_match_their_pods_and_only_their_component(default_manifests: list[Manifest]) -> None:
    pods = {
        m["metadata"]["name"]: m["spec"]["template"]["metadata"]["labels"]
        for m in default_manifests
        if m["kind"] in WORKLOAD_KINDS
    }
    for (kind, name), selector in _selectors(default_manifests).items():
        assert "helm.sh/chart" not in selector and "app.kubernetes.io/version" not in selector
        matched = [pod for pod, labels in pods.items() if selector.items() <= labels.items()]
        assert len(matched) == 1, f"{kind}/{name} selects {matched}"


def test_selectors_are_stable_across_values_and_chart_upgrades(
    helm: Any, tmp_path: Path, render: Callable[..., dict[str, str]], full_values: dict[str, Any]
) -> None:
    before = _selectors(parse_manifests(render({"fullnameOverride": FULL})))
    changed_values = copy.deepcopy(full_values)
    changed_values["image"]["api"]["tag"] = "9.9.9"
    changed_values["api"]["podAnnotations"] = {"rolled": "yes"}
    changed_values["workers"]["inference"]["gpu"]["enabled"] = False
    # The next release of the chart: new chart version and appVersion, new values.
    upgraded_dir = tmp_path / "triage"
    shutil.copytree(CHART_DIR, upgraded_dir)
    chart_yaml = upgraded_dir / "Chart.yaml"
    metadata = yaml.safe_load(chart_yaml.read_text())
    metadata.update(version="9.8.7", appVersion="9.8.7")
    chart_yaml.write_text(yaml.safe_dump(metadata))
    with helm.Chart.load(str(upgraded_dir)) as upgraded:
        after = _selectors(parse_manifests(upgraded.render(changed_values, name=RELEASE, namespace="x")))
    shared = before.keys() & after.keys()
    assert {
        ("Deployment", f"{FULL}-api"),
        ("Deployment", f"{FULL}-worker-inference"),
        ("Service", f"{FULL}-api"),
    } <= shared
    for key in shared:
        assert before[key] == after[key], f"{key} selector changed: a Deployment selector is immutable"


# --- optional resources -------------------------------------------------------------------------


def test_optional_resources_are_absent_by_default(default_manifests: list[Manifest]) -> None:
    kinds = {m["kind"] for m in default_manifests}
    assert not kinds & OPTIONAL_KINDS, kinds & OPTIONAL_KINDS
    config_maps = find(default_manifests, "ConfigMap")
    assert not config_maps, "no policy, dashboard or Redis ConfigMap by default"
    api = one(default_manifests, "Deployment", f"{DEFAULT}-api")
    assert api["spec"]["replicas"] == 2
    assert "TRIAGE_POLICY_FILE" not in _env(_containers(api)[0])


def test_full_values_turn_every_optional_resource_on(full_manifests: list[Manifest]) -> None:
    kinds = {m["kind"] for m in full_manifests}
    assert kinds >= OPTIONAL_KINDS
    assert one(full_manifests, "HorizontalPodAutoscaler", f"{FULL}-api")["apiVersion"] == "autoscaling/v2"
    # The HPA and KEDA own the replica counts of what they scale.
    assert "replicas" not in one(full_manifests, "Deployment", f"{FULL}-api")["spec"]
    assert "replicas" not in one(full_manifests, "Deployment", f"{FULL}-worker-inference")["spec"]
    assert one(full_manifests, "Deployment", f"{FULL}-worker-actions")["spec"]["replicas"] == 3
    bulk = one(full_manifests, "Deployment", f"{FULL}-worker-bulk")
    assert _containers(bulk)[0]["args"][2] == "bulk,reindex"


def test_keda_scales_inference_on_its_redis_queue(full_manifests: list[Manifest]) -> None:
    scaled = one(full_manifests, "ScaledObject", f"{FULL}-worker-inference")
    assert scaled["spec"]["scaleTargetRef"]["name"] == f"{FULL}-worker-inference"
    assert scaled["spec"]["minReplicaCount"] == 0
    (trigger,) = scaled["spec"]["triggers"]
    assert trigger["type"] == "redis"
    assert trigger["metadata"]["listName"] == "inference"
    assert trigger["metadata"]["address"] == "triage-redis:6379"
    auth = one(full_manifests, "TriggerAuthentication", trigger["authenticationRef"]["name"])
    assert auth["spec"]["secretTargetRef"] == [
        {"parameter": "password", "name": "triage-redis", "key": "redis-password"}
    ]


def test_keda_without_a_redis_address_fails_clearly(helm: Any, render: Callable[..., dict[str, str]]) -> None:
    with pytest.raises(helm.HelmRenderError, match=r"keda\.redis\.address"):
        render({"keda": {"enabled": True}})


def test_bundled_redis_is_durable_and_never_evicts(full_manifests: list[Manifest]) -> None:
    config = one(full_manifests, "ConfigMap", "triage-redis")["data"]["redis.conf"]
    lines = {line.strip() for line in config.splitlines()}
    assert {"appendonly yes", "appendfsync everysec", "maxmemory-policy noeviction"} <= lines
    redis = one(full_manifests, "StatefulSet", "triage-redis")
    assert redis["spec"]["volumeClaimTemplates"][0]["spec"]["storageClassName"] == "fast-ssd"
    env = _env(_containers(redis)[0])
    assert "secretKeyRef" in env["REDIS_PASSWORD"]["valueFrom"]
    policy = one(full_manifests, "NetworkPolicy", "triage-redis")
    assert policy["spec"]["ingress"][0]["from"][0]["podSelector"]["matchLabels"] == {
        "app.kubernetes.io/name": "triage",
        "app.kubernetes.io/instance": RELEASE,
    }


def test_policy_configmap_is_mounted_and_rolls_pods(
    full_manifests: list[Manifest], full_values: dict[str, Any], render: Callable[..., dict[str, str]]
) -> None:
    policy = one(full_manifests, "ConfigMap", "triage-policy")
    assert yaml.safe_load(policy["data"]["policy.yaml"]) == yaml.safe_load(full_values["policy"]["content"])
    api = one(full_manifests, "Deployment", f"{FULL}-api")
    assert _env(_containers(api)[0])["TRIAGE_POLICY_FILE"]["value"] == "/etc/triage/policy/policy.yaml"
    checksum = annotations_of(api["spec"]["template"])["checksum/policy"]
    edited = copy.deepcopy(full_values)
    edited["policy"]["content"] += "# edited\n"
    api_after = one(parse_manifests(render(edited)), "Deployment", f"{FULL}-api")
    assert annotations_of(api_after["spec"]["template"])["checksum/policy"] != checksum


def test_example_policy_in_full_values_is_a_valid_policy(full_values: dict[str, Any]) -> None:
    """The policy operators copy from ci/full-values.yaml must pass the service's own schema."""
    schema_file = CHART_DIR.parents[1] / "workers" / "routing" / "policy.schema.json"
    schema = json.loads(schema_file.read_text())
    jsonschema.validate(yaml.safe_load(full_values["policy"]["content"]), schema)


def test_beat_runs_exactly_one_replica(full_manifests: list[Manifest]) -> None:
    beat = one(full_manifests, "Deployment", f"{FULL}-beat")
    assert beat["spec"]["replicas"] == 1
    assert beat["spec"]["strategy"] == {"type": "Recreate"}
    assert _containers(beat)[0]["args"] == ["beat"]


def test_migrations_run_as_a_hook_before_install_and_upgrade(default_manifests: list[Manifest]) -> None:
    job = one(default_manifests, "Job", f"{DEFAULT}-migrate")
    assert annotations_of(job)["helm.sh/hook"] == "pre-install,pre-upgrade"
    assert _containers(job)[0]["args"] == ["migrate"]
    assert "triage-api" in _containers(job)[0]["image"]


def test_helm_test_pod_checks_readiness(default_manifests: list[Manifest]) -> None:
    pod = one(default_manifests, "Pod", f"{DEFAULT}-test-connection")
    assert annotations_of(pod)["helm.sh/hook"] == "test"
    script = pod["spec"]["containers"][0]["command"][-1]
    assert f"http://{DEFAULT}-api:8000/readyz" in script


@pytest.mark.parametrize("value_set", ["default", "full"])
def test_every_pod_runs_as_non_root_with_a_read_only_root(
    value_set: str, default_manifests: list[Manifest], full_manifests: list[Manifest]
) -> None:
    manifests = default_manifests if value_set == "default" else full_manifests
    for owner, pod in _pods(manifests):
        assert pod["securityContext"]["runAsNonRoot"] is True, owner["metadata"]["name"]
        assert pod["automountServiceAccountToken"] is False
        for container in pod["containers"]:
            assert container["securityContext"]["readOnlyRootFilesystem"] is True
            assert container["securityContext"]["allowPrivilegeEscalation"] is False
            assert "memory" in container["resources"]["limits"], owner["metadata"]["name"]


def test_network_policies_cover_every_component(full_manifests: list[Manifest]) -> None:
    policies = find(full_manifests, "NetworkPolicy")
    covered = [p["spec"]["podSelector"]["matchLabels"]["app.kubernetes.io/component"] for p in policies]
    deployed = [
        m["metadata"]["labels"]["app.kubernetes.io/component"]
        for m in full_manifests
        if m["kind"] in WORKLOAD_KINDS
    ]
    assert sorted(covered) == sorted(deployed)
    beat = one(full_manifests, "NetworkPolicy", f"{FULL}-beat")
    assert "ingress" not in beat["spec"], "beat accepts no connections"


def test_notes_name_the_secrets_to_create(render: Callable[..., dict[str, str]]) -> None:
    notes = render(None)["triage/templates/NOTES.txt"]
    for secret in (f"{DEFAULT}-secrets", f"{DEFAULT}-database", f"{DEFAULT}-redis-url"):
        assert f"create secret generic {secret}" in notes
    assert "nvidia.com/gpu" in notes


# --- values.yaml conventions (../shared/STYLE.md, Deploy) ---------------------------------------

FREE_FORM_KEYS = {"nodeSelector", "annotations", "podAnnotations", "labels", "resources", "affinity"}


def _keys_outside_free_form(values: Any, path: str = "") -> list[str]:
    keys = []
    if isinstance(values, dict):
        for key, value in values.items():
            keys.append(f"{path}{key}")
            if key not in FREE_FORM_KEYS:
                keys += _keys_outside_free_form(value, f"{path}{key}.")
    return keys


def test_values_keys_are_camel_case() -> None:
    values = yaml.safe_load((CHART_DIR / "values.yaml").read_text())
    keys = _keys_outside_free_form(values)
    assert len(keys) > 50
    offenders = [k for k in keys if not re.fullmatch(r"[a-z][a-zA-Z0-9]*", k.rsplit(".", 1)[-1])]
    assert not offenders


def test_every_values_key_has_a_comment() -> None:
    """Each key has a comment above it, unless a documented (`# --`) ancestor covers the whole value."""
    lines = (CHART_DIR / "values.yaml").read_text().splitlines()
    documented_indents: list[int] = []  # indents of `# --` keys whose block we are inside
    undocumented = []
    for number, line in enumerate(lines):
        match = re.match(r"^( *)([A-Za-z][\w.-]*):", line)
        if not match:
            continue
        indent = len(match.group(1))
        documented_indents = [i for i in documented_indents if i < indent]
        above = number - 1
        while (
            above >= 0
            and lines[above].strip().startswith("#")
            and not lines[above].lstrip().startswith("# --")
        ):
            above -= 1
        has_leaf_doc = above >= 0 and lines[above].lstrip().startswith("# --")
        has_comment = lines[number - 1].lstrip().startswith("#") if number else False
        if not documented_indents and not has_comment:
            undocumented.append(f"line {number + 1}: {match.group(2)}")
        if has_leaf_doc:
            documented_indents.append(indent)
    assert not undocumented
