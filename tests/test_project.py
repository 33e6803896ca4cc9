"""Project-level guarantees: the core stays Qt-free, and CI runs the README's test command."""

import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_damer_core_never_imports_qt():
    for path in (ROOT / "damer_core").rglob("*.py"):
        text = path.read_text()
        assert not re.search(r"^\s*(from|import)\s+(PySide6|pyqtgraph|shiboken6|PyQt)", text, re.M), path
    code = ("import pkgutil, importlib, sys, damer_core\n"
            "for m in pkgutil.walk_packages(damer_core.__path__, 'damer_core.'):\n"
            "    importlib.import_module(m.name)\n"
            "bad = [m for m in sys.modules if m.split('.')[0] in ('PySide6', 'pyqtgraph', 'shiboken6')]\n"
            "assert not bad, bad\n")
    subprocess.run([sys.executable, "-c", code], check=True, cwd=ROOT)


def readme_test_command():
    text = (ROOT / "README.md").read_text()
    commands = re.findall(r"^```(?:bash|sh)\n(.*?)\n```", text, re.S | re.M)
    return [c for c in commands if "pytest" in c][0].strip()


def test_ci_runs_exactly_the_readme_test_command():
    ci = (ROOT / ".ci" / "run").read_text()
    assert readme_test_command() in ci


def test_the_python_snippets_of_the_install_script_run():
    """packaging/install.sh calls into the package (`python -c "from damer_core... import ..."`):
    a name it needs must not be removed as unused."""
    script = (Path(__file__).resolve().parent.parent / "packaging" / "install.sh").read_text()
    snippets = re.findall(r'python" -c "([^"]+)"', script)
    assert snippets
    for code in snippets:
        out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=600)
        assert out.returncode == 0, f"{code}: {out.stderr[-1000:]}"
