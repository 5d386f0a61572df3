"""The engine's class set, persisted before every change takes effect.

Start-up policy for the class store file (``class_store_path``):

* no path configured: taught classes live in memory only (a warning says so);
* the file does not exist yet: start with the base classes; the first change creates it;
* the file loads and belongs to this model: start with its classes and ids;
* the file is corrupt, foreign, of another format version, for another model, or does not fit
  the model's base classes / the configured slot count: ``refuse`` (default) stops the engine
  (and the node) with the reason; ``base_only`` starts with the base classes only, never writes the file (it stays
  for inspection), and refuses every class change with the reason until it is fixed.

A change (:meth:`ClassRegistry.change`) builds the new immutable :class:`ClassSet`, saves it
atomically with the model fingerprint, and only then makes it current; a failed save leaves
the current set in place.
"""

from __future__ import annotations

import dataclasses
import threading
from pathlib import Path
from typing import Callable, TypeVar

from owss_ros.core.class_set import ClassOrigin, ClassSet, ClassSetError
from owss_ros.core.class_store import ClassStoreError, load_class_set, save_class_set

T = TypeVar("T")


class ClassChangeRefused(RuntimeError):
    """A class change cannot be made durable; the message says why."""


def _fit_to_model(stored: ClassSet, base: ClassSet, source: Path) -> ClassSet:
    """The stored set with the configured slot count, if its base classes are the model's."""
    stored_base = [(e.class_id, e.name) for e in stored.entries if e.origin is ClassOrigin.BASE]
    model_base = [(e.class_id, e.name) for e in base.entries]
    if stored.embedding_dim != base.embedding_dim or stored_base != model_base:
        raise ClassStoreError(f"{source}: its base classes or embedding size differ from the model's")
    fitted = dataclasses.replace(stored, capacity=base.capacity)
    try:
        fitted.validate()
    except ClassSetError as error:
        raise ClassStoreError(
            f"{source}: its classes do not fit max_novel_classes {base.capacity} ({error})") from error
    return fitted


class ClassRegistry:
    def __init__(self, class_set: ClassSet, store_path: Path | None, model_fingerprint: str,
                 persistence_error: str | None = None):
        self._class_set = class_set
        self.store_path = store_path
        self.model_fingerprint = model_fingerprint
        self.persistence_error = persistence_error
        self._lock = threading.Lock()

    @classmethod
    def open(cls, base: ClassSet, store_path: Path | None, model_fingerprint: str,
             on_error: str) -> tuple["ClassRegistry", str]:
        """The registry per the start-up policy above, and a line for the log."""
        if store_path is None:
            return cls(base, None, model_fingerprint), (
                "no class_store_path: taught classes will be lost when the node stops")
        if not store_path.exists():
            return cls(base, store_path, model_fingerprint), (
                f"class store {store_path} does not exist yet; starting with the base classes")
        try:
            stored = load_class_set(store_path, expected_fingerprint=model_fingerprint)
            class_set = _fit_to_model(stored, base, store_path)
        except ClassStoreError as error:
            if on_error != "base_only":
                raise
            reason = (f"class store unusable, running with base classes only and NOT writing it: "
                      f"{error}")
            return cls(base, store_path, model_fingerprint, persistence_error=reason), reason
        names = ", ".join(f"{e.class_id}:{e.name}" for e in class_set.novel_entries) or "none"
        return cls(class_set, store_path, model_fingerprint), (
            f"loaded class store {store_path}: taught classes {names}")

    @property
    def current(self) -> ClassSet:
        return self._class_set

    def change(self, make: Callable[[ClassSet], tuple[ClassSet, T]],
               on_committed: Callable[[ClassSet], None] | None = None) -> T:
        """Apply ``make(current) -> (new_set, result)``: persist, commit, then ``on_committed``.

        Raises ClassSetError (invalid change) or ClassChangeRefused (cannot persist); the
        current set is unchanged then.
        """
        with self._lock:
            if self.persistence_error:
                raise ClassChangeRefused(self.persistence_error)
            new_set, result = make(self._class_set)
            if self.store_path is not None:
                try:
                    save_class_set(self.store_path, new_set, self.model_fingerprint)
                except ClassStoreError as error:
                    raise ClassChangeRefused(str(error)) from error
            self._class_set = new_set
            if on_committed is not None:
                on_committed(new_set)
            return result
