"""Mapped tasks listed by name in the UI's grid, not as 0, 1, 2...

Each operator that is commonly mapped gives a default ``map_index_template`` to its mapped tasks
(``partial``): a Jinja template over the task once its fields are rendered, which Airflow renders
before ``execute`` (and again after it, failed or not). A ``map_index_template`` given to
``partial`` wins.
"""

from __future__ import annotations

from os import PathLike
from typing import Any, ClassVar

#: The longest label shown: a grid row, not a report.
MAX_LABEL = 100


def source_label(source: Any, table: Any) -> str:
    """A load's label: the file it reads (its last path component: ``part-0003.jsonl``), else its
    table."""
    if isinstance(source, (str, PathLike)) or type(source).__name__ == "ObjectStoragePath":
        text = str(source).rstrip("/")
        name = text.rsplit("/", 1)[-1] or text
    else:
        name = str(table)
    return name if len(name) <= MAX_LABEL else name[: MAX_LABEL - 1] + "…"


class MappedLabel:
    """For an operator: its mapped tasks' default ``map_index_template`` (``map_index_label``)."""

    #: A Jinja template over the rendered task (``task``), e.g. ``"{{ task.cache_id }}"``.
    map_index_label: ClassVar[str]

    @classmethod
    def partial(cls, **kwargs: Any) -> Any:
        """As ``BaseOperator.partial``, with the operator's default ``map_index_template``."""
        kwargs.setdefault("map_index_template", cls.map_index_label)
        return super().partial(**kwargs)  # type: ignore[misc]
