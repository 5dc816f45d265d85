import { bypassWithheld, DEV_CREDENTIALS, escapeControls, isRunEnded, type Run, type RunPage } from "@qjobs/runtime";
import { nextRuns, parseCron } from "#local/project";
import type { DashboardHandle } from "./commands/dashboard.js";
import type { DevHandle } from "./commands/dev.js";
import type { Change, InitResult } from "./commands/init.js";
import type { ListResult } from "./commands/list.js";
import type { RunJobResult } from "./commands/runs.js";
import type { SchedulesSyncResult } from "./commands/schedules.js";
import type { WatchEvent } from "./commands/watch.js";
import type { GenerateResult } from "./core/sync.js";
import type { PlanStep } from "./schedules/plan.js";
import {
  type Colors,
  formatDiagnostic,
  formatDuration,
  type Output,
  plural,
  reportDiagnostics,
  formatClock as time,
} from "./terminal.js";

// What each command prints: the CLI declares commands, these functions say what happened.

/** `generate`'s one line (or its diagnostics, or the stale files with --check); returns the exit code. */
export function reportGenerate(output: Output, result: GenerateResult, check: boolean): number {
  const { color } = output;
  if (result.diagnostics.length > 0) {
    reportDiagnostics(output, result.diagnostics, check ? "fix them, then run qjobs generate" : "nothing was written");
    return 1;
  }
  for (const warning of result.warnings) {
    output.err(`${formatDiagnostic(warning, output.errColor)} ${output.errColor.yellow("(warning)")}`);
  }
  if (result.files.length === 0) return 0; // nothing to write or check: the warning above says why
  const took = color.dim(`in ${formatDuration(result.durationMs)}`);
  const jobs = plural(result.model.jobs.length, "job");
  if (check) {
    const outdated = result.files.filter((file) => file.status !== "unchanged");
    if (outdated.length === 0) {
      output.out(`${color.green("✓")} qjobs: ${jobs}, generated files are up to date ${took}`);
      return 0;
    }
    for (const file of outdated) output.err(`${output.errColor.red("✗")} ${file.path} is ${file.status}`);
    output.err(`Run ${output.errColor.bold("qjobs generate")} and commit the result.`);
    return 1;
  }
  const files = result.files.map(
    (file) => `${file.path} ${file.status === "written" ? color.green("written") : color.dim("unchanged")}`,
  );
  output.out(
    `${color.green("✓")} qjobs: ${jobs} from ${plural(result.jobFiles, "file")} → ${files.join(", ")} ${took}`,
  );
  return 0;
}

/** When a schedule runs next, in UTC: `2026-11-30 08:00`. */
const runTime = (ms: number) => `${new Date(ms).toISOString().slice(0, 16).replace("T", " ")} UTC`;

/** `list`: an aligned table (each job's schedules and their next three runs under it), or JSON; returns the exit code. */
export function reportList(output: Output, result: ListResult, json: boolean, now = Date.now()): number {
  if (result.diagnostics.length > 0) {
    reportDiagnostics(output, result.diagnostics, "the list would be incomplete");
    return 1;
  }
  if (json) {
    const rows = result.jobs.map((job) => ({
      key: job.key,
      file: job.file,
      export: job.exportName,
      schedules: job.schedules.map((schedule) => ({
        ...(schedule.name !== undefined ? { name: schedule.name } : {}),
        cron: schedule.cron,
        timezone: schedule.timezone,
        payload: schedule.payload ?? null,
      })),
      // The declared QStash options as written: templates verbatim (issue 22).
      options: job.options,
      debounce: job.debounce ?? null,
    }));
    output.out(JSON.stringify(rows, null, 2));
    return 0;
  }
  if (result.jobs.length === 0) {
    output.out("No jobs found.");
    return 0;
  }
  const { color } = output;
  const keyWidth = Math.max(3, ...result.jobs.map((job) => job.key.length));
  const fileWidth = Math.max(4, ...result.jobs.map((job) => job.file.length));
  output.out(color.bold(`${"KEY".padEnd(keyWidth)}  ${"FILE".padEnd(fileWidth)}  EXPORT`));
  for (const job of result.jobs) {
    output.out(`${job.key.padEnd(keyWidth)}  ${color.dim(job.file.padEnd(fileWidth))}  ${job.exportName}`);
    for (const schedule of job.schedules) {
      const cron = parseCron(schedule.timezone ? `CRON_TZ=${schedule.timezone} ${schedule.cron}` : schedule.cron);
      const label = [
        schedule.name ? `${schedule.name}:` : "",
        schedule.cron,
        color.dim(schedule.timezone ?? "UTC"),
        schedule.payload !== undefined ? color.dim(JSON.stringify(schedule.payload)) : "",
      ].filter(Boolean);
      output.out(
        `  ${color.cyan("⏱")} ${label.join(" ")}  ${color.dim("next:")} ${nextRuns(cron, 3, now).map(runTime).join(", ")}`,
      );
    }
  }
  return 0;
}

