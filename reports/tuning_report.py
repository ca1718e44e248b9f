"""The tuning lab's page: the workload-against-retention frontier, calibration of the best
sets, baselines side by side, fitted target recall, and the simulation."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import plotly.graph_objects as go
import polars as pl

from reports.pages import PageMeta, Section, write_page
from reports.sm2_figures import calibration_lines
from reports.theme import LAYOUT
from transforms.tuning.simulate import DESIRED_RETENTIONS

if TYPE_CHECKING:
    from transforms.tuning.fsrs import FsrsComparison
    from transforms.tuning.lab import LabResult


def frontier_figure(evaluated: pl.DataFrame) -> go.Figure:
    """Every candidate: expected daily workload against held-out log loss; Pareto front joined."""
    front = evaluated.filter("pareto").sort("daily_workload")
    hover = [
        ", ".join(
            f"{k}={v}"
            for k, v in row.items()
            if k
            in (
                "ef_init",
                "second_interval",
                "lapse_interval",
                "fail_quality",
                "rounding",
                "target_recall",
            )
        )
        for row in evaluated.iter_rows(named=True)
    ]
    fig = go.Figure(
        [
            go.Scatter(
                x=evaluated["daily_workload"].to_list(),
                y=evaluated["log_loss"].to_list(),
                mode="markers",
                name="candidates",
                text=hover,
                marker={"color": "#999"},
                hovertemplate="%{text}<br>workload %{x:.2f}, log loss %{y:.4f}",
            ),
            go.Scatter(
                x=front["daily_workload"].to_list(),
                y=front["log_loss"].to_list(),
                mode="lines+markers",
                name="Pareto front",
                marker={"size": 9},
            ),
            go.Scatter(
                x=evaluated["daily_workload"].head(1).to_list(),
                y=evaluated["log_loss"].head(1).to_list(),
                mode="markers",
                name="baseline (set 0)",
                marker={"size": 14, "symbol": "star"},
            ),
        ]
    )
    fig.update_layout(
        **LAYOUT,
        title="Workload against held-out log loss",
        xaxis={"title": "expected reviews per learner per day"},
        yaxis={"title": "log loss on held-out learners (lower is better)"},
    )
    return fig


def calibration_sets_figure(calibration: pl.DataFrame) -> go.Figure:
    return calibration_lines(
        {
            f"set {index}": part
            for (index,), part in calibration.group_by("set", maintain_order=True)
        },
        "Calibration of the best sets",
    )


def baselines_figure(scores: pl.DataFrame) -> go.Figure:
    overall = scores.filter(pl.col("scope") == "overall")
    fig = go.Figure(
        go.Bar(
            x=overall["model"].to_list(),
            y=overall["log_loss"].to_list(),
            error_y={
                "type": "data",
                "symmetric": False,
                "array": (overall["log_loss_high"] - overall["log_loss"]).to_list(),
                "arrayminus": (overall["log_loss"] - overall["log_loss_low"]).to_list(),
            },
        )
    )
    fig.update_layout(
        **LAYOUT,
        title="Log loss on the same reviews (95% bootstrap over learners)",
        yaxis={"title": "log loss"},
    )
    return fig


def _run_label(scheduler: str, index: int | None, retention: float | None) -> str:
    """How a simulated schedule is named: 'SM-2 set 3' or 'FSRS-6 at 90%'."""
    return f"{scheduler} set {index}" if retention is None else f"{scheduler} at {retention:.0%}"


RUN = ["scheduler", "set", "desired_retention"]  # what identifies one simulated schedule


def simulation_figure(simulation: pl.DataFrame) -> go.Figure:
    per_run = (
        simulation.group_by(*RUN, "day")
        .agg(pl.col("reviews_per_learner").mean(), pl.col("recall").mean())
        .sort(*RUN, "day", nulls_last=True)
    )
    fig = go.Figure()
    for (scheduler, index, retention), part in per_run.group_by(*RUN, maintain_order=True):
        fig.add_trace(
            go.Scatter(
                x=part["day"].to_list(),
                y=part["reviews_per_learner"].to_list(),
                mode="lines",
                name=_run_label(str(scheduler), index, retention),  # type: ignore[arg-type]
            )
        )
    fig.update_layout(
        **LAYOUT,
        title="Simulated reviews per learner per day (mean over languages)",
        xaxis={"title": "day"},
        yaxis={"title": "reviews"},
    )
    return fig


def scheduler_frontier(simulation: pl.DataFrame) -> pl.DataFrame:
    """One row per simulated schedule: mean daily reviews per learner and mean retention over
    the horizon, averaged over languages (each language's simulation weighs the same)."""
    return (
        simulation.group_by(*RUN, "language")
        .agg(
            pl.col("reviews_per_learner").mean(),
            pl.col("minutes_per_learner").mean(),
            pl.col("retention").mean(),
        )
        .group_by(*RUN)
        .agg(pl.col("reviews_per_learner", "minutes_per_learner", "retention").mean())
        .sort("scheduler", "retention")
    )


def scheduler_frontier_figure(simulation: pl.DataFrame) -> go.Figure:
    """Workload against retention in the simulation: one line per scheduler, one point per
    SM-2 set (the baseline and the best sets) or FSRS-6 desired retention."""
    frontier = scheduler_frontier(simulation)
    fig = go.Figure()
    for (scheduler,), part in frontier.group_by("scheduler", maintain_order=True):
        labels = [
            _run_label(str(scheduler), index, retention)
            for index, retention in part.select("set", "desired_retention").iter_rows()
        ]
        fig.add_trace(
            go.Scatter(
                x=part["retention"].to_list(),
                y=part["reviews_per_learner"].to_list(),
                mode="lines+markers",
                name=str(scheduler),
                text=labels,
                hovertemplate="%{text}<br>retention %{x:.3f}, %{y:.2f} reviews a day",
            )
        )
    fig.update_layout(
        **LAYOUT,
        title="Simulated workload against retention, SM-2 and FSRS-6",
        xaxis={"title": "mean retention of the words taken on (simulated)"},
        yaxis={"title": "reviews per learner per day"},
    )
    return fig


def simulation_summary(simulation: pl.DataFrame) -> pl.DataFrame:
    return (
        simulation.group_by(*RUN, "language")
        .agg(
            pl.col("reviews_per_learner").mean().round(2).alias("reviews_per_day"),
            pl.col("minutes_per_learner").mean().round(2).alias("minutes_per_day"),
            pl.col("recall").mean().round(3).alias("recall_at_review"),
            pl.col("retention").mean().round(3).alias("retention"),
            pl.col("words_learned_per_learner").last().round(1).alias("words_learned"),
        )
        .sort(*RUN, "language", nulls_last=True)
    )


def fsrs_statement(row: dict[str, Any]) -> str:
    """One plain sentence: what moving from SM-2 to FSRS-6 (fitted) would change."""
    sm2, fsrs = row["sm2_log_loss"], row["fsrs_log_loss"]
    if row["fsrs_log_loss_high"] < row["sm2_log_loss_low"]:
        verdict = "a clear gain: the 95% intervals do not overlap"
    elif row["fsrs_log_loss_low"] > row["sm2_log_loss_high"]:
        verdict = "a clear loss: the 95% intervals do not overlap"
    else:
        verdict = "not a clear difference: the 95% intervals overlap"
    where = "All languages" if row["language"] == "all" else f"Language {row['language']}"
    return (
        f"{where}: moving to FSRS-6 with fitted parameters changes held-out log loss from "
        f"{sm2:.3f} to {fsrs:.3f} ({fsrs - sm2:+.3f}, {verdict}; FSRS-6 with default "
        f"parameters: {row['fsrs_default_log_loss']:.3f}), and the reviews a learner does each "
        f"day to keep every card on schedule from {row['sm2_daily_reviews']:.2f} to "
        f"{row['fsrs_daily_reviews']:.2f} ({row['workload_change']:+.0%}) at a desired "
        "retention of 90%."
    )


def fsrs_sections(comparison: FsrsComparison) -> list[Section]:
    """FSRS-6 beside SM-2 on the held-out reviews: the verdict per language, then the scores."""
    verdict = comparison.verdict
    statements = " ".join(fsrs_statement(row) for row in verdict.iter_rows(named=True))
    return [
        Section(
            "Moving to FSRS: what it would gain",
            note=(statements or "No held-out reviews to compare FSRS on.")
            + " Scores are on the held-out reviews the parameter sets are scored on; FSRS-6 "
            "is fitted on the training reviews only (fsrs-rs-python).",
            table=verdict.select(
                "language",
                "held_out_reviews",
                *[
                    pl.col(c).round(4)
                    for c in (
                        "sm2_log_loss",
                        "fsrs_log_loss",
                        "fsrs_log_loss_low",
                        "fsrs_log_loss_high",
                        "fsrs_default_log_loss",
                        "log_loss_gain",
                    )
                ],
                pl.col("sm2_daily_reviews").round(2),
                pl.col("fsrs_daily_reviews").round(2),
                pl.col("workload_change").round(3),
            ),
        ),
        Section(
            "FSRS-6 against SM-2 and the baselines, held-out reviews",
            baselines_figure(comparison.scores),
            table=comparison.scores.filter(pl.col("scope") != "step_type").select(
                "scope",
                "group",
                "model",
                "reviews",
                pl.col("log_loss").round(4),
                pl.col("log_loss_low").round(4),
                pl.col("log_loss_high").round(4),
                pl.col("rmse_bins").round(4),
                pl.col("auc").round(4),
            ),
        ),
    ]


def write_tuning_report(folder: Path, meta: PageMeta, result: LabResult) -> Path:
    evaluated = result.param_eval
    best = evaluated.sort("log_loss").head(10)
    sections = [
        Section(
            "Workload against retention",
            frontier_figure(evaluated),
            note="Set 0 is the baseline. Scores are on held-out learners (a 20% split by "
            "a hash of the user id); workload is the reviews a day that keep every "
            "card on schedule.",
        ),
        Section("Best sets by held-out log loss", table=best),
        Section("Calibration of the best sets", calibration_sets_figure(result.calibration)),
        Section(
            "SM-2 against the baselines",
            baselines_figure(result.model_scores),
            table=result.model_scores.select(
                "scope",
                "group",
                "model",
                "reviews",
                "log_loss",
                "log_loss_low",
                "log_loss_high",
                "rmse_bins",
                "auc",
            ),
        ),
        Section(
            "Fitted target recall",
            table=result.target_recall,
            note="SM-2 assumes recall 0.9 at the scheduled interval; fitted by maximum "
            "likelihood per language.",
        ),
        Section(
            "Simulated workload and retention: SM-2's best sets and FSRS-6",
            scheduler_frontier_figure(result.simulation),
            note="Simulated learners take on words at the observed rate and review what the "
            "scheduler says is due: SM-2 under the baseline and the best sets, FSRS-6 (fitted "
            "parameters) at desired retentions of "
            + ", ".join(f"{r:.0%}" for r in DESIRED_RETENTIONS)
            + ". Recall follows the memory model fitted per language on the history, the same "
            "for both schedulers; retention is the mean recall of every word taken on, at each "
            "day's end, averaged over the horizon and the languages.",
            table=scheduler_frontier(result.simulation).select(
                *RUN,
                pl.col("reviews_per_learner").round(2),
                pl.col("minutes_per_learner").round(2),
                pl.col("retention").round(3),
            ),
        ),
        Section(
            "Simulation",
            simulation_figure(result.simulation),
            table=simulation_summary(result.simulation),
        ),
        *fsrs_sections(result.fsrs),
    ]
    return write_page(folder / "tuning.html", "SM-2 tuning lab", sections, meta)
