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


def layout_rows() -> list[tuple[str, list[str]]]:
    """The README's layout table: (folder, the modules its row names)."""
    text = (ROOT / "README.md").read_text()
    section = text[text.index("## Layout"):]
    section = section[:section.index("\n## ", 1)]
    rows = []
    for line in section.splitlines():
        cells = line.split("|")
        if len(cells) > 3 and re.fullmatch(r" `[\w/]+/` ", cells[1]):
            rows.append((cells[1].strip(" `"), re.findall(r"`(\w+\.py)`", cells[2])))
    return rows


def test_the_readme_layout_names_every_module_and_no_other():
    listed = {f"{folder}{name}" for folder, names in layout_rows() for name in names}
    folders = {folder for folder, _ in layout_rows()}
    tree = {p.relative_to(ROOT).as_posix() for pkg in ("app", "damer_core") for p in (ROOT / pkg).rglob("*.py")
            if p.name != "__init__.py"}
    packages = {p.parent.relative_to(ROOT).as_posix() + "/" for pkg in ("app", "damer_core")
                for p in (ROOT / pkg).rglob("__init__.py")}
    assert tree - listed == set(), "modules missing from the README's layout table"
    assert listed - tree == set(), "the README's layout table names modules that do not exist"
    assert packages - folders == set(), "folders missing from the README's layout table"


def test_every_app_and_core_folder_says_what_it_holds_in_one_line():
    for init in [*(ROOT / "app").rglob("__init__.py"), *(ROOT / "damer_core").rglob("__init__.py")]:
        doc = init.read_text().split('"""')
        assert len(doc) >= 3 and doc[1].strip(), f"{init.relative_to(ROOT)} has no docstring"
