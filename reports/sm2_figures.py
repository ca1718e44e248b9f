"""Figures for the product team: SM-2's state, workload, calibration, and SM-2 vs Leitner."""

from __future__ import annotations

from datetime import date

import plotly.graph_objects as go
import polars as pl

from reports.pages import REFERENCE
from reports.theme import LAYOUT
from transforms.evaluation import calibration_table, point_scores, review_history


def ef_histogram(word_progress: pl.DataFrame) -> go.Figure:
    fig = go.Figure(go.Histogram(x=word_progress["easiness"].to_list(), nbinsx=40, name="cards"))
    fig.update_layout(
        **LAYOUT,
        title="Easiness factor of every card",
        xaxis={"title": "EF"},
        yaxis={"title": "cards"},
    )
    return fig


def interval_bins(intervals: pl.Series) -> pl.DataFrame:
    """Cards per interval bin on doubling edges: under 1 day, then [1, 2), [2, 4), [4, 8), ...
    days (`label` "1 d", "2–3 d", "4–7 d", ...), every bin from the shortest interval's to the
    longest's, empty ones included, so the bars read like a histogram on a log axis."""
    values = intervals.drop_nulls().cast(pl.Float64)
    if values.is_empty():
        return pl.DataFrame(
            schema={"label": pl.String, "low": pl.Float64, "high": pl.Float64, "cards": pl.UInt32}
        )
    # bin 0 is [0, 1); bin k >= 1 is [2^(k-1), 2^k)
    days = pl.col("days")
    index = pl.when(days < 1).then(0).otherwise(days.clip(1).log(2).floor().cast(pl.Int64) + 1)
    counts = values.to_frame("days").group_by(index.alias("bin")).len("cards")
    first, last = counts.select(pl.col("bin").min().alias("first"), pl.col("bin").max()).row(0)
    bins = pl.DataFrame({"bin": range(first, last + 1)})
    low = pl.when(pl.col("bin") == 0).then(0.0).otherwise(2.0 ** (pl.col("bin") - 1))
    label = (
        pl.when(pl.col("bin") == 0)
        .then(pl.lit("< 1 d"))
        .when(pl.col("bin") == 1)
        .then(pl.lit("1 d"))
        .otherwise(pl.format("{}–{} d", pl.col("low").cast(pl.Int64), pl.col("high") - 1))
    )
    return (
        bins.join(counts, on="bin", how="left")
        .with_columns(low.alias("low"), (2 ** pl.col("bin")).alias("high"))
        .sort("bin")
        .select(
            label.alias("label"),
            "low",
            pl.col("high").cast(pl.Float64),
            pl.col("cards").fill_null(0).cast(pl.UInt32),
        )
    )


def interval_histogram(word_progress: pl.DataFrame) -> go.Figure:
    """Cards per current interval, in doubling bins (a bar per bin, categorical labels: a
    histogram trace on a log axis draws no bars)."""
    bins = interval_bins(word_progress["interval_days"])
    fig = go.Figure(
        go.Bar(
            x=bins["label"].to_list(),
            y=bins["cards"].to_list(),
            name="cards",
            customdata=bins.select("low", "high").rows(),
            hovertemplate="%{customdata[0]} to under %{customdata[1]} days: %{y} cards"
            "<extra></extra>",
        )
    )
    fig.update_layout(
        **LAYOUT,
        title="Current interval of every card",
        xaxis={"title": "days (bins double in width)", "type": "category"},
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


MODELS = {"SM-2": "p_recall", "Leitner": "leitner_p_recall"}


def comparable_reviews(reviews: pl.DataFrame, pass_quality: int) -> pl.DataFrame:
    """The `review_history` of `reviews` on which both models predicted recall."""
    return review_history(reviews, pass_quality).drop_nulls(list(MODELS.values()))


def model_comparison(scored: pl.DataFrame) -> pl.DataFrame:
    """Log loss, RMSE(bins) and AUC of each model on the very same reviews."""
    return pl.DataFrame(
        [
            {
                "model": name,
                "reviews": scored.height,
                **{k: round(v, 4) for k, v in point_scores(scored, column).items()},
            }
            for name, column in MODELS.items()
        ]
    )


def calibration_lines(tables: dict[str, pl.DataFrame], title: str) -> go.Figure:
    """Calibration tables (`calibration_table`), one line each, against the diagonal."""
    fig = go.Figure(
        go.Scatter(
            x=[0, 1],
            y=[0, 1],
            mode="lines",
            name="perfect",
            line={"dash": "dot", "color": "#999"},
            meta=REFERENCE,
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
        {name: calibration_table(scored[col], scored["y"]) for name, col in MODELS.items()},
        "Calibration: predicted recall against observed",
    )
