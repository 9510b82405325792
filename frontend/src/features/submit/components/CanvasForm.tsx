import { useState, type FormEvent } from "react";
import { ErrorNote } from "../../../components/States";
import { SubmitButton } from "../../../components/SubmitButton";
import type { JobAccepted } from "../../../lib/api-client";
import { useCreateCanvas } from "../api/create-canvas";

const STYLES = ["flowchart", "mindmap", "timeline", "network", "hierarchy"];
const COLOR_SCHEMES = ["blue", "green", "warm", "grey", "default"];

/** A diagram from instructions, in a style and colour scheme. */
export function CanvasForm({ onDone }: { onDone: (answer: JobAccepted) => void }) {
  const [instructions, setInstructions] = useState("");
  const [style, setStyle] = useState("flowchart");
  const [colorScheme, setColorScheme] = useState("blue");
  const submit = useCreateCanvas();
  const send = (event: FormEvent) => {
    event.preventDefault();
    submit.mutate({ instructions, style, colorScheme }, { onSuccess: onDone });
  };
  return (
    <form onSubmit={send}>
      <label htmlFor="canvas-instructions">
        What should the diagram show?
        <textarea id="canvas-instructions" rows={3} required value={instructions} onChange={(e) => setInstructions(e.target.value)} />
      </label>
      <div className="row">
        <label htmlFor="canvas-style">
          Style
          <select id="canvas-style" value={style} onChange={(e) => setStyle(e.target.value)}>
            {STYLES.map((entry) => (
              <option key={entry}>{entry}</option>
            ))}
          </select>
        </label>
        <label htmlFor="canvas-colors">
          Colour scheme
          <select id="canvas-colors" value={colorScheme} onChange={(e) => setColorScheme(e.target.value)}>
            {COLOR_SCHEMES.map((entry) => (
              <option key={entry}>{entry}</option>
            ))}
          </select>
        </label>
      </div>
      <SubmitButton pending={submit.isPending} label="Draw" />
      {submit.isError && <ErrorNote error={submit.error} />}
    </form>
  );
}
