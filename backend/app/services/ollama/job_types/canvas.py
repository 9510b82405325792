"""`canvas` (the seeds' "create canvas"): instructions → a diagram as JSON, written by the model under a
JSON-Schema `format` and validated with pydantic. An invalid answer is retried once with the errors
fed back; a second invalid answer fails the job with the reasons."""

from __future__ import annotations

import json
from typing import Any, Literal

import pydantic
from pydantic import BaseModel, ConfigDict, Field, model_validator

from app.services.ollama.job_types.streaming import stream_text
from app.services.ollama.loads import ensure_loaded
from app.services.ollama.names import ValidModelName
from app.services.queue.errors import PermanentError
from app.services.queue.job_type import JobContext, JobType, describe_validation_error

Style = Literal["flowchart", "mindmap", "timeline", "network", "hierarchy"]


class CanvasRequest(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    instructions: str = Field(min_length=1, max_length=8000, description="What the diagram should show.")
    style: Style = Field(default="flowchart", description="The kind of diagram.")
    color_scheme: str = Field(default="default", alias="colorScheme", max_length=50, description="e.g. `blue`.")
    model: ValidModelName | None = Field(default=None, max_length=300, description="Default: the active model.")


class Position(BaseModel):
    x: float
    y: float


class NodeStyle(BaseModel):
    color: str | None = None
    shape: str | None = None


class Node(BaseModel):
    id: str = Field(min_length=1, max_length=100)
    label: str = Field(min_length=1, max_length=300)
    position: Position
    style: NodeStyle = Field(default_factory=NodeStyle)


class Edge(BaseModel):
    source: str = Field(min_length=1)
    target: str = Field(min_length=1)
    label: str = ""


class Diagram(BaseModel):
    nodes: list[Node] = Field(min_length=2, max_length=200)
    edges: list[Edge] = Field(max_length=500)

    @model_validator(mode="after")
    def _edges_join_nodes(self) -> Diagram:
        ids = [node.id for node in self.nodes]
        duplicates = sorted({node_id for node_id in ids if ids.count(node_id) > 1})
        if duplicates:
            raise ValueError(f"node ids must be unique; repeated: {', '.join(duplicates)}")
        known = set(ids)
        dangling = [f"{edge.source}->{edge.target}" for edge in self.edges if {edge.source, edge.target} - known]
        if dangling:
            raise ValueError(f"edges must connect existing node ids; these do not: {', '.join(dangling)}")
        return self


DIAGRAM_SCHEMA = Diagram.model_json_schema()


def prompt_for(request: CanvasRequest, problems: str | None = None) -> str:
    lines = [
        f"Draw a {request.style} diagram as JSON for these instructions:",
        request.instructions,
        f"Colour scheme: {request.color_scheme}. Give every node a unique id, a short label, an x/y position "
        "on a 1000x700 canvas and a style colour; edges connect node ids.",
    ]
    if problems:
        lines += ["", "Your previous answer was not a valid diagram:", problems, "Answer again with corrected JSON."]
    return "\n".join(lines)


def validate_diagram(text: str) -> Diagram:
    try:
        return Diagram.model_validate(json.loads(text))
    except json.JSONDecodeError as error:
        raise ValueError(f"not valid JSON ({error.msg} at character {error.pos})") from error
    except pydantic.ValidationError as error:
        raise ValueError(describe_validation_error(error)) from error


class CanvasJob(JobType[CanvasRequest]):
    job_type = "canvas"
    runs_model = True
    label = "Canvas diagram"
    operation = "AI Canvas Generation"
    description = "Instructions become a diagram (nodes and edges), checked against a schema."
    result_kind = "diagram"
    request_model = CanvasRequest
    attempts = 2  # the first answer, and one retry with the problems fed back

    async def run(self, ctx: JobContext, request: CanvasRequest) -> dict[str, Any]:
        model = request.model or ctx.default_model
        await ensure_loaded(ctx, model)
        problems: str | None = None
        for attempt in range(1, self.attempts + 1):
            # `text=""`: each attempt streams its own answer
            ctx.progress.update(message=f"drawing (attempt {attempt} of {self.attempts})", percent=0, text="")
            chunks = await ctx.ollama.generate(
                model=model, prompt=prompt_for(request, problems), format=DIAGRAM_SCHEMA, stream=True
            )
            text, _ = await stream_text(ctx, chunks, lambda chunk: chunk.response)
            try:
                diagram = validate_diagram(text)
            except ValueError as error:
                problems = str(error)
                continue
            ctx.progress.update(message="done", percent=100)
            return {
                "model": model,
                "style": request.style,
                "colorScheme": request.color_scheme,
                "attempts": attempt,
                **diagram.model_dump(mode="json"),
            }
        raise PermanentError(f"The model's diagram was invalid twice; last problem: {problems}")
