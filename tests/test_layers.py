"""The package's layers: each module imports only from its own layer or those below it, so a
library never depends on the stages, the plots or the tools that use it (README, "Layout")."""
from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "analysis"

LAYERS = (
    {"analysis", "analysis.core", "analysis.topology", "analysis.methods"},
    {"analysis.config"},
    {"analysis.events", "analysis.selection", "analysis.partons", "analysis.matching", "analysis.datasets",
     "analysis.spanet_h5", "analysis.normalisation", "analysis.assignments"},
    {"analysis.methods.*"},
    {"analysis.evaluation", "analysis.qg"},
    {"analysis.plotting"},
    {"analysis.stages", "analysis.paths", "analysis.api", "analysis.apply", "analysis.inspect", "analysis.cli",
     "analysis.__main__"},
)
"""Bottom to top: shared machinery, the topology and the methods registry (a table naming each
method's module, importing none: the config and the Snakefile read it); the config; the event
algorithms; the methods' implementations (`analysis.methods.*`); the evaluation and the q/g
study; the plots; stages and tools. A subpackage's modules share its layer."""

MODULES = {".".join(p.relative_to(PACKAGE.parent).with_suffix("").parts).removesuffix(".__init__")
           for p in PACKAGE.rglob("*.py")}


def layer(module: str) -> int:
    parts = module.split(".")
    unit = "analysis.methods.*" if parts[:2] == ["analysis", "methods"] and len(parts) > 2 else ".".join(parts[:2])
    return next(i for i, units in enumerate(LAYERS) if unit in units)


def module_name(path: Path) -> str:
    return ".".join(path.relative_to(PACKAGE.parent).with_suffix("").parts).removesuffix(".__init__")


def runtime_imports(source: str) -> list[tuple[str, int]]:
    """(module, line) of every `analysis` module that `source` imports outside `if TYPE_CHECKING:`
    blocks (those name types for annotations only and run nothing); `from P import x` counts as
    importing P.x when that is a module."""
    tree = ast.parse(source)
    typing_only = {id(node) for block in ast.walk(tree)
                   if isinstance(block, ast.If) and "TYPE_CHECKING" in ast.unparse(block.test)
                   for node in ast.walk(block)}
    found = []
    for node in ast.walk(tree):
        if id(node) in typing_only:
            continue
        if isinstance(node, ast.ImportFrom) and node.module and node.module.split(".")[0] == "analysis":
            found += [(f"{node.module}.{a.name}" if f"{node.module}.{a.name}" in MODULES else node.module, node.lineno)
                      for a in node.names]
        elif isinstance(node, ast.Import):
            found += [(a.name, node.lineno) for a in node.names if a.name.split(".")[0] == "analysis"]
    return found


def upward_imports(module: str, source: str) -> list[str]:
    return [f"line {line}: {target}" for target, line in runtime_imports(source) if layer(target) > layer(module)]


def test_every_module_has_a_layer():
    for module in MODULES:
        layer(module)  # StopIteration names none: add the module's unit to LAYERS


@pytest.mark.parametrize("path", sorted(PACKAGE.rglob("*.py")), ids=lambda p: str(p.relative_to(PACKAGE)))
def test_no_import_runs_upward(path):
    module = module_name(path)
    upward = upward_imports(module, path.read_text())
    assert not upward, f"{path} (layer {layer(module)}) imports from a higher layer: {upward}"


def test_the_check_finds_upward_imports():
    """Known answers: the selection importing a plot module or a method's model, the config
    importing a method's implementation (not the registry), are upward; the reverse are not."""
    assert upward_imports("analysis.selection", "from analysis.plotting.style import plt\n") == [
        "line 1: analysis.plotting.style"]
    assert upward_imports("analysis.selection", "def f():\n    from analysis.methods import saja\n") == [
        "line 2: analysis.methods.saja"]
    assert upward_imports("analysis.config", "from analysis import methods\n") == []
    assert upward_imports("analysis.config", "import analysis.methods.networks\n") == [
        "line 1: analysis.methods.networks"]
    assert upward_imports("analysis.plotting.paper", "from analysis.selection import x\n") == []
    typing_only = "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from analysis.stages import x\n"
    assert upward_imports("analysis.core.jagged", typing_only) == []
