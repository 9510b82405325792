import { useState, type FormEvent } from "react";
import { ErrorNote } from "../../../components/States";
import { SubmitButton } from "../../../components/SubmitButton";
import type { JobAccepted } from "../../../lib/api-client";
import { useCreateReport, type ReportSection } from "../api/create-report";

const FIRST_SECTIONS: ReportSection[] = [
  { heading: "Summary", instructions: "One paragraph summarising the case." },
  { heading: "Findings", instructions: "What happened, in order." },
];

/** A report: a title, what to show others while it runs, and its sections (each written in turn). */
export function ReportForm({ onDone }: { onDone: (answer: JobAccepted) => void }) {
  const [title, setTitle] = useState("");
  const [details, setDetails] = useState("");
  const [sections, setSections] = useState(FIRST_SECTIONS);
  const submit = useCreateReport();
  const change = (index: number, field: keyof ReportSection, value: string) =>
    setSections(sections.map((section, i) => (i === index ? { ...section, [field]: value } : section)));
  const send = (event: FormEvent) => {
    event.preventDefault();
    submit.mutate({ title, ...(details ? { details } : {}), sections }, { onSuccess: onDone });
  };
  return (
    <form onSubmit={send}>
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
