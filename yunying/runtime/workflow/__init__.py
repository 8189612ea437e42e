"""The workflow and approval engine (runtime layer): state machines from
workflow specs, approval chains, approver resolution, delegation, field
permissions per state and node, the inbox and the timeout tick."""
