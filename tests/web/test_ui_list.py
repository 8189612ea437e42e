"""The generated list page (runtime/ui/listing.py) through the Flask test
client, signed in with the session cookie as a browser is: columns of the
list view with formatted values, sorting by header, paging, the column
chooser, search, hostile parameters (400 pages, never 500), data scopes
and field permissions of restricted users, 403 / 404 pages — and the bulk
approval of the user's pending tasks over the wfapi fixture."""

from __future__ import annotations

import re
from urllib.parse import parse_qs, urlsplit

import pytest

from yunying.app import services
from yunying.platform import identity
from ui_helpers import csrf_of, page_text
from web_helpers import INSTALLER, ITEM, REQUISITION, AuthActions, ensure_user
from wf_api_helpers import EXPENSE, act, pending_task, people, submitted

LIST = f"/records/{REQUISITION}"
PASSWORD = "list-page-secret-1"


@pytest.fixture
def app(bundled_app):
    """The bundled packages in a database of this test's own (a copy)."""
    return bundled_app


def _requisition(client, **values) -> int:
    body = {"department": "0301", "urgency": "normal", "request_date": "2026-01-05", **values}
    if body["urgency"] == "urgent":
        body.setdefault("urgent_reason", "病房急用")
    response = client.post(f"/api/v1/records/{REQUISITION}", json=body)
    assert response.status_code == 201, response.get_json()
    return response.get_json()["id"]


def _page(client, url: str, status: int = 200) -> str:
    response = client.get(url)
    assert response.status_code == status, page_text(response)[-3000:]
    assert response.mimetype == "text/html"
    return page_text(response)


def _headers(html: str) -> list[str]:
    return re.findall(r'data-testid="sort-([\w.]+)"', html)


def _row_ids(html: str) -> list[int]:
    return [int(i) for i in re.findall(r'<tr data-testid="row-(\d+)"', html)]


def _cells(html: str, record_id: int) -> list[str]:
    row = re.search(rf'<tr data-testid="row-{record_id}">(.*?)</tr>', html, re.S).group(1)
    return [re.sub(r"<[^>]+>", "", cell).strip()
            for cell in re.findall(r"<td[^>]*>(.*?)</td>", row, re.S)]


def _link(html: str, testid: str) -> str:
    found = re.search(rf'<a [^>]*href="([^"]*)"[^>]*data-testid="{testid}"', html)
    assert found is not None, f"no link {testid}"
    return found.group(1).replace("&amp;", "&")


def _signed_in(app, code: str, role: str | None = None):
    """A client signed in (session cookie) as ``code`` holding ``role``."""
    ensure_user(app, code, PASSWORD)
    if role is not None:
        with services(app).db.begin(write=True) as conn:
            services(app).access.grant_role(conn, INSTALLER, code, role, "*")
    client = app.test_client()
    assert AuthActions(client).login(code, PASSWORD).status_code == 200
    return client


@pytest.fixture
def admin(auth):
    assert auth.login().status_code == 200
    return auth.client


# -- what the page shows -----------------------------------------------------------------

def test_list_shows_the_list_view_columns_with_formatted_values(client, admin):
    first = _requisition(client, urgency="urgent", total_amount="12345.6")
    second = _requisition(client, request_date="2026-02-01", total_amount="80")
    html = _page(admin, LIST)
    assert 'data-testid="record-list"' in html
    assert _headers(html) == ["number", "department", "requester", "request_date", "urgency",
                              "total_amount", "status"]
    assert _row_ids(html) == [second, first]          # the list view's sort: -request_date
    number, department, _, day, urgency, amount, status = _cells(html, first)
    assert (number[:2], department, day, urgency, amount, status) == (
        "LY", "0301", "2026-01-05", "紧急", "12,345.60", "draft")
    assert '<th scope="col" class="num"' in html and '<td class="num">12,345.60</td>' in html
    assert _link(html, f"open-{first}") == f"{LIST}/{first}"
    assert "<h1>领用申请单</h1>" in html

    english = _page(admin, f"{LIST}?lang=en")
    assert "<h1>Material requisition</h1>" in english and "Total amount" in english
    assert _cells(english, first)[4] == "Urgent"


