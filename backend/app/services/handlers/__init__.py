"""The registry of job types. A new type is one handler module plus one line here."""

from __future__ import annotations

from app.services.handlers.base import JobContext, JobHandler
from app.services.handlers.canvas import CanvasHandler
from app.services.handlers.embedding import EmbedHandler
from app.services.handlers.generation import ChatHandler, GenerateHandler
from app.services.handlers.models import LoadHandler, PullHandler, UnloadHandler
from app.services.handlers.report import ReportHandler
from app.services.handlers.training import TrainingHandler

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
