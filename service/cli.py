"""The ``samplersearch`` command line."""

from __future__ import annotations

import json
import logging
import socket
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from enum import Enum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Optional

import typer
from pydantic import ValidationError
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn
from rich.table import Table

from service.config import Settings
from service.models import JobStatus, TrialStatus
from service.spec import JobSpec, StrategyJobSpec
from service.store import Store

if TYPE_CHECKING:
    from workers.tasks import TaskSpec

app = typer.Typer(help="Learn how to sample training data: search, evaluate and export Swift Samplers.",
                  no_args_is_help=True, add_completion=False)
console = Console(stderr=True)


class NoiseKind(str, Enum):
    symmetric = "symmetric"
    asymmetric = "asymmetric"


class SearcherName(str, Enum):
    gp_ucb = "gp-ucb"
    random = "random"
    optuna = "optuna"


def _fail(message: str) -> None:
    console.print(f"[red]error:[/red] {message}", soft_wrap=True, markup=True, highlight=False)
    raise typer.Exit(code=2)


def _settings(db: str | None) -> Settings:
    settings = Settings()
    return settings.model_copy(update={"database_url": db}) if db else settings


def _task_options(task: str, label_noise: float, noise_kind: NoiseKind, imbalance: float, data: str | None,
                  clean_validation: bool, train_size: int | None) -> dict:
    return {"name": task, "label_noise": label_noise, "noise_kind": noise_kind.value, "imbalance": imbalance,
            "data": data, "clean_validation": clean_validation, "train_size": train_size}


def _validation_message(error: ValidationError) -> str:
    return "; ".join(f"{'.'.join(str(p) for p in e['loc'])}: {e['msg'].removeprefix('Value error, ')}"
                     for e in error.errors())


TaskOpt = Annotated[str, typer.Option("--task", help="registered task name (see `samplersearch tasks`)")]
NoiseOpt = Annotated[float, typer.Option("--label-noise", help="fraction of training labels flipped, [0, 1)")]
NoiseKindOpt = Annotated[NoiseKind, typer.Option("--noise-kind")]
ImbalanceOpt = Annotated[float, typer.Option("--imbalance", help="long-tail ratio n_max/n_min >= 1")]
DataOpt = Annotated[Optional[str], typer.Option("--data", help="arrays task: .npz relative to the data directory")]
SeedOpt = Annotated[int, typer.Option("--seed", help="seeds data perturbation, shared weights and the search")]
TrainSizeOpt = Annotated[Optional[int], typer.Option(
    "--train-size", help="a seeded random subset of this many training rows (quick experiments)")]
CleanValidationOpt = Annotated[bool, typer.Option(
    "--clean-validation", help="the carved validation split keeps its true labels (a small trusted set)")]


def _with_overrides(spec: dict, items: list[str] | None) -> dict:
    """``spec`` with each ``SECTION.FIELD=VALUE`` of ``items`` set (values parsed as JSON when
    they parse). Plain data only: the spec's validation then names any bad field."""
    for key, value in _parse_options(items, flag="--set").items():
        section, dot, name = key.partition(".")
        if not dot or not section or not name or "." in name:
            _fail(f"--set: expected SECTION.FIELD=VALUE (for example search.objective=best), got {key!r}")
        target = spec.setdefault(section, {})
        if not isinstance(target, dict):
            _fail(f"--set: {section!r} is not a section of the job spec")
        target[name] = value
    return spec


def _check_task_data(task: TaskSpec, seed: int, settings: Settings) -> None:
    """Refuse a missing, misplaced or degenerate data file before the store or Ray is touched."""
    from workers.tasks import get_task, load_task_data
    from workers.tasks.definition import TaskDataError

    if get_task(task.name).takes_data:
        try:
            load_task_data(task, seed, settings.task_paths())
        except TaskDataError as error:
            _fail(f"--data: {error}")