function changeLine(color: Colors, change: Change): string {
  const symbol =
    change.action === "create" ? color.green("+") : change.action === "update" ? color.yellow("~") : color.dim("=");
  return `  ${symbol} ${change.path} ${color.dim(`(${change.detail})`)}`;
}

/** Shows init's plan and asks, on a terminal, whether to apply it. */
export async function confirmInit(output: Output, plan: readonly Change[]): Promise<boolean> {
  output.out("qjobs init will make these changes:");
  for (const change of plan) output.out(changeLine(output.color, change));
  const { createInterface } = await import("node:readline/promises");
  const prompt = createInterface({ input: process.stdin, output: process.stdout });
  const answer = (await prompt.question("\nApply them? (Y/n) ")).trim().toLowerCase();
  prompt.close();
  return answer === "" || answer === "y" || answer === "yes";
}

/** What init did, then numbered next steps. */
export function reportInit(output: Output, result: InitResult): void {
  const { color } = output;
  if (!result.applied) {
    output.out("Nothing was changed.");
    return;
  }
  const framework = {
    "next-app": "Next.js (App Router)",
    "next-pages": "Next.js (Pages Router)",
    none: "no framework",
  }[result.framework];
  output.out(`${color.green("✓")} qjobs init: ${framework}, ${result.packageManager}`);
  for (const change of result.changes) output.out(changeLine(color, change));
  output.out("\nNext steps:");
  const width = Math.max(...result.nextSteps.map((step) => step.command?.length ?? 0));
  result.nextSteps.forEach((step, index) => {
    output.out(
      `  ${index + 1}. ${step.command ? `${color.bold(step.command.padEnd(width))}   ${color.dim(step.why)}` : step.why}`,
    );
    for (const code of step.code ?? []) output.out(`       ${color.cyan(code)}`);
  });
}

/** One line per regeneration: what changed, which keys came and went, what was written, how long it took. */
export function reportWatchEvent(output: Output, event: WatchEvent): void {
  const { color, errColor } = output;
  if (event.type === "config-error") {
    output.err(`${errColor.dim(time())} ${errColor.red("✗")} ${event.message}; keeping the last good config`);
    return;
  }
  if (event.type === "waiting") {
    output.out(
      `${color.dim(time())} no job files match ${event.globs.join(", ")} yet (and no qjobs.config.json): waiting for the first one`,
    );
    return;
  }
  if (event.type === "failed") {
    output.err(
      `${errColor.dim(time())} ${errColor.red("✗")} could not regenerate: ${event.message}; the next change tries again`,
    );
    return;
  }
  const cause =
    event.changed.length === 0
      ? "started"
      : event.changed.length <= 2
        ? event.changed.join(", ")
        : `${plural(event.changed.length, "file")} changed`;
  if (event.type === "errors") {
    for (const diagnostic of event.diagnostics) output.err(formatDiagnostic(diagnostic, errColor));
    output.err(
      `${errColor.dim(time())} ${errColor.red("✗")} ${cause}: ${plural(event.diagnostics.length, "error")}; the last good registry stays until they are fixed`,
    );
    return;
  }
  const keys = [
    ...event.added.map((key) => color.green(`+${key}`)),
    ...event.removed.map((key) => color.red(`-${key}`)),
  ];
  const written = event.files.filter((file) => file.status === "written").map((file) => file.path);
  const result = written.length > 0 ? `${written.join(", ")} written` : "registry unchanged";
  output.out(
    `${color.dim(time())} ${color.green("✓")} ${cause}${keys.length ? ` ${keys.join(" ")}` : ""} → ${plural(event.jobs, "job")}, ${result} ${color.dim(`(${formatDuration(event.durationMs)})`)}`,
  );
}

