"""What differs between Peak's ingestion APIs once records are encoded: one adapter each.

The pipeline (``ingest.pipeline``) is one for every API; an adapter (``v1.V1Api``, ``v2.V2Api``)
says how a batch's body is wrapped, how a request is sent and its reply read, and whether the
sender adapts its concurrency to 429s (v1: the tenant limits requests in flight) or leaves the
rate to a pacer (v2: the tenant limits requests per second; ``pacing``).
"""
