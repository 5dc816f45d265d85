import { existsSync, readFileSync, realpathSync } from "node:fs";
import { readFile } from "node:fs/promises";
import { dirname, join, posix, relative, resolve, sep } from "node:path";
import { type ParseError, parse as parseJsonc } from "jsonc-parser";
import { UserError } from "../errors.js";
import type { Config } from "../types.js";
import { staticBase } from "./discover.js";

export const CONFIG_FILE = "qjobs.config.json";

/**
 * No job file and no config: most likely the wrong folder, so generate writes nothing there and watch waits
 * (issue 21: a registry and a route with 0 jobs, reported as success). A config says this is the project.
 */
export function isUnsetProject(config: Config, jobFiles: number): boolean {
  return jobFiles === 0 && !existsSync(join(config.root, CONFIG_FILE));
}

const FIELDS = ["$schema", "jobs", "registry", "route", "importExtension", "maxDuration", "runtime"] as const;

/**
 * Where a project keeps its code: `src` when it has one, or when it has neither `app/` nor `pages/` at its
 * root (a new project gets one); "" when its code sits at the root (`app/` without `src/`).
 */
export function sourceBase(root: string): "src" | "" {
  const has = (path: string) => existsSync(join(root, path));
  return has("src") || (!has("app") && !has("pages")) ? "src" : "";
}

/**
 * The defaults PRODUCT.md promises: job files and the registry under `src/` (at the root for a project whose
 * code sits there), the route under app/ when the project has no src/app/. `qjobs init` writes the same.
 */
export function defaultConfig(root: string): Config {
  const app = existsSync(join(root, "src", "app")) ? "src/app" : "app";
  const prefix = sourceBase(root) ? "src/" : "";
  return {
    root,
    workspaceRoot: findWorkspaceRoot(root),
    jobs: [`${prefix}**/*.job.ts`],
    registry: `${prefix}qjobs.gen.ts`,
    route: `${app}/api/jobs/route.ts`,
    importExtension: detectImportExtension(root),
  };
}

const hasWorkspaces = (folder: string) => {
  try {
    return "workspaces" in (JSON.parse(readFileSync(join(folder, "package.json"), "utf8")) as object);
  } catch {
    return false;
  }
};

/**
 * How far up job files may be read: the nearest folder holding `pnpm-workspace.yaml`, a `package.json`
 * with `workspaces`, or `.git` (so a monorepo's jobs can live in a sibling package); else the project itself.
 */
function findWorkspaceRoot(root: string): string {
  for (let folder = root; ; folder = dirname(folder)) {
    if (existsSync(join(folder, "pnpm-workspace.yaml")) || existsSync(join(folder, ".git")) || hasWorkspaces(folder))
      return folder;
    if (dirname(folder) === folder) return root;
  }
}

/** Whether `path` is `folder` or inside it (both absolute). */
function isInside(folder: string, path: string): boolean {
  const rel = relative(folder, path);
  return rel === "" || (!rel.startsWith(`..${sep}`) && rel !== ".." && !rel.startsWith(sep) && !/^[A-Za-z]:/.test(rel));
}

/** The real path of `path`, or of its nearest existing ancestor with the rest appended (what it will be once created). */
function realPathOf(path: string): string {
  let existing = path;
  const rest: string[] = [];
  while (!existsSync(existing) && dirname(existing) !== existing) {
    rest.unshift(existing.slice(dirname(existing).length + 1));
    existing = dirname(existing);
  }
  return join(realpathSync(existing), ...rest);
}

/** tsconfig.json's text (JSON with comments and trailing commas), or undefined when it cannot be read as that. */
function parseTsconfig(text: string): unknown {
  const errors: ParseError[] = [];
  const value: unknown = parseJsonc(text, errors, { allowTrailingComma: true });
  return errors.length > 0 ? undefined : value;
}

