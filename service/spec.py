"""Job specifications: the validated, defaulted description of one search job.

The CLI builds these from options; the REST API takes them as request bodies. Validation errors
name the offending field.
"""

from __future__ import annotations

import math
from typing import Annotated, Any, Literal, Union

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Discriminator,
    Field,
    StrictBool,
    StrictFloat,
    StrictInt,
    Tag,
    TypeAdapter,
    field_validator,
    model_validator,
)

from sampler_space.features import FEATURE_NAMES
from sampler_space.sampler_json import sampler_from_document
from sampler_space.strategies import make_strategy, strategy_class
from sampler_space.strategies.registry import STRATEGIES, UnknownStrategyError
from sampler_space.swift import SwiftSampler
from workers.tasks import TaskSpec, get_task, list_tasks
from workers.tasks.registry import UnknownTaskError

SEARCHERS = ("gp-ucb", "random", "optuna")
#: the largest seed, epoch count or index a job may ask for (the store's 32-bit integers)
MAX_INT = 2**31 - 1
#: every spec model: no unknown fields, and no NaN or infinity in any number
SPEC_CONFIG = ConfigDict(extra="forbid", allow_inf_nan=False)


def _whole_number(value: Any) -> Any:
    return int(value) if isinstance(value, float) and value.is_integer() and abs(value) < 2**63 else value


#: an integer as JSON Schema has it: ``3`` or ``3.0``, never ``3.5``, ``"3"`` or ``true``
Integer = Annotated[StrictInt, BeforeValidator(_whole_number)]
#: pseudo-strategy of strategy jobs: fixed weights from an exported Swift Sampler
SWIFT = "swift"
#: the most rounds of reference-model training a job may ask for (``search.reference_rounds``)
MAX_REFERENCE_ROUNDS = 5


def sampler_reference_rounds(sampler: SwiftSampler) -> int:
    """How many rounds trained the reference model whose features ``sampler`` weighs, from its
    ``source.reference_rounds`` (absent: 1, the only kind before rounds existed).

    Raises:
        ValueError: naming the field, when it is not an integer from 1 to ``MAX_REFERENCE_ROUNDS``.
    """
    rounds = sampler.source.get("reference_rounds", 1)
    if isinstance(rounds, bool) or not isinstance(rounds, int) or not 1 <= rounds <= MAX_REFERENCE_ROUNDS:
        raise ValueError(f"source.reference_rounds must be an integer from 1 to {MAX_REFERENCE_ROUNDS}, "
                         f"got {rounds!r:.40}")
    return rounds


class TaskConfig(BaseModel):
    """Which task, and how its training split is perturbed."""

    model_config = SPEC_CONFIG

    name: str = Field(max_length=64, examples=["mnist1d"],
                      json_schema_extra=lambda schema: schema.update(enum=[t.name for t in list_tasks()]))
    label_noise: StrictFloat = Field(default=0.0, ge=0.0, lt=1.0, description="fraction of training labels flipped")
    noise_kind: Literal["symmetric", "asymmetric"] = "symmetric"
    imbalance: StrictFloat = Field(default=1.0, ge=1.0, le=1e6,
                                   description="long-tail ratio n_max/n_min of the training split")
    data: str | None = Field(default=None, min_length=1, max_length=255,
                             description="arrays task: .npz path relative to the data directory")
    train_size: Integer | None = Field(default=None, ge=20, le=MAX_INT,
                                       description="a seeded random subset of this many shipped training rows")
    clean_validation: StrictBool = Field(
        default=False, description="the validation split carved from the training data keeps its true labels "
                                   "(a small trusted set); a shipped x_val, y_val is never noised")

    @field_validator("name")
    @classmethod
    def _known_task(cls, name: str) -> str:
        try:
            get_task(name)
        except UnknownTaskError as error:
            raise ValueError(str(error)) from None
        return name

    @field_validator("data")
    @classmethod
    def _plain_path(cls, data: str | None) -> str | None:
        if data is not None and ("\x00" in data or any(len(part) > 255 for part in data.split("/"))):
            raise ValueError("must be a path without NUL characters and with names of at most 255 characters")
        return data

    @model_validator(mode="after")
    def _data_only_for_tasks_that_read_it(self) -> "TaskConfig":
        if self.data is not None and not get_task(self.name).takes_data:
            raise ValueError(f"data: task {self.name!r} reads no data file; leave data out")
        return self

    def to_task_spec(self) -> TaskSpec:
        return TaskSpec(self.name, self.label_noise, self.noise_kind, self.imbalance, self.data, self.train_size,
                        self.clean_validation)


