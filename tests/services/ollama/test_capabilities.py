"""Asking Ollama (the stand-in, over HTTP) whether it has a model before a drop-in request is queued."""

from __future__ import annotations

import httpx
import pytest

from app.services.ollama import capabilities
from tests.support.simulator import Simulator

MODEL = "tinyllama"


def asking(http: httpx.AsyncClient) -> capabilities.AskShow:
    return lambda body: http.post("/api/show", json=body)


def shows(sim: Simulator) -> int:
    return int(sim.stats()["requests"]["show"])


async def test_a_model_ollama_has_is_asked_about_once_within_the_window(sim: Simulator) -> None:
    async with httpx.AsyncClient(base_url=sim.base_url) as http:
        models = capabilities.ShownModels(asking(http), seconds=60)
        await capabilities.check(models, "generate", {"model": MODEL})
        await capabilities.check(models, "generate", {"model": MODEL, "tools": []})
        assert shows(sim) == 1, "the second request was checked against the kept answer"
        models.forget()  # the models changed through aijobs (a pull, a delete)
        await capabilities.check(models, "generate", {"model": MODEL})
        assert shows(sim) == 2


async def test_a_kept_answer_expires_and_a_refusal_is_never_kept(sim: Simulator) -> None:
    async with httpx.AsyncClient(base_url=sim.base_url) as http:
        models = capabilities.ShownModels(asking(http), seconds=0)
        await capabilities.check(models, "generate", {"model": MODEL})
        await capabilities.check(models, "generate", {"model": MODEL})
        assert shows(sim) == 2, "past its window the answer is asked for again"
        kept = capabilities.ShownModels(asking(http), seconds=60)
        for _ in range(2):
            with pytest.raises(capabilities.OllamaRefuses) as refused:
                await capabilities.check(kept, "chat", {"model": "no-such-model"})
            assert refused.value.status_code == 404
        assert shows(sim) == 4, "a model Ollama lacks is asked about each time (it may be pulled a moment later)"
