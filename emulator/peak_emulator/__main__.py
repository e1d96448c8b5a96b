"""Command line: serve the emulator, or show what a running one holds.

python -m peak_emulator [serve] --port 8080 --db peak.sqlite --api-key KEY
python -m peak_emulator show --url http://127.0.0.1:8080 [TABLE] [--limit 20] [--json]

Keys that are not given are generated at random and printed at start-up.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import signal
import sys
import threading
import urllib.error
import urllib.request
from typing import Any
from urllib.parse import quote

from peak_emulator.ingestion_v2 import IngestionV2Api, Tenant
from peak_emulator.server import ADMIN_HEADER, PeakEmulator

ADMIN_KEY_ENV = "PEAK_EMULATOR_ADMIN_KEY"
DEMO_TENANT = "demo"

PROG = "python -m peak_emulator"
USAGE = f"""{PROG} [serve] [options]
       {PROG} show --url URL [TABLE] [--limit N] [--json]"""
SERVE_DESCRIPTION = """\
Serve a local Peak API on a real HTTP port, for tests and demos:

  /api/v1/...    Peak's Ingestion API (tables, ingest, OAuth token), checked as docs/contract.md says
  /peaka/...     Peaka's batch cache API
  /_source/...   a paginated orders REST API to feed from (no auth, Basic or Custom Auth)
  /api/v2/...    Peak's v2 ingestion API (solutions, schema, UPSERT/APPEND) with a demo solution
  /workflows/api/v1/...  Peak's workflows API (run, runs, logs) with demo workflows 101 (succeeds)
                 and 102 (fails at step score), with the Peak API key
  /_emulator/... tables, rows, faults and counters for tests (an admin key when set; required
                 to listen on anything but loopback)

Keys: every API needs one, and none is built in. A key left out (--api-key, --peaka-api-key,
--v2-token) is generated at random and printed at start-up, after the "listening" line.

