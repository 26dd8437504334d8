"""Every private napari access of napari-segtool, and the one check that guards it.

The plugin needs a few napari internals (napari 0.9.2; ``pyproject.toml``
pins ``napari>=0.9.2,<0.10``). They all live here, behind small functions;
the rest of the package calls these and never a private napari name
(``tests/_napari/test_compat.py`` scans the package to keep it so).

What is used, and by whom
    - the lock guard wraps ``Labels._apply_mask_to_data`` (every mask tool's
      write: brush, eraser, fill, polygon, encircle) and ``data_setitem`` on
      the layer instance: :func:`wrap_paint_paths`;
    - the painter writes a box and a mask through napari's own
      ``_paint_region_with_mask`` (so napari records the undo atom, refreshes
      the display and caches of any array backend) and reads
      ``_get_shape_and_dims_to_paint`` and napari's draw-to-back source label:
      :func:`write_regions`, :func:`dims_to_paint`,
      :func:`preserve_labels_source`;
    - the pen swaps entries of the per-mode callback tables ``_drag_modes`` /
      ``_move_modes`` on the instance, reads the brush-stroke overlay and
      napari's mouse-to-data conversion: :func:`mode_callbacks` and the
      functions after it;
    - the binding keeps pixel counts from napari's undo history: it reads the
      history atoms (``_MaskedPaintAtom`` and the ``data_setitem`` 3-tuple),
      the history's depth and limit, and wraps ``undo``/``redo`` on the layer
      instance, relying on napari's undo sending no ``paint`` event:
      :func:`history_changes` and the functions after it; a window of a large
      segmentation that moves clears the layer's history (``_reset_history``,
      as napari does when a layer stops being editable): :func:`clear_undo_history`;
    - the layer-list guard shadows ``LayerList.remove_selected`` on the
      viewer's list (the GUI's delete paths call it):
      :func:`shadow_remove_selected`;
    - an image the main command reads itself (TIFF hyperstacks) records its file as
      napari's readers do, through ``napari.layers._source.layer_source``:
      :func:`opened_from`;
    - the close guard filters events of napari's Qt main window
      (``Window._qt_window``) and shadows its ``close(quit_app, confirm_need)``
      on the instance, so napari's own "Close window?" is not asked after the
      guard's question: :func:`qt_window`, :func:`shadow_window_close`;
    - plugin hooks receive napari's public-only proxies: :func:`unwrap`;
    - the instance colours are a ``DirectLabelColormap`` whose
      ``_data_to_texture`` remembers the texture value of each single label:
      napari converts the painted label once per brush dab, and its numpy
      path walks every key of the colour dict each time (5,000 instances:
      more than napari's whole dab): :func:`instance_colormap`.

The check
    :func:`problem` checks a *feature* (one of :data:`FEATURES`) the first
    time it is used, once per layer class: the names exist with the
    signatures this module was written for, and for the two writing paths a
    tiny probe layer is painted and undone. The first check also compares
    napari's version with the tested range and warns
    (:class:`NapariCompatWarning`) when it is outside. A feature that fails
    its check is switched off by its user with a clear warning (locks:
    ``LockGuardUnavailableWarning``; pen: ``PenUnavailableWarning``), or
    :func:`require` raises :class:`NapariCompatError` naming what changed.
"""

from __future__ import annotations

import inspect
import re
import warnings
import weakref
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    from napari.layers import Labels

#: the napari versions the private parts below were checked against: [low, high)
TESTED_NAPARI = ((0, 9, 2), (0, 10))
TESTED_NAPARI_TEXT = ">=0.9.2,<0.10"

#: the features :func:`problem` checks
PAINT_HOOK = "paint hook"
REGION_WRITES = "region writes"
MODE_CALLBACKS = "mode callbacks"
UNDO_HISTORY = "undo history"
LABEL_TEXTURES = "label textures"
FEATURES = (PAINT_HOOK, REGION_WRITES, MODE_CALLBACKS, UNDO_HISTORY, LABEL_TEXTURES)

