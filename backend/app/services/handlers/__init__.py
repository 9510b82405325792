"""The registry of job types. A new type is one handler module plus one line here."""

from __future__ import annotations

from app.services.handlers.base import JobContext, JobHandler
from app.services.handlers.generation import ChatHandler, GenerateHandler

HANDLERS: dict[str, JobHandler] = {handler.job_type: handler for handler in (GenerateHandler(), ChatHandler())}

__all__ = ["HANDLERS", "JobContext", "JobHandler"]
