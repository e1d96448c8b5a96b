"""Command line: serve the emulator, or show what it holds.

python -m airflow_provider_peak.emulator --port 8080 --db peak.sqlite --api-key demo
python -m airflow_provider_peak.emulator show --url http://127.0.0.1:8080 [TABLE] [--limit 20] [--json]
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import signal
import sys
import threading
import urllib.request
from typing import Any

from airflow_provider_peak.emulator.ingestion_v2 import IngestionV2Api
from airflow_provider_peak.emulator.server import ADMIN_HEADER, PeakEmulator

ADMIN_KEY_ENV = "PEAK_EMULATOR_ADMIN_KEY"


def serve(args: argparse.Namespace) -> None:
    clients = dict(item.split(":", 1) for item in args.client)
    v2_tokens = {}
    for item in args.v2_token or ["demo-pat"]:
        token, _, tenant = item.partition(":")
        v2_tokens[token] = tenant or "demo"
    v2 = IngestionV2Api(tokens=v2_tokens)
    v2.set_rate_limit(args.v2_rate or None)
    emulator = PeakEmulator(
        api_keys=args.api_key,
        oauth_clients=clients,
        token_ttl=args.token_ttl,
        db=args.db,
        host=args.host,
        port=args.port,
        latency=args.latency,
        max_in_flight=args.max_in_flight,
        validate=not args.no_validate,
        source_orders=args.source_orders,
        peaka_api_keys=args.peaka_api_key or ["demo-peaka-key"],
        peaka_step=args.peaka_step,
        admin_key=args.admin_key,
        ingestion_v2=v2,
    )
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s", stream=sys.stderr)
    stopped = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stopped.set())
    with emulator:
        print(f"Peak emulator listening on {emulator.url} (Peaka API: {emulator.peaka_url})", flush=True)
        stopped.wait()


def _get(url: str, admin_key: str | None) -> Any:
    headers = {ADMIN_HEADER: admin_key} if admin_key else {}
    with urllib.request.urlopen(urllib.request.Request(url, headers=headers), timeout=10) as reply:
        return json.load(reply)


def render_table(rows: list[dict[str, Any]]) -> str:
    """Rows as an aligned text table (columns in first-seen order)."""
    columns: list[str] = []
    for row in rows:
        columns.extend(k for k in row if k not in columns)
    cells = [
        [json.dumps(row.get(c)) if not isinstance(row.get(c), str) else row[c] for c in columns]
        for row in rows
    ]
    widths = [max([len(c), *(len(r[i]) for r in cells)]) for i, c in enumerate(columns)]
    lines = [" | ".join(c.ljust(w) for c, w in zip(columns, widths, strict=True))]
    lines.append("-+-".join("-" * w for w in widths))
    lines.extend(" | ".join(v.ljust(w) for v, w in zip(r, widths, strict=True)) for r in cells)
    return "\n".join(lines)


def show(args: argparse.Namespace) -> None:
    base = args.url.rstrip("/")
    if args.table:
        rows = _get(f"{base}/_emulator/tables/{args.table}/rows?limit={args.limit}", args.admin_key)["rows"]
        print(json.dumps(rows, indent=2) if args.json else render_table(rows) if rows else "(no rows)")
        return
    tables = _get(f"{base}/_emulator/tables", args.admin_key)["tables"]
    summary = [
        {"table": t["name"], "columns": len(t["columns"]), "rows": t["rows"], "created": t["createdAt"]}
        for t in tables
    ]
    print(json.dumps(summary, indent=2) if args.json else render_table(summary) if summary else "(no tables)")


def main(argv: list[str] | None = None) -> None:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["show"]:
        parser = argparse.ArgumentParser(prog="python -m airflow_provider_peak.emulator show")
        parser.add_argument("table", nargs="?")
        parser.add_argument("--url", required=True)
        parser.add_argument("--limit", type=int, default=20)
        parser.add_argument("--json", action="store_true")
        parser.add_argument(
            "--admin-key", default=os.environ.get(ADMIN_KEY_ENV), help=f"default: ${ADMIN_KEY_ENV}"
        )
        show(parser.parse_args(argv[1:]))
        return
    parser = argparse.ArgumentParser(
        prog="python -m airflow_provider_peak.emulator",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8080)
    parser.add_argument("--db", default=":memory:", help="SQLite file (default: in memory)")
    parser.add_argument("--api-key", action="append", default=[], help="an accepted tenant API key")
    parser.add_argument("--client", action="append", default=[], metavar="ID:SECRET", help="an OAuth client")
    parser.add_argument("--token-ttl", type=float, default=86400.0)
    parser.add_argument("--latency", type=float, default=0.0)
    parser.add_argument("--max-in-flight", type=int, default=30)
    parser.add_argument(
        "--no-validate", action="store_true", help="accept any JSON array of records (client benchmarks)"
    )
    parser.add_argument(
        "--source-orders", type=int, default=120, help="orders of the demo source API under /_source/"
    )
    parser.add_argument("--peaka-api-key", action="append", default=[], help="an accepted Peaka API key")
    parser.add_argument("--peaka-step", type=float, default=0.5, help="seconds per Peaka cache status")
    parser.add_argument(
        "--admin-key",
        default=os.environ.get(ADMIN_KEY_ENV),
        help=f"required by the /_emulator and admin routes (default: ${ADMIN_KEY_ENV}); "
        "needed to listen on a non-loopback --host",
    )
    parser.add_argument(
        "--v2-token", action="append", metavar="TOKEN[:TENANT]", help="a v2 personal access token (demo-pat)"
    )
    parser.add_argument("--v2-rate", type=float, default=50.0, help="v2 requests/s per tenant (0: no limit)")
    args = parser.parse_args(argv[1:] if argv[:1] == ["serve"] else argv)
    try:
        serve(args)
    except ValueError as exc:  # a setting the emulator refuses (e.g. a public --host without --admin-key)
        parser.error(str(exc))


if __name__ == "__main__":
    main()
