"""The set of classes a deployed model knows: base classes plus classes taught at runtime.

A :class:`ClassSet` is immutable: adding or removing a class returns a new set, so a node can
build the next set off the frame path and swap one reference, which makes a change atomic
from the next frame on. Novel (NPM) classes occupy prototype *slots*; slot k has class id
``num_base + k``, and a new class takes the lowest free slot.
"""

from __future__ import annotations

import dataclasses
import datetime as _dt
import enum
import math
from dataclasses import dataclass

import torch
from torch import Tensor

from owss_ros.core.classes import CITYSCAPES_CLASSES, MAX_CLASS_ID, UNKNOWN_ID
from owss_ros.core.npm import MAX_BACKGROUND_PER_CLASS


class ClassOrigin(str, enum.Enum):
    BASE = "base"  # trained with the network (DCE + VL)
    NPM = "npm"  # novel prototype from operator masks (Eq. 11)
    PLM = "plm"  # new branch head trained on pseudo labels (Algorithm 1)


@dataclass(frozen=True)
class ClassEntry:
    class_id: int
    name: str
    origin: ClassOrigin
    color: tuple[int, int, int]
    prototype: tuple[float, ...] | None = None  # NPM only
    lambda_novel: float | None = None  # NPM only; None = the scorer's default
    pixels: int = 0  # annotated pixels behind the prototype
    shots: int = 0  # annotated images behind the prototype
    created: str = ""  # ISO 8601, UTC
    # NPM only, beyond the paper: prototypes of what the shots showed the class is not
    # (owss_ros.core.npm.background_prototypes); scored as lambda-0 slots, never a label
    background: tuple[tuple[float, ...], ...] = ()


def _backgrounds_outside_other_classes(entries) -> tuple[ClassEntry, ...]:
    """The rule that keeps background prototypes from blocking another taught class: a background
    row that lies within another taught class's radius (||b - m_j||^2 < lambda_novel_j) is dropped,
    for the class being added and for those already there (a background slot takes a pixel from
    every taught class it is nearest to, so one inside class j's ball would cut into class j)."""
    taught = [e for e in entries if e.origin is ClassOrigin.NPM and e.lambda_novel is not None]
    kept = []
    for e in entries:
        if e.background:
            rows = tuple(row for row in e.background if not any(
                other is not e and math.dist(row, other.prototype) ** 2 < other.lambda_novel for other in taught))
            e = dataclasses.replace(e, background=rows) if rows != e.background else e
        kept.append(e)
    return tuple(kept)


class ClassSetError(ValueError):
    """A requested change to a class set is invalid; the set is left unchanged."""


# Distinct, saturated colours for taught classes (base classes keep their dataset colours).
_NOVEL_PALETTE = (
    (255, 127, 0), (0, 255, 255), (255, 0, 255), (127, 255, 0), (0, 127, 255),
    (255, 255, 127), (127, 0, 255), (0, 255, 127), (255, 127, 127), (127, 127, 255),
)