HOOK_NAME = "_apply_mask_to_data"
#: the hook's parameters as of napari 0.9.2
HOOK_PARAMETERS = ("self", "data", "mask", "new_label", "volume_slice")
SETITEM_NAME = "data_setitem"
SETITEM_PARAMETERS = ("self", "indices", "value", "refresh")
_PAINT_REGION = "_paint_region_with_mask"
_PAINT_REGION_PARAMETERS = ("self", "slice_key", "mask", "new_label", "dims_to_paint", "refresh")
_MODE_TABLES = ("_drag_modes", "_move_modes")
_BRUSH_MODES = ("paint", "erase")
#: where a wrapper records who installed it (so only its owner removes it)
_OWNER = "_segtool_owner"


class NapariCompatWarning(RuntimeWarning):
    """napari is outside the versions napari-segtool was tested with."""


class NapariCompatError(RuntimeError):
    """A napari internal the plugin needs is gone or changed."""


# -- the one check ---------------------------------------------------------------------------
# (feature, layer class) -> None (usable) or why not
_problems: dict[tuple[str, type], str | None] = {}
_version_checked = False


def problem(feature: str, layer_class: type | None = None) -> str | None:
    """Why ``feature`` cannot be used on ``layer_class`` (None: it can). Checked once."""
    if feature not in _CHECKS:
        raise ValueError(f"unknown feature {feature!r}; one of {FEATURES}")
    check_version()
    if layer_class is None:
        from napari.layers import Labels

        layer_class = Labels
    key = (feature, layer_class)
    if key not in _problems:
        _problems[key] = _CHECKS[feature](layer_class)
    return _problems[key]


def require(feature: str, layer_class: type | None = None) -> None:
    """Raise :class:`NapariCompatError` if ``feature`` cannot be used."""
    reason = problem(feature, layer_class)
    if reason is not None:
        raise NapariCompatError(
            f"napari-segtool cannot use napari {napari_version()}'s {feature} ({reason}). "
            f"Use napari{TESTED_NAPARI_TEXT} or a newer napari-segtool."
        )


def check_version() -> None:
    """Warn once per process when napari is outside :data:`TESTED_NAPARI`."""
    global _version_checked
    if _version_checked:
        return
    _version_checked = True
    version = napari_version()
    if not is_tested_version(version):
        warnings.warn(
            f"napari-segtool was tested with napari{TESTED_NAPARI_TEXT}, not napari {version}. "
            "The napari internals it uses are checked before use; what changed is "
            "switched off with a warning.",
            NapariCompatWarning,
            stacklevel=3,
        )


def is_tested_version(version: str) -> bool:
    """Whether ``version`` (a napari version string, dev releases too) is in the tested range."""
    match = re.match(r"(\d+)\.(\d+)(?:\.(\d+))?", version)
    if match is None:
        return False
    number = tuple(int(part or 0) for part in match.groups())
    low, high = TESTED_NAPARI
    return low <= number < high


def napari_version() -> str:
    try:
        import napari

        return napari.__version__
    except Exception:  # pragma: no cover - napari is a dependency
        return "(unknown)"


def forget_checks() -> None:
    """Check every feature afresh on next use (tests that change napari call this)."""
    global _version_checked
    _problems.clear()
    _version_checked = False


def _parameters_problem(layer_class: type, name: str, expected: tuple[str, ...], exact: bool):
    function = getattr(layer_class, name, None)
    if not callable(function):
        return f"Labels.{name} is gone"
    try:
        parameters = tuple(inspect.signature(function).parameters)
    except (TypeError, ValueError):
        return f"the signature of Labels.{name} cannot be read"
    if (parameters if exact else parameters[: len(expected)]) != expected:
        return f"Labels.{name}{parameters} is not Labels.{name}{expected}"
    return None


