"""``S3Destination``: a feed's records as gzipped JSON Lines parts on S3, one folder per run."""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from dataclasses import dataclass
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
from airflow_provider_peak.utils.extras import require

MANIFEST = "_manifest.json"
LATEST = "_latest.json"


@dataclass
class _Delivered:
    """A run this destination committed, waiting for the whole feed run's outcome (``finalize``)."""

    s3: Any
    latest: str
    pointer: dict[str, Any]
    parts: list[str]
    logger: logging.Logger


class S3Destination(Destination):
    """Write a feed's records to ``s3://<bucket>/<prefix>/<feed>/<run>/part-NNNNN.jsonl.gz``.

    Parts are uploaded as they fill. At its commit the run's ``_manifest.json`` is written (listing
    the parts and record counts). ``<prefix>/<feed>/_latest.json`` points to the run only once the
    whole feed run succeeded (every destination committed and the state was saved); a run that fails
    at any point, also after this destination committed, deletes its parts and manifest, so a retry
    leaves exactly one complete folder. With ``truncate_insert`` each run's folder is a full snapshot
    and ``_latest.json`` names the current one.

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
        require("amazon", "S3Destination")  # when the DAG is parsed
        if not bucket:
            raise PeakConfigError("S3Destination needs a bucket")
        self.bucket = bucket
        self.prefix = prefix
        self.aws_conn_id = aws_conn_id
        self.part_records = part_records
        self.part_bytes = part_bytes
        self._delivered: _Delivered | None = None

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
        self._delivered = None

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
            # A destination committing after this one may still fail: ``finalize`` decides.
            self._delivered = _Delivered(
                s3,
                latest=f"{feed_prefix}/{LATEST}",
                pointer={"run": base, "manifest": f"{base}/{MANIFEST}", "records": writer.records},
                parts=[item["key"] for item in uploaded],
                logger=run.logger,
            )
            run.logger.info(
                "Wrote %s records in %d parts to s3://%s/%s/ (%s follows once the whole run succeeded)",
                f"{writer.records:,}",
                len(uploaded),
                self.bucket,
                base,
                LATEST,
            )
            return {"records": writer.records, "parts": len(uploaded), "path": f"s3://{self.bucket}/{base}/"}
        finally:
            writer.discard()
            if uploaded and not committed:
                s3.delete_objects(bucket=self.bucket, keys=[item["key"] for item in uploaded])

    def finalize(self, success: bool) -> None:
        delivered, self._delivered = self._delivered, None
        if delivered is None:
            return
        if success:
            delivered.s3.load_string(
                json.dumps(delivered.pointer), key=delivered.latest, bucket_name=self.bucket, replace=True
            )
            return
        # Another destination or the state failed after this one committed: the retry writes the
        # run again, so this copy goes, the manifest first (a folder without one is not a run).
        delivered.s3.delete_objects(bucket=self.bucket, keys=[delivered.pointer["manifest"]])
        if delivered.parts:
            delivered.s3.delete_objects(bucket=self.bucket, keys=delivered.parts)
        delivered.logger.warning(
            "The feed run failed after s3://%s/%s was written; it was removed",
            self.bucket,
            delivered.pointer["run"],
        )
