"""The library side of the window: folder actions, instant search, the track table, and the
progress of scans and analyses with a Cancel button."""

from __future__ import annotations

from PySide6.QtCore import QEvent, QPoint, Qt, Signal
from PySide6.QtWidgets import (
    QAbstractItemView,
    QHBoxLayout,
    QHeaderView,
    QLineEdit,
    QMenu,
    QProgressBar,
    QPushButton,
    QStackedWidget,
    QTableView,
    QVBoxLayout,
    QWidget,
)

from app.library.table_model import COLUMNS, LibraryFilter, LibraryModel, TableRows
from app.library.welcome import LibraryWelcome
from app.widgets.buttons import on_click
from app.widgets.elided_label import ElidedLabel

# The widest text each short column shows: it is sized to that or to its header, whichever is wider.
WIDEST = {"Duration": "0:00:00", "Valence": "+0.00", "Arousal": "+0.00", "Conf.": "0.00",
          "Emotion": "high energy", "Labelled": "yes"}  # the widest word: the uncertain readings ("low energy")
NAME_COLUMNS = {"Artist": 100, "Album": 110}
TITLE = COLUMNS.index("Title")
MIN_TITLE = 120  # Title fills the rest of the table, never narrower than this; long titles are elided in the middle
PREDICTION_COLUMNS = ("Valence", "Arousal", "Conf.", "Emotion")
HIDDEN_BY_DEFAULT = ("Album", "Conf.")  # room for titles; the marker's size shows the confidence


