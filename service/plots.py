"""Plots of a job, drawn from the store alone (trials, the sampler JSON, the ``samples.npz``
artifact), with matplotlib's headless Agg backend; any process can redraw them after a restart.

Search jobs: ``history``, ``sampler``, ``weights``, ``importance``, ``timeline``.
Strategy jobs: ``curves`` (validation accuracy against wall-clock per run) and ``timeline``.
``render(store, job_id, name, fmt)`` returns PNG or SVG bytes.
"""

from __future__ import annotations

import io
import math
from collections.abc import Callable

import matplotlib

matplotlib.use("Agg")  # before pyplot: no display, no GUI toolkit

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import torch  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402

from sampler_space.sampler_json import sampler_from_document  # noqa: E402
from sampler_space.swift import knot_function, probabilities_from_weights  # noqa: E402
from service.jobs.artifacts import SAMPLES  # noqa: E402
from service.jobs.export import job_sampler_document  # noqa: E402
from service.models import Job, Trial, TrialStatus  # noqa: E402
from service.store import Store, as_utc  # noqa: E402

SEARCH_PLOTS = ("history", "sampler", "weights", "importance", "timeline")
STRATEGY_PLOTS = ("curves", "timeline")
FORMATS = {"png": "image/png", "svg": "image/svg+xml"}
_PHASE_COLOURS = {"uniform": "tab:gray", "sobol": "tab:blue", "gp-ucb": "tab:orange"}


class PlotUnavailableError(LookupError):
    """The job has nothing to draw for this plot yet (or never will: wrong job kind)."""


def plot_names(kind: str) -> tuple[str, ...]:
    return SEARCH_PLOTS if kind == "search" else STRATEGY_PLOTS


def _phase(trial: Trial) -> str:
    suggestion = trial.suggestion or ""
    return "gp-ucb" if suggestion == "gp-ucb" else "uniform" if suggestion == "uniform" else "sobol"


def history(store: Store, job: Job) -> Figure:
    """Objective per trial and best so far, by trial index and by wall-clock; failed trials as
    red crosses at the bottom; colours show the phase (uniform, Sobol, GP)."""
    trials = [t for t in store.trials(job.id) if t.status.finished]
    if not trials:
        raise PlotUnavailableError(f"job {job.id} has no finished trial yet")
    start = min(as_utc(t.started_at) for t in trials)
    figure, axes = plt.subplots(1, 2, figsize=(11, 4), sharey=True)
    ok = [t for t in trials if t.status == TrialStatus.SUCCEEDED and t.metric is not None]
    floor = min((t.metric for t in ok), default=0.0)
    for axis, position, label in ((axes[0], lambda t: t.index, "trial index"),
                                  (axes[1], lambda t: (as_utc(t.finished_at) - start).total_seconds(), "seconds")):
        for phase, colour in _PHASE_COLOURS.items():
            members = [t for t in ok if _phase(t) == phase]
            axis.scatter([position(t) for t in members], [t.metric for t in members], s=18, c=colour, label=phase)
        failed = [t for t in trials if t.status != TrialStatus.SUCCEEDED]
        if failed:
            axis.scatter([position(t) for t in failed], [floor] * len(failed), marker="x", c="tab:red", label="failed")
        ordered = sorted(ok, key=position)
        best = np.maximum.accumulate([t.metric for t in ordered]) if ordered else []
        axis.step([position(t) for t in ordered], best, where="post", c="black", lw=1.2, label="best so far")
        axis.set_xlabel(label)
        axis.grid(alpha=0.3)
    axes[0].set_ylabel("objective (validation accuracy)")
    axes[0].legend(fontsize=8)
    figure.suptitle(f"job {job.id}: search history")
    return figure


def sampler(store: Store, job: Job) -> Figure:
    """The recommended sampler: H_n per feature on the transformed scale [0, 1], and the weight
    against the raw feature value (through the fitted transform)."""
    document = _document(store, job)
    swift = sampler_from_document(document)
    names = list(swift.features)
    figure, axes = plt.subplots(2, len(names), figsize=(5 * len(names), 7), squeeze=False)
    u = torch.linspace(0.0, 1.0, 201, dtype=torch.float64)
    for n, name in enumerate(names):
        knots = swift.knots[n]
        axes[0][n].plot(u, knot_function(u, knots), c="tab:orange")
        axes[0][n].scatter(np.linspace(0, 1, len(knots)), knots, c="black", s=20, zorder=3)
        axes[0][n].set(title=f"H for {name}", xlabel=f"{name}, transformed to [0, 1]", ylabel="H", ylim=(-0.05, 1.05))
        transform = swift.transforms[n]
        low, high = float(transform.breakpoints[0]), float(transform.breakpoints[-1])
        raw = torch.linspace(low, high, 201, dtype=torch.float64)
        axes[1][n].plot(raw, knot_function(transform(raw).double().clamp(0, 1), knots), c="tab:blue")
        axes[1][n].set(xlabel=f"raw {name}", ylabel="H (weight up to the floor epsilon)")
        for axis in (axes[0][n], axes[1][n]):
            axis.grid(alpha=0.3)
    choice = document["source"].get("recommended", "trial")
    figure.suptitle(f"job {job.id}: recommended sampler "
                    f"({'uniform' if choice == 'uniform' else 'trial ' + str(document['source']['trial_id'])})")
    figure.tight_layout()
    return figure


