"""The tuning lab: batch scoring equals one replay per set; target recall is recovered."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path

import numpy as np
import polars as pl
import pytest

from transforms.evaluation import log_loss, rmse_bins
from transforms.sm2 import SM2Params, replay
from transforms.sm2.grading import quality_codes, step_codes
from transforms.tuning.batch_replay import batch_scores
from transforms.tuning.scoring import fit_target_recall
from transforms.tuning.search import graded_rows, pareto
from transforms.tuning.simulate import MemoryModel


def _attempts(n_cards: int = 60, seed: int = 4) -> pl.DataFrame:
    rng = np.random.default_rng(seed)
    rows = []
    for card in range(n_cards):
        t = datetime(2026, 1, 1) + timedelta(hours=int(rng.integers(0, 48)))
        for i in range(int(rng.integers(1, 30))):
            t += timedelta(hours=float(rng.exponential(60)))
            rows.append(
                {
                    "uuid_local": f"{card:04d}-{i:04d}",
                    "user_id": f"user-{card % 29}",
                    "language": "es",
                    "word_uid": f"es:g:w{card}",
                    "step_type": ["typing", "lightning"][i % 2],
                    "correct": bool(rng.random() < 0.8),
                    "response_time_ms": int(rng.integers(500, 15000)),
                    "attempted_at": t,
                    "session_id": None,
                }
            )
    return pl.DataFrame(rows, schema_overrides={"session_id": pl.String})


SETS = [
    SM2Params(),
    SM2Params(rounding="round", ef_for_interval="new", target_recall=0.8),
    SM2Params(
        rounding="none",
        ef_update_on_fail=False,
        fail_quality=0,
        lapse_interval=0.5,
        max_interval=40.0,
        fast_ms={"*": 5000},
    ),
]


def test_batch_scores_equal_one_replay_per_set() -> None:
    rows = graded_rows(_attempts(), SM2Params())
    held = rows.held_out
    scores = batch_scores(rows.rows, SETS, held, rows.learners)
    kinds, step = step_codes(rows.rows["step_type"])
    correct, response_ms = rows.rows["correct"].to_numpy(), rows.rows["response_time_ms"].to_numpy()
    quality = [quality_codes(correct, response_ms, step, kinds, p) for p in SETS]
    for s, params in enumerate(SETS):
        out = replay(rows.rows.with_columns(pl.Series("quality", quality[s])), params)
        out = out.with_columns(pl.Series("held", held)).filter(pl.col("review_index") > 1)
        passed = (pl.col("quality") >= params.pass_quality).cast(pl.Int8)
        out = out.with_columns(
            passed.alias("y"), (pl.col("lapses_after") - (1 - passed)).alias("lapses_before")
        )
        for split in (0, 1):
            part = out.filter(pl.col("held") == bool(split))
            assert scores.log_loss[s, split] == pytest.approx(
                log_loss(part["p_recall"], part["y"]), rel=1e-9
            )
            assert scores.rmse_bins[s, split] == pytest.approx(
                rmse_bins(
                    part["p_recall"],
                    part["y"],
                    part["elapsed_days"],
                    part["review_index"],
                    part["lapses_before"],
                ),
                rel=1e-9,
            )
        final = out.sort("review_index").group_by("card_id").agg(pl.col("interval_days").last())
        last_states = (
            replay(rows.rows.with_columns(pl.Series("quality", quality[s])), params)
            .sort("review_index")
            .group_by("card_id")
            .agg(pl.col("interval_days").last())
        )
        assert scores.daily_workload[s] == pytest.approx(
            (1 / last_states["interval_days"]).sum() / rows.learners
        )
        assert final.height <= last_states.height


def test_fitted_target_recall_recovers_the_generating_one() -> None:
    rng = np.random.default_rng(1)
    before = rng.choice([1.0, 6.0, 15.0, 38.0], 40_000)
    elapsed = before * rng.uniform(0.2, 3.0, 40_000)
    y = (rng.random(40_000) < np.power(0.83, elapsed / before)).astype(float)
    assert fit_target_recall(elapsed, before, y) == pytest.approx(0.83, abs=0.006)


def test_pareto_front() -> None:
    frame = pl.DataFrame({"a": [1.0, 2.0, 3.0, 2.5], "b": [3.0, 2.0, 1.0, 2.5]})
    assert pareto(frame, "a", "b").to_list() == [True, True, True, False]


def _model() -> MemoryModel:

    return MemoryModel(
        language="es",
        s0=2.0,
        grow=2.5,
        shrink=0.4,
        new_words_per_day=5.0,
        response_ms=np.array([1000, 2500, 4000, 9000, 12000]),
        step_types=np.array(["typing"] * 5),
        attempts_per_review=1.5,
    )


def test_simulator_responds_to_longer_intervals_and_repeats_for_a_seed() -> None:
    from transforms.tuning.simulate import simulate

    model = _model()
    base = simulate(model, SM2Params(), learners=50, horizon=60, seed=3)
    assert base.equals(simulate(model, SM2Params(), learners=50, horizon=60, seed=3))
    longer = simulate(
        model, SM2Params(second_interval=15.0, ef_init=3.2), learners=50, horizon=60, seed=3
    )
    assert longer["reviews_per_learner"].sum() < base["reviews_per_learner"].sum()
    assert longer["recall"].mean() < base["recall"].mean()
    assert longer["minutes_per_learner"].sum() < base["minutes_per_learner"].sum()


def test_memory_model_fit_recovers_known_parameters() -> None:
    from transforms.tuning.simulate import fit_memory_model

    rng = np.random.default_rng(5)
    rows = []
    for card in range(3000):
        s = 2.0
        lapses = 0
        for i in range(1, 8):
            if i == 1:
                rows.append((card, 1, None, 4, 0))
                continue
            gap = float(rng.uniform(0.5, 3.0) * s)
            ok = rng.random() < np.exp(-gap / s)
            lapses += 0 if ok else 1
            rows.append((card, i, gap, 4 if ok else 1, lapses))
            s *= 2.5 if ok else 0.4
    frame = pl.DataFrame(
        rows,
        schema=["card_key", "review_index", "elapsed_days", "quality", "lapses_after"],
        orient="row",
    )
    s0, grow, shrink = fit_memory_model(frame, pass_quality=3)
    assert s0 == 2.0
    assert grow == pytest.approx(2.5, abs=0.36)
    assert shrink == pytest.approx(0.4, abs=0.1)


def test_tuning_tables_after_the_job(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from landing.generate.landing import GeneratorConfig, generate_landing
    from tests.pipeline_run import configure, run_all
    from transforms.warehouse import connect, query

    generate_landing(
        tmp_path / "landing", GeneratorConfig(learners=40, days=28, words_per_language=40)
    )
    configure(monkeypatch, tmp_path, PROGRESS_EXPORT_PNG="0")
    run_all()
    config = {
        "search_size": 10,
        "learner_sample": 30,
        "horizon_days": 15,
        "simulated_learners": 10,
        "bootstrap_draws": 10,
        "seed": 2,
    }
    run_all({"ops": {"tuning_lab": {"config": config}}}, job_name="tuning")
    con = connect(tmp_path / "warehouse.duckdb")
    evaluated = query(con, "SELECT * FROM sm2_param_eval ORDER BY set")
    assert evaluated.height <= 10 and evaluated["set"][0] == 0
    assert evaluated["pareto"].any()
    models = set(query(con, "SELECT DISTINCT model FROM sm2_model_scores")["model"])
    assert models == {"SM-2", "Leitner", "constant mean", "HLR-Leitner"}
    assert query(con, "SELECT count(DISTINCT day) FROM sm2_simulation").item() == 15
    fsrs_models = set(query(con, "SELECT DISTINCT model FROM sm2_fsrs_scores")["model"])
    assert {"FSRS-6 default", "FSRS-6 fitted", "SM-2"} <= fsrs_models
    verdict = query(con, "SELECT * FROM sm2_fsrs_verdict")
    assert "all" in verdict["language"].to_list()
    assert "moving to FSRS-6" in (tmp_path / "reports" / "tuning.html").read_text()
    con.close()
    assert (tmp_path / "reports" / "tuning.html").exists()
    index = tmp_path / "reports" / "index.html"
    assert "tuning.html" not in index.read_text()  # the index is report_index's alone
    run_all(selection=["report_index"])
    assert "tuning.html" in index.read_text()


def test_model_scores_repeat_for_a_seed() -> None:
    from transforms.sm2.tables import build_reviews
    from transforms.tuning.scoring import score_table, scored_reviews

    scored = scored_reviews(build_reviews(_attempts(), SM2Params()), SM2Params())
    first = score_table(scored, draws=50, seed=3)
    for _ in range(3):
        assert first.equals(score_table(scored, draws=50, seed=3))


def test_simulated_fsrs_reviews_more_for_higher_retention() -> None:
    """FSRS-6 at a higher desired retention schedules shorter intervals: more reviews a day and
    more retained, on the same draws; the frame says which scheduler ran."""
    import fsrs_rs_python as fsrs

    from transforms.tuning.simulate import FSRS6, SM2, FsrsSchedule, simulate_sets

    runs = simulate_sets(
        [_model()],
        {0: SM2Params()},
        [FsrsSchedule(list(fsrs.DEFAULT_PARAMETERS), r, SM2Params()) for r in (0.8, 0.95)],
        learners=30,
        horizon=40,
        seed=3,
    )
    per_run = runs.group_by("scheduler", "desired_retention").agg(
        pl.col("reviews_per_learner").mean(), pl.col("retention").mean()
    )
    assert set(per_run["scheduler"]) == {SM2, FSRS6}
    low, high = (
        per_run.filter(pl.col("desired_retention") == r).row(0, named=True) for r in (0.8, 0.95)
    )
    assert high["reviews_per_learner"] > low["reviews_per_learner"]
    assert high["retention"] > low["retention"]
    assert runs.filter(pl.col("scheduler") == SM2)["desired_retention"].is_null().all()
    assert runs.filter(pl.col("scheduler") == FSRS6)["set"].is_null().all()
