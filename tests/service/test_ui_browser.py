"""The web view in a real browser: Debian's headless Chromium, driven by Playwright (no browser
download). It signs in with the API token, watches a running job's trials table grow, opens every
plot, and checks that /docs and /redoc render offline. A plain HTTP test checks that no page of the
service refers to another host."""

from __future__ import annotations

import re
import shutil
import time

import httpx
import pytest

from serving import Server, finished, start_server, wait_for

TOKEN = "ui-test-token"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
JOB = {"task": {"name": "digits", "label_noise": 0.3}, "search": {"trials": 8, "initial": 3, "parallel": 2},
       "report": {"scratch": True, "epochs": 3}}


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory):
    workdir = tmp_path_factory.mktemp("ui")
    (workdir / "data").mkdir()
    server = start_server(workdir, f"sqlite:///{workdir / 'jobs.db'}", {"SAMPLERSEARCH_API_TOKEN": TOKEN})
    yield server
    server.stop()


@pytest.fixture(scope="module")
def browser():
    if CHROMIUM is None:
        pytest.skip("Debian's chromium is not installed (.ci/run installs it)")
    sync_api = pytest.importorskip("playwright.sync_api")
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=["--no-sandbox"])
        yield browser
        browser.close()


def external_hosts(html: str) -> list[str]:
    """Every absolute URL in ``html`` that is not this service's."""
    return [url for url in re.findall(r"""(?:src|href|url)\s*[=(:]\s*["']?((?:https?:)?//[^"')\s>]+)""", html)
            if not url.startswith(("http://127.0.0.1", "http://localhost"))]


def test_no_page_refers_to_another_host(server: Server) -> None:
    client = httpx.Client(base_url=server.url, headers=AUTH, timeout=30)
    job = client.post("/jobs", json={**JOB, "search": {"trials": 2, "initial": 2}, "report": {"scratch": False}}).json()
    wait_for(client, job["id"], finished)
    for path in ("/ui", f"/ui/jobs/{job['id']}", "/docs", "/redoc", "/ui/login"):
        page = client.get(path)
        assert page.status_code == 200 and "text/html" in page.headers["content-type"], path
        assert external_hosts(page.text) == [], path
        assert "default-src 'self'" in page.headers["content-security-policy"], path


def test_the_ui_needs_the_token_once_and_never_puts_it_in_a_url(server: Server) -> None:
    client = httpx.Client(base_url=server.url, timeout=30, follow_redirects=False)
    assert client.get("/ui").headers["location"] == "/ui/login"
    assert client.post("/ui/login", data={"token": "wrong"}).status_code == 401
    signed_in = client.post("/ui/login", data={"token": TOKEN})
    assert signed_in.status_code == 303 and TOKEN not in signed_in.headers["location"]
    cookie = signed_in.headers["set-cookie"]
    assert "HttpOnly" in cookie and "SameSite=strict" in cookie.replace("Strict", "strict")
    assert client.get("/ui").status_code == 200 and client.get("/jobs").status_code == 200  # reads, by cookie
    assert client.post("/jobs", json=JOB).status_code == 401  # writes need the bearer token, not the cookie


def test_a_browser_watches_a_job_run_and_sees_every_plot(server: Server, browser) -> None:
    client = httpx.Client(base_url=server.url, headers=AUTH, timeout=30)
    job_id = client.post("/jobs", json=JOB).json()["id"]
    page = browser.new_page()
    page.goto(f"{server.url}/ui")
    page.fill("#token", TOKEN)
    page.click("button[type=submit]")
    page.wait_for_url(f"{server.url}/ui")
    page.click(f"a[href='/ui/jobs/{job_id}']")
    page.wait_for_selector("#trials")
    seen: list[int] = []
    deadline = time.monotonic() + 240
    while time.monotonic() < deadline:
        rows = page.locator("#trials tbody tr").count()
        if not seen or rows != seen[-1]:
            seen.append(rows)
        if page.locator("#status").inner_text() in ("succeeded", "failed", "cancelled"):
            break
        time.sleep(0.5)
    growth = [rows for rows in seen if rows]  # 0 rows: before the first trial, or while the page reloads
    assert len(growth) >= 2 and growth == sorted(growth), seen  # the table grew while we looked
    page.wait_for_selector("#report")
    assert page.locator("#trials tbody tr").count() == 8
    assert page.locator("#status").inner_text() == "succeeded" and "Recommended" in page.inner_text("#recommendation")
    plots = page.locator("img[data-plot]")
    assert plots.count() == 5
    for index in range(plots.count()):
        image = plots.nth(index)
        image.scroll_into_view_if_needed()
        page.wait_for_function("img => img.complete && img.naturalWidth > 0", arg=image.element_handle(),
                               timeout=60_000)
    downloads = [link.get_attribute("href") for link in page.locator("a[download]").all()]
    assert downloads == [f"/jobs/{job_id}/sampler", f"/jobs/{job_id}/weights", f"/jobs/{job_id}/reference-model"]
    page.close()


def test_swagger_ui_and_redoc_render_their_operations_offline(server: Server, browser) -> None:
    page = browser.new_page()
    requests: list[str] = []
    blocked: dict[str, str] = {}
    page.on("request", lambda request: requests.append(request.url))
    page.on("requestfailed", lambda request: blocked.__setitem__(request.url, request.failure))
    page.goto(f"{server.url}/docs")
    page.wait_for_selector(".opblock", timeout=60_000)
    assert page.locator(".opblock").count() >= 10
    assert page.locator(".opblock-summary-path", has_text="/jobs/{job_id}/weights").count() == 1
    page.goto(f"{server.url}/redoc")
    page.wait_for_selector("text=Queue a job", timeout=60_000)
    # ReDoc's bundle asks for its badge from a CDN; the pages' Content-Security-Policy stops it in the browser.
    elsewhere = [url for url in requests if not url.startswith((server.url, f"blob:{server.url}", "data:"))]
    assert all(blocked.get(url) == "csp" for url in elsewhere), (elsewhere, blocked)
    page.close()
