"""docker-compose.airflow.yml: validated by ``docker compose config`` (or Debian's ``docker-compose``,
whichever CLI exists; CI installs one), and by its structure: every service has a health check,
every connection the example DAGs use is defined, and every key comes from ``.env``. No Docker
daemon is needed for any of it."""

from __future__ import annotations

import json
import re
import secrets
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
COMPOSE = ROOT / "docker-compose.airflow.yml"
ENV_EXAMPLE = ROOT / ".env.example"
AIRFLOW_SERVICES = {"airflow-apiserver", "airflow-scheduler", "airflow-dag-processor", "airflow-triggerer"}
#: ``${NAME}``, ``${NAME:-default}``, ``${NAME:?message}`` in the compose file.
VARIABLE = re.compile(r"(?<!\$)\$\{(\w+)(:?[-?][^}]*)?\}")  # not $${...}: escaped


@pytest.fixture(scope="module")
def compose() -> dict:
    return yaml.safe_load(COMPOSE.read_text())


def _compose_cli() -> list[str] | None:
    """``docker compose`` (v2) or ``docker-compose`` (Debian's 1.29), whichever runs here."""
    if (
        shutil.which("docker")
        and subprocess.run(["docker", "compose", "version"], capture_output=True).returncode == 0
    ):
        return ["docker", "compose"]
    if shutil.which("docker-compose"):
        return ["docker-compose"]
    return None


CLI = _compose_cli()
needs_cli = pytest.mark.skipif(
    CLI is None, reason="no compose CLI (docker compose or docker-compose) installed"
)


def _env_keys() -> dict[str, str]:
    return dict(
        line.split("=", 1)
        for line in ENV_EXAMPLE.read_text().splitlines()
        if line and not line.startswith("#")
    )


def _config(env_file: Path, *options: str) -> subprocess.CompletedProcess[str]:
    assert CLI is not None
    # No variable of this process may stand in for the file's: a clean environment.
    return subprocess.run(
        [*CLI, "-f", str(COMPOSE), "--env-file", str(env_file), "--profile", "celery", "config", *options],
        capture_output=True,
        text=True,
        env={"PATH": "/usr/local/bin:/usr/bin:/bin", "HOME": str(env_file.parent)},
    )


@needs_cli
def test_docker_compose_config_validates(tmp_path):
    env = tmp_path / ".env"
    env.write_text("".join(f"{key}={secrets.token_urlsafe(18)}\n" for key in _env_keys()))
    result = _config(env)
    assert result.returncode == 0, result.stderr
    services = yaml.safe_load(result.stdout)["services"]
    assert set(services) == set(yaml.safe_load(COMPOSE.read_text())["services"])
    # The keys of .env reached the emulator and the connections that must match it.
    key = dict(line.split("=", 1) for line in env.read_text().splitlines())["PEAK_API_KEY"]
    assert key in services["peak-emulator"]["command"]
    assert (
        json.loads(services["airflow-scheduler"]["environment"]["AIRFLOW_CONN_PEAK_DEFAULT"])["password"]
        == key
    )


@needs_cli
def test_without_the_keys_of_env_compose_refuses_to_start_and_says_which(tmp_path):
    env = tmp_path / ".env"
    shutil.copy(ENV_EXAMPLE, env)  # copied, but no key filled in
    result = _config(env, "--quiet")
    assert result.returncode != 0
    assert "in .env (copy .env.example)" in result.stderr


def test_every_key_comes_from_env_and_the_example_holds_none():
    used = {m.group(1) for m in VARIABLE.finditer(COMPOSE.read_text())} - {"AIRFLOW_EXECUTOR"}
    keys = _env_keys()
    assert used == set(keys)
    assert all(value == "" for value in keys.values()), "a key with a value in .env.example"
    required = {
        m.group(1) for m in VARIABLE.finditer(COMPOSE.read_text()) if (m.group(2) or "").startswith(":?")
    }
    assert {
        "PEAK_API_KEY",
        "PEAKA_API_KEY",
        "PEAK_V2_TOKEN",
        "PEAK_EMULATOR_ADMIN_KEY",
        "AIRFLOW_JWT_SECRET",
    } <= required
    assert ".env" in (ROOT / ".gitignore").read_text().splitlines()


def test_every_service_has_a_health_check(compose):
    for name, service in compose["services"].items():
        if name != "airflow-init":  # it runs once and exits; the others wait for it to succeed
            assert "healthcheck" in service, name
    scheduler = compose["services"]["airflow-scheduler"]
    assert "8974/health" in " ".join(scheduler["healthcheck"]["test"])
    assert scheduler["environment"]["AIRFLOW__SCHEDULER__ENABLE_HEALTH_CHECK"] == "true"


