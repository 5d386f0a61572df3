"""Durable storage of a :class:`ClassSet`: versioned JSON, written atomically.

Writes go to a temporary file in the same directory, are flushed and fsync'ed, then renamed
over the old file (an atomic replace on POSIX), and the directory is fsync'ed. A crash at
any point leaves either the old file or the new one, never a torn file. A corrupt, foreign
or newer-format file raises :class:`ClassStoreError` and is never overwritten by a load.

Prototypes live in one model's embedding space, so the file records a fingerprint of the
model it was made with; loading it for another model is refused.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

from owss_ros.core.atomic_file import atomic_write_bytes, remove_stale_temporaries
from owss_ros.core.class_set import ClassEntry, ClassOrigin, ClassSet, ClassSetError

FORMAT_NAME = "owss_ros.class_set"
FORMAT_VERSION = 1


class ClassStoreError(RuntimeError):
    """The class store file cannot be read or written; the message says why."""


def _entry_to_json(e: ClassEntry) -> dict:
    return {
        "id": e.class_id, "name": e.name, "origin": e.origin.value, "color": list(e.color),
        "prototype": None if e.prototype is None else list(e.prototype),
        "lambda_novel": e.lambda_novel, "pixels": e.pixels, "shots": e.shots, "created": e.created,
        "background": [list(row) for row in e.background],
    }


def _entry_from_json(d: dict) -> ClassEntry:
    return ClassEntry(
        class_id=int(d["id"]), name=str(d["name"]), origin=ClassOrigin(d["origin"]),
        color=tuple(int(c) for c in d["color"]),
        prototype=None if d["prototype"] is None else tuple(float(v) for v in d["prototype"]),
        lambda_novel=None if d.get("lambda_novel") is None else float(d["lambda_novel"]),
        pixels=int(d.get("pixels", 0)), shots=int(d.get("shots", 0)), created=str(d.get("created", "")),
        background=tuple(tuple(float(v) for v in row) for row in d.get("background", ())),  # absent before 2026-12
    )


def _payload(class_set: ClassSet, model_fingerprint: str) -> dict:
    return {
        "embedding_dim": class_set.embedding_dim,
        "capacity": class_set.capacity,
        "model_fingerprint": model_fingerprint,
        "classes": [_entry_to_json(e) for e in class_set.entries],
    }


def _checksum(payload: dict) -> str:
    canonical = json.dumps(payload, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()


def encode_class_set(class_set: ClassSet, model_fingerprint: str = "") -> bytes:
    payload = _payload(class_set, model_fingerprint)
    document = {"format": FORMAT_NAME, "version": FORMAT_VERSION, **payload,
                "sha256": _checksum(payload)}
    return (json.dumps(document, indent=1) + "\n").encode()


def decode_class_set(data: bytes, source: str = "<bytes>",
                     expected_fingerprint: str | None = None) -> ClassSet:
    try:
        document = json.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ClassStoreError(f"{source}: not a readable class store (corrupt JSON: {exc})") from exc
    if not isinstance(document, dict) or document.get("format") != FORMAT_NAME:
        raise ClassStoreError(f"{source}: not an owss_ros class store (format field missing or foreign)")
    version = document.get("version")
    if version != FORMAT_VERSION:
        raise ClassStoreError(f"{source}: class store version {version!r} is not supported "
                              f"(this build reads version {FORMAT_VERSION})")
    try:
        payload = {k: document[k] for k in ("embedding_dim", "capacity", "model_fingerprint", "classes")}
        if document.get("sha256") != _checksum(payload):
            raise ClassStoreError(f"{source}: checksum mismatch, the file was altered or truncated")
        class_set = ClassSet(int(payload["embedding_dim"]), int(payload["capacity"]),
                             tuple(_entry_from_json(d) for d in payload["classes"]))
        class_set.validate()
    except (KeyError, TypeError, ValueError, ClassSetError) as exc:
        if isinstance(exc, ClassStoreError):
            raise
        raise ClassStoreError(f"{source}: malformed class store ({exc!r})") from exc
    if expected_fingerprint is not None and payload["model_fingerprint"] != expected_fingerprint:
        raise ClassStoreError(
            f"{source}: made for model {payload['model_fingerprint'][:12] or '<unknown>'}, "
            f"not for the loaded model {expected_fingerprint[:12]}: its prototypes live in another "
            "embedding space")
    return class_set


def save_class_set(path: str | os.PathLike, class_set: ClassSet, model_fingerprint: str = "") -> None:
    class_set.validate()
    try:
        atomic_write_bytes(path, encode_class_set(class_set, model_fingerprint))
    except OSError as exc:
        raise ClassStoreError(f"{path}: could not save the class store ({exc})") from exc
    # a single writer owns the store, so any temporary of it is a torn write of a crashed process
    remove_stale_temporaries(Path(path).parent, older_than_s=0.0, for_name=Path(path).name)


def load_class_set(path: str | os.PathLike, expected_fingerprint: str | None = None) -> ClassSet:
    try:
        data = Path(path).read_bytes()
    except OSError as exc:
        raise ClassStoreError(f"{path}: cannot read the class store ({exc})") from exc
    return decode_class_set(data, str(path), expected_fingerprint)


# --------------------------------------------------------------------------- one taught class
# A taught class moved between vehicles (ExportClass / ImportClass, ``owss_ros class-export``):
# its name, prototype and lambda_novel, valid only for the model whose fingerprint it carries.
TAUGHT_CLASS_FORMAT = "owss_ros.taught_class"
TAUGHT_CLASS_VERSION = 1


def encode_taught_class(entry: ClassEntry, model_fingerprint: str) -> bytes:
    """One taught class (with a prototype) as a versioned JSON document with a checksum."""
    if entry.prototype is None:
        raise ClassStoreError(f"{entry.name!r} is a base class of the model; only taught classes can be exported")
    payload = {"model_fingerprint": model_fingerprint, "embedding_dim": len(entry.prototype),
               "class": {k: v for k, v in _entry_to_json(entry).items() if k != "id"}}
    document = {"format": TAUGHT_CLASS_FORMAT, "version": TAUGHT_CLASS_VERSION, **payload,
                "sha256": _checksum(payload)}
    return (json.dumps(document) + "\n").encode()


def decode_taught_class(data: bytes | str, source: str = "<class>",
                        expected_fingerprint: str | None = None) -> ClassEntry:
    """The exported class (its ``class_id`` is -1: the importing set assigns one); ClassStoreError
    says why a document is refused, including one made for another model."""
    try:
        document = json.loads(data if isinstance(data, str) else data.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ClassStoreError(f"{source}: not an exported class (corrupt JSON: {exc})") from exc
    if not isinstance(document, dict) or document.get("format") != TAUGHT_CLASS_FORMAT:
        raise ClassStoreError(f"{source}: not an exported owss_ros class (format {TAUGHT_CLASS_FORMAT!r} expected)")
    if document.get("version") != TAUGHT_CLASS_VERSION:
        raise ClassStoreError(f"{source}: exported class version {document.get('version')!r} is not supported "
                              f"(this build reads version {TAUGHT_CLASS_VERSION})")
    try:
        payload = {k: document[k] for k in ("model_fingerprint", "embedding_dim", "class")}
        if document.get("sha256") != _checksum(payload):
            raise ClassStoreError(f"{source}: checksum mismatch, the exported class was altered or truncated")
        entry = _entry_from_json({**payload["class"], "id": -1})
        if entry.prototype is None or len(entry.prototype) != int(payload["embedding_dim"]):
            raise ClassStoreError(f"{source}: the exported class has no prototype of {payload['embedding_dim']} values")
    except (KeyError, TypeError, ValueError) as exc:
        raise ClassStoreError(f"{source}: malformed exported class ({exc!r})") from exc
    fingerprint = str(payload["model_fingerprint"])
    if expected_fingerprint is not None and fingerprint != expected_fingerprint:
        raise ClassStoreError(
            f"{source}: class {entry.name!r} was exported from model {fingerprint[:12] or '<unknown>'}, not the "
            f"loaded model {expected_fingerprint[:12]}: its prototype lives in another embedding space; teach it "
            "again on this model, or run the same model weights on both nodes")
    return entry
