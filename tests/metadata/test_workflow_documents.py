"""Workflow and posting-rule documents (workflows/*.yaml, posting/*.yaml):
exact specs, exact issues, the store round trip."""

from __future__ import annotations

import json
from datetime import datetime
from types import MappingProxyType

import pytest

from yunying.metadata.builder import package_from_documents
from yunying.metadata.loader import load_packages
from yunying.metadata.schema_check import schema_document
from yunying.metadata.store import MetadataStore
from yunying.metadata.workflow_spec import (
    APPROVAL_MODES, DEDUP_POLICIES, NODE_KINDS, POSTING_SIDES, RESUBMIT_MODES, RETURN_TARGETS,
    SELF_POLICIES, STATE_CATEGORIES, STATE_FIELD_ACCESS, TIMEOUT_ACTIONS, TRIGGERS,
    ApproverSpec, BranchSpec, ChainSpec, EffectSpec, NodeSpec, PolicySpec, PostingLineSpec,
    PostingRuleSpec, StateSpec, TransitionSpec, WorkflowSpec,
)
from yunying.metadata.workflows import posting_from_document, workflow_from_document
from yunying.platform.i18n import Text
from yunying.runtime.formula.package_check import FORMULA_CHECKS

from metadata_paths import MODULES
from package_variants import codes_of
from workflow_package import FILES, POSTING, WORKFLOW, write_package

BIG = "workflows/claim_big.yaml"
CREATED = "posting/claim_created.yaml"
_T = Text


@pytest.fixture(scope="module")
def base():
    return {s.code: s for s in load_packages([MODULES / "base"])}


@pytest.fixture
def wfx(tmp_path, base):
    [spec] = load_packages([write_package(tmp_path)], installed=base, checks=FORMULA_CHECKS)
    return spec


def _edit(file: str, old: str, new: str, *more: str, count: int = 1) -> dict[str, str]:
    """``file`` with ``old`` replaced by ``new`` (and further old, new pairs)."""
    text = FILES[file]
    pairs = [(old, new), *zip(more[::2], more[1::2])]
    for before, after in pairs:
        assert text.count(before) == count, (file, before)
        text = text.replace(before, after)
    return {file: text}


def _issues(tmp_path, base, changes):
    return codes_of([write_package(tmp_path, changes)], base)


# -- good documents ------------------------------------------------------------

def test_the_package_loads_with_its_workflows_and_posting_rules(wfx):
    assert [w.code for w in wfx.workflows] == ["claim_approval", "claim_big"]
    assert [r.code for r in wfx.postings] == ["claim_created", "claim_posting"]
    assert wfx.workflow("claim_big").qualified_code == "wfx.claim_big"
    assert wfx.posting("claim_posting").qualified_code == "wfx.claim_posting"
    assert list(wfx.documents["workflow"]) == ["claim_approval", "claim_big"]
    assert list(wfx.documents["posting"]) == ["claim_created", "claim_posting"]


def test_the_small_workflow_is_exactly_this_spec(wfx):
    label = _T
    assert wfx.workflow("claim_big") == WorkflowSpec(
        package="wfx", code="claim_big", label=label("大额报销", "Large claim"),
        entity="wfx.claim", initial="draft",
        states=(StateSpec("draft", label("草稿", "Draft"), "draft"),
                StateSpec("reviewing", label("审批中", "Reviewing"), "in_progress"),
                StateSpec("approved", label("已批准", "Approved"), "approved"),
                StateSpec("rejected", label("已驳回", "Rejected"), "rejected")),
        transitions=(
            TransitionSpec("submit", label("提交", "Submit"), ("draft",), "reviewing",
                           creator=True, chain="main"),
            TransitionSpec("done", label("通过", "Done"), ("reviewing",), "approved",
                           trigger="chain_approved"),
            TransitionSpec("refused", label("驳回", "Refused"), ("reviewing",), "rejected",
                           trigger="chain_rejected")),
        chains=(ChainSpec("main", label("审批链", "Chain"), "pick", nodes=(
            NodeSpec("pick", "approval", label("自选", "Chosen"), next="second",
                     approvers=(ApproverSpec("initiator_choice"),), mode="all"),
            NodeSpec("second", "approval", label("上一步指定", "Previous choice"), next="end",
                     approvers=(ApproverSpec("previous_choice"),), mode="sequential"),
            NodeSpec("end", "end", label("结束", "End")))),),
        priority=100)


