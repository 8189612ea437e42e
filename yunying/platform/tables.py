"""The platform's own tables (platform layer).

Described here with SQLAlchemy Core and created/changed only by the Alembic
migrations in ``yunying/platform/migrations`` (``yunying init`` runs them).
Entity tables live elsewhere (``runtime.entity``); platform tables all start
with ``yy_`` so the schema sync can tell them apart.
"""

from __future__ import annotations

from sqlalchemy import (
    JSON, BigInteger, Boolean, Column, Date, DateTime, ForeignKey, Integer, MetaData, Numeric,
    String, Text, Table, UniqueConstraint, Index,
)

__all__ = [
    "PLATFORM_PREFIX", "platform_metadata", "package", "metadata_version",
    "metadata_item", "dictionary_item", "number_sequence", "attachment",
    "user", "api_token", "casbin_rule", "access_state",
    "audit_event", "web_session", "address_throttle",
    "wf_definition", "wf_instance", "wf_task", "wf_event", "wf_request", "wf_delegation",
    "notification", "journal_entry", "journal_line", "indicator_value",
]

PLATFORM_PREFIX = "yy_"

platform_metadata = MetaData()

#: one row per installed package (its current version).
package = Table(
    "yy_package", platform_metadata,
    Column("code", String(32), primary_key=True),
    Column("version", String(32), nullable=False),
    Column("name_zh", String(200), nullable=False),
    Column("name_en", String(200), nullable=False),
    Column("checksum", String(64), nullable=False),
    Column("installed_at", DateTime, nullable=False),
    Column("installed_by", String(64)),
    Column("metadata_version", Integer, nullable=False),
)

#: every publish of metadata (install, upgrade, later designer saves).
metadata_version = Table(
    "yy_metadata_version", platform_metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("package", String(32), nullable=False),
    Column("package_version", String(32), nullable=False),
    Column("action", String(16), nullable=False),
    Column("created_at", DateTime, nullable=False),
    Column("created_by", String(64)),
    Column("diff", Text, nullable=False),  # JSON: items added / changed / removed
    Column("plan", Text, nullable=False),  # JSON: the schema plan applied
)

#: the metadata items themselves, as validated JSON documents. ``layer`` is
#: ``package`` for a package's own items and ``local`` for the hospital's
#: overlay (kept apart so upgrades can merge three ways).
metadata_item = Table(
    "yy_metadata_item", platform_metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("package", String(32), nullable=False),
    Column("kind", String(32), nullable=False),
    Column("code", String(64), nullable=False),
    Column("layer", String(16), nullable=False, default="package"),
    Column("document", Text, nullable=False),
    Column("metadata_version", Integer, nullable=False),
    UniqueConstraint("package", "kind", "code", "layer",
                     name="uq_yy_metadata_item_key"),
)

#: dictionary items (code tables), effective-dated, optionally hierarchical.
dictionary_item = Table(
    "yy_dictionary_item", platform_metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("dictionary", String(80), nullable=False),
    Column("code", String(64), nullable=False),
    Column("name_zh", String(200), nullable=False),
    Column("name_en", String(200), nullable=False),
    Column("parent", String(64)),
    Column("sort", Integer, nullable=False, default=0),
    Column("valid_from", Date),
    Column("valid_to", Date),
    Column("active", Boolean(create_constraint=False), nullable=False, default=True),
    UniqueConstraint("dictionary", "code", name="uq_yy_dictionary_item_code"),
)

#: numbering counters: one row per rule and period.
number_sequence = Table(
    "yy_number_sequence", platform_metadata,
    Column("rule", String(120), primary_key=True),
    Column("period", String(16), primary_key=True),
    Column("value", Integer, nullable=False),
)

#: stored files referenced by attachment fields.
attachment = Table(
    "yy_attachment", platform_metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("filename", String(255), nullable=False),
    Column("content_type", String(120), nullable=False),
    Column("size", Integer, nullable=False),
    Column("sha256", String(64), nullable=False),
    Column("storage_key", String(255), nullable=False),
    Column("created_at", DateTime, nullable=False),
    Column("created_by", String(64)),
    Index("ix_yy_attachment_sha256", "sha256"),
)

