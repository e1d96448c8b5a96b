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
    """A run this destination committed, waiting for the whole feed run's outcome (``finalize``).

    :param superseded: the folders of earlier tries of the task run, removed once ``_latest.json``
        no longer names one of them.
    """

    s3: Any
    latest: str
    pointer: dict[str, Any]
    parts: list[str]
    logger: logging.Logger
    superseded: list[str]


class S3Destination(Destination):
    """Write a feed's records to ``s3://<bucket>/<prefix>/<feed>/<run>/part-NNNNN.jsonl.gz``.

    Parts are uploaded as they fill, into a folder of the try (``<run>_t<try>``). At its commit the
    run's ``_manifest.json`` is written (listing the parts and record counts), after the folders that
    earlier tries of the task run left behind (a killed try's parts, or its committed folder) were
    removed, so one run has one folder with a manifest; the folder ``_latest.json`` names is removed
    only once ``_latest.json`` names another. ``<prefix>/<feed>/_latest.json`` points to the run only
    once the whole feed run succeeded (every destination committed and the state was saved), so it
    always names a folder that holds its data. A run that fails at any point, also after this
    destination committed, deletes its parts and manifest. With ``truncate_insert`` each run's
    folder is a full snapshot and ``_latest.json`` names the current one.

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

    @staticmethod
    def _feed_prefix(prefix: str, run: RunInfo) -> str:
        return "/".join(p for p in (prefix.strip("/"), run.feed_name) if p)

    def _named_by_latest(self, s3: Any, latest: str) -> str | None:
        """The folder ``_latest.json`` names (``None``: none, or one the provider cannot read)."""
        if not s3.check_for_key(latest, bucket_name=self.bucket):
            return None
        try:
            pointer = json.loads(s3.read_key(latest, bucket_name=self.bucket))
        except ValueError:
            return None
        named = pointer.get("run") if isinstance(pointer, dict) else None
        return named if isinstance(named, str) else None

    def _remove_folders(self, s3: Any, folders: list[str]) -> None:
        """Delete the folders of earlier tries, each manifest first (a folder without one is not a run)."""
        for folder in folders:
            keys = s3.list_keys(bucket_name=self.bucket, prefix=f"{folder}/") or []
            if not keys:
                continue
            manifest = f"{folder}/{MANIFEST}"
            if manifest in keys:
                s3.delete_objects(bucket=self.bucket, keys=[manifest])
            rest = [k for k in keys if k != manifest]
            for start in range(0, len(rest), 1000):  # S3 deletes at most 1,000 keys per request
                s3.delete_objects(bucket=self.bucket, keys=rest[start : start + 1000])

    def load(self, records: StagedRecords, run: RunInfo) -> dict[str, Any]:
        s3 = self.get_hook()
        feed_prefix = self._feed_prefix(self.prefix, run)
        base = f"{feed_prefix}/{run.run_token}"
        earlier = [f"{feed_prefix}/{token}" for token in run.earlier_tokens]
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
            # What earlier tries left goes before this try's manifest makes it the run's folder;
            # the folder _latest.json names goes once it names this one (``finalize``).
            latest = f"{feed_prefix}/{LATEST}"
            named = self._named_by_latest(s3, latest) if earlier else None
            self._remove_folders(s3, [folder for folder in earlier if folder != named])
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
                latest=latest,
                pointer={"run": base, "manifest": f"{base}/{MANIFEST}", "records": writer.records},
                parts=[item["key"] for item in uploaded],
                logger=run.logger,
                superseded=[named] if named in earlier else [],
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

    def restore(self, counts: dict[str, Any], run: RunInfo) -> None:
        """The folder an earlier try of the task run committed becomes the run's (``finalize``)."""
        path, records = counts.get("path"), counts.get("records")
        bucket = f"s3://{self.bucket}/"
        if not isinstance(path, str) or not path.startswith(bucket) or not isinstance(records, int):
            return
        base = path[len(bucket) :].rstrip("/")
        feed_prefix = self._feed_prefix(self.prefix, run)
        self._delivered = _Delivered(
            self.get_hook(),
            latest=f"{feed_prefix}/{LATEST}",
            pointer={"run": base, "manifest": f"{base}/{MANIFEST}", "records": records},
            parts=[],
            logger=run.logger,
            superseded=[f"{feed_prefix}/{t}" for t in run.earlier_tokens if f"{feed_prefix}/{t}" != base],
        )

    def finalize(self, success: bool) -> None:
        delivered, self._delivered = self._delivered, None
        if delivered is None:
            return
        if success:
            delivered.s3.load_string(
                json.dumps(delivered.pointer), key=delivered.latest, bucket_name=self.bucket, replace=True
            )
            self._remove_folders(delivered.s3, delivered.superseded)
            return
        if not delivered.parts:  # restored from an earlier try: its folder is the run's, kept
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
