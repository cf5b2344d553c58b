"""What a finished search job saves for its users, in the store: the best sampler's weight of
every training row (``weights.npy``) and the reference model that computes its features on new
data (``reference-model.pt``). Any process serves them after a restart, with no shared disk."""

from __future__ import annotations

import io

import numpy as np

from sampler_space.sampler_json import sampler_from_document
from service.jobs.export import job_sampler_document
from service.jobs.search import PreparedSearch
from service.store import Store
from workers.reference_model import reference_model_bytes
from workers.row_weights import training_row_weights

WEIGHTS = "weights.npy"
REFERENCE_MODEL = "reference-model.pt"
#: per-sample analysis data of the job's own training rows, for plots: raw features, flip mask
SAMPLES = "samples.npz"
MEDIA_TYPES = {WEIGHTS: "application/x-npy", REFERENCE_MODEL: "application/octet-stream",
               SAMPLES: "application/octet-stream"}


def npy_bytes(array: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    np.save(buffer, array, allow_pickle=False)
    return buffer.getvalue()


def save_search_artifacts(store: Store, job_id: int, prepared: PreparedSearch) -> None:
    """Store the job's best-sampler row weights and its reference model (its best trial must
    have succeeded: ``job_sampler_document`` picks it)."""
    sampler = sampler_from_document(job_sampler_document(store, job_id))
    weights = training_row_weights(prepared.task_spec, prepared.data, prepared.seed, prepared.shared_state, sampler)
    store.put_artifact(job_id, WEIGHTS, npy_bytes(weights.astype(np.float32)), MEDIA_TYPES[WEIGHTS])
    model = reference_model_bytes(prepared.task_spec, prepared.data, prepared.seed, prepared.shared_state)
    store.put_artifact(job_id, REFERENCE_MODEL, model, MEDIA_TYPES[REFERENCE_MODEL])
    store.put_artifact(job_id, SAMPLES, samples_bytes(prepared), MEDIA_TYPES[SAMPLES])


def samples_bytes(prepared: PreparedSearch) -> bytes:
    """``samples.npz``: ``features`` float32 ``(N, F)`` (raw, the job's x_train under the reference
    model), ``feature_names``, ``flipped`` bool ``(N,)`` (labels the job's noise flipped)."""
    buffer = io.BytesIO()
    np.savez(buffer, features=prepared.raw_features.numpy().astype(np.float32),
             feature_names=np.array(prepared.space.features), flipped=prepared.data.train_flipped.numpy())
    return buffer.getvalue()
