"""docs/tables.md, written from the code: every state machine's table and the role → permission
table. `flask docs tables` writes it; tests/test_docs.py fails when the file and the code differ,
so the document a newcomer reads is the table the code runs."""
from __future__ import annotations

import importlib
import pkgutil

HEADER = """# Tables (generated)

Written by `flask docs tables` from `subsidy.common.statemachine.Machine.registry` and
`subsidy.accounts.permissions.ROLE_PERMS`; `tests/test_docs.py` fails when this file and the code
differ. Do not edit by hand: change the table in the code and run the command. How to read a
state table: docs/architecture.md "State machines"."""


def load_machines() -> dict:
    """Import every module of the package so that every machine has registered itself."""
    import subsidy
    from subsidy.common.statemachine import Machine

    for info in pkgutil.walk_packages(subsidy.__path__, "subsidy."):
        if not info.name.endswith((".cli", ".api", ".views", ".staff_views")):
            importlib.import_module(info.name)
    return dict(sorted(Machine.registry.items()))


def _value(member) -> str:
    return f"`{member.value}` {member.source}" if hasattr(member, "source") else f"`{member.value}`"


def _who(rule) -> str:
    from subsidy.accounts.permissions import holders

    if rule.internal:
        return "internal (another area or a job)"
    if rule.farmer:
        return "the farmer (mobile pages)"
    if rule.perm is None:
        who = "any staff user in scope"
    else:
        who = f"`{rule.perm.value}` (" + ", ".join(r.source for r in holders(rule.perm)) + ")"
    return who + (f", at the {rule.tier.value} tier" if rule.tier is not None else "")


def _names(functions) -> str:
    return ", ".join(f"`{getattr(f, '__name__', f)}`" for f in functions)


def machine_table(machine) -> str:
    lines = [f"## {machine.name}", "",
             f"State column `{machine.table.name}.{machine.state.key}`"
             + (f", version `{machine.version.key}`" if machine.version is not None else "") + ".", "",
             "| from | action | to | who | guards | effects | extra |",
             "| --- | --- | --- | --- | --- | --- | --- |"]
    for rule in machine.rules:
        to = " or ".join(_value(t) for t in rule.targets) if rule.targets else "(unchanged)"
        extra = ", ".join(f"{k}" for k in sorted(rule.extra))
        lines.append(f"| {'<br>'.join(_value(s) for s in rule.sources)} | {_value(rule.action)} | {to} "
                     f"| {_who(rule)} | {_names(rule.guards)} | {_names(rule.effects)} | {extra} |")
    return "\n".join(lines)


def permission_table() -> str:
    from subsidy.accounts.permissions import ROLE_PERMS, Perm

    roles = list(ROLE_PERMS)
    lines = ["## Roles and permissions", "",
             "| permission | " + " | ".join(r.source for r in roles) + " |",
             "| --- |" + " --- |" * len(roles)]
    for perm in Perm:
        lines.append(f"| `{perm.value}` | " + " | ".join("✓" if perm in ROLE_PERMS[r] else "" for r in roles) + " |")
    return "\n".join(lines)


def render() -> str:
    parts = [HEADER, permission_table()]
    parts += [machine_table(m) for m in load_machines().values()]
    return "\n\n".join(parts) + "\n"
