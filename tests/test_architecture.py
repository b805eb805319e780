"""The one rule of shared/ARCHITECTURE.md: `app` never imports Qt or `ui`.

Held statically by import-linter (the contract in pyproject.toml) and checked
at run time: the command line and every core module load without PySide6.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tomllib
from pathlib import Path

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
    in app, with the single ignored import of the `gui` command."""
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
    assert contract.get("ignore_imports", []) == ["app.cli -> ui.app"]


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
