"""Turn a stored trial into the exported sampler JSON document."""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

from sampler_space.sampler_json import sampler_from_document, sampler_to_document
from sampler_space.swift import SwiftSampler, parameter_names
from sampler_space.transforms import FittedTransform


def sampler_context(features: list[str], segments: int, epsilon: float,
                    transforms: tuple[FittedTransform, ...]) -> dict[str, Any]:
    """What a job stores once its transforms are fitted, to rebuild any trial's sampler."""
    return {
        "features": list(features), "segments": segments, "epsilon": epsilon,
        "transforms": [{"kind": t.kind, "breakpoints": t.breakpoints.tolist(), "values": t.values.tolist()}
                       for t in transforms],
    }


def sampler_document(context: dict[str, Any], params: dict[str, float], source: dict[str, Any]) -> dict[str, Any]:
    """The validated sampler JSON document for one trial's ``params``."""
    features, segments = context["features"], context["segments"]
    knots = [[float(params[name]) for name in parameter_names([feature], segments)] for feature in features]
    document = {
        "format": "samplersearch.sampler", "version": 1, "kind": "swift",
        "features": features, "segments": segments, "knots": knots, "epsilon": context["epsilon"],
        "transforms": context["transforms"],
        "source": {**source, "created_at": datetime.now(timezone.utc).isoformat()},
    }
    sampler: SwiftSampler = sampler_from_document(document)
    return sampler_to_document(sampler)