def test_the_full_workflow_maps_every_key(wfx):
    flow = wfx.workflow("claim_approval")
    assert (flow.entity, flow.priority, flow.condition, flow.state_field, flow.initial) == (
        "wfx.claim", 10, "total_amount <= 50000", "status", "draft")
    assert flow.state("reviewing").fields == MappingProxyType(
        {"*": "read_only", "reason": "editable", "lines.quantity": "hidden"})
    assert flow.transition("submit") == TransitionSpec(
        "submit", _T("提交", "Submit"), ("draft",), "reviewing", roles=("wfx.requester",),
        creator=True, guard="total_amount > 0",
        guard_message=_T("金额必须大于零", "The amount must be positive"), chain="main")
    assert flow.transition("approve_done").effects == (
        EffectSpec(set=MappingProxyType({"approved_on": "TODAY()"})),
        EffectSpec(posting="wfx.claim_posting"),
        EffectSpec(notify=("initiator",), message=_T("已批准", "Approved")))
    cancel = flow.transition("cancel")
    assert (cancel.sources, cancel.roles, cancel.comment_required) == (
        ("draft", "reviewing"), ("platform.admin",), True)
    chain = flow.chain("main")
    assert (chain.start, chain.resubmit) == ("head", "returning_node")
    assert [n.code for n in chain.nodes] == [
        "head", "amount", "both", "director", "chain_heads", "cc_fin", "end"]


def test_every_node_of_the_full_chain_is_exactly_this(wfx):
    chain = wfx.workflow("claim_approval").chain("main")
    assert chain.node("head") == NodeSpec(
        "head", "approval", _T("科室主任审批", "Head of department"), next="amount",
        approvers=(ApproverSpec("initiator_head"),), mode="any",
        policy=PolicySpec(on_self="auto_approve", dedup="consecutive", timeout_hours=48,
                          timeout_action="remind"),
        fields=MappingProxyType({"reason": "editable"}), returns=("initiator", "previous"),
        comment_on_reject=True, add_signers=False)
    assert chain.node("amount") == NodeSpec(
        "amount", "condition", _T("金额判断", "Amount"), branches=(
            BranchSpec("both", "total_amount > 10000", _T("大额", "Large")),
            BranchSpec("cc_fin")))
    assert chain.node("both") == NodeSpec(
        "both", "parallel", _T("会审", "Joint review"), next="cc_fin",
        branches=(BranchSpec("director"), BranchSpec("chain_heads")))
    assert chain.node("director") == NodeSpec(
        "director", "approval", _T("院长", "Director"),
        approvers=(ApproverSpec("role", role="wfx.director"),
                   ApproverSpec("users", users=("zhang.wei", "li.na"))),
        mode="ratio", ratio=0.6, policy=PolicySpec(no_approver="assign", assign_users=("admin",)),
        reject_to="head")
    assert chain.node("chain_heads") == NodeSpec(
        "chain_heads", "approval", _T("逐级主管", "Heads upward"),
        approvers=(ApproverSpec("heads", levels=2, until_role="wfx.director", tree="admin"),),
        mode="sequential",
        policy=PolicySpec(no_approver="assign", assign_role="wfx.director", timeout_hours=24,
                          timeout_action="approve"))
    assert chain.node("cc_fin") == NodeSpec(
        "cc_fin", "cc", _T("抄送财务", "CC finance"), next="end",
        approvers=(ApproverSpec("user_field", field="requester"),
                   ApproverSpec("unit_field", field="department")))
    assert chain.node("end") == NodeSpec("end", "end", _T("结束", "End"))


def test_the_posting_rules_are_exactly_these(wfx):
    assert wfx.posting("claim_created") == PostingRuleSpec(
        "wfx", "claim_created", _T("创建记账", "Creation posting"), "wfx.claim", "wfx.account",
        lines=(PostingLineSpec("debit", "total_amount", account="6001"),
               PostingLineSpec("credit", "total_amount", account="1405")),
        event="create")
    assert wfx.posting("claim_posting") == PostingRuleSpec(
        "wfx", "claim_posting", _T("报销记账", "Claim posting"), "wfx.claim", "wfx.account",
        lines=(PostingLineSpec("debit", "total_amount", account="1212", unit="department",
                               purpose="charge", memo=_T("应收", "Receivable")),
               PostingLineSpec("credit", "total_amount", account="4001", purpose="charge"),
               PostingLineSpec("debit", "quantity * unit_cost", account_formula="account",
                               each="lines", project="'P1'"),
               PostingLineSpec("credit", "quantity * unit_cost", account="1405", each="lines")),
        event="transition")


