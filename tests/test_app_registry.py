"""The model registry lists bundles through the real `damer-core info --jsonl` child and refuses a
malformed bundle with the reason, without crashing."""

import shutil

import pytest

from app.registry import ModelRegistry


@pytest.mark.slow
def test_registry_lists_good_and_refuses_malformed(qtbot, tmp_path, monkeypatch, trained_bundle):
    monkeypatch.setenv("DAMER_DATA_DIR", str(tmp_path / "data"))
    models = tmp_path / "data" / "models"
    models.mkdir(parents=True)
    shutil.copy(trained_bundle, models / "good.pt")
    (models / "broken.pt").write_bytes(b"PK\x03\x04 not really a zip")
    reg = ModelRegistry()
    qtbot.addWidget(reg)
    reg.show()
    qtbot.waitUntil(lambda: not reg.proc.running and len(reg.info) + len(reg.errors) == 2, timeout=60_000)
    reg._fill()
    rows = {reg.table.item(r, 0).text(): [reg.table.item(r, c).text() for c in range(7)] for r in range(2)}
    assert rows["good"][3] == "clip" and float(rows["good"][4]) >= 0.9 and rows["good"][6] == "ok"
    assert rows["broken"][6].startswith("broken.pt: truncated or corrupt")
    activated = []
    reg.activate.connect(activated.append)
    reg.table.selectRow(0)  # broken.pt sorts first
    reg.set_active()
    assert activated == [] and "Cannot use it" in reg.status.text()
    reg.table.selectRow(1)
    reg.set_active()
    assert activated == [str(models / "good.pt")]
    reg.table.selectRow(0)
    reg.delete(confirm=False)
    assert not (models / "broken.pt").exists() and (models / "good.pt").exists()
