import { render } from "preact";
import { useEffect, useState } from "preact/hooks";
import type { ProjectView } from "../../local/src/dashboard/view.js";
import { loadProject } from "./api.js";
import { DeadLettersView } from "./dead-letters.js";
import { JobsView } from "./jobs.js";
import { MessageView } from "./message.js";
import { MessagesView } from "./messages.js";
import { SchedulesView } from "./schedules.js";
import { ConfirmHost, usePoll } from "./ui.js";

// Hash routes (#/jobs, #/messages?job=..., #/messages/<id>, #/dlq, #/schedules): the page's address may begin
// with a secret, and the server serves one document.
function useRoute() {
  const read = () => {
    const [path = "", search = ""] = location.hash.replace(/^#/, "").split("?");
    return { segments: path.split("/").filter(Boolean).map(decodeURIComponent), query: new URLSearchParams(search) };
  };
  const [route, setRoute] = useState(read);
  useEffect(() => {
    const changed = () => setRoute(read());
    addEventListener("hashchange", changed);
    return () => removeEventListener("hashchange", changed);
  }, []);
  return route;
}

const TABS = [
  { id: "jobs", name: "Jobs" },
  { id: "messages", name: "Messages" },
  { id: "dlq", name: "Dead letters" },
  { id: "schedules", name: "Schedules" },
] as const;

function View({ project, segments, query }: { project: ProjectView; segments: string[]; query: URLSearchParams }) {
  const [tab = "jobs", id] = segments;
  if (tab === "messages" && id) return <MessageView key={id} project={project} messageId={id} />;
  if (tab === "messages") return <MessagesView project={project} query={query} />;
  if (tab === "dlq") return <DeadLettersView project={project} query={query} />;
  if (tab === "schedules") return <SchedulesView project={project} />;
  return <JobsView project={project} />;
}

function App() {
  const { segments, query } = useRoute();
  // The job list changes as job files do (qjobs dev --watch): read again now and then.
  const project = usePoll(loadProject, [], 5000);
  const current = segments[0] ?? "jobs";
  useEffect(() => {
    if (project.data) document.title = project.data.title;
  }, [project.data]);
  return (
    <>
      <header class="top">
        <a class="brand" href="#/jobs">
          qjobs
        </a>
        <nav aria-label="Views">
          {TABS.map((tab) => (
            <a key={tab.id} href={`#/${tab.id}`} aria-current={current === tab.id ? "page" : undefined}>
              {tab.name}
            </a>
          ))}
        </nav>
        <span class="muted upstream">{project.data?.qstash}</span>
      </header>
      <main>
        {project.error && !project.data && <p class="error">Could not read the project: {project.error}</p>}
        {project.data && <View project={project.data} segments={segments} query={query} />}
      </main>
      <ConfirmHost />
    </>
  );
}

const root = document.getElementById("app") as HTMLElement;
root.textContent = "";
render(<App />, root);
