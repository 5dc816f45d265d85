import type { DeclaredDebounce } from "./core/templates.js";

/** `qjobs.config.json`, with every default applied. Paths are relative to `root`, posix-style. */
export interface Config {
  /** The folder the config lives in (absolute). */
  readonly root: string;
  /** How far up `jobs` may reach (absolute): the monorepo's root, or `root` itself. */
  readonly workspaceRoot: string;
  /** Globs of job files. */
  readonly jobs: readonly string[];
  /** The generated registry module. */
  readonly registry: string;
  /** The generated route module. */
  readonly route: string;
  /**
   * How generated files import project files: `".js"` (what Node's ESM and TypeScript's NodeNext need) or
   * `""` (extensionless, what bundlers such as Next.js's Turbopack resolve). Read from the tsconfig unless set.
   */
  readonly importExtension: ".js" | "";
  /** Exported by the route as its segment option: how long the platform lets a delivery run, in seconds. */
  readonly maxDuration?: number;
  /** Exported by the route as its segment option: where it runs (Next.js). */
  readonly runtime?: "nodejs" | "edge";
}

/** A problem in a job file, reported like a compiler's: `file:line:column: message`. */
export interface Diagnostic {
  /** Posix path relative to the config's folder. */
  readonly file: string;
  /** 1-based. */
  readonly line: number;
  /** 1-based. */
  readonly column: number;
  readonly message: string;
}

/** A schedule declared on a job (`schedule: ...`), read statically. */
export interface DeclaredSchedule {
  /** Identifies it within its job; without one, its position does. */
  readonly name?: string;
  /** Five fields, as QStash takes them. */
  readonly cron: string;
  /** An IANA zone, or null for UTC. */
  readonly timezone: string | null;
  /** The payload each run gets (JSON). */
  readonly payload?: unknown;
}

/** A job found in a file: `export <exportName> = createJob(key, ...)`. */
export interface ExtractedJob {
  readonly key: string;
  /** The export it is reachable under: a name, or `default`. */
  readonly exportName: string;
  readonly line: number;
  readonly column: number;
  readonly schedules?: readonly DeclaredSchedule[];
  /** The QStash options the job declares (retries, timeout, flowControl...), as literals. */
  readonly options?: Readonly<Record<string, unknown>>;
  /** Whether it declares an onFailure hook. */
  readonly failureHook?: boolean;
  /** A schedule without a payload, on a handler whose need of one a schema or a named type decides. */
  readonly bareCronUnchecked?: boolean;
  /** Its debounce, when it declares one. */
  readonly debounce?: DeclaredDebounce;
}

/** What one job file holds. */
export interface FileExtraction {
  readonly jobs: readonly ExtractedJob[];
  /** Problems without a file name yet (extract is pure and only knows the text). */
  readonly problems: readonly Omit<Diagnostic, "file">[];
}

/** A job in the registry. */
export interface RegisteredJob {
  readonly key: string;
  /** Where its createJob call is (1-based), for diagnostics about the job. */
  readonly line: number;
  readonly column: number;
  /** Posix path relative to the config's folder. */
  readonly file: string;
  readonly exportName: string;
  readonly schedules: readonly DeclaredSchedule[];
  readonly options: Readonly<Record<string, unknown>>;
  /** Whether it declares an onFailure hook: its messages' failure callback goes to the route. */
  readonly failureHook: boolean;
  /** See ExtractedJob: a bare cron that only tsc can check against the handler. */
  readonly bareCronUnchecked?: boolean;
  /** Its debounce, when it declares one: the registry's dispatch applies it. */
  readonly debounce?: DeclaredDebounce;
}

/** The checked registry: every job, sorted by key, keys unique. */
export interface RegistryModel {
  readonly jobs: readonly RegisteredJob[];
}

export type FileStatus = "written" | "unchanged" | "stale" | "missing";

export interface GeneratedFile {
  /** Posix path relative to the config's folder. */
  readonly path: string;
  readonly status: FileStatus;
}
