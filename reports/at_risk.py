"""The educators' "Learners at risk" section: flagged learners under pseudonyms, riskiest first,
with a note on the model that scored them and how it did on the history (`at_risk_backtest`)."""

from __future__ import annotations

import polars as pl

from reports.pages import Section
from reports.privacy import pseudonymize
from transforms.metrics.risk import RULES

TITLE = "Learners at risk"


def flagged_learners(at_risk: pl.DataFrame, key: bytes) -> pl.DataFrame:
    """The flagged rows of `at_risk_learners` (user_id, course, risk, flagged, reasons) as
    learner (pseudonym), course, risk (a percentage; empty under the rules), reasons; riskiest
    first."""
    flagged = at_risk.filter(pl.col("flagged")).sort(
        pl.col("risk").fill_null(-1.0), "course", "user_id", descending=[True, False, False]
    )
    return pseudonymize(flagged, key).select(
        "learner",
        "course",
        pl.when(pl.col("risk").is_not_null())
        .then((pl.col("risk") * 100).round(0).cast(pl.Int64).cast(pl.String) + pl.lit("%"))
        .alias("risk"),
        "reasons",
    )


def _mean(frame: pl.DataFrame, column: str) -> str:
    value = frame[column].drop_nulls().mean() if frame.height else None
    return "n/a" if value is None else f"{float(value):.2f}"  # type: ignore[arg-type]


def model_note(at_risk: pl.DataFrame, backtest: pl.DataFrame, churned: int) -> str:
    """Which model scored the learners, the flag threshold, and the backtest's mean AUC and
    precision of the model against the rules'."""
    if at_risk.height == 0:
        model = "No learner active in the last 28 days to score."
    else:
        description = at_risk["model"][0]
        threshold = at_risk["threshold"][0]
        model = f"Scored by {description}"
        model += (
            f"; flagged at a risk of {threshold:.0%} or more (no activity in the next 14 days)."
            if threshold is not None
            else f" (flagged when {RULES.describe()})."
        )
    with_model = backtest.filter(pl.col("auc").is_not_null())
    if with_model.height:
        backtest_note = (
            f" Backtest on {with_model.height} weekly snapshots, each scored by a model fitted "
            f"only on earlier outcomes: mean AUC {_mean(with_model, 'auc')} and precision "
            f"{_mean(with_model, 'precision')} for the model, against AUC "
            f"{_mean(with_model, 'rules_auc')} and precision "
            f"{_mean(with_model, 'rules_precision')} for the rules alone."
        )
    else:
        backtest_note = (
            f" Backtest: {backtest.height} weekly snapshot(s), too few known outcomes to fit a "
            f"model on any of them (rules alone: mean AUC {_mean(backtest, 'rules_auc')}, "
            f"precision {_mean(backtest, 'rules_precision')})."
        )
    return (
        f"{model}{backtest_note} {churned} churned learner(s) (no activity for more than 28 "
        "days) are not listed. Learners appear under a pseudonym (a keyed hash), never their "
        "user id."
    )


def at_risk_section(
    at_risk: pl.DataFrame, backtest: pl.DataFrame, churned: int, key: bytes
) -> Section:
    return Section(
        TITLE, table=flagged_learners(at_risk, key), note=model_note(at_risk, backtest, churned)
    )
