"""Write a landing folder: manifests, cohorts and daily attempt logs in three formats.

Each client platform drops its own format: iOS writes JSON Lines (camelCase, ISO-8601 with the
device's offset), Android CSV (snake_case, epoch milliseconds), the web app Parquet (camelCase,
typed). Learners are simulated block by block, so memory is bounded by a block, not the total.
"""

from __future__ import annotations

import csv
import gzip
import io
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

import numpy as np
import polars as pl

from landing.generate.course import LANGUAGES, Course, build_course, write_manifests
from landing.generate.dirty import CORRUPTIONS, PARQUET_SAFE, inject
from landing.generate.learners import STEP_TYPES, MemorySimulation, enroll, uuids
from transforms.ingest.fields import FIELDS

PLATFORMS = ("ios", "android", "web")
EDUCATORS = ("Ana Ruiz", "Marc Dubois", "Jonas Weber", "Yuki Sato", "Sara Conti", "Li Wei")


@dataclass(frozen=True)
class GeneratorConfig:
    learners: int = 400
    days: int = 91
    start: datetime = datetime(2026, 7, 1)
    words_per_language: int = 240
    languages: tuple[str, ...] = LANGUAGES[:3]
    classes_per_language: int = 4
    dirty_share: float = 0.01
    seed: int = 7
    block_learners: int = 2000
    only_platform: str | None = None  # write every learner's logs as this platform does


@dataclass(frozen=True)
class GeneratorResult:
    attempts_written: int  # rows in attempt files, dirty ones included
    files: int
    learners: int


def _write_cohorts(
    folder: Path,
    cohort_names: list[str],
    cohort_educator: list[str],
    user_ids: pl.Series,
    cohort: np.ndarray,
) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    frame = (
        pl.DataFrame({"user_id": user_ids, "cohort_index": cohort})
        .filter(pl.col("cohort_index") >= 0)
        .unique("user_id", keep="first", maintain_order=True)
    )
    frame = frame.with_columns(
        pl.col("cohort_index")
        .map_elements(lambda i: cohort_names[i], return_dtype=pl.String)
        .alias("cohort"),
        pl.col("cohort_index")
        .map_elements(lambda i: cohort_educator[i], return_dtype=pl.String)
        .alias("educator"),
    ).select("user_id", "cohort", "educator")
    mode = "a" if (folder / "classes.csv").exists() else "w"
    with (folder / "classes.csv").open(mode) as handle:
        frame.write_csv(handle, include_header=(mode == "w"))


def _offsets(user_index: np.ndarray) -> np.ndarray:
    """A stable device time zone offset (minutes) per learner."""
    return ((user_index * 7919) % 11 - 3) * 60


def _day_frame(
    day: dict[str, np.ndarray],
    sim_start: datetime,
    user_ids: pl.Series,
    enr_user: np.ndarray,
    courses: list[Course],
    session_ids: pl.Series,
    rng: np.random.Generator,
) -> pl.DataFrame:
    n = len(day["t"])
    word_uids = [pl.Series([w.uid for w in c.words]) for c in courses]
    word_texts = [pl.Series([w.text for w in c.words]) for c in courses]
    lang = day["language"]
    uid = pl.Series([None] * n, dtype=pl.String)
    text = uid.clone()
    for li in np.unique(lang):
        idx = np.flatnonzero(lang == li)
        uid = uid.scatter(idx, word_uids[li].gather(day["word"][idx]))
        text = text.scatter(idx, word_texts[li].gather(day["word"][idx]))
    typed = day["step"] == STEP_TYPES.index("typing")
    wrong = ~day["correct"]
    micros = np.round(day["t"] * 86_400_000_000).astype(np.int64)
    frame = pl.DataFrame(
        {
            "uuid_local": uuids(rng, n),
            "user_id": user_ids.gather(enr_user[day["enrollment"]]),
            "language": pl.Series([courses[i].language for i in range(len(courses))]).gather(lang),
            "word_uid": uid,
            "step_type": pl.Series(STEP_TYPES).gather(day["step"]),
            "correct": day["correct"],
            "response_time_ms": day["response_time_ms"],
            "attempted_at": pl.Series(micros, dtype=pl.Int64).cast(pl.Datetime("us"))
            + (sim_start - datetime(1970, 1, 1)),
            "session_id": session_ids.gather(day["session_owner"]),
            "_text": text,
            "_typed": typed,
            "_wrong": wrong,
            "_offset": _offsets(enr_user[day["enrollment"]]),
        }
    )
    return frame.with_columns(
        pl.when("_typed")
        .then(pl.when("_wrong").then(pl.col("_text").str.reverse()).otherwise(pl.col("_text")))
        .alias("user_response"),
        pl.when("_typed").then(pl.col("_text")).alias("correct_answer"),
    ).drop("_text", "_typed", "_wrong")