/** Upstash's public development credentials are shown; one of the user's own never is (issue 20, item 14). */
const PUBLIC_CREDENTIALS: ReadonlySet<string> = new Set(Object.values(DEV_CREDENTIALS));
const shown = (name: string, value: string) =>
  name.endsWith("_URL") || PUBLIC_CREDENTIALS.has(value) ? value : "<yours, hidden>";

/** `dev`'s banner: where it runs and the variables an app needs. */
export function reportDevStarted(output: Output, handle: DevHandle, retryScale: number): void {
  const { color } = output;
  output.out(`${color.green("✓")} qjobs dev: QStash-compatible server running at ${color.bold(handle.server.url)}`);
  output.out(`  Dashboard: ${color.bold(color.cyan(handle.dashboardUrl))}\n`);
  for (const [name, value] of Object.entries(handle.env)) output.out(`  ${name}=${shown(name, value)}`);
  if (handle.jobsUrl) output.out(`  QJOBS_URL=${handle.jobsUrl}  ${color.dim(`(${handle.jobsUrlSource})`)}`);
  else
    output.out(color.yellow("  QJOBS_URL is not set: set it to your jobs route, e.g. http://localhost:3000/api/jobs"));
  if (handle.watcher) output.out(color.dim(`Watching ${handle.watcher.config.jobs.join(", ")} too.`));
  const { schedules } = handle;
  if (schedules.state === "registered" && schedules.count > 0) {
    output.out(
      `Schedules: ${plural(schedules.count, "declared schedule")} registered for ${color.bold(schedules.jobsUrl)}`,
    );
  } else if (schedules.state === "no-app-url" && schedules.declared > 0) {
    output.out(
      color.yellow(
        `${plural(schedules.declared, "declared schedule")} not registered: set QJOBS_URL (in .env.local) or pass --jobs-url`,
      ),
    );
  }
  const state = handle.state;
  if (state) {
    const { notice } = state;
    if (notice.tightened)
      output.out(color.yellow(`State in ${state.dir} was readable by others: now private (0700, files 0600).`));
    if (notice.cut)
      output.out(color.yellow(`The journal ended in a line cut by a crash: cut back to its last complete line.`));
    // The reason may quote the file's own keys: a committed journal must not reach the terminal raw.
    for (const { line, reason } of notice.skipped)
      output.out(color.yellow(`Journal line ${line} is not a record (${escapeControls(reason)}): skipped.`));
    if (notice.keptAside) output.out(color.yellow(`The journal as found is kept in ${notice.keptAside}`));
  }
  output.out(
    `\nRetries back off ${color.bold(`x${retryScale}`)} QStash's delays. Deliveries appear below; Ctrl-C stops.\n`,
  );
}

export function reportDashboardStarted(output: Output, handle: DashboardHandle): void {
  const { color } = output;
  output.out(`${color.green("✓")} qjobs dashboard for ${color.bold(handle.qstash)}`);
  output.out(`  Open ${color.bold(color.cyan(handle.url))}`);
  output.out(color.dim("  (the address holds a secret made for this launch; the page never sees your token)"));
  output.out(color.dim(`  Read: ${handle.sources.join("; ")}`));
  if (!handle.jobsUrl)
    output.out(color.yellow("  QJOBS_URL is not set: messages are not tied to jobs and nothing can be dispatched"));
  output.out(color.dim("Ctrl-C stops."));
}

/** A plan step as data, for --json. */
function stepJson(step: PlanStep) {
  if (step.action === "delete")
    return { action: step.action, scheduleId: step.existing.scheduleId, cron: step.existing.cron };
  const { scheduleId, key, label, cron, destination } = step.wanted;
  return {
    action: step.action,
    scheduleId,
    key,
    schedule: label,
    cron,
    destination,
    ...(step.action === "update" ? { changes: step.changes } : {}),
  };
}

