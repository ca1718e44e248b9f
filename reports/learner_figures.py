"""Figures for one learner: course progress, study calendar, accuracy trend, words due."""

from __future__ import annotations

from datetime import date, timedelta
from typing import cast

import plotly.graph_objects as go
import polars as pl

from reports.theme import LAYOUT


def group_progress(course: pl.DataFrame) -> go.Figure:
    """Per level and group: words learned, seen but not learned, not seen yet. `course` has
    language, level, group_uid, position, seen, learned (one row per word of the course)."""
    per_group = (
        course.group_by("language", "level", "group_uid")
        .agg(
            pl.col("learned").sum().alias("learned"),
            (pl.col("seen") & ~pl.col("learned")).sum().alias("seen"),
            (~pl.col("seen")).sum().alias("not_seen"),
            pl.col("position").min().alias("_order"),
        )
        .sort("language", "_order")
    )
    labels = [
        f"{lang} L{lvl} {g}"
        for lang, lvl, g in per_group.select("language", "level", "group_uid").iter_rows()
    ]
    fig = go.Figure(
        [
            go.Bar(x=labels, y=per_group[col].to_list(), name=name, marker_color=color)
            for col, name, color in (
                ("learned", "learned", "#2a9d8f"),
                ("seen", "seen, not learned", "#e9c46a"),
                ("not_seen", "not seen yet", "#ddd"),
            )
        ]
    )
    fig.update_layout(
        **LAYOUT,
        barmode="stack",
        title="Progress by level and group",
        yaxis={"title": "words"},
        xaxis={"tickangle": -45},
    )
    return fig


def study_calendar(days: pl.DataFrame, current_streak: int, longest_streak: int) -> go.Figure:
    """A calendar heatmap of attempts per day (weeks across, weekdays down)."""
    first = cast(date, days["day"].min())
    last = cast(date, days["day"].max())
    start = first - timedelta(days=first.weekday())
    counts = dict(days.group_by("day").agg(pl.col("attempts").sum()).iter_rows())
    weeks = (last - start).days // 7 + 1
    z = [[counts.get(start + timedelta(days=7 * w + d), 0) for w in range(weeks)] for d in range(7)]
    text = [[str(start + timedelta(days=7 * w + d)) for w in range(weeks)] for d in range(7)]
    fig = go.Figure(
        go.Heatmap(
            z=z,
            x=[str(start + timedelta(days=7 * w)) for w in range(weeks)],
            y=["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"],
            text=text,
            xgap=2,
            ygap=2,
            colorscale=[[0, "#eee"], [0.01, "#c6e48b"], [1, "#196127"]],
            hovertemplate="%{text}: %{z} attempts<extra></extra>",
            colorbar={"title": "attempts"},
        )
    )
    fig.update_layout(
        **{**LAYOUT, "height": 300},
        title=f"Study days · current streak {current_streak} days, longest {longest_streak}",
    )
    fig.update_yaxes(autorange="reversed")
    return fig


def accuracy_trend(days: pl.DataFrame) -> go.Figure:
    """Daily accuracy with its 7-day rolling mean (weighted by attempts)."""
    daily = (
        days.group_by("day")
        .agg(pl.col("attempts").sum(), pl.col("correct").sum())
        .sort("day")
        .with_columns(
            (pl.col("correct") / pl.col("attempts")).alias("accuracy"),
            (
                pl.col("correct").rolling_sum_by("day", "7d")
                / pl.col("attempts").rolling_sum_by("day", "7d")
            ).alias("rolling"),
        )
    )
    fig = go.Figure(
        [
            go.Scatter(
                x=daily["day"].to_list(),
                y=daily["accuracy"].to_list(),
                mode="markers",
                name="day",
                customdata=daily["attempts"].to_list(),
                hovertemplate="%{x}: %{y:.0%} of %{customdata}",
            ),
            go.Scatter(
                x=daily["day"].to_list(), y=daily["rolling"].to_list(), mode="lines", name="7-day"
            ),
        ]
    )
    fig.update_layout(**LAYOUT, title="Accuracy", yaxis={"tickformat": ".0%", "range": [0, 1]})
    return fig


def due_soon(forecast: pl.DataFrame) -> go.Figure:
    """Words due per day in the coming days (overdue ones on the first day)."""
    per_day = forecast.group_by("day").agg(pl.col("due_reviews").sum()).sort("day")
    fig = go.Figure(
        go.Bar(x=per_day["day"].to_list(), y=per_day["due_reviews"].to_list(), name="words due")
    )
    fig.update_layout(**LAYOUT, title="Words due in the coming days", yaxis={"title": "words"})
    return fig
