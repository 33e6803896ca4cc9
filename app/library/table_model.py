"""The library table: a QAbstractTableModel over rows loaded from SQLite. Sorting happens in the
model with one Python ``list.sort`` (a proxy calling ``data()`` per comparison stalls the GUI at
10,000 rows); the proxy only filters, against a precomputed lower-case search text per row."""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from PySide6.QtCore import QAbstractTableModel, QModelIndex, QPersistentModelIndex, QSortFilterProxyModel, Qt
from PySide6.QtGui import QColor, QFont
from PySide6.QtWidgets import QApplication, QStyle

from app.library.rows import TrackRow
from damer_core.contract.emotions import EmotionTerm, feeling_arc, in_arc, read_point
from damer_core.contract.safe_text import shown_path

NOT_PREDICTED = "n/p"  # the active model does not predict this dimension (a one-dimension bundle)
COLUMNS = ["Title", "Artist", "Album", "Duration", "Valence", "Arousal", "Conf.", "Emotion", "Labelled"]
HEADER_TIPS = {"Valence": "Valence predicted by the active model, -1 (negative) to +1 (positive)",
               "Arousal": "Arousal predicted by the active model, -1 (calm) to +1 (energetic)",
               "Conf.": "Confidence: how sure the model is (calibrated), 0 to 1",
               "Emotion": "The nearest of the 12 emotion words on the V-A circle",
               "Labelled": "Whether a curator has labelled this track"}


PREDICTED = (4, 5, 6, 7)  # Valence, Arousal, Conf., Emotion: the model's columns


def summarised_part(duration: float) -> str:
    """What a track's table values summarise: the model segment (docs/SPEC.md section 3), which a long
    track's values say nothing beyond; its trajectory covers all of it."""
    from damer_core.facade import CLIP

    start, length = CLIP.segment_start_s, CLIP.segment_length_s
    if duration <= start + length:
        whole = "the whole track" if duration <= length else f"its last {format_duration(length)}"
        return f"From {whole} ({format_duration(duration)})."
    return (f"From {format_duration(start)} to {format_duration(start + length)} of this {format_duration(duration)} "
            "track (the model's segment): the rest may differ; play it to follow the whole track on the circle.")


def format_duration(seconds: float) -> str:
    seconds = int(round(seconds))
    return (
        f"{seconds // 3600}:{seconds % 3600 // 60:02d}:{seconds % 60:02d}"
        if seconds >= 3600
        else f"{seconds // 60}:{seconds % 60:02d}"
    )


def emotion_word(r: TrackRow, terms: list[EmotionTerm]) -> str:
    """The nearest emotion word, or only what is known where a dimension is a coin toss
    (damer_core.contract.emotions.read_point); none unless both dimensions are predicted, and none for
    a track the model declined (near-silent audio is predicted at the centre, confidence 0)."""
    if r.valence is None or r.arousal is None or (r.confidence is not None and r.confidence <= 0.0):
        return ""
    return read_point(r.valence, r.arousal, terms).word


MATCH_ROLE = Qt.ItemDataRole.UserRole + 1  # whether a row answers the search: MATCHED or ""
MATCHED = "1"


def search_text(r: TrackRow, word: str) -> str:
    return f"{r.title}\n{r.artist}\n{r.album}\n{word}".lower()


def column_value(r: TrackRow, word: str, col: int):
    return (r.title, r.artist, r.album, r.duration, r.valence, r.arousal, r.confidence, word, r.labelled)[col]


@dataclass
class TableRows:
    """The table's rows with each one's emotion word and search text, in the table's sort order
    (``sort``: column and order, None unsorted), and each path's row. Made in any thread: it
    touches no Qt object."""
    rows: list[TrackRow]
    words: list[str]
    search_text: list[str]
    sort: tuple[int, Qt.SortOrder] | None = None
    row_of: dict[str, int] = field(default_factory=dict)  # path -> row (50,000 paths: 6-10 ms)

    @classmethod
    def of(cls, rows: list[TrackRow], terms: list[EmotionTerm], sort: tuple[int, Qt.SortOrder] | None) -> TableRows:
        words = [emotion_word(r, terms) for r in rows]
        table = cls(list(rows), words, [search_text(r, w) for r, w in zip(rows, words)])
        if sort is not None:
            table.sort_by(*sort)
        else:
            table.index_paths()
        return table

    def replace(self, fresh: dict[str, TrackRow], terms: list[EmotionTerm]) -> None:
        """Rows read again since these were read (by path), each where its older self was."""
        for i, r in enumerate(self.rows):
            if r.path in fresh:
                self.rows[i] = row = fresh[r.path]
                self.words[i] = emotion_word(row, terms)
                self.search_text[i] = search_text(row, self.words[i])

    def sort_by(self, column: int, order: Qt.SortOrder) -> None:
        """One Python sort: unanalysed (None) first when ascending."""
        self.sort = (column, order)

        def key(i: int):
            v = column_value(self.rows[i], self.words[i], column)
            if v is None:
                return (0, 0.0)
            return (1, v.lower() if isinstance(v, str) else float(v) if not (isinstance(v, float) and math.isnan(v)) else 0.0)

        order_idx = sorted(range(len(self.rows)), key=key, reverse=order == Qt.SortOrder.DescendingOrder)
        self.rows = [self.rows[i] for i in order_idx]
        self.words = [self.words[i] for i in order_idx]
        self.search_text = [self.search_text[i] for i in order_idx]
        self.index_paths()

    def index_paths(self) -> None:
        """Each path's row, once the rows are in their order."""
        self.row_of = {r.path: i for i, r in enumerate(self.rows)}


