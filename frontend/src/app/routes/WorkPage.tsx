import { useQueryClient } from "@tanstack/react-query";
import { jobsKeys } from "../../features/jobs/api/get-jobs";
import { JobsTable } from "../../features/jobs/components/JobsTable";
import { JobView } from "../../features/jobs/components/JobView";
import { SubmitPanel, type SubmitTab } from "../../features/submit/components/SubmitPanel";
import { TrainingForm } from "../../features/training/components/TrainingForm";
import type { JobAccepted } from "../../lib/api-client";
import { lockKey } from "../../lib/api/get-lock";

const TRAINING: SubmitTab = {
  id: "training",
  label: "Train AI",
  covers: ["training"],
  form: (onDone) => <TrainingForm onDone={onDone} />,
};

/** Submit work and follow it: the forms and my jobs on one side, the open job on the other. */
export function WorkPage({ openJob, onOpen, onClose }: { openJob: string | null; onOpen: (id: string) => void; onClose: () => void }) {
  const client = useQueryClient();
  const submitted = (accepted: JobAccepted) => {
    if (accepted.lock) client.setQueryData(lockKey(), accepted.lock); // the answer says who holds the GPU now
    void client.invalidateQueries({ queryKey: jobsKeys.all });
    onOpen(accepted.job_id);
  };
  return (
    <div className="columns">
      <div className="stack">
        <SubmitPanel onSubmitted={submitted} moreForms={[TRAINING]} />
        <JobsTable onOpen={onOpen} selected={openJob} />
      </div>
      <div className="stack">
        {openJob ? (
          <JobView key={openJob} jobId={openJob} onClose={onClose} />
        ) : (
          <section className="card empty">Submit a job or open one from the list to follow it here.</section>
        )}
      </div>
    </div>
  );
}
