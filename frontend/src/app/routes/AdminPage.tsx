import { useQueryClient } from "@tanstack/react-query";
import { GpuSlots } from "../../features/admin/components/GpuSlots";
import { GpuHistory, LeaseHistory } from "../../features/admin/components/History";
import { Leases } from "../../features/admin/components/Leases";
import { Models } from "../../features/admin/components/Models";
import { Users } from "../../features/admin/components/Users";
import { jobsKeys } from "../../features/jobs/api/get-jobs";
import { JobsTable } from "../../features/jobs/components/JobsTable";
import { Stats } from "../../features/stats/components/Stats";

/** Admins: the GPU slots first (a stuck holder is the urgent case), then everyone's jobs and figures,
 *  other leases, the histories, users and keys, models. */
export function AdminPage({ onOpen }: { onOpen: (id: string) => void }) {
  const client = useQueryClient();
  return (
    <div className="stack">
      <GpuSlots />
      <JobsTable all onOpen={onOpen} />
      <Stats all />
      <Leases />
      <GpuHistory />
      <LeaseHistory />
      <Users />
      <Models onQueued={() => void client.invalidateQueries({ queryKey: jobsKeys.all })} />
    </div>
  );
}
