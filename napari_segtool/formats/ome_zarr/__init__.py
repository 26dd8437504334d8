"""OME-Zarr (OME-NGFF 0.4 on zarr v2, 0.5 on zarr v3): an image and its label groups.

ome-zarr-py does the NGFF plumbing (multiscales, ``image-label``, the
``labels`` list, reading); this package maps a segmentation layer's document
onto it:

* ``labels/<name>/`` is an NGFF label image with as many levels as its image
  (nearest-neighbour) and the image's chunks; ``image-label`` carries
  ``colors`` (each instance's colour), ``properties`` (per label value: class
  name, class schema id, featureId, answers, locked / hidden) and
  ``source.image``;
* the ontology, the image-level answers, the class locks and the document's
  source live under :data:`~.labels.NAMESPACE` in the label image's
  attributes (beside ``ome`` in 0.5, beside ``image-label`` in 0.4).

:mod:`.store` finds and checks stores, :mod:`.labels` turns documents into
metadata and back, :mod:`.writer` and :mod:`.reader` are the format's entry
points, :mod:`.tissue` makes the large synthetic sample.
"""

from napari_segtool.formats.ome_zarr.labels import NAMESPACE
from napari_segtool.formats.ome_zarr.reader import read_result
from napari_segtool.formats.ome_zarr.store import EXTENSIONS, OmeZarrError, claim_store
from napari_segtool.formats.ome_zarr.writer import write_items

__all__ = ["EXTENSIONS", "NAMESPACE", "OmeZarrError", "claim_store", "read_result", "write_items"]
