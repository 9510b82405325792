"""`training`: run the training command under the GPU slot, then deploy what it produced.

1. write the training set to `<training dir>/<job id>/train.jsonl`;
2. run TRAINING_COMMAND (its own process group; progress from its output; stopped as a group);
3. deploy: upload the adapter as a blob, `/api/create` the new model from the base model and the
   adapter, and ask it one question to check it answers;
4. only then switch `active_model` (and the other `ai_model_*` settings) in one transaction.
Any failure before step 4 leaves the settings as they were.
"""

from __future__ import annotations

import asyncio
import json
import os
import shlex
import sys
import uuid
from contextlib import aclosing
from pathlib import Path
from typing import Any

import ollama
from pydantic import BaseModel, ConfigDict, Field

from app.config import Settings
from app.db import Executor
from app.errors import Forbidden
from app.services.accounts.users import User
from app.services.ollama import names as model_names
from app.services.ollama import system_settings
from app.services.ollama.names import ValidModelName
from app.services.queue.errors import PermanentError, TransientError
from app.services.queue.job_type import JobContext, JobType
from app.services.training import sets as training_sets
from app.services.training.runner import run_command

ADAPTER_SUFFIXES = (".safetensors", ".gguf", ".bin")
COMMAND_SHARE = 90.0  # percent of the job's progress bar the command fills; deploying fills the rest
CHECK_PROMPT = "Reply with one short sentence to confirm you are ready."


class TrainingRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    base_model: ValidModelName = Field(
        min_length=1, max_length=300, description="The model to fine-tune, e.g. `tinyllama`."
    )
    training_set_id: uuid.UUID = Field(description="An uploaded training set (POST /api/ai-agent/training/sets).")
    model_name: ValidModelName | None = Field(
        default=None, max_length=300, description="Name of the new model (default: `<base>-ft-<job id>`)."
    )
    epochs: int = Field(default=3, ge=1, le=1000, description="Passes over the examples.")
    make_default: bool = Field(
        default=False,
        description="Admins: make the new model everyone's default (the active model). Otherwise it becomes "
        "only the default of the user who trained it.",
    )
    replace_existing: bool = Field(
        default=False, description="Admins: let `model_name` replace a model Ollama already has."
    )


async def refuse_existing(client: ollama.AsyncClient, model_name: str) -> None:
    """A training run never replaces a model Ollama already has (unless an admin asked for it)."""
    try:
        await client.show(model_name)
    except ollama.ResponseError as error:
        if error.status_code == 404:
            return
        raise
    raise PermanentError(
        f"Ollama already has a model named {model_name!r}; a training run does not replace it. "
        "Choose another model_name (or leave it out for a new one)."
    )


def default_model_name(base_model: str, job_id: uuid.UUID) -> str:
    base = model_names.parse(base_model)
    return f"{base.model}-ft-{job_id.hex[:8]}:latest"


def training_argv(settings: Settings, fields: dict[str, str]) -> list[str]:
    """TRAINING_COMMAND split like a shell would, with {data}, {output}, {base_model}, {model_name},
    {epochs} filled in; unset, the reference trainer."""
    template = settings.training_command or (
        f"{shlex.quote(sys.executable)} -m app.training.reference --data {{data}} --output {{output}} "
        "--epochs {epochs} --base-model {base_model}"
    )
    return [part.format(**fields) for part in shlex.split(template)]


def write_examples(path: Path, examples: list[dict[str, str]]) -> None:
    (path.parent / "output").mkdir(parents=True, exist_ok=True)
    path.write_text("".join(json.dumps(example) + "\n" for example in examples))


def find_adapter(output: Path) -> Path:
    found = sorted(path for path in output.rglob("*") if path.is_file() and path.suffix in ADAPTER_SUFFIXES)
    if not found:
        raise PermanentError(
            f"The training command finished but wrote no adapter ({', '.join(ADAPTER_SUFFIXES)}) into {output}."
        )
    return found[0]


