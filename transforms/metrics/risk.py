"""Who is likely to stop studying: `at_risk_learners` and its honest backtest `at_risk_backtest`
(metrics.md).

A learner here is a (user_id, course); a language learner's course is `lang:<code>`. Every
figure is "as of" a day D: only activity on or before D counts. The history's weekly snapshots
(each Monday S with S + 14 days before the as-of day) give the training rows: the features as
of S, and the label "no activity in the 14 days after S" (S + 1 to S + 14). Only learners not
churned as of the day (idle at most 28 days, `learner_status`) are scored: a churned learner is
reported as churned, never as at risk.

Features, as of day D (windows are calendar days ending on D):
- `idle_days`: D - last active day;
- `active_days_28d`: days with an attempt in the last 28 days (D - 27 .. D);
- `attempts_ratio_7d`: attempts in the last 7 days / (attempts in the last 28 days / 4)
  (null without attempts in the 28 days);
- `accuracy_change`: accuracy of the last 7 days - accuracy of the 28 days before them
  (D - 34 .. D - 7), null when either has no attempt;
- `overdue_ratio`: overdue reviews / mean daily graded reviews of the last 28 days, the mean taken
  over at least one review (a learner without reviews has overdue x 28). A card is overdue at a
  moment when the `due_at` of its latest review before that moment has passed: computed from
  `reviews` as known then, never from today's `word_progress` (no leakage);
- `true_retention_14d`: passed share of graded non-first reviews in the last 14 days (null
  without any);
- `current_streak`: consecutive study days ending on D, or on D - 1 when D has none yet.

Missing features are set to the training mean (they neither raise nor lower a learner's risk).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

import numpy as np
import polars as pl
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import StandardScaler

from transforms.evaluation import auc
from transforms.metrics.common import graded_non_first
from transforms.metrics.progress import streaks
from transforms.metrics.status import language_course, learner_status

KEYS = ["user_id", "course"]
HORIZON_DAYS = 14  # the label: no activity in the 14 days after the snapshot day
WINDOW_DAYS = 28  # "the last 4 weeks" of every feature
RECENT_DAYS = 7
RETENTION_DAYS = 14
MIN_LABELLED = 50  # fewer labelled snapshots than this: the rules instead of the model
MIN_PRECISION = 0.5  # flag at the lowest risk whose backtest precision reaches this
TOP_SHARE = 0.10  # ... or the riskiest 10% when no threshold reaches it
MAX_REASONS = 3

FEATURES: tuple[str, ...] = (
    "idle_days",
    "active_days_28d",
    "attempts_ratio_7d",
    "accuracy_change",
    "overdue_ratio",
    "true_retention_14d",
    "current_streak",
)
# Shown next to the features, for the reasons in words.
DETAILS: tuple[str, ...] = (
    "active_days_before_idle",
    "accuracy_7d",
    "accuracy_prior_28d",
    "overdue_reviews",
    "daily_reviews_28d",
    "reviews_14d",
)
FEATURE_SCHEMA: dict[str, pl.DataType] = {
    "user_id": pl.String(),
    "course": pl.String(),
    "idle_days": pl.Int32(),
    "active_days_28d": pl.Int32(),
    "attempts_ratio_7d": pl.Float64(),
    "accuracy_change": pl.Float64(),
    "overdue_ratio": pl.Float64(),
    "true_retention_14d": pl.Float64(),
    "current_streak": pl.Int32(),
    "active_days_before_idle": pl.Int32(),
    "accuracy_7d": pl.Float64(),
    "accuracy_prior_28d": pl.Float64(),
    "overdue_reviews": pl.Int64(),
    "daily_reviews_28d": pl.Float64(),
    "reviews_14d": pl.Int64(),
}
AT_RISK_SCHEMA: dict[str, pl.DataType] = {
    "user_id": pl.String(),
    "course": pl.String(),
    "risk": pl.Float64(),
    "flagged": pl.Boolean(),
    "reasons": pl.String(),
    "model": pl.String(),
    "threshold": pl.Float64(),
    **{k: v for k, v in FEATURE_SCHEMA.items() if k not in KEYS},
}
BACKTEST_SCHEMA: dict[str, pl.DataType] = {
    "snapshot_day": pl.Date(),
    "learners": pl.Int64(),
    "base_rate": pl.Float64(),
    "trained_on": pl.Int64(),
    "auc": pl.Float64(),
    "precision": pl.Float64(),
    "recall": pl.Float64(),
    "flagged": pl.Int64(),
    "threshold": pl.Float64(),
    "rules_flagged": pl.Int64(),
    "rules_precision": pl.Float64(),
    "rules_recall": pl.Float64(),
    "rules_auc": pl.Float64(),
}


@dataclass(frozen=True)
class RiskRules:
    """The rules that flag a learner when the history is too short to fit the model, and the
    baseline the backtest holds the model against. A learner is flagged when any rule holds:
    - no activity for at least `idle_days` days;
    - accuracy of the last 7 days at least `accuracy_drop` (a share) below the 28 days before;
    - more than `overdue_ratio` times the mean daily graded reviews of the last 28 days overdue;
    - true retention of the last 14 days below `retention` over at least `retention_reviews`
      graded non-first reviews."""

    idle_days: int = 7
    accuracy_drop: float = 0.15
    overdue_ratio: float = 3.0
    retention: float = 0.70
    retention_reviews: int = 20

    def conditions(self) -> dict[str, pl.Expr]:
        """Per feature, the rule on it (null-safe: a missing feature breaks no rule)."""
        return {
            "idle_days": pl.col("idle_days") >= self.idle_days,
            "accuracy_change": (pl.col("accuracy_change") <= -self.accuracy_drop).fill_null(False),
            "overdue_ratio": (pl.col("overdue_ratio") > self.overdue_ratio).fill_null(False),
            "true_retention_14d": (
                (pl.col("reviews_14d") >= self.retention_reviews)
                & (pl.col("true_retention_14d") < self.retention)
            ).fill_null(False),
        }

    def flagged(self) -> pl.Expr:
        return pl.any_horizontal(list(self.conditions().values()))

    def describe(self) -> str:
        """The rules in words, for readers of the reports."""
        return (
            f"idle {self.idle_days}+ days, accuracy of the last 7 days "
            f"{self.accuracy_drop * 100:g} points below the 4 weeks before, more than "
            f"{self.overdue_ratio:g} times the mean daily reviews overdue, or true retention "
            f"under {self.retention:.0%} over {self.retention_reviews}+ reviews in 14 days"
        )


RULES = RiskRules()


def _pct(expr: pl.Expr) -> pl.Expr:
    return (expr * 100).round(0).cast(pl.Int64).cast(pl.String) + pl.lit("%")


def _one_decimal(expr: pl.Expr) -> pl.Expr:
    return expr.round(1).cast(pl.String)


# Each feature in words, with its value (null when the feature is missing).
PHRASES: dict[str, pl.Expr] = {
    "idle_days": pl.format(
        "no activity for {} days, after {} active days in the 4 weeks before",
        "idle_days",
        "active_days_before_idle",
    ),
    "active_days_28d": pl.format("{} active days in the last 4 weeks", "active_days_28d"),
    "attempts_ratio_7d": pl.format(
        "attempts in the last 7 days at {} of the weekly mean of the last 4 weeks",
        _pct(pl.col("attempts_ratio_7d")),
    ),
    "accuracy_change": pl.format(
        "accuracy {} in the last 7 days against {} in the 4 weeks before",
        _pct(pl.col("accuracy_7d")),
        _pct(pl.col("accuracy_prior_28d")),
    ),
    "overdue_ratio": pl.format(
        "{} reviews overdue, {} times the {} reviews a day of the last 4 weeks",
        "overdue_reviews",
        _one_decimal(pl.col("overdue_ratio")),
        _one_decimal(pl.col("daily_reviews_28d")),
    ),
    "true_retention_14d": pl.format(
        "true retention {} over {} reviews in the last 14 days",
        _pct(pl.col("true_retention_14d")),
        "reviews_14d",
    ),
    "current_streak": pl.when(pl.col("current_streak") > 0)
    .then(pl.format("a current streak of {} days", "current_streak"))
    .otherwise(pl.lit("no study streak going")),
}


def course_activity(daily: pl.DataFrame) -> pl.DataFrame:
    """(user_id, course, day) from `accuracy_daily`: the input of `learner_status`."""
    return daily.select("user_id", language_course(pl.col("language")).alias("course"), "day")


def overdue_spells(reviews: pl.DataFrame) -> pl.DataFrame:
    """Per graded review, when its card is overdue on it: from `max(reviewed_at, due_at)` until
    the card's next review (`until` null: still open). (user_id, course, since, until)."""
    card = ["user_id", "language", "word_uid"]
    return (
        reviews.sort(*card, "reviewed_at")
        .select(
            "user_id",
            language_course(pl.col("language")).alias("course"),
            # a review without a due date never makes its card overdue
            pl.when(pl.col("due_at").is_not_null())
            .then(pl.max_horizontal("reviewed_at", "due_at"))
            .alias("since"),
            pl.col("reviewed_at").shift(-1).over(card).alias("until"),
        )
        .filter(
            pl.col("since").is_not_null()
            & (pl.col("until").is_null() | (pl.col("since") < pl.col("until")))
        )
    )


