"""The OpenAPI schema, with each job type's request shown.

`POST /api/ai-agent/jobs` validates its body in two steps on purpose (the common fields, then the
request by its job type, so an unknown type or a bad field gets a message naming it), so FastAPI alone
would document `request` as any object. Here the body is documented as what it really is: one schema
per registered job type, discriminated by `job_type`.
"""

from __future__ import annotations

import re
from typing import Annotated, Any, Literal, Union

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi
from pydantic import Field, TypeAdapter, create_model

from app.schemas.jobs import SubmitJob
from app.services.queue.job_type import JobType

SUBMIT_PATH = "/api/ai-agent/jobs"
REF_TEMPLATE = "#/components/schemas/{model}"


def submission_schemas(job_types: dict[str, JobType]) -> tuple[dict[str, Any], dict[str, Any]]:
    """The body's schema (a `oneOf` discriminated by `job_type`) and the component schemas it refers to."""
    variants = [
        create_model(
            "Submit" + "".join(part.capitalize() for part in re.split(r"[._]", name)),
            __base__=SubmitJob,
            __doc__=f"{kind.label}: {kind.description}",
            job_type=(Literal[name], Field(description=kind.label)),  # type: ignore[valid-type]
            request=(kind.request_model, ...),
        )
        for name, kind in sorted(job_types.items())
    ]
    union = Annotated[Union[tuple(variants)], Field(discriminator="job_type")]  # noqa: UP007
    schema = TypeAdapter(union).json_schema(ref_template=REF_TEMPLATE, mode="validation")
    components = schema.pop("$defs", {})
    return schema, components


def install(app: FastAPI, job_types: dict[str, JobType]) -> None:
    """Serve the schema with the job requests documented (built once, on first request)."""

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            schema = get_openapi(title=app.title, version=app.version, summary=app.summary, routes=app.routes)
            body, components = submission_schemas(job_types)
            schema.setdefault("components", {}).setdefault("schemas", {}).update(components)
            content = schema["paths"][SUBMIT_PATH]["post"]["requestBody"]["content"]["application/json"]
            content["schema"] = body
            app.openapi_schema = schema
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