def _paint_hook_problem(layer_class: type) -> str | None:
    for name, expected in ((HOOK_NAME, HOOK_PARAMETERS), (SETITEM_NAME, SETITEM_PARAMETERS)):
        reason = _parameters_problem(layer_class, name, expected, exact=True)
        if reason is not None:
            return reason
    return _paint_hook_probe(layer_class)


def _paint_hook_probe(layer_class: type) -> str | None:
    """Paint a 6x6 layer through every mask tool with label 1 masked out by the hook."""

    def keep_ones(call_original):
        def apply(data, mask, new_label, volume_slice):
            mask = mask & (data != 1)
            return call_original(data, mask, new_label, volume_slice) if mask.any() else None

        return apply

    def keep_ones_setitem(call_original):
        def setitem(indices, value, refresh=True):
            keep = np.asarray(layer.data[indices]) != 1
            return call_original(tuple(np.asarray(i)[keep] for i in indices), value, refresh)

        return setitem

    start = np.zeros((6, 6), dtype=np.uint8)
    start[2:4, 2:4] = 1
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            layer = layer_class(start.copy())
            owner = object()
            patches = wrap_paint_paths(layer, owner, keep_ones, keep_ones_setitem)
            layer.brush_size = 5
            layer.paint((2, 2), 2)
            layer.fill((0, 5), 3)
            layer.paint_polygon([(0, 0), (0, 5), (5, 5), (5, 0)], 4)
            layer.data_setitem((np.array([2, 0]), np.array([2, 0])), 5)
            painted = np.asarray(layer.data).copy()
            for _ in range(4):
                layer.undo()
            undone = np.asarray(layer.data).copy()
            unwrap_paint_paths(layer, owner, patches)
    except Exception as error:  # any failure means the internals moved
        return f"probe failed: {type(error).__name__}: {error}"
    if not np.array_equal(painted[2:4, 2:4], start[2:4, 2:4]):
        return "protected pixels changed in the probe"
    if not (painted == 5).any() or not (painted == 4).any():
        return "the probe painted nothing"
    if not np.array_equal(undone, start):
        return "undo did not restore the probe exactly"
    return None


def _region_writes_problem(layer_class: type) -> str | None:
    reason = _parameters_problem(layer_class, _PAINT_REGION, _PAINT_REGION_PARAMETERS, exact=False)
    if reason is not None:
        return reason
    for helper in (
        "_partial_labels_refresh",
        "_get_shape_and_dims_to_paint",
        "_get_preserve_labels_source_label",
    ):
        if not callable(getattr(layer_class, helper, None)):
            return f"Labels.{helper} is gone"
    return _region_writes_probe(layer_class)


def _region_writes_probe(layer_class: type) -> str | None:
    """Write over a label with draw to back on: exactly the mask, one undo step."""
    start = np.zeros((4, 4), dtype=np.uint8)
    start[0] = 1
    mask = np.zeros((2, 4), dtype=bool)
    mask[:, 1:] = True
    steps = []
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            layer = layer_class(start.copy())
            layer.preserve_labels = True
            layer.events.paint.connect(steps.append)
            with layer.block_history():
                write_regions(layer, [((slice(0, 2), slice(0, 4)), mask, 2)])
            painted = np.asarray(layer.data).copy()
            source = preserve_labels_source(layer, 2)
            still_preserving = layer.preserve_labels
            layer.undo()
            undone = np.asarray(layer.data).copy()
    except Exception as error:
        return f"probe failed: {type(error).__name__}: {error}"
    expected = start.copy()
    expected[:2][mask] = 2
    if not np.array_equal(painted, expected):
        return "a region write did not paint exactly its mask"
    if len(steps) != 1:
        return f"a region write made {len(steps)} undo steps, not one"
    if not still_preserving or source != 0:
        return "napari's draw-to-back setting did not survive a region write"
    if not np.array_equal(undone, start):
        return "undo did not restore a region write exactly"
    return None


