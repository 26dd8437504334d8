"""The dock's "unsaved work found" banner: restore or discard a recovery file.

It also says when an autosave failed (a full disk, a folder that went away):
the autosaver reports from its own thread, and the banner's slots run on the
Qt main thread (``superqt.ensure_main_thread``).
"""

from __future__ import annotations

import contextlib

from qtpy.QtCore import Signal
from qtpy.QtWidgets import (
    QFrame,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QSizePolicy,
    QVBoxLayout,
    QWidget,
)
from superqt.utils import ensure_main_thread

from napari_segtool._napari.autosave import (
    Autosaver,
    check_recovery,
    live_recovery_paths,
    restore_recovery,
)
from napari_segtool._napari.binding import LayerBinding
from napari_segtool.formats import recovery
from napari_segtool.formats.recovery import RecoveryError, RecoveryInfo


def describe(info: RecoveryInfo) -> str:
    when = info.saved_at_local.strftime("%d %b %Y, %H:%M")
    count = info.instance_count
    return (
        f"Unsaved work from <b>{when}</b> ({count} instance{'s' if count != 1 else ''}) "
        "found for this image."
    )


class RecoveryBanner(QFrame):
    """Hidden until :meth:`offer_for` finds a recovery file for the layer's image."""

    #: the layer was restored; the new binding (the dock should follow it)
    restored = Signal(object)
    #: the user discarded the offered work
    discarded = Signal()
    #: restoring failed; the message (the layer is unchanged)
    failed = Signal(str)

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.binding: LayerBinding | None = None
        self.info: RecoveryInfo | None = None
        self.autosaver: Autosaver | None = None
        self.setObjectName("recoveryBanner")
        self.setFrameShape(QFrame.Shape.StyledPanel)
        self.setSizePolicy(QSizePolicy.Policy.Preferred, QSizePolicy.Policy.Maximum)
        # napari themes style QFrame; a warm border makes the offer noticeable
        self.setStyleSheet("#recoveryBanner { border: 2px solid #d9a52b; border-radius: 4px; }")
        self.message = QLabel()
        self.message.setWordWrap(True)
        self.restore_button = QPushButton("Restore")
        self.restore_button.setToolTip("Replace this layer's pixels and answers with that work")
        self.discard_button = QPushButton("Discard")
        self.discard_button.setToolTip("Delete the recovery file; the layer stays as it is")
        self.restore_button.clicked.connect(self.restore)
        self.discard_button.clicked.connect(self.discard)
        #: the last autosave failure (hidden while autosaves succeed)
        self.autosave_note = QLabel()
        self.autosave_note.setWordWrap(True)
        self.autosave_note.hide()
        buttons = QHBoxLayout()
        buttons.addStretch()
        buttons.addWidget(self.restore_button)
        buttons.addWidget(self.discard_button)
        layout = QVBoxLayout(self)
        layout.addWidget(self.message)
        layout.addLayout(buttons)
        layout.addWidget(self.autosave_note)
        self._offer_widgets = (self.message, self.restore_button, self.discard_button)
        self.hide()

    # -- autosave status -------------------------------------------------------------
    def follow(self, autosaver: Autosaver | None) -> None:
        """Show ``autosaver``'s failures (and clear them when a save succeeds)."""
        if self.autosaver is not None:
            self.autosaver.failed.disconnect(self._on_autosave_failed)
            self.autosaver.saved.disconnect(self._on_autosaved)
        self.autosaver = autosaver
        self.autosave_note.hide()
        if autosaver is not None:
            autosaver.failed.connect(self._on_autosave_failed)
            autosaver.saved.connect(self._on_autosaved)
        self._update_visibility()

    @ensure_main_thread
    def _on_autosave_failed(self, message: str) -> None:
        with contextlib.suppress(RuntimeError):  # the banner went with its dock meanwhile
            self.show_autosave_failure(message)

    @ensure_main_thread
    def _on_autosaved(self, _path) -> None:
        with contextlib.suppress(RuntimeError):
            if not self.autosave_note.isHidden():
                self.autosave_note.hide()
                self._update_visibility()

    def show_autosave_failure(self, message: str) -> None:
        self.autosave_note.setText(
            f"{message}. Your work is still in the layer; it is tried again after the next "
            "pause, or save it with File > Save Selected Layers."
        )
        self.autosave_note.show()
        self._update_visibility()

    def _update_visibility(self) -> None:
        offering = self.info is not None
        for widget in self._offer_widgets:
            widget.setVisible(offering)
        self.setVisible(offering or not self.autosave_note.isHidden())

    def offer_for(self, binding: LayerBinding | None, viewer=None) -> bool:
        """Show the offer if ``binding``'s image has newer unsaved work; True if shown."""
        self.binding = binding
        self.info = check_recovery(binding, viewer) if binding is not None else None
        if self.info is not None:
            self.message.setText(describe(self.info))
            self.restore_button.setEnabled(True)
            self.setToolTip(str(self.info.path))
        self._update_visibility()
        return self.info is not None

    def restore(self) -> LayerBinding | None:
        if self.binding is None or self.info is None:
            return None
        try:
            binding = restore_recovery(self.binding, self.info)
        except RecoveryError as err:
            self.message.setText(f"Cannot restore: {err.problem}")
            self.restore_button.setEnabled(False)
            self.failed.emit(str(err))
            return None
        self.binding, self.info = binding, None
        self._update_visibility()
        self.restored.emit(binding)
        return binding

    def discard(self) -> None:
        if self.info is None:
            return
        # older files for the same image are older versions of the same work
        info = self.info
        older = recovery.find_recoveries(
            info.path.parent, info.image_path, info.image_hash, exclude=live_recovery_paths()
        )
        recovery.discard([info.path, *(i.path for i in older)])
        self.info = None
        self._update_visibility()
        self.discarded.emit()