class SearchConfig(BaseModel):
    """How the sampler space is searched."""

    model_config = SPEC_CONFIG

    trials: Integer = Field(default=40, ge=1, le=MAX_INT, description="number of candidate samplers evaluated")
    initial: Integer = Field(default=8, ge=1, le=10_000, description="scrambled Sobol points before the GP takes over")
    parallel: Integer = Field(default=2, ge=1, le=1024, description="trials running at once")
    searcher: Literal["gp-ucb", "random", "optuna"] = "gp-ucb"
    fine_tune_epochs: Integer | None = Field(default=None, ge=1, le=1000,
                                               description="E_f; the task's default when omitted")
    fine_tune_lr: StrictFloat | None = Field(default=None, gt=0.0, le=10.0,
                                             description="peak learning rate of each candidate's fine-tune; the "
                                                         "task's default when omitted")
    ucb_beta: StrictFloat = Field(default=2.0, gt=0.0, le=1e6)
    seed: Integer = Field(default=0, ge=0, le=MAX_INT)
    objective: Literal["last", "best", "tail-mean"] = Field(
        default="tail-mean", description="a trial's score: validation accuracy after the last fine-tune epoch, the "
                                         "best epoch's, or the mean over the last ceil(E_f / 2) epochs (less seed "
                                         "noise; the default)")
    transform: Literal["cgf", "cdf"] = "cgf"
    reference_rounds: Integer = Field(
        default=2, ge=1, le=MAX_REFERENCE_ROUNDS,
        description="rounds of reference-model training (the shared weights and the features' source): 1 is E_o "
                    "epochs of uniform training; each further round trains again from the same initialisation, "
                    "drawing rows by their probability of being clean under the previous round's model (a "
                    "two-component Gaussian mixture on its training loss)")
    features: list[str] = Field(default_factory=lambda: ["loss", "entropy"], min_length=1, max_length=8)
    segments: Integer = Field(default=4, ge=1, le=32)
    epsilon: StrictFloat = Field(default=1e-3, gt=0.0, le=1.0)
    max_failures: Integer = Field(default=0, ge=0, le=100, description="Ray Tune retries of a crashed trial")
    lookahead: StrictBool = Field(default=True, description="gp-ucb with parallel > 1: prepare each suggestion "
                                                         "while trials run, so that no worker waits for the GP")
    start_uniform: bool = Field(default=True, description="evaluate the uniform sampler (all knots 0.5) first")
    warm_start: list[Annotated[Integer, Field(ge=1, le=MAX_INT)]] = Field(
        default_factory=list, max_length=20,
        description="ids of earlier search jobs on the same task and sampler space: the searcher learns their "
                    "succeeded trials before proposing its own")

    @field_validator("warm_start")
    @classmethod
    def _distinct_sources(cls, sources: list[int]) -> list[int]:
        if len(set(sources)) != len(sources):
            raise ValueError("lists a job more than once")
        return sources

    @field_validator("features")
    @classmethod
    def _known_features(cls, features: list[str]) -> list[str]:
        unknown = [f for f in features if f not in FEATURE_NAMES]
        if unknown:
            raise ValueError(f"unknown feature {unknown[0]!r}; known: {', '.join(FEATURE_NAMES)}")
        if len(set(features)) != len(features):
            raise ValueError("features must not repeat")
        return features