class LibraryPanel(QWidget):
    track_activated = Signal(object)  # path
    cancel_requested = Signal()
    folder_chosen = Signal(str)  # from the empty library's greeting: a folder to add, "" to ask for one
    seek_step = Signal(float)  # Left / Right typed in an empty search box: seconds to move the player by

    def __init__(self, model: LibraryModel, parent=None):
        super().__init__(parent)
        self.model = model
        self._shown_before: dict[str, bool] = {}  # prediction columns while a calibration hides them
        self._title_fits, self._fitting = True, False  # Title fills the table until the user drags it
        self.proxy = LibraryFilter(self)
        self.proxy.setSourceModel(model)
        lay = QVBoxLayout(self)
        lay.setContentsMargins(4, 4, 4, 4)
        self.buttons = QHBoxLayout()
        lay.addLayout(self.buttons)
        self.search = QLineEdit()
        self.search.setPlaceholderText("Search title, artist, album or emotion (Ctrl+F)")
        self.search.setClearButtonEnabled(True)
        self.search.textChanged.connect(self.proxy.set_search)
        lay.addWidget(self.search)
        self.table = QTableView()
        self.table.setModel(self.proxy)
        self.table.setSortingEnabled(True)
        self.table.sortByColumn(1, Qt.SortOrder.AscendingOrder)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.verticalHeader().hide()
        self.table.verticalHeader().setDefaultSectionSize(22)
        self.table.setAlternatingRowColors(True)
        self._size_columns()
        # Slots are methods, never lambdas returning emit()'s bool: PySide6 mis-counts returned bools.
        self.table.doubleClicked.connect(self._activate)
        self.table.activated.connect(self._activate)
        self.table.setTextElideMode(Qt.TextElideMode.ElideMiddle)  # "A long ti…the end": both ends readable
        self.welcome = LibraryWelcome()
        self.welcome.folder_chosen.connect(self.folder_chosen)
        self.pages = QStackedWidget()  # the greeting while the library is empty, else the table
        self.pages.addWidget(self.table)
        self.pages.addWidget(self.welcome)
        lay.addWidget(self.pages, 1)
        row = QHBoxLayout()
        self.progress_label = ElidedLabel()
        self.progress = QProgressBar()
        self.progress.setMaximumHeight(16)
        self.cancel = QPushButton("Cancel")
        on_click(self.cancel, self.cancel_requested)
        self.progress.setMaximumWidth(150)  # the words need the room: "emotion 4 / 4, trajectories 1 / 4, ..."
        row.addWidget(self.progress_label, 1)
        row.addWidget(self.progress)
        row.addWidget(self.cancel)
        lay.addLayout(row)
        self.show_progress(None)
        self.count = ElidedLabel()
        lay.addWidget(self.count)
        for changed in (self.proxy.modelReset, self.proxy.rowsInserted, self.proxy.rowsRemoved, self.proxy.layoutChanged):
            changed.connect(self.update_count)
        self.search.textChanged.connect(self.update_count)

    def update_count(self, *_) -> None:
        """How many tracks the table shows: all of them, or how many match the search, and when
        none does, why."""
        total, shown = self.model.rowCount(), self.proxy.rowCount()
        tracks = f"{total} track{'s' if total != 1 else ''}"
        if not self.proxy.searching:
            self.count.setText(tracks)
            return
        text = f"{shown} of {tracks}"
        if shown == 0:
            query = self.search.text().strip()
            analysed = sum(r.valence is not None for r in self.model.rows)
            if self.proxy.arc is not None and not analysed:
                text += f": none is analysed yet, so none can feel \"{query}\"; the analysis runs in the background"
            elif self.proxy.arc is not None:
                text += f": none of the {analysed} analysed tracks feels \"{query}\""
            else:
                text += (f": no title, artist, album or emotion word holds \"{query}\" (words of feeling such as "
                         "happy, calm, sad or high energy find tracks by how they feel)")
        self.count.setText(text)

    def _size_columns(self) -> None:
        """Every short column fits its widest value and header, so the predictions are visible
        without scrolling sideways; the last one takes the room that is left, and any can be dragged
        wider. Right-click the header to show or hide columns (Album and Conf. are hidden at first)."""
        header = self.table.horizontalHeader()
        header.setStretchLastSection(False)
        header.setMinimumSectionSize(24)
        cell, head = self.table.fontMetrics(), header.fontMetrics()
        for col, name in enumerate(COLUMNS):
            header.setSectionResizeMode(col, QHeaderView.ResizeMode.Interactive)
            if name == "Title":
                continue
            if name in WIDEST:  # cell margins; the header also holds the sort arrow
                width = max(cell.horizontalAdvance(WIDEST[name]) + 12, head.horizontalAdvance(name) + 22)
            else:
                width = NAME_COLUMNS[name]
            self.table.setColumnWidth(col, width)
            self.table.setColumnHidden(col, name in HIDDEN_BY_DEFAULT)
        header.setContextMenuPolicy(Qt.ContextMenuPolicy.CustomContextMenu)
        header.customContextMenuRequested.connect(self._header_menu)
        header.sectionResized.connect(self._section_resized)
        self.table.viewport().installEventFilter(self)
        self.table.installEventFilter(self)
        self.search.installEventFilter(self)

    def _section_resized(self, col: int, old: int, new: int) -> None:
        if col == TITLE and not self._fitting:  # the user dragged it: their width from now on
            self._title_fits = False

    def fit_title(self) -> None:
        """Title takes the room the other columns leave (at least MIN_TITLE), until the user drags it."""
        if not self._title_fits:
            return
        others = sum(self.table.columnWidth(c) for c in range(len(COLUMNS)) if c != TITLE and not self.table.isColumnHidden(c))
        self._fitting = True
        self.table.setColumnWidth(TITLE, max(MIN_TITLE, self.table.viewport().width() - others))
        self._fitting = False

    def eventFilter(self, watched, event) -> bool:  # noqa: N802 (Qt API)
        if watched is self.table.viewport() and event.type() == QEvent.Type.Resize:
            self.fit_title()  # the window, the splitter or a vertical scroll bar changed the room
        if event.type() == QEvent.Type.KeyPress and watched in (self.table, self.search):
            if self._key(watched, event.key(), event.modifiers()):
                return True
        return super().eventFilter(watched, event)

    def _key(self, watched, key: int, modifiers) -> bool:
        """Keys a listener expects here: Home / End go to the first / last track (a table's own
        End goes to the last column); in the search box, Esc clears it and gives the table the
        keys back, and Left / Right seek while it is empty (with text, they move the cursor)."""
        plain = modifiers in (Qt.KeyboardModifier.NoModifier, Qt.KeyboardModifier.KeypadModifier)
        if watched is self.table and plain and key in (Qt.Key.Key_Home, Qt.Key.Key_End):
            rows = self.proxy.rowCount()
            if rows:
                self.table.selectRow(0 if key == Qt.Key.Key_Home else rows - 1)
                self.table.scrollTo(self.table.currentIndex())
            return True
        if watched is self.search and key == Qt.Key.Key_Escape:
            self.search.clear()
            self.table.setFocus()
            return True
        if watched is self.search and plain and not self.search.text() and key in (Qt.Key.Key_Left, Qt.Key.Key_Right):
            self.seek_step.emit(-5.0 if key == Qt.Key.Key_Left else 5.0)
            return True
        return False

    def _header_menu(self, pos: QPoint) -> None:
        menu = QMenu(self)
        for col, name in enumerate(COLUMNS):
            if name == "Title":
                continue
            action = menu.addAction(name)
            action.setCheckable(True)
            action.setChecked(not self.table.isColumnHidden(col))
            action.toggled.connect(lambda on, c=col: self._show_column(c, on))
        menu.popup(self.table.horizontalHeader().mapToGlobal(pos))

    def _show_column(self, col: int, shown: bool) -> None:
        self.table.setColumnHidden(col, not shown)
        self.fit_title()

    def show_rows(self, table: TableRows, folders: list[str], selected: str) -> None:
        """A reload's rows (app.library.table_reload), the greeting if there are none, and the
        ``selected`` track selected again."""
        self.model.show_rows(table)
        self.update_count()
        self.show_empty_state(folders)
        if selected:
            self.select_path(selected)

    def show_empty_state(self, folders: list[str]) -> None:
        """The greeting (or why nothing is listed) while the library has no tracks, else the table."""
        empty = self.model.rowCount() == 0
        if empty:
            self.welcome.show_state(folders)
        self.pages.setCurrentWidget(self.welcome if empty else self.table)

    def hide_predictions(self, hide: bool) -> None:
        """Hide the model's columns (a calibration session), or show again those that were shown."""
        for col, name in enumerate(COLUMNS):
            if name in PREDICTION_COLUMNS:
                if hide and name not in self._shown_before:
                    self._shown_before[name] = not self.table.isColumnHidden(col)
                    self.table.setColumnHidden(col, True)
                elif not hide and self._shown_before.pop(name, False):
                    self.table.setColumnHidden(col, False)
        self.fit_title()

    def _activate(self, index) -> None:
        self.track_activated.emit(self.path_at(index.row()))

    def add_button(self, button: QPushButton) -> None:
        self.buttons.addWidget(button)

    def path_at(self, proxy_row: int) -> str:
        src = self.proxy.mapToSource(self.proxy.index(proxy_row, 0))
        return self.model.rows[src.row()].path if src.isValid() else ""

    def shown_track_ids(self) -> list[int]:
        """The library ids of the tracks the table shows now (its search applied)."""
        rows = (self.proxy.mapToSource(self.proxy.index(r, 0)) for r in range(self.proxy.rowCount()))
        return [self.model.rows[src.row()].id for src in rows if src.isValid()]

    def current_row(self) -> int:
        rows = self.table.selectionModel().selectedRows()
        return rows[0].row() if rows else -1

    def select_path(self, path: str) -> None:
        src = self.model.row_for_path(path)
        if src < 0:
            return
        idx = self.proxy.mapFromSource(self.model.index(src, 0))
        if idx.isValid():
            self.table.selectRow(idx.row())
            self.table.scrollTo(idx)

    def neighbour(self, path: str, step: int) -> str:
        """The track ``step`` rows away in the current sort and filter, or ""."""
        src = self.model.row_for_path(path)
        row = self.proxy.mapFromSource(self.model.index(src, 0)).row() if src >= 0 else self.current_row()
        target = row + step if row >= 0 else 0
        return self.path_at(target) if 0 <= target < self.proxy.rowCount() else ""

    def show_progress(self, text: str | None, done: int = 0, total: int = 0) -> None:
        visible = text is not None
        for w in (self.progress_label, self.progress, self.cancel):
            w.setVisible(visible)
        if text is not None:
            self.progress_label.setText(text)
            self.progress.setRange(0, max(total, 1) if total else 0)
            self.progress.setValue(done)
