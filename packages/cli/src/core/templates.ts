import type { DispatchOptions } from "@qjobs/runtime";
import { fillDeclaredOptions, isPlaceholderPath, isTemplate, templatePlaceholders } from "@qjobs/runtime/keys";
import { seconds } from "../duration.js";
import { SCHEDULE_OPTION_NAMES } from "../options.js";
import type { DeclaredSchedule, Diagnostic, RegisteredJob, RegistryModel } from "../types.js";

/** The declared value of each template option of a job's options, when it is a string. */
function declaredTemplates(options: Readonly<Record<string, unknown>>): [string, string][] {
  const flow = options.flowControl as { key?: unknown } | undefined;
  const values: [string, unknown][] = [
    ["flowControl.key", flow?.key],
    ["deduplicationId", options.deduplicationId],
    ["label", options.label],
  ];
  return values.filter((entry): entry is [string, string] => typeof entry[1] === "string");
}

// A template's literal parts: the job-key characters, so a filled key is as safe in a header and a path as a key.
const LITERAL = /^[A-Za-z0-9._:/-]*$/;
// An encoded value is made of these; a literal between two placeholders needs another character, or two
// payloads could move the boundary between their values and share a key.
const VALUE_CHARACTERS = /^[A-Za-z0-9_]*$/;

/**
 * What is wrong with a declared template, or undefined: braces that do not pair, a placeholder that is not a
 * dotted path, literal parts outside the job-key characters, or two placeholders with no separator between them.
 */
export function templateProblem(template: string): string | undefined {
  const literals = template.split(/\{[^{}]*\}/);
  if (literals.some((literal) => literal.includes("{") || literal.includes("}")))
    return "its braces do not pair: write each placeholder as {field} or {field.path}";
  const bad = templatePlaceholders(template).find((path) => !isPlaceholderPath(path));
  if (bad !== undefined) return `placeholder {${bad}} is not a field path like {tenantId} or {order.id}`;
  const outside = [...new Set(literals.join("").replace(/[A-Za-z0-9._:/-]/g, ""))];
  if (outside.length > 0 || !literals.every((literal) => LITERAL.test(literal)))
    return `${outside.map((char) => JSON.stringify(char)).join(", ")} cannot be in its literal parts (use A-Z a-z 0-9 . _ : / -)`;
  const between = literals.slice(1, -1);
  if (between.some((literal) => VALUE_CHARACTERS.test(literal)))
    return "two placeholders need a separator with a character other than A-Z a-z 0-9 _ between them (such as : or -), or two payloads could share a key";
  return undefined;
}

/**
 * Problems of a job's declared templates, as messages naming the job, the option and the template; and of its
 * schedules, whose declared payload must fill the templates a schedule carries.
 */
export function templateProblems(
  key: string,
  options: Readonly<Record<string, unknown>>,
  schedules: readonly DeclaredSchedule[],
): string[] {
  const problems = declaredTemplates(options).flatMap(([option, template]) => {
    if (!isTemplate(template) && !/[{}]/.test(template)) return [];
    const problem = templateProblem(template);
    return problem ? [`${option} ${JSON.stringify(template)} of job "${key}": ${problem}`] : [];
  });
  if (problems.length > 0) return problems;
  const scheduled = Object.fromEntries(
    Object.entries(options).filter(([name]) => SCHEDULE_OPTION_NAMES.includes(name)),
  );
  return schedules.flatMap((schedule, index) => {
    try {
      fillDeclaredOptions(key, scheduled as DispatchOptions, schedule.payload);
      return [];
    } catch (error) {
      const which = schedule.name ?? `#${index + 1}`;
      return [
        `schedule ${which} of job "${key}": its payload cannot fill the job's key templates: ${(error as Error).message}`,
      ];
    }
  });
}

type Limits = { parallelism?: unknown; rate?: unknown; period: number };

const limitsOf = (job: RegisteredJob): Limits | undefined => {
  const flow = job.options.flowControl as
    | { key?: unknown; parallelism?: unknown; rate?: unknown; period?: number | string }
    | undefined;
  if (typeof flow?.key !== "string") return undefined;
  return {
    parallelism: flow.parallelism,
    rate: flow.rate,
    period: flow.period === undefined ? 1 : seconds(flow.period),
  };
};