def _watch(store: Store, job_id: int, total: int, stop: threading.Event, phase: dict[str, str]) -> None:
    """Show live progress from the store (the source of truth) until ``stop`` is set: the phase
    (``phase["now"]``, set by the driver before trials start), trials, best, failures and, once
    the report stage runs, a second line with its epochs and each sampler's latest validation
    accuracy; each line labels its two times."""
    with Progress(TextColumn("[bold]job {task.fields[job]}"), TextColumn("{task.fields[phase]}"), BarColumn(),
                  MofNCompleteColumn(), TextColumn("{task.fields[score]}"), TextColumn("elapsed"), TimeElapsedColumn(),
                  TextColumn("left"), TimeRemainingColumn(), console=console, transient=False) as progress:
        bar = progress.add_task("trials", total=total, job=job_id, score="best -", phase=phase["now"])
        report_bar = None
        while True:
            stopping = stop.wait(0.5)
            done = [t for t in store.trials(job_id) if t.status.finished]
            scores = [t.metric for t in done if t.metric is not None]
            if done and phase["now"] in PRE_TRIAL_PHASES:
                phase["now"] = "trials"
            failed = sum(t.status == TrialStatus.FAILED for t in done)
            progress.update(bar, completed=len(done), phase=phase["now"],
                            score=f"best {max(scores):.4f} failed {failed}" if scores else f"best - failed {failed}")
            report = store.get_job(job_id).report or {}
            if report.get("status") in ("running", "done"):
                if report_bar is None:
                    report_bar = progress.add_task("report", total=report.get("epochs_total", 1), job=job_id,
                                                   phase="report from scratch (epochs)", score="")
                if report["status"] == "running":
                    progress.update(report_bar, completed=report["epochs_done"], score=_latest_val(report))
                else:
                    progress.update(report_bar, completed=progress.tasks[report_bar].total)
            if stopping:
                return


def _latest_val(report: dict) -> str:
    """``val best 0.812 uniform 0.790``: each sampler's mean latest validation accuracy over its runs."""
    by_sampler: dict[str, list[float]] = {}
    for run, latest in report.get("runs_latest", {}).items():
        by_sampler.setdefault(run.split("/")[0], []).append(latest["val_accuracy"])
    return "val " + " ".join(f"{name} {sum(v) / len(v):.3f}" for name, v in sorted(by_sampler.items())) \
        if by_sampler else "val -"


PRE_TRIAL_PHASES = ("starting Ray", "loading data", "shared weights cached; features",
                    "training shared weights; features", "trials")


def _route_ray_logs() -> None:
    """Ray's and Tune's loggers write to stderr themselves; send them through the console so that
    their warnings print above the live progress line instead of inside it."""
    from rich.logging import RichHandler

    for name in ("ray", "ray.tune", "ray.train", "ray.air"):
        logger = logging.getLogger(name)
        streams = [h for h in logger.handlers if type(h) is logging.StreamHandler]
        for handler in streams:
            logger.removeHandler(handler)
        if streams:
            logger.addHandler(RichHandler(console=console, show_path=False, show_time=False))