def _samples(store: Store, job: Job) -> dict[str, np.ndarray]:
    artifact = store.artifact(job.id, SAMPLES)
    if artifact is None:
        raise PlotUnavailableError(f"job {job.id} has no per-sample data (saved when a search job succeeds)")
    with np.load(io.BytesIO(artifact.content), allow_pickle=False) as archive:
        return {key: archive[key] for key in archive.files}


def _document(store: Store, job: Job) -> dict:
    try:
        return job_sampler_document(store, job.id)
    except LookupError as error:
        raise PlotUnavailableError(str(error)) from None


def weights(store: Store, job: Job) -> Figure:
    """Distribution of sampling probability over the training samples; for a job with label
    noise, flipped and clean samples apart, with the share of probability mass on flipped
    samples under uniform and under the recommended sampler (the noise share training sees)."""
    samples = _samples(store, job)
    swift = sampler_from_document(_document(store, job))
    probabilities = probabilities_from_weights(swift.weights(torch.from_numpy(samples["features"]))).double().numpy()
    flipped = samples["flipped"].astype(bool)
    n = len(probabilities)
    figure, axis = plt.subplots(figsize=(8, 4.5))
    scaled = probabilities * n  # 1 = the uniform probability
    bins = np.linspace(0, max(1.5, float(np.quantile(scaled, 0.995))), 60)
    if flipped.any():
        axis.hist(scaled[~flipped], bins=bins, alpha=0.6, label=f"clean ({(~flipped).sum()})", color="tab:green")
        axis.hist(scaled[flipped], bins=bins, alpha=0.6, label=f"flipped label ({flipped.sum()})", color="tab:red")
        share_uniform, share_found = flipped.mean(), probabilities[flipped].sum()
        axis.set_title(f"job {job.id}: mass on flipped labels {100 * share_uniform:.1f}% under uniform, "
                       f"{100 * share_found:.1f}% under the recommended sampler", fontsize=10)
    else:
        axis.hist(scaled, bins=bins, color="tab:blue", label=f"samples ({n})")
        axis.set_title(f"job {job.id}: sampling probability over the training samples", fontsize=10)
    axis.axvline(1.0, c="black", ls="--", lw=1, label="uniform")
    axis.set(xlabel="sampling probability x N (1 = uniform)", ylabel="samples")
    axis.legend(fontsize=8)
    axis.grid(alpha=0.3)
    return figure


def importance(store: Store, job: Job) -> Figure:
    """Per-knot relevance, 1 / lengthscale of a GP (the searcher's model) fitted to the job's
    succeeded trials: a short lengthscale means the objective changes fast along that knot."""
    from service.searchers.gp_ucb import fit_gp

    if job.spec.get("search", {}).get("searcher", "gp-ucb") != "gp-ucb":
        raise PlotUnavailableError(f"job {job.id} is not a gp-ucb search; importance comes from its GP")
    trials = [t for t in store.trials(job.id) if t.status == TrialStatus.SUCCEEDED and t.metric is not None]
    if len(trials) < 3:
        raise PlotUnavailableError(f"job {job.id} needs 3 succeeded trials for a GP, has {len(trials)}")
    names = sorted(trials[0].params)
    x = torch.tensor([[t.params[n] for n in names] for t in trials], dtype=torch.float64)
    y = torch.tensor([[t.metric] for t in trials], dtype=torch.float64)
    kernel = fit_gp(x, y).covar_module
    lengthscale = getattr(kernel, "base_kernel", kernel).lengthscale.detach().reshape(-1).numpy()
    relevance = 1.0 / lengthscale
    figure, axis = plt.subplots(figsize=(8, 4))
    axis.bar(range(len(names)), relevance / relevance.max(), color="tab:purple")
    axis.set_xticks(range(len(names)), names, rotation=45, ha="right")
    axis.set(ylabel="relevance (1 / lengthscale, max = 1)", title=f"job {job.id}: which knots matter")
    axis.grid(alpha=0.3, axis="y")
    figure.tight_layout()
    return figure