/** `schedules sync`: the plan (or it as JSON), what was applied, and what failed; returns the exit code. */
export function reportSchedulesSync(output: Output, result: SchedulesSyncResult, json: boolean): number {
  if (result.diagnostics.length > 0) {
    reportDiagnostics(output, result.diagnostics, "nothing was synced");
    return 1;
  }
  const appliedIds = new Set(result.applied.map((step) => stepJson(step).scheduleId));
  if (json) {
    output.out(
      JSON.stringify(
        {
          jobsUrl: result.jobsUrl,
          sources: result.sources,
          dryRun: result.dryRun,
          steps: result.steps.map((step) => ({
            ...stepJson(step),
            applied: appliedIds.has(stepJson(step).scheduleId),
          })),
          ...(result.failure ? { error: result.failure.message } : {}),
          ...(result.conflicts.length > 0 ? { error: "schedule ids held by schedules this app does not own" } : {}),
          ...(result.withheldBypass.length > 0 ? { withheldBypass: result.withheldBypass } : {}),
        },
        null,
        2,
      ),
    );
    return result.failure || result.conflicts.length > 0 ? 1 : 0;
  }
  const { color } = output;
  // Ids, crons and destinations come from QStash's answer: printed with their control characters escaped.
  const shown = escapeControls;
  output.out(`Schedules for ${color.bold(result.jobsUrl)} ${color.dim(`(${result.sources.join("; ")})`)}:`);
  if (result.steps.length === 0) output.out(color.dim("  none declared, none at QStash"));
  for (const step of result.steps) {
    if (step.action === "delete") {
      output.out(
        `  ${color.red("-")} delete ${shown(step.existing.scheduleId)} ${color.dim(`(${shown(step.existing.cron)}; declared no more)`)}`,
      );
      continue;
    }
    const what = `${step.wanted.key} ${color.dim(step.wanted.label)}  ${step.wanted.cron}`;
    if (step.action === "create") output.out(`  ${color.green("+")} create ${what}`);
    else if (step.action === "update")
      output.out(`  ${color.yellow("~")} update ${what} ${color.dim(`(${shown(step.changes.join("; "))})`)}`);
    else if (step.action === "conflict")
      output.out(
        `  ${color.red("!")} conflict ${what} ${color.dim(`(id ${step.wanted.scheduleId} is held by a schedule this app does not own, to ${shown(step.existing.destination)})`)}`,
      );
    else output.out(`  ${color.dim("=")} ${color.dim(`unchanged ${step.wanted.key} ${step.wanted.label}`)}`);
  }
  for (const { key, callback } of result.withheldBypass)
    output.err(`${output.errColor.yellow("!")} ${bypassWithheld(key, callback)}`);
  if (result.conflicts.length > 0) {
    output.err(
      `\n${output.errColor.red("✗")} ${plural(result.conflicts.length, "schedule id")} of this app ${result.conflicts.length === 1 ? "is" : "are"} held by schedules it does not own; nothing was changed. Delete or rename them at QStash, or rename the job's schedule.`,
    );
    return 1;
  }
  const count = (action: PlanStep["action"], steps: readonly PlanStep[]) =>
    steps.filter((step) => step.action === action).length;
  const tally = (steps: readonly PlanStep[]) =>
    `${count("create", steps)} created, ${count("update", steps)} updated, ${count("delete", steps)} deleted`;
  if (result.dryRun) {
    output.out(`\nDry run: nothing was changed (${tally(result.steps).replace(/d\b/g, "")} planned).`);
    return 0;
  }
  if (result.failure) {
    output.err(`\n${output.errColor.red("✗")} QStash refused a step: ${result.failure.message}`);
    output.err(`Done before it: ${tally(result.applied)}; the rest was not applied. Run qjobs schedules sync again.`);
    return 1;
  }
  output.out(`\n${color.green("✓")} ${tally(result.applied)}, ${count("unchanged", result.steps)} unchanged.`);
  return 0;
}