def _mode_callbacks_problem(layer_class: type) -> str | None:
    for table in _MODE_TABLES:
        modes = getattr(layer_class, table, None)
        if not isinstance(modes, dict) or not all(callable(modes.get(m)) for m in _BRUSH_MODES):
            return f"Labels.{table} has no {_BRUSH_MODES[0]!r}/{_BRUSH_MODES[1]!r} callbacks"
    if not inspect.isgeneratorfunction(layer_class._drag_modes["paint"]):
        return "the brush drag callback is no longer a generator"
    try:
        from napari.layers.labels._labels_utils import mouse_event_to_labels_coordinate
    except ImportError:
        return "napari.layers.labels._labels_utils.mouse_event_to_labels_coordinate is gone"
    if not callable(mouse_event_to_labels_coordinate):
        return "mouse_event_to_labels_coordinate is not callable"
    return _region_writes_problem(layer_class)  # the pen's lines are region writes


def _undo_history_problem(layer_class: type) -> str | None:
    for name in ("undo", "redo"):
        reason = _parameters_problem(layer_class, name, ("self",), exact=True)
        if reason is not None:
            return reason
    if not isinstance(getattr(layer_class, "_history_limit", None), int):
        return "Labels._history_limit is not a number"
    return _undo_history_probe(layer_class)


def _undo_history_probe(layer_class: type) -> str | None:
    """Paint through both atom forms; undo and redo move one step and send no paint event."""
    items = []
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            layer = layer_class(np.zeros((6, 6), dtype=np.uint8))
            layer.events.paint.connect(lambda event: items.append(event.value))
            layer.brush_size = 3
            layer.paint((2, 2), 1)
            layer.data_setitem((np.array([5, 5]), np.array([4, 5])), 2)
            painted = Counter(np.asarray(layer.data).ravel().tolist())
            decoded: Counter = Counter({0: 36})
            for item in items:
                for old, new in history_changes(item):
                    decoded.subtract(Counter(old.tolist()))
                    decoded.update(Counter(new.tolist()))
            depths = [history_depths(layer)]
            layer.undo()
            depths.append(history_depths(layer))
            layer.redo()
            depths.append(history_depths(layer))
            limit = history_limit(layer)
    except Exception as error:
        return f"probe failed: {type(error).__name__}: {error}"
    if len(items) != 2:
        return f"two edits sent {len(items)} paint events after the undo and redo"
    if +decoded != painted:
        return "the history atoms do not add up to the painted pixels"
    if depths != [(2, 0), (1, 1), (2, 0)]:
        return f"undo and redo moved the history as {depths}, not one step each"
    if limit < 1:
        return f"the undo limit is {limit}"
    return None


def _label_textures_problem(_layer_class: type) -> str | None:
    """napari's texture conversion is the one the memo wraps, and the memo gives its values."""
    from napari.utils.colormaps import DirectLabelColormap

    function = getattr(DirectLabelColormap, _TEXTURE_NAME, None)
    if not callable(function):
        return f"DirectLabelColormap.{_TEXTURE_NAME} is gone"
    try:
        parameters = tuple(inspect.signature(function).parameters)
    except (TypeError, ValueError):
        return f"the signature of DirectLabelColormap.{_TEXTURE_NAME} cannot be read"
    if parameters != ("self", "values"):
        return f"DirectLabelColormap.{_TEXTURE_NAME}{parameters} is not (self, values)"
    colours = {None: "transparent", 0: "transparent", 3: "red", 700: "blue", 9: "red"}
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            napari_map = DirectLabelColormap(color_dict=colours)
            memo_map = _texture_memo_class()(color_dict=colours)
            for dtype in (np.uint8, np.int16, np.uint32, np.int64):
                values = np.array([0, 3, 9, 5, 700], dtype=np.int64)
                values = values[values <= np.iinfo(dtype).max].astype(dtype)
                for value in values:
                    one = np.array([value], dtype=dtype)
                    for _ in range(2):  # computed, then remembered
                        expected = napari_map._data_to_texture(one)
                        got = memo_map._data_to_texture(one)
                        if got.dtype != expected.dtype or not np.array_equal(got, expected):
                            return f"the remembered texture of label {value} ({dtype}) differs"
                if not np.array_equal(
                    memo_map._data_to_texture(values), napari_map._data_to_texture(values)
                ):
                    return "the texture of a label array differs"
    except Exception as error:
        return f"probe failed: {type(error).__name__}: {error}"
    return None


