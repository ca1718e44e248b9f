"""`competency_params` and `user_competencies` (lms.md section 3): Bayesian Knowledge Tracing
per competency over the graded tasks and questions linked to it.

Evidence is every graded answer on a task or question whose node lists the competency, in time
order: a `task_attempted` event (`solved`), and a question's last answer in each quiz attempt
(`correct`; the last answer counts, as in `quiz_attempts`). Parameters are fitted per
competency on every learner's evidence (`transforms.lms.bkt.fit_bkt`); with fewer than
`MIN_FIT_LEARNERS` learners or `MIN_FIT_EVIDENCE` answers the defaults of lms.md apply.
"""

from __future__ import annotations

from datetime import datetime

import numpy as np
import polars as pl

from transforms.lms.activity import USER
from transforms.lms.bkt import DEFAULT_PARAMS, fit_bkt, mastery_path
from transforms.lms.courses import DEFAULT_MASTERY_THRESHOLD

MIN_FIT_LEARNERS = 10
MIN_FIT_EVIDENCE = 50
COMPETENCY_STATUSES = ("not_started", "in_progress", "mastered")
EVIDENCE_SCHEMA: dict[str, pl.DataType] = {
    USER: pl.String(),
    "competency_id": pl.String(),
    "occurred_at": pl.Datetime("us"),
    "event_id": pl.String(),
    "course_id": pl.String(),
    "node_id": pl.String(),
    "correct": pl.Boolean(),
}
PARAM_COLUMNS = ("prior", "learn", "slip", "guess")


def competency_evidence(events: pl.DataFrame, attributes: pl.DataFrame) -> pl.DataFrame:
    """One row per (user, competency, graded answer): `correct`, in time order. `events` as
    `lms_events`; `attributes` (node_id, competencies) of the nodes in force."""
    linked = attributes.filter(pl.col("competencies").list.len() > 0).select(
        "node_id", "competencies"
    )
    tasks = events.filter(
        (pl.col("type") == "task_attempted") & pl.col("solved").is_not_null()
    ).select(
        USER, "occurred_at", "event_id", "course_id", "node_id", pl.col("solved").alias("correct")
    )
    answers = (
        events.filter((pl.col("type") == "question_answered") & pl.col("correct").is_not_null())
        .sort("occurred_at", "event_id")
        .group_by(USER, "attempt_id", "node_id", maintain_order=True)
        .last()
        .select(USER, "occurred_at", "event_id", "course_id", "node_id", "correct")
    )
    return (
        pl.concat([tasks, answers])
        .join(linked, on="node_id")
        .explode("competencies")
        .rename({"competencies": "competency_id"})
        .select(list(EVIDENCE_SCHEMA))
        .cast(EVIDENCE_SCHEMA)  # type: ignore[arg-type]
        .unique([USER, "competency_id", "event_id"])
        .sort("competency_id", USER, "occurred_at", "event_id")
    )


def _matrix(group: pl.DataFrame) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """A competency's evidence as a padded (learners × steps) matrix, and each row's
    (learner, step) position in it (`group` sorted by user and time)."""
    learner = group[USER].rank("dense").cast(pl.Int64).to_numpy() - 1
    step = group.select(pl.int_range(pl.len()).over(USER)).to_series().to_numpy()
    obs = np.full((int(learner.max()) + 1, int(step.max()) + 1), -1, dtype=np.int8)
    obs[learner, step] = group["correct"].cast(pl.Int8).to_numpy()
    return obs, learner, step


def fit_competencies(evidence: pl.DataFrame) -> tuple[pl.DataFrame, pl.DataFrame]:
    """(`competency_params`: one row per competency with evidence — its parameters, fitted or
    the defaults, learners, answers, log-likelihood; the evidence with `p_known`, the
    probability of mastery after each answer)."""
    params: list[dict[str, object]] = []
    paths: list[pl.DataFrame] = []
    for (competency,), group in evidence.group_by("competency_id", maintain_order=True):
        group = group.sort(USER, "occurred_at", "event_id")
        obs, learner, step = _matrix(group)
        learners, answers = obs.shape[0], int((obs >= 0).sum())
        fitted = learners >= MIN_FIT_LEARNERS and answers >= MIN_FIT_EVIDENCE
        fit = fit_bkt(obs) if fitted else None
        p = fit.params if fit else DEFAULT_PARAMS
        params.append(
            {
                "competency_id": competency,
                **{c: getattr(p, c) for c in PARAM_COLUMNS},
                "fitted": fitted,
                "learners": learners,
                "evidence": answers,
                "log_likelihood": fit.log_likelihood if fit else None,
                "em_iterations": fit.iterations if fit else None,
            }
        )
        known = mastery_path(obs, p)[learner, step]
        paths.append(group.with_columns(pl.Series("p_known", known)))
    schema = {
        "competency_id": pl.String,
        **dict.fromkeys(PARAM_COLUMNS, pl.Float64),
        "fitted": pl.Boolean,
        "learners": pl.Int64,
        "evidence": pl.Int64,
        "log_likelihood": pl.Float64,
        "em_iterations": pl.Int64,
    }
    traced = (
        pl.concat(paths)
        if paths
        else evidence.with_columns(pl.lit(None, dtype=pl.Float64).alias("p_known"))
    )
    return pl.DataFrame(params, schema=schema), traced


