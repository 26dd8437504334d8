"""The instance workflow: pick a class, paint, and the new label id becomes an instance.

:class:`InstanceWorkflow` holds the rules, free of napari: which class is
current, which label id the next instance gets, when a painted id becomes an
instance and when it stays unassigned, and what removing a class does to its
instances. The layer binding feeds it events (a stroke changed these pixel
counts, a class was picked, napari selected a label) and applies the answers
to the layer; listeners are told by the binding, once the layer is in step.
"""

from __future__ import annotations

import copy
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from napari_segtool.model.document import Document, DocumentError


@dataclass(frozen=True)
class Settled:
    """What one batch of pixel-count changes did."""

    #: label ids whose pixel counts changed
    changed: frozenset[int] = frozenset()
    #: label ids that got their first pixels and became instances, in id order
    created: tuple[int, ...] = ()


class InstanceWorkflow:
    """Current class, pending label id and pixel counts of one segmentation layer."""

    def __init__(self, document: Document):
        self.document = document
        #: label id -> pixels, for ids with at least one pixel (never 0, the background)
        self.pixel_counts: dict[int, int] = {}
        self.current_class_id: str | None = None
        #: a label id handed out for the current class and not painted yet
        self.pending_label_id: int | None = None
        #: ids of instances removed with their class; undo may bring their pixels
        #: back, and then they are unassigned rather than taken by the current class
        self.retired_ids: set[int] = set()
        classes = document.ontology.segmentation_classes or document.ontology.classes
        if classes:
            self.current_class_id = classes[0].feature_schema_id

    # -- picking and selecting -----------------------------------------------------
    def pick_class(self, schema_id: str | None = None) -> int:
        """Make ``schema_id`` (or the current class) current; the label id to paint it with.

        An id handed out and never painted is handed out again, so picking a
        class twice does not burn ids.
        """
        document = self.document
        if schema_id is not None:
            if document.ontology.class_by_id(schema_id) is None:
                raise DocumentError(f"unknown class id {schema_id!r}")
            self.current_class_id = schema_id
        if self.current_class_id is None:
            raise DocumentError("the ontology has no class to draw")
        pending = self.pending_label_id
        if pending is None or self.pixel_counts.get(pending) or pending in document:
            pending = document.next_label_id(floor=max(self.pixel_counts, default=0))
        self.pending_label_id = pending
        return pending

    def select(self, label_id: int) -> None:
        """The user chose ``label_id``: an instance makes its class current."""
        instance = self.document.instances.get(label_id)
        if instance is not None:
            self.current_class_id = instance.schema_id

    def label_selected(self, label_id: int) -> list[int]:
        """napari now paints with ``label_id``; the ids whose colour may have changed.

        A fresh id (napari's M key or spin box) becomes the pending id: it
        paints the current class.
        """
        if label_id in self.document:
            self.select(label_id)
            return []
        if not label_id or label_id == self.pending_label_id:
            return []
        previous, self.pending_label_id = self.pending_label_id, label_id
        return [label_id] if previous is None else [previous, label_id]

    # -- pixel counts --------------------------------------------------------------
    def apply_delta(self, delta: Mapping[int, int]) -> Settled:
        """A stroke (or its undo) changed these pixel counts (label id -> pixels added)."""
        counts = self.pixel_counts
        for label_id, change in delta.items():
            if label_id == 0 or change == 0:
                continue
            counts[label_id] = counts.get(label_id, 0) + change
            if counts[label_id] <= 0:
                del counts[label_id]
        return self.settle(i for i, change in delta.items() if i and change)

    def settle(self, changed: Iterable[int]) -> Settled:
        """Make instances of the ids in ``changed`` that got pixels and belong to none.

        They take the current class, unless there is none or the id's class
        was removed: then they stay unassigned until the user gives them one.
        """
        changed = frozenset(changed)
        document = self.document
        schema_id = self.current_class_id
        can_create = schema_id is not None and document.ontology.class_by_id(schema_id) is not None
        created = []
        for label_id in sorted(changed):
            if self.pixel_counts.get(label_id, 0) <= 0 or label_id in document:
                continue
            if not can_create or label_id in self.retired_ids:
                continue
            document.add_instance(label_id, schema_id)
            created.append(label_id)
            if label_id == self.pending_label_id:
                self.pending_label_id = None
        return Settled(changed, tuple(created))

    def visible_instance_ids(self) -> list[int]:
        """Instances that have pixels now, in id order (what the table lists)."""
        return sorted(i for i, n in self.pixel_counts.items() if n > 0 and i in self.document)

    def unassigned_ids(self) -> list[int]:
        """Label ids with pixels that belong to no instance (assign them a class)."""
        return sorted(i for i, n in self.pixel_counts.items() if n > 0 and i not in self.document)

    def split_instance(self, label_id: int, extra_pieces: int) -> list[int]:
        """New instances for ``extra_pieces`` pieces split off ``label_id``: same class, a
        copy of its answers, fresh ids (never the pending one); registered before their
        pixels are painted, so the current class does not claim them."""
        source = self.document.instance(label_id)
        floor = max([*self.pixel_counts, self.pending_label_id or 0, label_id])
        new_ids = []
        for _ in range(int(extra_pieces)):
            new_id = self.document.next_label_id(floor=floor)
            answers = copy.deepcopy(source.answers)
            self.document.add_instance(new_id, source.schema_id, answers=answers)
            self.retired_ids.discard(new_id)
            new_ids.append(new_id)
            floor = new_id
        return new_ids

    # -- classes -------------------------------------------------------------------
    def assign(self, label_id: int, schema_id: str) -> None:
        """Give a class to a painted id the document does not know."""
        self.document.add_instance(label_id, schema_id)
        self.retired_ids.discard(label_id)

    def change_class(self, label_id: int, schema_id: str) -> bool:
        """Give an instance another class; True when that class became the current one."""
        self.document.set_class(label_id, schema_id)
        if self.pixel_counts.get(label_id):
            self.current_class_id = schema_id
            return True
        return False

    def remove_class_instances(self, schema_id: str) -> list[int]:
        """Drop the instances of a class that is being removed (erase their pixels first).

        Their ids are retired: pixels that undo brings back are unassigned.
        """
        removed = [i.label_id for i in self.document.instances_of_class(schema_id)]
        for label_id in removed:
            self.document.remove_instance(label_id)
            self.retired_ids.add(label_id)
        return removed

    def ontology_changed(self) -> None:
        """The current class was removed: the first segmentation class (if any) is current."""
        ontology = self.document.ontology
        if ontology.class_by_id(self.current_class_id or "") is None:
            classes = ontology.segmentation_classes
            self.current_class_id = classes[0].feature_schema_id if classes else None
