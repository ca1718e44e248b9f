"""Which course version is in force, and what each node is, as of a moment."""

from __future__ import annotations

from datetime import datetime

import polars as pl

from transforms.lms.courses import LESSON_KINDS


def versions_as_of(versions: pl.DataFrame, as_of: datetime) -> pl.DataFrame:
    """The versions published by `as_of`, with `until` (the next version's publication, or
    null) and `current` (the newest one of its course)."""
    return (
        versions.filter(pl.col("published_at") <= as_of)
        .sort("course_id", "version")
        .with_columns(
            pl.col("published_at").shift(-1).over("course_id").alias("until"),
            (pl.col("version") == pl.col("version").max().over("course_id")).alias("current"),
        )
    )


def current_nodes(nodes: pl.DataFrame, in_force: pl.DataFrame) -> pl.DataFrame:
    """The nodes of each course's newest version in force (progress is judged against it)."""
    current = in_force.filter("current").select("course_id", "version")
    return nodes.join(current, on=["course_id", "version"], how="semi")


def node_attributes(nodes: pl.DataFrame, in_force: pl.DataFrame) -> pl.DataFrame:
    """One row per node in any version in force: its attributes in the newest such version
    (a removed lesson keeps the rule it last had)."""
    known = nodes.join(in_force.select("course_id", "version"), on=["course_id", "version"])
    return known.sort("version").group_by("node_id", maintain_order=True).last()


def is_lesson() -> pl.Expr:
    """A lesson-level node: a lesson, quiz or assignment."""
    return pl.col("kind").is_in(list(LESSON_KINDS))


def is_required_lesson() -> pl.Expr:
    """A lesson-level node that counts toward module and course completion."""
    return is_lesson() & ~pl.col("optional")