@dataclass(frozen=True)
class ClassSet:
    embedding_dim: int
    capacity: int  # maximum number of novel slots
    entries: tuple[ClassEntry, ...]

    @classmethod
    def from_base(cls, names, colors=None, capacity: int = 16) -> "ClassSet":
        names = tuple(names)
        if colors is None:
            colors = [(128, 128, 128)] * len(names)
        if len(set(names)) != len(names):
            raise ClassSetError(f"base class names must be unique: {names}")
        if capacity < 0 or len(names) + capacity > MAX_CLASS_ID + 1:
            raise ClassSetError(f"capacity {capacity} leaves no room below the unknown id")
        entries = tuple(
            ClassEntry(i, n, ClassOrigin.BASE, tuple(c)) for i, (n, c) in enumerate(zip(names, colors))
        )
        return cls(len(names), capacity, entries)

    @classmethod
    def cityscapes(cls, capacity: int = 16) -> "ClassSet":
        return cls.from_base([c.name for c in CITYSCAPES_CLASSES],
                             [c.color for c in CITYSCAPES_CLASSES], capacity)

    # -- queries ---------------------------------------------------------------------------
    @property
    def num_base(self) -> int:
        return sum(e.origin is ClassOrigin.BASE for e in self.entries)

    @property
    def novel_entries(self) -> tuple[ClassEntry, ...]:
        return tuple(e for e in self.entries if e.origin is ClassOrigin.NPM)

    def find(self, key: str | int) -> ClassEntry | None:
        for e in self.entries:
            if (isinstance(key, str) and e.name == key) or (isinstance(key, int) and e.class_id == key):
                return e
        return None

    def slot(self, entry: ClassEntry) -> int:
        return entry.class_id - self.num_base

    def novel_tensors(self, default_lambda_novel: float) -> tuple[Tensor, Tensor, Tensor]:
        """(capacity, C) prototypes, (capacity,) thresholds and (capacity,) 0/1 validity."""
        prototypes = torch.zeros(self.capacity, self.embedding_dim)
        thresholds = torch.full((self.capacity,), float(default_lambda_novel))
        valid = torch.zeros(self.capacity)
        for e in self.novel_entries:
            k = self.slot(e)
            prototypes[k] = torch.tensor(e.prototype)
            valid[k] = 1.0
            if e.lambda_novel is not None:
                thresholds[k] = e.lambda_novel
        return prototypes, thresholds, valid

    def decision_slots(self, default_lambda_novel: float) -> tuple[Tensor, Tensor, Tensor]:
        """The NPM decision's (K, C) prototypes, (K,) thresholds and (K,) 0/1 validity
        (:func:`owss_ros.core.npm.novel_class_beside_base`): the slots up to the last one in use (a
        removed class in between stays an unused slot, so class ids never move), then the taught
        classes' background prototypes as valid slots with threshold 0 (never a label). K = 0 when
        nothing is taught."""
        prototypes, thresholds, valid = self.novel_tensors(default_lambda_novel)
        used = int(valid.nonzero().max()) + 1 if bool(valid.any()) else 0
        if used == 0:
            return prototypes[:0], thresholds[:0], valid[:0]
        background = self.background_tensor()
        return (torch.cat([prototypes[:used], background]), torch.cat([thresholds[:used], torch.zeros(len(background))]),
                torch.cat([valid[:used], torch.ones(len(background))]))

    def background_tensor(self) -> Tensor:
        """(J, C): the background prototypes of all taught classes, in slot order."""
        rows = [row for e in self.novel_entries for row in e.background]
        return torch.tensor(rows, dtype=torch.float32).reshape(len(rows), self.embedding_dim)

    # -- changes (each returns a new set) --------------------------------------------------
    def with_novel(self, name: str, prototype, *, lambda_novel: float | None = None,
                   pixels: int = 0, shots: int = 0, color: tuple[int, int, int] | None = None,
                   background=()) -> tuple["ClassSet", ClassEntry]:
        name = name.strip()
        if not name:
            raise ClassSetError("class name is empty")
        if self.find(name) is not None:
            raise ClassSetError(f"a class named {name!r} already exists")
        vector = tuple(float(v) for v in torch.as_tensor(prototype).flatten().tolist())
        if len(vector) != self.embedding_dim:
            raise ClassSetError(f"prototype has {len(vector)} values, the embedding has {self.embedding_dim}")
        if not all(math.isfinite(v) for v in vector):
            raise ClassSetError("prototype contains NaN or infinity")
        if lambda_novel is not None and not (math.isfinite(lambda_novel) and lambda_novel > 0):
            raise ClassSetError(f"lambda_novel must be a positive number, got {lambda_novel}")
        background_rows = self._background_rows(background)
        used = {self.slot(e) for e in self.novel_entries}
        free = [k for k in range(self.capacity) if k not in used]
        if not free:
            raise ClassSetError(f"all {self.capacity} novel class slots are in use; remove a class first")
        slot = free[0]
        entry = ClassEntry(
            class_id=self.num_base + slot, name=name, origin=ClassOrigin.NPM,
            color=tuple(color) if color is not None else _NOVEL_PALETTE[slot % len(_NOVEL_PALETTE)],
            prototype=vector, lambda_novel=lambda_novel, pixels=int(pixels), shots=int(shots),
            created=_dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"), background=background_rows,
        )
        entries = _backgrounds_outside_other_classes(sorted(self.entries + (entry,), key=lambda e: e.class_id))
        entry = next(e for e in entries if e.class_id == entry.class_id)
        return dataclasses.replace(self, entries=entries), entry

    def _background_rows(self, background) -> tuple[tuple[float, ...], ...]:
        rows = torch.as_tensor(background if len(background) else torch.zeros(0, self.embedding_dim),
                               dtype=torch.float64)
        if rows.dim() != 2 or rows.shape[1] != self.embedding_dim:
            raise ClassSetError(f"background prototypes must be (J, {self.embedding_dim}), got {tuple(rows.shape)}")
        if rows.shape[0] > MAX_BACKGROUND_PER_CLASS:
            raise ClassSetError(f"{rows.shape[0]} background prototypes; at most {MAX_BACKGROUND_PER_CLASS} per class")
        if not bool(torch.isfinite(rows).all()):
            raise ClassSetError("a background prototype contains NaN or infinity")
        return tuple(tuple(float(v) for v in row) for row in rows.tolist())

    def without(self, key: str | int) -> tuple["ClassSet", ClassEntry]:
        entry = self.find(key)
        if entry is None:
            raise ClassSetError(f"no class {key!r}")
        if entry.origin is ClassOrigin.BASE:
            raise ClassSetError(f"{entry.name!r} is a base class of the model and cannot be removed")
        entries = tuple(e for e in self.entries if e is not entry)
        return dataclasses.replace(self, entries=entries), entry

    def validate(self) -> None:
        """Raise :class:`ClassSetError` unless ids, names and slots are consistent."""
        names = [e.name for e in self.entries]
        if len(set(names)) != len(names):
            raise ClassSetError("duplicate class names")
        ids = [e.class_id for e in self.entries]
        if len(set(ids)) != len(ids) or UNKNOWN_ID in ids:
            raise ClassSetError("duplicate or reserved class ids")
        for i, e in enumerate(e for e in self.entries if e.origin is ClassOrigin.BASE):
            if e.class_id != i:
                raise ClassSetError("base classes must have ids 0..N-1")
        for e in self.novel_entries:
            if not 0 <= self.slot(e) < self.capacity:
                raise ClassSetError(f"class {e.name!r} id {e.class_id} is outside the novel slots")
            if e.prototype is None or len(e.prototype) != self.embedding_dim:
                raise ClassSetError(f"class {e.name!r} has no valid prototype")
            if any(len(row) != self.embedding_dim for row in e.background):
                raise ClassSetError(f"class {e.name!r} has a background prototype of the wrong size")
