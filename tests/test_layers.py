"""The pipeline's layers as `pyproject.toml`'s import-linter contracts state them, and no private
name borrowed across packages: both checked on every `make test` and `make test-fast`."""

from __future__ import annotations

import ast
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "vista_sql"


def test_import_contracts_hold():
    lint_imports = shutil.which("lint-imports", path=str(Path(sys.executable).parent))
    assert lint_imports, "import-linter is part of the dev extra; run make test to install it"
    done = subprocess.run(
        [lint_imports, "--no-cache"], cwd=ROOT, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-2000:]


def _package_of(module: str) -> str:
    """`vista_sql.execution.runner` → `vista_sql.execution`; a top-level module is its own."""
    return ".".join(module.split(".")[:2])


def _module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _is_private(name: str) -> bool:
    return name.startswith("_") and not name.startswith("__")


def _borrowed_private_names(path: Path, module: str) -> list[str]:
    own = _package_of(module)
    tree = ast.parse(path.read_text(), str(path))
    foreign_modules: dict[str, str] = {}  # local name → module of another package
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("vista_sql"):
            for alias in node.names:
                source = f"{node.module}.{alias.name}"
                if _package_of(node.module) == own and _package_of(source) == own:
                    continue
                if _is_private(alias.name):
                    found.append(f"{path.name}:{node.lineno} imports {node.module}.{alias.name}")
                else:
                    foreign_modules[alias.asname or alias.name] = source
        elif isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.startswith("vista_sql") and _package_of(alias.name) != own:
                    foreign_modules[alias.asname or alias.name] = alias.name
    for node in ast.walk(tree):
        if (
            isinstance(node, ast.Attribute)
            and isinstance(node.value, ast.Name)
            and node.value.id in foreign_modules
            and _is_private(node.attr)
            and _package_of(foreign_modules[node.value.id]) != own
        ):
            found.append(f"{path.name}:{node.lineno} uses {node.value.id}.{node.attr}")
    return found


def test_no_private_name_is_used_across_packages():
    borrowed = [
        line
        for path in sorted(PACKAGE.rglob("*.py"))
        for line in _borrowed_private_names(path, _module_name(path))
    ]
    assert not borrowed, "\n".join(borrowed)


def test_the_private_name_check_can_fail(tmp_path):
    # The check must see both forms of borrowing, or the test above proves nothing.
    probe = tmp_path / "probe.py"
    probe.write_text(
        "from vista_sql.execution.lowering import _hidden\n"
        "from vista_sql.execution import lowering\n"
        "lowering._also_hidden\n"
    )
    assert len(_borrowed_private_names(probe, "vista_sql.interfaces.probe")) == 2
    assert not _borrowed_private_names(probe, "vista_sql.execution.probe")
