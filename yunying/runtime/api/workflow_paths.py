"""The OpenAPI description of the workflow, inbox, notification, delegation
and journal endpoints (runtime layer, HTTP edge).

:data:`WORKFLOW_SCHEMAS` holds the component schemas — the request bodies of
:mod:`.workflow_schemas` (marshmallow) and the responses as JSON Schema —
and :data:`WORKFLOW_PATHS` the path items; ``openapi._service_groups`` adds
both to the document. Error responses name the ``Error<status>`` components.
"""

from __future__ import annotations

from typing import Any, Mapping

from yunying.runtime.api.inbox import BOX_PARAMETERS
from yunying.runtime.api.notifications import DEFAULT_LIMIT, MAX_LIMIT
from yunying.runtime.api.workflow import INSTANCE_ACTIONS, TASK_ACTIONS
from yunying.runtime.api.workflow_request import IDEMPOTENCY_HEADER, MAX_KEY
from yunying.runtime.api.workflow_schemas import WORKFLOW_INPUTS
from yunying.runtime.workflow.inbox import DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE

__all__ = ["WORKFLOW_PATHS", "WORKFLOW_SCHEMAS"]

_JSON = "application/json"
_TEXT = {"type": "object", "required": ["zh-CN", "en"],
         "properties": {"zh-CN": {"type": "string"}, "en": {"type": "string"}}}
_MOMENT = {"type": ["string", "null"], "format": "date-time", "description": "UTC"}


def _ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


def _object(required: tuple[str, ...], **properties: Any) -> dict[str, Any]:
    return {"type": "object", "required": list(required), "properties": properties}


def _strings(description: str = "") -> dict[str, Any]:
    return {"type": "array", "items": {"type": "string"}, "description": description}


_INSTANCE = _object(
    ("id", "entity", "record_id", "workflow", "state", "status", "initiator"),
    id={"type": "integer"}, entity={"type": "string"}, record_id={"type": "integer"},
    title={"type": ["string", "null"]}, workflow={"type": "string"},
    state={"type": "string"}, state_label={**_TEXT, "type": ["object", "null"]},
    state_category={"type": ["string", "null"]},
    status={"type": "string", "enum": ["running", "returned", "approved", "rejected",
                                       "withdrawn", "cancelled", "closed"]},
    initiator={"type": "string"}, started_at=_MOMENT, ended_at=_MOMENT,
    version={"type": "integer"}, current_nodes=_strings("codes of the active nodes"))

_TASK = _object(
    ("id", "instance_id", "node", "kind", "assignee", "status"),
    id={"type": "integer"}, instance_id={"type": "integer"}, node={"type": "string"},
    node_label={**_TEXT, "type": ["object", "null"]}, round={"type": "integer"},
    seq={"type": "integer"},
    kind={"type": "string", "enum": ["approval", "cc", "added"]},
    assignee={"type": "string"}, delegated_from={"type": ["string", "null"]},
    added_by={"type": ["integer", "null"]},
    status={"type": "string", "enum": ["waiting", "pending", "approved", "rejected",
                                       "returned", "transferred", "cancelled", "skipped",
                                       "auto", "cc"]},
    created_at=_MOMENT, due_at=_MOMENT, acted_at=_MOMENT, read_at=_MOMENT,
    comment={"type": ["string", "null"]})


def _page(item: dict[str, Any]) -> dict[str, Any]:
    return _object(("items", "total", "page", "page_size"),
                   items={"type": "array", "items": item}, total={"type": "integer"},
                   page={"type": "integer"}, page_size={"type": "integer"})


