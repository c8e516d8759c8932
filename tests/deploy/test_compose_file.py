"""Validate deploy/compose.yml against the Compose Specification schema and check what it promises."""

from __future__ import annotations

import copy
import json
import re
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml

from .conftest import DEPLOY_DIR, REPO_ROOT

COMPOSE_FILE = DEPLOY_DIR / "compose.yml"
ENV_EXAMPLE = DEPLOY_DIR / ".env.example"
# Vendored, see tests/fixtures/compose-spec/SOURCE.md: the test fetches nothing.
SCHEMA_FILE = REPO_ROOT / "tests" / "fixtures" / "compose-spec" / "compose-spec.json"

# `${NAME}`, `${NAME:-default}`, `${NAME-default}`, `${NAME:?error}`, `${NAME?error}`.
INTERPOLATION = re.compile(r"\$\{(?P<name>[A-Za-z_][A-Za-z0-9_]*)(?:(?P<op>:?[-?])(?P<arg>[^}]*))?\}")
APP_SERVICES = {"migrate", "api", "worker-inference", "worker-inference-gpu", "worker-actions", "beat"}
WORKER_SERVICES = {"worker-inference", "worker-inference-gpu", "worker-actions"}


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    """The compose file as compose reads it (YAML anchors and merge keys resolved)."""
    document: dict[str, Any] = yaml.safe_load(COMPOSE_FILE.read_text())
    return document


@pytest.fixture(scope="module")
def validator() -> jsonschema.protocols.Validator:
    schema = json.loads(SCHEMA_FILE.read_text())
    validator_class = jsonschema.validators.validator_for(schema)
    validator_class.check_schema(schema)
    return validator_class(schema)


def interpolate(value: str, env: dict[str, str]) -> str:
    """Resolve compose variables as `docker compose config` would, from `env` and the defaults."""

    def substitute(match: re.Match[str]) -> str:
        name, op, arg = match.group("name", "op", "arg")
        present = env.get(name)
        if op in (":-", "-"):
            return present if present or (op == "-" and present is not None) else arg
        if op in (":?", "?") and not present:
            raise KeyError(f"{name} is required: {arg}")
        return present or ""

    return INTERPOLATION.sub(substitute, value)


def interpolate_all(node: Any, env: dict[str, str]) -> Any:
    if isinstance(node, dict):
        return {key: interpolate_all(value, env) for key, value in node.items()}
    if isinstance(node, list):
        return [interpolate_all(item, env) for item in node]
    if isinstance(node, str):
        return interpolate(node, env)
    return node


def example_env() -> dict[str, str]:
    """Variables of deploy/.env.example, with the required secrets filled as an operator would."""
    env = {}
    for line in ENV_EXAMPLE.read_text().splitlines():
        if line.strip() and not line.lstrip().startswith("#"):
            name, _, value = line.partition("=")
            env[name.strip()] = value.strip()
    for name, value in env.items():
        if not value and name in {"TRIAGE_API_KEY", "POSTGRES_PASSWORD", "GRAFANA_ADMIN_PASSWORD"}:
            env[name] = f"test-{name.lower()}-value"
    return env


def test_compose_file_validates_against_the_compose_schema(
    compose: dict[str, Any], validator: jsonschema.protocols.Validator
) -> None:
    errors = [f"{'/'.join(map(str, e.absolute_path))}: {e.message}" for e in validator.iter_errors(compose)]
    assert not errors


def test_compose_file_still_validates_once_interpolated(
    compose: dict[str, Any], validator: jsonschema.protocols.Validator
) -> None:
    resolved = interpolate_all(compose, example_env())
    errors = [f"{'/'.join(map(str, e.absolute_path))}: {e.message}" for e in validator.iter_errors(resolved)]
    assert not errors


