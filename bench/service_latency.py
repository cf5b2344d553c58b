"""REST controller overheads: time from POST /jobs to the first trial starting and finishing,
and the controller's CPU share (server + job driver processes) while trials run.

Starts a real `samplersearch serve` (local Ray, SQLite in a temp dir), submits one search job,
and samples the CPU time of the controller processes (the server and its job driver, not Ray's
trial workers) with psutil.

    python bench/service_latency.py --task mnist1d --trials 12 --parallel 2
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path

import httpx
import psutil

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests" / "service"))
from serving import start_server  # noqa: E402


def controller_processes(server_pid: int) -> list[psutil.Process]:
    """The server and its job drivers; Ray's own processes (raylet, workers) are excluded."""
    server = psutil.Process(server_pid)
    drivers = [p for p in server.children(recursive=True) if "service.driver" in " ".join(p.cmdline())]
    return [server, *drivers]


def cpu_seconds(processes: list[psutil.Process]) -> float:
    total = 0.0
    for process in processes:
        try:
            times = process.cpu_times()
            total += times.user + times.system
        except psutil.NoSuchProcess:
            pass
    return total


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--task", default="mnist1d")
    parser.add_argument("--label-noise", type=float, default=0.4)
    parser.add_argument("--trials", type=int, default=12)
    parser.add_argument("--parallel", type=int, default=2)
    parser.add_argument("--out", type=Path, default=Path(__file__).parent / "results" / "service_latency.md")
    args = parser.parse_args()
    workdir = Path(tempfile.mkdtemp(prefix="samplersearch-latency-"))
    (workdir / "data").mkdir()
    server = start_server(workdir, f"sqlite:///{workdir / 'jobs.db'}", {"SAMPLERSEARCH_DASHBOARD": "false"})
    try:
        client = httpx.Client(base_url=server.url, timeout=30)
        cold = run_one_job(client, server, args)
        warm = run_one_job(client, server, args)  # same task and seed: data and shared weights are cached
    finally:
        server.stop()
    cores = psutil.cpu_count()
    lines = [
        "# REST controller overheads",
        "",
        f"Command: `python bench/service_latency.py --task {args.task} --trials {args.trials} --parallel {args.parallel}` "
        f"({cores} cores, local Ray started by the server, SQLite). The second job repeats the first, so its "
        "dataset and shared weights come from the cache.",
        "",
        "| measure | first job (cold caches) | second job (warm caches) |",
        "|---|---|---|",
        *[f"| {name} | {cold[name]} | {warm[name]} |" for name in cold],
    ]
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


def run_one_job(client: httpx.Client, server, args: argparse.Namespace) -> dict[str, str]:
    """Submit one search job and follow it to the end; returns the measures as text."""
    submitted = time.time()
    job = client.post("/jobs", json={"task": {"name": args.task, "label_noise": args.label_noise},
                                     "search": {"trials": args.trials, "parallel": args.parallel}}).json()
    first_started = first_finished = None
    samples: list[tuple[float, float]] = []
    processes: list[psutil.Process] = []
    while True:
        trials = client.get(f"/jobs/{job['id']}/trials").json()
        now = time.time()
        if trials and first_started is None:
            first_started = min(datetime.fromisoformat(t["started_at"]).timestamp() for t in trials)
        done = [t for t in trials if t["finished_at"]]
        if done and first_finished is None:
            first_finished = min(datetime.fromisoformat(t["finished_at"]).timestamp() for t in done)
        if first_started is not None and len(done) < args.trials:
            if len(processes) < 2:
                processes = controller_processes(server.process.pid)
            samples.append((now, cpu_seconds(processes)))
        status = client.get(f"/jobs/{job['id']}").json()["status"]
        if status in ("succeeded", "failed", "cancelled"):
            break
        time.sleep(0.5)
    finished = time.time()
    window = samples[-1][0] - samples[0][0] if len(samples) > 1 else float("nan")
    used = samples[-1][1] - samples[0][1] if len(samples) > 1 else float("nan")
    cores = psutil.cpu_count()
    return {
        "submit -> first trial started": f"{first_started - submitted:.1f} s",
        "submit -> first trial finished": f"{first_finished - submitted:.1f} s",
        f"submit -> job {status} ({args.trials} trials)": f"{finished - submitted:.1f} s",
        "controller CPU (server + job driver) while trials ran":
            f"{100 * used / window:.0f}% of one core ({100 * used / window / cores:.0f}% of the machine)",
    }


if __name__ == "__main__":
    main()
