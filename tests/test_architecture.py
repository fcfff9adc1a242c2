"""The shape of the code holds: imports one way, private names private, one write path.

These run in `make test` (and so in CI), not only in `make lint`: a wrong-way
import, a private name used across packages, a commit in a view or a command,
a module past the size limit or a naive "now" fails the suite.
"""

from __future__ import annotations

import ast
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from gridgis.config import PROJECT_ROOT

LINT_IMPORTS = Path(sys.executable).with_name("lint-imports")
CODE_DIRS = ("gridgis", "web")
#: Modules that are data rather than logic may be longer (tables, generators' layouts).
LONG_MODULES_ALLOWED: dict[str, str] = {
    "gridgis/demo/generate.py": "the demo community's hand-drawn layout (coordinates)",
}
MAX_LINES = 400


def python_files(*dirs: str) -> Iterator[Path]:
    for d in dirs:
        yield from sorted((PROJECT_ROOT / d).rglob("*.py"))


def module_name(path: Path) -> str:
    parts = list(path.relative_to(PROJECT_ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def package_of(module: str) -> str:
    """The capability a module belongs to: ``gridgis.routing.points`` → ``gridgis.routing``.

    Top-level modules (``gridgis.audit``) and test or bench folders are their own.
    """
    parts = module.split(".")
    return ".".join(parts[:2]) if parts[0] in CODE_DIRS else parts[0]


def run_lint_imports(cwd: Path, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [str(LINT_IMPORTS), "--no-cache", "--config", str(cwd / "setup.cfg")],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_import_contracts_hold() -> None:
    result = run_lint_imports(PROJECT_ROOT)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "2 kept, 0 broken" in result.stdout


def test_a_wrong_way_import_breaks_the_contracts(tmp_path: Path) -> None:
    """The contracts are not decoration: geo importing maps (upwards) is refused."""
    for name in ("gridgis", "web"):
        shutil.copytree(
            PROJECT_ROOT / name, tmp_path / name, ignore=shutil.ignore_patterns("__pycache__")
        )
    shutil.copy(PROJECT_ROOT / "setup.cfg", tmp_path / "setup.cfg")
    layouts = tmp_path / "gridgis" / "geo" / "layouts.py"
    layouts.write_text(layouts.read_text() + "\nfrom gridgis.maps import features  # wrong way\n")
    env = {**os.environ, "PYTHONPATH": str(tmp_path)}
    result = run_lint_imports(tmp_path, env)
    assert result.returncode != 0
    assert "gridgis.geo.layouts -> gridgis.maps.features" in result.stdout


def private_imports(path: Path) -> Iterator[str]:
    """Imports in ``path`` of a name (or module) private to another package."""
    importer = package_of(module_name(path))
    tree = ast.parse(path.read_text(encoding="utf-8"))
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            targets = [(node.module, alias.name) for alias in node.names]
        elif isinstance(node, ast.Import):
            targets = [(alias.name, "") for alias in node.names]
        else:
            continue
        for module, name in targets:
            if module.split(".")[0] not in CODE_DIRS:
                continue
            private = [p for p in [*module.split("."), name] if p.startswith("_")]
            private = [p for p in private if not (p.startswith("__") and p.endswith("__"))]
            if private and package_of(module) != importer:
                yield f"{path.relative_to(PROJECT_ROOT)}:{node.lineno} imports {module}.{name}"


def test_no_private_name_is_imported_from_another_package() -> None:
    found = [
        hit
        for path in python_files("gridgis", "web", "tests", "bench")
        for hit in private_imports(path)
    ]
    assert not found, "\n".join(found)


def calls(path: Path) -> Iterator[tuple[int, str]]:
    """``(line, dotted name)`` of every call in a module: ``session.commit`` ..."""
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Call):
            func = node.func
            names = []
            while isinstance(func, ast.Attribute):
                names.append(func.attr)
                func = func.value
            if isinstance(func, ast.Name):
                names.append(func.id)
            yield node.lineno, ".".join(reversed(names))


@pytest.mark.parametrize("folder", ["web", "gridgis/cli"])
def test_views_and_commands_never_commit_or_audit_themselves(folder: str) -> None:
    """One write path: the domain audits, the unit of work commits (DESIGN.md)."""
    unit_of_work = {PROJECT_ROOT / "web" / "db.py"}
    found = [
        f"{path.relative_to(PROJECT_ROOT)}:{line} calls {name}"
        for path in python_files(folder)
        if path not in unit_of_work
        for line, name in calls(path)
        if name.endswith((".commit", ".rollback")) or name == "audit.record"
    ]
    assert not found, "\n".join(found)


def test_no_module_is_past_the_size_limit() -> None:
    long = [
        f"{path.relative_to(PROJECT_ROOT)}: {n} lines"
        for path in python_files(*CODE_DIRS)
        if (n := len(path.read_text(encoding="utf-8").splitlines())) > MAX_LINES
        and str(path.relative_to(PROJECT_ROOT)) not in LONG_MODULES_ALLOWED
    ]
    assert not long, f"split along a real seam (over {MAX_LINES} lines):\n" + "\n".join(long)


def test_time_comes_from_the_one_clock() -> None:
    """No naive or private "now": gridgis.clock is the only place that reads the time."""
    clock = PROJECT_ROOT / "gridgis" / "clock.py"
    banned = (
        "datetime.now",
        "dt.datetime.now",
        "datetime.utcnow",
        "dt.datetime.utcnow",
        "time.time",
        "date.today",
        "dt.date.today",
    )
    found = [
        f"{path.relative_to(PROJECT_ROOT)}:{line} calls {name}"
        for path in python_files(*CODE_DIRS)
        if path != clock
        for line, name in calls(path)
        if name in banned
    ]
    assert not found, "use gridgis.clock.now():\n" + "\n".join(found)


def test_every_package_says_what_it_owns() -> None:
    missing = [
        str(init.relative_to(PROJECT_ROOT))
        for d in CODE_DIRS
        for init in sorted((PROJECT_ROOT / d).rglob("__init__.py"))
        if len(ast.get_docstring(ast.parse(init.read_text(encoding="utf-8"))) or "") < 40
    ]
    assert not missing, f"write a docstring saying what the package owns: {missing}"