_RESPONSES: Mapping[str, dict[str, Any]] = {
    "WorkflowInstance": _INSTANCE,
    "WorkflowTask": _TASK,
    "WorkflowView": {**_object(("instance", "tasks"),
                               instance={"oneOf": [_ref("WorkflowInstance"),
                                                   {"type": "null"}]},
                               tasks={"type": "array", "items": _ref("WorkflowTask")}),
                     "description": "the instance and its tasks (oldest first)"},
    "WorkflowTransition": _object(
        ("code", "label", "from", "to"), code={"type": "string"}, label=_TEXT,
        **{"from": _strings("states it leaves from")}, to={"type": "string"},
        chain={"type": ["string", "null"], "description": "the approval chain it starts"},
        comment_required={"type": "boolean"},
        guard_ok={"type": "boolean", "description": "the guard holds now"},
        guard_message={**_TEXT, "type": ["object", "null"]}),
    "WorkflowStatus": _object(
        ("entity", "record_id", "workflow", "state", "instance", "tasks", "transitions",
         "my_tasks"),
        entity={"type": "string"}, record_id={"type": "integer"},
        workflow={"type": ["object", "null"], "properties": {
            "code": {"type": "string"}, "label": _TEXT}},
        state={"type": ["object", "null"], "properties": {
            "code": {"type": "string"}, "label": {**_TEXT, "type": ["object", "null"]},
            "category": {"type": ["string", "null"]}}},
        instance={"oneOf": [_ref("WorkflowInstance"), {"type": "null"}]},
        tasks={"type": "array", "items": _ref("WorkflowTask")},
        transitions={"type": "array", "items": _ref("WorkflowTransition"),
                     "description": "the manual transitions the caller may fire now"},
        my_tasks={"type": "array", "items": _ref("WorkflowTask"),
                  "description": "the caller's pending tasks of the open instance"}),
    "WorkflowEvent": _object(("at", "actor", "action"), at=_MOMENT,
                             actor={"type": "string"}, action={"type": "string"},
                             node={"type": ["string", "null"]},
                             node_label={**_TEXT, "type": ["object", "null"]},
                             comment={"type": ["string", "null"]},
                             detail={"type": ["object", "null"]}),
    "WorkflowTimeline": _object(("items",), items={"type": "array",
                                                   "items": _ref("WorkflowEvent")}),
    "InboxTaskPage": _page(_object(("task", "instance"), task=_ref("WorkflowTask"),
                                   instance=_ref("WorkflowInstance"))),
    "InboxInstancePage": _page(_object(
        ("instance", "pending"), instance=_ref("WorkflowInstance"),
        pending={"type": "array", "items": _ref("WorkflowTask"),
                 "description": "the tasks waiting for a decision now"})),
    "InboxItem": _object(("task", "instance"), task=_ref("WorkflowTask"),
                         instance=_ref("WorkflowInstance")),
    "InboxCounts": _object(("pending", "done", "initiated", "cc", "cc_unread",
                            "notifications_unread"),
                           **{k: {"type": "integer", "minimum": 0} for k in (
                               "pending", "done", "initiated", "cc", "cc_unread",
                               "notifications_unread")}),
    "Notification": _object(("id", "kind", "title", "created_at"), id={"type": "integer"},
                            kind={"type": "string"}, title=_TEXT,
                            entity={"type": ["string", "null"]},
                            record_id={"type": ["integer", "null"]},
                            instance_id={"type": ["integer", "null"]},
                            created_at=_MOMENT, read_at=_MOMENT),
    "NotificationPage": _object(("items", "next_before"),
                                items={"type": "array", "items": _ref("Notification")},
                                next_before={"type": ["integer", "null"], "description":
                                             "pass as before for the next page"}),
    "NotificationsMarked": _object(("marked",), marked={"type": "integer"}),
    "UnreadCount": _object(("unread",), unread={"type": "integer"}),
    "Delegation": _object(("id", "substitute", "valid_from", "valid_to"),
                          id={"type": "integer"}, user={"type": "string"},
                          substitute={"type": "string"},
                          valid_from={"type": "string", "format": "date"},
                          valid_to={"type": "string", "format": "date"}),
    "DelegationList": _object(("items",), items={"type": "array",
                                                 "items": _ref("Delegation")}),
    "JournalEntries": _object(("items",), items={
        "type": "array", "items": {"type": "object", "description":
                                   "an entry (rule, event, posted_at …) with its lines "
                                   "(account, side, amount as an exact string …)"}}),
}

#: component schemas of these endpoints (request bodies and responses).
WORKFLOW_SCHEMAS: Mapping[str, Any] = {**WORKFLOW_INPUTS, **_RESPONSES}


# -- operations -------------------------------------------------------------------------