@pytest.mark.parametrize(
    "mutate",
    [
        lambda c: c["services"]["api"].update(restart_policy="always"),
        lambda c: c["services"]["redis"].update(
            healthcheck={"test": ["CMD", "redis-cli", "ping"], "retry": 3}
        ),
        lambda c: c["services"]["worker-inference-gpu"]["deploy"]["resources"]["reservations"].update(gpu=1),
    ],
    ids=["unknown-service-key", "misspelt-healthcheck-key", "gpu-outside-devices"],
)
def test_schema_rejects_a_broken_compose_file(
    compose: dict[str, Any], validator: jsonschema.protocols.Validator, mutate: Any
) -> None:
    broken = copy.deepcopy(compose)
    mutate(broken)
    assert list(validator.iter_errors(broken))


def test_every_required_variable_is_in_env_example(compose: dict[str, Any]) -> None:
    text = "\n".join(
        line for line in COMPOSE_FILE.read_text().splitlines() if not line.lstrip().startswith("#")
    )
    example = example_env()
    used = {m.group("name") for m in INTERPOLATION.finditer(text)}
    assert used - example.keys() == set(), "document every compose variable in deploy/.env.example"
    resolved = interpolate_all(compose, example)
    with pytest.raises(KeyError, match="TRIAGE_API_KEY"):
        interpolate_all(compose, {k: v for k, v in example.items() if k != "TRIAGE_API_KEY"})
    assert resolved["services"]["api"]["environment"]["TRIAGE_API_KEY"] == "test-triage_api_key-value"


def test_env_example_ships_no_secret() -> None:
    assignments = {}
    for line in ENV_EXAMPLE.read_text().splitlines():
        match = re.match(r"^#? ?([A-Z][A-Z0-9_]*)=(.*)$", line.strip())
        if match:
            assignments[match.group(1)] = match.group(2)
    secrets = [name for name in assignments if re.search(r"(KEY|SECRET|PASSWORD)$", name)]
    assert len(secrets) >= 7
    for name in secrets:
        assert assignments[name] == "", f"{name} must be empty in the example"


def test_every_optional_setting_is_documented_in_env_example(compose: dict[str, Any]) -> None:
    documented = set(re.findall(r"^#? ?([A-Z][A-Z0-9_]*)=", ENV_EXAMPLE.read_text(), re.MULTILINE))
    passed_through = {
        variable
        for service in compose["services"].values()
        for variable, value in (service.get("environment") or {}).items()
        if value is None
    }
    assert passed_through and passed_through <= documented


def test_secrets_are_interpolated_never_literal(compose: dict[str, Any]) -> None:
    secret_names = re.compile(r"(KEY|SECRET|PASSWORD|DATABASE_URL)$")
    checked = 0
    for name, service in compose["services"].items():
        for variable, value in (service.get("environment") or {}).items():
            if secret_names.search(variable):
                # `${VAR...}` interpolates deploy/.env; no value passes the variable through from it.
                assert value is None or "${" in str(value), f"{name}: {variable} must come from deploy/.env"
                checked += 1
    assert checked >= 10


def test_prometheus_reads_the_api_key_from_a_secret(compose: dict[str, Any]) -> None:
    assert compose["secrets"]["triage_api_key"] == {"environment": "TRIAGE_API_KEY"}
    assert "triage_api_key" in compose["services"]["prometheus"]["secrets"]
    metrics_public = compose["services"]["api"]["environment"]["TRIAGE_METRICS_PUBLIC"]
    assert metrics_public == "${TRIAGE_METRICS_PUBLIC:-false}"


def test_redis_persists_with_aof_and_never_evicts(compose: dict[str, Any]) -> None:
    redis = compose["services"]["redis"]
    command = " ".join(redis["command"])
    assert "--appendonly yes" in command
    assert "--appendfsync everysec" in command
    assert "--maxmemory-policy noeviction" in command
    assert any(volume.endswith(":/data") for volume in redis["volumes"])
    assert "ports" not in redis, "Redis has no password here: never publish it"
    assert redis["healthcheck"]["test"] == ["CMD", "redis-cli", "ping"]