/** One run as one line: id, key, status and attempt, then its error or progress (untrusted text escaped). */
function runLine(color: Colors, run: Run): string {
  const paint =
    run.status === "succeeded"
      ? color.green
      : run.status === "failed" || run.status === "cancelled"
        ? color.red
        : color.yellow;
  const attempt = run.attempt > 0 ? color.dim(` attempt ${run.attempt}`) : "";
  const detail = run.error
    ? `: ${escapeControls(run.error.name ? `${run.error.name}: ${run.error.message}` : run.error.message)}`
    : run.progress !== undefined && !isRunEnded(run)
      ? color.dim(` progress ${escapeControls(JSON.stringify(run.progress))}`)
      : "";
  return `${escapeControls(run.id)}  ${escapeControls(run.key)}  ${paint(run.status)}${attempt}${detail}`;
}

/** What a run ended as, as `qjobs run --wait`'s exit code: 0 succeeded, 1 failed or cancelled, 2 timed out. */
function runExitCode(result: RunJobResult): number {
  if (!result.run || result.timedOut) return 2;
  return result.run.status === "succeeded" ? 0 : 1;
}

/** `qjobs run`'s progress while it waits, on stderr (stdout stays for the answer). */
export function reportRunUpdate(output: Output, run: Run): void {
  output.err(`  ${runLine(output.errColor, run)}`);
}

/** `qjobs run`: the run's id, and with --wait how it ended (its result); returns the exit code. */
export function reportRun(output: Output, result: RunJobResult, options: { json: boolean; wait: boolean }): number {
  if (options.json) {
    output.out(
      JSON.stringify(options.wait ? (result.run ?? { ...result.handle, status: "unknown" }) : result.handle, null, 2),
    );
    return options.wait ? runExitCode(result) : 0;
  }
  const { color } = output;
  const deduplicated = result.handle.deduplicated ? color.dim(" (deduplicated: the earlier message's run)") : "";
  output.out(
    `${color.green("✓")} dispatched ${escapeControls(result.handle.key)}: run ${escapeControls(result.handle.id)}${deduplicated}`,
  );
  if (!options.wait) return 0;
  if (!result.run) {
    output.err(
      `${output.errColor.yellow("!")} no run was found before the timeout (no store, and QStash has no log of it yet)`,
    );
    return 2;
  }
  output.out(runLine(color, result.run));
  if (result.timedOut) output.err(`${output.errColor.yellow("!")} timed out: the run had not ended`);
  else if (result.run.status === "succeeded" && "result" in result.run)
    output.out(escapeControls(JSON.stringify(result.run.result, null, 2)));
  else if (result.run.resultError) output.out(color.dim(escapeControls(result.run.resultError)));
  return runExitCode(result);
}

/** `qjobs runs get`: the run as JSON or in words; exit 1 when there is none. */
export function reportRunsGet(output: Output, id: string, run: Run | undefined, json: boolean): number {
  if (!run) {
    output.err(
      `${output.errColor.red("✗")} no run ${escapeControls(JSON.stringify(id))} (expired, never recorded, or not this app's)`,
    );
    return 1;
  }
  if (json) {
    output.out(JSON.stringify(run, null, 2));
    return 0;
  }
  output.out(runLine(output.color, run));
  const times = [
    `created ${run.createdAt}`,
    run.startedAt && `started ${run.startedAt}`,
    run.finishedAt && `finished ${run.finishedAt}`,
  ];
  output.out(
    output.color.dim(
      `  ${times.filter(Boolean).join(", ")}; from the ${run.source === "store" ? "run store" : "QStash logs"}`,
    ),
  );
  if ("result" in run) output.out(escapeControls(JSON.stringify(run.result, null, 2)));
  return 0;
}

/** `qjobs runs list`: one line a run, newest first. */
export function reportRunsList(output: Output, page: RunPage, json: boolean): number {
  if (json) {
    output.out(JSON.stringify(page, null, 2));
    return 0;
  }
  if (page.runs.length === 0) output.out(output.color.dim("no runs"));
  for (const run of page.runs) output.out(`${output.color.dim(run.createdAt)}  ${runLine(output.color, run)}`);
  if (page.nextCursor) output.out(output.color.dim("(more: use --json for the cursor)"));
  return 0;
}