def matches(r: TrackRow, text: str, needle: str, arc: tuple[float, float] | None) -> bool:
    """Whether a row answers the search: ``needle`` in its search text, or (a word of feeling)
    its prediction on the part of the circle ``arc`` names."""
    if needle in text:
        return True
    return (arc is not None and r.valence is not None and r.arousal is not None
            and (r.confidence is None or r.confidence > 0.0) and in_arc(r.valence, r.arousal, arc))


class LibraryModel(QAbstractTableModel):
    def __init__(self, terms: list[EmotionTerm], parent=None):
        super().__init__(parent)
        self.terms = terms
        self.rows: list[TrackRow] = []
        self.words: list[str] = []
        self.search_text: list[str] = []
        self._row_of: dict[str, int] = {}  # path -> row, rebuilt whenever the rows move
        self._sort: tuple[int, Qt.SortOrder] | None = None
        self.needle = ""  # the search, lower case ("" none) and the part of the circle it names, if any
        self.arc: tuple[float, float] | None = None
        self._matching: list[bool] = []  # each row's answer to the search, while there is one
        self.playing_path = ""  # the track in the player: a play icon and bold text, whatever is selected

    def word(self, r: TrackRow) -> str:
        return emotion_word(r, self.terms)

    @property
    def sort_key(self) -> tuple[int, Qt.SortOrder] | None:
        """The column and order the rows are sorted by (None: as the library gave them)."""
        return self._sort

    def set_rows(self, rows: list[TrackRow]) -> None:
        self.show_rows(TableRows.of(rows, self.terms, self._sort))

    def show_rows(self, table: TableRows) -> None:
        """Rows made ready elsewhere (app.library.table_reload); sorted again only where the user
        chose another sort meanwhile."""
        self.beginResetModel()
        self.rows, self.words, self.search_text, self._row_of = table.rows, table.words, table.search_text, table.row_of
        if self._sort is not None and table.sort != self._sort:
            self._sort_rows(*self._sort)
        self._match_all()
        self.endResetModel()

    def update_row(self, row: int, track: TrackRow) -> None:
        self.rows[row] = track
        self.words[row] = self.word(track)
        self.search_text[row] = search_text(track, self.words[row])
        if self.needle:
            self._matching[row] = matches(track, self.search_text[row], self.needle, self.arc)
        self.dataChanged.emit(self.index(row, 0), self.index(row, len(COLUMNS) - 1))

    def set_search(self, needle: str, arc: tuple[float, float] | None) -> None:
        """The search each row answers through MATCH_ROLE (LibraryFilter filters on it)."""
        self.needle, self.arc = needle, arc
        self._match_all()

    def _match_all(self) -> None:
        self._matching = ([matches(r, t, self.needle, self.arc) for r, t in zip(self.rows, self.search_text)]
                          if self.needle else [])

    def set_playing(self, path: str) -> None:
        rows = [self.row_for_path(p) for p in (self.playing_path, path)]
        self.playing_path = path
        for row in rows:
            if row >= 0:
                self.dataChanged.emit(self.index(row, 0), self.index(row, len(COLUMNS) - 1))

    def rowCount(self, parent=QModelIndex()) -> int:  # noqa: N802, B008 (Qt API)
        return 0 if parent.isValid() else len(self.rows)

    def columnCount(self, parent=QModelIndex()) -> int:  # noqa: N802, B008 (Qt API)
        return 0 if parent.isValid() else len(COLUMNS)

    def headerData(self, section, orientation, role=Qt.ItemDataRole.DisplayRole):  # noqa: N802
        if orientation != Qt.Orientation.Horizontal:
            return None
        if role == Qt.ItemDataRole.DisplayRole:
            return COLUMNS[section]
        if role == Qt.ItemDataRole.ToolTipRole:
            return HEADER_TIPS.get(COLUMNS[section], COLUMNS[section])
        return None

    def value(self, row: int, col: int):
        return column_value(self.rows[row], self.words[row], col)

    def data(self, index: QModelIndex | QPersistentModelIndex, role: int = Qt.ItemDataRole.DisplayRole):
        if not index.isValid():
            return None
        if role == MATCH_ROLE:  # asked only while there is a search (LibraryFilter)
            return MATCHED if self._matching[index.row()] else ""
        col = index.column()
        if role == Qt.ItemDataRole.DisplayRole:
            value = self.value(index.row(), col)
            if col == 3:
                return format_duration(value)
            if col in (4, 5):
                if value is None:
                    return NOT_PREDICTED if self.rows[index.row()].analysed else ""
                return f"{value:+.2f}"
            if col == 6:
                return "" if value is None else f"{value:.2f}"
            if col == 8:
                return "yes" if value else ""
            return value
        if role in (Qt.ItemDataRole.DecorationRole, Qt.ItemDataRole.FontRole) and self.playing_path:
            if self.rows[index.row()].path != self.playing_path:
                return None
            if role == Qt.ItemDataRole.FontRole:
                font = QFont()
                font.setBold(True)
                return font
            return QApplication.style().standardIcon(QStyle.StandardPixmap.SP_MediaPlay) if col == 0 else None
        if role == Qt.ItemDataRole.ForegroundRole and col in PREDICTED and self.rows[index.row()].previous:
            return QColor(140, 140, 140)  # the previous model's value, until the active one's arrives
        if role == Qt.ItemDataRole.TextAlignmentRole and col in (3, 4, 5, 6):
            return int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        if role == Qt.ItemDataRole.ToolTipRole:
            r = self.rows[index.row()]
            if col in (4, 5) and r.analysed and self.value(index.row(), col) is None:
                return f"{COLUMNS[col]} is not predicted by the active model (it holds one dimension only)"
            if col in (0, 1, 2) and self.value(index.row(), col):  # the whole text of an elided cell
                return f"{self.value(index.row(), col)}\n{shown_path(r.path)}"
            if col in PREDICTED and r.previous:
                return f"From the model used before: the active model has not analysed this track yet\n{shown_path(r.path)}"
            if col in PREDICTED and r.analysed:
                whole = r.whole and COLUMNS[col] != "Conf."  # the confidence is always the segment's
                part = (f"The mean of the whole track's trajectory ({format_duration(r.duration)})." if whole
                        else summarised_part(r.duration))
                return f"{HEADER_TIPS[COLUMNS[col]]}\n{part}"
            return shown_path(r.path)
        return None

    def sort(self, column: int, order: Qt.SortOrder = Qt.SortOrder.AscendingOrder) -> None:
        self.layoutAboutToBeChanged.emit()
        self._sort_rows(column, order)
        self._match_all()
        self.layoutChanged.emit()

    def _sort_rows(self, column: int, order: Qt.SortOrder) -> None:
        table = TableRows(self.rows, self.words, self.search_text)
        table.sort_by(column, order)
        self.rows, self.words, self.search_text, self._sort = table.rows, table.words, table.search_text, table.sort
        self._row_of = table.row_of

    def row_for_path(self, path: str) -> int:
        return self._row_of.get(path, -1)