def test_document_defaults_and_qualified_references():
    name = {"zh": "甲", "en": "A"}
    built = workflow_from_document("wfx", {
        "code": "w1", "name": name, "entity": "other.thing", "initial": "s1",
        "states": [{"code": "s1", "name": name, "category": "draft"}],
        "transitions": [{"code": "t1", "name": name, "from": ["s1"], "to": "s1",
                         "roles": ["r1", "base.r2"],
                         "effects": [{"posting": "other.rule"}]}],
        "chains": [{"code": "c1", "name": name, "start": "n1", "nodes": [
            {"code": "n1", "kind": "approval", "name": name,
             "approvers": [{"heads": {}}, {"role": "r3"}],
             "policy": {"no_approver": {"role": "base.r4"}}}]}]})
    assert (built.priority, built.condition, built.state_field, built.description) == (
        100, None, None, None)
    assert built.entity == "other.thing"
    assert built.transitions[0].roles == ("wfx.r1", "base.r2")
    assert built.transitions[0].trigger == "manual"
    assert built.transitions[0].effects == (EffectSpec(posting="other.rule"),)
    chain = built.chains[0]
    assert chain.resubmit == "restart"
    node = chain.nodes[0]
    assert node.mode == "sequential"  # a heads source makes the node sequential
    assert node.approvers == (ApproverSpec("heads", levels=None, tree="admin"),
                              ApproverSpec("role", role="wfx.r3"))
    assert node.policy == PolicySpec(no_approver="assign", assign_role="base.r4")
    assert (node.returns, node.add_signers, node.comment_on_reject, node.reject_to) == (
        RETURN_TARGETS, True, False, None)
    rule = posting_from_document("wfx", {
        "code": "p1", "name": name, "entity": "claim", "accounts": "finance.account",
        "lines": [{"side": "debit", "account": "1", "amount": "1"},
                  {"side": "credit", "account": "2", "amount": "1"}]})
    assert (rule.entity, rule.accounts, rule.event) == ("wfx.claim", "finance.account",
                                                        "transition")


def test_the_schemas_enumerate_exactly_the_spec_constants():
    workflow = schema_document("workflow.schema.json")["$defs"]
    assert workflow["state"]["properties"]["category"]["enum"] == list(STATE_CATEGORIES)
    assert workflow["transition"]["properties"]["trigger"]["enum"] == list(TRIGGERS)
    assert workflow["node"]["properties"]["kind"]["enum"] == list(NODE_KINDS)
    assert workflow["node"]["properties"]["mode"]["enum"] == list(APPROVAL_MODES)
    assert workflow["node"]["properties"]["returns"]["items"]["enum"] == list(RETURN_TARGETS)
    assert workflow["chain"]["properties"]["resubmit"]["enum"] == list(RESUBMIT_MODES)
    assert workflow["policy"]["properties"]["on_self"]["enum"] == list(SELF_POLICIES)
    assert workflow["policy"]["properties"]["dedup"]["enum"] == list(DEDUP_POLICIES)
    assert workflow["timeout"]["properties"]["action"]["enum"] == list(TIMEOUT_ACTIONS)
    assert workflow["fieldAccess"]["additionalProperties"]["enum"] == list(STATE_FIELD_ACCESS)
    assert set(workflow["approver"]["properties"]) == set(
        ("users", "role", "initiator_head", "heads", "user_field", "unit_field",
         "initiator_choice", "previous_choice"))
    posting = schema_document("posting.schema.json")
    assert posting["$defs"]["line"]["properties"]["side"]["enum"] == list(POSTING_SIDES)


def test_specs_round_trip_through_json_documents(wfx):
    stored = json.loads(json.dumps({k: dict(v) for k, v in wfx.documents.items()}))
    assert package_from_documents(stored, checksum=wfx.checksum) == wfx


def test_the_store_keeps_workflows_and_posting_rules(db, base, wfx):
    store = MetadataStore()
    with db.begin() as conn:
        for spec in (base["base"], wfx):
            store.record(conn, spec, actor="admin", now=datetime(2026, 11, 25), plan=[])
    with db.connect() as conn:
        installed = {s.code: s for s in store.installed(conn)}
        history = store.history(conn, "wfx")
    assert installed["wfx"] == wfx
    assert installed["wfx"].workflows == wfx.workflows
    assert installed["wfx"].postings == wfx.postings
    added = [(i["kind"], i["code"]) for i in history[0]["diff"]["added"]]
    assert added[-4:] == [("workflow", "claim_approval"), ("workflow", "claim_big"),
                          ("posting", "claim_created"), ("posting", "claim_posting")]


# -- schema --------------------------------------------------------------------