class Resources(BaseModel):
    """Resources of one trial (fractional GPUs share a device)."""

    model_config = SPEC_CONFIG

    cpu: StrictFloat = Field(default=1.0, ge=0.0001, le=1024.0)
    gpu: StrictFloat = Field(default=0.0, ge=0.0, le=1024.0)

    @field_validator("cpu", "gpu")
    @classmethod
    def _ray_granularity(cls, amount: float) -> float:
        if abs(round(amount, 4) - amount) > 1e-9:
            raise ValueError("must be a multiple of 0.0001 (Ray's resource granularity)")
        return amount


class VerifyConfig(BaseModel):
    """The verify stage that ends a search: the ``candidates`` trials the GP's posterior mean
    ranks highest, and uniform, are measured again on ``seeds`` fresh training seeds; a
    candidate is recommended only when it beats uniform outside the noise, otherwise uniform is.
    ``candidates: 0`` skips the stage and recommends the posterior mean's best trial.
    ``measure: scratch`` (the default) trains each from scratch and scores it on the validation
    split; ``fine-tune`` re-runs the trial's fine-tune instead, ``scratch epochs / E_f`` times
    cheaper, but under class-pair (asymmetric) noise the fine-tune score ranks candidates unlike
    training from scratch does and recommended samplers that lost to uniform
    (``bench/results/proxy_fidelity-mnist1d-asymmetric0.4.md``, ``recommendation_vs_uniform-*.md``).

    The defaults spend (2 + 1) x 4 = 12 fine-tunes, as many as 3 candidates x 3 seeds would, but
    test with 3 degrees of freedom at level 0.05 instead of 2 at 0.033: real gains of a few tenths
    of a point, which 3 x 3 missed at p = 0.034 and 0.041, pass (``bench/results/verify_power.md``)."""

    model_config = SPEC_CONFIG

    candidates: Integer = Field(default=2, ge=0, le=10, description="top trials re-measured; 0 skips the stage")
    seeds: Integer = Field(default=4, ge=2, le=20, description="fresh training seeds per candidate and for uniform")
    alpha: StrictFloat = Field(default=0.1, gt=0.0, lt=0.5, description="family-wise level of the test against uniform")
    measure: Literal["scratch", "fine-tune"] = Field(
        default="scratch", description="how a candidate is re-measured: trained from scratch and scored on the "
                                       "validation split (what the user will do; the default), or fine-tuned from "
                                       "the shared weights as a trial is (cheaper, but misleading under class-pair "
                                       "noise)")
    epochs: Integer | None = Field(default=None, ge=1, le=1000,
                                   description="epochs of a scratch measurement (default: the task's scratch epochs)")


class ReportConfig(BaseModel):
    """The optional final stage of a search job: train the task's model from scratch with the best
    sampler and with uniform sampling, on the job's noisy data and the same ``seeds`` training
    seeds (0..seeds-1), and store both test accuracies and the gain (the Swift Sampler paper's
    protocol). Runs as Ray tasks with the job's per-trial resources."""

    model_config = SPEC_CONFIG

    scratch: StrictBool = Field(default=False, description="run the from-scratch report once the search ends")
    seeds: Integer = Field(default=1, ge=1, le=20, description="training seeds per sampler")
    epochs: Integer | None = Field(default=None, ge=1, le=1000, description="epochs from scratch (default: the task's)")


class JobSpec(BaseModel):
    """A search job: task, search, per-trial resources and the optional from-scratch report."""

    model_config = SPEC_CONFIG

    kind: Literal["search"] = "search"
    task: TaskConfig
    search: SearchConfig = Field(default_factory=SearchConfig)
    resources: Resources = Field(default_factory=Resources)
    verify: VerifyConfig = Field(default_factory=VerifyConfig)
    report: ReportConfig = Field(default_factory=ReportConfig)