@app.command()
def run(
    task: TaskOpt = "mnist1d",
    label_noise: NoiseOpt = 0.0,
    noise_kind: NoiseKindOpt = NoiseKind.symmetric,
    imbalance: ImbalanceOpt = 1.0,
    data: DataOpt = None,
    clean_validation: CleanValidationOpt = False,
    train_size: TrainSizeOpt = None,
    trials: Annotated[int, typer.Option(help="candidate samplers to evaluate")] = 40,
    initial: Annotated[int, typer.Option(help="Sobol points before the GP")] = 8,
    parallel: Annotated[int, typer.Option(help="trials at once")] = 2,
    searcher: Annotated[SearcherName, typer.Option()] = SearcherName.gp_ucb,
    fine_tune_epochs: Annotated[Optional[int], typer.Option(help="E_f (default: the task's)")] = None,
    ucb_beta: Annotated[float, typer.Option()] = 2.0,
    seed: SeedOpt = 0,
    cpus_per_trial: Annotated[float, typer.Option()] = 1.0,
    gpus_per_trial: Annotated[float, typer.Option(help="fractional GPUs share a device")] = 0.0,
    db: Annotated[Optional[str], typer.Option(help="SQLAlchemy URL (default $SAMPLERSEARCH_DATABASE_URL)")] = None,
    out: Annotated[Path, typer.Option(help="where the best sampler JSON is written")] = Path("best.json"),
    report: Annotated[bool, typer.Option(help="retrain from scratch, best sampler and uniform; report the gain")] = True,
    report_seeds: Annotated[int, typer.Option(help="training seeds of the report, per sampler")] = 1,
    warm_start: Annotated[Optional[list[int]], typer.Option(
        help="an earlier search job on the same task and space whose trials the searcher learns first "
             "(repeatable)")] = None,
    set_: Annotated[Optional[list[str]], typer.Option(
        "--set", help="SECTION.FIELD=VALUE of the job spec, repeatable (search.fine_tune_lr=0.002, "
                      "verify.seeds=5); VALUE is JSON when it parses; applied after the other options")] = None,
) -> None:
    """Run one search job to the end and write the best sampler JSON to --out."""
    settings = _settings(db)
    try:
        spec = JobSpec.model_validate(_with_overrides({
            "task": _task_options(task, label_noise, noise_kind, imbalance, data, clean_validation, train_size),
            "search": {"trials": trials, "initial": initial, "parallel": parallel, "searcher": searcher.value,
                       "fine_tune_epochs": fine_tune_epochs, "ucb_beta": ucb_beta, "seed": seed,
                       "warm_start": warm_start or []},
            "resources": {"cpu": cpus_per_trial, "gpu": gpus_per_trial},
            "report": {"scratch": report, "seeds": report_seeds},
        }, set_))
    except ValidationError as error:
        _fail(_validation_message(error))
    if spec.search.trials > settings.max_trials:
        _fail(f"search.trials: at most {settings.max_trials} (SAMPLERSEARCH_MAX_TRIALS)")
    _check_task_data(spec.task.to_task_spec(), spec.search.seed, settings)

    from service.jobs.warm_start import WarmStartError, check_sources

    store = Store(settings.database_url)
    try:
        check_sources(store, spec)
    except WarmStartError as error:
        _fail(f"search.warm_start: {error}")
    job = store.create_job(spec.model_dump(), status=JobStatus.RUNNING)  # this process owns it: never queued
    console.print(f"job {job.id}: {spec.search.searcher} search over {task} "
                  f"(noise {label_noise}, {trials} trials, {parallel} at once) -> {settings.database_url}")
    _drive_search(store, settings, job.id, spec, out)


def _drive_search(store: Store, settings: Settings, job_id: int, spec: JobSpec, out: Path) -> None:
    """Run (or resume) a search job with live progress, write its sampler and print a summary
    (with the from-scratch report as a two-row table when the job ran one)."""
    from service.cluster import connect_driver
    from service.jobs import job_sampler_document, run_job

    started = time.perf_counter()
    stop = threading.Event()
    phase = {"now": "starting Ray"}
    watcher = threading.Thread(target=_watch, args=(store, job_id, spec.search.trials, stop, phase), daemon=True)
    watcher.start()
    try:
        connect_driver(settings)
        import ray.tune  # noqa: F401 - configures its loggers, which are then routed

        _route_ray_logs()
        job = run_job(store, job_id, settings, on_phase=lambda now: phase.update(now=now))
    finally:
        stop.set()
        watcher.join()
    elapsed = time.perf_counter() - started
    if job.status != JobStatus.SUCCEEDED:
        _fail(f"job {job.id} {job.status}: {job.error}")
    document = job_sampler_document(store, job.id)
    out.write_text(json.dumps(document, indent=2) + "\n")
    all_trials = store.trials(job.id)
    summary = {
        "job_id": job.id, "status": job.status, "task": spec.task.name, "searcher": spec.search.searcher,
        "trials": len(all_trials), "failed": sum(t.status == TrialStatus.FAILED for t in all_trials),
        "best_trial": job.best_trial_index, "best_val_accuracy": store.best_trial(job.id).metric,
        "recommended": document["source"].get("recommended", "trial"),
        "recommended_trial": document["source"]["trial_id"], "reason": document["source"].get("reason"),
        "seconds": round(elapsed, 1), "sampler": str(out),
    }
    chosen = "uniform" if summary["recommended"] == "uniform" else f"trial {summary['recommended_trial']}"
    console.print(f"recommended: {chosen}" + (f" ({summary['reason']})" if summary["reason"] else ""), highlight=False)
    if job.report:
        _print_report(job.report)
        summary["report"] = {key: job.report[key] for key in ("status", "gain", "best", "uniform", "epochs", "seeds",
                                                              "seconds", "error") if key in job.report}
    print(json.dumps(summary))


