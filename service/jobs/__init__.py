"""Jobs of both kinds: prepare what their trials share, run them on Ray Tune, finish, export."""

from service.jobs.export import job_sampler_document
from service.jobs.finish import finish_job
from service.jobs.run import run_job

__all__ = ["finish_job", "job_sampler_document", "run_job"]
