import { useState } from "preact/hooks";
import type { ProjectJob, ProjectSchedule, ProjectView } from "../../local/src/dashboard/view.js";
import { qstash, type RegisteredSchedule } from "./api.js";
import { headerValue, jobOf } from "./history.js";
import { ColumnHeads, Notice, Section, Time, usePoll } from "./ui.js";

interface Row {
  scheduleId: string;
  job?: string;
  label: string;
  declared?: ProjectSchedule;
  registered?: RegisteredSchedule;
  owner?: ProjectJob;
}

/** Every declared schedule beside what QStash holds under its id, then what QStash holds that no job declares. */
function rows(project: ProjectView, registered: readonly RegisteredSchedule[]): Row[] {
  const byId = new Map(registered.map((schedule) => [schedule.scheduleId, schedule]));
  const declared: Row[] = project.jobs.flatMap((job) =>
    job.schedules.map((schedule) => ({
      scheduleId: schedule.scheduleId ?? `${job.key} ${schedule.label}`,
      job: job.key,
      label: schedule.label,
      declared: schedule,
      owner: job,
      ...(schedule.scheduleId && byId.has(schedule.scheduleId) ? { registered: byId.get(schedule.scheduleId) } : {}),
    })),
  );
  const known = new Set(declared.map((row) => row.scheduleId));
  const others = registered
    .filter((schedule) => !known.has(schedule.scheduleId))
    .map((schedule) => {
      const owner = jobOf(schedule.destination, project);
      const key = owner && !owner.apart ? owner.key : undefined; // another app's schedule is not this job's
      return { scheduleId: schedule.scheduleId, job: key, label: schedule.scheduleId, registered: schedule };
    });
  return [...declared, ...others];
}

/**
 * The Upstash-* headers that publish a registered schedule's message as QStash would on a tick (QStash has no
 * "run now" endpoint, so "Trigger now" publishes its destination, body and options once).
 */
function triggerHeaders(schedule: RegisteredSchedule): Record<string, string> {
  const headers: Record<string, string> = {};
  for (const [name, value] of Object.entries(schedule.header ?? {})) {
    const text = headerValue(value) ?? "";
    if (name.toLowerCase() === "content-type") headers["content-type"] = text;
    else headers[`upstash-forward-${name.toLowerCase()}`] = text;
  }
  if (schedule.retries !== undefined) headers["upstash-retries"] = String(schedule.retries);
  if (schedule.callback) headers["upstash-callback"] = schedule.callback;
  if (schedule.failureCallback) headers["upstash-failure-callback"] = schedule.failureCallback;
  if (schedule.retryDelayExpression) headers["upstash-retry-delay"] = schedule.retryDelayExpression;
  if (schedule.labels?.length) headers["upstash-label"] = schedule.labels.join(",");
  if (schedule.flowControlKey) {
    headers["upstash-flow-control-key"] = schedule.flowControlKey;
    headers["upstash-flow-control-value"] = [
      schedule.parallelism !== undefined ? `parallelism=${schedule.parallelism}` : "",
      schedule.rate !== undefined ? `rate=${schedule.rate}` : "",
      schedule.period !== undefined ? `period=${schedule.period}s` : "",
    ]
      .filter(Boolean)
      .join(",");
  }
  return headers;
}

export function SchedulesView({ project }: { project: ProjectView }) {
  const registered = usePoll(() => qstash.schedules(), [], 3000);
  const [notice, setNotice] = useState<{ text: string; error?: boolean }>();
  const all = rows(project, registered.data ?? []);

  const act = async (what: string, action: () => Promise<unknown>) => {
    try {
      const result = await action();
      const messageId = (result as { messageId?: string } | undefined)?.messageId;
      setNotice({ text: messageId ? `${what}: message ${messageId}` : what });
      registered.reload();
    } catch (error) {
      setNotice({ text: `${what} failed: ${(error as Error).message}`, error: true });
    }
  };
  const trigger = (row: Row) => {
    if (row.registered) {
      const schedule = row.registered;
      return qstash.publish(schedule.destination, schedule.body ?? "", triggerHeaders(schedule));
    }
    const publish = row.owner?.publish;
    if (!publish) throw new Error("the app's jobs URL is unknown");
    const payload = row.declared?.payload;
    return qstash.publish(publish.destination, payload === undefined ? "" : JSON.stringify(payload), {
      ...publish.headers,
    });
  };

  return (
    <Section title="Schedules">
      {registered.error && <p class="error">Could not read QStash's schedules: {registered.error}</p>}
      <Notice notice={notice} />
      <table class="list">
        <ColumnHeads columns={["Job", "Schedule", "Cron", "In QStash", "Next runs", "Actions"]} hidden={["Actions"]} />
        <tbody>
          {all.map((row) => {
            const paused = row.registered?.isPaused === true;
            const next = row.registered?.nextScheduleTime ?? row.declared?.nextRuns[0];
            const name = `${row.job ?? "schedule"} ${row.label}`;
            return (
              <tr key={row.scheduleId} aria-label={name}>
                <td>{row.job ?? <span class="muted">not a job of this app</span>}</td>
                <td>
                  {row.label}
                  {!row.declared && <span class="badge">not declared</span>}
                </td>
                <td>
                  <code>{row.registered?.cron ?? row.declared?.cron}</code>
                  {row.declared?.timezone && <span class="muted"> {row.declared.timezone}</span>}
                </td>
                <td>
                  {row.registered ? (
                    <span class={`badge ${paused ? "state-retrying" : "state-delivered"}`}>
                      {paused ? "paused" : "active"}
                    </span>
                  ) : registered.data ? (
                    <span class="badge state-failed">not registered</span>
                  ) : (
                    <span class="muted">checking…</span>
                  )}
                </td>
                <td>
                  {next !== undefined && !paused && <Time at={next} />}
                  {!paused && (row.declared?.nextRuns.length ?? 0) > 1 && (
                    <span class="muted">
                      {" "}
                      then{" "}
                      {row.declared?.nextRuns.slice(1).map((at, index) => (
                        <span key={at}>
                          {index > 0 && ", "}
                          <Time at={at} />
                        </span>
                      ))}
                    </span>
                  )}
                </td>
                <td class="row-actions">
                  {row.registered &&
                    (paused ? (
                      <button type="button" onClick={() => act(`Resumed ${name}`, () => qstash.resume(row.scheduleId))}>
                        Resume
                      </button>
                    ) : (
                      <button type="button" onClick={() => act(`Paused ${name}`, () => qstash.pause(row.scheduleId))}>
                        Pause
                      </button>
                    ))}
                  <button type="button" onClick={() => act(`Triggered ${name}`, () => trigger(row))}>
                    Trigger now
                  </button>
                </td>
              </tr>
            );
          })}
        </tbody>
      </table>
      {all.length === 0 && <p class="muted">No job declares a schedule, and QStash holds none.</p>}
    </Section>
  );
}