@pytest.mark.parametrize(("changes", "expected"), [
    pytest.param(_edit(WORKFLOW, "    mode: any\n", "    mode: some\n"),
                 [["schema", WORKFLOW, "$.chains[0].nodes[0].mode"]], id="bad-mode"),
    pytest.param(_edit(WORKFLOW, "[{initiator_head: true}]",
                       "[{initiator_head: true, role: director}]"),
                 [["schema", WORKFLOW, "$.chains[0].nodes[0].approvers[0]"]],
                 id="two-approver-sources"),
    pytest.param(_edit(WORKFLOW, "no_approver: refuse", "no_approver: maybe"),
                 [["schema", WORKFLOW, "$.chains[0].nodes[0].policy.no_approver"]],
                 id="bad-no-approver"),
    pytest.param(_edit(WORKFLOW, "    ratio: 0.6\n", "    ratio: 1.5\n"),
                 [["schema", WORKFLOW, "$.chains[0].nodes[3].ratio"]], id="ratio-above-one"),
    pytest.param(_edit(WORKFLOW, "    to: reviewing\n", "    to: reviewing\n    when: now\n"),
                 [["schema", WORKFLOW, "$.transitions[0].when"]], id="unknown-key"),
    pytest.param(_edit(POSTING, 'side: credit, account: "4001"', 'side: both, account: "4001"'),
                 [["schema", POSTING, "$.lines[1].side"]], id="bad-side"),
    pytest.param(_edit(POSTING, 'account: "1212"', "account: 1212"),
                 [["schema", POSTING, "$.lines[0].account"]], id="unquoted-account"),
])
def test_a_document_that_fails_its_schema(tmp_path, base, changes, expected):
    assert _issues(tmp_path, base, changes) == expected


# -- cross-reference checks of workflows ---------------------------------------

_W = WORKFLOW
_N = "$.chains[0].nodes"

