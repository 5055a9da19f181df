"""The package layout: every module imports on its own, no import cycle anywhere in the tree, and the root of
`data_pipeline/` holds only the task service and the entry scripts (issue: group modules by the work they do)."""
from __future__ import annotations

import ast
import importlib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("data_pipeline", "core")
ROOT_MODULES = {"__init__", "tasks", "ids", "context", "monitor", "cleanup", "task_executor", "schema_workflow"}


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _modules() -> dict[str, Path]:
    return {_module_name(p): p for pkg in PACKAGES for p in sorted((ROOT / pkg).rglob("*.py"))}


def _imports(path: Path, name: str, known: set[str]) -> set[str]:
    """Modules of ours that `path` imports anywhere (top level or inside functions: a lazy import still
    makes a cycle, it only hides it until run time)."""
    is_pkg = path.name == "__init__.py"
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = name.split(".") if is_pkg else name.split(".")[:-1]
                anchor = anchor[: len(anchor) - (node.level - 1)]
                base = ".".join(anchor + ([base] if base else []))
            found.add(base)
            found.update(f"{base}.{a.name}" for a in node.names)
    return {m for m in found if m in known and m != name}


def _find_cycle(graph: dict[str, set[str]]) -> list[str]:
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(node: str) -> list[str]:
        state[node] = 1
        stack.append(node)
        for nxt in sorted(graph[node]):
            if state.get(nxt) == 1:
                return stack[stack.index(nxt):] + [nxt]
            if nxt not in state and (cycle := visit(nxt)):
                return cycle
        stack.pop()
        state[node] = 2
        return []

    for node in sorted(graph):
        if node not in state and (cycle := visit(node)):
            return cycle
    return []


def test_no_import_cycle():
    modules = _modules()
    known = set(modules)
    # a package's __init__ importing its own submodules is how packages are built; it is not a cycle of logic
    graph = {name: {m for m in _imports(path, name, known) if not (path.name == "__init__.py" and m.startswith(name + "."))}
             for name, path in modules.items()}
    # importing a submodule runs its package's __init__ first: model that edge too
    for name in list(graph):
        parent = name.rsplit(".", 1)[0]
        if "." in name and parent in graph and parent != name:
            graph[name].add(parent)
    assert _find_cycle(graph) == []


def test_cycle_finder_sees_a_cycle():
    assert _find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]


def test_data_pipeline_root_holds_only_the_task_service():
    root_modules = {p.stem for p in (ROOT / "data_pipeline").glob("*.py")}
    assert root_modules == ROOT_MODULES


@pytest.mark.parametrize("name", sorted(n for n in _modules() if not n.endswith(("task_executor", "schema_workflow"))))
def test_every_module_imports(name):
    importlib.import_module(name)


def test_every_package_says_what_it_holds():
    for init in sorted((ROOT / "data_pipeline").rglob("__init__.py")):
        if "web" in init.parts:
            continue
        doc = ast.get_docstring(ast.parse(init.read_text()))
        assert doc and len(doc) > 40, f"{init.relative_to(ROOT)} needs a docstring naming its modules"
        for module in init.parent.glob("*.py"):
            if module.stem != "__init__":
                assert module.stem in doc, f"{init.relative_to(ROOT)} does not name {module.stem}"


# The stages, lowest first: the lexicon (wording) serves all three; schema/ (step 1) knows nothing of the
# semantic model or the questions; semantics/ (the model) knows nothing of the questions.
_FORBIDDEN = {
    "data_pipeline.lexicon": ("data_pipeline.schema", "data_pipeline.semantics", "data_pipeline.qa"),
    "data_pipeline.schema": ("data_pipeline.semantics", "data_pipeline.qa"),
    "data_pipeline.semantics": ("data_pipeline.qa",),
}


def _layer_violations(modules: dict[str, Path]) -> list[str]:
    known = set(modules)
    bad = []
    for name, path in modules.items():
        for layer, forbidden in _FORBIDDEN.items():
            if name == layer or name.startswith(layer + "."):
                bad += [f"{name} imports {m}" for m in sorted(_imports(path, name, known))
                        if any(m == f or m.startswith(f + ".") for f in forbidden)]
    return bad


def test_stages_import_only_downwards():
    assert _layer_violations(_modules()) == []


def test_layer_check_sees_an_upward_import(tmp_path):
    upward = tmp_path / "upward.py"
    upward.write_text("def f():\n    from data_pipeline.qa import pairs\n")
    modules = {"data_pipeline.schema.upward": upward, "data_pipeline.qa": upward, "data_pipeline.qa.pairs": upward}
    assert _layer_violations(modules) == ["data_pipeline.schema.upward imports data_pipeline.qa",
                                          "data_pipeline.schema.upward imports data_pipeline.qa.pairs"]