def _as_strings(frame: pl.DataFrame, epoch_ms: bool) -> pl.DataFrame:
    if epoch_ms:
        stamp = pl.col("attempted_at").dt.epoch("ms").cast(pl.String)
    else:
        local = pl.col("attempted_at") + pl.duration(minutes=pl.col("_offset"))
        sign = pl.when(pl.col("_offset") < 0).then(pl.lit("-")).otherwise(pl.lit("+"))
        hh = (pl.col("_offset").abs() // 60).cast(pl.String).str.zfill(2)
        mm = (pl.col("_offset").abs() % 60).cast(pl.String).str.zfill(2)
        stamp = pl.concat_str(
            [local.dt.strftime("%Y-%m-%dT%H:%M:%S%.3f"), sign, hh, pl.lit(":"), mm]
        )
    return (
        frame.with_columns(
            stamp.alias("attempted_at"),
            pl.col("correct").cast(pl.String),
            pl.col("response_time_ms").cast(pl.String),
        )
        .drop("_offset")
        .select(list(FIELDS))
    )


def _camel(frame: pl.DataFrame) -> pl.DataFrame:
    return frame.rename({k: v for k, v in FIELDS.items() if k in frame.columns})


def _write_jsonl(frame: pl.DataFrame, path: Path, share: float, rng: np.random.Generator) -> int:
    dirty = inject(_as_strings(frame, epoch_ms=False), share, tuple(CORRUPTIONS), rng)
    broken = dirty["_dirty"].is_not_null().to_numpy() & (rng.random(dirty.height) < 0.05)
    lines = _camel(dirty.drop("_dirty")).select(
        pl.struct(pl.all()).struct.json_encode().alias("line")
    )["line"]
    lines = (
        lines.str.replace(r'"correct":"(true|false)"', r'"correct":$1')
        .str.replace(r'"responseTimeMs":"(\d+)"', r'"responseTimeMs":$1')
        .str.replace_all(r',"[a-zA-Z]+":null', "")
    )
    lines = pl.select(
        pl.when(pl.Series(broken))
        .then(lines.str.slice(0, lines.str.len_chars() // 2))
        .otherwise(lines)
    ).to_series()
    # one line per row, written by Polars as is (no quoting), without a Python string per row
    data = lines.to_frame("line").write_csv(include_header=False, quote_style="never").encode()
    path.write_bytes(
        gzip.compress(data, mtime=0, compresslevel=1) if path.suffix == ".gz" else data
    )
    return dirty.height


def _write_csv(frame: pl.DataFrame, path: Path, share: float, rng: np.random.Generator) -> int:
    dirty = inject(_as_strings(frame, epoch_ms=True), share, tuple(CORRUPTIONS), rng)
    broken = np.flatnonzero(
        dirty["_dirty"].is_not_null().to_numpy() & (rng.random(dirty.height) < 0.05)
    )
    text = dirty.drop("_dirty").write_csv()
    if len(broken):
        lines = text.split("\n")
        for i in broken:
            row = next(csv.reader(io.StringIO(lines[i + 1])))
            lines[i + 1] = ",".join(row[:4])
        text = "\n".join(lines)
    data = text.encode()
    path.write_bytes(
        gzip.compress(data, mtime=0, compresslevel=1) if path.suffix == ".gz" else data
    )
    return dirty.height


def _write_parquet(frame: pl.DataFrame, path: Path, share: float, rng: np.random.Generator) -> int:
    dirty = inject(_as_strings(frame, epoch_ms=False), share, PARQUET_SAFE, rng)
    typed = dirty.drop("_dirty").with_columns(
        pl.col("correct") == "true",
        pl.col("response_time_ms").cast(pl.Int32),
        pl.col("attempted_at").str.to_datetime("%Y-%m-%dT%H:%M:%S%.f%:z", time_zone="UTC"),
    )
    _camel(typed).write_parquet(path, statistics=False)
    return dirty.height


WRITERS = {"ios": _write_jsonl, "android": _write_csv, "web": _write_parquet}


def _file_name(platform: str, block: int, day_index: int) -> str:
    gz = day_index % 2 == 1
    ext = {
        "ios": ".jsonl.gz" if gz else ".jsonl",
        "android": ".csv.gz" if gz else ".csv",
        "web": ".parquet",
    }[platform]
    return f"{platform}-b{block:03d}{ext}"


def generate_landing(folder: Path, config: GeneratorConfig = GeneratorConfig()) -> GeneratorResult:
    """Write manifests, cohorts and attempt logs for `config` into `folder` (deterministic)."""
    rng = np.random.default_rng(config.seed)
    courses = [
        build_course(
            lang,
            config.words_per_language,
            config.start,
            config.days,
            np.random.default_rng([config.seed, i]),
        )
        for i, lang in enumerate(config.languages)
    ]
    for course in courses:
        write_manifests(course, folder / "manifests")
    n_lang = len(courses)
    cohort_language = np.repeat(np.arange(n_lang), config.classes_per_language)
    cohort_hazard = rng.uniform(0.03, 0.2, len(cohort_language))
    cohort_names = [
        f"{courses[lang].language}-class-{chr(65 + k % 26)}"
        for lang in range(n_lang)
        for k in range(config.classes_per_language)
    ]
    cohort_educator = [EDUCATORS[i % len(EDUCATORS)] for i in range(len(cohort_names))]
    max_words = max(len(c.words) for c in courses)
    difficulty = np.zeros((n_lang, max_words))
    for i, c in enumerate(courses):
        difficulty[i, : len(c.words)] = [w.difficulty for w in c.words]
    # Learners study words as long as the newest manifest has them.
    n_words = np.array([len(c.words) for c in courses])
    attempts_dir = folder / "attempts"
    written = files = 0
    for block, first in enumerate(range(0, config.learners, config.block_learners)):
        n_users = min(config.block_learners, config.learners - first)
        block_rng = np.random.default_rng([config.seed, 1000 + block])
        user_ids = uuids(block_rng, n_users)
        enr = enroll(block_rng, first, n_users, n_lang, config.days, cohort_hazard, cohort_language)
        enr_user = enr.user_index - first
        _write_cohorts(
            folder / "cohorts", cohort_names, cohort_educator, user_ids.gather(enr_user), enr.cohort
        )
        platform = (enr.user_index * 2654435761 % 2**32) % 3
        if config.only_platform:
            platform[:] = PLATFORMS.index(config.only_platform)
        sim = MemorySimulation(enr, difficulty, n_words, block_rng)
        for d in range(config.days):
            day = sim.day(d)
            if not day:
                continue
            sessions = uuids(block_rng, int(day["session_owner"].max()) + 1)
            frame = _day_frame(day, config.start, user_ids, enr_user, courses, sessions, block_rng)
            # One learner in ten runs an old client that sends no session id.
            old_client = (enr.user_index[day["enrollment"]] % 10) == 0
            frame = frame.with_columns(
                pl.when(pl.Series(old_client))
                .then(None)
                .otherwise(pl.col("session_id"))
                .alias("session_id")
            )
            plat = platform[day["enrollment"]]
            day_dir = attempts_dir / (config.start + timedelta(days=d)).strftime("%Y-%m-%d")
            day_dir.mkdir(parents=True, exist_ok=True)
            for p, name in enumerate(PLATFORMS):
                part = frame.filter(pl.Series(plat == p))
                if part.height:
                    path = day_dir / _file_name(name, block, d)
                    written += WRITERS[name](part, path, config.dirty_share, block_rng)
                    files += 1
    return GeneratorResult(attempts_written=written, files=files, learners=config.learners)
