"""Synthetic course content: manifest versions per language in which words are added, removed
and moved between groups."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

import numpy as np

# ruff: noqa: SIM905
SYLLABLES = (
    "ka ki ku ke ko sa shi su se so ta chi tsu te to na ni nu ne no ma mi mu me mo ra ri ru re ro "
    "ba be bi bo bu da de di do du la le li lo lu pa pe pi po pu va ve vi vo"
).split()
LANGUAGES: tuple[str, ...] = ("es", "fr", "de", "ja")
LEVEL_TITLES = ("Basics", "Everyday", "Travel", "Work", "Culture", "Advanced")


@dataclass(frozen=True)
class Word:
    uid: str
    text: str
    translation: str
    level: int
    group: str
    difficulty: float


@dataclass(frozen=True)
class Course:
    language: str
    words: list[Word]  # every word ever published, in course order
    versions: list[tuple[int, datetime, list[Word]]]  # (version, published_at, words in force)


def _word_texts(rng: np.random.Generator, n: int) -> list[str]:
    texts: list[str] = []
    seen: set[str] = set()
    while len(texts) < n:
        k = int(rng.integers(2, 4))
        text = "".join(SYLLABLES[i] for i in rng.integers(0, len(SYLLABLES), k))
        if text not in seen:
            seen.add(text)
            texts.append(text)
    return texts


def build_course(
    language: str, n_words: int, start: datetime, days: int, rng: np.random.Generator
) -> Course:
    """Three versions: the initial course, then two revisions during the period."""
    texts = _word_texts(rng, n_words + n_words // 5)
    group_size = 8
    words = [
        Word(
            uid=f"{language}:g-{texts[i - i % group_size]}:{texts[i]}",
            text=texts[i],
            translation=f"en:{texts[i][::-1]}",
            level=1 + i // (group_size * 6),
            group=f"g-{texts[i - i % group_size]}",
            difficulty=float(rng.normal(0.0, 0.8)),
        )
        for i in range(len(texts))
    ]
    v1 = words[:n_words]
    removed = {w.uid for w in v1[:: max(1, n_words // 6)][1:4]}
    moved = {w.uid for w in v1[3 :: max(1, n_words // 5)][:3]}
    v2 = [
        Word(
            w.uid,
            w.text,
            w.translation,
            w.level,
            v1[-1].group if w.uid in moved else w.group,
            w.difficulty,
        )
        for w in v1
        if w.uid not in removed
    ] + words[n_words : n_words + n_words // 10]
    v3 = v2 + words[n_words + n_words // 10 :]
    return Course(
        language=language,
        words=words,
        versions=[
            (1, start - timedelta(days=30), v1),
            # a third and two thirds into the period; apart even when it is a day or two
            (2, start + max(timedelta(days=days // 3), timedelta(hours=8)), v2),
            (3, start + max(timedelta(days=2 * days // 3), timedelta(hours=16)), v3),
        ],
    )


def manifest_json(language: str, version: int, published_at: datetime, words: list[Word]) -> dict:
    """The app's manifest document: levels -> groups -> words, in course order."""
    levels: dict[int, dict[str, list[Word]]] = {}
    for w in words:
        levels.setdefault(w.level, {}).setdefault(w.group, []).append(w)
    return {
        "language": language,
        "version": version,
        "publishedAt": published_at.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "levels": [
            {
                "level": level,
                "title": LEVEL_TITLES[(level - 1) % len(LEVEL_TITLES)],
                "groups": [
                    {
                        "uid": group,
                        "title": " / ".join(w.text for w in members[:2]),
                        "words": [
                            {"uid": w.uid, "text": w.text, "translation": w.translation}
                            for w in members
                        ],
                    }
                    for group, members in groups.items()
                ],
            }
            for level, groups in sorted(levels.items())
        ],
    }


def write_manifests(course: Course, folder: Path) -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for version, published_at, words in course.versions:
        path = folder / f"{course.language}-v{version}.json"
        doc = manifest_json(course.language, version, published_at, words)
        path.write_text(json.dumps(doc, ensure_ascii=False, indent=1))
        paths.append(path)
    return paths
