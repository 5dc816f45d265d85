import { JobsPanel } from "./jobs-panel";

export default function Page() {
  return <JobsPanel />;
}
