"""`report`: a multi-section report, one generation per section, progress per section ("section 2 of
5: Findings"). The result is the whole report in Markdown plus each section's text. Cancelling stops
mid-section (the running section's stream is closed)."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from app.services.ollama.job_types.streaming import stream_text
from app.services.ollama.loads import ensure_loaded
from app.services.ollama.names import ValidModelName
from app.services.queue.job_type import JobContext, JobType


class Section(BaseModel):
    model_config = ConfigDict(extra="forbid")

    heading: str = Field(min_length=1, max_length=200)
    instructions: str = Field(min_length=1, max_length=8000)


class ReportRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    title: str = Field(min_length=1, max_length=300)
    details: str | None = Field(default=None, max_length=500, description="e.g. `Case: ACME Breach (ID: 5)`.")
    context: str | None = Field(default=None, max_length=100_000, description="Facts the report is about.")
    sections: list[Section] = Field(min_length=1, max_length=30)
    model: ValidModelName | None = Field(default=None, max_length=300, description="Default: the active model.")
    options: dict[str, Any] | None = None


def section_prompt(request: ReportRequest, section: Section, written: list[tuple[str, str]]) -> str:
    lines = [f'You are writing the report "{request.title}".']
    if request.details:
        lines.append(f"About: {request.details}")
    if request.context:
        lines += ["Context:", request.context]
    if written:
        lines.append("Sections written so far: " + ", ".join(heading for heading, _ in written) + ".")
    lines += [
        f'Write only the section "{section.heading}", as Markdown paragraphs, without its heading:',
        section.instructions,
    ]
    return "\n".join(lines)


def to_markdown(request: ReportRequest, written: list[tuple[str, str]]) -> str:
    parts = [f"# {request.title}"]
    if request.details:
        parts.append(f"_{request.details}_")
    parts += [f"## {heading}\n\n{text.strip()}" for heading, text in written]
    return "\n\n".join(parts) + "\n"


class ReportJob(JobType[ReportRequest]):
    job_type = "report"
    runs_model = True
    label = "Report"
    operation = "AI Report Generation"
    description = "A report in Markdown, written section by section."
    result_kind = "markdown"
    request_model = ReportRequest

    async def run(self, ctx: JobContext, request: ReportRequest) -> dict[str, Any]:
        model = request.model or ctx.default_model
        await ensure_loaded(ctx, model)
        total = len(request.sections)
        written: list[tuple[str, str]] = []
        for number, section in enumerate(request.sections, start=1):
            where = f"section {number} of {total}: {section.heading}"
            ctx.progress.update(
                message=where,
                section=number,
                sections=total,
                percent=round(100 * (number - 1) / total, 1),
                text_delta=("\n\n" if written else "") + f"## {section.heading}\n\n",
            )
            generate: dict[str, Any] = {"model": model, "prompt": section_prompt(request, section, written)}
            if request.options:
                generate["options"] = request.options
            chunks = await ctx.ollama.generate(stream=True, **generate)
            text, _ = await stream_text(ctx, chunks, lambda chunk: chunk.response, message=where)
            written.append((section.heading, text))
        ctx.progress.update(message="done", percent=100)
        return {
            "model": model,
            "title": request.title,
            "markdown": to_markdown(request, written),
            "sections": [{"heading": heading, "text": text} for heading, text in written],
        }
