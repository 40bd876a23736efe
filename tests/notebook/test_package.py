"""``workbench.notebook`` is a package of one module per concept; what users import stays the same."""

from __future__ import annotations

import importlib

import workbench
import workbench.notebook as wb

PUBLIC = ["Cloud", "Image", "ImageTable", "Operation", "OperationFailed", "Request", "RequestView",
          "UnsupportedAction", "Workbench", "WorkbenchWarning", "demo", "open"]


def test_the_public_names_are_those_of_the_single_module_it_was() -> None:
    assert sorted(wb.__all__) == sorted(PUBLIC)
    namespace: dict[str, object] = {}
    exec("from workbench.notebook import *", namespace)  # noqa: S102 - what a notebook cell may do
    assert sorted(k for k in namespace if k != "__builtins__") == sorted(PUBLIC)


def test_each_public_name_is_defined_in_a_submodule_and_reexported_as_is() -> None:
    for name in PUBLIC:
        value = getattr(wb, name)
        module = importlib.import_module(value.__module__)
        assert module.__name__.startswith("workbench.notebook."), (name, module.__name__)
        assert getattr(module, name) is value


def test_the_top_level_shortcuts_are_the_notebook_api() -> None:
    assert (workbench.demo, workbench.open, workbench.Workbench) == (wb.demo, wb.open, wb.Workbench)