_CHECKS: dict[str, Callable[[type], str | None]] = {
    PAINT_HOOK: _paint_hook_problem,
    REGION_WRITES: _region_writes_problem,
    MODE_CALLBACKS: _mode_callbacks_problem,
    UNDO_HISTORY: _undo_history_problem,
    LABEL_TEXTURES: _label_textures_problem,
}


# -- wrapping the layer's paint paths (the lock guard) -------------------------------------------
def wrap_paint_paths(
    layer: Labels,
    owner: object,
    make_hook_wrapper: Callable[[Callable], Callable],
    make_setitem_wrapper: Callable[[Callable], Callable],
) -> dict[str, Any]:
    """Shadow the mask hook and ``data_setitem`` on ``layer`` with wrappers of them.

    Each ``make_*`` gets the function to call on (napari's, or a wrapper
    someone installed earlier, which is chained, not lost) and returns the
    wrapper. Returns what :func:`unwrap_paint_paths` needs to undo it.
    """
    patches = {}
    wrappers = {HOOK_NAME: make_hook_wrapper, SETITEM_NAME: make_setitem_wrapper}
    for name, make_wrapper in wrappers.items():
        previous = layer.__dict__.get(name)
        call_original = previous if previous is not None else _class_method_caller(layer, name)
        patched = make_wrapper(call_original)
        patched.__wrapped__ = call_original
        setattr(patched, _OWNER, owner)
        patches[name] = previous
        setattr(layer, name, patched)
    return patches


def _class_method_caller(layer: Labels, name: str) -> Callable:
    function = getattr(type(layer), name)
    layer_ref = weakref.ref(layer)  # weak: the layer holds this closure

    def call_original(*args, **kwargs):
        return function(layer_ref(), *args, **kwargs)

    return call_original


def unwrap_paint_paths(layer: Labels, owner: object, patches: dict[str, Any]) -> None:
    """Undo :func:`wrap_paint_paths`; a wrapper installed on top of ours is left in place."""
    for name, previous in patches.items():
        current = layer.__dict__.get(name)
        if getattr(current, _OWNER, None) is not owner:
            continue  # wrapped again on top of us: the caller makes ours pass through
        if previous is None:
            delattr(layer, name)
        else:
            setattr(layer, name, previous)


def paint_paths_owner(layer: Labels) -> object | None:
    """Who wrapped ``layer``'s mask hook (:func:`wrap_paint_paths`), if anyone."""
    return getattr(layer.__dict__.get(HOOK_NAME), _OWNER, None)


# -- region writes (the painter) -----------------------------------------------------------------
def dims_to_paint(layer: Labels) -> list[int]:
    """The axes napari paints along now (the displayed plane, or more in n-D editing)."""
    return list(layer._get_shape_and_dims_to_paint()[1])


def preserve_labels_source(layer: Labels, new_label: int) -> int:
    """The one label napari's draw to back lets ``new_label`` replace."""
    return int(layer._get_preserve_labels_source_label(new_label))


def write_regions(layer: Labels, regions: Iterable[tuple[tuple[slice, ...], np.ndarray, int]]):
    """Write each ``(region, mask, label)`` through napari's masked paint path, as given.

    napari records the undo atoms (one step per call when the caller wraps it
    in ``layer.block_history()``), passes each mask through the layer's mask
    hook (the lock guard) and refreshes the display once at the end. The
    caller has applied draw to back itself, so napari's own check is off
    meanwhile (its rule would keep a merge or a delete from writing over the
    instances it targets).
    """
    every_dim = list(range(layer.ndim))
    with _napari_draw_to_back_off(layer):
        for region, mask, label in regions:
            layer._paint_region_with_mask(region, mask, label, every_dim, refresh=False)
    layer._partial_labels_refresh()