/**
 * `.js` when the project's TypeScript resolves modules like Node (NodeNext/Node16), which needs explicit
 * extensions; none otherwise (bundler resolution: Next.js's Turbopack does not map `.js` to `.ts`).
 * Follows relative `extends`.
 */
function detectImportExtension(root: string): ".js" | "" {
  let file = join(root, "tsconfig.json");
  for (let depth = 0; depth < 5 && existsSync(file); depth++) {
    let tsconfig: { extends?: unknown; compilerOptions?: { module?: string; moduleResolution?: string } };
    try {
      tsconfig = parseTsconfig(readFileSync(file, "utf8")) as typeof tsconfig;
      if (!tsconfig) return "";
    } catch {
      return "";
    }
    const resolution = (tsconfig.compilerOptions?.moduleResolution ?? tsconfig.compilerOptions?.module)?.toLowerCase();
    if (resolution) return resolution === "nodenext" || resolution === "node16" ? ".js" : "";
    if (typeof tsconfig.extends !== "string" || !tsconfig.extends.startsWith(".")) return "";
    file = resolve(dirname(file), tsconfig.extends.endsWith(".json") ? tsconfig.extends : `${tsconfig.extends}.json`);
  }
  return "";
}

function relativePath(value: unknown, field: string): string {
  if (typeof value !== "string" || value.trim() === "") {
    throw new UserError(`${CONFIG_FILE}: "${field}" must be a non-empty string path`);
  }
  const normalized = posix.normalize(value.replace(/\\/g, "/")).replace(/^\.\//, "");
  if (posix.isAbsolute(normalized) || normalized.startsWith("../")) {
    throw new UserError(`${CONFIG_FILE}: "${field}" must be a path inside the project, got "${value}"`);
  }
  if (!/\.(ts|tsx|mts)$/.test(normalized)) {
    throw new UserError(`${CONFIG_FILE}: "${field}" must name a .ts file, got "${value}"`);
  }
  return normalized;
}

/** A generated file must stay in the project, also through a symlinked folder on its way. */
function checkOutputInside(root: string, path: string, field: string): void {
  if (!isInside(realPathOf(root), realPathOf(dirname(join(root, path))))) {
    throw new UserError(`${CONFIG_FILE}: "${field}" leads outside the project through a symbolic link ("${path}")`);
  }
}

/**
 * A `jobs` glob, normalised: `..` may only lead it (a sibling package), and where it leads must stay in
 * the workspace, also through symlinks. Throws naming the glob otherwise.
 */
function checkJobsGlob(glob: string, root: string, workspaceRoot: string): string {
  const normalized = posix.normalize(glob.replace(/\\/g, "/")).replace(/^\.\//, "");
  const segments = normalized.split("/");
  const leading = segments.findIndex((segment) => segment !== "..");
  const rest = segments.slice(leading === -1 ? segments.length : leading).join("/");
  if (posix.isAbsolute(normalized) || /(^|[/{,])\.\.($|[/},])/.test(rest)) {
    throw new UserError(
      `${CONFIG_FILE}: "jobs" globs are paths relative to the config's folder with ".." only at the start, got "${glob}"`,
    );
  }
  if (!isInside(realPathOf(workspaceRoot), realPathOf(resolve(root, staticBase(normalized))))) {
    throw new UserError(`${CONFIG_FILE}: "jobs" glob "${glob}" reaches outside the workspace (${workspaceRoot})`);
  }
  return normalized;
}

/** Reads `qjobs.config.json` in `cwd`, validating every field; no file means the defaults. */
export async function loadConfig(cwd: string): Promise<Config> {
  const root = resolve(cwd);
  if (!existsSync(root)) throw new UserError(`No such folder: ${root}`);
  const file = join(root, CONFIG_FILE);
  let text: string;
  try {
    text = await readFile(file, "utf8");
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") return defaultConfig(root);
    throw error;
  }
  let raw: unknown;
  try {
    raw = JSON.parse(text.replace(/^\uFEFF/, ""));
  } catch (error) {
    throw new UserError(`${CONFIG_FILE} is not valid JSON: ${(error as Error).message}`);
  }
  if (!raw || typeof raw !== "object" || Array.isArray(raw)) {
    throw new UserError(`${CONFIG_FILE} must hold a JSON object like {"jobs": ["src/**/*.job.ts"]}`);
  }
  const fields = raw as Record<string, unknown>;
  const unknown = Object.keys(fields).filter((name) => !(FIELDS as readonly string[]).includes(name));
  if (unknown.length > 0) {
    throw new UserError(
      `${CONFIG_FILE}: unknown field ${unknown.map((name) => `"${name}"`).join(", ")} (allowed: ${FIELDS.slice(1).join(", ")})`,
    );
  }
  const defaults = defaultConfig(root);
  let jobs = defaults.jobs;
  if (fields.jobs !== undefined) {
    const list = fields.jobs;
    if (
      !Array.isArray(list) ||
      list.length === 0 ||
      list.some((glob) => typeof glob !== "string" || glob.trim() === "")
    ) {
      throw new UserError(`${CONFIG_FILE}: "jobs" must be a non-empty list of globs, like ["src/**/*.job.ts"]`);
    }
    jobs = list.map((glob: string) => checkJobsGlob(glob, root, defaults.workspaceRoot));
  }
  const registry = fields.registry === undefined ? defaults.registry : relativePath(fields.registry, "registry");
  const route = fields.route === undefined ? defaults.route : relativePath(fields.route, "route");
  checkOutputInside(root, registry, "registry");
  checkOutputInside(root, route, "route");
  if (registry === route) throw new UserError(`${CONFIG_FILE}: "registry" and "route" must be different files`);
  const importExtension = fields.importExtension ?? defaults.importExtension;
  if (importExtension !== ".js" && importExtension !== "") {
    throw new UserError(
      `${CONFIG_FILE}: "importExtension" must be ".js" or "" (no extension), got ${JSON.stringify(fields.importExtension)}`,
    );
  }
  const { maxDuration, runtime } = fields;
  if (
    maxDuration !== undefined &&
    !(typeof maxDuration === "number" && Number.isInteger(maxDuration) && maxDuration > 0)
  ) {
    throw new UserError(
      `${CONFIG_FILE}: "maxDuration" must be a whole number of seconds > 0, got ${JSON.stringify(maxDuration)}`,
    );
  }
  if (runtime !== undefined && runtime !== "nodejs" && runtime !== "edge") {
    throw new UserError(`${CONFIG_FILE}: "runtime" must be "nodejs" or "edge", got ${JSON.stringify(runtime)}`);
  }
  return {
    root,
    workspaceRoot: defaults.workspaceRoot,
    jobs,
    registry,
    route,
    importExtension,
    ...(maxDuration !== undefined ? { maxDuration } : {}),
    ...(runtime !== undefined ? { runtime } : {}),
  };
}

/**
 * The URL path a Next.js App Router route file is served at (`src/app/api/(jobs)/route.ts` → `/api/jobs`):
 * route groups and parallel-route slots are not part of it. Undefined outside an `app/` folder.
 */
export function routeUrlPath(routeFile: string): string | undefined {
  const match = /^(?:src\/)?app\/(.*)route\.[cm]?[jt]sx?$/.exec(routeFile);
  if (!match) return undefined;
  const segments = (match[1] as string)
    .split("/")
    .filter((segment) => segment && !/^\(.*\)$/.test(segment) && !segment.startsWith("@"));
  return `/${segments.join("/")}`;
}

/**
 * The path of the project's jobs route when its config says an App Router one, for checking a jobs URL against
 * it; undefined otherwise, and when the config is broken (the command that needs it reports that).
 */
export async function knownRoutePath(cwd: string): Promise<string | undefined> {
  try {
    return routeUrlPath((await loadConfig(cwd)).route);
  } catch {
    return undefined;
  }
}
