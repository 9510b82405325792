"""Training runs ("Train AI") and the settings they switch: /api/ai-agent/training, /api/ai-agent/settings."""

from __future__ import annotations

import uuid
from typing import Annotated, Any

import asyncpg
from fastapi import APIRouter, Body, Query, Request, status
from pydantic import BaseModel, ConfigDict, Field

from app.errors import Conflict, InvalidInput, NotFound
from app.routes.deps import AdminUser, CurrentUser
from app.routes.jobs import SUBMIT_ERRORS, IdempotencyKey, IfBusy, Prefer, submit_and_answer
from app.schemas.jobs import JobAccepted, SubmitJob
from app.services.accounts.users import User
from app.services.ollama import models, system_settings
from app.services.ollama import names as model_names
from app.services.training import sets as training_sets

router = APIRouter(prefix="/api/ai-agent", tags=["training"])

AUTH_ERRORS: dict[int | str, dict[str, Any]] = {401: {"description": "No or bad token"}}


class StartTraining(BaseModel):
    model_config = ConfigDict(extra="forbid")

    base_model: str = Field(min_length=1, max_length=300, examples=["tinyllama"], description="Model to fine-tune.")
    examples: str | None = Field(
        default=None,
        description='JSONL, one {"prompt": …, "response": …} per line (or upload them first and give '
        "`training_set_id`).",
        examples=['{"prompt": "What is aijobs?", "response": "A queue for a shared GPU."}\n'],
    )
    training_set_id: uuid.UUID | None = Field(default=None, description="An uploaded training set.")
    model_name: str | None = Field(default=None, max_length=300, description="Default: `<base>-ft-<job id>`.")
    epochs: int = Field(default=3, ge=1, le=1000)
    details: str | None = Field(default=None, max_length=500, description="Shown in the GPU lock.")
    timeout_seconds: float | None = Field(default=None, gt=0, le=7 * 86400)
    max_retries: int | None = Field(
        default=None, ge=0, le=5, description="A retry runs the whole training again (default: none)."
    )
    make_default: bool = Field(
        default=False,
        description="Admins: make the new model everyone's default. Otherwise it becomes your own default only.",
    )
    replace_existing: bool = Field(default=False, description="Admins: let `model_name` replace an existing model.")


class TrainingSetOut(BaseModel):
    id: uuid.UUID
    name: str
    example_count: int
    created_at: str


class SettingsOut(BaseModel):
    active_model: str = Field(description="What your jobs use when they name no model.")
    everyones_model: str = Field(description="Everyone's default (set by admins); yours if you trained none.")
    default_model: str = Field(description="DEFAULT_MODEL: the active model until a training run deploys one.")
    ai_model_trained: bool = False
    ai_model_trained_at: str | None = None
    ai_training_examples: int | None = None
    ai_model_trained_by_job: str | None = None


class ActiveModel(BaseModel):
    model_config = ConfigDict(extra="forbid")

    model: str = Field(min_length=1, max_length=300, examples=["tinyllama:latest"])


@router.post(
    "/training/sets",
    status_code=status.HTTP_201_CREATED,
    response_model=TrainingSetOut,
    responses={**AUTH_ERRORS, 413: {"description": "Over MAX_REQUEST_BYTES"}, 422: {"description": "Bad lines"}},
)
async def upload_training_set(
    request: Request,
    user: CurrentUser,
    name: Annotated[str, Query(min_length=1, max_length=200, description="A name to recognise it by.")] = "examples",
) -> dict[str, Any]:
    """Upload examples as JSONL (the raw body): each bad line is reported by number and nothing is stored."""
    raw = await request.body()
    try:
        body = raw.decode("utf-8")
    except UnicodeDecodeError as error:
        raise InvalidInput("The examples must be UTF-8 text (JSON lines).", {"field": "body"}) from error
    examples = training_sets.parse_jsonl(body, field="body")
    stored = await training_sets.store(request.app.state.db, user, name, examples)
    return stored.as_dict()


@router.get("/training/sets", response_model=list[TrainingSetOut], responses=AUTH_ERRORS)
async def list_training_sets(request: Request, user: CurrentUser) -> list[dict[str, Any]]:
    """Your training sets (an admin sees everyone's), newest first."""
    return [found.as_dict() for found in await training_sets.list_sets(request.app.state.db, user)]


