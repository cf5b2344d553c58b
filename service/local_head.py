"""``python -m service.local_head DASHBOARD_URL TOKEN_FILE -- RAY_START_ARGS...``: a local Ray head
that ends its Ray jobs first.

The controller starts this as its child, with a parent-death signal: when the controller dies,
even by SIGKILL, this process gets SIGTERM. It then stops every running Ray job (their drivers
exit at once, recording nothing more) before it stops the head, so that no trial is recorded as
failed because the node went away under it. Their service jobs stay active in the store and the
next controller resumes them.
"""

from __future__ import annotations

import contextlib
import signal
import subprocess
import sys
import time
from pathlib import Path

JOBS_STOP_TIMEOUT_S = 5.0


def stop_running_jobs(dashboard_url: str, token: str) -> None:
    """Stop this head's Ray jobs that have not ended, and wait (briefly) until they have."""
    from ray.job_submission import JobSubmissionClient

    client = JobSubmissionClient(dashboard_url, headers={"Authorization": f"Bearer {token}"})
    running = [job.submission_id for job in client.list_jobs() if job.submission_id and not job.status.is_terminal()]
    for submission in running:
        with contextlib.suppress(Exception):
            client.stop_job(submission)
    deadline = time.monotonic() + JOBS_STOP_TIMEOUT_S
    while running and time.monotonic() < deadline:
        with contextlib.suppress(Exception):
            running = [s for s in running if not client.get_job_status(s).is_terminal()]
        time.sleep(0.2)


def main(argv: list[str]) -> int:
    dashboard_url, token_file, separator, *ray_start = argv
    if separator != "--":
        raise SystemExit("usage: python -m service.local_head DASHBOARD_URL TOKEN_FILE -- RAY_START_ARGS...")
    head = subprocess.Popen([sys.executable, "-m", "ray.scripts.scripts", "start", *ray_start],
                            stdin=subprocess.DEVNULL)
    stopping = False

    def stop(_signal: int, _frame: object) -> None:
        nonlocal stopping
        if stopping:
            return
        stopping = True
        with contextlib.suppress(Exception):
            stop_running_jobs(dashboard_url, Path(token_file).read_text().strip())
        head.terminate()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    return head.wait()


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