def _print_report(report: dict) -> None:
    """The report stage's result: one row per sampler (test accuracy mean ± std over the seeds)."""
    if report.get("status") != "done":
        console.print(f"report: {report.get('status')}: {report.get('error', '')}")
        return
    table = Table("sampler", "test accuracy", "gain", title=f"from scratch, {report['epochs']} epochs, "
                  f"{report['seeds']} seed(s), {report['seconds']:.0f} s")
    for name in ("best", "uniform"):
        stats = report[name]
        gain = f"{100 * report['gain']:+.2f} pts" if name == "best" else ""
        chosen = "uniform" if report["best_trial"] is None else f"trial {report['best_trial']}"
        table.add_row(f"recommended ({chosen})" if name == "best" else "uniform",
                      f"{stats['test_accuracy_mean']:.4f} ± {stats['test_accuracy_std']:.4f}", gain)
    console.print(table)


@app.command()
def resume(
    job: Annotated[int, typer.Option("--job", help="id of an interrupted or failed search job")],
    db: Annotated[Optional[str], typer.Option(help="SQLAlchemy URL (default $SAMPLERSEARCH_DATABASE_URL)")] = None,
    out: Annotated[Path, typer.Option(help="where the best sampler JSON is written")] = Path("best.json"),
) -> None:
    """Continue a search job from its stored trials (finished trials are kept, none is repeated)."""
    from service.store import JobNotFoundError

    settings = _settings(db)
    store = Store(settings.database_url)
    try:
        row = store.get_job(job)
    except JobNotFoundError as error:
        _fail(str(error))
    if row.kind != "search" or row.status in (JobStatus.SUCCEEDED, JobStatus.CANCELLED):
        _fail(f"--job: job {job} is a {row.status} {row.kind} job; only unfinished search jobs resume")
    spec = JobSpec.model_validate(row.spec)
    done = sum(t.status.finished for t in store.trials(job))
    console.print(f"job {job}: resuming with {done} of {spec.search.trials} trials finished")
    _drive_search(store, settings, job, spec, out)


