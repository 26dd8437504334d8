"""The tools the pen panel and the canvas keys offer, in one list.

Each entry says what the user sees (label, keys, tooltip) and what kind of
tool it is; the pen panel builds its buttons and hints from it and the
instance keys are bound from it. A new tool is a module next to this one
(its geometry as :class:`~napari_segtool.tools.edit.ProposedEdit`) plus a
:func:`register` call.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class ToolKind(StrEnum):
    #: a napari Labels mode; the panel shows it as a button (its keys are napari's)
    MODE = "mode"
    #: a gesture of the pen (modifier + mouse); shown as a hint while the pen is attached
    PEN_GESTURE = "pen gesture"
    #: a gesture napari itself offers; always shown as a hint
    NAPARI_GESTURE = "napari gesture"
    #: a key bound on the layer by the plugin (the instance workflow)
    ACTION = "action"
    #: a click tool of the plugin (assist tools); the panel shows it as a toggle button
    CANVAS = "canvas tool"


@dataclass(frozen=True)
class Tool:
    """One entry of the registry."""

    name: str
    #: button text, or how the hint names the gesture
    label: str
    #: keys as napari spells them ("Shift", "Control-1"); a family of keys for some actions
    keys: tuple[str, ...]
    tooltip: str
    kind: ToolKind

    @property
    def key(self) -> str:
        """The first (usually only) key; empty for napari gestures without one."""
        return self.keys[0] if self.keys else ""


_TOOLS: dict[str, Tool] = {}


def register(tool: Tool) -> Tool:
    """Add ``tool`` (or replace the entry of that name, keeping its place)."""
    _TOOLS[tool.name] = tool
    return tool


def tools(kind: ToolKind | None = None) -> tuple[Tool, ...]:
    """The registered tools in registry order, optionally of one kind."""
    return tuple(t for t in _TOOLS.values() if kind is None or t.kind is kind)


def tool(name: str) -> Tool:
    try:
        return _TOOLS[name]
    except KeyError:
        raise KeyError(f"no tool {name!r}; registered: {sorted(_TOOLS)}") from None


# -- napari's modes the panel toggles (the name is the napari mode) ------------------------
register(Tool("paint", "Pen", ("P",), "Freehand brush (P)", ToolKind.MODE))
register(
    Tool(
        "erase",
        "Erase (\u2212)",
        ("E",),
        "Eraser (E); hold Alt to erase for a moment",
        ToolKind.MODE,
    )
)
register(
    Tool(
        "polygon",
        "Polygon",
        ("3",),
        "Fill an outline in one go: napari's polygon tool (3); click the corners, "
        "double-click to fill",
        ToolKind.MODE,
    )
)

# -- the pen's gestures -----------------------------------------------------------------------
register(
    Tool(
        "line",
        "Shift+click",
        ("Shift",),
        "straight line from the last point; back on the first point closes and fills it",
        ToolKind.PEN_GESTURE,
    )
)
register(Tool("hold_erase", "hold Alt", ("Alt",), "erase", ToolKind.PEN_GESTURE))

# -- napari's own gestures worth a hint -------------------------------------------------------
register(
    Tool(
        "encircle",
        "right-click, then move",
        (),
        "let go, move round the area with no button held and back into the circle "
        "to fill it (Esc cancels)",
        ToolKind.NAPARI_GESTURE,
    )
)

# -- the instance workflow's keys -------------------------------------------------------------
register(
    Tool(
        "new_instance",
        "New instance",
        ("n",),
        "Start another instance of the current class",
        ToolKind.ACTION,
    )
)
register(
    Tool(
        "pick_class",
        "Pick class",
        tuple(f"Control-{n}" for n in range(1, 10)),
        "Draw a new instance of class {position}",
        ToolKind.ACTION,
    )
)
register(
    Tool(
        "interpolate",
        "Interpolate",
        ("i",),
        "Fill the selected instances in between the slices they are drawn on (shape "
        "interpolation, one undo step; locks and Draw to back hold). Along the last "
        "slider you moved, else the first one",
        ToolKind.ACTION,
    )
)

# -- assist tools -------------------------------------------------------------------------
register(
    Tool(
        "scribble",
        "Scribble",
        ("r",),
        "Scribble to region (R): scribble inside an object and (Shift, or Background) round "
        "it; the current instance grows to the object between them (preview), Enter "
        "commits it as one undo step, Esc cancels",
        ToolKind.ACTION,
    )
)
# the instance clean-up: buttons under the instance table, on the selected rows
for _name, _label, _tooltip in (
    ("fill_holes", "Fill holes", "Fill the holes of the selected instances (background only)"),
    (
        "smooth",
        "Smooth",
        "Opening then closing with a disk (a ball in 3-D) of the radius: drops spurs, "
        "closes notches",
    ),
    (
        "grow",
        "Grow",
        "Grow the selected instances by N pixels; stops at other instances unless "
        "Overwrite neighbours is on (and Draw to back off)",
    ),
    ("shrink", "Shrink", "Shrink the selected instances by N pixels"),
    ("remove_small", "Remove small", "Remove pieces smaller than N pixels"),
    ("keep_largest", "Keep largest", "Keep only the largest connected piece"),
    (
        "split",
        "Split",
        "Make each connected piece its own instance of the same class, with the same answers",
    ),
):
    register(Tool(f"cleanup_{_name}", _label, (), _tooltip, ToolKind.ACTION))
# -- assist tools: click tools reading the image ------------------------------------------------
register(
    Tool(
        "wand",
        "Wand",
        ("w",),
        "Magic wand (W): click an object to fill the connected area of similar intensity; "
        "drag right / left while holding to raise / lower the tolerance, release to commit. "
        "Click replaces the current instance in this plane, Shift+click adds, Alt+click removes",
        ToolKind.CANVAS,
    )
)
register(
    Tool(
        "superpixels",
        "Superpixels",
        ("s",),
        "Superpixels (S): click or brush over superpixels to give them whole to the current "
        "instance; Alt removes them. Computed around the view when the tool goes on",
        ToolKind.CANVAS,
    )
)
