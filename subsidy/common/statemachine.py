"""One shape for every state machine of the platform (docs/architecture.md "State machines").

A machine is a table of rules. A rule names one action and says:
- `sources`: the states it leaves; `target`: the state it reaches (several: the actor picks one;
  None: the state stays, e.g. 督办 of a case, which leaves a step on the timeline all the same);
- who may take it: `perm` (a permission of `subsidy.accounts.permissions`) and, where the tier
  matters, `tier`; `farmer` for an action of the farmers' mobile pages; `internal` for one that
  another area or a job takes and no page or API may (a payment's bank result, an SMS's claim);
- `guards` and `effects`: what the area's own code checks and does around the change, run by
  that code (the engine only keeps them beside the row, so that the table reads whole);
- `extra`: what one table needs beside (a case's timeline event, a filing's snapshot stage).

Every change of a state goes through the machine: one object by `claim` (a conditional UPDATE
on its key, the state the caller saw and, where the table has one, its version: of two people
acting at once exactly one changes a row, the other is told to reload), many at once by
`update` (an UPDATE whose WHERE holds the states the action leaves, so a set-based change or two
callbacks racing change only rows the table allows). Both carry the execution option
`state_machine`, and `guard()` (installed by the test suite) refuses any UPDATE of a state
column that does not: a state changed anywhere else fails the suite.

What is derived from the tables rather than restated: who acts in which state (a reviewer's
queue, the notes a tier may write), the buttons a page shows, the sources of a bulk change.
"""
from __future__ import annotations

import enum
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa

from subsidy.errors import InvalidTransition, PermissionDenied, StaleVersion

OPTION = "state_machine"


@dataclass(frozen=True)
class Rule:
    action: enum.Enum
    sources: tuple[enum.Enum, ...]
    target: enum.Enum | tuple[enum.Enum, ...] | None
    perm: Any = None                 # a Perm; None with neither farmer nor internal: anyone in scope
    tier: Any = None                 # a Level the actor's region must be at
    farmer: bool = False
    internal: bool = False
    guards: tuple[Callable, ...] = ()
    effects: tuple[Callable, ...] = ()
    extra: Mapping[str, Any] = field(default_factory=dict)

    @property
    def targets(self) -> tuple[enum.Enum, ...]:
        if self.target is None:
            return ()
        return self.target if isinstance(self.target, tuple) else (self.target,)

    def target_from(self, source: enum.Enum, chosen: enum.Enum | None = None) -> enum.Enum:
        """The state this rule reaches from `source` (`chosen` among several targets)."""
        if self.target is None:
            return source
        if chosen is not None:
            if chosen not in self.targets:
                raise ValueError(f"{chosen} is not a target of {self.action}")
            return chosen
        if len(self.targets) != 1:
            raise ValueError(f"{self.action} has several targets: the actor chooses")
        return self.targets[0]


