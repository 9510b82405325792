import { useMutation, useQueryClient } from "@tanstack/react-query";
import { useState, type FormEvent } from "react";
import type { JobAccepted } from "../api/client";
import { useApi, useModels, useSettings } from "../api/hooks";
import { ErrorNote } from "./States";

type Kind = "prompt" | "canvas" | "report" | "training";
const KINDS: { kind: Kind; label: string }[] = [
  { kind: "prompt", label: "Prompt" },
  { kind: "canvas", label: "Canvas" },
  { kind: "report", label: "Report" },
  { kind: "training", label: "Train AI" },
];

/** Submit work; the answer (202 with position and ETA) is shown at once and the job opened. */
export function SubmitPanel({ onSubmitted }: { onSubmitted: (accepted: JobAccepted) => void }) {
  const [kind, setKind] = useState<Kind>("prompt");
  const [accepted, setAccepted] = useState<JobAccepted | null>(null);
  const client = useQueryClient();
  const done = (answer: JobAccepted) => {
    setAccepted(answer);
    client.setQueryData(["lock"], answer.lock);
    void client.invalidateQueries({ queryKey: ["jobs"] });
    onSubmitted(answer);
  };
  return (
    <section className="card" aria-labelledby="submit-title">
      <h2 id="submit-title">New job</h2>
      <div className="tabs" role="tablist" aria-label="Kind of job">
        {KINDS.map((entry) => (
          <button
            key={entry.kind}
            type="button"
            role="tab"
            aria-selected={kind === entry.kind}
            className={kind === entry.kind ? "tab active" : "tab"}
            onClick={() => setKind(entry.kind)}
          >
            {entry.label}
          </button>
        ))}
      </div>
      {kind === "prompt" && <PromptForm onDone={done} />}
      {kind === "canvas" && <CanvasForm onDone={done} />}
      {kind === "report" && <ReportForm onDone={done} />}
      {kind === "training" && <TrainingForm onDone={done} />}
      {accepted && (
        <p className="notice" role="status" data-testid="accepted">
          Queued — position {(accepted.position ?? 0) + 1}
          {accepted.eta_seconds ? `, starts in ~${Math.round(accepted.eta_seconds)} s` : ""}. {accepted.message}.
        </p>
      )}
    </section>
  );
}

function useSubmit(send: () => Promise<JobAccepted>, onDone: (answer: JobAccepted) => void) {
  return useMutation({ mutationFn: send, onSuccess: onDone });
}

function ModelPicker({ value, onChange, id }: { value: string; onChange: (model: string) => void; id: string }) {
  const models = useModels();
  const settings = useSettings();
  const active = settings.data?.active_model;
  return (
    <label htmlFor={id}>
      Model
      <select id={id} value={value} onChange={(event) => onChange(event.target.value)}>
        <option value="">{active ? `Active model (${active})` : "Active model"}</option>
        {models.data?.models.map((model) => (
          <option key={model.name} value={model.name}>
            {model.name}
            {model.loaded ? " · loaded" : ""}
          </option>
        ))}
      </select>
      {models.isError && <span className="muted small"> (model list unavailable: {models.error.message})</span>}
    </label>
  );
}

function PromptForm({ onDone }: { onDone: (answer: JobAccepted) => void }) {
  const api = useApi();
  const [model, setModel] = useState("");
  const [prompt, setPrompt] = useState("");
  const [chat, setChat] = useState(false);
  const submit = useSubmit(() => {
    const common = model ? { model } : {};
    return chat
      ? api.submit({ job_type: "chat", request: { ...common, messages: [{ role: "user", content: prompt }] } })
      : api.submit({ job_type: "generate", request: { ...common, prompt } });
  }, onDone);
  return (
    <form onSubmit={(event: FormEvent) => (event.preventDefault(), submit.mutate())}>
      <ModelPicker id="prompt-model" value={model} onChange={setModel} />
      <label htmlFor="prompt-text">
        Prompt
        <textarea id="prompt-text" rows={4} required value={prompt} onChange={(e) => setPrompt(e.target.value)} />
      </label>
      <label className="inline">
        <input type="checkbox" checked={chat} onChange={(e) => setChat(e.target.checked)} /> as a chat message
      </label>
      <SubmitButton pending={submit.isPending} label="Run" />
      {submit.isError && <ErrorNote error={submit.error} />}
    </form>
  );
}

