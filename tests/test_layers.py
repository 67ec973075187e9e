"""The import rules of docs/architecture.md ("Layers"), checked over every module's imports.

Every ``import`` and ``from ... import`` in ``ringex/`` and ``gateway/`` counts, including the
ones inside functions: a lazy import is still a dependency. A *unit* is a subpackage of
``ringex`` (``ringex.ring``), a top-level module of it (``ringex.records``), the package root
``ringex`` itself, or the ``gateway`` package.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

#: Bottom to top; a unit may import its own layer's units and the ones below, never above.
LAYERS = (
    ("ringex.records", "ringex.errors", "ringex.statehash", "ringex.jit_cache",
     "ringex.var_layout"),
    ("ringex.jit", "ringex.commands", "ringex.decimals"),
    ("ringex.pairs", "ringex.ring"),
    ("ringex.book", "ringex.wire", "ringex.config", "ringex.snapshot", "ringex.engine_control"),
    ("ringex.engine", "ringex.marketdata"),
    ("ringex", "ringex.spec", "ringex.testing", "ringex.demo", "ringex.recovery"),
    ("ringex.kafka",),
    ("ringex.runtime",),
    ("gateway", "ringex.cli", "ringex.warmup"),
)
LAYER_OF = {unit: level for level, units in enumerate(LAYERS) for unit in units}

#: Where code that only tests and benchmarks use may live (besides tests/ and perf/).
SPEC_PLACES = ("ringex.spec", "ringex.testing")


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _modules(*tops: str) -> dict[str, Path]:
    return {_module_name(p): p for top in tops for p in sorted((ROOT / top).rglob("*.py"))}


MODULES = _modules("ringex", "gateway")


def unit_of(module: str) -> str:
    parts = module.split(".")
    if parts[0] == "gateway":
        return "gateway"
    return "ringex" if len(parts) == 1 else f"ringex.{parts[1]}"


def imported_modules(path: Path, module: str, known) -> set[str]:
    """The project modules ``path`` imports (``from pkg import name`` counts as
    ``pkg.name`` when that is a module, else as ``pkg``)."""
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    found = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            candidates = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join(anchor + ([base] if base else []))
            candidates = [f"{base}.{alias.name}" if f"{base}.{alias.name}" in known else base
                          for alias in node.names]
        else:
            continue
        for name in candidates:
            while name and name not in known:
                name = name.rpartition(".")[0]
            if name:
                found.add(name)
    return found


def _unit_edges() -> dict[tuple[str, str], list[str]]:
    edges: dict[tuple[str, str], list[str]] = {}
    for module, path in MODULES.items():
        for target in imported_modules(path, module, MODULES):
            pair = (unit_of(module), unit_of(target))
            if pair[0] != pair[1]:
                edges.setdefault(pair, []).append(f"{module} -> {target}")
    return edges


EDGES = _unit_edges()


def test_every_unit_has_a_layer():
    units = {unit_of(module) for module in MODULES}
    assert sorted(units - set(LAYER_OF)) == [], "add new units to LAYERS (and the docs)"
    assert sorted(set(LAYER_OF) - units) == [], "LAYERS names units that no longer exist"


def test_no_import_points_up_a_layer():
    upward = sorted(example for (importer, imported), examples in EDGES.items()
                    if LAYER_OF[imported] > LAYER_OF[importer] for example in examples)
    assert upward == []


def test_no_loop_between_units():
    graph: dict[str, set[str]] = {}
    for importer, imported in EDGES:
        graph.setdefault(importer, set()).add(imported)
    state: dict[str, int] = {}
    loops = []

    def visit(unit, trail):
        state[unit] = 1
        for nxt in sorted(graph.get(unit, ())):
            if state.get(nxt) == 1:
                loops.append(trail[trail.index(nxt):] + [nxt])
            elif nxt not in state:
                visit(nxt, trail + [nxt])
        state[unit] = 2

    for unit in sorted(graph):
        if unit not in state:
            visit(unit, [unit])
    assert loops == []


def _entry_points() -> set[str]:
    """Modules started by name rather than imported: ``python -m``, gunicorn targets,
    console scripts."""
    text = "\n".join(p.read_text() for p in
                     [*ROOT.glob("ringex/**/*.py"), *ROOT.glob("gateway/**/*.py"),
                      *ROOT.glob("scripts/*"), ROOT / "pyproject.toml", ROOT / "Dockerfile",
                      ROOT / "docker-compose.yml"] if p.is_file())
    named = set(re.findall(r"-m\"?,?\s*\"?((?:ringex|gateway)(?:\.\w+)+)", text))
    named |= set(re.findall(r"python:((?:ringex|gateway)(?:\.\w+)+)", text))
    named |= set(re.findall(r"\"((?:ringex|gateway)(?:\.\w+)+):\w+", text))
    named |= set(re.findall(r"= \"((?:ringex|gateway)(?:\.\w+)+):", text))
    return named


def test_no_production_module_is_used_only_by_tests():
    outside = {**_modules("perf"), **_modules("scripts")} if (ROOT / "scripts").is_dir() \
        else _modules("perf")
    known = {**MODULES, **outside}
    used = set(_entry_points())
    for module, path in known.items():
        for target in imported_modules(path, module, MODULES):
            if target != module:
                used.add(target)
    unused = sorted(module for module in MODULES
                    if module not in used
                    and not module.startswith(SPEC_PLACES)
                    and MODULES[module].name not in ("__init__.py", "__main__.py"))
    assert unused == []
