"""`learning_analytics` (lms.md section 3): one row per (user, course, ISO week) with activity.

Where lms.md is silent this module decides (and docs/tables.md says so):
- a week is a row when the learner has a counted event in the course that week (Monday-based
  UTC weeks, `week_start` its Monday, `iso_week` its `YYYY-Www` label);
- minutes come from the events' times (`timed_events`): lessons = events on a `lesson` node,
  quizzes = on a quiz or its questions, tasks = on tasks; assignments count in the total only;
  the part of day is the event's UTC hour;
- sessions = distinct sessions with an event in the week (one crossing midnight on Sunday counts
  in both weeks); mean session minutes = total minutes / sessions;
- quiz average = mean score of the quiz attempts completed (`quiz_attempts`) in the week; its
  change is against the calendar week before (null when either has none); grades count those
  attempts: A >= 90, B >= 80, C >= 70, D >= 60, else F;
- `engagement_trend`: least-squares slope of weekly minutes over this week and the 3 before,
  counting only weeks from the learner's first week in the course (missing weeks 0 minutes);
  stable when |slope| <= 10% of those weeks' mean minutes; null with fewer than 2 weeks;
- `consistent_schedule`: at least 4 active days in this week and each of the 2 before;
- `cramming`: >= 60% of the week's minutes on days on which, or the day before which, the
  learner completed a quiz attempt of the course (false with no minutes);
- `percentile_rank` of the learner's `percent_complete` (course_progress, as of) among the
  course's enrolled learners: (below + half of the equal ones, self included) / n × 100, the
  same on each week's row (progress is kept as of, not per week).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

import duckdb
import polars as pl

from transforms.lms.activity import timed_events
from transforms.lms.assessment_trends import (
    TREND_POINTS,
    TREND_WINDOW,
    assessment_trends,
    read_assessments,
)
from transforms.lms.course_figures import (
    course_badges_weekly,
    course_completion_days,
    course_continue_positions,
    course_funnel,
    course_lesson_time,
)
from transforms.lms.progress import LmsInputs
from transforms.lms.read import read_lms_inputs
from transforms.lms.stops import IDLE_DAYS, STOP_COLUMNS, course_stop_points
from transforms.lms.tree import node_attributes, versions_as_of
from transforms.registry import MetricTable, build_all
from transforms.warehouse import query, table_exists

USER = "user_id"
KEYS = [USER, "course_id", "week_start"]
PARTS_OF_DAY = (("night", 0), ("morning", 6), ("afternoon", 12), ("evening", 18))
GRADES = (("a", 90.0), ("b", 80.0), ("c", 70.0), ("d", 60.0))
TRENDS = ("increasing", "stable", "decreasing")
TREND_WEEKS = 4
STABLE_WITHIN = 0.10
CONSISTENT_WEEKS = 3
CONSISTENT_DAYS = 4
CRAMMING_SHARE = 0.6
WEEK = timedelta(days=7)
BADGE_SCHEMA = {"user_id": pl.String, "awarded_at": pl.Datetime, "badge_code": pl.String,
                "name": pl.String}  # fmt: skip


def _minutes(condition: pl.Expr | None = None) -> pl.Expr:
    ms = pl.col("time_ms") if condition is None else pl.col("time_ms").filter(condition)
    return (ms.sum() / 60_000).cast(pl.Float64)


def weekly_activity(events: pl.DataFrame) -> pl.DataFrame:
    """(user_id, course_id, week_start) with an event: minutes by kind and part of day, active
    days and sessions. `events` are `timed_events` rows (time_ms, node_kind, session_key)."""
    kind = pl.col("node_kind")
    hour = pl.col("occurred_at").dt.hour()
    bounds = [start for _, start in PARTS_OF_DAY[1:]] + [24]
    return (
        events.lazy()
        .select(USER, "course_id", "occurred_at", "time_ms", "node_kind", "session_key")
        .with_columns(pl.col("occurred_at").dt.truncate("1w").dt.date().alias("week_start"))
        .group_by(KEYS)
        .agg(
            _minutes(kind == "lesson").alias("minutes_lessons"),
            _minutes(kind.is_in(["quiz", "question"])).alias("minutes_quizzes"),
            _minutes(kind == "task").alias("minutes_tasks"),
            _minutes().alias("minutes_total"),
            pl.col("occurred_at").dt.date().n_unique().cast(pl.Int32).alias("active_days"),
            pl.col("session_key").n_unique().cast(pl.Int32).alias("sessions"),
            *(
                _minutes((hour >= start) & (hour < end)).alias(f"minutes_{name}")
                for (name, start), end in zip(PARTS_OF_DAY, bounds, strict=True)
            ),
        )
        .with_columns(
            (pl.col("minutes_total") / pl.col("sessions")).alias("mean_session_minutes"),
        )
        .collect()
    )


def _grade_counts() -> list[pl.Expr]:
    score = pl.col("score_percent")
    exprs = []
    upper: float | None = None
    for letter, low in GRADES:
        band = score >= low if upper is None else (score >= low) & (score < upper)
        exprs.append(band.sum().cast(pl.Int32).alias(f"grade_{letter}"))
        upper = low
    exprs.append((score < GRADES[-1][1]).sum().cast(pl.Int32).alias("grade_f"))
    return exprs


def weekly_quizzes(attempts: pl.DataFrame) -> pl.DataFrame:
    """(user_id, course_id, week_start) with a completed quiz attempt: `quiz_average`, its
    change from the calendar week before, and the grade counts."""
    weekly = (
        attempts.lazy()
        .filter((pl.col("status") == "completed") & pl.col("score_percent").is_not_null())
        .with_columns(pl.col("completed_at").dt.truncate("1w").dt.date().alias("week_start"))
        .group_by(KEYS)
        .agg(pl.col("score_percent").mean().alias("quiz_average"), *_grade_counts())
        .collect()
    )
    before = weekly.select(
        USER,
        "course_id",
        (pl.col("week_start") + WEEK).alias("week_start"),
        pl.col("quiz_average").alias("_previous"),
    )
    return weekly.join(before, on=KEYS, how="left").select(
        *KEYS,
        "quiz_average",
        (pl.col("quiz_average") - pl.col("_previous")).alias("quiz_average_change"),
        *(f"grade_{letter}" for letter in ("a", "b", "c", "d", "f")),
    )


def _look_back(weekly: pl.DataFrame, weeks: int, column: str) -> pl.DataFrame:
    """Each row's `column` in its week and the `weeks - 1` weeks before, from the learner's
    first week in the course on (0 where no row): (keys, _back, _x, <column>)."""
    first = weekly.group_by(USER, "course_id").agg(pl.col("week_start").min().alias("_first"))
    back = pl.DataFrame({"_back": list(range(weeks))}, schema={"_back": pl.Int32})
    values = weekly.select(USER, "course_id", pl.col("week_start").alias("_at"), column)
    return (
        weekly.select(KEYS)
        .join(first, on=[USER, "course_id"])
        .join(back, how="cross")
        .with_columns(
            (pl.col("week_start") - pl.duration(weeks=pl.col("_back"))).alias("_at"),
            (-pl.col("_back")).cast(pl.Float64).alias("_x"),
        )
        .filter(pl.col("_at") >= pl.col("_first"))
        .join(values, on=[USER, "course_id", "_at"], how="left")
        .with_columns(pl.col(column).fill_null(0))
    )


def engagement(weekly: pl.DataFrame) -> pl.DataFrame:
    """(keys, engagement_trend, consistent_schedule)."""
    points = _look_back(weekly, TREND_WEEKS, "minutes_total")
    x, y = pl.col("_x"), pl.col("minutes_total")
    slope = ((x - x.mean()) * (y - y.mean())).sum() / ((x - x.mean()) ** 2).sum()
    trend = (
        points.group_by(KEYS)
        .agg(slope.alias("_slope"), y.mean().alias("_mean"), pl.len().alias("_n"))
        .select(
            *KEYS,
            pl.when(pl.col("_n") < 2)
            .then(None)
            .when(pl.col("_slope").abs() <= STABLE_WITHIN * pl.col("_mean"))
            .then(pl.lit("stable"))
            .when(pl.col("_slope") > 0)
            .then(pl.lit("increasing"))
            .otherwise(pl.lit("decreasing"))
            .alias("engagement_trend"),
        )
    )
    days = _look_back(weekly, CONSISTENT_WEEKS, "active_days")
    consistent = days.group_by(KEYS).agg(
        ((pl.col("active_days") >= CONSISTENT_DAYS).sum() == CONSISTENT_WEEKS).alias(
            "consistent_schedule"
        )
    )
    return trend.join(consistent, on=KEYS)


def cramming(events: pl.DataFrame, attempts: pl.DataFrame) -> pl.DataFrame:
    """(keys, cramming): whether >= 60% of the week's minutes fell on a day on which, or the
    day before which, the learner completed a quiz attempt of the course."""
    quiz_days = (
        attempts.lazy()
        .filter(pl.col("status") == "completed")
        .select(USER, "course_id", pl.col("completed_at").dt.date().alias("_quiz_day"))
        .unique()
    )
    before_quiz = pl.concat(
        [
            quiz_days.select(USER, "course_id", pl.col("_quiz_day").alias("day")),
            quiz_days.select(
                USER, "course_id", (pl.col("_quiz_day") - timedelta(days=1)).alias("day")
            ),
        ]
    ).unique()
    daily = (
        events.lazy()
        .group_by(USER, "course_id", pl.col("occurred_at").dt.date().alias("day"))
        .agg(pl.col("time_ms").sum())
        .join(
            before_quiz.with_columns(pl.lit(True).alias("_near")),
            on=[USER, "course_id", "day"],
            how="left",
        )
        .with_columns(pl.col("day").dt.truncate("1w").alias("week_start"))
    )
    return (
        daily.group_by(KEYS)
        .agg(
            pl.col("time_ms").filter(pl.col("_near").fill_null(False)).sum().alias("_near_ms"),
            pl.col("time_ms").sum().alias("_ms"),
        )
        .select(
            *KEYS,
            ((pl.col("_ms") > 0) & (pl.col("_near_ms") >= CRAMMING_SHARE * pl.col("_ms"))).alias(
                "cramming"
            ),
        )
        .collect()
    )


def percentile_ranks(course_progress: pl.DataFrame) -> pl.DataFrame:
    """(user_id, course_id, percent_complete, percentile_rank): (learners below + half of
    those equal, self included) / learners with a percent × 100, per course."""
    pct = pl.col("percent_complete")
    low = pct.rank("min").over("course_id")
    high = pct.rank("max").over("course_id")
    n = pct.count().over("course_id")
    return course_progress.select(
        USER,
        "course_id",
        "percent_complete",
        (((low - 1) + (high - low + 1) / 2) / n * 100).alias("percentile_rank"),
    )


def learning_analytics(
    events: pl.DataFrame, attempts: pl.DataFrame, course_progress: pl.DataFrame
) -> pl.DataFrame:
    """One row per (user_id, course_id, week_start) with an event of the learner in the course
    that week (see the module docstring for every column)."""
    weekly = weekly_activity(events)
    return (
        weekly.join(weekly_quizzes(attempts), on=KEYS, how="left")
        .join(engagement(weekly), on=KEYS, how="left")
        .join(cramming(events, attempts), on=KEYS, how="left")
        .join(percentile_ranks(course_progress), on=[USER, "course_id"], how="left")
        .with_columns(
            pl.col("week_start").dt.strftime("%G-W%V").alias("iso_week"),
            pl.col("consistent_schedule").fill_null(False),
            pl.col("cramming").fill_null(False),
            *(pl.col(f"grade_{g}").fill_null(0) for g in ("a", "b", "c", "d", "f")),
        )
        .select(
            USER,
            "course_id",
            "iso_week",
            "week_start",
            "minutes_lessons",
            "minutes_quizzes",
            "minutes_tasks",
            "minutes_total",
            "active_days",
            "sessions",
            "mean_session_minutes",
            *(f"minutes_{name}" for name, _ in PARTS_OF_DAY),
            "quiz_average",
            "quiz_average_change",
            *(f"grade_{g}" for g in ("a", "b", "c", "d", "f")),
            "engagement_trend",
            "consistent_schedule",
            "cramming",
            "percent_complete",
            "percentile_rank",
        )
        .sort(KEYS)
    )


def build_learning_analytics(
    inputs: LmsInputs, as_of: datetime, attempts: pl.DataFrame, course_progress: pl.DataFrame
) -> pl.DataFrame:
    """`learning_analytics` as of `as_of` from the inputs of the progress tables (events after
    it left out, orphans ignored) and the `quiz_attempts` and `course_progress` tables."""
    in_force = versions_as_of(inputs.versions, as_of)
    attrs = node_attributes(inputs.nodes, in_force)
    courses = in_force["course_id"].unique().to_list()
    events = timed_events(inputs.events.filter(pl.col("occurred_at") <= as_of), attrs, courses)
    return learning_analytics(events, attempts, course_progress)


@dataclass(frozen=True)
class AnalyticsParts:
    """What the analytics tables are built from: the progress tables' inputs, the as-of time,
    the `quiz_attempts`, `course_progress`, `enrollments`, `module_progress`,
    `lesson_progress` and `user_badges` tables."""

    inputs: LmsInputs
    as_of: datetime
    attempts: pl.DataFrame  # user_id, course_id, status, completed_at, score_percent
    course_progress: pl.DataFrame  # percent_complete, started_at and `stops.STOP_COLUMNS`
    assessments: pl.DataFrame  # `assessment_trends.read_assessments`
    enrollments: pl.DataFrame  # user_id, course_id, enrolled_at, completed_at
    module_progress: pl.DataFrame  # course_id, module_id, status
    lesson_progress: pl.DataFrame  # course_id, lesson_id, time_spent_s
    badges: pl.DataFrame  # user_badges: user_id, awarded_at, badge_code, name


ANALYTICS_TABLES: tuple[MetricTable[AnalyticsParts], ...] = (
    MetricTable(
        "learning_analytics",
        "One row per (user_id, course_id, week_start: an ISO week's Monday) with an event of "
        "the learner in the course that week: minutes by kind and part of day, active days, "
        "sessions, quiz average and grades, engagement trend, consistency, cramming, "
        "percentile rank of percent complete.",
        lambda p: build_learning_analytics(p.inputs, p.as_of, p.attempts, p.course_progress),
        key=(USER, "course_id", "week_start"),
        percents=("percentile_rank", "quiz_average"),
    ),
    MetricTable(
        "course_stop_points",
        "One row per (course_id, lesson_id) where a learner stopped (withdrew, paused or idle "
        f"{IDLE_DAYS}+ days without completing; the lesson they would continue at): stopped "
        "learners, the course's, and the share with its Wilson 95% interval.",
        lambda p: course_stop_points(p.course_progress, p.as_of),
        key=("course_id", "lesson_id"),
        proportions=("share", "share_low", "share_high"),
        completed_le_total=(("stopped", "stopped_learners"),),
    ),
    MetricTable(
        "assessment_trends",
        "One row per user_id with a completed quiz attempt or a graded assignment: "
        "assessments, their mean score and its trend (improving, steady, declining: the "
        f"least-squares slope of the last {TREND_WINDOW} scores beyond ±{TREND_POINTS:g} "
        "point per assessment; null with fewer than 3).",
        lambda p: assessment_trends(p.assessments),
        key=(USER,),
        percents=("mean_assessment_percent",),
    ),
    MetricTable(
        "course_funnel",
        "One row per (course_id, stage, module_id): learners enrolled, started, completed each "
        "module (module_id set; modules with a completion) and completed the course, and the "
        "course's enrolled learners.",
        lambda p: course_funnel(p.enrollments, p.course_progress, p.module_progress),
        key=("course_id", "stage", "module_id"),
        completed_le_total=(("learners", "enrolled"),),
    ),
    MetricTable(
        "course_completion_days",
        "One row per (course_id, series, day) with an enrollment (series enrolled) or a "
        "course completion (series completed): learners that day and the running total.",
        lambda p: course_completion_days(p.enrollments),
        key=("course_id", "series", "day"),
        completed_le_total=(("learners", "total"),),
    ),
    MetricTable(
        "course_lesson_time",
        "One row per (course_id, lesson_id) a learner spent time on: the median minutes of "
        "the learners with time spent, and how many they are.",
        lambda p: course_lesson_time(p.lesson_progress),
        key=("course_id", "lesson_id"),
    ),
    MetricTable(
        "course_continue_positions",
        "One row per (course_id, lesson_id) at which active learners who have not completed "
        'the course will "continue here": how many, and the active learners of the course.',
        lambda p: course_continue_positions(p.course_progress),
        key=("course_id", "lesson_id"),
        completed_le_total=(("learners", "active_learners"),),
    ),
    MetricTable(
        "course_badges_weekly",
        "One row per (course_id, week: an ISO week's Monday, badge_code) with an award to a "
        "learner enrolled in the course (wherever earned): the badge's name and its awards.",
        lambda p: course_badges_weekly(p.enrollments, p.badges),
        key=("course_id", "week", "badge_code"),
    ),
)


def read_analytics_parts(con: duckdb.DuckDBPyConnection, as_of: datetime) -> AnalyticsParts:
    """The analytics tables' inputs as of `as_of`: the progress tables' inputs, `quiz_attempts`,
    `course_progress` and every learner's assessments."""
    return AnalyticsParts(
        read_lms_inputs(con, as_of),
        as_of,
        query(
            con,
            "SELECT user_id, course_id, status, completed_at, score_percent FROM quiz_attempts",
        ),
        query(
            con,
            f"SELECT {', '.join(STOP_COLUMNS)}, percent_complete, started_at FROM course_progress",
        ),
        read_assessments(con),
        query(con, "SELECT user_id, course_id, enrolled_at, completed_at FROM enrollments"),
        query(con, "SELECT course_id, module_id, status FROM module_progress"),
        query(con, "SELECT course_id, lesson_id, time_spent_s FROM lesson_progress"),
        query(con, "SELECT user_id, awarded_at, badge_code, name FROM user_badges")
        if table_exists(con, "user_badges")
        else pl.DataFrame(schema=BADGE_SCHEMA),
    )


def build_analytics_tables(parts: AnalyticsParts) -> dict[str, pl.DataFrame]:
    """Every course-platform analytics table, keyed by its warehouse name."""
    return build_all(ANALYTICS_TABLES, parts)
