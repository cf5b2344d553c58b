"""The versioned sampler JSON document: build, validate, save and load.

Format (version 1)::

    {"format": "samplersearch.sampler", "version": 1, "kind": "swift",
     "features": ["loss", "entropy"], "segments": 4,
     "knots": [[5 floats], [5 floats]], "epsilon": 1e-3,
     "transforms": [{"kind": "cgf", "breakpoints": [...], "values": [...]}, ...],
     "source": {"job_id": ..., "trial_id": ..., "task": ..., "task_spec": {...},
                "metric": ..., "value": ..., "seed": ..., "created_at": ...}}

``source`` is free-form provenance; a search job writes its whole task spec (name, label noise
and kind, imbalance, data file) under ``task_spec``, since the reference model depends on it.

Every rule broken on load raises :class:`SamplerFormatError` naming the offending field.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import torch

from sampler_space.features import FEATURE_NAMES
from sampler_space.swift import SwiftSampler
from sampler_space.transforms import TRANSFORM_KINDS, FittedTransform

FORMAT_NAME = "samplersearch.sampler"
FORMAT_VERSION = 1


class SamplerFormatError(ValueError):
    """A sampler document that does not follow the format; the message names the field."""


def sampler_to_document(sampler: SwiftSampler) -> dict[str, Any]:
    """The JSON-ready document of ``sampler`` (plain lists and floats)."""
    return {
        "format": FORMAT_NAME,
        "version": FORMAT_VERSION,
        "kind": "swift",
        "features": list(sampler.features),
        "segments": sampler.segments,
        "knots": sampler.knots.tolist(),
        "epsilon": float(sampler.epsilon),
        "transforms": [
            {"kind": t.kind, "breakpoints": t.breakpoints.tolist(), "values": t.values.tolist()}
            for t in sampler.transforms
        ],
        "source": dict(sampler.source),
    }


def _require(document: dict[str, Any], key: str, kind: type | tuple[type, ...], where: str = "") -> Any:
    if key not in document:
        raise SamplerFormatError(f"missing field {where}{key!r}")
    value = document[key]
    if not isinstance(value, kind) or isinstance(value, bool):
        raise SamplerFormatError(f"field {where}{key!r} has the wrong type ({type(value).__name__})")
    return value


def _finite_numbers(values: Any, field: str) -> list[float]:
    if not isinstance(values, list) or not all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in values):
        raise SamplerFormatError(f"field {field!r} must be a list of numbers")
    if not all(math.isfinite(v) for v in values):
        raise SamplerFormatError(f"field {field!r} holds NaN or infinity")
    return [float(v) for v in values]


def _transform_from_document(item: Any, index: int) -> FittedTransform:
    where = f"transforms[{index}]."
    if not isinstance(item, dict):
        raise SamplerFormatError(f"field 'transforms[{index}]' must be an object")
    kind = _require(item, "kind", str, where)
    if kind not in TRANSFORM_KINDS:
        raise SamplerFormatError(f"field {where}kind: unknown transform {kind!r}; known: {', '.join(TRANSFORM_KINDS)}")
    breakpoints = _finite_numbers(_require(item, "breakpoints", list, where), where + "breakpoints")
    values = _finite_numbers(_require(item, "values", list, where), where + "values")
    if len(breakpoints) < 2 or len(values) != len(breakpoints):
        raise SamplerFormatError(f"field {where}breakpoints/values: need equal lengths >= 2")
    if any(b >= a for a, b in zip(breakpoints[1:], breakpoints[:-1])):
        raise SamplerFormatError(f"field {where}breakpoints must be strictly increasing")
    if any(b > a for a, b in zip(values[1:], values[:-1])) or values[0] < 0 or values[-1] > 1:
        raise SamplerFormatError(f"field {where}values must be non-decreasing and in [0, 1]")
    return FittedTransform(kind, torch.tensor(breakpoints, dtype=torch.float64),
                           torch.tensor(values, dtype=torch.float64))


#: the fields of a version-1 document; any other field is refused, so that a typo is not ignored
DOCUMENT_FIELDS = frozenset({"format", "version", "kind", "features", "segments", "knots", "epsilon", "transforms",
                             "source"})
#: the largest epsilon accepted: beyond it every weight is epsilon and the sampler is uniform anyway
MAX_EPSILON = 1.0


def sampler_from_document(document: Any) -> SwiftSampler:
    """Validate ``document`` and build the sampler it describes."""
    if not isinstance(document, dict):
        raise SamplerFormatError("a sampler document must be a JSON object")
    extra = sorted(set(document) - DOCUMENT_FIELDS)
    if extra:
        raise SamplerFormatError(f"unknown field {extra[0]!r:.80}; a version-1 document has "
                                 f"{', '.join(sorted(DOCUMENT_FIELDS))}")
    if _require(document, "format", str) != FORMAT_NAME:
        raise SamplerFormatError(f"field 'format' must be {FORMAT_NAME!r}, got {document['format']!r}")
    version = _require(document, "version", int)
    if version != FORMAT_VERSION:
        raise SamplerFormatError(f"field 'version': unsupported version {version}; this release reads {FORMAT_VERSION}")
    if _require(document, "kind", str) != "swift":
        raise SamplerFormatError(f"field 'kind': unsupported sampler kind {document['kind']!r}; known: swift")
    features = _require(document, "features", list)
    if not features or not all(isinstance(f, str) for f in features):
        raise SamplerFormatError("field 'features' must be a non-empty list of names")
    unknown = [f for f in features if f not in FEATURE_NAMES]
    if unknown:
        raise SamplerFormatError(f"field 'features': unknown feature {unknown[0]!r:.80}; known: {', '.join(FEATURE_NAMES)}")
    if len(set(features)) != len(features):
        raise SamplerFormatError("field 'features' must not repeat a feature")
    segments = _require(document, "segments", int)
    if segments < 1:
        raise SamplerFormatError("field 'segments' must be at least 1")
    knots = _require(document, "knots", list)
    if len(knots) != len(features):
        raise SamplerFormatError(f"field 'knots' must hold one row per feature ({len(features)}), got {len(knots)}")
    rows = []
    for n, row in enumerate(knots):
        row = _finite_numbers(row, f"knots[{n}]")
        if len(row) != segments + 1:
            raise SamplerFormatError(f"field 'knots[{n}]' must hold segments + 1 = {segments + 1} values, got {len(row)}")
        if any(v < 0 or v > 1 for v in row):
            raise SamplerFormatError(f"field 'knots[{n}]' values must lie in [0, 1]")
        rows.append(row)
    epsilon = _require(document, "epsilon", (int, float))
    if isinstance(epsilon, bool) or not (math.isfinite(epsilon) and 0 < epsilon <= MAX_EPSILON):
        raise SamplerFormatError(f"field 'epsilon' must be a number in (0, {MAX_EPSILON:g}]")
    transforms = _require(document, "transforms", list)
    if len(transforms) != len(features):
        raise SamplerFormatError(
            f"field 'transforms' must hold one transform per feature ({len(features)}), got {len(transforms)}")
    fitted = tuple(_transform_from_document(item, n) for n, item in enumerate(transforms))
    source = document.get("source", {})
    if not isinstance(source, dict):
        raise SamplerFormatError("field 'source' must be an object")
    return SwiftSampler(tuple(features), fitted, torch.tensor(rows, dtype=torch.float64), float(epsilon), source)


def save_sampler(sampler: SwiftSampler, path: str | Path) -> None:
    """Write ``sampler`` as indented JSON to ``path`` (parents must exist)."""
    Path(path).write_text(json.dumps(sampler_to_document(sampler), indent=2) + "\n")


def load_sampler(path: str | Path) -> SwiftSampler:
    """Read and validate a sampler JSON file; raises :class:`SamplerFormatError` on any defect
    (``FileNotFoundError`` when there is no such file)."""
    path = Path(path)
    if path.exists() and not path.is_file():
        raise SamplerFormatError(f"{path}: not a file")
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as error:
        raise SamplerFormatError(f"{path}: not UTF-8 text ({error.reason} at byte {error.start})") from None
    try:
        document = json.loads(text)
    except json.JSONDecodeError as error:
        raise SamplerFormatError(f"{path}: not valid JSON ({error})") from None
    except (RecursionError, ValueError) as error:  # nesting too deep; an integer of thousands of digits
        raise SamplerFormatError(f"{path}: not a sampler document ({type(error).__name__}: {str(error)[:120]})") from None
    return sampler_from_document(document)