#: people who log in (identity). ``code`` is the login and the identity;
#: failed_logins / locked_until hold the per-account login throttle.
user = Table(
    "yy_user", platform_metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("code", String(64), nullable=False),
    Column("name_zh", String(200), nullable=False),
    Column("name_en", String(200), nullable=False),
    Column("password_hash", String(255), nullable=False),
    Column("active", Boolean(create_constraint=False), nullable=False, default=True),
    Column("created_at", DateTime, nullable=False),
    Column("updated_at", DateTime, nullable=False),
    Column("failed_logins", Integer, nullable=False, default=0),
    Column("locked_until", DateTime),
    Column("password_changed_at", DateTime, nullable=False),
    UniqueConstraint("code", name="uq_yy_user_code"),
)

#: API tokens for machine clients: only the SHA-256 of the token is stored.
api_token = Table(
    "yy_api_token", platform_metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("user_code", String(64),
           ForeignKey("yy_user.code", name="fk_yy_api_token_user_code"), nullable=False),
    Column("name", String(100), nullable=False),
    Column("token_hash", String(64), nullable=False),
    Column("prefix", String(16), nullable=False),
    Column("created_at", DateTime, nullable=False),
    Column("expires_at", DateTime),
    Column("revoked_at", DateTime),
    Column("last_used_at", DateTime),
    UniqueConstraint("token_hash", name="uq_yy_api_token_hash"),
    Index("ix_yy_api_token_user_code", "user_code"),
)


# --- organisation model (migration 0003) ----------------------------------
# Effective dates: ``valid_from`` inclusive, ``valid_to`` exclusive, NULL open.
# Units carry no parent and no location: both are effective-dated links.

__all__ += [
    "org_unit", "location", "org_location", "org_tree", "org_edge", "org_head",
    "org_assignment",
]


def _org_unit_ref(column: str, fk_name: str) -> Column:
    return Column(column, String(64), ForeignKey("yy_org_unit.code", name=fk_name),
                  nullable=False)


#: org units: hospital, campus, department, ward, team...
org_unit = Table(
    "yy_org_unit", platform_metadata,
    Column("code", String(64), primary_key=True),
    Column("name_zh", String(200), nullable=False),
    Column("name_en", String(200), nullable=False),
    Column("unit_type", String(32), nullable=False),
    Column("valid_from", Date, nullable=False),
    Column("valid_to", Date),
)

#: physical places, their own tree: campus → building → floor → area.
location = Table(
    "yy_location", platform_metadata,
    Column("code", String(64), primary_key=True),
    Column("name_zh", String(200), nullable=False),
    Column("name_en", String(200), nullable=False),
    Column("kind", String(16), nullable=False),
    Column("parent_code", String(64),
           ForeignKey("yy_location.code", name="fk_yy_location_parent")),
)

#: where an org unit is, from when to when.
org_location = Table(
    "yy_org_location", platform_metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    _org_unit_ref("unit_code", "fk_yy_org_location_unit"),
    Column("location_code", String(64),
           ForeignKey("yy_location.code", name="fk_yy_org_location_location"),
           nullable=False),
    Column("valid_from", Date, nullable=False),
    Column("valid_to", Date),
    Index("ix_yy_org_location_unit", "unit_code"),
)

#: named relation trees: administrative, discipline, cost, temporary.
org_tree = Table(
    "yy_org_tree", platform_metadata,
    Column("code", String(64), primary_key=True),
    Column("name_zh", String(200), nullable=False),
    Column("name_en", String(200), nullable=False),
    Column("kind", String(16), nullable=False),
    Column("valid_from", Date, nullable=False),
    Column("valid_to", Date),
)

