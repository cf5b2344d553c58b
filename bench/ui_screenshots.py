"""Screenshots of the service's web view (/ui), its plots and the offline API docs, taken in a
real headless Chromium (Debian's ``chromium``, driven by Playwright; no browser download).

    apt-get install -y chromium && .venv/bin/pip install -e '.[test]'
    .venv/bin/python bench/ui_screenshots.py --out-dir bench/results/ui

It starts ``samplersearch serve`` in a temporary directory (SQLite, local Ray head, an API
token), submits a ``mnist1d`` search with 40% label noise and the report stage, signs in through
the login form and saves: the job list, the job page while trials run and once it has ended,
every plot, and /docs.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests" / "service"))
from serving import finished, start_server, wait_for  # noqa: E402

TOKEN = "screenshots"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out-dir", type=Path, default=Path("bench/results/ui"))
    parser.add_argument("--chromium", default="/usr/bin/chromium")
    args = parser.parse_args()
    from playwright.sync_api import sync_playwright

    args.out_dir.mkdir(parents=True, exist_ok=True)
    workdir = Path(tempfile.mkdtemp(prefix="samplersearch-ui-"))
    (workdir / "data").mkdir()
    server = start_server(workdir, f"sqlite:///{workdir / 'jobs.db'}", {"SAMPLERSEARCH_API_TOKEN": TOKEN})
    try:
        client = server.client(TOKEN)
        job = client.post("/jobs", json={"task": {"name": "mnist1d", "label_noise": 0.4},
                                         "search": {"trials": 40, "parallel": 2}, "report": {"scratch": True}}).json()
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=args.chromium, headless=True,
                                                 args=["--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu"])
            page = browser.new_page(viewport={"width": 1280, "height": 900})
            page.goto(f"{server.url}/ui/login")
            page.fill("#token", TOKEN)
            page.click("button[type=submit]")
            wait_for(client, job["id"], lambda j: j["trials_done"] >= 10, timeout=600)
            shots = {"jobs": f"{server.url}/ui", "job-running": f"{server.url}/ui/jobs/{job['id']}"}
            for name, url in shots.items():
                page.goto(url)
                page.wait_for_timeout(1500)
                page.screenshot(path=str(args.out_dir / f"{name}.png"), full_page=True)
                print(f"wrote {args.out_dir / f'{name}.png'}")
            wait_for(client, job["id"], finished, timeout=1200)
            page.goto(f"{server.url}/ui/jobs/{job['id']}")
            page.wait_for_function("() => [...document.images].every(i => i.complete)", timeout=120_000)
            page.screenshot(path=str(args.out_dir / "job-finished.png"), full_page=True)
            for name in ("history", "sampler", "weights", "importance", "timeline"):
                (args.out_dir / f"plot-{name}.png").write_bytes(client.get(f"/jobs/{job['id']}/plots/{name}").content)
            page.goto(f"{server.url}/docs")
            page.wait_for_selector(".opblock", timeout=60_000)
            page.screenshot(path=str(args.out_dir / "docs.png"), full_page=False)
            browser.close()
        print(f"wrote {args.out_dir}/job-finished.png, plot-*.png and docs.png")
    finally:
        server.stop()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