WORKFLOW_CASES = [
    ("unknown-entity", _edit(_W, "entity: claim\n", "entity: nothing\n"),
     [["unknown_entity", _W, "$.entity"]]),
    ("undeclared-package", _edit(_W, "entity: claim\n", "entity: other.claim\n"),
     [["undeclared_dependency", _W, "$.entity"]]),
    ("state-field-unknown", _edit(_W, "state_field: status", "state_field: nope"),
     [["unknown_field", _W, "$.state_field"]]),
    ("state-field-not-string", _edit(_W, "state_field: status", "state_field: total_amount"),
     [["invalid_state_field", _W, "$.state_field"]]),
    ("state-field-too-short", _edit(_W, "{code: cancelled,",
                                    "{code: cancelled_by_the_requester_at_once,",
                                    "to: cancelled", "to: cancelled_by_the_requester_at_once"),
     [["invalid_state_field", _W, "$.state_field"]]),
    ("duplicate-state", _edit(_W, "  - {code: cancelled,", "  - {code: draft,"),
     [["duplicate_code", _W, "$.states[4].code"], ["unknown_state", _W, "$.transitions[3].to"]]),
    ("state-fields-unknown", _edit(_W, "lines.quantity: hidden", "lines.qty: hidden, nope: hidden"),
     [["unknown_field", _W, "$.states[1].fields['lines.qty']"],
      ["unknown_field", _W, "$.states[1].fields.nope"]]),
    ("unknown-initial", _edit(_W, "initial: draft", "initial: drafty"),
     [["unknown_state", _W, "$.initial"]]),
    ("unknown-from", _edit(_W, "    from: [draft]\n", "    from: [drafts]\n"),
     [["unknown_state", _W, "$.transitions[0].from[0]"]]),
    ("unknown-to", _edit(_W, "to: cancelled", "to: gone"),
     [["unknown_state", _W, "$.transitions[3].to"]]),
    ("duplicate-transition", _edit(_W, "  - {code: cancel,", "  - {code: submit,"),
     [["duplicate_code", _W, "$.transitions[3].code"]]),
    ("unknown-chain", _edit(_W, "    chain: main\n", "    chain: mian\n"),
     [["unknown_chain", _W, "$.transitions[0].chain"]]),
    ("unknown-role", _edit(_W, "roles: [requester]", "roles: [nobody]"),
     [["unknown_role", _W, "$.transitions[0].roles[0]"]]),
    ("role-of-undeclared-package", _edit(_W, "roles: [requester]", "roles: [hr.clerk]"),
     [["undeclared_dependency", _W, "$.transitions[0].roles[0]"]]),
    ("triggered-with-roles", _edit(_W, "to: rejected,\n     trigger: chain_rejected}",
                                   "to: rejected,\n     trigger: chain_rejected, roles: [director],"
                                   " guard: 'true'}"),
     [["invalid_trigger", _W, "$.transitions[2].guard"],
      ["invalid_trigger", _W, "$.transitions[2].roles"]]),
    ("outcome-from-a-state-without-chain", _edit(_W, "from: [reviewing], to: rejected",
                                                 "from: [reviewing, draft], to: rejected"),
     [["invalid_trigger", _W, "$.transitions[2].from[1]"]]),
    ("missing-outcome", _edit(_W, "  - {code: reject_done, name: {zh: 驳回, en: Rejected}, from:"
                                  " [reviewing], to: rejected,\n     trigger: chain_rejected}\n",
                              ""),
     [["missing_outcome", _W, "$.states[1]"]]),
    ("duplicate-outcome", _edit(_W, "  - {code: cancel,",
                                "  - {code: again, name: {zh: 再, en: Again}, from: [reviewing],"
                                " to: rejected, trigger: chain_rejected}\n  - {code: cancel,"),
     [["duplicate_outcome", _W, "$.transitions[3].trigger"]]),
    ("chain-start-into-a-final-state", _edit(BIG, "to: reviewing, creator: true",
                                             "to: approved, creator: true"),
     [["invalid_transition", BIG, "$.transitions[0].to"],
      ["invalid_trigger", BIG, "$.transitions[1].from[0]"],
      ["invalid_trigger", BIG, "$.transitions[2].from[0]"]]),
    ("two-effect-kinds", _edit(_W, "{posting: claim_posting}",
                               "{posting: claim_posting, notify: [initiator]}"),
     [["invalid_effect", _W, "$.transitions[1].effects[1]"]]),
    ("message-without-notify", _edit(_W, "{posting: claim_posting}",
                                     "{posting: claim_posting, message: {zh: 甲, en: A}}"),
     [["invalid_effect", _W, "$.transitions[1].effects[1].message"]]),
    ("set-computed", _edit(_W, '{approved_on: "TODAY()"}', '{doubled: "1"}'),
     [["invalid_effect", _W, "$.transitions[1].effects[0].set.doubled"]]),
    ("set-state-field", _edit(_W, '{approved_on: "TODAY()"}', "{status: \"'x'\"}"),
     [["invalid_effect", _W, "$.transitions[1].effects[0].set.status"]]),
    ("set-unknown-field", _edit(_W, '{approved_on: "TODAY()"}', '{nope: "1"}'),
     [["unknown_field", _W, "$.transitions[1].effects[0].set.nope"]]),
    ("unknown-posting", _edit(_W, "{posting: claim_posting}", "{posting: claim_postage}"),
     [["unknown_posting", _W, "$.transitions[1].effects[1].posting"]]),
    ("posting-of-the-create-event", _edit(_W, "{posting: claim_posting}",
                                          "{posting: claim_created}"),
     [["unknown_posting", _W, "$.transitions[1].effects[1].posting"]]),
    ("duplicate-priority", _edit(BIG, "initial: draft", "priority: 10\ninitial: draft"),
     [["duplicate_priority", BIG, "$.priority"]]),
    ("default-priority-twice", _edit(_W, "priority: 10\n", ""),
     [["duplicate_priority", BIG, "$.priority"]]),
]


@pytest.mark.parametrize(("changes", "expected"),
                         [pytest.param(c, e, id=i) for i, c, e in WORKFLOW_CASES])
def test_a_bad_workflow_reports_exactly_its_issues(tmp_path, base, changes, expected):
    assert _issues(tmp_path, base, changes) == expected


# -- approval chains -------------------------------------------------------------

