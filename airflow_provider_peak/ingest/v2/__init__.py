"""Peak's v2 (solutions) ingestion API without Airflow: wire names, the solution schema model, the
row validator and encoder, request bodies and reply parsing. See ``docs/ingestion-v2.md``.

The hook, the operator and the emulator share these modules, so the names on the wire and the
meaning of a schema live in one place.
"""
