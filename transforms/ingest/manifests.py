"""Course-content manifests: validate each version and load its words, keeping what is loaded.

A version is in force from its `publishedAt` until the next version of its language. A malformed
manifest, or one that reuses a version number with different content, is rejected with a clear
message; the versions already loaded stay as they are.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Generic, Protocol, TypeVar

import duckdb
import polars as pl

from transforms.ingest.fields import COURSE_REASONS, MANIFEST_REASONS
from transforms.languages import ISO_639_1
from transforms.warehouse import insert_frame, query, transaction

WORD_SCHEMA: dict[str, type[pl.DataType]] = {
    "language": pl.String,
    "version": pl.Int32,
    "word_uid": pl.String,
    "level": pl.Int32,
    "level_title": pl.String,
    "group_uid": pl.String,
    "group_title": pl.String,
    "position": pl.Int32,
    "text": pl.String,
    "translation": pl.String,
}


class ManifestError(Exception):
    """A rejected manifest (or course) document; `reason` is one of `MANIFEST_REASONS` (or
    `COURSE_REASONS`)."""

    def __init__(self, reason: str, message: str) -> None:
        if reason not in {r.code for r in (*MANIFEST_REASONS, *COURSE_REASONS)}:
            raise ValueError(
                f"reject reason {reason!r} is in neither MANIFEST_REASONS nor COURSE_REASONS"
            )
        super().__init__(message)
        self.reason = reason
        self.message = message


@dataclass(frozen=True)
class Manifest:
    language: str
    version: int
    published_at: datetime  # naive UTC
    words: pl.DataFrame  # manifest_words rows
    content_hash: str
    source: str


def content_hash(doc: object) -> str:
    """Hash of the canonical JSON, so whitespace and key order do not make a new version."""
    canonical = json.dumps(doc, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(canonical.encode()).hexdigest()


def require(cond: bool, reason: str, message: str) -> None:
    if not cond:
        raise ManifestError(reason, message)


def parse_published_at(value: object) -> datetime:
    require(isinstance(value, str), "invalid_structure", "publishedAt must be an ISO-8601 string")
    try:
        parsed = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError as exc:
        raise ManifestError("invalid_structure", f"publishedAt {value!r} is not ISO-8601") from exc
    require(
        parsed.tzinfo is not None, "invalid_structure", f"publishedAt {value!r} has no UTC offset"
    )
    return parsed.astimezone(UTC).replace(tzinfo=None)


def parse_manifest(text: str, source: str) -> Manifest:
    """Validate one manifest document; raises `ManifestError` with a readable message."""
    try:
        doc = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ManifestError("malformed_json", f"not valid JSON: {exc}") from exc
    require(isinstance(doc, dict), "invalid_structure", "the manifest is not a JSON object")
    language = doc.get("language")
    require(
        isinstance(language, str) and language in ISO_639_1,
        "unknown_language",
        f"language {language!r} is not a lower-case ISO 639-1 code",
    )
    version = doc.get("version")
    require(
        isinstance(version, int) and not isinstance(version, bool) and version > 0,
        "invalid_structure",
        f"version {version!r} is not a positive integer",
    )
    published_at = parse_published_at(doc.get("publishedAt"))
    levels = doc.get("levels")
    require(isinstance(levels, list), "invalid_structure", "levels must be a list")
    rows: list[dict[str, object]] = []
    seen: set[str] = set()
    for level in levels:
        require(
            isinstance(level, dict) and isinstance(level.get("level"), int),
            "invalid_structure",
            "every level needs an integer `level`",
        )
        for group in level.get("groups") or []:
            require(
                isinstance(group, dict) and isinstance(group.get("uid"), str),
                "invalid_structure",
                f"a group of level {level['level']} has no uid",
            )
            for word in group.get("words") or []:
                uid = word.get("uid") if isinstance(word, dict) else None
                require(
                    isinstance(uid, str) and uid.count(":") >= 2,
                    "invalid_structure",
                    f"word {word!r} in group {group['uid']} has no valid uid",
                )
                assert isinstance(uid, str)
                require(
                    uid.split(":", 1)[0] == language,
                    "word_language_mismatch",
                    f"word uid {uid!r} does not start with '{language}:'",
                )
                require(
                    uid not in seen,
                    "duplicate_word_uid",
                    f"word uid {uid!r} appears more than once in version {version}",
                )
                seen.add(uid)
                rows.append(
                    {
                        "language": language,
                        "version": version,
                        "word_uid": uid,
                        "level": level["level"],
                        "level_title": level.get("title"),
                        "group_uid": group["uid"],
                        "group_title": group.get("title"),
                        "position": len(rows) + 1,
                        "text": word.get("text"),
                        "translation": word.get("translation"),
                    }
                )
    return Manifest(
        language=language,
        version=version,
        published_at=published_at,
        words=pl.DataFrame(rows, schema=WORD_SCHEMA),
        content_hash=content_hash(doc),
        source=source,
    )


class VersionedDocument(Protocol):
    """A parsed document of which versions are loaded (a manifest, a course tree)."""

    @property
    def version(self) -> int: ...
    @property
    def published_at(self) -> datetime: ...
    @property
    def content_hash(self) -> str: ...


Doc = TypeVar("Doc", bound=VersionedDocument)


@dataclass(frozen=True)
class VersionedKind(Generic[Doc]):
    """How one kind of versioned document is parsed and stored: `versions` holds the loaded
    versions keyed by (`owner`, version) with their content hash and `published_at`, `rejects`
    the rejected documents (content_hash, source, `owner`, version, reason, message)."""

    versions: str
    rejects: str
    owner: str  # the column naming what is versioned: language, course_id
    parse: Callable[[str, str], Doc]  # (text, source) -> document, or ManifestError
    owner_of: Callable[[Doc], str]
    store: Callable[[duckdb.DuckDBPyConnection, Doc], None]  # one loaded version and its rows

    @property
    def reject_schema(self) -> dict[str, pl.DataType]:
        return reject_schema(self.owner)


def reject_schema(owner: str) -> dict[str, pl.DataType]:
    """The columns of a rejected versioned document (manifest_rejects, course_rejects)."""
    return {
        "content_hash": pl.String(),
        "source": pl.String(),
        owner: pl.String(),
        "version": pl.Int32(),
        "reason": pl.String(),
        "message": pl.String(),
    }


def load_versioned(
    con: duckdb.DuckDBPyConnection, kind: VersionedKind[Doc], documents: list[tuple[str, str]]
) -> tuple[list[Doc], pl.DataFrame]:
    """Load `(source, text)` documents not seen before, in one transaction; reject the invalid
    and conflicting ones with their reason (loaded versions are never changed). Returns the
    versions loaded and the rejects stored."""
    known = {
        str(r[0])
        for r in query(
            con,
            f'SELECT content_hash FROM "{kind.versions}" UNION ALL '
            f'SELECT content_hash FROM "{kind.rejects}"',
        ).rows()
    }
    existing: dict[tuple[str, int], tuple[str, datetime]] = {
        (r[0], r[1]): (r[2], r[3])
        for r in query(
            con, f'SELECT {kind.owner}, version, content_hash, published_at FROM "{kind.versions}"'
        ).rows()
    }
    loaded: list[Doc] = []
    rejects: list[dict[str, object]] = []
    for source, text in documents:
        doc: Doc | None = None
        try:
            doc = kind.parse(text, source)
            if doc.content_hash in known:
                continue
            check_version_order(kind.owner_of(doc), doc.version, doc.published_at, existing)
        except ManifestError as err:
            digest = doc.content_hash if doc else hashlib.sha256(text.encode()).hexdigest()
            if digest not in known:
                rejects.append(
                    {
                        "content_hash": digest,
                        "source": source,
                        kind.owner: kind.owner_of(doc) if doc else None,
                        "version": doc.version if doc else None,
                        "reason": err.reason,
                        "message": err.message,
                    }
                )
                known.add(digest)
            continue
        known.add(doc.content_hash)
        existing[(kind.owner_of(doc), doc.version)] = (doc.content_hash, doc.published_at)
        loaded.append(doc)
    rejected = pl.DataFrame(rejects, schema=kind.reject_schema)
    with transaction(con):
        for doc in loaded:
            kind.store(con, doc)
        insert_frame(con, kind.rejects, rejected)
        refresh_in_force_until(con, kind.versions, kind.owner)
    return loaded, rejected


@dataclass(frozen=True)
class ManifestLoad:
    loaded: list[tuple[str, int]]
    rejected: pl.DataFrame  # content_hash, source, language, version, reason, message


def _store_manifest(con: duckdb.DuckDBPyConnection, m: Manifest) -> None:
    con.execute(
        "INSERT INTO manifest_versions VALUES (?, ?, ?, NULL, ?, ?, ?)",
        [m.language, m.version, m.published_at, m.words.height, m.content_hash, m.source],
    )
    insert_frame(con, "manifest_words", m.words)


MANIFESTS: VersionedKind[Manifest] = VersionedKind(
    versions="manifest_versions",
    rejects="manifest_rejects",
    owner="language",
    parse=parse_manifest,
    owner_of=lambda m: m.language,
    store=_store_manifest,
)


def load_manifests(
    con: duckdb.DuckDBPyConnection, documents: list[tuple[str, str]]
) -> ManifestLoad:
    """Load `(source, text)` documents not seen before; reject the invalid and conflicting."""
    loaded, rejected = load_versioned(con, MANIFESTS, documents)
    return ManifestLoad(loaded=[(m.language, m.version) for m in loaded], rejected=rejected)


def refresh_in_force_until(con: duckdb.DuckDBPyConnection, table: str, owner: str) -> None:
    """Set each version's `in_force_until` to the next version's `published_at` (null for the
    newest) in a versions table keyed by (`owner`, version)."""
    con.execute(
        f"""
        UPDATE "{table}" AS v SET in_force_until = n.next_at
        FROM (SELECT {owner}, version,
                     lead(published_at) OVER (PARTITION BY {owner} ORDER BY version) AS next_at
              FROM "{table}") AS n
        WHERE v.{owner} = n.{owner} AND v.version = n.version
          AND v.in_force_until IS DISTINCT FROM n.next_at
        """
    )


def check_version_order(
    key: str, version: int, published_at: datetime, existing: dict[tuple[str, int], Any]
) -> None:
    """A version number is never reused with other content, and versions of one key (a
    language, a course) have increasing numbers and increasing `publishedAt`. `existing` maps
    each loaded (key, version) to (content hash, published_at, ...)."""
    require(
        (key, version) not in existing,
        "version_conflict",
        f"{key} version {version} was already loaded with different content",
    )
    for (other, loaded_version), (_, published, *_rest) in existing.items():
        require(
            other != key or (loaded_version < version) == (published < published_at),
            "version_out_of_order",
            f"{key} version {version} published {published_at:%Y-%m-%d %H:%M}"
            f" is out of order with version {loaded_version} published {published:%Y-%m-%d %H:%M}",
        )


def json_documents(folder: Path) -> list[tuple[str, str]]:
    """`(path, text)` of every `*.json` file of a folder (manifests, courses, paths), in name
    order (undecodable bytes replaced, so they fail as malformed JSON with the rest of the
    folder still read)."""
    if not folder.exists():
        return []
    return [
        (str(p), p.read_bytes().decode("utf-8", errors="replace"))
        for p in sorted(folder.glob("*.json"))
    ]