@contextmanager
def _napari_draw_to_back_off(layer: Labels):
    # the attribute, not the property: no preserve_labels event, the panel does not flicker
    previous = layer._preserve_labels
    layer._preserve_labels = False
    try:
        yield
    finally:
        layer._preserve_labels = previous


# -- the per-mode callback tables (the pen) --------------------------------------------------------
def mode_callbacks(layer_class: type) -> tuple[dict, dict]:
    """Copies of napari's class tables: mode -> drag callback, mode -> move callback."""
    return dict(layer_class._drag_modes), dict(layer_class._move_modes)


def class_drag_callback(layer: Labels, mode: str) -> Callable:
    """napari's own drag callback of ``mode`` (from the class, whatever the instance has)."""
    return type(layer)._drag_modes[mode]


def shadow_mode_callbacks(layer: Labels, drag: dict, move: dict) -> None:
    """Give ``layer`` its own tables; napari's mode setter installs callbacks from them."""
    layer._drag_modes = drag
    layer._move_modes = move


def restore_mode_callbacks(layer: Labels) -> None:
    for table in _MODE_TABLES:
        layer.__dict__.pop(table, None)


def encircling(layer: Labels) -> bool:
    """Whether napari's right-click encircle (the brush-stroke overlay) is under way."""
    overlay = getattr(layer, "_overlays", {}).get("brush_stroke")
    return overlay is not None and bool(overlay.active)


def event_to_data_coordinate(layer: Labels, event) -> np.ndarray | None:
    """The Labels data coordinate of a mouse event, as napari's brush computes it."""
    from napari.layers.labels._labels_utils import mouse_event_to_labels_coordinate

    coordinate = mouse_event_to_labels_coordinate(layer, event)
    return None if coordinate is None else np.asarray(coordinate, dtype=float)


# -- the undo history (the binding's pixel counts) ------------------------------------------------
def history_limit(layer: Labels) -> int:
    """How many undo steps napari keeps (older ones are dropped)."""
    return int(layer._history_limit)


def history_depths(layer: Labels) -> tuple[int, int]:
    """How many steps napari can undo and redo now."""
    return len(layer._undo_history), len(layer._redo_history)


def history_changes(item) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """``(old values, new values)`` (flat, equal length) of each atom of a history item.

    An item is what a ``paint`` event carries: a list of ``_MaskedPaintAtom``
    (mask tools, region writes) and ``(indices, old, new)`` tuples (``data_setitem``).
    A mask tool's new values are one label: a read-only broadcast of it (no copy
    the size of a 3-D fill).
    """
    for atom in item:
        if hasattr(atom, "slice_key"):
            old_values = np.asarray(atom.old_values).ravel()
            new_value = np.asarray(atom.new_value, dtype=old_values.dtype)
            yield old_values, np.broadcast_to(new_value, old_values.shape)
        else:
            _indices, old_values, new_values = atom
            old_values = np.asarray(old_values).ravel()
            new_values = np.asarray(new_values, dtype=old_values.dtype)
            yield old_values, np.broadcast_to(new_values, old_values.shape).ravel()


def history_boxes(item, shape: tuple[int, ...]) -> list[tuple[slice, ...]]:
    """The boxes of the label array that a history item changed (one per atom)."""
    boxes = []
    for atom in item:
        if hasattr(atom, "slice_key"):
            key = tuple(atom.slice_key)
            key += (slice(None),) * (len(shape) - len(key))
            box = tuple(
                slice(*part.indices(size)[:2]) if isinstance(part, slice) else slice(part, part + 1)
                for part, size in zip(key, shape, strict=True)
            )
        else:
            indices = [np.asarray(i).ravel() for i in atom[0]]
            if not indices or indices[0].size == 0:
                continue
            box = tuple(slice(int(i.min()), int(i.max()) + 1) for i in indices)
        if all(s.stop > s.start for s in box):
            boxes.append(box)
    return boxes


