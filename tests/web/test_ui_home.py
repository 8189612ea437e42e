"""The staff UI's home page and the navigation of the layout: generated from
the installed packages' menus, only entities the user may read, the pending
count of the user's inbox."""

from __future__ import annotations

import re

import pytest

from yunying.app import services
from yunying.runtime.api.auth import attach_user
from yunying.runtime.ui.navigation import layout_values
from web_helpers import ADMIN, INSTALLER, ensure_user
from wf_api_helpers import people, submitted
from ui_helpers import page_text, set_password, ui_client

PASSWORD = "user-secret-1"
ALL_MATERIALS = ["materials.consumption", "materials.requisition", "materials.item",
                 "materials.supplier"]
ALL_PERFORMANCE = [f"performance.{code}" for code in (
    "discharge", "outpatient_visit", "surgery",             # 医疗业务数据
    "balance_sheet", "expense_line", "revenue_line",        # 收支与资产
    "bed_count", "staff_count")]                            # 人员与床位


@pytest.fixture
def app(bundled_app):
    """The bundled packages in a database of this test's own (a copy)."""
    return bundled_app


def _user_with_role(app, code: str, role: str | None) -> None:
    ensure_user(app, code, PASSWORD)
    if role is not None:
        with services(app).db.begin(write=True) as conn:
            services(app).access.grant_role(conn, INSTALLER, code, role, "*")


def _nav_links(html: str) -> list[str]:
    return re.findall(r'data-testid="nav-([^"]+)"', html)


def _home_links(html: str) -> list[str]:
    return [code for code in re.findall(r'data-testid="home-([a-z_]+\.[a-z_]+)"', html)]


def test_nobody_is_sent_to_the_login_page(app, anon_client):
    response = anon_client.get("/")
    assert response.status_code == 302 and response.headers["Location"] == "/login?next=/"


def test_the_superuser_sees_every_entity_grouped_by_menu(app):
    client, _ = ui_client(app)
    html = page_text(client.get("/"))
    # the dashboards first (the superuser may view indicators), then every
    # package's entities by menu order
    assert _nav_links(html) == ["dashboards", *ALL_MATERIALS, *ALL_PERFORMANCE]
    assert _home_links(html) == [*ALL_MATERIALS, *ALL_PERFORMANCE]
    # menus in their declared order, each under the package's domain
    assert html.index("业务单据") < html.index("目录与供应商")
    assert 'data-testid="home-domain-materials"' in html and "<h2>物资管理</h2>" in html
    assert 'href="/records/materials.item" data-testid="nav-materials.item"' in html
    assert 'data-testid="pending-count" aria-label="待办数">0<' in html
    assert 'href="/inbox/pending" data-testid="home-pending"' in html


def test_a_viewer_sees_only_what_the_role_may_read(app):
    _user_with_role(app, "u.viewer", "materials.viewer")
    client, _ = ui_client(app, "u.viewer", PASSWORD)
    html = page_text(client.get("/"))
    assert _nav_links(html) == ["materials.requisition", "materials.item"]
    assert _home_links(html) == ["materials.requisition", "materials.item"]
    assert ">供应商<" not in html and "耗材使用记录" not in html


def test_a_user_without_roles_gets_no_menu_and_is_told_why(app):
    _user_with_role(app, "u.nobody", None)
    client, token = ui_client(app, "u.nobody", PASSWORD)
    html = page_text(client.get("/"))
    assert _nav_links(html) == [] and 'class="sidebar"' not in html
    assert 'data-testid="home-empty"' in html and "请联系系统管理员授权" in html
    client.post("/language", data={"csrf_token": token, "lang": "en", "next": "/"})
    assert "ask your administrator for access" in page_text(client.get("/"))


def test_the_home_page_in_english(app):
    client, token = ui_client(app)
    client.post("/language", data={"csrf_token": token, "lang": "en", "next": "/"})
    html = page_text(client.get("/"))
    assert "Materials management" in html and "Documents" in html
    assert "Catalogue and suppliers" in html and "Material requisition" in html
    assert "Waiting for me" in html and "物资管理" not in html


def test_layout_values_for_a_restricted_user(app):
    _user_with_role(app, "u.viewer", "materials.viewer")
    with app.test_request_context("/"):
        assert layout_values() == {}  # nobody signed in
        with services(app).db.connect() as conn:
            attach_user(conn, "u.viewer", "session")
        values = layout_values()
    assert values["user"] == {"code": "u.viewer", "name": "u.viewer"}
    assert values["pending_count"] == 0
    assert values["nav"] == [{"code": "materials", "label": "物资管理", "menus": [
        {"code": "documents", "label": "业务单据", "entities": [
            {"code": "materials.requisition", "label": "领用申请单",
             "url": "/records/materials.requisition"}]},
        {"code": "catalogue", "label": "目录与供应商", "entities": [
            {"code": "materials.item", "label": "物资", "url": "/records/materials.item"}]},
    ]}]


def test_pending_and_copies_are_counted_and_linked(wf_app):
    submitted(people(wf_app))  # alice submits: bob and carol review it
    for code in ("alice", "bob"):
        set_password(wf_app, code, PASSWORD)
    bob, _ = ui_client(wf_app, "bob", PASSWORD)
    html = page_text(bob.get("/"))
    assert 'data-testid="pending-count" aria-label="待办数">1<' in html
    assert re.search(r'data-testid="home-pending">\s*<span class="card-count">1<', html)
    alice, _ = ui_client(wf_app, "alice", PASSWORD)
    html = page_text(alice.get("/"))
    assert 'data-testid="pending-count" aria-label="待办数">0<' in html
    assert re.search(r'data-testid="home-initiated">\s*<span class="card-count">1<', html)


def test_entities_without_a_menu_are_grouped_under_the_package(wf_app):
    ensure_user(wf_app, ADMIN, "admin-secret-1", superuser=True)
    client, _ = ui_client(wf_app)
    html = page_text(client.get("/"))
    assert _nav_links(html) == ["wfapi.expense"]
    assert '<h3 id="menu-wfapi-wfapi">审批接口测试</h3>' in html