def test_empty_list_says_so(admin):
    html = _page(admin, f"{LIST}?f.urgency=urgent")
    assert 'data-testid="list-empty"' in html and 'data-testid="record-list"' not in html


def test_sort_header_toggles_and_keeps_the_other_parameters(client, admin):
    old = _requisition(client, request_date="2026-01-01")
    new = _requisition(client, request_date="2026-03-01")
    html = _page(admin, f"{LIST}?f.urgency=normal&page=1")
    assert 'data-testid="sort-request_date" data-sorted="desc"' in html
    link = _link(html, "sort-request_date")
    assert parse_qs(urlsplit(link).query) == {"f.urgency": ["normal"], "sort": ["request_date"]}
    ascending = _page(admin, link)
    assert _row_ids(ascending) == [old, new]
    assert 'data-testid="sort-request_date" data-sorted="asc"' in ascending
    again = _link(ascending, "sort-request_date")
    assert parse_qs(urlsplit(again).query)["sort"] == ["-request_date"]
    assert _row_ids(_page(admin, again)) == [new, old]
    other = _link(ascending, "sort-number")
    assert parse_qs(urlsplit(other).query)["sort"] == ["number"]


def test_pages_follow_the_record_api(client, admin):
    expected = [[row["id"] for row in client.get(
        f"/api/v1/records/{ITEM}?sort=code&page_size=4&page={n}").get_json()["items"]]
        for n in (1, 2)]
    first = _page(admin, f"/records/{ITEM}?sort=code&page_size=4")
    assert _row_ids(first) == expected[0]
    assert 'data-testid="pager-status"' in first
    following = _link(first, "pager-next")
    assert parse_qs(urlsplit(following).query) == {"sort": ["code"], "page_size": ["4"],
                                                   "page": ["2"]}
    second = _page(admin, following)
    assert _row_ids(second) == expected[1]
    assert parse_qs(urlsplit(_link(second, "pager-prev")).query)["page"] == ["1"]


def test_column_chooser_picks_the_columns(admin):
    html = _page(admin, f"/records/{ITEM}?columns=code,name&f.category=0101")
    assert _headers(html) == ["code", "name"]
    row = _row_ids(html)[0]
    assert len(_cells(html, row)) == 2
    chooser = re.search(r'<details class="column-chooser".*?</details>', html, re.S).group(0)
    checked = re.findall(r'value="(\w+)" checked', chooser)
    assert checked == ["code", "name"]
    assert '<input type="hidden" name="f.category" value="0101">' in chooser
    assert 'name="columns" value="active"' in chooser           # every readable field offered
    boxes = _page(admin, f"/records/{ITEM}?columns=name&columns=unit_price")
    assert _headers(boxes) == ["name", "unit_price"]
    default = _page(admin, f"/records/{ITEM}")
    assert _headers(default) == ["name", "code", "spec", "category", "uom", "unit_price",
                                 "high_value"]


def test_search_box_searches_the_search_fields(admin):
    html = _page(admin, f"/records/{ITEM}?q=注射器")
    assert re.findall(r'data-testid="open-\d+">([^<]+)<', html) == ["一次性使用无菌注射器"]
    assert 'name="q" value="注射器"' in html


def test_toolbar_links_for_who_may_create_export_and_import(admin):
    html = _page(admin, f"/records/{ITEM}?f.category=0101&sort=-code&page=1")
    assert _link(html, "new-record") == f"/records/{ITEM}/new"
    export = urlsplit(_link(html, "export"))
    assert export.path == f"/records/{ITEM}/export.xlsx"
    assert parse_qs(export.query) == {"f.category": ["0101"], "sort": ["-code"], "page": ["1"]}
    assert _link(html, "import") == f"/records/{ITEM}/import"
    assert _link(html, "import-template") == f"/records/{ITEM}/template.xlsx"


def test_auditor_may_export_but_not_create_or_import(app):
    auditor = _signed_in(app, "a.uditor", "materials.auditor")
    html = _page(auditor, f"/records/{ITEM}")
    assert urlsplit(_link(html, "export")).path == f"/records/{ITEM}/export.xlsx"
    assert 'data-testid="new-record"' not in html and 'data-testid="import"' not in html


