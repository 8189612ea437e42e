"""The home page of the staff UI (runtime layer, HTTP edge).

``GET /`` shows the user's work at a glance — the inbox boxes with their
sizes, linking to ``/inbox/<box>`` — and the navigation as cards: a card
per domain (installed package) with its menus and the entities the user may
read. The navigation comes from :func:`.navigation.layout_values`; the box
sizes from :func:`yunying.runtime.workflow.inbox.counts`.
"""

from __future__ import annotations

from flask import Blueprint, Response, request

from yunying.platform.i18n import Text
from yunying.runtime.ui.web import ctx, login_required, render, services
from yunying.runtime.workflow import inbox

__all__ = ["blueprint", "INBOX_BOXES"]

blueprint = Blueprint("ui_home", __name__, template_folder="templates")

#: the inbox boxes on the home page: (box, key of ``inbox.counts``, label).
INBOX_BOXES = (
    ("pending", "pending", Text("待我审批", "Waiting for me")),
    ("cc", "cc_unread", Text("抄送未读", "Unread copies")),
    ("initiated", "initiated", Text("我发起的", "Started by me")),
    ("done", "done", Text("我已处理", "Decided by me")),
)


@blueprint.get("/")
@login_required
def home() -> Response:
    """The signed-in user's start page."""
    with services().db.begin() as conn:
        counts = inbox.counts(conn, ctx().actor)
    boxes = [{"box": box, "label": label, "count": counts[key],
              "url": f"{request.script_root}/inbox/{box}"}
             for box, key, label in INBOX_BOXES]
    return render("home.html", boxes=boxes)
