import { useState, type FormEvent } from "react";
import { ErrorNote } from "../../../components/States";
import { SubmitButton } from "../../../components/SubmitButton";
import type { JobAccepted } from "../../../lib/api-client";
import { useModels } from "../../../lib/api/get-models";
import { useStartTraining } from "../api/start-training";

/** Fine-tune a model on uploaded examples (JSONL); the run deploys the result as the active model. */
export function TrainingForm({ onDone }: { onDone: (answer: JobAccepted) => void }) {
  const models = useModels();
  const [baseModel, setBaseModel] = useState("");
  const [examples, setExamples] = useState("");
  const [fileName, setFileName] = useState("");
  const submit = useStartTraining();
  const send = (event: FormEvent) => {
    event.preventDefault();
    // A retry would run the whole training again: one attempt, the user decides on another.
    const base = baseModel || models.data?.models[0]?.name || "tinyllama";
    submit.mutate({ base_model: base, examples, epochs: 3, max_retries: 0 }, { onSuccess: onDone });
  };
  return (
    <form onSubmit={send}>
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
      {fileName && (
        <p className="muted small">
          {fileName}: {examples.split("\n").filter((line) => line.trim()).length} lines
        </p>
      )}
      <p className="muted small">The run holds the GPU; when it succeeds the new model is deployed and becomes the active model.</p>
      <SubmitButton pending={submit.isPending} label="Train AI" disabled={!examples} />
      {submit.isError && <ErrorNote error={submit.error} />}
    </form>
  );
}
