"""The one rule of shared/ARCHITECTURE.md: `app` never imports Qt or `ui`.

Held statically by import-linter (the contract in pyproject.toml) and checked
at run time: the command line and every core module load without PySide6.

And the shape a newcomer relies on (issue #14): the layers contracts of app/
and ui/ place every package, no two packages need each other (no import
cycle), no screenshot script ships under ui/, and few modules sit at the top.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

# Modules whose presence means Qt (or the window) was loaded.
QT_MODULES = ("PySide6", "shiboken6", "ui")


def _env(tmp_path: Path) -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
    env["STUDYDESK_HOME"] = str(tmp_path / "home")  # never touch a real data folder
    return env


def _is_qt(module: str) -> bool:
    return any(module == name or module.startswith(name + ".") for name in QT_MODULES)


def test_import_contract_is_kept(tmp_path):
    code = (
        "import sys\n"
        "from importlinter.cli import lint_imports\n"
        "sys.exit(lint_imports(config_filename=sys.argv[1], no_cache=True, no_logo=True))\n"
    )
    run = subprocess.run(
        [sys.executable, "-c", code, str(ROOT / "pyproject.toml")],
        cwd=ROOT,
        env=_env(tmp_path),
        capture_output=True,
        text=True,
        timeout=120,
    )
    report = run.stdout + run.stderr
    assert run.returncode == 0, f"import-linter: contract broken or not checked:\n{report}"
    assert " kept, 0 broken" in report, report


def test_contract_forbids_qt_in_core_with_one_exception():
    """The contract itself must not be weakened: PySide6 and ui are forbidden
    in app, with the ignored imports of the `gui` and `view` commands only."""
    config = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    linter = config["tool"]["importlinter"]
    assert {"app", "ui"} <= set(linter["root_packages"])
    assert linter.get("include_external_packages") is True
    forbidding = [
        c
        for c in linter["contracts"]
        if c["type"] == "forbidden" and "app" in c["source_modules"]
    ]
    assert forbidding, "no forbidden-imports contract with app as source"
    contract = forbidding[0]
    assert {"PySide6", "ui"} <= set(contract["forbidden_modules"])
    assert contract.get("ignore_imports", []) == [
        "app.cli -> ui.app", "app.cli.view -> ui.app", "app.cli.view -> ui.viewer.command"]


def test_cli_help_starts_without_qt(tmp_path):
    run = subprocess.run(
        [sys.executable, "-X", "importtime", "-m", "app", "--help"],
        cwd=ROOT,
        env=_env(tmp_path),
        capture_output=True,
        text=True,
        timeout=60,
    )
    messages = "\n".join(l for l in run.stderr.splitlines() if not l.startswith("import time:"))
    assert run.returncode == 0, run.stdout + messages[-4000:]
    assert "usage" in run.stdout.lower(), run.stdout
    imported = [
        line.rsplit("|", 1)[-1].strip()
        for line in run.stderr.splitlines()
        if line.startswith("import time:") and "|" in line
    ]
    assert imported, "no -X importtime output"
    loaded_qt = sorted({m for m in imported if _is_qt(m)})
    assert not loaded_qt, f"`studydesk --help` imported {loaded_qt}"


def test_every_core_module_imports_without_qt(tmp_path):
    code = (
        "import importlib, pkgutil, sys\n"
        "import app\n"
        "names = [m.name for m in pkgutil.walk_packages(app.__path__, 'app.')\n"
        "         if not m.name.endswith('.__main__')]  # that one runs the command\n"
        "for name in names:\n"
        "    importlib.import_module(name)\n"
        "print(len(names))\n"
        "print(' '.join(sorted(sys.modules)))\n"
    )
    run = subprocess.run(
        [sys.executable, "-c", code],
        cwd=ROOT,
        env=_env(tmp_path),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert run.returncode == 0, run.stderr[-4000:]
    count, modules = run.stdout.splitlines()[-2:]
    assert int(count) > 0
    loaded_qt = sorted(m for m in modules.split() if _is_qt(m))
    assert not loaded_qt, f"importing app.* loaded {loaded_qt}"


# -- layers and cycles (issue #14) ------------------------------------------------------


def _linter_contracts() -> list[dict]:
    config = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    return config["tool"]["importlinter"]["contracts"]


def _layers_contract(container: str) -> dict:
    found = [c for c in _linter_contracts() if c["type"] == "layers" and c.get("containers") == [container]]
    assert len(found) == 1, f"one layers contract over {container} expected, found {len(found)}"
    return found[0]


def test_layers_contracts_place_every_package():
    """app and ui each have a layers contract that names every package at
    their top (exhaustive), so a new one must be given its place."""
    for container in ("app", "ui"):
        contract = _layers_contract(container)
        assert contract.get("exhaustive") is True, container
        placed = {name.strip() for layer in contract["layers"] for name in layer.replace("|", ":").split(":")}
        present = {p.stem if p.is_file() else p.name for p in (ROOT / container).iterdir()
                   if (p.suffix == ".py" and p.stem != "__init__") or (p / "__init__.py").is_file()}
        assert present <= placed, f"{container}: not in a layer: {sorted(present - placed)}"
    # the core keeps its layers without exceptions
    assert not _layers_contract("app").get("ignore_imports")


def _package_graph(root: str) -> dict[tuple[str, str], tuple[str, str, int]]:
    """(package, package) -> one import that makes the edge (importer,
    imported, line): the graph of the packages directly under *root*,
    without the imports its layers contract still ignores."""
    import grimp

    graph = grimp.build_graph(root, cache_dir=None)
    ignored = {tuple(part.strip() for part in entry.split("->"))
               for entry in _layers_contract(root).get("ignore_imports", [])}

    def package(module: str) -> str:
        return ".".join(module.split(".")[:2])

    edges: dict[tuple[str, str], tuple[str, str, int]] = {}
    for importer in sorted(graph.modules):
        for imported in sorted(graph.find_modules_directly_imported_by(importer)):
            if not imported.startswith(root + ".") or (importer, imported) in ignored:
                continue  # outside (or the root package's own __init__), or still ignored
            edge = (package(importer), package(imported))
            if edge[0] == edge[1] or importer == root:
                continue
            details = graph.get_import_details(importer=importer, imported=imported)
            edges.setdefault(edge, (importer, imported, details[0]["line_number"] if details else 0))
    return edges


def _cycles(edges: dict[tuple[str, str], tuple]) -> list[list[str]]:
    """One shortest cycle through each package that is on a cycle."""
    after: dict[str, set[str]] = {}
    for a, b in edges:
        after.setdefault(a, set()).add(b)
    found, seen = [], set()
    for start in sorted(after):
        if start in seen:
            continue
        paths, queue = {start: [start]}, [start]
        while queue:  # breadth first: the shortest way back to start
            node = queue.pop(0)
            for nxt in sorted(after.get(node, ())):
                if nxt == start:
                    cycle = paths[node] + [start]
                    found.append(cycle)
                    seen.update(cycle)
                    queue = []
                    break
                if nxt not in paths:
                    paths[nxt] = paths[node] + [nxt]
                    queue.append(nxt)
    return found


def _describe(cycle: list[str], edges) -> str:
    steps = []
    for a, b in zip(cycle, cycle[1:]):
        importer, imported, line = edges[(a, b)]
        steps.append(f"  {a} -> {b}: {importer} imports {imported} (line {line})")
    return " -> ".join(cycle) + "\n" + "\n".join(steps)


@pytest.mark.parametrize("root", ["app", "ui"])
def test_no_import_cycle_between_packages(root):
    """No two packages of app/ (or folders of ui/) need each other, directly
    or round a longer loop: app.changes -> app.net -> app.changes would be
    one. The failure names each cycle and an import that makes every step."""
    edges = _package_graph(root)
    assert edges, f"no imports found between the packages of {root}"
    cycles = _cycles(edges)
    assert not cycles, f"import cycles between the packages of {root}/:\n" + "\n".join(
        _describe(c, edges) for c in cycles)


def test_the_cycle_finder_names_a_cycle():
    edges = {("app.a", "app.b"): ("app.a.x", "app.b.y", 3), ("app.b", "app.c"): ("app.b.y", "app.c", 1),
             ("app.c", "app.a"): ("app.c", "app.a", 9), ("app.c", "app.d"): ("app.c", "app.d", 2)}
    (cycle,) = _cycles(edges)
    assert cycle == ["app.a", "app.b", "app.c", "app.a"]
    assert "app.a.x imports app.b.y (line 3)" in _describe(cycle, edges)


def test_no_screenshot_script_under_ui():
    """Screenshot scripts live in tools/screenshots (not shipped): nothing
    under ui/ is one, runs as a script, or reaches into tools/."""
    import ast

    for path in sorted((ROOT / "ui").rglob("*.py")):
        where = path.relative_to(ROOT)
        assert "shot" not in path.stem.lower(), f"{where}: a screenshot script"
        tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                names = [node.module]
            elif isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            else:
                names = []
            assert not [n for n in names if n == "tools" or n.startswith("tools.")], \
                f"{where}:{node.lineno}: imports {names} (tools/ is not shipped)"
        mains = [n for n in tree.body if isinstance(n, ast.If) and "__main__" in ast.unparse(n.test)]
        assert not mains, f"{where}:{mains[0].lineno}: runs as a script (ui modules are not)"


@pytest.mark.parametrize("root, most", [("app", 12), ("ui", 6)])
def test_few_modules_at_the_top(root, most):
    """The top of app/ and ui/ holds the few modules every folder shares;
    the rest lives in the workflow folders."""
    modules = sorted(p.name for p in (ROOT / root).glob("*.py"))
    assert len(modules) <= most, f"{len(modules)} modules at the top of {root}/: {modules}"
