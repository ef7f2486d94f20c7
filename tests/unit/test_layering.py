"""The dependency direction of the packages: no import cycle between modules, and each part
imports only the parts `ALLOWED` names. guest (the agent protocol and client) is below
machine (a VM owns its agent client) and build (the agent build generates its header from
the protocol); interface (ABIs, rules, device views) sits on guest; workflows and the CLI
on everything. Read from the source with `ast`, so imports inside functions count too."""

from __future__ import annotations

import ast
from pathlib import Path

import harness

ROOT = Path(harness.__file__).resolve().parent
# Which subpackages each part may import (modules directly in harness/ are the base:
# errors, platform, runner, workdir; everyone may import them).
ALLOWED = {
    "tree": set(),
    "guest": set(),
    "machine": {"guest"},
    "build": {"guest"},
    "interface": {"guest"},
    "fuzz": {"interface"},  # each seed set is written for its ABI's files
    "ci": set(),  # sharding and the JUnit merge: plain data
    "posting": {"tree"},  # send and changelog work on the series and the QEMU tree
    "workflows": {"tree", "build", "machine", "guest", "interface", "fuzz", "ci"},
    "base": set(),
}


def module_name(path: Path) -> str:
    parts = path.relative_to(ROOT.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imports(path: Path) -> set[str]:
    """The harness modules `path` imports (anywhere in the file)."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found |= {a.name for a in node.names if a.name.startswith("harness")}
        elif isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("harness"):
            found.add(node.module)
            found |= {f"{node.module}.{a.name}" for a in node.names}
        elif (
            isinstance(node, ast.Constant)
            and isinstance(node.value, str)
            and node.value.startswith("harness.")
            and " " not in node.value
        ):
            found.add(node.value)  # importlib.import_module("harness.workflows.x")
    return found


def graph() -> dict[str, set[str]]:
    modules = {module_name(p): p for p in ROOT.rglob("*.py")}
    edges: dict[str, set[str]] = {}
    for name, path in modules.items():
        edges[name] = {m for m in imports(path) if m in modules and m != name}
    return edges


SUBPACKAGES = {d.name for d in ROOT.iterdir() if (d / "__init__.py").is_file()}
CLI_MODULES = {"cli", "__main__"}


def part(module: str) -> str:
    """The part a module belongs to: its subpackage, "cli", or "base" (other harness/*.py)."""
    pieces = module.split(".")
    if len(pieces) > 1 and pieces[1] in SUBPACKAGES:
        return pieces[1]
    if len(pieces) > 1 and pieces[1] in CLI_MODULES:
        return "cli"
    return "base"


def allowed(part_name: str) -> set[str]:
    """What a part may import. The CLI: every part. A subpackage not in ALLOWED yet (a new
    command's): what the workflows may import."""
    if part_name == "cli":
        return SUBPACKAGES
    return ALLOWED.get(part_name, ALLOWED["workflows"])


def find_cycle(edges: dict[str, set[str]]) -> list[str] | None:
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        stack.append(node)
        for nxt in sorted(edges.get(node, ())):
            if state.get(nxt) == 1:
                return [*stack[stack.index(nxt) :], nxt]
            if nxt not in state and (cycle := visit(nxt)) is not None:
                return cycle
        stack.pop()
        state[node] = 2
        return None

    for node in sorted(edges):
        if node not in state and (cycle := visit(node)) is not None:
            return cycle
    return None


def test_no_module_import_cycle() -> None:
    assert find_cycle(graph()) is None, " -> ".join(find_cycle(graph()) or [])


def test_parts_import_only_earlier_parts() -> None:
    wrong = sorted(
        f"{module} imports {target}"
        for module, targets in graph().items()
        for target in targets
        if part(target) not in {part(module), "base"} | allowed(part(module))
    )
    assert not wrong, "\n".join(wrong)


def test_base_modules_import_no_part() -> None:
    wrong = sorted(
        f"{module} imports {target}"
        for module, targets in graph().items()
        if part(module) == "base"
        for target in targets
        if part(target) != "base"
    )
    assert not wrong, "\n".join(wrong)


def test_the_cycle_finder_finds_a_cycle() -> None:
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b"}, "b": set()}) is None
