"""The versioned sampler JSON: round trip, and every malformed document refused naming its field."""

from __future__ import annotations

import copy
import json

import pytest
import torch

from sampler_space import SamplerFormatError, load_sampler, sampler_to_document, save_sampler
from sampler_space.swift import SwiftSampler
from sampler_space.transforms import fit_transform


@pytest.fixture
def swift() -> SwiftSampler:
    generator = torch.Generator().manual_seed(0)
    raw = torch.rand(400, 2, generator=generator)
    proxy = torch.rand(400, generator=generator)
    transforms = [fit_transform("cgf", raw[:, 0], proxy), fit_transform("cdf", raw[:, 1])]
    return SwiftSampler.from_unit_cube(torch.rand(10, generator=generator), transforms,
                                       source={"job_id": 3, "trial_id": 7, "task": "digits"})


def test_save_and_load_round_trip_gives_identical_probabilities(swift: SwiftSampler, tmp_path) -> None:
    save_sampler(swift, tmp_path / "s.json")
    loaded = load_sampler(tmp_path / "s.json")
    raw = torch.rand(1000, 2) * 1.2 - 0.1
    assert torch.equal(loaded.probabilities(raw), swift.probabilities(raw))
    assert loaded.source == swift.source and loaded.features == ("loss", "entropy")
    assert json.loads((tmp_path / "s.json").read_text())["version"] == 1


def broken(document: dict, edit) -> dict:
    document = copy.deepcopy(document)
    edit(document)
    return document


def _set(path: list, value):
    def edit(document):
        target = document
        for key in path[:-1]:
            target = target[key]
        target[path[-1]] = value
    return edit


def _delete(key):
    return lambda document: document.pop(key)


CASES = [
    ("wrong-format", _set(["format"], "torch.sampler"), "'format'"),
    ("unknown-version", _set(["version"], 2), "'version'"),
    ("wrong-kind", _set(["kind"], "nws"), "'kind'"),
    ("unknown-feature", _set(["features", 1], "margin"), "'features'"),
    ("knot-rows-vs-features", _set(["knots"], [[0.5] * 5]), "'knots'"),
    ("knot-row-length", _set(["knots", 0], [0.5] * 4), "'knots[0]'"),
    ("knot-above-one", _set(["knots", 1, 2], 1.5), "'knots[1]'"),
    ("nan-knot", _set(["knots", 0, 0], float("nan")), "NaN"),
    ("infinite-breakpoint", _set(["transforms", 0, "breakpoints", 3], float("inf")), "transforms[0].breakpoints"),
    ("decreasing-breakpoints", lambda d: d["transforms"][0]["breakpoints"].reverse(), "strictly increasing"),
    ("repeated-breakpoint", lambda d: d["transforms"][1]["breakpoints"].__setitem__(1, d["transforms"][1]["breakpoints"][0]),
     "strictly increasing"),
    ("decreasing-values", lambda d: d["transforms"][1]["values"].reverse(), "non-decreasing"),
    ("transforms-count", lambda d: d["transforms"].pop(), "'transforms'"),
    ("unknown-transform", _set(["transforms", 0, "kind"], "rank"), "transforms[0].kind"),
    ("missing-epsilon", _delete("epsilon"), "'epsilon'"),
    ("zero-epsilon", _set(["epsilon"], 0), "'epsilon'"),
    ("boolean-epsilon", _set(["epsilon"], True), "'epsilon'"),
    ("string-segments", _set(["segments"], "4"), "'segments'"),
    ("missing-knots", _delete("knots"), "'knots'"),
    ("source-not-object", _set(["source"], [1]), "'source'"),
]


@pytest.mark.parametrize(("edit", "field"), [(c[1], c[2]) for c in CASES], ids=[c[0] for c in CASES])
def test_malformed_documents_are_refused_naming_the_field(swift: SwiftSampler, tmp_path, edit, field: str) -> None:
    path = tmp_path / "bad.json"
    path.write_text(json.dumps(broken(sampler_to_document(swift), edit), allow_nan=True))
    with pytest.raises(SamplerFormatError, match=field.replace("[", r"\[").replace("]", r"\]")):
        load_sampler(path)


def test_text_that_is_not_json_is_refused(tmp_path) -> None:
    path = tmp_path / "bad.json"
    path.write_text("{knots: [")
    with pytest.raises(SamplerFormatError, match="not valid JSON"):
        load_sampler(path)


def test_a_json_array_is_refused(tmp_path) -> None:
    path = tmp_path / "bad.json"
    path.write_text("[]")
    with pytest.raises(SamplerFormatError, match="JSON object"):
        load_sampler(path)


def _file_contents(swift: SwiftSampler) -> dict[str, bytes]:
    document = sampler_to_document(swift)
    text = json.dumps(document)
    return {
        "deep-nesting": b"[" * 100_000 + b"]" * 100_000,
        "not-utf8": b"\xff\xfe" + text.encode("utf-16-le"),
        "huge-integer": text.replace('"version": 1', '"version": ' + "9" * 5000).encode(),
        "huge-epsilon": json.dumps({**document, "epsilon": 1e300}).encode(),
        "duplicate-features": json.dumps({**document, "features": ["loss", "loss"]}).encode(),
        "extra-field": json.dumps({**document, "knotz": [[0.5] * 5] * 2}).encode(),
        "empty": b"",
    }


@pytest.mark.parametrize("case", ["deep-nesting", "not-utf8", "huge-integer", "huge-epsilon", "duplicate-features",
                                  "extra-field", "empty", "directory"])
def test_malformed_files_are_refused_with_a_format_error(swift: SwiftSampler, tmp_path, case: str) -> None:
    path = tmp_path / "sampler.json"
    if case == "directory":
        path.mkdir()
    else:
        path.write_bytes(_file_contents(swift)[case])
    with pytest.raises(SamplerFormatError) as refused:
        load_sampler(path)
    assert len(str(refused.value)) < 400