@app.command()
def evaluate(
    task: TaskOpt = "mnist1d",
    sampler: Annotated[str, typer.Option(help="sampler JSON path, or 'uniform'")] = "uniform",
    label_noise: NoiseOpt = 0.0,
    noise_kind: NoiseKindOpt = NoiseKind.symmetric,
    imbalance: ImbalanceOpt = 1.0,
    data: DataOpt = None,
    clean_validation: CleanValidationOpt = False,
    train_size: TrainSizeOpt = None,
    epochs: Annotated[Optional[int], typer.Option(help="epochs from scratch (default: the task's)")] = None,
    seed: SeedOpt = 0,
) -> None:
    """Train from scratch with a sampler (or uniformly) and print validation and test accuracy as JSON."""
    from sampler_space import SamplerFormatError, load_sampler
    from service.spec import TaskConfig, sampler_reference_rounds
    from workers.evaluation import evaluate_sampler
    from workers.tasks.definition import TaskDataError

    try:
        options = _task_options(task, label_noise, noise_kind, imbalance, data, clean_validation, train_size)
        task_spec = TaskConfig.model_validate(options).to_task_spec()
    except ValidationError as error:
        _fail(_validation_message(error))
    swift = None
    if sampler != "uniform":
        try:
            swift = load_sampler(sampler)
        except FileNotFoundError:
            _fail(f"--sampler: no file {sampler!r}")
        except SamplerFormatError as error:
            _fail(f"--sampler: {error}")
    try:
        rounds = 1 if swift is None else sampler_reference_rounds(swift)
    except ValueError as error:
        _fail(f"--sampler: {error}")
    from workers.tasks import get_task

    total = epochs or get_task(task_spec.name).recipe.scratch_epochs
    with _epoch_progress(f"{sampler} from scratch", total) as on_epoch:
        try:
            result = evaluate_sampler(task_spec, seed, swift, Settings().task_paths(), epochs=epochs,
                                      sampler_name=sampler, on_epoch=on_epoch, reference_rounds=rounds)
        except TaskDataError as error:
            _fail(str(error))
    print(json.dumps(result.__dict__))


@contextmanager
def _epoch_progress(label: str, epochs: int) -> Iterator[Callable]:
    """A progress line over ``epochs`` (epoch count, elapsed and remaining time, the latest
    validation accuracy); yields the ``on_epoch`` callback that advances it."""
    with Progress(TextColumn(f"[bold]{label}"), BarColumn(), MofNCompleteColumn(), TextColumn("epochs"),
                  TextColumn("val {task.fields[val]}"), TextColumn("elapsed"), TimeElapsedColumn(),
                  TextColumn("left"), TimeRemainingColumn(), console=console, transient=False) as progress:
        bar = progress.add_task(label, total=epochs, val="-")
        yield lambda result: progress.update(bar, completed=result.epoch, val=f"{result.val_accuracy:.4f}")


@app.command()
def tasks() -> None:
    """List the registered tasks with their sizes and defaults."""
    from workers.tasks import list_tasks

    table = Table("task", "size", "E_o", "E_f", "batch", "optimiser", "description")
    for task in list_tasks():
        r = task.recipe
        table.add_row(task.name, task.size_hint, str(r.pretrain_epochs), str(r.fine_tune_epochs), str(r.batch_size),
                      f"{r.optimizer} lr={r.lr:g}", task.description)
    Console().print(table)


@app.command()
def export(
    job: Annotated[int, typer.Option("--job", help="job id")],
    trial: Annotated[Optional[int], typer.Option(help="trial index (default: the best)")] = None,
    db: Annotated[Optional[str], typer.Option()] = None,
    out: Annotated[Path, typer.Option(help="the sampler JSON alone, to this file")] = Path("best.json"),
    out_dir: Annotated[Optional[Path], typer.Option(
        help="write sampler.json, weights.npy and reference-model.pt (what applying the sampler needs) here")] = None,
) -> None:
    """Write a finished job's sampler JSON (best trial, or --trial N); with --out-dir, also its
    per-row weights and its reference model."""
    from service.jobs import job_sampler_document
    from service.jobs.artifacts import REFERENCE_MODEL, WEIGHTS
    from service.store import JobNotFoundError

    store = Store(_settings(db).database_url)
    try:
        document = job_sampler_document(store, job, trial)
    except (JobNotFoundError, LookupError) as error:
        _fail(str(error))
    if out_dir is None:
        out.write_text(json.dumps(document, indent=2) + "\n")
        console.print(f"wrote {out}")
        return
    if trial is not None:
        _fail("--trial: weights.npy is the best sampler's; export another trial with --out, without --out-dir")
    artifacts = {name: store.artifact(job, name) for name in (WEIGHTS, REFERENCE_MODEL)}
    missing = [name for name, artifact in artifacts.items() if artifact is None]
    if missing:
        _fail(f"--job: job {job} has no {', '.join(missing)} (saved when a search job succeeds)")
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / "sampler.json").write_text(json.dumps(document, indent=2) + "\n")
    for name, artifact in artifacts.items():
        (out_dir / name).write_bytes(artifact.content)
    console.print(f"wrote {out_dir}/sampler.json, {WEIGHTS} and {REFERENCE_MODEL}")


