"""The base install, as a user gets it: the wheel alone, on Airflow, in a fresh virtualenv.

One virtualenv is built from the pinned constraints with uv (its cache keeps it fast): Airflow
first, then the provider's wheel, so the packages the provider adds on top of Airflow can be
counted. In it, without the Snowflake and Amazon providers, OpenLineage or pyarrow, every module of
the package imports, Airflow's providers manager finds the provider, and each feature that needs
an extra fails with a ``MissingExtraError`` naming that extra: when the DAG is parsed
(destinations) or when its task starts reading (files, URLs, queries).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from tests.fixtures import EXAMPLES, ROOT

VERSION = f"{sys.version_info[0]}.{sys.version_info[1]}"
CONSTRAINTS = ROOT / "constraints" / f"constraints-{VERSION}.txt"
#: The most packages the base install may add on top of Airflow (the provider itself not counted).
MOST_ADDED = 5
#: What the extras bring, none of which the base install may hold.
EXTRA_DISTRIBUTIONS = {
    "apache-airflow-providers-snowflake",
    "apache-airflow-providers-amazon",
    "apache-airflow-providers-openlineage",
    "snowflake-connector-python",
    "boto3",
    "s3fs",
    "pandas",
    "polars",
    "pyarrow",
}

CHECK = r"""
import importlib, io, json, os, pkgutil, sys, tempfile
import airflow_provider_peak
from airflow_provider_peak.exceptions import MissingExtraError

report = {"imported": [], "failed": {}, "errors": {}, "file": airflow_provider_peak.__file__}
for module in pkgutil.walk_packages(airflow_provider_peak.__path__, "airflow_provider_peak."):
    try:
        importlib.import_module(module.name)
        report["imported"].append(module.name)
    except Exception as exc:
        report["failed"][module.name] = repr(exc)


def expect(name, call):
    try:
        result = call()
        if hasattr(result, "__next__"):
            next(result)
    except MissingExtraError as exc:
        report["errors"][name] = [exc.extra, str(exc)]
    except Exception as exc:
        report["errors"][name] = ["other", repr(exc)]
    else:
        report["errors"][name] = ["none", ""]


from airflow_provider_peak.feed import RedshiftDestination, S3Destination, SnowflakeDestination
from airflow_provider_peak.ingest import columnar
from airflow_provider_peak.ingest.pipeline import open_text
from airflow_provider_peak.ingest.sources import iter_records, read_sql

expect("SnowflakeDestination", lambda: SnowflakeDestination("RAW.ORDERS"))
expect("S3Destination", lambda: S3Destination(bucket="b", prefix="p"))
expect("RedshiftDestination", lambda: RedshiftDestination("public.orders", s3_bucket="b", s3_prefix="p"))
parquet = os.path.join(tempfile.mkdtemp(), "orders.parquet")
open(parquet, "wb").close()
expect("a Parquet file", lambda: iter_records(parquet))
expect("an Arrow stream", lambda: columnar.iter_columnar(object()))
expect("an s3:// file", lambda: iter_records("s3://bucket/orders.jsonl"))
expect("an s3:// dead-letter file", lambda: open_text("s3://bucket/dead.jsonl"))
os.environ["AIRFLOW_CONN_WAREHOUSE"] = json.dumps({"conn_type": "snowflake", "login": "u"})
expect("a Snowflake query", lambda: read_sql("select 1", "warehouse"))
os.environ["AIRFLOW_CONN_LAKE"] = json.dumps({"conn_type": "aws"})
expect("an AWS connection as a query source", lambda: read_sql("select 1", "lake"))
records = [{"id": 1}]
expect("a list of records (no extra needed)", lambda: iter(list(iter_records(records))))

from airflow.providers_manager import ProvidersManager

manager = ProvidersManager()
info = manager.providers["airflow-provider-peak"]
report["provider_version"] = info.version
report["additional_extras"] = [e["name"] for e in info.data.get("additional-extras", [])]
report["hooks"] = sorted(t for t in manager.hooks if t.startswith("peak"))

from airflow_provider_peak.version_compat import dag_bag

