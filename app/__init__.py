"""DAMER Explorer desktop app (PySide6 + pyqtgraph). Imports damer_core; torch and librosa lazily."""