@router.post(
    "/training",
    status_code=status.HTTP_202_ACCEPTED,
    response_model=JobAccepted,
    responses={**SUBMIT_ERRORS, 404: {"description": "No such training set (or not yours)"}},
)
async def start_training(
    request: Request,
    user: CurrentUser,
    body: Annotated[StartTraining, Body()],
    idempotency_key: IdempotencyKey = None,
    prefer: Prefer = None,
    if_busy: IfBusy = None,
) -> Any:
    """ "Train AI": queue a training run under the GPU slot; when it succeeds it deploys the new model
    to Ollama and makes it your default model (an admin may make it everyone's), with no further step.
    A name Ollama already has is refused with 409: training never replaces another model."""
    if (body.examples is None) == (body.training_set_id is None):
        raise InvalidInput("Send either `examples` (JSONL text) or `training_set_id`, not both.", {"field": "examples"})
    if body.model_name and not (body.replace_existing and user.is_admin):
        await _refuse_existing_model(request, body.model_name)
    examples = training_sets.parse_jsonl(body.examples) if body.examples is not None else None

    async def save_set_then_submit(conn: asyncpg.Connection) -> SubmitJob:
        """In the submission's transaction: a refused job (409, 429) leaves no orphan training set."""
        if examples is not None:
            training_set = await training_sets.store(conn, user, f"{body.base_model} training", examples)
        else:
            assert body.training_set_id is not None
            training_set = await training_sets.get_owned(conn, user, body.training_set_id)
        details = body.details or (
            f"Training from {body.base_model} on {training_set.example_count} examples ({training_set.name})"
        )
        return SubmitJob(
            job_type="training",
            request={
                "base_model": body.base_model,
                "training_set_id": str(training_set.id),
                "epochs": body.epochs,
                "make_default": body.make_default,
                "replace_existing": body.replace_existing,
                **({"model_name": body.model_name} if body.model_name else {}),
            },
            details=details,
            timeout_seconds=body.timeout_seconds,
            max_retries=body.max_retries,
        )

    return await submit_and_answer(
        request, user, save_set_then_submit, idempotency_key=idempotency_key, if_busy=if_busy, prefer=prefer, wait=None
    )


async def _refuse_existing_model(request: Request, name: str) -> None:
    try:
        await models.status(request.app.state.ollama_http, model_names.require_valid(name, field="model_name"))
    except NotFound:
        return
    except models.OllamaUnreachable:
        return  # checked again before the deploy
    raise Conflict(
        f"Ollama already has a model named {name!r}; a training run never replaces a model. Choose another "
        "model_name, or leave it out for a new one.",
        {"field": "model_name", "model": name},
    )


async def _settings_view(request: Request, user: User) -> SettingsOut:
    default = request.app.state.settings.default_model
    async with request.app.state.engine.connect() as conn:
        values = await system_settings.get_all(conn)
    return SettingsOut(
        active_model=system_settings.default_model_for(values, user.id, default),
        everyones_model=values.get(system_settings.ACTIVE_MODEL) or default,
        default_model=default,
        ai_model_trained=bool(values.get("ai_model_trained", False)),
        ai_model_trained_at=values.get("ai_model_trained_at"),
        ai_training_examples=values.get("ai_training_examples"),
        ai_model_trained_by_job=values.get("ai_model_trained_by_job"),
    )


@router.get("/settings", response_model=SettingsOut, responses=AUTH_ERRORS)
async def get_settings(request: Request, user: CurrentUser) -> SettingsOut:
    """The model your jobs use when they name none, everyone's default, and what the last training run recorded."""
    return await _settings_view(request, user)


@router.put(
    "/settings/active-model",
    response_model=SettingsOut,
    responses={
        **AUTH_ERRORS,
        403: {"description": "Admins only"},
        404: {"description": "Ollama has no such model"},
        422: {"description": "Invalid model name"},
    },
)
async def set_active_model(request: Request, admin: AdminUser, body: ActiveModel) -> SettingsOut:
    """Admins: switch everyone's default model (e.g. back to the base model after a disappointing training
    run). A model Ollama does not have is refused (404): every job naming no model would fail."""
    model_names.require_valid(body.model, field="model")
    await models.status(request.app.state.ollama_http, body.model)
    async with request.app.state.engine.begin() as conn:
        await system_settings.put(conn, {system_settings.ACTIVE_MODEL: body.model})
    return await _settings_view(request, admin)
