"""Report helpers: JSON without NaN (undefined values become ``null``) and markdown tables."""

from __future__ import annotations

import dataclasses
import json
import math
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from owss_ros.core.atomic_file import atomic_write_text


def json_ready(value: Any) -> Any:
    """Plain JSON types; NaN / infinity -> None, numpy scalars and arrays -> Python values."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        value = dataclasses.asdict(value)
    if isinstance(value, dict):
        return {str(key): json_ready(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [json_ready(item) for item in value]
    if isinstance(value, np.ndarray):
        return json_ready(value.tolist())
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, Path):
        return str(value)
    return value


def write_json(path: str | Path, document: Any) -> Path:
    """``document`` as JSON (see :func:`json_ready`), written atomically."""
    return atomic_write_text(path, json.dumps(json_ready(document), indent=1, allow_nan=False))


def percent(value: float | None, digits: int = 1) -> str:
    """``0.937`` -> ``"93.7"``; None / NaN -> ``"-"`` (the paper reports percentages)."""
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return "-"
    return f"{100.0 * value:.{digits}f}"


def mean_and_spread(mean: float | None, std: float | None, digits: int = 1) -> str:
    """``"66.1 ± 2.3"`` in percent; the spread is left out when it is None."""
    text = percent(mean, digits)
    if text == "-" or std is None or not math.isfinite(std):
        return text
    return f"{text} ± {100.0 * std:.{digits}f}"


def markdown_table(headers: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    lines = ["| " + " | ".join(headers) + " |", "|" + "|".join("---" for _ in headers) + "|"]
    lines += ["| " + " | ".join(str(cell) for cell in row) + " |" for row in rows]
    return "\n".join(lines)


def command_line(subcommand: str, args, skip: Sequence[str] = ("func", "command")) -> str:
    """The command with every option spelled out, rebuilt from the parsed arguments (so it is
    right whether the command came from a shell or from ``main([...])``)."""
    import shlex

    words = ["python", "-m", "owss_ros.cli", subcommand]
    for key, value in vars(args).items():
        if key in skip or value is None or value is False or value == []:
            continue
        flag = "--" + key.replace("_", "-")
        if value is True:
            words.append(flag)
        elif isinstance(value, (list, tuple)):
            if value and isinstance(value[0], (list, tuple)):  # repeated pairs, e.g. --shot IMAGE MASK
                for item in value:
                    words += [flag, *map(str, item)]
            elif isinstance(value, list) and key in ("anomaly_data",):
                for item in value:
                    words += [flag, str(item)]
            else:
                words += [flag, *map(str, value)]
        else:
            words += [flag, str(value)]
    return shlex.join(words)