def test_every_connection_the_examples_use_is_defined(compose, airflow_db):
    # (airflow_db: Airflow 2.11 reads an alias a DAG is scheduled on from its database as it parses the DAG.)
    defined = {
        key.removeprefix("AIRFLOW_CONN_").lower()
        for key in compose["services"]["airflow-scheduler"]["environment"]
        if key.startswith("AIRFLOW_CONN_")
    }
    used = _example_connection_ids()
    assert {"peak_default", "peaka_default", "peak_v2_default", "orders_api", "aws_default"} <= used
    assert used <= defined, used - defined


def _example_connection_ids() -> set[str]:
    """The connection ids the example DAGs name: every ``*conn_id`` of their tasks and of the REST
    feed's destinations (defaults included), and those their own code passes to hooks."""
    from airflow_provider_peak.version_compat import dag_bag

    bag = dag_bag(str(ROOT / "dags_examples"))
    assert not bag.import_errors
    ids: set[str] = set()
    for dag in bag.dags.values():
        for task in dag.tasks:
            for obj in (task, *getattr(task, "destinations", ())):
                ids |= {v for k, v in vars(obj).items() if k.endswith("conn_id") and isinstance(v, str)}
    for path in (ROOT / "dags_examples").glob("*.py"):
        text = path.read_text()
        ids |= set(re.findall(r"conn_id\"?\s*[=:]\s*\"(\w+)\"", text))
        if "PeakHook()" in text:
            ids.add("peak_default")
    return {i for i in ids if "{{" not in i}


def test_airflow_3_components_with_postgres_and_the_emulator(compose):
    services = compose["services"]
    assert AIRFLOW_SERVICES | {"postgres", "peak-emulator", "airflow-init", "s3"} <= set(services)
    for name in AIRFLOW_SERVICES | {"postgres", "peak-emulator"}:
        assert "healthcheck" in services[name], name
    for name in AIRFLOW_SERVICES:
        service = services[name]
        assert service["build"]["dockerfile"] == "docker/Dockerfile"
        assert (ROOT / service["build"]["context"] / service["build"]["dockerfile"]).exists()
        assert "./dags_examples:/opt/airflow/dags:ro" in service["volumes"]
        assert service["depends_on"]["airflow-init"]["condition"] == "service_completed_successfully"
        env = service["environment"]
        assert "peak-emulator:8080" in env["AIRFLOW_CONN_PEAK_DEFAULT"]
        assert env["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"].startswith("postgresql")


def test_every_dependency_is_a_service(compose):
    services = compose["services"]
    for name, service in services.items():
        for dependency in service.get("depends_on", {}):
            assert dependency in services, f"{name} depends on unknown {dependency}"


def test_celery_profile_adds_redis_and_workers(compose):
    services = compose["services"]
    assert services["redis"]["profiles"] == ["celery"]
    assert services["airflow-worker"]["profiles"] == ["celery"]
    assert services["airflow-worker"]["command"] == ["celery", "worker"]


def test_init_creates_the_peak_pool(compose):
    assert "airflow pools set peak_api 30" in " ".join(compose["services"]["airflow-init"]["command"])


def test_published_ports_listen_on_loopback_only(compose):
    for name, service in compose["services"].items():
        for port in service.get("ports", []):
            assert str(port).startswith("127.0.0.1:"), (name, port)


def test_the_emulator_listens_on_the_network_only_with_an_admin_key(compose):
    emulator = compose["services"]["peak-emulator"]
    assert "0.0.0.0" in emulator["command"]
    assert emulator["environment"]["PEAK_EMULATOR_ADMIN_KEY"]
    assert "X-Emulator-Admin-Key" in " ".join(emulator["healthcheck"]["test"])


def test_the_compose_page_is_true_to_the_file(compose):
    page = (ROOT / "docs" / "compose.md").read_text()
    rows = [line for line in page.splitlines() if line.startswith("| `")]
    named = {name for row in rows for name in re.findall(r"`([\w-]+)`", row.split("|")[1].split("(")[0])}
    assert named == set(compose["services"])
    header = COMPOSE.read_text().split("\n\n", 1)[0]
    commands = re.findall(r"^(?:cp |docker compose |AIRFLOW_EXECUTOR=).*$", page, re.MULTILINE)
    assert commands
    for command in commands:
        words = command.split("#")[0].split()
        assert " ".join(words) in " ".join(header.replace("\\\n", " ").replace("#", " ").split()), command
