"""Pure tensor math of samplersearch: the Swift Sampler, its transforms, features, JSON format
and index drawing. Imports torch and numpy only."""

from sampler_space.drawing import IndexDrawer, WeightedIndexSampler, draw_indices
from sampler_space.features import FEATURE_NAMES, features_from_logits, features_from_model
from sampler_space.sampler_json import (
    SamplerFormatError,
    load_sampler,
    sampler_from_document,
    sampler_to_document,
    save_sampler,
)
from sampler_space.space import InvalidCandidateError, SamplerSpace
from sampler_space.swift import SwiftSampler, parameter_names
from sampler_space.transforms import FittedTransform, fit_transform

__all__ = [
    "FEATURE_NAMES",
    "FittedTransform",
    "InvalidCandidateError",
    "IndexDrawer",
    "SamplerFormatError",
    "SamplerSpace",
    "SwiftSampler",
    "WeightedIndexSampler",
    "draw_indices",
    "features_from_logits",
    "features_from_model",
    "fit_transform",
    "load_sampler",
    "parameter_names",
    "sampler_from_document",
    "sampler_to_document",
    "save_sampler",
]