def timeline(store: Store, job: Job) -> Figure:
    """Trials as bars per worker node over time (lanes for trials that overlap on a node): shows
    parallelism, packing and idle gaps."""
    trials = [t for t in store.trials(job.id) if t.started_at is not None]
    if not trials:
        raise PlotUnavailableError(f"job {job.id} has no trial yet")
    start = min(as_utc(t.started_at) for t in trials)
    now = max(as_utc(t.finished_at or t.started_at) for t in trials)
    nodes = sorted({t.worker_node or "?" for t in trials})
    figure, axis = plt.subplots(figsize=(10, 1.2 + 0.5 * len(trials) ** 0.5 * len(nodes)))
    row, labels = 0, []
    for node in nodes:
        lanes: list[float] = []
        for trial in sorted((t for t in trials if (t.worker_node or "?") == node), key=lambda t: t.started_at):
            begin = (as_utc(trial.started_at) - start).total_seconds()
            end = (as_utc(trial.finished_at or now) - start).total_seconds()
            lane = next((k for k, free in enumerate(lanes) if free <= begin), len(lanes))
            if lane == len(lanes):
                lanes.append(0.0)
            lanes[lane] = end
            colour = "tab:red" if trial.status == TrialStatus.FAILED else _PHASE_COLOURS.get(_phase(trial), "tab:blue")
            axis.barh(row + lane, max(end - begin, 0.01), left=begin, color=colour, edgecolor="white")
            axis.text(begin, row + lane, str(trial.index), va="center", fontsize=6)
        labels += [f"{node[:8]} #{k}" for k in range(len(lanes))]
        row += len(lanes)
    axis.set_yticks(range(row), labels, fontsize=7)
    axis.set(xlabel="seconds since the first trial started", title=f"job {job.id}: trials per worker node")
    axis.grid(alpha=0.3, axis="x")
    figure.tight_layout()
    return figure


def curves(store: Store, job: Job) -> Figure:
    """Strategy jobs: validation accuracy against wall-clock seconds, one line per run (seed)."""
    trials = [t for t in store.trials(job.id) if t.metrics]
    if not trials:
        raise PlotUnavailableError(f"job {job.id} has no reported epoch yet")
    figure, axis = plt.subplots(figsize=(8, 4.5))
    for trial in trials:
        seconds = np.cumsum([m.get("epoch_seconds", 0.0) for m in trial.metrics])
        axis.plot(seconds, [m.get("val_accuracy", math.nan) for m in trial.metrics], marker=".",
                  label=f"seed {int(trial.params.get('seed', trial.index))}")
    axis.set(xlabel="seconds of training", ylabel="validation accuracy",
             title=f"job {job.id}: {job.spec.get('strategy', {}).get('name', 'strategy')} runs")
    axis.legend(fontsize=8)
    axis.grid(alpha=0.3)
    return figure


def comparison_figure(results: dict[str, list[dict]], title: str) -> Figure:
    """``samplersearch compare``'s runs on one figure: validation accuracy against wall-clock
    seconds, one colour per run (strategy or exported sampler), one line per seed."""
    figure, axis = plt.subplots(figsize=(9, 5))
    for colour, (run, trials) in zip(plt.rcParams["axes.prop_cycle"].by_key()["color"] * 10, results.items()):
        for number, trial in enumerate(t for t in trials if t.get("metrics")):
            seconds = np.cumsum([m.get("epoch_seconds", 0.0) for m in trial["metrics"]])
            axis.plot(seconds, [m.get("val_accuracy", math.nan) for m in trial["metrics"]], c=colour, alpha=0.8,
                      lw=1.2, label=run if number == 0 else None)
    axis.set(xlabel="seconds of training", ylabel="validation accuracy", title=title)
    axis.legend(fontsize=8)
    axis.grid(alpha=0.3)
    return figure


def save_figure(figure: Figure, path: str) -> None:
    try:
        figure.savefig(path, dpi=110, bbox_inches="tight")
    finally:
        plt.close(figure)


PLOTS: dict[str, Callable[[Store, Job], Figure]] = {
    "history": history, "sampler": sampler, "weights": weights, "importance": importance, "timeline": timeline,
    "curves": curves,
}


def render(store: Store, job_id: int, name: str, fmt: str = "png") -> bytes:
    """The plot ``name`` of job ``job_id`` as ``fmt`` (``png`` or ``svg``) bytes.

    Raises:
        KeyError: an unknown plot name or format for this job's kind.
        PlotUnavailableError: nothing to draw yet, or not for this job.
    """
    job = store.get_job(job_id)
    if name not in plot_names(job.kind):
        raise KeyError(f"no plot {name!r} for a {job.kind} job; plots: {', '.join(plot_names(job.kind))}")
    if fmt not in FORMATS:
        raise KeyError(f"format must be one of {', '.join(FORMATS)}, got {fmt!r}")
    figure = PLOTS[name](store, job)
    try:
        buffer = io.BytesIO()
        figure.savefig(buffer, format=fmt, dpi=110, bbox_inches="tight")
        return buffer.getvalue()
    finally:
        plt.close(figure)