#: parent → child edges of one tree, effective-dated.
org_edge = Table(
    "yy_org_edge", platform_metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("tree_code", String(64), ForeignKey("yy_org_tree.code", name="fk_yy_org_edge_tree"),
           nullable=False),
    _org_unit_ref("parent_code", "fk_yy_org_edge_parent"),
    _org_unit_ref("child_code", "fk_yy_org_edge_child"),
    Column("valid_from", Date, nullable=False),
    Column("valid_to", Date),
    Index("ix_yy_org_edge_parent", "tree_code", "parent_code"),
    Index("ix_yy_org_edge_child", "tree_code", "child_code"),
)

#: who heads which unit, from when to when.
org_head = Table(
    "yy_org_head", platform_metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    _org_unit_ref("unit_code", "fk_yy_org_head_unit"),
    Column("user_code", String(64), nullable=False),
    Column("valid_from", Date, nullable=False),
    Column("valid_to", Date),
    Index("ix_yy_org_head_unit", "unit_code"),
)

#: staff assignments: user ↔ org unit, primary or secondary.
org_assignment = Table(
    "yy_org_assignment", platform_metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("user_code", String(64), nullable=False),
    _org_unit_ref("unit_code", "fk_yy_org_assignment_unit"),
    Column("is_primary", Boolean(create_constraint=False), nullable=False),
    Column("valid_from", Date, nullable=False),
    Column("valid_to", Date),
    Index("ix_yy_org_assignment_user", "user_code"),
    Index("ix_yy_org_assignment_unit", "unit_code"),
)


#: casbin policy rows (``p`` permissions, ``g`` role assignments and role
#: inheritance), the shape casbin-sqlalchemy-adapter reads and writes.
casbin_rule = Table(
    "yy_casbin_rule", platform_metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("ptype", String(255)),
    Column("v0", String(255)),
    Column("v1", String(255)),
    Column("v2", String(255)),
    Column("v3", String(255)),
    Column("v4", String(255)),
    Column("v5", String(255)),
    Index("ix_yy_casbin_rule_v0", "ptype", "v0"),
)

#: one row (id 1): the access-policy version, moved on by every policy or
#: role-assignment change so every process reloads its enforcer.
access_state = Table(
    "yy_access_state", platform_metadata,
    Column("id", Integer, primary_key=True),
    Column("version", Integer, nullable=False),
    Column("changed_at", DateTime, nullable=False),
)

#: the append-only audit trail: record changes, logins, token use,
#: permission and role changes, package installs.
audit_event = Table(
    "yy_audit_event", platform_metadata,
    Column("id", BigInteger().with_variant(Integer, "sqlite"), primary_key=True,
           autoincrement=True),
    Column("at", DateTime, nullable=False),
    Column("kind", String(32), nullable=False),
    Column("actor", String(64), nullable=False),
    Column("address", String(64)),
    Column("request_id", String(128)),
    Column("entity", String(128)),
    Column("record_id", Integer),
    Column("changes", JSON),
    Column("detail", JSON),
    Index("ix_yy_audit_event_record", "entity", "record_id"),
    Index("ix_yy_audit_event_at", "at"),
    Index("ix_yy_audit_event_actor", "actor", "at"),
)

#: server-side browser sessions: the cookie carries a random id, only its
#: SHA-256 is stored; logout and rotation revoke the row.
web_session = Table(
    "yy_web_session", platform_metadata,
    Column("id_hash", String(64), primary_key=True),
    Column("user_code", String(64), nullable=False),
    Column("created_at", DateTime, nullable=False),
    Column("last_seen_at", DateTime, nullable=False),
    Column("expires_at", DateTime, nullable=False),
    Column("revoked_at", DateTime),
    Column("address", String(64)),
    Index("ix_yy_web_session_user", "user_code"),
)

#: the per-address login throttle: failures from one address in a window.
address_throttle = Table(
    "yy_address_throttle", platform_metadata,
    Column("address", String(64), primary_key=True),
    Column("failures", Integer, nullable=False),
    Column("first_failure_at", DateTime, nullable=False),
    Column("locked_until", DateTime),
)