@dataclass(frozen=True)
class History:
    """What the features are computed from: daily activity per course, graded non-first
    reviews by day, and the cards' overdue spells."""

    daily: pl.DataFrame  # accuracy_daily with `course`
    graded: pl.DataFrame  # user_id, course, day, passed
    spells: pl.DataFrame | None  # overdue_spells; None: the caller gives the overdue counts

    @classmethod
    def of(cls, daily: pl.DataFrame, reviews: pl.DataFrame, pass_quality: int) -> History:
        return cls(
            daily.with_columns(language_course(pl.col("language")).alias("course")),
            graded_non_first(reviews, pass_quality).select(
                "user_id",
                language_course(pl.col("language")).alias("course"),
                pl.col("reviewed_at").dt.date().alias("day"),
                "passed",
            ),
            overdue_spells(reviews),
        )


def overdue_at(spells: pl.DataFrame, moment: datetime) -> pl.DataFrame:
    """(user_id, course, overdue_reviews): the cards overdue at `moment`, from their spells."""
    return (
        spells.filter(
            (pl.col("since") <= moment) & (pl.col("until").is_null() | (pl.col("until") > moment))
        )
        .group_by(KEYS)
        .agg(pl.len().cast(pl.Int64).alias("overdue_reviews"))
    )


def features_at(
    history: History,
    day: date,
    moment: datetime,
    overdue: pl.DataFrame | None = None,
    streak: pl.DataFrame | None = None,
) -> pl.DataFrame:
    """The features of every learner not churned as of `day` (FEATURE_SCHEMA), from activity
    on or before `day`; overdue reviews are counted at `moment` (the end of `day` for a past
    snapshot, the as-of time for today). `overdue` (user_id, course, overdue_reviews) and
    `streak` (user_id, course, current_streak as of `day`) are those counts when the caller
    has them (a nightly run, from the cards' stored state), else they come from `history`."""
    known = history.daily.filter(pl.col("day") <= day)
    status = learner_status(known.select(*KEYS, "day"), day).filter(pl.col("status") != "churned")
    if status.height == 0:
        return pl.DataFrame(schema=FEATURE_SCHEMA)
    d = pl.col("day")

    def since(days: int) -> pl.Expr:
        return d > pl.lit(day - timedelta(days=days))

    prior = (d <= pl.lit(day - timedelta(days=RECENT_DAYS))) & since(RECENT_DAYS + WINDOW_DAYS)
    activity = (
        known.filter(since(RECENT_DAYS + WINDOW_DAYS))
        .group_by(KEYS)
        .agg(
            since(WINDOW_DAYS).sum().cast(pl.Int32).alias("active_days_28d"),
            pl.col("attempts").filter(since(RECENT_DAYS)).sum().alias("_att7"),
            pl.col("correct").filter(since(RECENT_DAYS)).sum().alias("_cor7"),
            pl.col("attempts").filter(since(WINDOW_DAYS)).sum().alias("_att28"),
            pl.col("attempts").filter(prior).sum().alias("_att_prior"),
            pl.col("correct").filter(prior).sum().alias("_cor_prior"),
            pl.col("reviews").filter(since(WINDOW_DAYS)).sum().alias("_reviews28"),
        )
    )
    # active days in the 4 weeks up to the last active day (the spell before going idle)
    before_idle = (
        known.join(status.select(*KEYS, "last_active_day"), on=KEYS)
        .filter(d > pl.col("last_active_day") - pl.duration(days=WINDOW_DAYS))
        .group_by(KEYS)
        .agg(pl.len().cast(pl.Int32).alias("active_days_before_idle"))
    )
    retention = (
        history.graded.filter((d <= day) & since(RETENTION_DAYS))
        .group_by(KEYS)
        .agg(pl.len().cast(pl.Int64).alias("reviews_14d"), pl.col("passed").mean().alias("_ret"))
    )
    if overdue is None:
        assert history.spells is not None, "no spells and no overdue counts"
        overdue = overdue_at(history.spells, moment)
    if streak is None:
        streak = course_streaks(known, day)
    accuracy_7d = pl.when(pl.col("_att7") > 0).then(pl.col("_cor7") / pl.col("_att7"))
    accuracy_prior = pl.when(pl.col("_att_prior") > 0).then(
        pl.col("_cor_prior") / pl.col("_att_prior")
    )
    daily_reviews = pl.col("_reviews28").fill_null(0) / WINDOW_DAYS
    return (
        status.select(*KEYS, "idle_days")
        .join(activity, on=KEYS, how="left")
        .join(before_idle, on=KEYS, how="left")
        .join(retention, on=KEYS, how="left")
        .join(overdue, on=KEYS, how="left")
        .join(streak, on=KEYS, how="left")
        .with_columns(
            pl.col("active_days_28d", "overdue_reviews", "reviews_14d").fill_null(0),
            accuracy_7d.alias("accuracy_7d"),
            accuracy_prior.alias("accuracy_prior_28d"),
            daily_reviews.alias("daily_reviews_28d"),
        )
        .select(
            *KEYS,
            "idle_days",
            "active_days_28d",
            pl.when(pl.col("_att28") > 0)
            .then(pl.col("_att7") / (pl.col("_att28") / (WINDOW_DAYS / RECENT_DAYS)))
            .alias("attempts_ratio_7d"),
            (pl.col("accuracy_7d") - pl.col("accuracy_prior_28d")).alias("accuracy_change"),
            (
                pl.col("overdue_reviews")
                / (pl.max_horizontal(pl.col("_reviews28").fill_null(0), 1) / WINDOW_DAYS)
            ).alias("overdue_ratio"),
            pl.col("_ret").alias("true_retention_14d"),
            pl.col("current_streak").fill_null(0),
            *DETAILS,
        )
        .cast(FEATURE_SCHEMA)  # type: ignore[arg-type]
        .sort(KEYS)
    )


