"""How a viewer's saves write Labelbox NDJSON imports: one small settings object per viewer.

The dock's Files section edits it; File > IO Utilities > Save segmentation as…,
the dock's Save button and File > Save Selected Layers (``.ndjson``) read it, so
the choice made once applies wherever the user saves.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from napari_segtool.formats.labelbox_ndjson import MASK_STYLES


@dataclass
class NdjsonSaveOptions:
    #: ``"png"`` (a base64 PNG inside each line, self-contained) or ``"composite"``
    #: (``instanceURI`` + ``colorRGB``, one composite PNG per image beside the file)
    masks: str = "png"
    #: where the composite PNGs will be uploaded (their folder's URL); empty: relative paths
    mask_base_url: str = ""

    def writer_options(self) -> dict[str, Any]:
        """The keyword arguments of :func:`~napari_segtool.formats.labelbox_ndjson.write_ndjson`."""
        if self.masks not in MASK_STYLES:
            raise ValueError(f"masks must be one of {MASK_STYLES}, not {self.masks!r}")
        if self.masks == "png":
            return {"masks": "png"}
        return {"masks": "composite", "mask_base_url": self.mask_base_url.strip() or None}
