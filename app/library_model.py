"""The library table: a QAbstractTableModel over rows loaded from SQLite, and a proxy that sorts
by value (not by text) and filters on title / artist / album / emotion word as the user types."""

from __future__ import annotations

from PySide6.QtCore import QAbstractTableModel, QModelIndex, QSortFilterProxyModel, Qt

from app.library_db import TrackRow
from damer_core.emotions import EmotionTerm, nearest_term

COLUMNS = ["Title", "Artist", "Album", "Duration", "Valence", "Arousal", "Confidence", "Emotion", "Labelled"]
SORT_ROLE = Qt.ItemDataRole.UserRole + 1


def format_duration(seconds: float) -> str:
    seconds = int(round(seconds))
    return f"{seconds // 3600}:{seconds % 3600 // 60:02d}:{seconds % 60:02d}" if seconds >= 3600 else f"{seconds // 60}:{seconds % 60:02d}"


class LibraryModel(QAbstractTableModel):
    def __init__(self, terms: list[EmotionTerm], parent=None):
        super().__init__(parent)
        self.terms = terms
        self.rows: list[TrackRow] = []
        self._words: list[str] = []

    def set_rows(self, rows: list[TrackRow]) -> None:
        self.beginResetModel()
        self.rows = rows
        self._words = [nearest_term(r.valence, r.arousal, self.terms).word if r.valence is not None else "" for r in rows]
        self.endResetModel()

    def update_row(self, row: int, track: TrackRow) -> None:
        self.rows[row] = track
        self._words[row] = nearest_term(track.valence, track.arousal, self.terms).word if track.valence is not None else ""
        self.dataChanged.emit(self.index(row, 0), self.index(row, len(COLUMNS) - 1))

    def rowCount(self, parent=QModelIndex()) -> int:  # noqa: N802 (Qt API)
        return 0 if parent.isValid() else len(self.rows)

    def columnCount(self, parent=QModelIndex()) -> int:  # noqa: N802
        return 0 if parent.isValid() else len(COLUMNS)

    def headerData(self, section, orientation, role=Qt.ItemDataRole.DisplayRole):  # noqa: N802
        if role == Qt.ItemDataRole.DisplayRole and orientation == Qt.Orientation.Horizontal:
            return COLUMNS[section]
        return None

    def _value(self, row: int, col: int):
        r = self.rows[row]
        return (r.title, r.artist, r.album, r.duration, r.valence, r.arousal, r.confidence, self._words[row], r.labelled)[col]

    def data(self, index: QModelIndex, role=Qt.ItemDataRole.DisplayRole):
        if not index.isValid():
            return None
        value = self._value(index.row(), index.column())
        col = index.column()
        if role == Qt.ItemDataRole.DisplayRole:
            if col == 3:
                return format_duration(value)
            if col in (4, 5, 6):
                return "" if value is None else f"{value:+.2f}" if col != 6 else f"{value:.2f}"
            if col == 8:
                return "yes" if value else ""
            return value
        if role == SORT_ROLE:
            if value is None:
                return float("-inf")
            return value.lower() if isinstance(value, str) else float(value)
        if role == Qt.ItemDataRole.TextAlignmentRole and col in (3, 4, 5, 6):
            return int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        if role == Qt.ItemDataRole.ToolTipRole:
            return self.rows[index.row()].path
        return None

    def row_for_path(self, path: str) -> int:
        return next((i for i, r in enumerate(self.rows) if r.path == path), -1)


class LibraryFilter(QSortFilterProxyModel):
    """Case-insensitive substring search over title, artist, album and emotion word."""

    def __init__(self, parent=None):
        super().__init__(parent)
        self.setSortRole(SORT_ROLE)
        self._needle = ""

    def set_search(self, text: str) -> None:
        if hasattr(self, "beginFilterChange"):  # Qt >= 6.9
            self.beginFilterChange()
            self._needle = text.strip().lower()
            self.endFilterChange(QSortFilterProxyModel.Direction.Rows)
        else:
            self._needle = text.strip().lower()
            self.invalidateRowsFilter()

    def filterAcceptsRow(self, source_row: int, source_parent: QModelIndex) -> bool:  # noqa: N802
        if not self._needle:
            return True
        model: LibraryModel = self.sourceModel()
        r = model.rows[source_row]
        hay = f"{r.title}\n{r.artist}\n{r.album}\n{model._words[source_row]}".lower()
        return self._needle in hay