def course_streaks(daily: pl.DataFrame, day: date) -> pl.DataFrame:
    """(user_id, course, current_streak) as of `day`, from daily activity with `course`."""
    return streaks(
        daily.select("user_id", pl.col("course").alias("language"), "day"),
        datetime.combine(day, time()),
    ).select("user_id", pl.col("language").alias("course"), "current_streak")


def snapshot_days(daily: pl.DataFrame, as_of_day: date) -> list[date]:
    """Every Monday from the first activity on, with its 14 days after it ending before the
    as-of day (S + 14 < as-of day): the days whose outcome is fully known."""
    if daily.height == 0:
        return []
    first = daily["day"].min()
    assert isinstance(first, date)
    monday = first + timedelta(days=(7 - first.weekday()) % 7)
    last = as_of_day - timedelta(days=HORIZON_DAYS + 1)
    return [monday + timedelta(weeks=k) for k in range(max(0, (last - monday).days // 7 + 1))]


def snapshot_moment(day: date) -> datetime:
    """When a snapshot's overdue cards are counted: the end of its day."""
    return datetime.combine(day + timedelta(days=1), time())


def labelled_snapshots(
    history: History,
    days: list[date],
    overdue: Callable[[datetime], pl.DataFrame] | None = None,
    streak: Callable[[date], pl.DataFrame] | None = None,
) -> pl.DataFrame:
    """The features of every learner at every snapshot day, with `snapshot_day` and `label`
    (True: no activity in the 14 days after). `overdue` gives the overdue counts at a moment
    (`features_at`) when `history` has no spells, `streak` the current streaks on a day when
    `history` holds only some of the days before it."""
    frames = [
        features_at(
            history,
            s,
            snapshot_moment(s),
            None if overdue is None else overdue(snapshot_moment(s)),
            None if streak is None else streak(s),
        ).with_columns(pl.lit(s).alias("snapshot_day"))
        for s in days
    ]
    schema = {"snapshot_day": pl.Date(), **FEATURE_SCHEMA}
    if not frames:
        return pl.DataFrame(schema={**schema, "label": pl.Boolean()})
    rows = pl.concat(frames).select(*schema)
    later = (
        rows.select(*KEYS, "snapshot_day")
        .join(history.daily.select(*KEYS, "day"), on=KEYS)
        .filter(
            (pl.col("day") > pl.col("snapshot_day"))
            & (pl.col("day") <= pl.col("snapshot_day").dt.offset_by(f"{HORIZON_DAYS}d"))
        )
        .select(*KEYS, "snapshot_day")
        .unique()
        .with_columns(pl.lit(False).alias("label"))
    )
    return (
        rows.join(later, on=[*KEYS, "snapshot_day"], how="left")
        .with_columns(pl.col("label").fill_null(True))
        .sort("snapshot_day", *KEYS)
    )


@dataclass(frozen=True)
class Fitted:
    """A fitted risk model, or why there is none (`why` set, `pipeline` None)."""

    pipeline: Pipeline | None
    rows: int
    why: str | None

    @property
    def description(self) -> str:
        if self.pipeline is None:
            return f"rules: {self.why}"
        return f"logistic regression on {self.rows} snapshots"


def _matrix(frame: pl.DataFrame) -> np.ndarray:
    return frame.select(pl.col(FEATURES).cast(pl.Float64)).to_numpy()


def fit_model(training: pl.DataFrame) -> Fitted:
    """Logistic regression (lbfgs, standardized features, missing ones at the training mean) on
    labelled snapshots; none with fewer than 50 or a single outcome."""
    n = training.height
    if n < MIN_LABELLED:
        return Fitted(None, n, f"only {n} labelled snapshots (at least {MIN_LABELLED} needed)")
    y = training["label"].to_numpy().astype(int)
    if y.min() == y.max():
        outcome = "no activity" if y[0] else "activity"
        return Fitted(None, n, f"all {n} labelled snapshots have the same outcome ({outcome})")
    pipeline = make_pipeline(
        SimpleImputer(strategy="mean", keep_empty_features=True),
        StandardScaler(),
        LogisticRegression(solver="lbfgs", max_iter=1000, random_state=0),
    )
    pipeline.fit(_matrix(training.sort("snapshot_day", *KEYS)), y)
    return Fitted(pipeline, n, None)


def _risk(pipeline: Pipeline, frame: pl.DataFrame) -> np.ndarray:
    return pipeline.predict_proba(_matrix(frame))[:, 1]


def _contributions(pipeline: Pipeline, frame: pl.DataFrame) -> np.ndarray:
    """Per learner and feature: coefficient x standardized value (how far it moves the log-odds
    from the average learner's)."""
    scaled = pipeline[:-1].transform(_matrix(frame))
    return np.asarray(scaled * pipeline[-1].coef_[0])


def precision_threshold(risk: np.ndarray, label: np.ndarray) -> float | None:
    """The lowest risk at which flagging everyone at or above it has precision >= 0.5 on these
    outcomes (None when no risk does)."""
    if len(risk) == 0:
        return None
    order = np.argsort(-risk, kind="mergesort")
    sorted_risk, hits = risk[order], np.cumsum(label[order].astype(int))
    # the last row of each run of equal risks: flagging at that risk flags the whole run
    ends = np.r_[np.flatnonzero(np.diff(sorted_risk)), len(risk) - 1]
    precision = hits[ends] / (ends + 1)
    reached = ends[precision >= MIN_PRECISION]
    return float(sorted_risk[reached[-1]]) if len(reached) else None


def top_share_threshold(risk: np.ndarray) -> float | None:
    """The risk of the learner at the top 10% mark (at least one learner)."""
    if len(risk) == 0:
        return None
    k = max(1, math.ceil(TOP_SHARE * len(risk)))
    return float(np.sort(risk)[::-1][k - 1])


def _share(numerator: int, denominator: int) -> float | None:
    return numerator / denominator if denominator else None


def _auc(score: np.ndarray, label: np.ndarray) -> float | None:
    value = auc(score, label)
    return None if math.isnan(value) else value


def _scores(flag: np.ndarray, label: np.ndarray) -> tuple[int, float | None, float | None]:
    """Flagged count, precision and recall of a flag against outcomes."""
    hits = int((flag & label).sum())
    return int(flag.sum()), _share(hits, int(flag.sum())), _share(hits, int(label.sum()))


SCORED_SCHEMA: dict[str, pl.DataType] = {
    "snapshot_day": pl.Date(),
    "risk": pl.Float64(),
    "label": pl.Boolean(),
}
SNAPSHOT_SCHEMA: dict[str, pl.DataType] = {
    "snapshot_day": pl.Date(),
    **FEATURE_SCHEMA,
    "label": pl.Boolean(),
    "backtest_risk": pl.Float64(),
}


@dataclass(frozen=True)
class Backtest:
    table: pl.DataFrame  # BACKTEST_SCHEMA: the rows of the snapshot days scored
    snapshots: pl.DataFrame  # SNAPSHOT_SCHEMA: those days' snapshots, with `backtest_risk`


def _scored(snapshots: pl.DataFrame) -> pl.DataFrame:
    """The out-of-sample predictions (`backtest_risk` set) with their outcomes."""
    return snapshots.filter(pl.col("backtest_risk").is_not_null()).select(
        "snapshot_day", pl.col("backtest_risk").alias("risk"), "label"
    )


def at_risk_backtest(snapshots: pl.DataFrame, from_day: date | None = None) -> Backtest:
    """One row per snapshot Monday with a learner to score, scored by a model fitted only on
    the snapshots whose 14-day outcome was known by that Monday (S' + 14 <= S), never on itself;
    with too little of that for a model, the model's figures are null and the rules' are still
    there. The flag threshold of a snapshot comes the same way from the earlier snapshots'
    out-of-sample predictions (the top 10% of its own risks when none reaches precision 0.5).

    With `from_day`, only the snapshot days from it on are scored: the earlier ones keep their
    rows, and their `backtest_risk` (SNAPSHOT_SCHEMA) gives the earlier predictions (a nightly
    run whose changes reach no earlier snapshot)."""
    rows: list[dict[str, object]] = []
    snapshots = snapshots.sort("snapshot_day", *KEYS).with_columns(RULES.flagged().alias("_rules"))
    if "backtest_risk" not in snapshots.columns:
        snapshots = snapshots.with_columns(pl.lit(None, pl.Float64).alias("backtest_risk"))
    done = pl.lit(True) if from_day is None else pl.col("snapshot_day") < pl.lit(from_day)
    scored: list[pl.DataFrame] = [_scored(snapshots.filter(done))] if from_day else []
    scored.append(pl.DataFrame(schema=SCORED_SCHEMA))
    out: list[pl.DataFrame] = [pl.DataFrame(schema=SNAPSHOT_SCHEMA)]
    todo = snapshots if from_day is None else snapshots.filter(~done)
    for (day,), part in todo.partition_by("snapshot_day", as_dict=True).items():
        assert isinstance(day, date)
        label = part["label"].to_numpy().astype(bool)
        # outcome known by `day`: S' + 14 days <= day
        known_by = pl.col("snapshot_day") <= pl.lit(day - timedelta(days=HORIZON_DAYS))
        fitted = fit_model(snapshots.filter(known_by))
        rules = part["_rules"].to_numpy().astype(bool)
        r_flagged, r_precision, r_recall = _scores(rules, label)
        row: dict[str, object] = {
            "snapshot_day": day,
            "learners": part.height,
            "base_rate": float(label.mean()),
            "trained_on": fitted.rows,
            "rules_flagged": r_flagged,
            "rules_precision": r_precision,
            "rules_recall": r_recall,
            "rules_auc": _auc(rules.astype(float), label),
        }
        risk: np.ndarray | None = None
        if fitted.pipeline is not None:
            risk = _risk(fitted.pipeline, part)
            earlier = pl.concat(scored).filter(known_by)
            threshold = precision_threshold(earlier["risk"].to_numpy(), earlier["label"].to_numpy())
            threshold = top_share_threshold(risk) if threshold is None else threshold
            flagged, precision, recall = _scores(risk >= threshold, label)
            row |= {
                "auc": _auc(risk, label),
                "precision": precision,
                "recall": recall,
                "flagged": flagged,
                "threshold": threshold,
            }
            scored.append(
                pl.DataFrame(
                    {"snapshot_day": [day] * part.height, "risk": risk, "label": label},
                    schema=SCORED_SCHEMA,
                )
            )
        predicted = pl.lit(None, pl.Float64) if risk is None else pl.Series(risk, dtype=pl.Float64)
        out.append(
            part.with_columns(predicted.alias("backtest_risk")).select(list(SNAPSHOT_SCHEMA))
        )
        rows.append(row)
    table = pl.DataFrame(rows, schema=BACKTEST_SCHEMA).sort("snapshot_day")
    return Backtest(table, pl.concat(out).sort("snapshot_day", *KEYS))


def _rule_reasons() -> pl.Expr:
    conditions = RULES.conditions()
    return pl.concat_str(
        [pl.when(cond).then(PHRASES[name]) for name, cond in conditions.items()],
        separator="; ",
        ignore_nulls=True,
    )


def _model_reasons(contributions: np.ndarray, phrases: pl.DataFrame) -> list[str]:
    """Per learner, the (up to three) features that raise the risk most, in words."""
    out = []
    for i, row in enumerate(contributions):
        order = [j for j in np.argsort(-row, kind="mergesort") if row[j] > 0][:MAX_REASONS]
        words = [phrases[FEATURES[j]][i] for j in order]
        out.append("; ".join(w for w in words if w) or "nothing above the average learner")
    return out


@dataclass(frozen=True)
class RiskTables:
    status: pl.DataFrame
    at_risk: pl.DataFrame
    backtest: pl.DataFrame
    snapshots: pl.DataFrame  # SNAPSHOT_SCHEMA: the model's training rows (`at_risk_snapshots`)
    scorer: Scorer | None = None  # what scored `at_risk` (kept for the next night)


@dataclass(frozen=True)
class Scorer:
    """What scores today's learners, from every labelled snapshot with its out-of-sample
    `backtest_risk`: the model fitted on them all, and the flag threshold the backtest's
    predictions give (None: no model, or no risk reaches precision 0.5). The same snapshots
    give the same scorer, so a night whose snapshots did not change can keep it."""

    fitted: Fitted
    threshold: float | None


def fit_scorer(snapshots: pl.DataFrame) -> Scorer:
    fitted = fit_model(snapshots)
    if fitted.pipeline is None:
        return Scorer(fitted, None)
    backtest = _scored(snapshots)
    return Scorer(
        fitted, precision_threshold(backtest["risk"].to_numpy(), backtest["label"].to_numpy())
    )


def score_learners(current: pl.DataFrame, scorer: Scorer) -> pl.DataFrame:
    """`at_risk_learners` from today's features (`features_at`), scored by `scorer`
    (`fit_scorer` of every labelled snapshot with its out-of-sample `backtest_risk`: the model
    fitted on all the snapshots, flagged at the threshold the backtest's predictions give); the
    rules when there is no model."""
    fitted = scorer.fitted
    phrases = current.select(**{name: expr for name, expr in PHRASES.items()})
    if fitted.pipeline is None or current.height == 0:
        scored = current.with_columns(
            pl.lit(None, pl.Float64).alias("risk"),
            RULES.flagged().alias("flagged"),
            _rule_reasons().alias("reasons"),
            pl.lit(None, pl.Float64).alias("threshold"),
        )
    else:
        risk = _risk(fitted.pipeline, current)
        threshold = scorer.threshold
        threshold = top_share_threshold(risk) if threshold is None else threshold
        scored = current.with_columns(
            pl.Series("risk", risk, pl.Float64),
            pl.Series("flagged", risk >= threshold, pl.Boolean),
            pl.Series(
                "reasons",
                _model_reasons(_contributions(fitted.pipeline, current), phrases),
                pl.String,
            ),
            pl.lit(threshold, pl.Float64).alias("threshold"),
        )
    at_risk = scored.with_columns(pl.lit(fitted.description).alias("model")).select(*AT_RISK_SCHEMA)
    return at_risk.cast(AT_RISK_SCHEMA).sort(KEYS)  # type: ignore[arg-type]


def risk_tables(
    daily: pl.DataFrame, reviews: pl.DataFrame, as_of: datetime, pass_quality: int
) -> RiskTables:
    """`learner_status`, `at_risk_learners`, `at_risk_backtest` and `at_risk_snapshots` as of
    `as_of`, from `accuracy_daily` and `reviews` (with `due_at`), both already limited to as of.

    `at_risk_learners`: one row per (user_id, course) not churned as of (idle at most 28 days).
    `risk` is the fitted probability of no activity in the next 14 days; `flagged` when risk is
    at or above the lowest threshold whose backtest precision is at least 0.5 (else the riskiest
    10%); `reasons` the features that raise this learner's risk most; `model` says which model
    scored it. With fewer than 50 labelled snapshots or a single outcome, `model` is `rules: <why>`,
    `risk` and `threshold` are null and the rules (`RiskRules`) flag and explain."""
    as_of_day = as_of.date()
    history = History.of(
        daily.filter(pl.col("day") <= as_of_day),
        reviews.filter(pl.col("reviewed_at") <= as_of),
        pass_quality,
    )
    status = learner_status(course_activity(history.daily), as_of_day)
    snapshots = labelled_snapshots(history, snapshot_days(history.daily, as_of_day))
    backtest = at_risk_backtest(snapshots)
    current = features_at(history, as_of_day, as_of)
    scorer = fit_scorer(backtest.snapshots)
    at_risk = score_learners(current, scorer)
    return RiskTables(status, at_risk, backtest.table, backtest.snapshots, scorer)