@app.command()
def plot(
    job: Annotated[int, typer.Option("--job", help="job id")],
    out_dir: Annotated[Path, typer.Option(help="where the plots are written")] = Path("plots"),
    fmt: Annotated[str, typer.Option("--format", help="png or svg")] = "png",
    db: Annotated[Optional[str], typer.Option()] = None,
) -> None:
    """Draw every plot a job has (from the store) into --out-dir."""
    from service.plots import FORMATS, PlotUnavailableError, plot_names, render
    from service.store import JobNotFoundError

    if fmt not in FORMATS:
        _fail(f"--format: one of {', '.join(FORMATS)}")
    store = Store(_settings(db).database_url)
    try:
        kind = store.get_job(job).kind
    except JobNotFoundError as error:
        _fail(str(error))
    out_dir.mkdir(parents=True, exist_ok=True)
    for name in plot_names(kind):
        try:
            content = render(store, job, name, fmt)
        except PlotUnavailableError as error:
            console.print(f"{name}: skipped ({error})")
            continue
        path = out_dir / f"job-{job}-{name}.{fmt}"
        path.write_bytes(content)
        console.print(f"wrote {path}")


def _parse_options(items: list[str] | None, flag: str = "--option") -> dict:
    """``key=value`` pairs; values are JSON when they parse as JSON (numbers, booleans, lists)."""
    options = {}
    for item in items or []:
        key, sep, value = item.partition("=")
        if not sep or not key:
            _fail(f"{flag}: expected key=value, got {item!r}")
        try:
            options[key] = json.loads(value)
        except json.JSONDecodeError:
            options[key] = value
    return options


def _strategy_spec(task: dict, name: str, options: dict, seeds: int, epochs: int | None, data_seed: int,
                   parallel: int, gpus: float) -> StrategyJobSpec:
    try:
        return StrategyJobSpec.model_validate({
            "kind": "strategy", "task": task, "strategy": {"name": name, "options": options},
            "run": {"seeds": seeds, "epochs": epochs, "data_seed": data_seed, "parallel": parallel},
            "resources": {"cpu": 1, "gpu": gpus},
        })
    except ValidationError as error:
        _fail(_validation_message(error))
        raise


def _run_strategy_job(store: Store, settings: Settings, spec) -> tuple[object, list]:
    from service.jobs import run_job

    job = store.create_job(spec.model_dump(), kind="strategy", status=JobStatus.RUNNING)
    job = run_job(store, job.id, settings)
    if job.status != JobStatus.SUCCEEDED:
        _fail(f"job {job.id} ({spec.strategy.name}) {job.status}: {job.error}")
    return job, store.trials(job.id)


SeedsOpt = Annotated[int, typer.Option(help="training seeds (one trial each)")]
EpochsOpt = Annotated[Optional[int], typer.Option(help="epochs from scratch (default: the task's)")]
RateOpt = Annotated[Optional[float], typer.Option(help="sampling rate gamma, for strategies that take one")]
DataSeedOpt = Annotated[int, typer.Option(help="seed of the label noise, imbalance and validation split")]


