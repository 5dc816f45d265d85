import { useState } from "preact/hooks";
import type { ProjectJob, ProjectView } from "../../local/src/dashboard/view.js";
import { type FlowControlInfo, qstash } from "./api.js";
import { DispatchForm } from "./dispatch.js";
import { FlowKeys } from "./flow.js";
import { declaredFlowKey, flowKeysByJob } from "./flow-keys.js";
import { type Bucket, type Counts, countsByJob, elsewhereUrls, outcomesOverTime } from "./history.js";
import { JobRuns } from "./runs.js";
import { OutcomeChart, Section, Time, usePoll } from "./ui.js";

// The recent history the counts and charts cover: the newest page of the logs.
const WINDOW = 1000;
const BUCKETS = 30;
// The chart spans at least this much, ending now, so a burst shows as a burst.
const MIN_SPAN_MS = 30 * 60_000;

const optionText = (value: unknown) => (typeof value === "string" ? value : JSON.stringify(value));

function JobCard({
  job,
  counts,
  buckets,
  loading,
  flowKeys,
}: {
  job: ProjectJob;
  counts?: Counts;
  buckets?: Bucket[];
  /** The logs are not read yet: no count is known, not even zero. */
  loading: boolean;
  /** The job's flow-control keys, undefined until read. */
  flowKeys?: { keys: FlowControlInfo[]; total: number };
}) {
  const [running, setRunning] = useState(false);
  const options = Object.entries(job.options);
  const flowTemplate = declaredFlowKey(job);
  return (
    <article class="card" aria-labelledby={`job-${job.key}`}>
      <header class="card-head">
        <h3 id={`job-${job.key}`}>{job.key}</h3>
        <span class="muted file">
          {job.file}:{job.line}
        </span>
      </header>
      <dl class="facts">
        <dt>Options</dt>
        <dd>
          {options.length === 0 && !job.failureHook ? (
            <span class="muted">QStash's defaults</span>
          ) : (
            <>
              {options.map(([name, value]) => (
                <code key={name} class="chip">
                  {name}: {optionText(value)}
                </code>
              ))}
              {job.failureHook && <code class="chip">onFailure</code>}
            </>
          )}
        </dd>
        {job.schedules.length > 0 && (
          <>
            <dt>Schedules</dt>
            <dd>
              <ul class="plain">
                {job.schedules.map((schedule) => (
                  <li key={schedule.label}>
                    <code>{schedule.cron}</code> {schedule.timezone ?? "UTC"}{" "}
                    <span class="muted">({schedule.label})</span>
                    {schedule.nextRuns[0] !== undefined && (
                      <>
                        {" "}
                        next <Time at={schedule.nextRuns[0]} />
                      </>
                    )}
                  </li>
                ))}
              </ul>
            </dd>
          </>
        )}
        {flowTemplate !== undefined && (
          <>
            <dt>Flow keys</dt>
            <dd>
              <FlowKeys template={flowTemplate} keys={flowKeys?.keys} total={flowKeys?.total ?? 0} />
            </dd>
          </>
        )}
        <dt>Recent</dt>
        <dd class="counts">
          {loading ? (
            <span class="muted">reading the logs…</span>
          ) : (
            (["delivered", "retrying", "failed"] as const).map((outcome) => (
              <a
                key={outcome}
                href={`#/messages?job=${encodeURIComponent(job.key)}&state=${outcome}`}
                class={`count state-${outcome}`}
              >
                {counts?.[outcome] ?? 0} {outcome}
              </a>
            ))
          )}
        </dd>
        <dt>Over time</dt>
        <dd>
          {loading ? null : buckets ? (
            <OutcomeChart buckets={buckets} label={`${job.key}, deliveries over time`} />
          ) : (
            <span class="muted">no deliveries in this window</span>
          )}
        </dd>
        <dt>Runs</dt>
        <dd>
          <JobRuns jobKey={job.key} />
        </dd>
      </dl>
      <div class="actions">
        <button type="button" aria-expanded={running} onClick={() => setRunning(!running)}>
          Run
        </button>
        <a class="button" href={`#/messages?job=${encodeURIComponent(job.key)}`} aria-label={`Messages of ${job.key}`}>
          Messages
        </a>
      </div>
      {running && <DispatchForm job={job} />}
    </article>
  );
}

export function JobsView({ project }: { project: ProjectView }) {
  const history = usePoll(() => qstash.events({ count: WINDOW }), [], 2000);
  const entries = history.data?.events ?? [];
  const now = Date.now();
  const oldest = entries[entries.length - 1]?.time ?? now;
  const from = Math.min(oldest, now - MIN_SPAN_MS);
  const counts = countsByJob(entries, project);
  const charts = outcomesOverTime(entries, project, { from, to: now, buckets: BUCKETS });
  const elsewhere = elsewhereUrls(entries, project);
  // One GET /v2/flowControl a poll for the whole page, only when a job declares a key.
  const limited = project.jobs.some((job) => declaredFlowKey(job) !== undefined);
  const flow = usePoll(
    () => (limited ? qstash.flowKeys() : Promise.resolve([])),
    [limited],
    limited ? 2000 : undefined,
  );
  const flowKeys = flow.data ? flowKeysByJob(project.jobs, flow.data) : undefined;
  return (
    <Section title="Jobs">
      {project.problems.map((problem) => (
        <p key={problem} class="warning">
          {problem}
        </p>
      ))}
      {history.error && <p class="error">Could not read the logs: {history.error}</p>}
      {flow.error && <p class="error">Could not read flow control: {flow.error}</p>}
      {elsewhere.length > 0 && (
        <p class="warning" data-testid="elsewhere">
          Messages of these jobs went to {elsewhere.join(", ")}, not to the jobs URL qjobs dev uses ({project.jobsUrl}):
          they are counted here, but your app and qjobs dev should agree on QJOBS_URL.
        </p>
      )}
      <p class="muted">
        {project.jobs.length} {project.jobs.length === 1 ? "job" : "jobs"}; counts cover the last{" "}
        {entries.length.toLocaleString()} log entries
        {entries.length > 0 && (
          <>
            {" "}
            (since <Time at={oldest} />)
          </>
        )}
        ; charts show deliveries, retries and failures since <Time at={from} />.
      </p>
      <div class="cards">
        {project.jobs.map((job) => (
          <JobCard
            key={job.key}
            job={job}
            counts={counts.get(job.key)}
            buckets={charts.get(job.key)}
            loading={!history.data}
            flowKeys={flowKeys?.get(job.key)}
          />
        ))}
      </div>
    </Section>
  );
}
