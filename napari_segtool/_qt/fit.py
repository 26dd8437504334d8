"""Sizes that follow content: item views as tall as their rows, a scroll area as wide as its page.

Qt's defaults suit neither the dock's short lists (a tree of four classes gets
the height of a dozen rows, pushing the questions below the fold) nor a dock
in a main window (a scroll area may be squeezed to a sliver, which is what
napari restores when it remembered a small width).
"""

from __future__ import annotations

from qtpy.QtCore import QEvent, QSize, QTimer
from qtpy.QtWidgets import QAbstractItemView, QDockWidget, QScrollArea, QTreeView, QWidget


class ContentWidthScrollArea(QScrollArea):
    """A vertical scroll area never narrower than its page's minimum width.

    Its minimum size hint is what a dock widget (and the main window's dock
    area) holds on to, so the dock cannot be made, or restored, narrower than
    its content.
    """

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.setWidgetResizable(True)

    def minimumSizeHint(self) -> QSize:
        hint = super().minimumSizeHint()
        page = self.widget()
        if page is None:
            return hint
        width = (
            page.minimumSizeHint().width()
            + self.verticalScrollBar().sizeHint().width()
            + 2 * self.frameWidth()
        )
        return QSize(max(hint.width(), width), hint.height())

    def eventFilter(self, watched, event) -> bool:
        # the page's minimum width changes as sections show and hide
        if watched is self.widget() and event.type() == QEvent.Type.LayoutRequest:
            self._minimum_changed()
        return super().eventFilter(watched, event)

    def _minimum_changed(self) -> None:
        self.updateGeometry()
        # A dock widget keeps the largest minimum its content ever had (napari's
        # stylesheet, applied after the dock is built, makes buttons narrower),
        # so it is told the current one.
        dock = self.parentWidget()
        while dock is not None and not isinstance(dock, QDockWidget):
            dock = dock.parentWidget()
        if dock is not None:
            dock.setMinimumWidth(self.minimumSizeHint().width())


def fit_to_rows(view: QAbstractItemView, min_rows: int, max_rows: int) -> None:
    """Keep ``view`` as tall as its visible rows, between ``min_rows`` and ``max_rows``.

    Beyond ``max_rows`` the view scrolls. Rows are counted again whenever the
    model's rows change or a tree branch opens or closes.
    """
    timer = QTimer(view)
    timer.setSingleShot(True)
    timer.setInterval(0)  # one count after a burst of inserts (a tree being rebuilt)

    def refit(*_args) -> None:
        rows = min(max(visible_rows(view), min_rows), max_rows)
        view.setFixedHeight(rows_height(view, rows))

    timer.timeout.connect(refit)
    model = view.model()
    for signal in (
        model.rowsInserted,
        model.rowsRemoved,
        model.modelReset,
        model.layoutChanged,
    ):
        signal.connect(timer.start)
    if isinstance(view, QTreeView):
        view.expanded.connect(timer.start)
        view.collapsed.connect(timer.start)
    refit()


def visible_rows(view: QAbstractItemView) -> int:
    """Rows on show: a tree's open branches count, a table's rows all do."""
    model = view.model()
    if not isinstance(view, QTreeView):
        return model.rowCount()
    count = 0
    index = model.index(0, 0)
    while index.isValid():
        count += 1
        index = view.indexBelow(index)
    return count


def row_height(view: QAbstractItemView) -> int:
    header = getattr(view, "verticalHeader", None)
    if header is not None:
        return header().defaultSectionSize()
    model = view.model()
    measured = view.sizeHintForRow(0) if model.rowCount() else -1
    return measured if measured > 0 else view.fontMetrics().height() + 4


def rows_height(view: QAbstractItemView, rows: int) -> int:
    """The height that shows ``rows`` rows, the header and the frame."""
    header = view.header() if isinstance(view, QTreeView) else view.horizontalHeader()
    header_height = header.sizeHint().height() if not header.isHidden() else 0
    return header_height + rows * row_height(view) + 2 * view.frameWidth()