class TrainingJob(JobType[TrainingRequest]):
    job_type = "training"
    label = "Training"
    operation = "AI Model Training"
    description = "Fine-tune a model on your examples, then deploy it and make it the active model."
    result_kind = "training"
    default_max_retries = 0  # a retry would run the whole training again: only on request
    request_model = TrainingRequest

    async def authorize(self, conn: Executor, user: User, request: TrainingRequest) -> None:
        await training_sets.get_owned(conn, user, request.training_set_id)  # 404 unless yours (or admin)
        if (request.make_default or request.replace_existing) and not user.is_admin:
            field = "make_default" if request.make_default else "replace_existing"
            raise Forbidden(
                f"Only admins may set `{field}`: your trained model becomes your own default and never replaces "
                "another model. Leave it out.",
                {"field": field},
            )

    async def run(self, ctx: JobContext, request: TrainingRequest) -> dict[str, Any]:
        assert ctx.engine is not None and ctx.settings is not None
        settings, job = ctx.settings, ctx.job
        model_name = request.model_name or default_model_name(request.base_model, job.id)
        ctx.progress.update(percent=0, message="preparing the training examples")
        assert ctx.db is not None
        examples = await training_sets.examples(ctx.db, request.training_set_id)
        workdir = (settings.training_dir or settings.data_dir / "training").resolve() / str(job.id)
        output, data = workdir / "output", workdir / "train.jsonl"
        await asyncio.to_thread(write_examples, data, examples)

        fields = {
            "data": str(data),
            "output": str(output),
            "base_model": request.base_model,
            "model_name": model_name,
            "epochs": str(request.epochs),
        }
        tail: list[str] = []

        def on_line(line: str, percent: float | None, message: str | None) -> None:
            tail.append(line)
            del tail[:-20]
            update: dict[str, Any] = {"log_tail": list(tail)}
            if percent is not None:
                update["percent"] = round(min(max(percent, 0.0), 100.0) * COMMAND_SHARE / 100, 1)
            update["message"] = f"training: {message or line[:200]}"
            ctx.progress.update(**update)

        env = {**os.environ, **{f"AIJOBS_TRAINING_{key.upper()}": value for key, value in fields.items()}}
        ctx.progress.update(message=f"training {model_name} from {request.base_model} on {len(examples)} examples")
        result = await run_command(
            training_argv(settings, fields),
            cwd=workdir,
            env=env,
            on_line=on_line,
            kill_grace=settings.training_kill_grace,
        )
        if result.returncode != 0:
            last = "\n".join(result.tail[-10:]) or "(no output)"
            raise PermanentError(
                f"The training command failed (exit code {result.returncode}). Its last output:\n{last}"
            )

        adapter = await asyncio.to_thread(find_adapter, output)
        if not request.replace_existing:
            await refuse_existing(ctx.ollama, model_name)  # it may have appeared since the submission
        deployed = await self._deploy(ctx, request.base_model, model_name, adapter)
        async with ctx.engine.begin() as conn:
            await system_settings.record_deploy(
                conn, model_name, len(examples), str(job.id), user_id=job.user_id, for_everyone=request.make_default
            )
        whose = "everyone's jobs" if request.make_default else f"{job.username}'s jobs"
        ctx.progress.update(percent=100, message=f"deployed {model_name}: {whose} without a model now use it")
        return {
            "model": model_name,
            "base_model": request.base_model,
            "examples": len(examples),
            "epochs": request.epochs,
            "adapter": str(adapter),
            "log_tail": result.tail[-20:],
            **deployed,
        }

    async def _deploy(self, ctx: JobContext, base_model: str, model_name: str, adapter: Path) -> dict[str, Any]:
        ctx.progress.update(percent=COMMAND_SHARE, message=f"deploying {model_name}: uploading the adapter")
        try:
            digest = await ctx.ollama.create_blob(adapter)
        except ollama.ResponseError as error:
            failure = TransientError if error.status_code >= 500 else PermanentError
            raise failure(
                f"Uploading the trained adapter ({adapter.name}) to Ollama failed ({error.status_code}): {error.error}"
            ) from error
        statuses = await ctx.ollama.create(
            model=model_name, from_=base_model, adapters={adapter.name: digest}, stream=True
        )
        async with aclosing(statuses) as stream:  # type: ignore[type-var]
            async for status in stream:
                ctx.progress.update(message=f"deploying {model_name}: {status.status}")
        ctx.progress.update(percent=COMMAND_SHARE + 5, message=f"checking that {model_name} answers")
        check = await ctx.ollama.generate(model=model_name, prompt=CHECK_PROMPT, options={"num_predict": 16})
        if not check.response.strip():
            raise PermanentError(f"{model_name} was created but gave an empty answer; active_model was not switched.")
        return {"adapter_digest": digest, "check_response": check.response}
