"""The README's "Use an exported sampler in your own training" runs as written: a small search on
an ``arrays`` file, ``samplersearch export --out-dir``, then every Python block of that section,
executed verbatim in the job's working directory."""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pytest
import torch
from typer.testing import CliRunner

from service.cli import app

README = Path(__file__).resolve().parents[2] / "README.md"
SECTION = "## Use an exported sampler in your own training"

pytestmark = pytest.mark.usefixtures("ray_cluster")


def section_blocks(language: str) -> list[str]:
    text = README.read_text()
    start = text.index(SECTION)
    section = text[start:text.index("\n## ", start + len(SECTION))]
    return re.findall(rf"```{language}\n(.*?)```", section, flags=re.S)


def digits_npz(path: Path, rows: slice) -> None:
    from sklearn.datasets import load_digits

    bunch = load_digits()
    x, y = bunch.data.astype(np.float32), bunch.target
    np.savez(path, x_train=x[rows], y_train=y[rows], x_test=x[1400:], y_test=y[1400:])


@pytest.fixture(scope="module")
def exported(tmp_path_factory: pytest.TempPathFactory) -> Path:
    workdir = tmp_path_factory.mktemp("readme")
    (workdir / "data").mkdir()
    digits_npz(workdir / "data" / "mine.npz", slice(0, 900))
    digits_npz(workdir / "data" / "new.npz", slice(900, 1400))
    env = {"SAMPLERSEARCH_DATA_DIR": str(workdir / "data"), "SAMPLERSEARCH_CACHE_DIR": str(workdir / "cache"),
           "SAMPLERSEARCH_RESULTS_DIR": str(workdir / "ray")}
    database = f"sqlite:///{workdir / 'jobs.db'}"
    runner = CliRunner()
    result = runner.invoke(app, ["run", "--task", "arrays", "--data", "mine.npz", "--trials", "3", "--initial", "2",
                                 "--parallel", "2", "--no-report", "--db", database, "--out", str(workdir / "b.json")],
                           env=env)
    assert result.exit_code == 0, result.output
    job_id = json.loads(result.stdout.strip().splitlines()[-1])["job_id"]
    result = runner.invoke(app, ["export", "--job", str(job_id), "--out-dir", str(workdir / "export"),
                                 "--db", database], env=env)
    assert result.exit_code == 0, result.output
    return workdir


def test_the_readme_shows_the_commands_this_test_runs() -> None:
    (commands,) = section_blocks("bash")
    assert "samplersearch run --task arrays --data mine.npz" in commands
    assert "samplersearch export --job 1 --out-dir export" in commands


def test_every_python_recipe_of_the_readme_runs_as_written(exported: Path, monkeypatch) -> None:
    blocks = section_blocks("python")
    assert len(blocks) == 2
    monkeypatch.chdir(exported)
    for block in blocks:
        namespace: dict = {}
        exec(compile(block, str(README), "exec"), namespace)  # noqa: S102 - our own README, verbatim
        assert isinstance(namespace["loader"], torch.utils.data.DataLoader)
        assert len(list(namespace["loader"])) > 0


def test_the_reference_model_reproduces_the_exported_weights(exported: Path) -> None:
    from sampler_space import features_from_model, load_sampler
    from workers.reference_model import load_reference_model

    sampler = load_sampler(exported / "export" / "sampler.json")
    reference = load_reference_model(exported / "export" / "reference-model.pt")
    data = np.load(exported / "data" / "mine.npz")
    weights = np.load(exported / "export" / "weights.npy")
    # Without label noise every row (training and carved-out validation alike) keeps its label,
    # so recomputing from the user's own rows must give the job's weights.
    features = features_from_model(reference, torch.from_numpy(data["x_train"]), torch.from_numpy(data["y_train"]),
                                   sampler.features)
    assert weights.shape == (900,) and weights.dtype == np.float32 and (weights > 0).all()
    np.testing.assert_allclose(sampler.weights(features).numpy(), weights, rtol=1e-4, atol=1e-6)
    assert sampler.source["task_spec"] == {"name": "arrays", "label_noise": 0.0, "noise_kind": "symmetric",
                                           "imbalance": 1.0, "data": "mine.npz", "train_size": None,
                                           "clean_validation": False}