def test_gpu_worker_is_an_optional_profile_with_an_nvidia_device(compose: dict[str, Any]) -> None:
    services = compose["services"]
    gpu = services["worker-inference-gpu"]
    assert gpu["profiles"] == ["gpu"]
    (device,) = gpu["deploy"]["resources"]["reservations"]["devices"]
    assert device["driver"] == "nvidia" and device["capabilities"] == ["gpu"]
    assert gpu["environment"]["TRIAGE_DEVICE"] == "cuda"
    assert gpu["build"]["dockerfile"] == "deploy/docker/worker-gpu.Dockerfile"
    assert all("profiles" not in s for n, s in services.items() if n != "worker-inference-gpu")


def test_services_run_the_expected_commands(compose: dict[str, Any]) -> None:
    services = compose["services"]
    assert services["api"]["command"] == ["api", "--host", "0.0.0.0", "--port", "8000"]
    assert services["worker-inference"]["command"] == [
        "worker",
        "--queues",
        "inference",
        "--concurrency",
        "1",
    ]
    assert services["worker-actions"]["command"] == ["worker", "--queues", "actions", "--concurrency", "4"]
    assert services["beat"]["command"] == ["beat"]
    assert str(services["beat"]["deploy"]["replicas"]) == "1"
    assert services["migrate"]["command"] == ["migrate"]
    for name in APP_SERVICES - {"migrate"}:
        assert services[name]["depends_on"]["migrate"]["condition"] == "service_completed_successfully"
    assert services["migrate"]["depends_on"]["postgres"]["condition"] == "service_healthy"


def test_app_containers_are_hardened(compose: dict[str, Any]) -> None:
    for name in APP_SERVICES:
        service = compose["services"][name]
        assert service["read_only"] is True, name
        assert service["cap_drop"] == ["ALL"], name
        assert "/tmp" in service["tmpfs"], name


def test_workers_get_their_process_environment(compose: dict[str, Any]) -> None:
    for name in WORKER_SERVICES:
        env = compose["services"][name]["environment"]
        assert env["TOKENIZERS_PARALLELISM"] == "false"
        assert env["HF_HUB_OFFLINE"] == "1"
        # On the /tmp tmpfs: empty at every start, writable under the read-only root.
        assert env["PROMETHEUS_MULTIPROC_DIR"].startswith("/tmp/")
        # Prometheus scrapes workers over the compose network; the default (loopback) would hide them.
        assert env["TRIAGE_WORKER_METRICS_HOST"] == "0.0.0.0"
        assert "ports" not in compose["services"][name], f"{name} must not publish its /metrics"


def test_images_are_pinned_and_builds_exist(compose: dict[str, Any]) -> None:
    resolved = interpolate_all(compose, example_env())
    for name, service in resolved["services"].items():
        image = service["image"]
        repository, _, tag = image.rpartition(":")
        assert repository and tag and tag != "latest" and "/" not in tag, f"{name}: pin {image}"
        if "build" in service:
            context = (COMPOSE_FILE.parent / service["build"]["context"]).resolve()
            assert context == REPO_ROOT
            assert (context / service["build"]["dockerfile"]).is_file()


def test_ports_are_published_on_loopback_by_default(compose: dict[str, Any]) -> None:
    resolved = interpolate_all(compose, example_env())
    for name, service in resolved["services"].items():
        for port in service.get("ports", []):
            assert str(port).startswith("127.0.0.1:"), f"{name} publishes {port} beyond loopback"


def test_policy_config_points_at_a_real_file(compose: dict[str, Any]) -> None:
    resolved = interpolate_all(compose, example_env())
    policy = Path(COMPOSE_FILE.parent, resolved["configs"]["policy"]["file"]).resolve()
    assert policy == REPO_ROOT / "workers" / "routing" / "default_policy.yaml"
    assert policy.is_file()
