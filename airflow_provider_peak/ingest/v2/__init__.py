"""Peak's v2 (solutions) ingestion API without Airflow: wire names (``wire``), error codes
(``codes``), the solution schema model read from replies (``schema``), request bodies (``body``),
reply parsing (``reply``), and v2's names for the one validator and pipeline (``rows``, ``load``,
``outcomes``). See ``docs/ingestion-v2.md``.

The hook and the operator share these modules, so the names on the wire and the meaning of a
schema live in one place; the checks and the load are the ingest core's (``ingest.types``,
``ingest.validation``, ``ingest.pipeline``, ``ingest.apis.v2``). The emulator implements the
server's side on its own.
"""
