import { Stats } from "../../features/stats/components/Stats";

export function StatsPage() {
  return <Stats />;
}
