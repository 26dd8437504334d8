"""The tool registry the pen panel and the instance keys read."""

from __future__ import annotations

import pytest

from napari_segtool.tools import registry
from napari_segtool.tools.registry import Tool, ToolKind, register, tool, tools


def test_the_panel_modes_the_pen_gestures_and_the_instance_keys_are_listed():
    assert [t.name for t in tools(ToolKind.MODE)] == ["paint", "erase", "polygon"]
    assert [t.key for t in tools(ToolKind.MODE)] == ["P", "E", "3"]  # napari's own keys
    assert tool("line").key == "Shift" and tool("hold_erase").key == "Alt"
    assert tool("new_instance").key == "n"
    assert tool("pick_class").keys == tuple(f"Control-{n}" for n in range(1, 10))
    assert tool("encircle").key == ""
    every_key = [k for t in tools() if t.kind is not ToolKind.MODE for k in t.keys]
    assert len(every_key) == len(set(every_key))


def test_register_adds_a_tool_and_replaces_one_in_place(monkeypatch):
    monkeypatch.setattr(registry, "_TOOLS", dict(registry._TOOLS))
    wand = register(Tool("wand", "Wand", ("w",), "select by colour", ToolKind.ACTION))
    assert tools(ToolKind.ACTION)[-1] is wand
    names = [t.name for t in tools()]
    register(Tool("paint", "Brush", ("P",), "Freehand brush (P)", ToolKind.MODE))
    assert [t.name for t in tools()] == names and tool("paint").label == "Brush"
    with pytest.raises(KeyError, match="no tool 'lasso'"):
        tool("lasso")
