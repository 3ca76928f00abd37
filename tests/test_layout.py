"""The code's shape: dependencies point one way, from the records side to the execution side."""
import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def imported_modules(path):
    tree = ast.parse(path.read_text(), filename=str(path))
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            yield node.module


def test_nothing_under_pipeline_imports_app():
    checked, offenders = 0, []
    for path in sorted((ROOT / "pipeline").rglob("*.py")):
        checked += 1
        offenders += [f"{path.relative_to(ROOT)} imports {name}" for name in imported_modules(path)
                      if name == "app" or name.startswith("app.")]
    assert checked > 10 and offenders == []


def test_the_check_sees_an_import_of_app(tmp_path):
    sample = tmp_path / "sample.py"
    sample.write_text("import os\nfrom app.models import Build\ndef f():\n    import app.lifecycle\n")
    assert list(imported_modules(sample)) == ["os", "app.models", "app.lifecycle"]