# --- workflow and approval (runtime state; specs live in the metadata) -------

_ID = BigInteger().with_variant(Integer, "sqlite")

#: the workflow documents running instances started with, content-addressed
#: (``digest`` = SHA-256 of the canonical JSON): publishing a new version of a
#: workflow adds a row; running instances keep theirs.
wf_definition = Table(
    "yy_wf_definition", platform_metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("workflow", String(100), nullable=False),     # qualified code
    Column("digest", String(64), nullable=False, unique=True),
    Column("metadata_version", Integer, nullable=False),
    Column("document", Text, nullable=False),            # JSON
    Column("created_at", DateTime, nullable=False),
)

#: one approval run of one record. ``version`` is bumped by every action
#: (the row lock that serialises actions on an instance); ``data`` holds the
#: run's working memory (chosen approvers, parallel joins, who returned it).
wf_instance = Table(
    "yy_wf_instance", platform_metadata,
    Column("id", _ID, primary_key=True, autoincrement=True),
    Column("entity", String(100), nullable=False),
    Column("record_id", Integer, nullable=False),
    Column("definition_id", Integer, ForeignKey("yy_wf_definition.id"), nullable=False),
    Column("workflow", String(100), nullable=False),
    Column("chain", String(64)),
    Column("state", String(64), nullable=False),
    Column("status", String(16), nullable=False),  # running|returned|approved|rejected|withdrawn|cancelled|closed
    Column("initiator", String(64), nullable=False),
    Column("unit", String(64)),                   # the record's org unit at submit
    Column("title", String(200)),                 # the record's title, for inboxes
    Column("started_at", DateTime, nullable=False),
    Column("ended_at", DateTime),
    Column("version", Integer, nullable=False),
    Column("data", JSON, nullable=False),
    Index("ix_yy_wf_instance_record", "entity", "record_id"),
    Index("ix_yy_wf_instance_initiator", "initiator", "started_at"),
)

#: a task: one person's turn at one activation (``round``) of one node.
#: ``kind`` approval | cc | added (加签); ``status`` waiting (sequential, not
#: yet its turn) | pending | approved | rejected | returned | transferred |
#: cancelled | skipped | auto; cc tasks are ``cc`` with ``read_at``.
wf_task = Table(
    "yy_wf_task", platform_metadata,
    Column("id", _ID, primary_key=True, autoincrement=True),
    Column("instance_id", _ID, ForeignKey("yy_wf_instance.id"), nullable=False),
    Column("node", String(64), nullable=False),
    Column("round", Integer, nullable=False),
    Column("seq", Integer, nullable=False),
    Column("kind", String(16), nullable=False),
    Column("assignee", String(64), nullable=False),
    Column("delegated_from", String(64)),        # on leave: the original assignee
    Column("added_by", _ID),                      # 加签: the task that added this one
    Column("status", String(16), nullable=False),
    Column("created_at", DateTime, nullable=False),
    Column("due_at", DateTime),
    Column("reminded_at", DateTime),
    Column("acted_at", DateTime),
    Column("comment", Text),
    Column("read_at", DateTime),
    Index("ix_yy_wf_task_assignee", "assignee", "status"),
    Index("ix_yy_wf_task_instance", "instance_id", "node", "round"),
)

#: the timeline of an instance: who did what, when, on which node, saying what.
wf_event = Table(
    "yy_wf_event", platform_metadata,
    Column("id", _ID, primary_key=True, autoincrement=True),
    Column("instance_id", _ID, ForeignKey("yy_wf_instance.id"), nullable=False),
    Column("at", DateTime, nullable=False),
    Column("actor", String(64), nullable=False),
    Column("action", String(32), nullable=False),
    Column("node", String(64)),
    Column("task_id", _ID),
    Column("comment", Text),
    Column("detail", JSON),
    Index("ix_yy_wf_event_instance", "instance_id", "id"),
)

