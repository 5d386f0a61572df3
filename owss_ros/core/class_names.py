"""What a taught class must satisfy before it joins a class set (no ROS imports).

A taught class name is an identifier a fleet shares: it ends up in ``~/class_list``, in class
store files, in exported class files moved between vehicles, and in operators' scripts. So it
follows one strict rule instead of "any non-empty string":

* lowercase ASCII, starts with a letter, then letters, digits or ``_``; at most 64 characters
  (:data:`CLASS_NAME_PATTERN`), e.g. ``animal``, ``traffic_cone``, ``moose_2``;
* not a reserved word of the open-set map (``unknown`` is id 255, ``void``/``ignore`` is the
  ground truth's 255);
* not a base class of the model, compared after folding case, spaces and ``-`` to ``_``
  (``traffic_light`` is refused beside the base class ``traffic light``);
* not already taught, compared the same way (``Animal`` is refused beside ``animal`` — and
  ``Animal`` is refused by the first rule anyway, with the lowercase spelling suggested).

The other rules of a teaching request:

* every operator mask covers at least :data:`MIN_MASK_PIXELS` pixels *at model resolution*
  (where the embeddings are averaged, paper Eq. 11): a one-pixel mask is noise, not a class;
* a frame stamp is a valid ``builtin_interfaces/Time``: ``sec >= 0`` and
  ``0 <= nanosec < 1_000_000_000`` (``nanosec: 1000000000`` is not the next second);
* a new prototype must not (nearly) coincide with a taught one: the same mask taught under a
  second name gives an identical prototype and two names for one class
  (:func:`check_distinct_prototype`).

Every check raises :class:`TeachingRuleError` (a ``ValueError``) whose message is meant for
the operator as is.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence

import numpy as np

MAX_CLASS_NAME_LENGTH = 64
CLASS_NAME_PATTERN = re.compile(r"[a-z][a-z0-9_]{0,63}")
# Names with a meaning in the open-set map or the ground truth (both use id 255).
RESERVED_CLASS_NAMES = frozenset({"unknown", "void", "ignore"})

# Minimum operator mask size, counted at model resolution (the scaled frame the embedding is
# computed on). 64 pixels is one 8x8 cell of an output-stride-8 embedding (Fast-SCNN, PSPNet):
# less than that averages a single, mostly interpolated feature vector.
MIN_MASK_PIXELS = 64

NANOSECONDS_PER_SECOND = 1_000_000_000

# Squared Euclidean distance in the metric space under which two prototypes count as the same
# class. Base prototypes T e_t are 2 T^2 = 18 apart (T = 3) and calibrated lambda_novel values are
# units; an identical mask gives 0 up to float rounding (~1e-12). Near-duplicates of a
# *different* object are left to AddClass's nearest_prototype_distance warning.
DUPLICATE_PROTOTYPE_SQ_DISTANCE = 1e-3


class TeachingRuleError(ValueError):
    """A teaching request breaks one of the rules above; the message says which and why."""


def _shown(name: str, limit: int = 40) -> str:
    """``repr`` of a name for a message, cut so a 100,000-character name gives a short answer."""
    if len(name) <= limit:
        return repr(name)
    return repr(name[:limit]) + f"... ({len(name)} characters)"


def canonical_class_name(name: str) -> str:
    """The key two names are compared by: case folded, spaces and '-' as '_', ends stripped."""
    return re.sub(r"[\s\-]+", "_", name.strip().casefold())


def check_class_name_syntax(name: object) -> str:
    """``name`` unchanged when it is a valid class identifier, else :class:`TeachingRuleError`."""
    if not isinstance(name, str):
        raise TeachingRuleError(f"class_name must be a string, got {type(name).__name__}")
    if not name:
        raise TeachingRuleError("class_name is empty")
    if len(name) > MAX_CLASS_NAME_LENGTH:
        raise TeachingRuleError(
            f"class_name {_shown(name)} is too long: {len(name)} characters, at most "
            f"{MAX_CLASS_NAME_LENGTH} are allowed")
    if CLASS_NAME_PATTERN.fullmatch(name):
        return name
    rule = ("a class name is lowercase ASCII letters, digits and '_', starting with a letter "
            "(e.g. 'traffic_cone')")
    if name != name.strip():
        raise TeachingRuleError(f"class_name {_shown(name)} has leading or trailing white space; {rule}")
    suggestion = canonical_class_name(name)
    if CLASS_NAME_PATTERN.fullmatch(suggestion):
        raise TeachingRuleError(f"class_name {_shown(name)} is not allowed: {rule}; use {suggestion!r}")
    if not name[0].isascii() or not name[0].isalpha():
        raise TeachingRuleError(f"class_name {_shown(name)} must start with a letter a-z; {rule}")
    bad = sorted({c for c in name if not (c.isascii() and (c.islower() or c.isdigit() or c == "_"))})
    shown = ", ".join(repr(c) for c in bad[:8])
    raise TeachingRuleError(f"class_name {_shown(name)} contains characters that are not allowed ({shown}); {rule}")


def check_new_class_name(name: object, base_names: Iterable[str], taught_names: Iterable[str] = ()) -> str:
    """``name`` when it may be taught beside ``base_names`` and ``taught_names``.

    Raises :class:`TeachingRuleError` when the syntax is wrong, the name is reserved, or it
    equals a base or taught class after :func:`canonical_class_name`.
    """
    name = check_class_name_syntax(name)
    if name in RESERVED_CLASS_NAMES:
        raise TeachingRuleError(
            f"class_name {name!r} is reserved (the open-set map's 'unknown' / the ground truth's "
            f"void, both id 255); choose another name")
    key = canonical_class_name(name)
    for base in base_names:
        if canonical_class_name(base) == key:
            raise TeachingRuleError(f"class_name {name!r} is the model's base class {base!r}; "
                                    "a base class cannot be taught again")
    for taught in taught_names:
        if canonical_class_name(taught) == key:
            if taught == name:
                raise TeachingRuleError(f"a class named {name!r} already exists; remove it first to reteach it")
            raise TeachingRuleError(f"class_name {name!r} clashes with the taught class {taught!r} "
                                    "(names are compared ignoring case, spaces and '-')")
    return name


def check_new_class_name_in(class_set, name: object) -> str:
    """:func:`check_new_class_name` against a :class:`~owss_ros.core.class_set.ClassSet`."""
    from owss_ros.core.class_set import ClassOrigin

    base = [e.name for e in class_set.entries if e.origin is ClassOrigin.BASE]
    taught = [e.name for e in class_set.entries if e.origin is not ClassOrigin.BASE]
    return check_new_class_name(name, base, taught)


def check_mask_pixels(pixels: int, label: str = "mask", minimum: int = MIN_MASK_PIXELS,
                      resolution_hw: Sequence[int] | None = None) -> int:
    """``pixels`` when a mask has at least ``minimum`` of them (counted at model resolution)."""
    pixels = int(pixels)
    if pixels < minimum:
        where = f" at model resolution {resolution_hw[1]}x{resolution_hw[0]}" if resolution_hw else " at model resolution"
        raise TeachingRuleError(
            f"{label}: the mask covers {pixels} pixel{'s' if pixels != 1 else ''}{where}; at least "
            f"{minimum} are needed (draw the whole object, or use a larger frame)")
    return pixels


def check_stamp(sec: object, nanosec: object, label: str = "frame_stamps") -> int:
    """The stamp in nanoseconds when ``(sec, nanosec)`` is a valid ``builtin_interfaces/Time``."""
    for field, value in (("sec", sec), ("nanosec", nanosec)):
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
            raise TeachingRuleError(f"{label}: {field} must be an integer, got {value!r}")
    sec, nanosec = int(sec), int(nanosec)
    if sec < 0:
        raise TeachingRuleError(f"{label}: sec must not be negative, got {sec}")
    if not 0 <= nanosec < NANOSECONDS_PER_SECOND:
        raise TeachingRuleError(
            f"{label}: nanosec must be in [0, 999999999], got {nanosec} (write the next second in sec)")
    return sec * NANOSECONDS_PER_SECOND + nanosec


def check_stamp_message(stamp, label: str = "frame_stamps") -> int:
    """:func:`check_stamp` for anything with ``.sec`` and ``.nanosec`` (builtin_interfaces/Time)."""
    return check_stamp(stamp.sec, stamp.nanosec, label)


def taught_prototypes(class_set) -> list[tuple[str, np.ndarray]]:
    """(name, prototype) of every class of ``class_set`` that has a stored prototype."""
    return [(e.name, np.asarray(e.prototype, dtype=np.float64))
            for e in class_set.entries if e.prototype is not None]


def check_distinct_prototype(prototype, existing: Iterable[tuple[str, object]],
                             max_sq_distance: float = DUPLICATE_PROTOTYPE_SQ_DISTANCE,
                             name: str | None = None) -> float:
    """The smallest squared distance from ``prototype`` to ``existing`` (inf when empty).

    Raises :class:`TeachingRuleError` when it is ``<= max_sq_distance``: the prototype is
    (nearly) one that is already taught, e.g. the same mask on the same frame sent under a
    second name.
    """
    p = np.asarray(prototype, dtype=np.float64).ravel()
    nearest_name, nearest = "", float("inf")
    for other_name, other in existing:
        q = np.asarray(other, dtype=np.float64).ravel()
        if q.shape != p.shape:
            raise TeachingRuleError(f"prototype has {p.size} values, {other_name!r} has {q.size}")
        d = float(((p - q) ** 2).sum())
        if d < nearest:
            nearest_name, nearest = other_name, d
    if nearest <= max_sq_distance:
        what = f"class_name {name!r}" if name else "the new class"
        raise TeachingRuleError(
            f"{what}: its prototype is identical to that of the taught class {nearest_name!r} "
            f"(squared distance {nearest:.3g} <= {max_sq_distance:g}); the same pixels were "
            f"already taught under that name")
    return nearest


def check_distinct_prototype_in(class_set, prototype, name: str | None = None,
                                max_sq_distance: float = DUPLICATE_PROTOTYPE_SQ_DISTANCE) -> float:
    """:func:`check_distinct_prototype` against the taught prototypes of a ClassSet."""
    return check_distinct_prototype(prototype, taught_prototypes(class_set), max_sq_distance, name)
