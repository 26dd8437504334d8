"""Bind a :class:`Document` to a napari Labels layer.

The layer is the document on disk and in napari's eyes: its ``metadata``
carries ``Document.to_dict()`` and its ``features`` one row per instance (so
the status bar names the class under the cursor). A :class:`LayerBinding`
keeps both in step with the live document, draws every instance in its class
colour, and drives the instance workflow (:mod:`napari_segtool.model.workflow`)
with the layer's events: pick a class, paint, and the new label id becomes an
instance of that class.

Pixel counts are kept up to date from napari's history atoms (the ``paint``
event after each stroke carries them; undo/redo replay the same items), so no
stroke ever costs a scan of the whole image. The binding keeps the items of
the steps napari can still undo or redo (no more than napari's own limit),
and applies one only when napari's history really moved. Should napari's
history change shape (:data:`compat.UNDO_HISTORY` fails its check), every
edit and undo is counted from scratch instead, with a warning.
"""

from __future__ import annotations

import time
import warnings
import weakref
from collections import Counter, deque
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import numpy as np
import pandas as pd
from napari.layers import Image, Labels
from psygnal import Signal

from napari_segtool._napari import compat
from napari_segtool._napari.canvas_tool import canvas_tool_active
from napari_segtool._napari.compat import unwrap
from napari_segtool._napari.lock_guard import install_lock_guard
from napari_segtool._napari.painter import PaintResult, paint
from napari_segtool.model.chunked_labels import ChunkedLabels, is_large
from napari_segtool.model.colours import UNASSIGNED_COLOUR as UNASSIGNED_COLOUR  # re-export
from napari_segtool.model.colours import colour_dict, label_colour
from napari_segtool.model.colours import instance_colour as instance_colour  # re-export
from napari_segtool.model.document import METADATA_KEY, Document, DocumentError
from napari_segtool.model.label_store import label_store
from napari_segtool.model.ontology import Ontology
from napari_segtool.model.workflow import InstanceWorkflow, Settled
from napari_segtool.tools.edit import ProposedEdit

_bindings: weakref.WeakKeyDictionary[Labels, LayerBinding] = weakref.WeakKeyDictionary()

# The clock of annotating time; its own name so a test can drive it without
# touching the clocks of autosave and Qt timers.
edit_clock = time.monotonic
#: a pause between two edits longer than this is a break, not labelling time
IDLE_SECONDS = 120.0


def is_segmentation_layer(layer: Any) -> bool:
    return isinstance(layer, Labels) and isinstance(layer.metadata.get(METADATA_KEY), dict)


def segmentation_layer_kwargs(document: Document, name: str, **kwargs: Any) -> dict[str, Any]:
    """Layer kwargs for a new segmentation Labels layer carrying ``document``."""
    return {
        "name": name,
        "metadata": {METADATA_KEY: document.to_dict()},
        "features": pd.DataFrame(document.feature_columns()),
        "colormap": compat.instance_colormap(colour_dict(document)),
        **kwargs,
    }


#: axis labels that name an image's channel axis (dropped from its segmentation)
CHANNEL_AXIS_LABELS = frozenset({"c", "ch", "channel", "channels"})


def segmentation_layer_for_image(
    image: Image, ontology: Ontology, name: str | None = None
) -> tuple[np.ndarray | ChunkedLabels, dict[str, Any], str]:
    """A layer data tuple: empty labels over ``image``'s spatial and time axes.

    Labels too large for memory (:func:`~napari_segtool.model.chunked_labels.is_large`)
    are an empty :class:`ChunkedLabels` chunked like the image, for
    :func:`~napari_segtool._napari.large_segmentation.open_large_segmentation`.

    An RGB(A) axis and an axis labelled as channels (``c``, ``channel``) are
    dropped; every other axis keeps its size, scale, translate, unit and label,
    so the labels lie exactly over the image in 2-D to 5-D. An instance is one
    label id however many slices or frames it spans.
    """
    data = image.data[0] if image.multiscale else image.data
    axes = segmentation_axes(image)
    shape = tuple(int(data.shape[axis]) for axis in axes)
    document = Document(ontology=ontology, source=image_source(image))
    kwargs = segmentation_layer_kwargs(
        document,
        name or f"{image.name} segmentation",
        scale=[image.scale[axis] for axis in axes],
        translate=[image.translate[axis] for axis in axes],
        axis_labels=[image.axis_labels[axis] for axis in axes],
        units=[image.units[axis] for axis in axes],
    )
    if is_large(shape, np.uint32):
        # a window of it is shown and painted; nothing is allocated up front
        return ChunkedLabels.create(shape, **_chunking_like(image)), kwargs, "labels"
    return np.zeros(shape, dtype=np.uint32), kwargs, "labels"


