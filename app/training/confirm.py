"""The one question asked before a model whose figures cannot vouch for it is used: from the
training panel's "Use this model..." and from the Models dialog's Set active alike."""

from __future__ import annotations

from PySide6.QtWidgets import QMessageBox, QWidget


def confirm_use(parent: QWidget, question: str) -> bool:
    """True when there is nothing to ask (``question`` empty) or the user chose to use it anyway;
    keeping the current model is the default."""
    if not question:
        return True
    box = QMessageBox(QMessageBox.Icon.Warning, "Use this model?", question, parent=parent)
    use = box.addButton("Use it anyway", QMessageBox.ButtonRole.AcceptRole)
    keep = box.addButton("Keep the current model", QMessageBox.ButtonRole.RejectRole)
    box.setDefaultButton(keep)
    box.exec()
    return box.clickedButton() is use