function CanvasForm({ onDone }: { onDone: (answer: JobAccepted) => void }) {
  const api = useApi();
  const [instructions, setInstructions] = useState("");
  const [style, setStyle] = useState("flowchart");
  const [colorScheme, setColorScheme] = useState("blue");
  const submit = useSubmit(() => api.canvas({ instructions, style, colorScheme }), onDone);
  return (
    <form onSubmit={(event: FormEvent) => (event.preventDefault(), submit.mutate())}>
      <label htmlFor="canvas-instructions">
        What should the diagram show?
        <textarea
          id="canvas-instructions"
          rows={3}
          required
          value={instructions}
          onChange={(e) => setInstructions(e.target.value)}
        />
      </label>
      <div className="row">
        <label htmlFor="canvas-style">
          Style
          <select id="canvas-style" value={style} onChange={(e) => setStyle(e.target.value)}>
            {["flowchart", "mindmap", "timeline", "network", "hierarchy"].map((s) => (
              <option key={s}>{s}</option>
            ))}
          </select>
        </label>
        <label htmlFor="canvas-colors">
          Colour scheme
          <select id="canvas-colors" value={colorScheme} onChange={(e) => setColorScheme(e.target.value)}>
            {["blue", "green", "warm", "grey", "default"].map((s) => (
              <option key={s}>{s}</option>
            ))}
          </select>
        </label>
      </div>
      <SubmitButton pending={submit.isPending} label="Draw" />
      {submit.isError && <ErrorNote error={submit.error} />}
    </form>
  );
}

interface Section {
  heading: string;
  instructions: string;
}

function ReportForm({ onDone }: { onDone: (answer: JobAccepted) => void }) {
  const api = useApi();
  const [title, setTitle] = useState("");
  const [details, setDetails] = useState("");
  const [sections, setSections] = useState<Section[]>([
    { heading: "Summary", instructions: "One paragraph summarising the case." },
    { heading: "Findings", instructions: "What happened, in order." },
  ]);
  const change = (index: number, field: keyof Section, value: string) =>
    setSections(sections.map((section, i) => (i === index ? { ...section, [field]: value } : section)));
  const submit = useSubmit(
    () => api.report({ title, ...(details ? { details } : {}), sections }),
    onDone,
  );
  return (
    <form onSubmit={(event: FormEvent) => (event.preventDefault(), submit.mutate())}>
      <label htmlFor="report-title">
        Title
        <input id="report-title" required value={title} onChange={(e) => setTitle(e.target.value)} />
      </label>
      <label htmlFor="report-details">
        Details <span className="muted small">(shown to others while it runs, e.g. “Case: ACME Breach (ID: 5)”)</span>
        <input id="report-details" value={details} onChange={(e) => setDetails(e.target.value)} />
      </label>
      <fieldset>
        <legend>Sections</legend>
        {sections.map((section, index) => (
          <div className="section-row" key={index}>
            <input
              aria-label={`Section ${index + 1} heading`}
              required
              value={section.heading}
              onChange={(e) => change(index, "heading", e.target.value)}
            />
            <input
              aria-label={`Section ${index + 1} instructions`}
              required
              value={section.instructions}
              onChange={(e) => change(index, "instructions", e.target.value)}
            />
            <button
              type="button"
              className="link"
              aria-label={`Remove section ${index + 1}`}
              disabled={sections.length === 1}
              onClick={() => setSections(sections.filter((_, i) => i !== index))}
            >
              ✕
            </button>
          </div>
        ))}
        <button type="button" className="link" onClick={() => setSections([...sections, { heading: "", instructions: "" }])}>
          + Add a section
        </button>
      </fieldset>
      <SubmitButton pending={submit.isPending} label="Write the report" />
      {submit.isError && <ErrorNote error={submit.error} />}
    </form>
  );
}

function TrainingForm({ onDone }: { onDone: (answer: JobAccepted) => void }) {
  const api = useApi();
  const models = useModels();
  const [baseModel, setBaseModel] = useState("");
  const [examples, setExamples] = useState("");
  const [fileName, setFileName] = useState("");
  const submit = useSubmit(
    () => api.train({ base_model: baseModel || models.data?.models[0]?.name || "tinyllama", examples, epochs: 3, max_retries: 0 }),
    onDone,
  );
  return (
    <form onSubmit={(event: FormEvent) => (event.preventDefault(), submit.mutate())}>
      <label htmlFor="train-base">
        Base model
        <select id="train-base" value={baseModel} onChange={(e) => setBaseModel(e.target.value)}>
          {models.data?.models.map((model) => <option key={model.name}>{model.name}</option>)}
        </select>
      </label>
      <label htmlFor="train-file">
        Examples (JSONL: one {"{"}"prompt": …, "response": …{"}"} per line)
        <input
          id="train-file"
          type="file"
          accept=".jsonl,.json,.txt"
          onChange={async (e) => {
            const file = e.target.files?.[0];
            if (file) {
              setFileName(file.name);
              setExamples(await file.text());
            }
          }}
        />
      </label>
      {fileName && <p className="muted small">{fileName}: {examples.split("\n").filter((l) => l.trim()).length} lines</p>}
      <p className="muted small">The run holds the GPU; when it succeeds the new model is deployed and becomes the active model.</p>
      <SubmitButton pending={submit.isPending} label="Train AI" disabled={!examples} />
      {submit.isError && <ErrorNote error={submit.error} />}
    </form>
  );
}

function SubmitButton({ pending, label, disabled }: { pending: boolean; label: string; disabled?: boolean }) {
  return (
    <button type="submit" className="primary" disabled={pending || disabled}>
      {pending ? "Sending…" : label}
    </button>
  );
}
