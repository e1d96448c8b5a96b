"""docker-compose.airflow.yml: validated by ``docker compose config`` where the CLI exists,
otherwise by its structure (no Docker daemon is needed for either)."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
COMPOSE = ROOT / "docker-compose.airflow.yml"
AIRFLOW_SERVICES = {"airflow-apiserver", "airflow-scheduler", "airflow-dag-processor", "airflow-triggerer"}


@pytest.fixture(scope="module")
def compose() -> dict:
    return yaml.safe_load(COMPOSE.read_text())


def _has_compose_cli() -> bool:
    if not shutil.which("docker"):
        return False
    return subprocess.run(["docker", "compose", "version"], capture_output=True).returncode == 0


@pytest.mark.skipif(not _has_compose_cli(), reason="the docker compose CLI is not installed")
def test_docker_compose_config_validates():
    result = subprocess.run(
        ["docker", "compose", "-f", str(COMPOSE), "--profile", "celery", "config", "--quiet"],
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stderr


def test_airflow_3_components_with_postgres_and_the_emulator(compose):
    services = compose["services"]
    assert AIRFLOW_SERVICES | {"postgres", "peak-emulator", "airflow-init"} <= set(services)
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
