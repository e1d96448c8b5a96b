"""``S3Destination``: a feed's records as gzipped JSON Lines parts on S3, one folder per run."""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime, timezone
from typing import Any

from airflow_provider_peak.exceptions import PeakConfigError
from airflow_provider_peak.feed.destinations.base import Destination, RunInfo, StagedRecords
from airflow_provider_peak.feed.destinations.spool import (
    DEFAULT_PART_BYTES,
    DEFAULT_PART_RECORDS,
    Part,
    PartWriter,
)

MANIFEST = "_manifest.json"
LATEST = "_latest.json"


class S3Destination(Destination):
    """Write a feed's records to ``s3://<bucket>/<prefix>/<feed>/<run>/part-NNNNN.jsonl.gz``.

    Parts are uploaded as they fill. A run is complete when its ``_manifest.json`` exists (written
    at commit, listing the parts and record counts); ``<prefix>/<feed>/_latest.json`` then points to
    it. A failed run deletes the parts it uploaded. With ``truncate_insert`` each run's folder is a
    full snapshot and ``_latest.json`` names the current one.

    :param bucket: the bucket (templated).
    :param prefix: key prefix (templated).
    :param aws_conn_id: the AWS connection.
    :param part_records: records per part.
    :param part_bytes: uncompressed bytes per part.
    """

    kind = "s3"
    commit_order = 30
    template_fields: Sequence[str] = ("bucket", "prefix")

    def __init__(
        self,
        bucket: str,
        prefix: str = "peak_feeds",
        aws_conn_id: str | None = "aws_default",
        *,
        part_records: int = DEFAULT_PART_RECORDS,
        part_bytes: int = DEFAULT_PART_BYTES,
    ) -> None:
        if not bucket:
            raise PeakConfigError("S3Destination needs a bucket")
        self.bucket = bucket
        self.prefix = prefix
        self.aws_conn_id = aws_conn_id
        self.part_records = part_records
        self.part_bytes = part_bytes

    @property
    def target(self) -> str:
        return f"s3://{self.bucket}/{self.prefix.strip('/')}"

    def get_hook(self) -> Any:
        from airflow.providers.amazon.aws.hooks.s3 import S3Hook

        return S3Hook(aws_conn_id=self.aws_conn_id)

    def lineage_output(self, facets: Any, counts: dict[str, Any]) -> Any:
        rows = counts.get("records")
        output_facets = (
            {"outputStatistics": facets.OutputStatisticsOutputDatasetFacet(rowCount=rows)} if rows else {}
        )
        return facets.OutputDataset(
            namespace=f"s3://{self.bucket}", name=self.prefix.strip("/") or "/", outputFacets=output_facets
        )

    def load(self, records: StagedRecords, run: RunInfo) -> dict[str, Any]:
        s3 = self.get_hook()
        feed_prefix = "/".join(p for p in (self.prefix.strip("/"), run.feed_name) if p)
        base = f"{feed_prefix}/{run.run_token}"
        uploaded: list[dict[str, Any]] = []

        def upload(part: Part) -> None:
            key = f"{base}/{part.name}"
            s3.load_file(filename=str(part.path), key=key, bucket_name=self.bucket, replace=True)
            uploaded.append({"key": key, "records": part.records, "bytes": part.raw_bytes})

        writer = PartWriter(upload, max_records=self.part_records, max_bytes=self.part_bytes)
        committed = False
        try:
            for chunk in records:
                for record in chunk:
                    writer.write(record)
            writer.close()
            records.wait_for_commit()
            manifest = {
                "feed_name": run.feed_name,
                "load_type": run.load_type,
                "records": writer.records,
                "parts": uploaded,
                "committed_at": datetime.now(timezone.utc).isoformat(),
            }
            s3.load_string(
                json.dumps(manifest), key=f"{base}/{MANIFEST}", bucket_name=self.bucket, replace=True
            )
            committed = True
            pointer = {"run": base, "manifest": f"{base}/{MANIFEST}", "records": writer.records}
            s3.load_string(
                json.dumps(pointer), key=f"{feed_prefix}/{LATEST}", bucket_name=self.bucket, replace=True
            )
            run.logger.info(
                "Wrote %s records in %d parts to s3://%s/%s/",
                f"{writer.records:,}",
                len(uploaded),
                self.bucket,
                base,
            )
            return {"records": writer.records, "parts": len(uploaded), "path": f"s3://{self.bucket}/{base}/"}
        finally:
            writer.discard()
            if uploaded and not committed:
                s3.delete_objects(bucket=self.bucket, keys=[item["key"] for item in uploaded])