#: idempotency: a request id acts once; a retry gets the stored response.
wf_request = Table(
    "yy_wf_request", platform_metadata,
    Column("request_id", String(128), primary_key=True),
    Column("actor", String(64), nullable=False),
    Column("action", String(32), nullable=False),
    Column("instance_id", _ID),
    Column("response", JSON, nullable=False),
    Column("at", DateTime, nullable=False),
)

#: delegation while on leave: new tasks of ``user_code`` between the dates
#: (inclusive) go to ``substitute``.
wf_delegation = Table(
    "yy_wf_delegation", platform_metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("user_code", String(64), nullable=False),
    Column("substitute", String(64), nullable=False),
    Column("valid_from", Date, nullable=False),
    Column("valid_to", Date, nullable=False),
    Column("created_at", DateTime, nullable=False),
    Column("revoked_at", DateTime),
    Index("ix_yy_wf_delegation_user", "user_code", "valid_from"),
)

#: in-app notifications (a channel hook may also send them elsewhere).
notification = Table(
    "yy_notification", platform_metadata,
    Column("id", _ID, primary_key=True, autoincrement=True),
    Column("user_code", String(64), nullable=False),
    Column("kind", String(32), nullable=False),
    Column("title_zh", String(300), nullable=False),
    Column("title_en", String(300), nullable=False),
    Column("entity", String(100)),
    Column("record_id", Integer),
    Column("instance_id", _ID),
    Column("created_at", DateTime, nullable=False),
    Column("read_at", DateTime),
    Index("ix_yy_notification_user", "user_code", "read_at", "id"),
)

#: journal entries written by posting rules (业财融合), one per business event.
journal_entry = Table(
    "yy_journal_entry", platform_metadata,
    Column("id", _ID, primary_key=True, autoincrement=True),
    Column("rule", String(100), nullable=False),          # qualified posting rule
    Column("entity", String(100), nullable=False),
    Column("record_id", Integer, nullable=False),
    Column("event", String(64), nullable=False),          # create | transition code
    Column("instance_id", _ID),
    Column("posted_at", DateTime, nullable=False),
    Column("posted_by", String(64), nullable=False),
    Column("request_id", String(128)),
    Index("ix_yy_journal_entry_source", "entity", "record_id"),
)

journal_line = Table(
    "yy_journal_line", platform_metadata,
    Column("id", _ID, primary_key=True, autoincrement=True),
    Column("entry_id", _ID, ForeignKey("yy_journal_entry.id"), nullable=False),
    Column("line_no", Integer, nullable=False),
    Column("account", String(64), nullable=False),
    Column("side", String(6), nullable=False),            # debit | credit
    Column("amount", Numeric(18, 2), nullable=False),
    Column("unit", String(64)),
    Column("project", String(64)),
    Column("purpose", String(32)),
    Column("memo", String(300)),
    Index("ix_yy_journal_line_entry", "entry_id", "line_no"),
    Index("ix_yy_journal_line_account", "account"),
)


#: computed indicator values (the dashboards' snapshot), one row per indicator,
#: tree, period, unit and person ('' = the unit's total); ``version`` is the
#: indicator version that computed it, ``computed_at`` when.
indicator_value = Table(
    "yy_indicator_value", platform_metadata,
    Column("id", _ID, primary_key=True, autoincrement=True),
    Column("indicator", String(100), nullable=False),     # qualified code
    Column("tree", String(64), nullable=False),
    Column("period", String(16), nullable=False),         # 2025-03, 2025-Q1, 2025-H1, 2025
    Column("period_kind", String(16), nullable=False),
    Column("unit", String(64), nullable=False),
    Column("person", String(64), nullable=False, default=""),
    Column("version", Integer, nullable=False),
    Column("value", Numeric(38, 10)),
    Column("numerator", Numeric(38, 10)),
    Column("denominator", Numeric(38, 10)),
    Column("computed_at", DateTime, nullable=False),
    UniqueConstraint("indicator", "tree", "period", "unit", "person",
                     name="uq_yy_indicator_value_key"),
)