def _path(name: str, description: str, schema: dict[str, Any] | None = None
          ) -> dict[str, Any]:
    return {"in": "path", "name": name, "required": True, "description": description,
            "schema": schema or {"type": "integer", "minimum": 1}}


def _query(name: str, description: str, schema: dict[str, Any]) -> dict[str, Any]:
    return {"in": "query", "name": name, "required": False, "description": description,
            "schema": schema}


_KEY = {"in": "header", "name": IDEMPOTENCY_HEADER, "required": False, "description":
        "a request id: a retry with the same key (same user) returns the first answer "
        "without acting again", "schema": {"type": "string", "minLength": 1,
                                           "maxLength": MAX_KEY,
                                           "pattern": "^[\\x20-\\x7e]+$"}}
_ENTITY = _path("entity", "qualified entity code", {"type": "string"})
_RECORD = _path("id", "record id")
_ACT_ERRORS = ("400", "403", "404", "409", "422")


def _op(operation_id: str, tag: str, summary: str, result: str, *, ok: str = "200",
        body: str | None = None, parameters: tuple[dict[str, Any], ...] = (),
        errors: tuple[str, ...] = ("400", "404"), description: str | None = None
        ) -> dict[str, Any]:
    responses: dict[str, Any] = {ok: {"description": summary} if ok == "204" else {
        "description": summary, "content": {_JSON: {"schema": result}}}}
    responses.update({status: f"Error{status}" for status in errors})
    operation: dict[str, Any] = {"operationId": operation_id, "summary": summary,
                                 "tags": [tag], "parameters": list(parameters),
                                 "responses": responses}
    if body is not None:
        operation["requestBody"] = {"required": False, "content": {_JSON: {"schema": body}}}
    if description:
        operation["description"] = description
    return operation


_SUMMARIES = {
    "withdraw": "Withdraw (撤回) the instance while nobody has approved (initiator)",
    "resubmit": "Resubmit after a return to the initiator",
    "remind": "Remind (催办) the pending assignees (initiator)",
    "comment": "Comment on the instance (participants)",
    "approve": "Approve the task",
    "reject": "Reject the task (a comment may be required)",
    "return": "Return (退回) to the initiator, the previous node or an earlier node",
    "transfer": "Transfer (转交) the task to another user",
    "add-signers": "Add signers (加签) before or after you",
}


def _actions() -> dict[str, Any]:
    paths: dict[str, Any] = {}
    for prefix, name, actions in (("/api/v1/workflow/instances/{id}", "instance",
                                   INSTANCE_ACTIONS),
                                  ("/api/v1/workflow/tasks/{id}", "task", TASK_ACTIONS)):
        for action, (schema, _call) in actions.items():
            camel = "".join(p.title() for p in action.split("-"))
            paths[f"{prefix}/{action}"] = {"post": _op(
                f"{name}{camel}", "workflow", _SUMMARIES[action], "WorkflowView",
                body=schema.__name__, errors=_ACT_ERRORS,
                parameters=(_path("id", f"{name} id"), _KEY))}
    return paths


def _box(box: str, summary: str, result: str) -> dict[str, Any]:
    described = {
        "entity": ("qualified entity code", {"type": "string", "maxLength": 100}),
        "workflow": ("qualified workflow code", {"type": "string", "maxLength": 100}),
        "status": ("instance status", {"type": "string"}),
        "state": ("instance state code", {"type": "string"}),
        "q": ("text contained in the title", {"type": "string", "maxLength": 200}),
        "since": ("from this day (inclusive)", {"type": "string", "format": "date"}),
        "until": ("to this day (inclusive)", {"type": "string", "format": "date"}),
        "unread": ("1: unread copies only, 0: read ones", {"type": "integer",
                                                           "enum": [0, 1]}),
        "page": ("page number", {"type": "integer", "minimum": 1, "default": 1}),
        "page_size": ("items per page", {"type": "integer", "minimum": 1,
                                         "maximum": MAX_PAGE_SIZE,
                                         "default": DEFAULT_PAGE_SIZE}),
    }
    params = tuple(_query(n, *described[n]) for n in BOX_PARAMETERS[box])
    return {"get": _op(f"inbox{box.title()}", "inbox", summary, result, parameters=params,
                       errors=("400",))}