@pytest.mark.parametrize("query, field", [
    ("f.nope=1", None),
    ("f.request_date.from=2026-99-99", "request_date"),
    ("f.request_date.from=%00", "request_date"),
    ("f.status=" + "x" * 10_000, "status"),
    ("f.urgency.from=normal", "urgency"),
    ("f.total_amount=5", "total_amount"),
    ("f.total_amount.from=lots", "total_amount"),
    ("q=" + "x" * 10_000, "q"),
    ("sort=nope", "sort"),
    ("sort=" + "-" * 10_000, "sort"),
    ("page=0", "page"),
    ("page=abc", "page"),
    ("page_size=100000", "page_size"),
    ("columns=nope", "columns"),
    ("zzz=1", None),
    ("f." + "y" * 10_000 + "=1", None),
])
def test_hostile_parameters_are_a_400_page(admin, query, field):
    html = _page(admin, f"{LIST}?{query}", 400)
    banner = re.search(r'data-testid="list-error">([^<]+)<', html)
    assert banner is not None and banner.group(1).strip()
    assert len(banner.group(1)) < 400
    assert 'data-testid="list-refused"' in html
    if field in ("q", "request_date", "status", "total_amount", "urgency"):
        assert f'data-testid="filter-error-{field}"' in html


# -- who sees what ------------------------------------------------------------------------

def test_viewer_sees_only_scoped_rows_and_no_hidden_field(client, app):
    urgent = _requisition(client, urgency="urgent", total_amount="10")
    _requisition(client, urgency="normal", total_amount="20")
    viewer = _signed_in(app, "v.iewer", "materials.viewer")
    html = _page(viewer, LIST)
    assert _row_ids(html) == [urgent]
    assert "total_amount" not in html                         # no column, filter or choice
    assert 'data-testid="new-record"' not in html and 'data-testid="export"' not in html
    assert 'data-testid="import"' not in html and 'data-select-all' not in html
    for query in ("f.total_amount.from=1", "columns=total_amount", "sort=total_amount"):
        refused = _page(viewer, f"{LIST}?{query}", 400)
        assert "total_amount" in re.search(r'data-testid="list-error">([^<]+)<',
                                           refused).group(1)


def test_requester_may_create(app):
    requester = _signed_in(app, "r.equester", "materials.requester")
    assert _link(_page(requester, LIST), "new-record") == f"{LIST}/new"


def test_no_read_grant_is_a_403_page(app):
    nobody = _signed_in(app, "n.obody")
    html = _page(nobody, LIST, 403)
    assert 'data-testid="record-list"' not in html and 'data-testid="filters"' not in html
    assert 'data-status="403"' in html and "没有权限查看领用申请单" in html


def test_unknown_entity_is_a_404_page(admin):
    html = _page(admin, "/records/materials.nothing", 404)
    assert "materials.nothing" in html


def test_nobody_signed_in_is_sent_to_the_login_page(anon_client):
    response = anon_client.get(f"{LIST}?f.urgency=urgent")
    assert response.status_code == 302
    location = urlsplit(response.headers["Location"])
    assert location.path == "/login"
    assert parse_qs(location.query)["next"] == [f"{LIST}?f.urgency=urgent"]


# -- bulk approve --------------------------------------------------------------------------

def _person(app, code: str):
    """A browser session of a person of the wfapi fixture."""
    with services(app).db.begin(write=True) as conn:
        identity.set_password(conn, INSTALLER, code, PASSWORD)
    client = app.test_client()
    assert AuthActions(client).login(code, PASSWORD).status_code == 200
    return client


def _bulk_tasks(html: str) -> dict[int, int]:
    """``{record id: task id}`` of the page's bulk checkboxes."""
    return {int(rid): int(tid) for tid, rid in re.findall(
        r'name="task" value="(\d+)" id="bulk-\d+" data-testid="bulk-select-(\d+)"', html)}