CHAIN_CASES = [
    ("duplicate-chain", _edit(BIG, "  - code: main\n    name: {zh: 审批链, en: Chain}\n",
                              "  - {code: main, name: {zh: 甲, en: A}, start: xx,"
                              " nodes: [{code: xx, kind: end, name: {zh: 甲, en: A}}]}\n"
                              "  - code: main\n    name: {zh: 审批链, en: Chain}\n"),
     [["duplicate_code", BIG, "$.chains[1].code"]]),
    ("duplicate-node", _edit(_W, "{code: end, kind: end, name: {zh: 结束, en: End}}",
                             "{code: end, kind: end, name: {zh: 结束, en: End}}\n"
                             "      - {code: end, kind: end, name: {zh: 结束, en: End}}"),
     [["duplicate_code", _W, f"{_N}[7].code"]]),
    ("unknown-start", _edit(_W, "start: head", "start: heed"),
     [["unknown_node", _W, "$.chains[0].start"]]),
    ("unknown-next", _edit(_W, "next: amount", "next: amont"),
     [["unknown_node", _W, f"{_N}[0].next"]]),
    ("unknown-branch-target", _edit(_W, "{next: cc_fin}", "{next: cc_fun}"),
     [["unknown_node", _W, f"{_N}[1].branches[1].next"]]),
    ("unknown-reject-to", _edit(_W, "reject_to: head", "reject_to: hed"),
     [["unknown_node", _W, f"{_N}[3].reject_to"]]),
    ("unreachable-node", _edit(_W, "      - {code: end,",
                               "      - {code: lost, kind: cc, name: {zh: 甲, en: A},"
                               " approvers: [{users: [a1]}], next: end}\n      - {code: end,"),
     [["unreachable_node", _W, f"{_N}[6].code"]]),
    ("cycle", _edit(_W, "approvers: [{user_field: requester}, {unit_field: department}], next: end",
                    "approvers: [{user_field: requester}, {unit_field: department}], next: head"),
     [["chain_cycle", _W, f"{_N}[5].next"], ["unreachable_node", _W, f"{_N}[6].code"]]),
    ("no-default-branch", _edit(_W, "{next: cc_fin}", "{next: cc_fin, condition: 'true'}"),
     [["missing_default", _W, f"{_N}[1].branches"]]),
    ("default-branch-first", _edit(
        _W, '          - {condition: "total_amount > 10000", next: both,'
            ' name: {zh: 大额, en: Large}}\n'
            "          - {next: cc_fin}\n",
        "          - {next: cc_fin}\n"
        '          - {condition: "total_amount > 10000", next: both, name: {zh: 大额, en: Large}}\n'),
     [["missing_default", _W, f"{_N}[1].branches"]]),
    ("approval-without-approvers", _edit(_W, "        approvers: [{initiator_head: true}]\n", ""),
     [["missing_approvers", _W, f"{_N}[0].approvers"]]),
    ("keys-of-another-kind", _edit(_W, "{code: end, kind: end, name: {zh: 结束, en: End}}",
                                   "{code: end, kind: end, name: {zh: 结束, en: End}, next: head,"
                                   " mode: all, approvers: [{users: [a1]}]}"),
     [["invalid_node", _W, f"{_N}[6].approvers"], ["invalid_node", _W, f"{_N}[6].mode"],
      ["invalid_node", _W, f"{_N}[6].next"]]),
    ("dead-end", _edit(_W, "approvers: [{user_field: requester}, {unit_field: department}],"
                           " next: end",
                       "approvers: [{user_field: requester}, {unit_field: department}]"),
     [["dead_end", _W, f"{_N}[5].next"], ["unreachable_node", _W, f"{_N}[6].code"]]),
    ("parallel-without-next", _edit(_W, "branches: [{next: director}, {next: chain_heads}]\n"
                                        "        next: cc_fin\n",
                                    "branches: [{next: director}, {next: chain_heads}]\n"),
     [["invalid_parallel", _W, f"{_N}[2].next"]]),
    ("parallel-with-one-branch", _edit(_W, "branches: [{next: director}, {next: chain_heads}]",
                                       "branches: [{next: director}]"),
     [["invalid_parallel", _W, f"{_N}[2].branches"],
      ["unreachable_node", _W, f"{_N}[4].code"]]),
    ("parallel-branch-with-condition", _edit(_W, "[{next: director}, {next: chain_heads}]",
                                             "[{next: director, condition: 'true'},"
                                             " {next: chain_heads}]"),
     [["invalid_parallel", _W, f"{_N}[2].branches[0].condition"]]),
    ("parallel-branch-reaching-the-end", _edit(_W, "        reject_to: head\n",
                                               "        reject_to: head\n        next: end\n"),
     [["invalid_parallel", _W, f"{_N}[6]"]]),
    ("ratio-without-ratio", _edit(_W, "        ratio: 0.6\n", ""),
     [["invalid_ratio", _W, f"{_N}[3].ratio"]]),
    ("ratio-with-another-mode", _edit(_W, "        mode: ratio\n", "        mode: all\n"),
     [["invalid_ratio", _W, f"{_N}[3].ratio"]]),
    ("heads-not-sequential", _edit(_W, "[{heads: {levels: 2, until_role: director, tree: admin}}]",
                                   "[{heads: {levels: 2, until_role: director, tree: admin}}]\n"
                                   "        mode: all"),
     [["invalid_mode", _W, f"{_N}[4].mode"]]),
    ("user-field-of-another-type", _edit(_W, "{user_field: requester}", "{user_field: department}"),
     [["invalid_approver", _W, f"{_N}[5].approvers[0].user_field"]]),
    ("unit-field-unknown", _edit(_W, "{unit_field: department}", "{unit_field: ward}"),
     [["unknown_field", _W, f"{_N}[5].approvers[1].unit_field"]]),
    ("unknown-approver-role", _edit(_W, "[{role: director}, {users:", "[{role: boss}, {users:"),
     [["unknown_role", _W, f"{_N}[3].approvers[0].role"]]),
    ("unknown-until-role", _edit(_W, "until_role: director", "until_role: boss"),
     [["unknown_role", _W, f"{_N}[4].approvers[0].heads.until_role"]]),
    ("unknown-assigned-role", _edit(_W, "{no_approver: {role: director}",
                                    "{no_approver: {role: boss}"),
     [["unknown_role", _W, f"{_N}[4].policy.no_approver.role"]]),
    ("unknown-tree", _edit(_W, "tree: admin", "tree: nowhere"),
     [["unknown_tree", _W, f"{_N}[4].approvers[0].heads.tree"]]),
    ("reject-to-a-later-node", _edit(_W, "        reject_to: null\n",
                                     "        reject_to: director\n"),
     [["invalid_reject_to", _W, f"{_N}[0].reject_to"]]),
    ("reject-to-itself", _edit(_W, "        reject_to: head\n", "        reject_to: director\n"),
     [["invalid_reject_to", _W, f"{_N}[3].reject_to"]]),
    ("reject-to-a-condition", _edit(_W, "        reject_to: head\n", "        reject_to: amount\n"),
     [["invalid_reject_to", _W, f"{_N}[3].reject_to"]]),
    ("node-fields-unknown", _edit(_W, "fields: {reason: editable}", "fields: {reasons: editable}"),
     [["unknown_field", _W, f"{_N}[0].fields.reasons"]]),
]