def competency_definitions(
    competencies: pl.DataFrame, in_force: pl.DataFrame, evidence: pl.DataFrame
) -> pl.DataFrame:
    """(competency_id, name, mastery_threshold): the newest declaration in a version in force
    (`course_competencies` rows); a competency only named by nodes gets the default
    threshold."""
    declared = (
        competencies.join(
            in_force.select("course_id", "version", "published_at"), on=["course_id", "version"]
        )
        .sort("published_at", "course_id", "version")
        .group_by("competency_id", maintain_order=True)
        .last()
        .select("competency_id", "name", "mastery_threshold")
    )
    named = evidence.select("competency_id").unique()
    return (
        pl.concat([declared.select("competency_id"), named])
        .unique()
        .join(declared, on="competency_id", how="left")
        .with_columns(pl.col("mastery_threshold").fill_null(DEFAULT_MASTERY_THRESHOLD))
    )


def user_competencies(
    traced: pl.DataFrame,
    params: pl.DataFrame,
    definitions: pl.DataFrame,
    learners: pl.DataFrame,
    course_competencies: pl.DataFrame,
) -> pl.DataFrame:
    """One row per (user_id, competency_id) with evidence, or enrolled in a course whose
    current version links the competency (`not_started`, level = 100 × prior). `level` = 100 ×
    P(mastery) after the last evidence; `acquired_at` the first evidence at which it reached
    the competency's `mastery_threshold`; `status` `mastered` from then on (sticky: a later
    slip lowers `level`, not the status), else `in_progress` with evidence."""
    with_threshold = traced.join(
        definitions.select("competency_id", "mastery_threshold"), on="competency_id", how="left"
    ).with_columns(pl.col("mastery_threshold").fill_null(DEFAULT_MASTERY_THRESHOLD))
    reached = pl.col("p_known") >= pl.col("mastery_threshold")
    seen = with_threshold.group_by(USER, "competency_id").agg(
        (pl.col("p_known").last() * 100).alias("level"),
        pl.col("occurred_at").filter(reached).first().alias("acquired_at"),
        pl.len().cast(pl.Int32).alias("evidence"),
        pl.col("correct").sum().cast(pl.Int32).alias("correct"),
        pl.col("occurred_at").first().alias("first_evidence_at"),
        pl.col("occurred_at").last().alias("last_evidence_at"),
    )
    enrolled = (
        learners.select(USER, "course_id")
        .join(course_competencies, on="course_id")
        .select(USER, "competency_id")
        .unique()
    )
    priors = params.select("competency_id", "prior")
    keys = pl.concat([seen.select(USER, "competency_id"), enrolled]).unique()
    rows = (
        keys.join(seen, on=[USER, "competency_id"], how="left")
        .join(priors, on="competency_id", how="left")
        .join(definitions, on="competency_id", how="left")
        .with_columns(
            pl.col("level").fill_null(pl.col("prior").fill_null(DEFAULT_PARAMS.prior) * 100),
            pl.col("evidence", "correct").fill_null(0),
            pl.col("mastery_threshold").fill_null(DEFAULT_MASTERY_THRESHOLD),
        )
    )
    return rows.select(
        USER,
        "competency_id",
        "name",
        "level",
        pl.when(pl.col("acquired_at").is_not_null())
        .then(pl.lit("mastered"))
        .when(pl.col("evidence") > 0)
        .then(pl.lit("in_progress"))
        .otherwise(pl.lit("not_started"))
        .alias("status"),
        "acquired_at",
        "evidence",
        "correct",
        "first_evidence_at",
        "last_evidence_at",
        "mastery_threshold",
    ).sort(USER, "competency_id")


def current_competencies(current: pl.DataFrame) -> pl.DataFrame:
    """(course_id, competency_id) linked by a task or question of each course's current
    version."""
    return (
        current.filter(pl.col("competencies").list.len() > 0)
        .select("course_id", pl.col("competencies").alias("competency_id"))
        .explode("competency_id")
        .unique()
    )


def build_competencies(
    events: pl.DataFrame,
    attributes: pl.DataFrame,
    current: pl.DataFrame,
    competencies: pl.DataFrame,
    in_force: pl.DataFrame,
    enrollments: pl.DataFrame,
    as_of: datetime,
) -> dict[str, pl.DataFrame]:
    """`competency_params` and `user_competencies` from events up to `as_of`."""
    evidence = competency_evidence(events.filter(pl.col("occurred_at") <= as_of), attributes)
    params, traced = fit_competencies(evidence)
    definitions = competency_definitions(competencies, in_force, evidence)
    return {
        "competency_params": params.join(definitions, on="competency_id", how="left").sort(
            "competency_id"
        ),
        "user_competencies": user_competencies(
            traced, params, definitions, enrollments, current_competencies(current)
        ),
    }