def _bulk(client, html: str, tasks, **extra):
    data = {"csrf_token": csrf_of(html), "task": [str(t) for t in tasks],
            "back": re.search(r'name="back" value="([^"]*)"', html).group(1), **extra}
    action = re.search(r'<form method="post" action="([^"]+)" id="bulk-approve"', html).group(1)
    return client.post(action.replace("&amp;", "&"), data=data)


def _status(clients, record_id: int) -> str:
    return clients["admin"].get(f"/api/v1/records/{EXPENSE}/{record_id}").get_json()["status"]


def test_bulk_approve_approves_every_ticked_task(wf_app):
    clients = people(wf_app)
    claims = [submitted(clients, title=f"Trip {n}") for n in range(3)]
    bob = _person(wf_app, "bob")
    html = _page(bob, f"/records/{EXPENSE}")
    assert 'data-select-all="task"' in html and 'data-testid="bulk-approve"' in html
    tasks = _bulk_tasks(html)
    assert set(tasks) == {record_id for record_id, _ in claims}

    response = _bulk(bob, html, tasks.values(), comment="同意报销")
    assert response.status_code == 200
    result = page_text(response)
    assert "已批准 3 项" in result and 'data-testid="bulk-refused"' not in result
    assert 'data-testid="record-list"' in result and "data-select-all" not in result
    assert all(_status(clients, record_id) == "approved" for record_id, _ in claims)
    timeline = clients["bob"].get(f"/api/v1/workflow/instances/{claims[0][1]}/timeline")
    assert "同意报销" in [event["comment"] for event in timeline.get_json()["items"]]


def test_bulk_approve_reports_each_refusal_and_keeps_the_approvals(wf_app):
    clients = people(wf_app)
    (first, first_iid), (second, _), (third, third_iid) = [
        submitted(clients, title=f"Claim {n}") for n in range(3)]
    bob = _person(wf_app, "bob")
    html = _page(bob, f"/records/{EXPENSE}?lang=en")
    tasks = _bulk_tasks(html)
    carol_first = pending_task(clients["carol"], first_iid)
    assert act(clients["carol"], carol_first, "approve").status_code == 200  # decided first
    carol_third = pending_task(clients["carol"], third_iid)

    response = _bulk(bob, html, [tasks[first], tasks[second], carol_third, "abc", 999_999])
    assert response.status_code == 200
    result = page_text(response)
    assert "Approved 1; refused 4:" in result
    refused = re.search(r'data-testid="bulk-refused">(.*?)</ul>', result, re.S).group(1)
    codes = re.findall(r'data-code="(\w+)"', refused)
    assert codes == ["invalid_task", "task_not_pending", "not_assignee", "task_not_found"]
    assert f"(record #{first})" in refused
    assert _status(clients, second) == "approved"
    assert _status(clients, third) == "reviewing"
    assert _status(clients, first) == "approved"      # by carol


def test_only_people_with_pending_tasks_get_the_checkboxes(wf_app):
    clients = people(wf_app)
    submitted(clients)
    alice = _person(wf_app, "alice")
    html = _page(alice, f"/records/{EXPENSE}")
    assert 'data-testid="record-list"' in html and "data-select-all" not in html


def test_bulk_approve_without_a_task_or_a_token_is_refused(wf_app):
    clients = people(wf_app)
    submitted(clients)
    bob = _person(wf_app, "bob")
    html = _page(bob, f"/records/{EXPENSE}")
    empty = _bulk(bob, html, [])
    assert empty.status_code == 400 and empty.mimetype == "text/html"
    forged = bob.post(f"/records/{EXPENSE}/bulk-approve",
                      data={"task": list(map(str, _bulk_tasks(html).values()))})
    assert forged.status_code == 403
    assert _bulk(bob, html, ["1"] * 201).status_code == 400
    unknown = bob.post("/records/wfapi.nothing/bulk-approve",
                       data={"csrf_token": csrf_of(html), "task": ["1"]})
    assert unknown.status_code == 404
    assert all(v == "reviewing" for v in [_status(clients, r) for r in
                                          _bulk_tasks(_page(bob, f"/records/{EXPENSE}"))])
