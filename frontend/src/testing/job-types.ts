// The job types as GET /api/ai-agent/job-types describes them (the backend's handlers: their
// operations, results and what people may queue). Unit tests answer it from here.
import type { JobType } from "../lib/api/get-job-types";

const type = (
  job_type: string,
  label: string,
  operation: string,
  result_kind: JobType["result_kind"],
  description: string,
  submittable = true,
  default_max_retries: number | null = null,
): JobType => ({ job_type, label, operation, description, result_kind, submittable, default_max_retries, default_timeout_seconds: null });

export const JOB_TYPES: JobType[] = [
  type("generate", "Text generation", "AI Text Generation", "text", "Answer one prompt with the active (or a named) model."),
  type("chat", "Chat", "AI Chat", "text", "Answer the next message of a conversation."),
  type("embed", "Embeddings", "AI Embeddings", "embeddings", 'Turn texts into vectors: {"model": "…", "input": ["…"]}.', false),
  type("canvas", "Canvas diagram", "AI Canvas Generation", "diagram", "Draw a diagram from instructions."),
  type("report", "Report", "AI Report Generation", "markdown", "Write a report section by section, in Markdown."),
  type("model.pull", "Model download", "Model Download", "model", 'Download a model into Ollama: {"model": "…"}.', false),
  type("model.load", "Model load", "Model Load", "model", 'Load a model into GPU memory: {"model": "…"}.', false),
  type("model.unload", "Model unload", "Model Unload", "model", 'Free a model\'s GPU memory: {"model": "…"}.', false),
  type("training", "Training", "AI Model Training", "training", "Fine-tune a model on examples and deploy it.", true, 0),
];