@app.command("run-strategy")
def run_strategy(
    task: TaskOpt = "mnist1d",
    strategy: Annotated[str, typer.Option(help="registered strategy (GET /strategies)")] = "uniform",
    rate: RateOpt = None,
    option: Annotated[Optional[list[str]], typer.Option(help="strategy option key=value (repeatable)")] = None,
    label_noise: NoiseOpt = 0.0,
    noise_kind: NoiseKindOpt = NoiseKind.symmetric,
    imbalance: ImbalanceOpt = 1.0,
    data: DataOpt = None,
    clean_validation: CleanValidationOpt = False,
    train_size: TrainSizeOpt = None,
    epochs: EpochsOpt = None,
    seeds: SeedsOpt = 3,
    data_seed: DataSeedOpt = 0,
    parallel: Annotated[int, typer.Option()] = 2,
    gpus_per_trial: Annotated[float, typer.Option()] = 0.0,
    db: Annotated[Optional[str], typer.Option()] = None,
) -> None:
    """Train from scratch under a fixed strategy, one trial per seed, and print the results as JSON."""
    settings = _settings(db)
    options = _parse_options(option)
    if rate is not None:
        options["rate"] = rate
    task_options = _task_options(task, label_noise, noise_kind, imbalance, data, clean_validation, train_size)
    spec = _strategy_spec(task_options, strategy, options, seeds, epochs, data_seed, parallel, gpus_per_trial)
    _check_task_data(spec.task.to_task_spec(), data_seed, settings)
    store = Store(settings.database_url)
    job, trials = _run_strategy_job(store, settings, spec)
    print(json.dumps({"job_id": job.id, "strategy": strategy, "trials": [_trial_summary(t) for t in trials]}))


def _trial_summary(trial) -> dict:
    last = trial.metrics[-1] if trial.metrics else {}
    return {"seed": int(trial.params["seed"]), "status": trial.status, "val_accuracy": trial.metric,
            "test_accuracy": last.get("test_accuracy"), "seconds": sum(m.get("epoch_seconds", 0) for m in trial.metrics),
            "backward_samples": sum(m.get("backward_samples", 0) for m in trial.metrics),
            "forward_samples": sum(m.get("forward_samples", 0) for m in trial.metrics), "error": trial.error}


@app.command()
def compare(
    task: TaskOpt = "mnist1d",
    runs: Annotated[str, typer.Option(help="comma-separated strategies; swift:PATH for an exported sampler")] = (
        "uniform,adaselection,nws"),
    seeds: SeedsOpt = 3,
    epochs: EpochsOpt = None,
    rate: RateOpt = None,
    label_noise: NoiseOpt = 0.0,
    noise_kind: NoiseKindOpt = NoiseKind.symmetric,
    imbalance: ImbalanceOpt = 1.0,
    data: DataOpt = None,
    clean_validation: CleanValidationOpt = False,
    train_size: TrainSizeOpt = None,
    data_seed: DataSeedOpt = 0,
    parallel: Annotated[int, typer.Option()] = 2,
    db: Annotated[Optional[str], typer.Option()] = None,
    out_dir: Annotated[Path, typer.Option(help="where compare-*.csv and compare-*.md are written")] = Path("."),
) -> None:
    """Run several strategies on equal terms and print one comparison table (also CSV, Markdown,
    and a PNG of every run's validation accuracy against wall-clock)."""
    from sampler_space import SamplerFormatError, load_sampler, sampler_to_document
    from service.comparison import comparison_rows, write_comparison
    from service.spec import TaskConfig

    settings = _settings(db)
    task_options = _task_options(task, label_noise, noise_kind, imbalance, data, clean_validation, train_size)
    try:
        _check_task_data(TaskConfig.model_validate(task_options).to_task_spec(), data_seed, settings)
    except ValidationError as error:
        _fail(_validation_message(error))
    store = Store(settings.database_url)
    results: dict[str, list] = {}
    for run in [r.strip() for r in runs.split(",") if r.strip()]:
        name, _, path = run.partition(":")
        options: dict = {}
        if name == "swift":
            try:
                options = {"sampler": sampler_to_document(load_sampler(path))}
            except (OSError, SamplerFormatError) as error:
                _fail(f"--runs {run}: {error}")
        elif rate is not None and any(p.name == "rate" for p in _strategy_parameters(name)):
            options["rate"] = rate
        spec = _strategy_spec(task_options, name, options, seeds, epochs, data_seed, parallel, 0.0)
        console.print(f"running {run} ({seeds} seeds)")
        results[run] = [_trial_summary(t) | {"metrics": t.metrics} for t in _run_strategy_job(store, settings, spec)[1]]
    rows = comparison_rows(results)
    stem = f"compare-{task}-noise{label_noise}"
    title = f"{task}, label noise {label_noise}, {seeds} seeds"
    csv_path, md_path = write_comparison(rows, out_dir, stem, title=title)
    from service.plots import comparison_figure, save_figure

    save_figure(comparison_figure(results, title), str(out_dir / f"{stem}.png"))
    table = Table(*rows[0].keys())
    for row in rows:
        table.add_row(*[str(v) for v in row.values()])
    Console(width=200).print(table)
    console.print(f"wrote {csv_path}, {md_path} and {out_dir / f'{stem}.png'}")


