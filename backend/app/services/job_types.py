"""The registry of job types. A new type is one handler module plus one line here."""

from __future__ import annotations

from app.services.ollama.job_types.canvas import CanvasHandler
from app.services.ollama.job_types.embed import EmbedHandler
from app.services.ollama.job_types.generate import ChatHandler, GenerateHandler
from app.services.ollama.job_types.model_pull import LoadHandler, PullHandler, UnloadHandler
from app.services.ollama.job_types.report import ReportHandler
from app.services.queue.job_type import JobContext, JobHandler
from app.services.training.job_type import TrainingHandler

HANDLERS: dict[str, JobHandler] = {
    handler.job_type: handler
    for handler in (
        GenerateHandler(),
        ChatHandler(),
        EmbedHandler(),
        CanvasHandler(),
        ReportHandler(),
        PullHandler(),
        LoadHandler(),
        UnloadHandler(),
        TrainingHandler(),
    )
}

__all__ = ["HANDLERS", "JobContext", "JobHandler"]
