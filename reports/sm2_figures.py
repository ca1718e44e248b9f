"""Figures for the product team: SM-2's state, workload, calibration, and SM-2 vs Leitner."""

from __future__ import annotations

from datetime import date

import plotly.graph_objects as go
import polars as pl

from reports.educators import LAYOUT
from transforms.evaluation import calibration_table
from transforms.tuning.scoring import point_scores


def ef_histogram(word_progress: pl.DataFrame) -> go.Figure:
    fig = go.Figure(go.Histogram(x=word_progress["easiness"].to_list(), nbinsx=40, name="cards"))
    fig.update_layout(
        **LAYOUT,
        title="Easiness factor of every card",
        xaxis={"title": "EF"},
        yaxis={"title": "cards"},
    )
    return fig


def interval_histogram(word_progress: pl.DataFrame) -> go.Figure:
    fig = go.Figure(
        go.Histogram(x=word_progress["interval_days"].to_list(), nbinsx=60, name="cards")
    )
    fig.update_layout(
        **LAYOUT,
        title="Current interval of every card",
        xaxis={"title": "days", "type": "log"},
        yaxis={"title": "cards"},
    )
    return fig


def workload_figure(due_forecast: pl.DataFrame, as_of: date) -> go.Figure:
    """Reviews due per day for 30 days; the as-of day carries every overdue review."""
    per_day = (
        due_forecast.group_by("day")
        .agg(pl.col("due_reviews").sum(), pl.col("overdue_reviews").sum())
        .sort("day")
    )
    fig = go.Figure(
        [
            go.Bar(
                x=per_day["day"].to_list(),
                y=(per_day["due_reviews"] - per_day["overdue_reviews"]).to_list(),
                name="due that day",
            ),
            go.Bar(
                x=per_day["day"].to_list(),
                y=per_day["overdue_reviews"].to_list(),
                name="overdue (shown on the as-of day)",
            ),
        ]
    )
    fig.update_layout(
        **LAYOUT,
        barmode="stack",
        title=f"Reviews due in the 30 days from {as_of}",
        yaxis={"title": "reviews"},
    )
    return fig


def scored_reviews(reviews: pl.DataFrame, pass_quality: int) -> pl.DataFrame:
    """Graded non-first reviews with both predictions, the outcome and lapses before."""
    return reviews.filter(
        (pl.col("review_index") > 1)
        & pl.col("p_recall").is_not_null()
        & pl.col("leitner_p_recall").is_not_null()
    ).with_columns(
        (pl.col("quality") >= pass_quality).cast(pl.Int8).alias("passed"),
        (pl.col("lapses_after") - (pl.col("quality") < pass_quality).cast(pl.Int32)).alias(
            "lapses_before"
        ),
    )


MODELS = {"SM-2": "p_recall", "Leitner": "leitner_p_recall"}


def model_comparison(scored: pl.DataFrame) -> pl.DataFrame:
    """Log loss, RMSE(bins) and AUC of each model on the very same reviews."""
    return pl.DataFrame(
        [
            {
                "model": name,
                "reviews": scored.height,
                **{k: round(v, 4) for k, v in point_scores(scored, column, "passed").items()},
            }
            for name, column in MODELS.items()
        ]
    )


def calibration_lines(tables: dict[str, pl.DataFrame], title: str) -> go.Figure:
    """Calibration tables (`calibration_table`), one line each, against the diagonal."""
    fig = go.Figure(
        go.Scatter(
            x=[0, 1], y=[0, 1], mode="lines", name="perfect", line={"dash": "dot", "color": "#999"}
        )
    )
    for name, table in tables.items():
        fig.add_trace(
            go.Scatter(
                x=table["mean_predicted"].to_list(),
                y=table["observed"].to_list(),
                mode="lines+markers",
                name=name,
                customdata=table["reviews"].to_list(),
                marker={"size": 8},
                hovertemplate="predicted %{x:.2f}, observed %{y:.2f}, %{customdata} reviews",
            )
        )
    fig.update_layout(
        **LAYOUT,
        title=title,
        xaxis={"title": "predicted recall", "range": [0, 1]},
        yaxis={"title": "observed recall", "range": [0, 1]},
    )
    return fig


def calibration_figure(scored: pl.DataFrame) -> go.Figure:
    """Predicted recall in bins against observed recall, for SM-2 and Leitner."""
    return calibration_lines(
        {name: calibration_table(scored[col], scored["passed"]) for name, col in MODELS.items()},
        "Calibration: predicted recall against observed",
    )