@pytest.mark.parametrize(("changes", "expected"),
                         [pytest.param(c, e, id=i) for i, c, e in CHAIN_CASES])
def test_a_bad_chain_reports_exactly_its_issues(tmp_path, base, changes, expected):
    assert _issues(tmp_path, base, changes) == expected


def test_a_heads_source_needs_a_declared_tree_even_by_default(tmp_path, base):
    changes = {**_edit(_W, "{heads: {levels: 2, until_role: director, tree: admin}}",
                       "{heads: {levels: 2}}"),
               **_edit("package.yaml", 'requires:\n  base: ">=1.1,<2"\n', "")}
    assert _issues(tmp_path, {}, changes) == [
        ["unknown_tree", _W, f"{_N}[4].approvers[0].heads"]]


# -- posting rules ---------------------------------------------------------------

_P = POSTING

POSTING_CASES = [
    ("unknown-entity", _edit(_P, "entity: claim", "entity: claims"),
     [["unknown_entity", _P, "$.entity"]]),
    ("unknown-accounts", _edit(_P, "accounts: account", "accounts: acount"),
     [["unknown_dictionary", _P, "$.accounts"]]),
    ("accounts-of-an-undeclared-package", _edit(_P, "accounts: account",
                                                "accounts: finance.account"),
     [["undeclared_dependency", _P, "$.accounts"]]),
    ("unknown-account", _edit(_P, 'account: "4001"', 'account: "9999"'),
     [["unknown_account", _P, "$.lines[1].account"]]),
    ("inactive-account", _edit("dictionaries/account.yaml", "en: Medical income}}",
                               "en: Medical income}, active: false}"),
     [["unknown_account", _P, "$.lines[1].account"]]),
    ("unknown-child", _edit(_P, "{each: lines, side: credit", "{each: rows, side: credit"),
     [["unknown_child", _P, "$.lines[3].each"]]),
    ("account-and-formula", _edit(_P, 'account: "1405", amount: "quantity',
                                  'account: "1405", account_formula: "account", amount: "quantity'),
     [["invalid_posting_line", _P, "$.lines[3]"]]),
    ("neither-account-nor-formula", _edit(_P, 'side: credit, account: "1405", ', "side: credit, "),
     [["invalid_posting_line", _P, "$.lines[3]"]]),
    ("no-credit-line", _edit(_P, "side: credit", "side: debit", count=2),
     [["missing_side", _P, "$.lines"]]),
]


@pytest.mark.parametrize(("changes", "expected"),
                         [pytest.param(c, e, id=i) for i, c, e in POSTING_CASES])
def test_a_bad_posting_rule_reports_exactly_its_issues(tmp_path, base, changes, expected):
    assert _issues(tmp_path, base, changes) == expected


