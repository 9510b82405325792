"""What the model job types (pull, load, unload) are asked: a model name Ollama accepts."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from app.services.ollama.names import ValidModelName


class ModelRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    model: ValidModelName = Field(
        min_length=1, max_length=300, description="e.g. `tinyllama:latest`, `hf.co/org/repo:Q4_K_M`"
    )