def clear_undo_history(layer: Labels) -> None:
    """Forget every undo and redo step of ``layer`` (its data was swapped for other pixels).

    napari 0.9.2's ``data`` setter keeps the history, whose atoms would then
    write into the wrong pixels; napari clears it itself the same way when a
    layer stops being editable.
    """
    reset = getattr(layer, "_reset_history", None)
    if not callable(reset):
        raise NapariCompatError(
            f"napari {napari_version()} has no Labels._reset_history: cannot clear the undo "
            f"history of {layer.name!r}; use napari{TESTED_NAPARI_TEXT}"
        )
    reset()


def editing_now(layer: Labels) -> bool:
    """A stroke (or another grouped edit) is under way on ``layer``: napari is collecting
    its history atoms (``_block_history``), so its data must not be swapped now."""
    return bool(getattr(layer, "_block_history", False))


def wrap_undo_redo(layer: Labels, owner: object, on_step: Callable[[bool], None]) -> None:
    """Shadow ``undo``/``redo`` on ``layer``; ``on_step(forward)`` runs after each real step.

    napari's undo and redo send no ``paint`` event, and with an empty history
    they do nothing: ``on_step`` runs only when napari's history really moved.
    """
    # napari changed: the depths cannot be trusted, so every call counts as a step
    readable = problem(UNDO_HISTORY, type(layer)) is None
    layer_ref = weakref.ref(layer)  # weak: the layer holds these closures
    for name, forward in (("undo", False), ("redo", True)):
        original = getattr(type(layer), name)

        def step(original=original, forward=forward) -> None:
            layer = layer_ref()
            if layer is None:
                return
            before = history_depths(layer) if readable else None
            original(layer)
            if not readable or history_depths(layer) != before:
                on_step(forward)

        step.__doc__ = original.__doc__
        setattr(step, _OWNER, owner)
        setattr(layer, name, step)


def unwrap_undo_redo(layer: Labels, owner: object) -> None:
    for name in ("undo", "redo"):
        if getattr(layer.__dict__.get(name), _OWNER, None) is owner:
            del layer.__dict__[name]


# -- the layer list's delete (the layer-list guard) ---------------------------------------------
def shadow_remove_selected(layers, replacement: Callable[[], None]) -> None:
    """Make ``layers.remove_selected()`` (the GUI's delete paths) call ``replacement``."""
    layers.remove_selected = replacement


def restore_remove_selected(layers, replacement: Callable[[], None]) -> None:
    """Undo :func:`shadow_remove_selected` if ``replacement`` is still the one installed."""
    if layers.__dict__.get("remove_selected") == replacement:
        del layers.__dict__["remove_selected"]


def napari_remove_selected(layers) -> None:
    """napari's own ``remove_selected`` (whatever the instance has)."""
    type(layers).remove_selected(layers)


# -- the main window's close (the close guard) ---------------------------------------------------
#: napari's main-window ``close`` as of 0.9.2: File > Close Window (Ctrl+W) and Exit (Ctrl+Q)
#: call it with ``confirm_need=True``, which asks napari's "Close window?" before closing
WINDOW_CLOSE_PARAMETERS = ("self", "quit_app", "confirm_need")


def window_close_problem(window) -> str | None:
    """Why napari's main-window ``close`` is not the one the close guard was written for."""
    try:
        parameters = tuple(inspect.signature(type(window).close).parameters)
    except (TypeError, ValueError):
        return "the signature of the main window's close cannot be read"
    if parameters != WINDOW_CLOSE_PARAMETERS:
        return f"close{parameters} is not close{WINDOW_CLOSE_PARAMETERS}"
    return None


