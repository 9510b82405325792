import { useState, type ReactNode } from "react";
import type { JobAccepted } from "../../../lib/api-client";
import { useJobTypes, type JobType } from "../../../lib/api/get-job-types";
import { CanvasForm } from "./CanvasForm";
import { GenericJobForm } from "./GenericJobForm";
import { PromptForm } from "./PromptForm";
import { ReportForm } from "./ReportForm";
import { SubmissionNote } from "./SubmissionNote";

type OnDone = (answer: JobAccepted) => void;

/** A tab of the panel: a form made for some job types (`covers`), or the generic one for a type. */
export interface SubmitTab {
  id: string;
  label: string;
  covers: string[];
  form: (onDone: OnDone) => ReactNode;
}

const HAND_MADE: SubmitTab[] = [
  { id: "prompt", label: "Prompt", covers: ["generate", "chat"], form: (onDone) => <PromptForm onDone={onDone} /> },
  { id: "canvas", label: "Canvas", covers: ["canvas"], form: (onDone) => <CanvasForm onDone={onDone} /> },
  { id: "report", label: "Report", covers: ["report"], form: (onDone) => <ReportForm onDone={onDone} /> },
];

/** Every type people may submit that no hand-made form covers gets the generic form. */
function genericTabs(types: JobType[], covered: Set<string>): SubmitTab[] {
  return types
    .filter((type) => type.submittable && !covered.has(type.job_type))
    .map((type) => ({
      id: type.job_type,
      label: type.label,
      covers: [type.job_type],
      form: (onDone) => <GenericJobForm key={type.job_type} jobType={type} onDone={onDone} />,
    }));
}

/** Submit work. The note under the form follows the submitted job live: its place, then its run, then its end.
 *  `moreForms`: hand-made forms of other features (the app adds training's). */
export function SubmitPanel({ onSubmitted, moreForms = [] }: { onSubmitted: OnDone; moreForms?: SubmitTab[] }) {
  const types = useJobTypes();
  const handMade = [...HAND_MADE, ...moreForms];
  const tabs = [...handMade, ...genericTabs(types.data ?? [], new Set(handMade.flatMap((tab) => tab.covers)))];
  const [current, setCurrent] = useState(tabs[0].id);
  const [accepted, setAccepted] = useState<JobAccepted | null>(null);
  const tab = tabs.find((entry) => entry.id === current) ?? tabs[0];
  const done = (answer: JobAccepted) => {
    setAccepted(answer);
    onSubmitted(answer);
  };
  return (
    <section className="card" aria-labelledby="submit-title">
      <h2 id="submit-title">New job</h2>
      <div className="tabs" role="tablist" aria-label="Kind of job">
        {tabs.map((entry) => (
          <button
            key={entry.id}
            id={`submit-tab-${entry.id}`}
            type="button"
            role="tab"
            aria-selected={entry.id === tab.id}
            aria-controls="submit-form"
            className={entry.id === tab.id ? "tab active" : "tab"}
            onClick={() => setCurrent(entry.id)}
          >
            {entry.label}
          </button>
        ))}
      </div>
      <div id="submit-form" role="tabpanel" aria-label={`${tab.label} form`}>
        {tab.form(done)}
      </div>
      {accepted && <SubmissionNote key={accepted.job_id} accepted={accepted} />}
    </section>
  );
}
