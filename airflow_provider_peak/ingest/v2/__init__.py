"""Peak's v2 (solutions) ingestion API without Airflow: wire names, the solution schema model, the
row validator and encoder, request bodies and reply parsing. See ``docs/ingestion-v2.md``.

The hook and the operator share these modules, so the names on the wire and the meaning of a
schema live in one place. The emulator implements the server's side on its own.
"""
