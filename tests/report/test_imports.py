"""The report layer knows no benchmark: no module under ming_eval/report imports ming_eval.tasks,
directly or through what it imports."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

from tests.conftest import REPO_ROOT

REPORT = REPO_ROOT / "ming_eval" / "report"


def _imported_modules(path: Path) -> list[str]:
    """Absolute names of every module the file imports (relative imports resolved)."""
    package = "ming_eval.report"
    names: list[str] = []
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            names.extend(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parent = package.rsplit(".", node.level - 1)[0] if node.level > 1 else package
                base = f"{parent}.{base}" if base else parent
            names.extend([base, *(f"{base}.{alias.name}" for alias in node.names)])
    return names


def test_no_report_module_imports_a_benchmark():
    files = sorted(REPORT.glob("*.py"))
    assert len(files) > 10
    offending = {
        f.name: [m for m in _imported_modules(f) if m == "ming_eval.tasks" or m.startswith("ming_eval.tasks.")]
        for f in files
    }
    assert {k: v for k, v in offending.items() if v} == {}


def test_the_ast_check_sees_every_kind_of_import(tmp_path):
    sample = tmp_path / "m.py"
    sample.write_text(
        "import ming_eval.tasks.vlm\nfrom ming_eval.tasks import geneval\nfrom ..tasks.geneval import metadata\n"
        "def f():\n    from ming_eval.tasks.vlm import base\n"
    )
    found = [m for m in _imported_modules(sample) if m.startswith("ming_eval.tasks")]
    assert set(found) >= {"ming_eval.tasks.vlm", "ming_eval.tasks.geneval", "ming_eval.tasks.geneval.metadata"}
    assert "ming_eval.tasks.vlm.base" in found


def test_importing_the_report_layer_loads_no_benchmark():
    modules = [f"ming_eval.report.{f.stem}" for f in sorted(REPORT.glob("*.py")) if f.stem != "__init__"]
    code = (
        "import importlib, sys\n"
        f"for name in {modules!r}:\n    importlib.import_module(name)\n"
        "print(sorted(m for m in sys.modules if m.startswith('ming_eval.tasks')))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO_ROOT, check=True)
    assert out.stdout.strip() == "[]"
