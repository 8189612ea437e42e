"""A small package with workflows and posting rules (package ``wfx``), written
into a temporary folder by the workflow tests; each test may replace or
drop files to make a broken variant."""

from __future__ import annotations

from pathlib import Path
from typing import Mapping

__all__ = ["FILES", "WORKFLOW", "POSTING", "write_package"]

WORKFLOW = "workflows/claim_approval.yaml"
POSTING = "posting/claim_posting.yaml"

FILES: Mapping[str, str] = {
    "package.yaml": """\
code: wfx
version: 1.0.0
name: {zh: 审批测试, en: Approval tests}
requires:
  base: ">=1.1,<2"
""",
    "dictionaries/account.yaml": """\
code: account
name: {zh: 会计科目, en: Accounts}
items:
  - {code: "1212", name: {zh: 应收账款, en: Receivables}}
  - {code: "1405", name: {zh: 库存商品, en: Stock}}
  - {code: "4001", name: {zh: 医疗收入, en: Medical income}}
  - {code: "6001", name: {zh: 耗材成本, en: Supplies cost}}
""",
    "entities/claim.yaml": """\
code: claim
name: {zh: 报销单, en: Claim}
org_dimension: department
fields:
  - {code: number, type: string, length: 32, name: {zh: 单号, en: Number}}
  - {code: status, type: string, length: 32, name: {zh: 状态, en: Status}}
  - {code: department, type: org_unit, name: {zh: 科室, en: Department}}
  - {code: requester, type: user, name: {zh: 申请人, en: Requester}}
  - {code: total_amount, type: money, name: {zh: 金额, en: Amount}}
  - {code: approved_on, type: date, name: {zh: 批准日期, en: Approved on}}
  - {code: reason, type: text, name: {zh: 事由, en: Reason}}
  - {code: doubled, type: computed, result: money, formula: total_amount * 2,
     name: {zh: 双倍, en: Doubled}}
children:
  - code: lines
    name: {zh: 明细, en: Lines}
    fields:
      - {code: quantity, type: decimal, precision: 12, scale: 2, name: {zh: 数量, en: Quantity}}
      - {code: unit_cost, type: money, name: {zh: 单价, en: Unit cost}}
      - {code: account, type: string, length: 16, name: {zh: 科目, en: Account}}
""",
    "roles/requester.yaml": """\
code: requester
name: {zh: 申请人, en: Requester}
grants:
  - {entity: claim, actions: [read, create, update, submit]}
""",
    "roles/director.yaml": """\
code: director
name: {zh: 院长, en: Director}
grants:
  - {entity: claim, actions: [read, approve]}
""",
    WORKFLOW: """\
code: claim_approval
entity: claim
name: {zh: 报销审批, en: Claim approval}
priority: 10
condition: "total_amount <= 50000"
state_field: status
initial: draft
states:
  - {code: draft, name: {zh: 草稿, en: Draft}, category: draft}
  - {code: reviewing, name: {zh: 审批中, en: Reviewing}, category: in_progress,
     fields: {"*": read_only, reason: editable, lines.quantity: hidden}}
  - {code: approved, name: {zh: 已批准, en: Approved}, category: approved}
  - {code: rejected, name: {zh: 已驳回, en: Rejected}, category: rejected}
  - {code: cancelled, name: {zh: 已取消, en: Cancelled}, category: cancelled}
transitions:
  - code: submit
    name: {zh: 提交, en: Submit}
    from: [draft]
    to: reviewing
    creator: true
    roles: [requester]
    guard: "total_amount > 0"
    guard_message: {zh: 金额必须大于零, en: The amount must be positive}
    chain: main
  - code: approve_done
    name: {zh: 审批通过, en: Approved}
    from: [reviewing]
    to: approved
    trigger: chain_approved
    effects:
      - {set: {approved_on: "TODAY()"}}
      - {posting: claim_posting}
      - {notify: [initiator], message: {zh: 已批准, en: Approved}}
  - {code: reject_done, name: {zh: 驳回, en: Rejected}, from: [reviewing], to: rejected,
     trigger: chain_rejected}
  - {code: cancel, name: {zh: 取消, en: Cancel}, from: [draft, reviewing], to: cancelled,
     creator: true, roles: [platform.admin], comment_required: true}
chains:
  - code: main
    name: {zh: 主审批链, en: Main chain}
    start: head
    resubmit: returning_node
    nodes:
      - code: head
        kind: approval
        name: {zh: 科室主任审批, en: Head of department}
        approvers: [{initiator_head: true}]
        mode: any
        policy: {no_approver: refuse, on_self: auto_approve, dedup: consecutive,
                 timeout: {hours: 48, action: remind}}
        fields: {reason: editable}
        reject_to: null
        returns: [initiator, previous]
        comment_on_reject: true
        add_signers: false
        next: amount
      - code: amount
        kind: condition
        name: {zh: 金额判断, en: Amount}
        branches:
          - {condition: "total_amount > 10000", next: both, name: {zh: 大额, en: Large}}
          - {next: cc_fin}
      - code: both
        kind: parallel
        name: {zh: 会审, en: Joint review}
        branches: [{next: director}, {next: chain_heads}]
        next: cc_fin
      - code: director
        kind: approval
        name: {zh: 院长, en: Director}
        approvers: [{role: director}, {users: [zhang.wei, li.na]}]
        mode: ratio
        ratio: 0.6
        policy: {no_approver: {users: [admin]}}
        reject_to: head
      - code: chain_heads
        kind: approval
        name: {zh: 逐级主管, en: Heads upward}
        approvers: [{heads: {levels: 2, until_role: director, tree: admin}}]
        policy: {no_approver: {role: director}, timeout: {hours: 24, action: approve}}
      - {code: cc_fin, kind: cc, name: {zh: 抄送财务, en: CC finance},
         approvers: [{user_field: requester}, {unit_field: department}], next: end}
      - {code: end, kind: end, name: {zh: 结束, en: End}}
""",
    "workflows/claim_big.yaml": """\
code: claim_big
entity: claim
name: {zh: 大额报销, en: Large claim}
initial: draft
states:
  - {code: draft, name: {zh: 草稿, en: Draft}, category: draft}
  - {code: reviewing, name: {zh: 审批中, en: Reviewing}, category: in_progress}
  - {code: approved, name: {zh: 已批准, en: Approved}, category: approved}
  - {code: rejected, name: {zh: 已驳回, en: Rejected}, category: rejected}
transitions:
  - {code: submit, name: {zh: 提交, en: Submit}, from: [draft], to: reviewing, creator: true,
     chain: main}
  - {code: done, name: {zh: 通过, en: Done}, from: [reviewing], to: approved,
     trigger: chain_approved}
  - {code: refused, name: {zh: 驳回, en: Refused}, from: [reviewing], to: rejected,
     trigger: chain_rejected}
chains:
  - code: main
    name: {zh: 审批链, en: Chain}
    start: pick
    nodes:
      - {code: pick, kind: approval, name: {zh: 自选, en: Chosen},
         approvers: [{initiator_choice: true}], mode: all, next: second}
      - {code: second, kind: approval, name: {zh: 上一步指定, en: Previous choice},
         approvers: [{previous_choice: true}], mode: sequential, next: end}
      - {code: end, kind: end, name: {zh: 结束, en: End}}
""",
    POSTING: """\
code: claim_posting
entity: claim
name: {zh: 报销记账, en: Claim posting}
accounts: account
lines:
  - {purpose: charge, side: debit, account: "1212", amount: "total_amount", unit: "department",
     memo: {zh: 应收, en: Receivable}}
  - {purpose: charge, side: credit, account: "4001", amount: "total_amount"}
  - {each: lines, side: debit, account_formula: "account", amount: "quantity * unit_cost",
     project: "'P1'"}
  - {each: lines, side: credit, account: "1405", amount: "quantity * unit_cost"}
""",
    "posting/claim_created.yaml": """\
code: claim_created
entity: claim
name: {zh: 创建记账, en: Creation posting}
event: create
accounts: account
lines:
  - {side: debit, account: "6001", amount: "total_amount"}
  - {side: credit, account: "1405", amount: "total_amount"}
""",
}


def write_package(root: Path, changes: Mapping[str, str | None] | None = None) -> Path:
    """Write the package (with ``changes``: file → text, or None to drop it)
    into ``root / "wfx"`` and return that folder."""
    folder = root / "wfx"
    for name, text in {**FILES, **(changes or {})}.items():
        if text is None:
            continue
        target = folder / name
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text, encoding="utf-8")
    return folder