def _strategy_parameters(name: str) -> tuple:
    from sampler_space.strategies import strategy_class
    from sampler_space.strategies.registry import UnknownStrategyError

    try:
        return strategy_class(name).parameters
    except UnknownStrategyError:
        return ()


@app.command()
def serve(
    host: Annotated[str, typer.Option()] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="TCP port of the REST API (0 picks a free one, printed at start)")] = 8000,
    db: Annotated[Optional[str], typer.Option(help="SQLAlchemy URL (default $SAMPLERSEARCH_DATABASE_URL)")] = None,
    ray_address: Annotated[Optional[str], typer.Option(
        help="the Ray cluster's Job API / dashboard, e.g. http://ray-head:8265 (default: start a local Ray head)")] = None,
    dashboard_port: Annotated[Optional[int], typer.Option(
        help="port of the local Ray head's dashboard on 127.0.0.1 (default 8265; 0 picks a free one)")] = None,
) -> None:
    """Run the REST controller (FastAPI under uvicorn); each job runs as a Ray job."""
    import uvicorn

    from service.api import create_app
    from service.cluster import RayStartError, check_dashboard_port

    settings = _settings(db)
    if ray_address:
        settings = settings.model_copy(update={"ray_address": Settings(ray_address=ray_address).ray_address})
    if dashboard_port is not None:
        settings = settings.model_copy(update={"dashboard_port": dashboard_port})
    shown_host = "127.0.0.1" if host in ("0.0.0.0", "::") else host
    try:
        if settings.ray_address is None:
            check_dashboard_port(settings.dashboard_port)  # before uvicorn, so the error is one line
        # Bound before the app starts a local Ray head, whose processes take ports of their own.
        listening = _listen(host, port)
        bound = listening.getsockname()[1]  # the port picked, with --port 0
        config = uvicorn.Config(create_app(settings, public_url=f"http://{shown_host}:{bound}"), host=host,
                                port=bound, log_level="warning")
        uvicorn.Server(config).run(sockets=[listening])
    except RayStartError as error:
        _fail(str(error))


def _listen(host: str, port: int) -> socket.socket:
    """A TCP socket bound to ``host:port``; exits 2 with a one-line message when the port is taken."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    listening = socket.socket(family, socket.SOCK_STREAM)
    listening.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        listening.bind((host, port))
    except OSError as error:
        listening.close()
        _fail(f"--port {port}: cannot listen on {host}:{port} ({error.strerror}); pass a free port")
    return listening


def main() -> None:
    """The ``samplersearch`` console script: logging at ``SAMPLERSEARCH_LOG_LEVEL``, then the CLI."""
    try:
        level = Settings().log_level
    except ValidationError as error:
        console.print(f"[red]error:[/red] settings: {_validation_message(error)}", soft_wrap=True, highlight=False)
        raise SystemExit(2) from None
    from rich.logging import RichHandler

    # Through the console, so that log lines print above a live progress display, not inside it.
    logging.basicConfig(level=level, format="%(name)s: %(message)s",
                        handlers=[RichHandler(console=console, show_path=False)])
    app(sys.argv[1:])
