"""The layer rule (pyproject's [tool.importlinter] contracts, run by `make lint`) holds, and it catches an upward import."""

import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
LINT_IMPORTS = shutil.which("lint-imports", path=str(Path(sys.executable).parent)) or "lint-imports"


def lint_imports(*args: str, cwd: Path = ROOT) -> subprocess.CompletedProcess:
    return subprocess.run([LINT_IMPORTS, "--no-cache", *args], cwd=cwd, capture_output=True, text=True, timeout=120)


def test_the_apps_keep_their_layers():
    result = lint_imports()
    assert result.returncode == 0, result.stdout[-3000:]
    assert "Contracts: 4 kept, 0 broken." in result.stdout


def test_a_lower_app_importing_a_higher_one_breaks_the_contract(tmp_path):
    # A copy of the project with lineage (the lowest app) importing curation.
    for name in ("pyproject.toml", "accounts", "steward", "lineage", "mastering", "curation", "feedback"):
        source = ROOT / name
        if source.is_dir():
            shutil.copytree(source, tmp_path / name, ignore=shutil.ignore_patterns("__pycache__", "migrations"))
        else:
            shutil.copy(source, tmp_path / name)
    with open(tmp_path / "lineage" / "selectors.py", "a") as module:
        module.write("\nfrom curation import selectors as _upward  # noqa\n")
    result = lint_imports(cwd=tmp_path)
    assert result.returncode == 1
    assert "lineage is not allowed to import curation" in result.stdout
