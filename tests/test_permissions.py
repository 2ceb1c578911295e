"""Every public service function declares its permission (subsidy.accounts.permissions): the
test walks every service module of `subsidy/` and fails on a function of an `actor` that neither
`requires` a permission nor says, with `exempt`, why it checks otherwise. Remove a decorator
from any service function and this fails."""
from __future__ import annotations

import importlib
import inspect
import pkgutil

import pytest

import subsidy
from subsidy.accounts.models import Role
from subsidy.accounts.permissions import ROLE_PERMS, Perm, can, requires
from subsidy.errors import PermissionDenied

# Edge and plumbing modules: they call services, they are not services.
NOT_SERVICES = {"views", "api", "forms", "models", "cli", "staff_views"}
# Modules whose functions of an actor decide jurisdiction or permission themselves: the
# machinery the declarations are made of.
MACHINERY = {"subsidy.accounts.permissions", "subsidy.regions.scope", "subsidy.common.statemachine",
             "subsidy.common.templating", "subsidy.common.access"}


def service_modules():
    for info in pkgutil.walk_packages(subsidy.__path__, "subsidy."):
        leaf = info.name.rsplit(".", 1)[-1]
        if leaf in NOT_SERVICES or info.name in MACHINERY or info.ispkg:
            continue
        yield importlib.import_module(info.name)


def functions_of_an_actor():
    for module in service_modules():
        for name, fn in inspect.getmembers(module, inspect.isfunction):
            if fn.__module__ != module.__name__ or name.startswith("_"):
                continue
            params = list(inspect.signature(fn).parameters)
            if params and params[0] == "actor":
                yield f"{module.__name__}.{name}", fn


def test_every_service_function_declares_its_permission():
    found = dict(functions_of_an_actor())
    assert len(found) > 100  # the walk really reaches the services
    undeclared = sorted(name for name, fn in found.items() if not hasattr(fn, "permission"))
    assert undeclared == [], "declare @requires(Perm.…) or @exempt(\"why\") on:\n" + "\n".join(undeclared)
    vague = sorted(name for name, fn in found.items() if fn.permission is None and len(getattr(fn, "exempt", "")) < 15)
    assert vague == [], "say why the function is exempt: " + ", ".join(vague)


def test_the_table_is_the_only_source_of_permissions():
    """Every permission is held by some role, and every role is in the table."""
    assert set(ROLE_PERMS) == set(Role)
    held = set().union(*ROLE_PERMS.values())
    assert held == set(Perm), set(Perm) - held


def test_a_declared_permission_is_checked_before_the_function_runs():
    ran = []

    @requires(Perm.manage_users)
    def create_something(actor, name):
        ran.append(name)

    class Clerk:
        role, is_authenticated = Role.village_clerk, True

    class Admin:
        role, is_authenticated = Role.county_admin, True

    with pytest.raises(PermissionDenied):
        create_something(Clerk(), "x")
    create_something(actor=Admin(), name="y")
    assert ran == ["y"] and can(Admin(), Perm.manage_users) and create_something.permission is Perm.manage_users
