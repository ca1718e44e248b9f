"""Figures for educators: cohort retention, true retention, accuracy, forgetting, progress."""

from __future__ import annotations

import plotly.graph_objects as go
import polars as pl

from reports.theme import LAYOUT
from transforms.metrics.common import wilson


def retention_heatmap(cohort_retention: pl.DataFrame) -> go.Figure:
    """Cohorts (rows) x week offsets (columns): retention, each cell with its n; weeks not
    yet complete for every learner are marked with an asterisk."""
    frame = cohort_retention.with_columns(
        pl.format("{} · {}", "language", "cohort").alias("row")
    ).sort("language", "cohort", "week_offset")
    rows = frame["row"].unique(maintain_order=True).to_list()
    weeks = sorted(frame["week_offset"].unique().to_list())
    z: list[list[float | None]] = []
    text: list[list[str]] = []
    for row in rows:
        cells = {
            r["week_offset"]: r for r in frame.filter(pl.col("row") == row).iter_rows(named=True)
        }
        z.append([cells[w]["retention"] if w in cells else None for w in weeks])
        text.append(
            [
                (
                    f"{cells[w]['retention']:.0%}{'' if cells[w]['complete'] else '*'}"
                    f"<br>n={cells[w]['active_learners']}/{cells[w]['cohort_size']}"
                )
                if w in cells
                else ""
                for w in weeks
            ]
        )
    fig = go.Figure(
        go.Heatmap(
            z=z,
            x=[f"week {w}" for w in weeks],
            y=rows,
            text=text,
            texttemplate="%{text}",
            colorscale="Blues",
            zmin=0,
            zmax=1,
            colorbar={"title": "retention"},
            hovertemplate="%{y}, %{x}: %{text}<extra></extra>",
        )
    )
    fig.update_layout(
        **{**LAYOUT, "height": max(300, 60 + 40 * len(rows))},
        title="Learners returning in week k (* week not complete yet)",
    )
    fig.update_yaxes(autorange="reversed")
    return fig


def true_retention_by_week(true_retention: pl.DataFrame) -> go.Figure:
    """Weekly true retention of young and mature cards per language, with Wilson bands."""
    weekly = (
        true_retention.group_by("language", "period_week", "maturity")
        .agg(pl.col("reviews").sum(), pl.col("passed").sum())
        .with_columns(wilson("passed", "reviews", "rate"))
        .sort("language", "maturity", "period_week")
    )
    fig = go.Figure()
    for (language, maturity), part in weekly.group_by("language", "maturity", maintain_order=True):
        name = f"{language} {maturity}"
        x = part["period_week"].to_list()
        fig.add_trace(
            go.Scatter(
                x=x + x[::-1],
                y=part["rate_high"].to_list() + part["rate_low"].to_list()[::-1],
                fill="toself",
                opacity=0.2,
                line={"width": 0},
                name=f"{name} 95% interval",
                hoverinfo="skip",
                legendgroup=name,
                showlegend=False,
            )
        )
        fig.add_trace(
            go.Scatter(
                x=x,
                y=part["rate"].to_list(),
                mode="lines+markers",
                name=name,
                legendgroup=name,
                customdata=part["reviews"].to_list(),
                hovertemplate="%{x}: %{y:.1%} of %{customdata} reviews",
            )
        )
    fig.update_layout(
        **LAYOUT,
        title="True retention by week (young < 21 days ≤ mature)",
        yaxis={"tickformat": ".0%", "range": [0, 1]},
    )
    return fig


def accuracy_by_step_figure(by_step: pl.DataFrame) -> go.Figure:
    """Accuracy by language and step type, with Wilson error bars."""
    fig = go.Figure()
    for (step,), part in by_step.sort("step_type", "language").group_by(
        "step_type", maintain_order=True
    ):
        fig.add_trace(
            go.Bar(
                x=part["language"].to_list(),
                y=part["accuracy"].to_list(),
                name=step,
                error_y={
                    "type": "data",
                    "symmetric": False,
                    "array": (part["accuracy_high"] - part["accuracy"]).to_list(),
                    "arrayminus": (part["accuracy"] - part["accuracy_low"]).to_list(),
                },
                customdata=part["attempts"].to_list(),
                hovertemplate="%{x}: %{y:.1%} of %{customdata} attempts",
            )
        )
    fig.update_layout(
        **LAYOUT,
        barmode="group",
        title="Accuracy by language and step type",
        yaxis={"tickformat": ".0%", "range": [0, 1]},
    )
    return fig


def forgetting_curve_figure(curve: pl.DataFrame) -> go.Figure:
    """Observed recall by days since the last review, against SM-2's predicted recall."""
    fig = go.Figure()
    for (language,), part in curve.group_by("language", maintain_order=True):
        bins = part["elapsed_bin"].to_list()
        fig.add_trace(
            go.Scatter(
                x=bins,
                y=part["recall_rate"].to_list(),
                mode="markers+lines",
                name=f"{language} observed",
                error_y={
                    "type": "data",
                    "symmetric": False,
                    "array": (part["recall_rate_high"] - part["recall_rate"]).to_list(),
                    "arrayminus": (part["recall_rate"] - part["recall_rate_low"]).to_list(),
                },
                customdata=part["reviews"].to_list(),
                hovertemplate="%{x} days: %{y:.1%} of %{customdata} reviews",
            )
        )
        fig.add_trace(
            go.Scatter(
                x=bins,
                y=part["mean_p_recall"].to_list(),
                mode="lines",
                line={"dash": "dash"},
                name=f"{language} SM-2 predicted",
            )
        )
    fig.update_layout(
        **LAYOUT,
        title="Forgetting curve: observed recall against SM-2",
        xaxis={"title": "days since the previous review"},
        yaxis={"tickformat": ".0%", "range": [0, 1.05]},
    )
    return fig


def level_progress_figure(progress: pl.DataFrame) -> go.Figure:
    """How many learners are studying in each course level (their current position: the
    level of the furthest word they have attempted)."""
    counts = (
        progress.with_columns(
            pl.when(pl.col("level").is_null())
            .then(pl.lit("not started"))
            .otherwise(pl.format("level {}", "level"))
            .alias("stage")
        )
        .group_by("language", "level", "stage")
        .agg(pl.len().alias("learners"))
        .sort("language", "level", nulls_last=False)
    )
    fig = go.Figure()
    for (language,), part in counts.group_by("language", maintain_order=True):
        fig.add_trace(
            go.Bar(x=part["stage"].to_list(), y=part["learners"].to_list(), name=language)
        )
    fig.update_layout(
        **LAYOUT,
        barmode="group",
        title="Learners by the course level they are studying",
        yaxis={"title": "learners"},
    )
    return fig
