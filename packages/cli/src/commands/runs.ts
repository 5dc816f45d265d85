import { readFile } from "node:fs/promises";
import { resolve } from "node:path";
import {
  ConfigurationError,
  createDispatch,
  createRuns,
  type Debounce,
  type DispatchOptions,
  InvalidPayloadError,
  isRunEnded,
  RUN_STATUSES,
  RUN_STORE_VARIABLES,
  type Run,
  type RunHandle,
  type RunPage,
  type RunStatus,
} from "@qjobs/runtime";
import { loadConfig, routeUrlPath } from "../core/config.js";
import { scanProject } from "../core/scan.js";
import { readProjectEnv } from "../env-files.js";
import { UserError } from "../errors.js";

/** What the run commands read, from the environment or the project's development env files (as `qjobs dev`). */
const RUN_VARIABLES = ["QSTASH_TOKEN", "QSTASH_URL", "QJOBS_URL", "QJOBS_RUN_RETENTION", ...RUN_STORE_VARIABLES];

/**
 * Fills the variables the runtime reads (it reads `process.env` at each call) from the project's env files when
 * the environment does not set them. The CLI is a process of its own, so this changes nothing for anyone else.
 */
function useProjectEnv(cwd: string): void {
  const { values } = readProjectEnv(cwd, "development");
  for (const name of RUN_VARIABLES) {
    const value = values[name];
    if (value !== undefined && !process.env[name]) process.env[name] = value;
  }
}

/** Runtime configuration errors become user errors: the message names the variable, no stack. */
async function asUserErrors<T>(work: () => Promise<T>): Promise<T> {
  try {
    return await work();
  } catch (error) {
    // A payload that cannot fill the job's key templates is the user's to fix, like a missing variable.
    if (error instanceof ConfigurationError || error instanceof InvalidPayloadError || error instanceof TypeError)
      throw new UserError(error.message);
    throw error;
  }
}

export interface RunJobOptions {
  cwd: string;
  key: string;
  /** The payload as JSON text. */
  payload?: string;
  /** A file holding the payload as JSON. */
  payloadFile?: string;
  /** Follow the run to its end. */
  wait?: boolean;
  /** Seconds `wait` waits at most. */
  timeout?: number;
  /** Told of the run each time it changes while waiting. */
  onUpdate?: (run: Run) => void;
}

export interface RunJobResult {
  handle: RunHandle;
  /** With `wait`: the run at its end, or as last known at the timeout. */
  run?: Run;
  /** With `wait`: true when the timeout came before the end. */
  timedOut: boolean;
}

async function payloadOf(options: RunJobOptions): Promise<unknown> {
  if (options.payload !== undefined && options.payloadFile !== undefined)
    throw new UserError("Give the payload once: --payload or --payload-file, not both");
  const text =
    options.payloadFile !== undefined
      ? await readFile(resolve(options.cwd, options.payloadFile), "utf8").catch((error: Error) => {
          throw new UserError(`Cannot read the payload file ${JSON.stringify(options.payloadFile)}: ${error.message}`);
        })
      : options.payload;
  if (text === undefined) return undefined;
  try {
    return JSON.parse(text);
  } catch (error) {
    throw new UserError(`The payload is not JSON: ${(error as Error).message}`);
  }
}

/**
 * `qjobs run <key>`: dispatches one message as the registry's `dispatch` does (the job's declared options, its
 * failure callback), found by scanning the project (no job code runs here); with `wait`, follows the run.
 */
export async function runJob(options: RunJobOptions): Promise<RunJobResult> {
  const config = await loadConfig(options.cwd);
  const { model, diagnostics } = await scanProject(config, { persistCache: true });
  const job = model.jobs.find((candidate) => candidate.key === options.key);
  if (!job) {
    const known = model.jobs.map((candidate) => candidate.key).join(", ") || "none";
    const broken = diagnostics.length > 0 ? ` (${diagnostics.length} job file problem(s): run qjobs generate)` : "";
    throw new UserError(`Unknown job ${JSON.stringify(options.key)}; the project's jobs: ${known}${broken}`);
  }
  const payload = await payloadOf(options);
  useProjectEnv(options.cwd);
  const routePath = routeUrlPath(config.route);
  const { dispatch } = createDispatch(
    { [job.key]: job.options as DispatchOptions },
    {
      ...(routePath ? { routePath } : {}),
      failureHooks: job.failureHook ? [job.key] : [],
      ...(job.debounce ? { debounce: { [job.key]: job.debounce as Debounce } } : {}),
    },
  );
  return asUserErrors(async () => {
    const handle = await dispatch(job.key, payload as never);
    if (!options.wait) return { handle, timedOut: false };
    const run = await createRuns({ ...(routePath ? { routePath } : {}) }).waitForRun(handle, {
      timeout: options.timeout,
      onUpdate: options.onUpdate,
    });
    return { handle, run, timedOut: !run || !isRunEnded(run) };
  });
}

/** `qjobs runs get <id>`: one run, from the run store or QStash's logs. */
export async function getRunCommand(options: { cwd: string; id: string }): Promise<Run | undefined> {
  useProjectEnv(options.cwd);
  return asUserErrors(() => createRuns().getRun(options.id));
}

/** `qjobs runs list`: recent runs of the app at QJOBS_URL, newest first (needs the run store). */
export async function listRunsCommand(options: {
  cwd: string;
  key?: string;
  status?: string;
  limit?: number;
}): Promise<RunPage> {
  if (options.status !== undefined && !RUN_STATUSES.includes(options.status as RunStatus))
    throw new UserError(`Unknown status ${JSON.stringify(options.status)}: use one of ${RUN_STATUSES.join(", ")}`);
  useProjectEnv(options.cwd);
  return asUserErrors(() =>
    createRuns().listRuns({
      ...(options.key !== undefined ? { key: options.key } : {}),
      ...(options.status !== undefined ? { status: options.status as RunStatus } : {}),
      ...(options.limit !== undefined ? { limit: options.limit } : {}),
    }),
  );
}