class Machine:
    """The rules of one table (see the module docstring). `state` is the model's state column,
    `key` its primary key, `version` its version column if it has one; `noun` names an object
    in refusals (备案, 诉求 …)."""

    registry: dict[str, Machine] = {}

    def __init__(self, name: str, *, state, rules: Iterable[Rule], key=None, version=None, noun: str = "记录"):
        self.name = name
        self.state = _column(state)
        self.table = self.state.table
        self.key = _column(key) if key is not None else self.table.primary_key.columns.values()[0]
        self.version = _column(version) if version is not None else None
        self.noun = noun
        self.rules = list(rules)
        self.by_source: dict[tuple[enum.Enum, enum.Enum], Rule] = {}
        for rule in self.rules:
            for source in rule.sources:
                if (source, rule.action) in self.by_source:
                    raise ValueError(f"{name}: two rules for {source} and {rule.action}")
                self.by_source[(source, rule.action)] = rule
        Machine.registry[name] = self

    # --- reading the table -------------------------------------------------------------------

    def rule(self, state, action) -> Rule | None:
        return self.by_source.get((state, action))

    def allows(self, state, action) -> bool:
        return (state, action) in self.by_source

    def rules_for(self, action) -> list[Rule]:
        return [r for r in self.rules if r.action == action]

    def sources(self, action) -> tuple:
        return tuple(s for r in self.rules_for(action) for s in r.sources)

    def may(self, actor, rule: Rule) -> bool:
        """Whether `actor` (a staff user) may take `rule` at all, region aside."""
        from subsidy.accounts.permissions import can

        if rule.internal or rule.farmer or actor is None or not getattr(actor, "is_authenticated", False):
            return False
        if rule.perm is not None and not can(actor, rule.perm):
            return False
        return rule.tier is None or actor.tier == rule.tier

    def actions_for(self, actor, state) -> list[Rule]:
        """The rules `actor` may attempt from `state` (a page's buttons; guards still decide)."""
        return [r for (s, _a), r in self.by_source.items() if s == state and self.may(actor, r)]

    def states_acting(self, actor, actions: Iterable | None = None) -> set:
        """The states in which `actor` has something to do (optionally: one of `actions`): what
        waits for a reviewer's tier, when notes may be written, which cases may be escalated."""
        wanted = set(actions) if actions is not None else None
        return {s for (s, a), r in self.by_source.items()
                if (wanted is None or a in wanted) and self.may(actor, r)}

    # --- refusals ----------------------------------------------------------------------------

    def refusal(self, state, action) -> InvalidTransition:
        return InvalidTransition(f"{self.noun}当前为“{_label(state)}”，不能{_label(action)}",
                                 fields={"state": state.value})

    def check(self, state, action, *, internal: bool = False) -> Rule:
        """The rule for (state, action), or the refusal naming the state (409). A rule only
        another area may take is refused to a page or the API as if there were none."""
        rule = self.rule(state, action)
        if rule is None or (rule.internal and not internal):
            raise self.refusal(state, action)
        return rule

    def authorize(self, actor, rule: Rule, who: str | None = None) -> None:
        """403 unless `actor` may take `rule`, saying what is missing: the permission (`who`
        names those who hold it) or the tier."""
        from subsidy.accounts.permissions import can

        if rule.internal or rule.farmer or actor is None or (rule.perm is not None and not can(actor, rule.perm)):
            raise PermissionDenied(f"“{_label(rule.action)}”须由{who}操作" if who else "您的角色无权进行此操作")
        if rule.tier is not None and actor.tier != rule.tier:
            raise PermissionDenied(f"“{_label(rule.action)}”须在{_label(rule.tier)}级操作")

    # --- changing state ----------------------------------------------------------------------

    def _options(self, action) -> dict:
        return {OPTION: f"{self.name}:{getattr(action, 'value', action)}"}

    def claim(self, key, rule: Rule, *, source, target=None, version=None, values: Mapping | None = None,
              stale: str = "刚刚已被他人处理，请刷新页面后重试") -> None:
        """Move one object from `source` (the state the caller saw) along `rule`, setting
        `values` in the same UPDATE; StaleVersion if another change came first."""
        target = rule.target_from(source, target)
        changes = dict(values or {})
        changes[self.state.key] = target
        where = [self.key == key, self.state == source]
        if self.version is not None:
            changes[self.version.key] = self.version + 1
            if version is not None:
                where.append(self.version == version)
        from subsidy.extensions import db

        stmt = (sa.update(self.table).where(*where).values(**changes)
                .execution_options(synchronize_session=False, **self._options(rule.action)))
        if db.session.execute(stmt).rowcount != 1:
            raise StaleVersion(f"{self.noun}{stale}")

    def update(self, action, *where, target=None, sources_checked: bool = False, **values) -> sa.Update:
        """`UPDATE … SET <state> = <target>, **values WHERE <a state the action leaves> AND
        *where`, for the caller to execute (set-based, or as an executemany with bind values).
        One target per statement: an action with several rules (a different target per
        source) is updated rule by rule (`rules_for`). `sources_checked`: `where` already
        restricts the states (a claim's `id IN (SELECT … WHERE <state allowed> …)`)."""
        rules = self.rules_for(action)
        if target is None:
            targets = {t for r in rules for t in r.targets}
            if len(targets) != 1:
                raise ValueError(f"{self.name}: {action} reaches {targets}: give the target")
            target = targets.pop()
        if self.state.key in values:
            raise ValueError("the transition table sets the state, not the caller")
        condition = () if sources_checked else (self.from_allowed(action),)
        changes = {self.state.key: target, **values}
        if self.version is not None and self.version.key not in changes:
            changes[self.version.key] = self.version + 1
        return (sa.update(self.table).where(*condition, *where).values(**changes)
                .execution_options(**self._options(action)))

    def from_allowed(self, action, column=None):
        """SQL: the row is in a state `action` may leave. One equality per state (no expanding
        IN), so a statement using it also runs as an executemany."""
        column = self.state if column is None else column
        return sa.or_(*(column == s for s in self.sources(action)))

    # --- the guard ---------------------------------------------------------------------------

    @classmethod
    def guard(cls, engine) -> None:
        """Refuse, on `engine`, every UPDATE of a machine's state column not built here."""
        if not sa.event.contains(engine, "before_cursor_execute", _check_statement):
            sa.event.listen(engine, "before_cursor_execute", _check_statement)

    @classmethod
    def guarded(cls, engine) -> bool:
        return sa.event.contains(engine, "before_cursor_execute", _check_statement)

    @classmethod
    def unguard(cls, engine) -> None:
        if sa.event.contains(engine, "before_cursor_execute", _check_statement):
            sa.event.remove(engine, "before_cursor_execute", _check_statement)


def _column(attribute):
    """The table column behind an ORM attribute (Filing.state) or a column (M.c.status)."""
    return attribute.property.columns[0] if hasattr(attribute, "property") else attribute


def _label(member) -> str:
    return str(getattr(member, "label", getattr(member, "value", member)))


class Bypass(AssertionError):
    """An UPDATE changed a state column without going through its machine."""


_UPDATE = re.compile(r'^\s*UPDATE\s+"?(\w+)"?\s+SET\s+(.*?)(\sWHERE\s|\sRETURNING\s|$)', re.IGNORECASE | re.DOTALL)


def sets_state(sql: str) -> str | None:
    """The machine whose state column `sql` assigns, if any."""
    match = _UPDATE.match(sql)
    if not match:
        return None
    for machine in Machine.registry.values():
        if machine.table.name == match.group(1).lower() and re.search(
                rf'(^|[\s,])"?{machine.state.key}"?\s*=', match.group(2), re.IGNORECASE):
            return machine.name
    return None


def _check_statement(conn, cursor, statement, parameters, context, executemany):
    name = sets_state(statement)
    if name and not str((context.execution_options or {}).get(OPTION, "")).startswith(f"{name}:"):
        raise Bypass(f"{name}: state changed outside its state machine: {statement[:200]}")