class LibraryFilter(QSortFilterProxyModel):
    """Case-insensitive substring search over title, artist, album and emotion word, and a word of
    feeling finds the part of the circle it names (damer_core.contract.emotions.feeling_arc);
    sorting is forwarded to the source model. Filtered by Qt on the model's MATCH_ROLE, and only
    while there is a search: with none, a reload of 50,000 rows makes no call into Python per row
    (one made 25 ms of a 50 ms stall)."""

    def __init__(self, parent=None):
        super().__init__(parent)
        self.setFilterRole(MATCH_ROLE)

    def sort(self, column: int, order: Qt.SortOrder = Qt.SortOrder.AscendingOrder) -> None:
        if column >= 0:
            self.sourceModel().sort(column, order)

    def _library(self) -> LibraryModel:
        model = self.sourceModel()
        assert isinstance(model, LibraryModel)
        return model

    def set_search(self, text: str) -> None:
        model = self._library()
        changing = hasattr(self, "beginFilterChange")  # Qt >= 6.9; before it, invalidateRowsFilter
        if changing:
            self.beginFilterChange()
        model.set_search(text.strip().lower(), feeling_arc(text))
        self.setFilterFixedString(MATCHED if model.needle else "")
        if changing:
            self.endFilterChange(QSortFilterProxyModel.Direction.Rows)
        else:
            self.invalidateRowsFilter()

    @property
    def searching(self) -> bool:
        return bool(self._library().needle)

    @property
    def arc(self) -> tuple[float, float] | None:
        """The part of the circle the search names, if any."""
        return self._library().arc