def _chunking_like(image: Image) -> dict:
    """Chunks and pyramid levels for an image's chunked segmentation: the image's own,
    along the segmentation's axes, where the image has them."""
    axes = segmentation_axes(image)
    levels = list(image.data) if image.multiscale else [image.data]
    options: dict = {}
    chunks = _chunk_sizes(levels[0])
    if chunks is not None:
        options["chunks"] = tuple(chunks[axis] for axis in axes)
    if len(levels) > 1:
        options["level_shapes"] = [tuple(int(lv.shape[axis]) for axis in axes) for lv in levels]
    return options


def _chunk_sizes(array) -> tuple[int, ...] | None:
    chunks = getattr(array, "chunks", None)
    if not chunks:
        return None
    # dask gives the size of every chunk along each axis; zarr the one size
    return tuple(int(c[0]) if isinstance(c, tuple) else int(c) for c in chunks)


def segmentation_axes(image: Image) -> list[int]:
    """The layer axes of ``image`` that its segmentation has: all but a channel axis.

    napari counts an RGB(A) axis out of the layer's axes already.
    """
    kept = [
        axis
        for axis, label in enumerate(image.axis_labels)
        if str(label).strip().lower() not in CHANNEL_AXIS_LABELS
    ]
    # a plane needs two axes: labels that call one of them "c" name no channel axis
    return kept if len(kept) >= 2 else list(range(image.ndim))


def image_source(image: Image) -> dict[str, Any]:
    path = image.source.path if image.source is not None else None
    return {"image_name": image.name, "image_path": str(path) if path else None}


def document_of(layer: Labels) -> Document:
    """The live document of a segmentation layer, bound on first use."""
    return binding_of(layer).document


def bound_layers() -> list[Labels]:
    """Layers that have a live document bound (the writer finds its layer among them)."""
    return list(_bindings)


def binding_of(layer: Labels) -> LayerBinding:
    layer = unwrap(layer)
    binding = _bindings.get(layer)
    return binding if binding is not None else bind(layer)


def bind(layer: Labels, document: Document | None = None) -> LayerBinding:
    """Attach ``document`` (or the one in the layer's metadata) to ``layer``."""
    layer = unwrap(layer)
    if document is None:
        raw = layer.metadata.get(METADATA_KEY)
        if raw is None:
            raise DocumentError(f"layer {layer.name!r} is not a segmentation layer")
        document = Document.from_dict(raw)
    old = _bindings.pop(layer, None)
    if old is not None:
        old.disconnect()
    binding = LayerBinding(layer, document)
    _bindings[layer] = binding
    return binding


