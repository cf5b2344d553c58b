"""Screenshots of the Ray dashboard's Jobs, job and Actors pages while a search job runs, taken
in a real headless Chromium (Debian's ``chromium``, driven by Playwright; no browser download).

    apt-get install -y chromium && .venv/bin/pip install playwright
    .venv/bin/python bench/dashboard_screenshots.py --out-dir bench/results/ray-dashboard

It starts ``samplersearch serve`` in a temporary directory (SQLite, local Ray head), submits a
``mnist1d`` job with 40% label noise, and once trials run opens the dashboard with Ray's token
set as the cookie the dashboard's own login dialog would set (``ray-authentication-token``).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests" / "service"))
from serving import start_server, wait_for  # noqa: E402

TOKEN_COOKIE = "ray-authentication-token"


def screenshot(page, url: str, path: Path, ready: str, text: str, timeout_ms: int) -> None:
    """Open ``url``, wait for ``ready`` (a selector) and ``text``, then save a full-page PNG."""
    page.goto(url, wait_until="domcontentloaded", timeout=timeout_ms)
    page.wait_for_selector(ready, timeout=timeout_ms)
    page.get_by_text(text, exact=False).first.wait_for(timeout=timeout_ms)
    page.wait_for_timeout(2000)  # the tables fill in over a few requests
    if page.get_by_text("Authentication Token Required").count():
        raise SystemExit(f"{url}: the dashboard refused the token")
    page.screenshot(path=str(path), full_page=True)
    print(f"wrote {path}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out-dir", type=Path, default=Path("bench/results/ray-dashboard"))
    parser.add_argument("--chromium", default="/usr/bin/chromium")
    parser.add_argument("--timeout", type=float, default=90.0, help="seconds to wait for each page")
    args = parser.parse_args()
    from playwright.sync_api import sync_playwright

    args.out_dir.mkdir(parents=True, exist_ok=True)
    workdir = Path(tempfile.mkdtemp(prefix="samplersearch-dashboard-"))
    (workdir / "data").mkdir()
    server = start_server(workdir, f"sqlite:///{workdir / 'jobs.db'}")
    try:
        client = server.client()
        job = client.post("/jobs", json={"task": {"name": "mnist1d", "label_noise": 0.4},
                                         "search": {"trials": 40, "parallel": 2}}).json()
        job = wait_for(client, job["id"], lambda j: j["trials_done"] >= 3, timeout=300)
        dashboard, submission = job["links"]["ray_dashboard"], job["links"]["ray_submission_id"]
        token = (workdir / ".samplersearch" / "ray_auth_token").read_text().strip()
        timeout_ms = int(args.timeout * 1000)
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=args.chromium, headless=True,
                                                 args=["--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu"])
            # Wide enough that the Jobs table shows every column without scrolling inside it.
            context = browser.new_context(viewport={"width": 2200, "height": 1000})
            context.add_cookies([{"name": TOKEN_COOKIE, "value": token, "url": f"{dashboard}/",
                                  "httpOnly": True, "sameSite": "Strict"}])
            page = context.new_page()
            screenshot(page, f"{dashboard}/#/jobs", args.out_dir / "jobs.png", "table tbody tr", submission,
                       timeout_ms)
            screenshot(page, f"{dashboard}/#/jobs/{submission}", args.out_dir / "job.png", "text=Entrypoint",
                       "samplersearch_job_id", timeout_ms)
            screenshot(page, f"{dashboard}/#/actors", args.out_dir / "actors.png", "table tbody tr",
                       f"samplersearch job {job['id']} trial", timeout_ms)
            browser.close()
        started = time.monotonic()
        client.post(f"/jobs/{job['id']}/cancel")
        print(f"job {job['id']} cancelled after the screenshots ({time.monotonic() - started:.1f} s)")
    finally:
        server.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