def shadow_window_close(window, replacement: Callable[..., Any]) -> bool:
    """Make napari's ``window.close(quit_app, confirm_need)`` calls go to ``replacement``.

    False (nothing changed) when napari's ``close`` is not the expected one.
    """
    if window_close_problem(window) is not None:
        return False
    window.close = replacement
    return True


def restore_window_close(window, replacement: Callable[..., Any]) -> None:
    """Undo :func:`shadow_window_close` if ``replacement`` is still the one installed."""
    if window.__dict__.get("close") == replacement:
        del window.__dict__["close"]


def napari_window_close(window, quit_app: bool = False, confirm_need: bool = False):
    """napari's own main-window ``close`` (whatever the instance has)."""
    return type(window).close(window, quit_app=quit_app, confirm_need=confirm_need)


# -- instance colours (the binding) ------------------------------------------------------------
_TEXTURE_NAME = "_data_to_texture"
_texture_memo: type | None = None


def _texture_memo_class() -> type:
    """``DirectLabelColormap`` remembering the texture value of single labels (made once)."""
    global _texture_memo
    if _texture_memo is None:
        from napari.utils.colormaps import DirectLabelColormap
        from pydantic import PrivateAttr

        class InstanceColormap(DirectLabelColormap):
            """napari's direct colormap; one label's texture value is computed once.

            The colour dict is never edited in place (napari would not redraw;
            the binding assigns a new colormap), so what is remembered stays right.
            """

            _single_textures: dict = PrivateAttr(default_factory=dict)

            def _data_to_texture(self, values):
                if (
                    self.use_selection
                    or not isinstance(values, np.ndarray)
                    or values.size != 1
                    or values.dtype.kind not in "iu"
                ):
                    return super()._data_to_texture(values)
                key = (values.dtype.str, values.shape, int(values.flat[0]))
                texture = self._single_textures.get(key)
                if texture is None:
                    texture = self._single_textures[key] = super()._data_to_texture(values)
                return texture.copy()

        # a module-level name, so the colormap pickles and copies like napari's
        InstanceColormap.__module__, InstanceColormap.__qualname__ = __name__, "InstanceColormap"
        globals()["InstanceColormap"] = _texture_memo = InstanceColormap
    return _texture_memo


def instance_colormap(color_dict: dict):
    """A colormap of ``color_dict`` for a label layer with many instances.

    napari's ``DirectLabelColormap`` with the single-label memo when napari's
    texture conversion passes its check (:data:`LABEL_TEXTURES`), else napari's own.
    """
    from napari.utils.colormaps import DirectLabelColormap

    if problem(LABEL_TEXTURES) is not None:
        return DirectLabelColormap(color_dict=color_dict)
    return _texture_memo_class()(color_dict=color_dict)


# -- viewers and proxies ---------------------------------------------------------------------
def qt_window(viewer) -> Any | None:
    """napari's Qt main window of ``viewer`` (None when it has none, e.g. headless)."""
    return getattr(getattr(viewer, "window", None), "_qt_window", None)


def unwrap(obj: Any) -> Any:
    """The object behind napari's plugin proxy (proxies hash and compare apart)."""
    return getattr(obj, "__wrapped__", obj)


def opened_from(path: str):
    """A context in which new layers name ``path`` as their source (``layer.source.path``)."""
    from napari.layers._source import layer_source

    return layer_source(path=path)


# -- the assist tools (wand, superpixels) ---------------------------------------------------------
def dims_order(layer: Labels) -> list[int]:
    """The layer's axes in display order (the last ones are displayed)."""
    return list(layer._slice_input.order)


def camera(viewer):
    """The viewer's camera (``viewer.scene.camera`` since napari 0.9, ``viewer.camera`` before)."""
    scene = getattr(viewer, "scene", None)
    return scene.camera if scene is not None else viewer.camera
