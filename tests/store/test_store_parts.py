"""Each part of the store declares what it uses: a part (a class of ``selftaught.store``)
reads only ``self.`` members that it or a class it inherits defines or annotates, so
reading a part and what it inherits tells all it depends on (``store/base.py``)."""

from __future__ import annotations

import ast
import importlib
import inspect
import pkgutil
import textwrap

import selftaught.store
from selftaught.store.base import StoreBase


def _parts() -> list[type]:
    found = []
    for info in pkgutil.iter_modules(selftaught.store.__path__):
        module = importlib.import_module(f"selftaught.store.{info.name}")
        found += [c for c in vars(module).values()
                  if isinstance(c, type) and issubclass(c, StoreBase) and c.__module__ == module.__name__]  # fmt: skip
    return found


def _self_members(cls: type) -> set[str]:
    tree = ast.parse(textwrap.dedent(inspect.getsource(cls)))
    return {
        node.attr for node in ast.walk(tree)
        if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and node.value.id == "self"
    }  # fmt: skip


def _declared(cls: type, name: str) -> bool:
    return any(name in vars(k) or name in vars(k).get("__annotations__", {}) for k in cls.__mro__)


def test_every_part_is_found():
    names = {c.__name__ for c in _parts()}
    assert {"StoreBase", "Store", "RunStoreMixin", "HistoryMixin", "CaiStoreMixin", "PrmStoreMixin",
            "SearchStoreMixin", "RejudgeStoreMixin", "LeaseStoreMixin", "SupersedeMixin"} <= names  # fmt: skip


def test_no_part_uses_a_member_it_does_not_inherit():
    undeclared = {
        f"{cls.__module__}.{cls.__name__}.{name}"
        for cls in _parts() for name in _self_members(cls) if not _declared(cls, name)
    }  # fmt: skip
    assert undeclared == set()
