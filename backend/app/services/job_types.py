"""The job types this service runs. A new type is one module (see docs/ARCHITECTURE.md, "Adding a job
type") plus one line here; the API, the OpenAPI schema and the page learn it from this registry."""

from __future__ import annotations

from app.services.ollama.job_types.canvas import CanvasJob
from app.services.ollama.job_types.chat import ChatJob
from app.services.ollama.job_types.embed import EmbedJob
from app.services.ollama.job_types.generate import GenerateJob
from app.services.ollama.job_types.model_copy import ModelCopyJob
from app.services.ollama.job_types.model_create import ModelCreateJob
from app.services.ollama.job_types.model_delete import ModelDeleteJob
from app.services.ollama.job_types.model_load import ModelLoadJob
from app.services.ollama.job_types.model_pull import ModelPullJob
from app.services.ollama.job_types.model_push import ModelPushJob
from app.services.ollama.job_types.model_unload import ModelUnloadJob
from app.services.ollama.job_types.report import ReportJob
from app.services.queue.job_type import JobType
from app.services.training.job_type import TrainingJob

JOB_TYPES: dict[str, JobType] = {
    job_type.job_type: job_type
    for job_type in (
        GenerateJob(),
        ChatJob(),
        EmbedJob(),
        CanvasJob(),
        ReportJob(),
        ModelPullJob(),
        ModelLoadJob(),
        ModelUnloadJob(),
        ModelCreateJob(),
        ModelCopyJob(),
        ModelDeleteJob(),
        ModelPushJob(),
        TrainingJob(),
    )
}


def register(job_type: JobType) -> None:
    """Add a job type at run time (tests use this for a type that exists only in the test)."""
    JOB_TYPES[job_type.job_type] = job_type


def unregister(job_type: str) -> None:
    JOB_TYPES.pop(job_type, None)