class LayerBinding:
    """One segmentation layer's live state: document, pixel counts, current class."""

    #: a label id got its first pixels and became an instance (after the stroke)
    instance_created = Signal(int)
    #: the pixel counts of these label ids changed (a frozenset)
    counts_changed = Signal(object)
    #: the current class or the selected label changed
    current_changed = Signal()
    #: pixels changed in these boxes (a list of slice tuples; ``None``: anywhere), emitted
    #: before the counts; from napari's history atoms of a stroke, an undo or a redo
    pixels_changed = Signal(object)
    #: ``layer.data`` now shows another part of the same segmentation (:meth:`data_moved`)
    data_moved_to = Signal()

    def __init__(self, layer: Labels, document: Document):
        self._layer_ref = weakref.ref(layer)
        self.document = document
        #: the rules: current class, pending id, pixel counts, which ids are instances
        self.workflow = InstanceWorkflow(document)
        self._colours: dict[int | None, np.ndarray] = {}
        #: where each instance sits in the stored document and the features table
        self._stored_positions: dict[int, int] = {}
        self._feature_rows: dict[int, int] = {}
        self._last_selected = int(layer.selected_label)
        self._last_edit: float | None = None
        #: inside :meth:`data_moved`: ``layer.data`` is another view of the same pixels
        self._moving = False
        #: counts every label from scratch (``None``: a scan of ``layer.data``); a layer
        #: showing a window of a larger segmentation counts the whole segmentation
        self.full_counts: Callable[[], dict[int, int]] | None = None
        #: ``check(label_ids, action)`` raises :class:`DocumentError` when an edit of whole
        #: instances (delete, merge, clean-up) cannot see all their pixels (a window)
        self.whole_instance_check: Callable[[list[int], str], None] | None = None
        #: ``counts_changed`` now tells of a count, not of an edit (:meth:`set_counts`)
        self.counting_only = False
        self._doc_connections = [
            (document.instance_added, self._on_instance_event),
            (document.instance_removed, self._on_instance_event),
            (document.instance_changed, self._on_instance_changed),
            (document.image_answers_changed, self.sync_metadata),
            (document.ontology_changed, self._on_ontology_changed),
        ]
        for signal, slot in self._doc_connections:
            signal.connect(slot)
        self._layer_connections = [
            (layer.events.paint, self._on_paint),
            (layer.events.data, self._on_data_replaced),
            (layer.events.selected_label, self._on_selected_label),
        ]
        for emitter, slot in self._layer_connections:
            emitter.connect(slot)
        # napari's undo/redo fire no ``paint`` event; mirror its history items
        # (each ``paint`` carries one) and replay their counts when undo/redo run.
        self._history_readable = _history_readable(type(layer))
        limit = compat.history_limit(layer) if self._history_readable else 0
        self._undo_items: deque = deque(maxlen=limit)
        self._redo_items: deque = deque(maxlen=limit)
        compat.wrap_undo_redo(layer, self, self._on_history_step)
        self.recount()
        self.sync_all()
        # locked and hidden instances are protected on this layer from now on
        self.lock_guard = install_lock_guard(layer, document)

    @property
    def layer(self) -> Labels | None:
        return self._layer_ref()

    # the workflow's state, under the names the widgets and tests use
    @property
    def pixel_counts(self) -> dict[int, int]:
        return self.workflow.pixel_counts

    @pixel_counts.setter
    def pixel_counts(self, counts: dict[int, int]) -> None:
        self.workflow.pixel_counts = counts

    @property
    def current_class_id(self) -> str | None:
        return self.workflow.current_class_id

    @current_class_id.setter
    def current_class_id(self, schema_id: str | None) -> None:
        self.workflow.current_class_id = schema_id

    @property
    def pending_label_id(self) -> int | None:
        return self.workflow.pending_label_id

    @property
    def retired_ids(self) -> set[int]:
        return self.workflow.retired_ids

    def disconnect(self) -> None:
        if self.lock_guard is not None:
            self.lock_guard.uninstall()
        for signal, slot in self._doc_connections:
            signal.disconnect(slot)
        layer = self.layer
        if layer is not None:
            for emitter, slot in self._layer_connections:
                emitter.disconnect(slot)
            compat.unwrap_undo_redo(layer, self)

    # -- instance workflow ----------------------------------------------------
    @property
    def current_label_id(self) -> int:
        layer = self.layer
        return int(layer.selected_label) if layer is not None else 0

    def start_instance(self, schema_id: str | None = None, *, switch_mode: bool = True) -> int:
        """Select a class and hand out a fresh label id for its next instance.

        The layer goes to paint mode (unless ``switch_mode`` is False) with
        that id selected; the instance is created when the id gets pixels. An
        id handed out and never painted is reused, so picking a class twice
        does not burn ids.
        """
        layer = self.layer
        pending = self.workflow.pick_class(schema_id)
        if layer is not None:
            layer.selected_label = pending
            keep = ("paint", "fill", "polygon")
            if switch_mode and layer.mode not in keep and not canvas_tool_active(layer):
                layer.mode = "paint"
        self._update_colour(pending)
        self.current_changed.emit()
        return pending

    def select_instance(self, label_id: int) -> None:
        """Make ``label_id`` the label napari paints with, and its class current."""
        self.workflow.select(label_id)
        layer = self.layer
        if layer is not None:
            layer.selected_label = label_id
        self.current_changed.emit()

    def visible_instance_ids(self) -> list[int]:
        """Instances that have pixels now, in id order (what the table lists)."""
        return self.workflow.visible_instance_ids()

    def unassigned_ids(self) -> list[int]:
        """Label ids with pixels that belong to no instance (assign them a class)."""
        return self.workflow.unassigned_ids()

    def assign(self, label_id: int, schema_id: str) -> None:
        """Give a class to a painted id the document does not know."""
        self.workflow.assign(label_id, schema_id)
        self.counts_changed.emit(frozenset({label_id}))

    # -- the plugin's own edits (each one undoable napari step, through the painter) ----
    def delete_instance(self, label_id: int) -> PaintResult:
        """Clear an instance's pixels in one undoable step.

        The document keeps the instance (class, answers, featureId), so napari's
        undo brings the object back whole; an instance without pixels is not
        listed and not exported.
        """
        self._refuse_locked([label_id], "delete")
        return self.erase_instances([label_id])

    def merge_instances(self, target: int, others: list[int]) -> PaintResult:
        """Repaint ``others`` with ``target``'s id (same class only), one undoable step.

        The merge writes exactly over the merged instances' pixels, so draw to
        back (which keeps painting off existing objects) does not block it.
        """
        document = self.document
        schema_id = document.instance(target).schema_id
        others = [i for i in others if i != target]
        different = [i for i in others if document.instance(i).schema_id != schema_id]
        if different:
            raise DocumentError(
                f"only instances of one class can be merged; {different} are of another class"
            )
        self._refuse_locked([target, *others], "merge")
        return self._set_pixels(others, target)

    def change_class(self, label_id: int, schema_id: str) -> None:
        self._refuse_locked([label_id], "change the class of")
        if self.workflow.change_class(label_id, schema_id):
            self.current_changed.emit()

    def remove_class_instances(self, schema_id: str) -> PaintResult:
        """Erase and drop the instances of a class that is being removed.

        Their ids are retired: napari's undo brings the pixels back unassigned.
        Locked or hidden instances with pixels refuse it (:class:`DocumentError`,
        nothing changes): the lock guard would keep their pixels, and dropping
        them from the document would leave those pixels without a class.
        """
        ids = [i.label_id for i in self.document.instances_of_class(schema_id)]
        self._refuse_locked([i for i in ids if self.pixel_counts.get(i, 0) > 0], "remove")
        result = self.erase_instances(ids)
        self.workflow.remove_class_instances(schema_id)
        return result

    def erase_instances(self, label_ids: list[int]) -> PaintResult:
        """Erase exactly the pixels of ``label_ids`` (protected ones are kept), one step."""
        return self._set_pixels(label_ids, 0)

    def instance_pixels(self, label_ids: list[int]) -> tuple[np.ndarray, ...]:
        """Indices of the pixels of ``label_ids`` (one pass; for user actions only)."""
        return label_store(self.layer.data).pixels_of(label_ids)

    def _set_pixels(self, label_ids: list[int], value: int) -> PaintResult:
        """Repaint the pixels of ``label_ids`` with ``value`` through the painter.

        The edit replaces only those labels, so draw to back does not apply;
        locked and hidden pixels are kept (the result counts them).
        """
        layer = self.layer
        if layer is None or not label_ids:
            return PaintResult()
        self.check_whole_instances(label_ids, "change")
        edit = ProposedEdit.from_indices(
            self.instance_pixels(label_ids), value, replaces=frozenset(label_ids)
        )
        return paint(layer, edit) if edit is not None else PaintResult()

    def check_whole_instances(self, label_ids: list[int], action: str) -> None:
        """Refuse (:class:`DocumentError`) an edit of whole instances the layer does not hold
        whole: on a window of a larger segmentation, those reaching outside it."""
        if self.whole_instance_check is not None and label_ids:
            self.whole_instance_check(list(label_ids), action)

    def _refuse_locked(self, label_ids: list[int], action: str) -> None:
        """The dock's own edits stop at protected instances, as the brush does."""
        document = self.document
        locked = [i for i in label_ids if document.is_locked(i)]
        if locked:
            raise DocumentError(f"cannot {action} locked instance(s) {locked}: unlock first")
        guard = self.lock_guard
        hidden = [i for i in label_ids if guard is not None and guard.is_protected(i)]
        if hidden:
            raise DocumentError(f"cannot {action} hidden instance(s) {hidden}: show them first")

    # -- pixel counts ------------------------------------------------------------
    def recount(self) -> None:
        """Count every label from scratch (on bind and when the data is replaced)."""
        layer = self.layer
        if layer is None:
            return
        if self.full_counts is not None:
            self.pixel_counts = self.full_counts()
            return
        self.pixel_counts = label_store(layer.data).counts()

    def set_counts(self, counts: dict[int, int]) -> None:
        """Replace every pixel count (e.g. a background count of a whole segmentation
        ended); listeners are told about every id whose count may have changed."""
        old = set(self.pixel_counts)
        self.pixel_counts = {int(k): int(v) for k, v in counts.items() if int(k) and v > 0}
        self.counting_only = True  # not an edit: autosave and the close guard ignore it
        try:
            self._settle(old | set(self.pixel_counts))
        finally:
            self.counting_only = False

    @contextmanager
    def data_moved(self) -> Iterator[None]:
        """``layer.data`` is being replaced by another part of the same segmentation.

        A window over a segmentation larger than memory moves this way: the
        pixel counts (of the whole segmentation, kept by deltas) stay right,
        so the replacement is not a "data replaced" event: no recount, no
        ``pixels_changed`` or ``counts_changed`` (autosave sees no edit). The
        undo history (napari's and the binding's mirror of it) is cleared on
        exit: its atoms point into the old pixels.
        """
        self._moving = True
        try:
            yield
        finally:
            self._moving = False
            self._undo_items.clear()
            self._redo_items.clear()
            layer = self.layer
            if layer is not None:
                compat.clear_undo_history(layer)
            self.data_moved_to.emit()

    def _on_history_step(self, forward: bool) -> None:
        """napari undid (or redid) one step: replay that step's counts backwards (forwards)."""
        undo, redo = self._undo_items, self._redo_items
        source, target = (redo, undo) if forward else (undo, redo)
        if not source:
            # a step from before this binding (or napari's check failed): count afresh
            self._recount_and_settle()
            return
        item = source.pop()
        target.append(item)
        self._emit_boxes(item)
        self._apply_delta(_history_delta(item, forward=forward))

    def _on_paint(self, event) -> None:
        self._count_annotating_time()
        if not self._history_readable:
            self._recount_and_settle()
            return
        self._undo_items.append(event.value)
        self._redo_items.clear()
        self._emit_boxes(event.value)
        self._apply_delta(_history_delta(event.value, forward=True))

    def _emit_boxes(self, item) -> None:
        layer = self.layer
        if layer is not None:
            self.pixels_changed.emit(compat.history_boxes(item, tuple(layer.data.shape)))

    def _recount_and_settle(self) -> None:
        self.pixels_changed.emit(None)
        self.recount()
        self._settle(set(self.pixel_counts) | set(self.document.instances))

    def _count_annotating_time(self) -> None:
        """Add the time since the previous edit to ``seconds_to_label`` (Labelbox's field).

        Gaps longer than ``IDLE_SECONDS`` count as a break, not as labelling.
        Written into the metadata dict in place: no full sync on every stroke.
        """
        now = edit_clock()
        previous, self._last_edit = self._last_edit, now
        if previous is None or now - previous > IDLE_SECONDS:
            return
        source = self.document.source
        source["seconds_to_label"] = round(source.get("seconds_to_label", 0.0) + now - previous, 3)
        layer = self.layer
        stored = layer.metadata.get(METADATA_KEY) if layer is not None else None
        if isinstance(stored, dict) and isinstance(stored.get("source"), dict):
            stored["source"]["seconds_to_label"] = source["seconds_to_label"]

    def _on_data_replaced(self, _event=None) -> None:
        if self._moving:
            return  # see data_moved
        self._undo_items.clear()
        self._redo_items.clear()
        self._recount_and_settle()

    def _apply_delta(self, delta: Counter) -> None:
        self._announce(self.workflow.apply_delta(delta))

    def _settle(self, changed: set[int]) -> None:
        """Register ids that got pixels for the first time, then tell listeners."""
        self._announce(self.workflow.settle(changed))

    def _announce(self, settled: Settled) -> None:
        if settled.changed:
            self.counts_changed.emit(settled.changed)
        for label_id in settled.created:
            self.instance_created.emit(label_id)

    def _on_selected_label(self, _event=None) -> None:
        label_id = self.current_label_id
        if label_id == self._last_selected:
            return  # napari re-emits it on colormap changes
        self._last_selected = label_id
        for recoloured in self.workflow.label_selected(label_id):
            self._update_colour(recoloured)
        self.current_changed.emit()

    # -- keeping the layer in step ------------------------------------------------
    def _on_instance_event(self, label_id: int) -> None:
        self.sync_metadata()
        self._sync_features()
        self._update_colour(label_id)

    def _on_instance_changed(self, label_id: int) -> None:
        """One instance's answers, class, lock or visibility: update its entries in place.

        Answer edits are frequent; rewriting the whole document and features
        table for each would cost time in proportion to the instance count.
        """
        if not self._update_stored_instance(label_id):
            self.sync_metadata()
            self._sync_features()
        self._update_colour(label_id)

    def _update_stored_instance(self, label_id: int) -> bool:
        layer = self.layer
        stored = layer.metadata.get(METADATA_KEY) if layer is not None else None
        position = self._stored_positions.get(label_id)
        row = self._feature_rows.get(label_id)
        if not isinstance(stored, dict) or position is None or row is None:
            return False
        entries = stored.get("instances")
        features = layer.features
        if (
            not isinstance(entries, list)
            or position >= len(entries)
            or entries[position].get("label_id") != label_id
            or row >= len(features)
            or features["index"].iat[row] != label_id
        ):
            return False
        # replaced, never changed in place: autosave.frozen_document relies on it
        entries[position] = self.document.instance(label_id).to_dict()
        for key, value in self.document.feature_row(label_id).items():
            features.iloc[row, features.columns.get_loc(key)] = value
        layer.events.features()  # changed in place: the status bar reads them again
        return True

    def _sync_features(self) -> None:
        layer = self.layer
        if layer is None:
            return
        columns = self.document.feature_columns()
        layer.features = pd.DataFrame(columns)
        self._feature_rows = {label_id: row for row, label_id in enumerate(columns["index"])}

    def _on_ontology_changed(self) -> None:
        self.workflow.ontology_changed()
        self.sync_all()
        self.current_changed.emit()

    def sync_metadata(self) -> None:
        layer = self.layer
        if layer is not None:
            stored = self.document.to_dict()
            layer.metadata[METADATA_KEY] = stored
            self._stored_positions = {
                entry["label_id"]: n for n, entry in enumerate(stored["instances"])
            }

    def sync_all(self) -> None:
        layer = self.layer
        if layer is None:
            return
        self.sync_metadata()
        self._sync_features()
        self._colours = colour_dict(self.document)
        self._apply_colours()

    def _update_colour(self, label_id: int) -> None:
        """Recolour one id; the colormap is rebuilt only if its colour really changed."""
        workflow = self.workflow
        wanted = label_colour(
            self.document, label_id, workflow.pending_label_id, workflow.current_class_id
        )
        current = self._colours.get(label_id)
        if wanted is None:
            if current is None:
                return
            del self._colours[label_id]
        elif current is not None and np.array_equal(current, wanted):
            return
        else:
            self._colours[label_id] = wanted
        self._apply_colours()

    def _apply_colours(self) -> None:
        """Give napari a new colormap (editing the old one in place shows nothing)."""
        layer = self.layer
        if layer is None:
            return
        layer.colormap = compat.instance_colormap(dict(self._colours))


