"""The contract package (damer_core.contract) is what the app's process shares with the core: it
must load only the standard library and numpy, so the GUI never pulls in torch, librosa or Qt."""

import json
import pkgutil
import subprocess
import sys

from conftest import ROOT

import damer_core.contract

PROBE = """
import importlib, json, sys
before = set(sys.modules)
for name in {modules!r}:
    importlib.import_module(name)
loaded = sorted({{m.split(".")[0] for m in set(sys.modules) - before}})
print(json.dumps(loaded))
"""


def contract_modules() -> list[str]:
    return [f"damer_core.contract.{m.name}" for m in pkgutil.iter_modules(damer_core.contract.__path__)]


def loaded_by(modules: list[str]) -> list[str]:
    res = subprocess.run([sys.executable, "-c", PROBE.format(modules=modules)], capture_output=True, text=True,
                         cwd=ROOT, timeout=120)
    assert res.returncode == 0, res.stderr
    return json.loads(res.stdout)


def test_the_contract_loads_only_the_standard_library_and_numpy():
    modules = contract_modules()
    assert {"damer_core.contract.events", "damer_core.contract.display", "damer_core.contract.trajectory",
            "damer_core.contract.emotions", "damer_core.contract.paths", "damer_core.contract.errors",
            "damer_core.contract.dimensions"} <= set(modules)
    foreign = [m for m in loaded_by(modules) if m not in sys.stdlib_module_names and m not in ("numpy", "damer_core")]
    assert foreign == []


def test_the_probe_sees_a_heavy_import():
    """The check above would fail if a contract module imported the model code (torch)."""
    assert "torch" in loaded_by(["damer_core.models.network.damer"])
