import { useState, type FormEvent } from "react";
import { ErrorNote } from "../../../components/States";
import { SubmitButton } from "../../../components/SubmitButton";
import type { JobAccepted } from "../../../lib/api-client";
import { useSubmitJob } from "../api/submit-job";
import { ModelPicker } from "./ModelPicker";

/** One prompt, as a `generate` job or as the first message of a `chat`. */
export function PromptForm({ onDone }: { onDone: (answer: JobAccepted) => void }) {
  const [model, setModel] = useState("");
  const [prompt, setPrompt] = useState("");
  const [chat, setChat] = useState(false);
  const submit = useSubmitJob();
  const send = (event: FormEvent) => {
    event.preventDefault();
    const common = model ? { model } : {};
    const body = chat
      ? { job_type: "chat", request: { ...common, messages: [{ role: "user", content: prompt }] } }
      : { job_type: "generate", request: { ...common, prompt } };
    submit.mutate(body, { onSuccess: onDone });
  };
  return (
    <form onSubmit={send}>
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