class CountsFromScratchWarning(RuntimeWarning):
    """napari's undo history cannot be read: pixel counts are recounted on every edit."""


def _history_readable(layer_class: type) -> bool:
    reason = compat.problem(compat.UNDO_HISTORY, layer_class)
    if reason is not None:
        warnings.warn(
            f"napari {compat.napari_version()} changed its undo history ({reason}); "
            "napari-segtool counts pixels from scratch after every edit, which is slow "
            f"on large images. Use napari{compat.TESTED_NAPARI_TEXT} or a newer napari-segtool.",
            CountsFromScratchWarning,
            stacklevel=3,
        )
    return reason is None


def _history_delta(item, forward: bool) -> Counter:
    """Per-label pixel-count change of a napari history item (a list of atoms).

    A brush stroke is one atom per dab: the painted label of each is counted
    by its size, and the old values of all dabs are counted in one pass.
    """
    delta: Counter = Counter()
    varied: dict[int, list[np.ndarray]] = {-1: [], 1: []}
    for old_values, new_values in compat.history_changes(item):
        before, after = (old_values, new_values) if forward else (new_values, old_values)
        for values, sign in ((before, -1), (after, 1)):
            if not values.size:
                continue
            if values.strides == (0,):  # one label (a mask tool's new value)
                delta[int(values[0])] += sign * values.size
            else:
                varied[sign].append(values)
    for sign, arrays in varied.items():
        if arrays:
            values = arrays[0] if len(arrays) == 1 else np.concatenate(arrays)
            for label_id, count in label_store(values).counts().items():
                delta[label_id] += sign * count
    return delta
