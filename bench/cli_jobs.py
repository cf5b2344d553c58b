"""One `samplersearch run` from a bench: a subprocess per job, on one SQLite store per bench."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

CLI = [sys.executable, "-m", "service"]


def run_job(workdir: Path, arguments: list[str]) -> dict:
    """``samplersearch run ARGUMENTS`` in ``workdir`` (store ``workdir/jobs.db``, sampler
    ``workdir/best.json``); its JSON summary. Exits the bench with the job's stderr if it fails."""
    command = CLI + ["run", *arguments, "--db", f"sqlite:///{workdir / 'jobs.db'}", "--out", str(workdir / "best.json")]
    done = subprocess.run(command, cwd=workdir, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise SystemExit(f"failed: {' '.join(command)}\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])
