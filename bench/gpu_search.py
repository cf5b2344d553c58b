"""The GPU path, measured: a real search whose trials share one GPU.

Runs a `fashion-mnist` search (local Ray, SQLite in a temp dir) with fractional GPUs per trial
and records trials per hour, each trial's fine-tune throughput (samples/s, from the trials' own
per-epoch metrics) against a plain PyTorch loop (DataLoader, uniform sampling) on the same model
and GPU, and GPU utilisation sampled with nvidia-smi during the search. Needs a CUDA GPU and the
Fashion-MNIST idx files (Debian's dataset-fashion-mnist, or $SAMPLERSEARCH_DATA_DIR/fashion-mnist).

    python bench/gpu_search.py --trials 16 --gpus-per-trial 0.25 --parallel 4

`--device cpu` runs the same measurement without a GPU (trials ask for no GPU, no nvidia-smi);
it exists to check the script on a machine without one, e.g.
`python bench/gpu_search.py --device cpu --task mnist1d --trials 4 --parallel 2 --out /tmp/x.md`.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import tempfile
import threading
import time
from pathlib import Path

import torch


def sample_gpu_utilisation(stop: threading.Event, samples: list[float]) -> None:
    while not stop.wait(1.0):
        try:
            output = subprocess.run(["nvidia-smi", "--query-gpu=utilization.gpu", "--format=csv,noheader,nounits"],
                                    capture_output=True, text=True, timeout=10).stdout
            samples.append(float(output.split()[0]))
        except (OSError, ValueError, IndexError, subprocess.TimeoutExpired):
            pass


def synchronize(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize()


def plain_loop_throughput(task: str, epochs: int, device: torch.device) -> float:
    """Samples/s of a plain DataLoader loop (uniform, same model, recipe and device)."""
    from training_loop import plain_loop  # the sibling benchmark (bench/ is on sys.path)

    from workers.reference import build_model
    from workers.tasks import TaskSpec, get_task, load_task_data

    spec = TaskSpec(task, label_noise=0.4)
    data = load_task_data(spec, 0)
    recipe = get_task(task).recipe
    model = build_model(spec, data, 0, device)
    plain_loop(model, data.x_train, data.y_train, 1, recipe.fine_tune_lr, recipe, device, None)  # warm-up
    synchronize(device)
    started = time.perf_counter()
    plain_loop(model, data.x_train, data.y_train, epochs, recipe.fine_tune_lr, recipe, device, None)
    synchronize(device)
    return len(data.y_train) * epochs / (time.perf_counter() - started)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--task", default="fashion-mnist")
    parser.add_argument("--trials", type=int, default=16)
    parser.add_argument("--parallel", type=int, default=4)
    parser.add_argument("--gpus-per-trial", type=float, default=0.25)
    parser.add_argument("--cpus", type=int, default=os.cpu_count())
    parser.add_argument("--device", choices=["cuda", "cpu"], default="cuda")
    parser.add_argument("--out", type=Path, default=Path(__file__).parent / "results" / "gpu_search.md")
    args = parser.parse_args()
    device = torch.device(args.device)
    if device.type == "cuda" and not torch.cuda.is_available():
        raise SystemExit("no CUDA GPU: this benchmark measures the GPU path (--device cpu checks the script)")
    gpus_per_trial = args.gpus_per_trial if device.type == "cuda" else 0.0

    from service.config import Settings
    from service.jobs import run_job
    from service.spec import JobSpec
    from service.store import Store

    workdir = Path(tempfile.mkdtemp(prefix="samplersearch-gpu-"))
    settings = Settings(database_url=f"sqlite:///{workdir / 'jobs.db'}", cache_dir=workdir / "cache",
                        results_dir=workdir / "ray", num_cpus=args.cpus)
    store = Store(settings.database_url)
    spec = JobSpec.model_validate({"task": {"name": args.task, "label_noise": 0.4},
                                   "search": {"trials": args.trials, "parallel": args.parallel},
                                   "resources": {"cpu": 1, "gpu": gpus_per_trial}})
    job = store.create_job(spec.model_dump())
    utilisation: list[float] = []
    stop = threading.Event()
    if device.type == "cuda":
        threading.Thread(target=sample_gpu_utilisation, args=(stop, utilisation), daemon=True).start()
    started = time.perf_counter()
    job = run_job(store, job.id, settings)
    elapsed = time.perf_counter() - started
    stop.set()
    trials = [t for t in store.trials(job.id) if t.status == "succeeded"]
    if job.status != "succeeded" or not trials:
        raise SystemExit(f"job {job.status}: {job.error}")
    first = min(t.started_at for t in trials)
    last = max(t.finished_at for t in trials)
    search_seconds = (last - first).total_seconds()
    throughput = [statistics.median(m["samples_per_second"] for m in t.metrics) for t in trials]
    plain = plain_loop_throughput(args.task, 3, device)
    device_name = torch.cuda.get_device_name(0) if device.type == "cuda" else f"the CPU ({args.cpus} cores for Ray)"
    lines = [
        f"# {args.device.upper()} search: {args.task}, {args.trials} trials, {gpus_per_trial} GPU per trial, "
        f"{args.parallel} at once",
        "",
        f"Command: `python bench/gpu_search.py --device {args.device} --task {args.task} --trials {args.trials} "
        f"--gpus-per-trial {args.gpus_per_trial} --parallel {args.parallel}` on {device_name}",
        "",
        "| measure | value |",
        "|---|---|",
        f"| trials per hour (first start to last finish) | {3600 * len(trials) / search_seconds:.0f} |",
        f"| job wall-clock incl. shared weights and Ray start | {elapsed:.0f} s |",
        f"| fine-tune throughput per trial (median of trials) | {statistics.median(throughput):,.0f} samples/s |",
        f"| plain PyTorch DataLoader loop, one process alone on the device | {plain:,.0f} samples/s |",
        f"| ratio per trial / plain | {statistics.median(throughput) / plain:.2f}x |",
        f"| aggregate over {args.parallel} concurrent trials / plain | "
        f"{statistics.median(throughput) * min(args.parallel, len(trials)) / plain:.2f}x |",
        f"| GPU utilisation during the search (nvidia-smi, mean / max) | "
        f"{statistics.mean(utilisation) if utilisation else float('nan'):.0f}% / "
        f"{max(utilisation) if utilisation else float('nan'):.0f}% |",
        f"| devices recorded by trials | {sorted({t.device for t in trials})} |",
    ]
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