_DELEGATION = _path("id", "delegation id")

#: the operations of these endpoints, for the OpenAPI document.
WORKFLOW_PATHS: Mapping[str, dict[str, Any]] = {
    "/api/v1/records/{entity}/{id}/workflow": {"get": _op(
        "recordWorkflow", "workflow", "The record's workflow, state, open instance, the "
        "transitions you may fire and your pending tasks", "WorkflowStatus",
        parameters=(_ENTITY, _RECORD))},
    "/api/v1/records/{entity}/{id}/workflow/{transition}": {"post": _op(
        "fireTransition", "workflow", "Fire a manual transition (submit starts the approval "
        "chain)", "WorkflowView", body="FireInput", errors=_ACT_ERRORS,
        parameters=(_ENTITY, _RECORD, _path("transition", "transition code",
                                            {"type": "string"}), _KEY))},
    "/api/v1/records/{entity}/{id}/journal": {"get": _op(
        "recordJournal", "workflow", "Journal entries posted for the record (业财融合)",
        "JournalEntries", parameters=(_ENTITY, _RECORD),
        description="For whoever may read the record; out of scope is 404.")},
    "/api/v1/workflow/instances/{id}": {"get": _op(
        "getWorkflowInstance", "workflow", "An instance with its tasks (participants and "
        "readers of the record)", "WorkflowView", parameters=(_path("id", "instance id"),),
        errors=("400", "403", "404"))},
    "/api/v1/workflow/instances/{id}/timeline": {"get": _op(
        "workflowTimeline", "workflow", "Every event of an instance, oldest first",
        "WorkflowTimeline", parameters=(_path("id", "instance id"),),
        errors=("400", "403", "404"))},
    **_actions(),
    "/api/v1/inbox/pending": _box("pending", "My pending tasks (待办)", "InboxTaskPage"),
    "/api/v1/inbox/done": _box("done", "Tasks I decided (已办)", "InboxTaskPage"),
    "/api/v1/inbox/initiated": _box("initiated", "Instances I started (我发起的)",
                                    "InboxInstancePage"),
    "/api/v1/inbox/cc": _box("cc", "Copies sent to me (抄送我)", "InboxTaskPage"),
    "/api/v1/inbox/counts": {"get": _op("inboxCounts", "inbox", "The size of every box",
                                        "InboxCounts", errors=("400",))},
    "/api/v1/inbox/cc/{id}/read": {"post": _op(
        "readCc", "inbox", "Mark a copy read", "InboxItem",
        parameters=(_path("id", "cc task id"),))},
    "/api/v1/notifications": {"get": _op(
        "listNotifications", "notifications", "My notifications, newest first",
        "NotificationPage", errors=("400",), parameters=(
            _query("unread", "1: unread only", {"type": "integer", "enum": [0, 1]}),
            _query("before", "only notifications older than this id (keyset paging)",
                   {"type": "integer", "minimum": 1}),
            _query("limit", "notifications per page", {
                "type": "integer", "minimum": 1, "maximum": MAX_LIMIT,
                "default": DEFAULT_LIMIT})))},
    "/api/v1/notifications/read": {"post": _op(
        "readNotifications", "notifications", "Mark notifications read (all unread when "
        "ids is absent)", "NotificationsMarked", body="ReadInput", errors=("400",))},
    "/api/v1/notifications/unread-count": {"get": _op(
        "unreadNotifications", "notifications", "How many notifications are unread",
        "UnreadCount", errors=("400",))},
    "/api/v1/workflow/delegations": {
        "get": _op("listDelegations", "workflow", "My delegations (another user's: "
                   "manage_users)", "DelegationList", errors=("400", "403"),
                   parameters=(_query("user", "whose (default: mine)", {"type": "string"}),)),
        "post": _op("createDelegation", "workflow", "Name a substitute for a leave",
                    "Delegation", ok="201", body="DelegationInput",
                    errors=("400", "403", "422"))},
    "/api/v1/workflow/delegations/{id}": {"delete": _op(
        "revokeDelegation", "workflow", "Revoke a delegation", "Delegation", ok="204",
        parameters=(_DELEGATION,), errors=("400", "403", "404"))},
}