def strategy_names() -> list[str]:
    """The names a strategy job accepts: every registered strategy but ``static-weights``
    (reached through ``swift``), and ``swift``."""
    return [name for name in STRATEGIES if name != "static-weights"] + [SWIFT]


class StrategyConfig(BaseModel):
    """A fixed strategy by registered name with its options (see ``GET /strategies``)."""

    model_config = SPEC_CONFIG

    name: str = Field(max_length=64, examples=["adaselection"],
                      json_schema_extra=lambda schema: schema.update(enum=strategy_names()))
    options: dict[str, Any] = Field(default_factory=dict, max_length=32, examples=[{"rate": 0.3}])

    @field_validator("options")
    @classmethod
    def _finite_numbers(cls, options: dict[str, Any]) -> dict[str, Any]:
        def check(value: Any, where: str) -> None:
            if isinstance(value, float) and not math.isfinite(value):
                raise ValueError(f"{where}: numbers must be finite")
            if isinstance(value, dict):
                for key, item in value.items():
                    check(item, f"{where}.{key}")
            elif isinstance(value, list):
                for position, item in enumerate(value):
                    check(item, f"{where}[{position}]")

        check(options, "options")
        return options

    @field_validator("name")
    @classmethod
    def _known_strategy(cls, name: str) -> str:
        if name == SWIFT:
            return name
        try:
            strategy_class(name)
        except UnknownStrategyError as error:
            raise ValueError(f"{error}, {SWIFT}") from None
        if name == "static-weights":
            raise ValueError(f"use {SWIFT!r} with options {{'sampler': <sampler JSON>}} for fixed weights")
        return name

    @model_validator(mode="after")
    def _valid_options(self) -> "StrategyConfig":
        if self.name == SWIFT:
            if set(self.options) != {"sampler"}:
                raise ValueError("options: the swift strategy takes exactly one option, 'sampler' (a sampler JSON document)")
            try:
                sampler_reference_rounds(sampler_from_document(self.options["sampler"]))
            except ValueError as error:  # SamplerFormatError is one
                raise ValueError(f"options.sampler: {error}") from None
            return self
        try:
            make_strategy(self.name, self.options)
        except (TypeError, ValueError) as error:
            raise ValueError(f"options: {error}") from None
        return self


class StrategyRun(BaseModel):
    """How a strategy job trains: one trial per training seed, from scratch, on data perturbed
    with ``data_seed`` (the same noisy data for every seed and every strategy compared)."""

    model_config = SPEC_CONFIG

    seeds: Integer = Field(default=3, ge=1, le=100, description="trials, one per training seed 0..seeds-1")
    data_seed: Integer = Field(default=0, ge=0, le=MAX_INT,
                                 description="seed of the label noise / imbalance / validation split")
    epochs: Integer | None = Field(default=None, ge=1, le=1000,
                                     description="epochs from scratch; the task's default when omitted")
    parallel: Integer = Field(default=2, ge=1, le=1024)
    max_failures: Integer = Field(default=0, ge=0, le=100)


class StrategyJobSpec(BaseModel):
    """A job that runs a fixed strategy on a task for several seeds."""

    model_config = SPEC_CONFIG

    kind: Literal["strategy"]
    task: TaskConfig
    strategy: StrategyConfig
    run: StrategyRun = Field(default_factory=StrategyRun)
    resources: Resources = Field(default_factory=Resources)


def _job_kind(value: Any) -> str:
    if isinstance(value, dict):
        return value.get("kind", "search")
    return getattr(value, "kind", "search")


AnyJobSpec = Annotated[
    Union[Annotated[JobSpec, Tag("search")], Annotated[StrategyJobSpec, Tag("strategy")]],
    Discriminator(_job_kind),
]
_ANY_JOB_SPEC: TypeAdapter = TypeAdapter(AnyJobSpec)


def parse_job_spec(data: Any) -> JobSpec | StrategyJobSpec:
    """Validate a stored or submitted job body of either kind (``kind`` defaults to ``search``)."""
    return _ANY_JOB_SPEC.validate_python(data)