"show" prints the tables a running emulator holds, or one table's rows (see "show --help").
Stop the server with Ctrl-C or SIGTERM."""
DEFAULT = " (default: %(default)s)"


def _serve_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog=PROG,
        usage=USAGE,
        description=SERVE_DESCRIPTION,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    add = parser.add_argument
    add("--host", default="127.0.0.1", help="address to listen on" + DEFAULT)
    add("--port", type=int, default=8080, help="port to listen on; 0 picks a free one" + DEFAULT)
    add("--db", default=":memory:", help="SQLite file for tables and rows (default: %(default)s, in memory)")
    add(
        "--api-key",
        action="append",
        default=[],
        metavar="KEY",
        help="a tenant API key Peak's API accepts, sent as 'Authorization: KEY'; repeatable "
        "(default: one random key, printed at start-up, unless --client is given)",
    )
    add(
        "--client",
        action="append",
        default=[],
        metavar="ID:SECRET",
        help="an OAuth client for the token endpoint; repeatable (default: none)",
    )
    add("--token-ttl", type=float, default=86400.0, help="OAuth token lifetime, seconds" + DEFAULT)
    add("--latency", type=float, default=0.0, help="seconds added to every Peak API request" + DEFAULT)
    add("--max-records", type=int, default=500, help="records per ingest request" + DEFAULT)
    add("--max-bytes", type=int, default=1_000_000, help="bytes per ingest request body" + DEFAULT)
    add("--max-in-flight", type=int, default=30, help="requests in flight before 429" + DEFAULT)
    add("--retry-after", type=int, default=1, help="the Retry-After of a 429, seconds" + DEFAULT)
    add(
        "--no-validate",
        action="store_true",
        help="accept any JSON array of records within the limits, for client benchmarks "
        "(default: every record is checked against its table's schema)",
    )
    add("--quiet", action="store_true", help="no log line per request (default: one line per request)")
    add(
        "--source-orders",
        type=int,
        default=120,
        help="orders the REST source under /_source/ starts with" + DEFAULT,
    )
    add(
        "--peaka-api-key",
        action="append",
        default=[],
        metavar="KEY",
        help="an API key Peaka's cache API accepts as 'Bearer KEY'; "
        "repeatable (default: one random key, printed at start-up)",
    )
    add(
        "--peaka-step",
        type=float,
        default=0.5,
        help="seconds each status of a Peaka cache run lasts" + DEFAULT,
    )
    add(
        "--admin-key",
        default=os.environ.get(ADMIN_KEY_ENV),
        help=f"required (as X-Emulator-Admin-Key) by the /_emulator, /_source/admin and /peaka/_emulator "
        f"routes; needed to listen on anything but a loopback --host (default: ${ADMIN_KEY_ENV}, else none)",
    )
    add(
        "--v2-token",
        action="append",
        metavar="TOKEN[:TENANT]",
        help="a personal access token of Peak's v2 ingestion API, of the tenant TENANT (default: demo); "
        "repeatable (default: one random token of the tenant demo, printed at start-up)",
    )
    add(
        "--workflow-step",
        default="0.5",
        help="seconds each step of a workflow run lasts, or 'read' (one read of the run each)" + DEFAULT,
    )
    add("--v2-rate", type=float, default=50.0, help="v2 requests per second per tenant, 0 for none" + DEFAULT)
    return parser


def _show_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog=f"{PROG} show",
        description="Print the tables a running emulator holds, or the first rows of one table.",
    )
    parser.add_argument("table", nargs="?", help="the table whose rows to print (default: list every table)")
    parser.add_argument(
        "--url", required=True, help="the emulator's base URL, as printed at start-up (required)"
    )
    parser.add_argument("--limit", type=int, default=20, help="rows to print" + DEFAULT)
    parser.add_argument("--json", action="store_true", help="print JSON (default: an aligned text table)")
    parser.add_argument(
        "--admin-key",
        default=os.environ.get(ADMIN_KEY_ENV),
        help=f"the emulator's admin key, when it has one (default: ${ADMIN_KEY_ENV})",
    )
    return parser


def serve(args: argparse.Namespace) -> None:
    clients = dict(item.split(":", 1) for item in args.client)
    v2_tokens: dict[str, str | Tenant] = {}
    for item in args.v2_token or []:
        token, _, tenant = item.partition(":")
        v2_tokens[token] = tenant or DEMO_TENANT
    v2 = IngestionV2Api(tokens=v2_tokens or None)
    v2.set_rate_limit(args.v2_rate or None)
    emulator = PeakEmulator(
        api_keys=args.api_key or None,
        oauth_clients=clients,
        token_ttl=args.token_ttl,
        db=args.db,
        host=args.host,
        port=args.port,
        max_records=args.max_records,
        max_bytes=args.max_bytes,
        max_in_flight=args.max_in_flight,
        latency=args.latency,
        retry_after=args.retry_after,
        quiet=args.quiet,
        validate=not args.no_validate,
        source_orders=args.source_orders,
        peaka_api_keys=args.peaka_api_key or None,
        peaka_step=args.peaka_step,
        admin_key=args.admin_key,
        ingestion_v2=v2,
        workflow_step=args.workflow_step,
    )
    if not args.v2_token:
        emulator.generated["v2"] = next(iter(v2.tokens))
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s", stream=sys.stderr)
    stopped = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stopped.set())
    with emulator:
        print(f"Peak emulator listening on {emulator.url} (Peaka API: {emulator.peaka_url})", flush=True)
        for line in generated_keys(emulator):
            print(line, flush=True)
        stopped.wait()


GENERATED = {
    "peak": ("Peak API key", "--api-key"),
    "peaka": ("Peaka API key", "--peaka-api-key"),
    "v2": (f"v2 personal access token (tenant {DEMO_TENANT})", "--v2-token"),
}


def generated_keys(emulator: PeakEmulator) -> list[str]:
    """One line per key the emulator generated, saying how to choose one instead."""
    return [
        f"{GENERATED[api][0]}: {key} (generated; choose your own with {GENERATED[api][1]})"
        for api, key in emulator.generated.items()
    ]


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
    lines = [" | ".join(c.ljust(w) for c, w in zip(columns, widths, strict=True)).rstrip()]
    lines.append("-+-".join("-" * w for w in widths))
    lines.extend(" | ".join(v.ljust(w) for v, w in zip(r, widths, strict=True)).rstrip() for r in cells)
    return "\n".join(lines)


def show(args: argparse.Namespace) -> int:
    """Print the tables, or one table's rows; 1 when the table does not exist or the URL fails."""
    base = args.url.rstrip("/")
    try:
        tables = _get(f"{base}/_emulator/tables", args.admin_key)["tables"]
        if args.table:
            # Table names are case-insensitive identifiers, as in the emulator itself.
            known = {t["name"].lower(): t["name"] for t in tables}
            name = known.get(args.table.lower())
            if name is None:
                listed = ", ".join(sorted(known.values())) or "none"
                print(
                    f"no table {args.table!r} in the emulator at {base} (tables: {listed})",
                    file=sys.stderr,
                )
                return 1
            rows = _get(
                f"{base}/_emulator/tables/{quote(name, safe='')}/rows?limit={args.limit}", args.admin_key
            )["rows"]
            print(json.dumps(rows, indent=2) if args.json else render_table(rows) if rows else "(no rows)")
            return 0
    except (urllib.error.URLError, OSError, ValueError, KeyError) as exc:
        print(f"cannot read the emulator at {base}: {exc}", file=sys.stderr)
        return 1
    summary = [
        {"table": t["name"], "columns": len(t["columns"]), "rows": t["rows"], "created": t["createdAt"]}
        for t in tables
    ]
    print(json.dumps(summary, indent=2) if args.json else render_table(summary) if summary else "(no tables)")
    return 0


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["show"]:
        return show(_show_parser().parse_args(argv[1:]))
    parser = _serve_parser()
    args = parser.parse_args(argv[1:] if argv[:1] == ["serve"] else argv)
    try:
        serve(args)
    except ValueError as exc:  # a setting the emulator refuses (e.g. a public --host without --admin-key)
        parser.error(str(exc))
    return 0


if __name__ == "__main__":
    sys.exit(main())
