"""Data-quality checks on competencies, badges and the published events."""

import dagster as dg

from pipelines.defs.check_helpers import offending_rows_check, registry_checks
from pipelines.defs.resources import WarehouseResource
from transforms.lms.achievements import ACHIEVEMENT_TABLES
from transforms.lms.published import EVENT_TYPES

WARN = dg.AssetCheckSeverity.WARN

# one row per key, `level` in 0..100, `status` values: as the registry declares
registered_checks = registry_checks(ACHIEVEMENT_TABLES)


@dg.asset_check(asset="user_competencies", blocking=True)
def user_competencies_consistent(warehouse: WarehouseResource) -> dg.AssetCheckResult:
    """`level` is set, `mastered` exactly when `acquired_at` is set, which lies within the
    learner's evidence, and `not_started` exactly without evidence."""
    return offending_rows_check(
        warehouse,
        """
        SELECT user_id, competency_id, level, status, acquired_at, evidence
        FROM user_competencies
        WHERE level IS NULL
           OR (status = 'mastered') <> (acquired_at IS NOT NULL)
           OR (status = 'not_started') <> (evidence = 0)
           OR acquired_at < first_evidence_at OR acquired_at > last_evidence_at
        """,
        "levels set, statuses consistent with acquired_at and evidence",
    )


@dg.asset_check(asset="competency_params", blocking=True)
def competency_params_are_probabilities(warehouse: WarehouseResource) -> dg.AssetCheckResult:
    """Every BKT parameter is a probability; guess and slip stay below 0.5."""
    return offending_rows_check(
        warehouse,
        """
        SELECT competency_id, prior, learn, slip, guess FROM competency_params
        WHERE NOT (prior > 0 AND prior < 1 AND learn > 0 AND learn < 1
                   AND slip > 0 AND slip <= 0.5 AND guess > 0 AND guess <= 0.5)
           OR prior IS NULL OR learn IS NULL OR slip IS NULL OR guess IS NULL
        """,
        "prior and learn in (0, 1), slip and guess in (0, 0.5]",
    )


@dg.asset_check(asset="badge_rule_rejects")
def no_rejected_badge_rules(warehouse: WarehouseResource) -> dg.AssetCheckResult:
    """Badge rules rejected as malformed, unknown or ill-typed (the other rules apply)."""
    return offending_rows_check(
        warehouse,
        "SELECT source, item, badge_code, reason, message FROM badge_rule_rejects",
        "every badge rule is valid",
        severity=WARN,
    )


@dg.asset_check(asset="user_badges", blocking=True)
def user_badges_have_a_rule(warehouse: WarehouseResource) -> dg.AssetCheckResult:
    """Every award's badge has a rule (an award outlives a deactivated rule, not a missing
    one: a code that vanished from `badges/` is worth a look)."""
    return offending_rows_check(
        warehouse,
        """
        SELECT b.badge_code, count(*) AS awards FROM user_badges b
        WHERE NOT EXISTS (SELECT 1 FROM badge_rules r WHERE r.badge_code = b.badge_code)
        GROUP BY ALL
        """,
        "every awarded badge code is a rule",
        severity=WARN,
    )


@dg.asset_check(asset="learning_events", blocking=True)
def learning_events_well_formed(warehouse: WarehouseResource) -> dg.AssetCheckResult:
    """Every published event has a known type and a JSON object payload."""
    return offending_rows_check(
        warehouse,
        """
        SELECT event_id, type, payload FROM learning_events
        WHERE NOT list_contains(?, type) OR NOT json_valid(payload)
           OR json_type(payload) <> 'OBJECT'
        """,
        "known types, JSON object payloads",
        params=[list(EVENT_TYPES)],
    )