def test_a_workflow_of_another_packages_entity_and_its_posting_rule(tmp_path, base, wfx):
    """A package may run a workflow and a posting rule on a required package's entity."""
    changes = {
        "package.yaml": "code: wfy\nversion: 1.0.0\nname: {zh: 乙, en: B}\n"
                        "requires:\n  base: \">=1.1,<2\"\n  wfx: \">=1.0,<2\"\n",
        WORKFLOW: FILES[WORKFLOW].replace("entity: claim", "entity: wfx.claim")
        .replace("roles: [requester]", "roles: [wfx.requester]")
        .replace("{role: director}", "{role: wfx.director}")
        .replace("until_role: director", "until_role: wfx.director")
        .replace("priority: 10", "priority: 20"),
        BIG: None, CREATED: None, "entities/claim.yaml": None, "roles/requester.yaml": None,
        "roles/director.yaml": None, "dictionaries/account.yaml": None,
        POSTING: FILES[POSTING].replace("entity: claim", "entity: wfx.claim")
        .replace("accounts: account", "accounts: wfx.account"),
    }
    folder = tmp_path / "other"
    folder.mkdir()
    root = write_package(folder, changes)
    [spec] = load_packages([root], installed={**base, "wfx": wfx}, checks=FORMULA_CHECKS)
    assert spec.workflow("claim_approval").entity == "wfx.claim"
    assert spec.workflow("claim_approval").transition("approve_done").effects[1].posting == \
        "wfy.claim_posting"
    assert spec.posting("claim_posting").accounts == "wfx.account"


def test_nested_parallel_branches_may_end_anywhere_inside(tmp_path, base):
    nested = FILES[BIG].replace(
        "approvers: [{initiator_choice: true}], mode: all, next: second}",
        "approvers: [{initiator_choice: true}], mode: all, next: outer}\n"
        "      - {code: outer, kind: parallel, name: {zh: 外, en: Outer},"
        " branches: [{next: inner}, {next: b1}], next: second}\n"
        "      - {code: inner, kind: parallel, name: {zh: 内, en: Inner},"
        " branches: [{next: a1}, {next: a2}], next: a3}\n"
        "      - {code: a1, kind: approval, name: {zh: 甲, en: A1}, approvers: [{users: [u1]}]}\n"
        "      - {code: a2, kind: cc, name: {zh: 乙, en: A2}, approvers: [{users: [u2]}]}\n"
        "      - {code: a3, kind: approval, name: {zh: 丙, en: A3}, approvers: [{users: [u3]}]}\n"
        "      - {code: b1, kind: approval, name: {zh: 丁, en: B1}, approvers: [{users: [u4]}]}")
    [spec] = load_packages([write_package(tmp_path, {BIG: nested})], installed=base,
                           checks=FORMULA_CHECKS)
    chain = spec.workflow("claim_big").chain("main")
    assert [n.code for n in chain.nodes] == [
        "pick", "outer", "inner", "a1", "a2", "a3", "b1", "second", "end"]
    assert chain.node("inner").next == "a3" and chain.node("a3").next is None


def test_an_upgrade_that_drops_a_posting_rule_an_installed_workflow_runs_is_refused(
        tmp_path, base, wfx):
    other = {
        "package.yaml": "code: wfy\nversion: 1.0.0\nname: {zh: 乙, en: B}\n"
                        "requires:\n  wfx: \">=1.0,<2\"\n",
        "workflows/follow.yaml": FILES[BIG].replace("code: claim_big", "code: follow")
        .replace("entity: claim", "entity: wfx.claim")
        .replace("initial: draft", "priority: 5\ninitial: draft")
        .replace("trigger: chain_approved}", "trigger: chain_approved,\n"
                 "     effects: [{posting: wfx.claim_posting}]}"),
    }
    root = tmp_path / "wfy"
    for name, text in other.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(text, encoding="utf-8")
    [wfy] = load_packages([root], installed={**base, "wfx": wfx}, checks=FORMULA_CHECKS)
    assert wfy.workflow("follow").transition("done").effects == (
        EffectSpec(posting="wfx.claim_posting"),)
    upgrade = tmp_path / "upgrade"
    upgrade.mkdir()
    changes = {**_edit("package.yaml", "version: 1.0.0", "version: 1.0.1"),
               **_edit(WORKFLOW, "      - {posting: claim_posting}\n", ""), POSTING: None}
    issues = codes_of([write_package(upgrade, changes)], {**base, "wfx": wfx, "wfy": wfy})
    assert issues == [["unknown_posting", "package.yaml", "$"]]