const describe = (limits: Limits) =>
  [
    limits.parallelism !== undefined ? `parallelism ${limits.parallelism}` : "",
    limits.rate !== undefined ? `rate ${limits.rate} per ${limits.period} s` : "",
  ]
    .filter(Boolean)
    .join(", ");

/**
 * Jobs that declare the same flow-control key (or template) with different limits: QStash keeps one counter per
 * key across the account and lets the highest limit win while messages of both are waiting. Warnings.
 */
export function flowControlWarnings(model: RegistryModel): Diagnostic[] {
  const first = new Map<string, { job: RegisteredJob; limits: Limits }>();
  return model.jobs.flatMap((job) => {
    const limits = limitsOf(job);
    if (!limits) return [];
    const key = (job.options.flowControl as { key: string }).key;
    const earlier = first.get(key);
    if (!earlier) {
      first.set(key, { job, limits });
      return [];
    }
    if (describe(earlier.limits) === describe(limits)) return [];
    return [
      {
        file: job.file,
        line: job.line,
        column: job.column,
        message: `job "${job.key}" declares flow-control key ${JSON.stringify(key)} with ${describe(limits)}, but job "${earlier.job.key}" (${earlier.job.file}:${earlier.job.line}:${earlier.job.column}) declares it with ${describe(earlier.limits)}: QStash keeps one limit per key, and the highest wins while messages of both wait`,
      },
    ];
  });
}

/** A job's declared debounce, as read from its file: `{ key, period, maxWait? }`. */
export interface DeclaredDebounce {
  readonly key: string;
  readonly period: number | string;
  readonly maxWait?: number | string;
}

const isDuration = (value: unknown) =>
  (typeof value === "number" && Number.isFinite(value) && value > 0) ||
  (typeof value === "string" && /^\d+[smhd]$/.test(value) && seconds(value) > 0);

/**
 * A declared `debounce`, checked: its fields, its key as a template, and the options it cannot go with (a delay
 * or notBefore would fight its own delay; a deduplication id would drop the later dispatches it must keep).
 */
export function readDebounce(
  key: string,
  value: unknown,
  options: Readonly<Record<string, unknown>>,
): { debounce: DeclaredDebounce } | { problem: string } {
  const problem = (why: string) => ({ problem: `debounce of job "${key}": ${why}` });
  if (!value || typeof value !== "object" || Array.isArray(value))
    return problem('it must be { key: "site:{siteId}", period: "30s", maxWait?: "5m" }');
  const { key: template, period, maxWait, ...unknown } = value as Record<string, unknown>;
  const extra = Object.keys(unknown).map((field) => `"${field}"`);
  if (extra.length > 0) return problem(`unknown field ${extra.join(", ")} (allowed: key, period, maxWait)`);
  if (typeof template !== "string" || template === "")
    return problem('"key" must be a string, such as "site:{siteId}"');
  if (/[{}]/.test(template)) {
    const wrong = templateProblem(template);
    if (wrong) return problem(`key ${JSON.stringify(template)}: ${wrong}`);
  } else if (!LITERAL.test(template)) return problem(`key ${JSON.stringify(template)} must use A-Z a-z 0-9 . _ : / -`);
  if (!isDuration(period)) return problem('"period" must be seconds or a duration such as "30s", "5m"');
  if (maxWait !== undefined && !isDuration(maxWait))
    return problem('"maxWait" must be seconds or a duration such as "5m"');
  const clash = ["delay", "notBefore", "deduplicationId"].filter((name) => options[name] !== undefined);
  if (clash.length > 0)
    return problem(
      `it cannot go with ${clash.join(", ")}: debounce sets each message's delay, and keeps every dispatch so that the last one runs`,
    );
  return {
    debounce: {
      key: template,
      period: period as number | string,
      ...(maxWait !== undefined ? { maxWait: maxWait as number | string } : {}),
    },
  };
}