bag = dag_bag(sys.argv[1])
report["dag_errors"] = {os.path.basename(k): v for k, v in bag.import_errors.items()}
report["dags"] = sorted(bag.dag_ids)
print(json.dumps(report))
"""


def _uv() -> str:
    found = shutil.which("uv") or str(Path(sys.executable).with_name("uv"))
    if not Path(found).exists():
        pytest.skip("uv is not installed (scripts/bootstrap.sh installs it)")
    return found


def _freeze(uv: str, python: Path) -> dict[str, str]:
    out = subprocess.run(
        [uv, "pip", "freeze", "--python", str(python)], capture_output=True, text=True, check=True
    ).stdout
    pins = [line.split("==") for line in out.splitlines() if "==" in line]
    return {name.lower().replace("_", "-"): version for name, version in pins}


@pytest.fixture(scope="module")
def base(tmp_path_factory: pytest.TempPathFactory) -> dict:
    """The fresh virtualenv: Airflow, then the wheel; the packages each step installed, and the
    report of ``CHECK`` run in it."""
    if not CONSTRAINTS.exists():
        pytest.skip(f"no pinned constraints for Python {VERSION}")
    uv = _uv()
    tmp = tmp_path_factory.mktemp("base-install")
    subprocess.run(
        [uv, "build", "--wheel", "--quiet", "-o", str(tmp / "dist"), str(ROOT)],
        check=True,
        capture_output=True,
    )
    (wheel,) = (tmp / "dist").glob("airflow_provider_peak-*.whl")
    python = tmp / "venv" / "bin" / "python"
    subprocess.run([uv, "venv", "--quiet", "--python", sys.executable, str(tmp / "venv")], check=True)
    airflow = next(
        line for line in CONSTRAINTS.read_text().splitlines() if line.startswith("apache-airflow==")
    )
    install = [uv, "pip", "install", "--quiet", "--python", str(python), "-c", str(CONSTRAINTS)]
    subprocess.run([*install, airflow], check=True)
    before = _freeze(uv, python)
    subprocess.run([*install, str(wheel)], check=True)
    after = _freeze(uv, python)
    dags = tmp / "dags"
    dags.mkdir()
    for name in ("peak_ingest_taskflow.py", "peak_rest_feed_incremental.py", "peak_snowflake_to_peak.py"):
        shutil.copy(EXAMPLES / name, dags)
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith(("AIRFLOW", "PYTHON"))},
        "AIRFLOW_HOME": str(tmp / "home"),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
    }
    result = subprocess.run(
        [str(python), "-c", textwrap.dedent(CHECK), str(dags)],
        capture_output=True,
        text=True,
        env=env,
        cwd=tmp,  # not the repository, whose sources would shadow the installed wheel
    )
    assert result.returncode == 0, result.stderr[-3000:]
    added = sorted(set(after) - set(before) - {"airflow-provider-peak"})
    print(f"\nThe base install adds {len(added)} packages to Airflow {before['apache-airflow']}: {added}")
    return {"added": added, "after": after, "report": json.loads(result.stdout.strip().splitlines()[-1])}


def test_the_base_install_adds_at_most_five_packages_to_airflow(base):
    assert len(base["added"]) <= MOST_ADDED, base["added"]
    assert EXTRA_DISTRIBUTIONS.isdisjoint(base["after"]), EXTRA_DISTRIBUTIONS & set(base["after"])


def test_every_module_imports_without_the_extras(base):
    report = base["report"]
    assert "site-packages" in report["file"]  # the wheel's modules, not the repository's
    assert report["failed"] == {}
    assert len(report["imported"]) > 60
    assert "airflow_provider_peak.feed.destinations.snowflake" in report["imported"]


def test_airflow_finds_the_provider_its_hooks_and_its_extras(base):
    report = base["report"]
    from airflow_provider_peak import __version__

    assert report["provider_version"] == __version__
    assert report["additional_extras"] == ["snowflake", "amazon", "openlineage", "dataframes"]
    assert report["hooks"] == ["peak", "peak_rest", "peak_v2", "peaka"]


@pytest.mark.parametrize(
    ("feature", "extra"),
    [
        ("SnowflakeDestination", "snowflake"),
        ("S3Destination", "amazon"),
        ("RedshiftDestination", "amazon"),
        ("a Parquet file", "dataframes"),
        ("an Arrow stream", "dataframes"),
        ("an s3:// file", "amazon"),
        ("an s3:// dead-letter file", "amazon"),
        ("a Snowflake query", "snowflake"),
        ("an AWS connection as a query source", "amazon"),
        ("a list of records (no extra needed)", "none"),
    ],
)
def test_a_feature_without_its_extra_names_the_extra_to_install(base, feature, extra):
    found, message = base["report"]["errors"][feature]
    assert found == extra, message
    if extra != "none":
        assert f"pip install 'airflow-provider-peak[{extra}]'" in message


def test_a_dag_using_an_extra_it_lacks_fails_when_parsed_naming_the_extra(base):
    report = base["report"]
    # The REST feed example writes to S3: its DAG file does not parse without the amazon extra.
    error = report["dag_errors"]["peak_rest_feed_incremental.py"]
    assert "pip install 'airflow-provider-peak[amazon]'" in error
    # The Snowflake example only names its connection: it parses, and its task would say it.
    assert "peak_ingest_taskflow" in report["dags"]
    assert "peak_snowflake_to_peak" in report["dags"]
