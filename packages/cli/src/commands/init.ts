import { spawnSync } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import { mkdir, readFile, writeFile } from "node:fs/promises";
import { dirname, join, resolve } from "node:path";
import { DEV_CREDENTIALS } from "@qjobs/runtime";
import { DEFAULT_REDIS_PORT } from "#local/defaults";
import { CONFIG_FILE, defaultConfig, loadConfig, sourceBase } from "../core/config.js";
import { discoverFiles } from "../core/discover.js";
import { importSpecifier } from "../core/render.js";
import { syncProject } from "../core/sync.js";
import { UserError } from "../errors.js";
import type { Config } from "../types.js";
import { version } from "../version.js";

export type Framework = "next-app" | "next-pages" | "none";
export type PackageManager = "npm" | "pnpm" | "yarn" | "bun";

export interface InitOptions {
  cwd: string;
  /** Overwrite files and scripts qjobs would otherwise leave as they are. */
  force?: boolean;
  /** Run the package manager's install at the end. */
  install?: boolean;
  /** Asked once with the planned changes before anything is written; no function means yes. */
  confirm?: (plan: readonly Change[]) => Promise<boolean>;
}

export interface Change {
  /** Posix path relative to the project. */
  readonly path: string;
  readonly action: "create" | "update" | "unchanged" | "kept";
  readonly detail: string;
}

export interface InitResult {
  readonly framework: Framework;
  readonly packageManager: PackageManager;
  readonly config: Config;
  readonly changes: readonly Change[];
  /** False when the confirmation was declined: nothing was written. */
  readonly applied: boolean;
  readonly nextSteps: readonly NextStep[];
}

/** A command to run and why, or an explanation with code to write. */
export interface NextStep {
  readonly command?: string;
  readonly why: string;
  readonly code?: readonly string[];
}

// The runtime and the CLI are released together, under one version.
const RUNTIME_VERSION = `^${version}`;

function detectPackageManager(root: string, userAgent = process.env.npm_config_user_agent): PackageManager {
  const lockfiles: [string, PackageManager][] = [
    ["pnpm-lock.yaml", "pnpm"],
    ["yarn.lock", "yarn"],
    ["bun.lock", "bun"],
    ["bun.lockb", "bun"],
    ["package-lock.json", "npm"],
  ];
  for (const [file, manager] of lockfiles) if (existsSync(join(root, file))) return manager;
  const fromAgent = userAgent?.split("/")[0];
  return fromAgent === "pnpm" || fromAgent === "yarn" || fromAgent === "bun" ? fromAgent : "npm";
}

function detectFramework(
  root: string,
  packageJson: PackageJson,
): { framework: Framework; appDir?: string; pagesDir?: string; base: string } {
  const has = (path: string) => existsSync(join(root, path));
  const next = Boolean(packageJson.dependencies?.next ?? packageJson.devDependencies?.next);
  const base = sourceBase(root);
  const appDir = has("src/app") ? "src/app" : has("app") ? "app" : undefined;
  if (appDir || (next && !has("pages") && !has("src/pages")))
    return { framework: "next-app", appDir: appDir ?? `${base ? `${base}/` : ""}app`, base };
  if (has("pages") || has("src/pages"))
    return { framework: "next-pages", pagesDir: has("src/pages") ? "src/pages" : "pages", base };
  return { framework: "none", base };
}

interface PackageJson {
  name?: string;
  scripts?: Record<string, string>;
  dependencies?: Record<string, string>;
  devDependencies?: Record<string, string>;
}

const run = (manager: PackageManager, script: string) =>
  manager === "npm" ? `npm run ${script}` : `${manager} ${script}`;
/**
 * Whether git would ignore `.env.example` (create-next-app's `.gitignore` has `.env*`): asked of git itself, which
 * knows every ignore file; outside a repository (or without git), read from the project's `.gitignore`.
 */
function envExampleIgnored(root: string, gitignore: string): boolean {
  const git = spawnSync("git", ["check-ignore", "--no-index", "-q", ".env.example"], { cwd: root });
  if (git.status === 0) return true;
  if (git.status === 1) return false;
  // The last line about it decides, as in git.
  const last = gitignore
    .split(/\r?\n/)
    .map((line) => line.trim())
    .reverse()
    .find((line) => /^\/?\.env(\*|\.\*|\.example)$/.test(line) || line === "!.env.example");
  return last !== undefined && last !== "!.env.example";
}

const exampleJob = `import { createJob } from "@qjobs/runtime";

/**
 * An example job. Dispatch it from server code:
 *   await hello.dispatch({ name: "world" });
 * or, without importing this file (nor its dependencies), with the registry's typed dispatch:
 *   import { dispatch } from "<your qjobs.gen.ts>"; await dispatch("hello", { name: "world" });
 */
export const hello = createJob("hello", async (payload: { name: string }, ctx) => {
  console.log(\`Hello, \${payload.name}! (message \${ctx.messageId}, attempt \${ctx.retried + 1})\`);
});
`;

/** Lines of `text` that `existing` lacks, compared line by line. */
function missingLines(
  existing: string,
  lines: readonly string[],
  same: (line: string, wanted: string) => boolean = (a, b) => a.trim() === b,
): string[] {
  const present = existing.split(/\r?\n/);
  return lines.filter((wanted) => !present.some((line) => same(line, wanted)));
}

function appendLines(existing: string, lines: readonly string[]): string {
  return `${existing}${existing && !existing.endsWith("\n") ? "\n" : ""}${lines.join("\n")}\n`;
}

/** `qjobs init`: sets a project up for qjobs; safe to re-run. */
export async function init(options: InitOptions): Promise<InitResult> {
  const root = resolve(options.cwd);
  const packagePath = join(root, "package.json");
  if (!existsSync(packagePath))
    throw new UserError(`No package.json in ${root}: run qjobs init in your project's folder`);
  const packageText = await readFile(packagePath, "utf8");
  let packageJson: PackageJson;
  try {
    packageJson = JSON.parse(packageText) as PackageJson;
  } catch (error) {
    throw new UserError(`package.json is not valid JSON: ${(error as Error).message}`);
  }
  const { framework, appDir, pagesDir, base } = detectFramework(root, packageJson);
  const manager = detectPackageManager(root);
  const prefix = base ? `${base}/` : "";
  const configExists = existsSync(join(root, CONFIG_FILE));
  const defaults = defaultConfig(root);
  const config: Config = configExists
    ? await loadConfig(root)
    : { ...defaults, route: framework === "next-app" ? `${appDir}/api/jobs/route.ts` : `${prefix}qjobs.route.ts` };

  const writes = new Map<string, string>();
  const changes: Change[] = [];
  const plan = (path: string, action: Change["action"], detail: string, content?: string) => {
    changes.push({ path, action, detail });
    if (content !== undefined && (action === "create" || action === "update")) writes.set(path, content);
  };
  const file = (path: string) => (existsSync(join(root, path)) ? readFileSync(join(root, path), "utf8") : undefined);

  // The config, and an example job when the project has none.
  const configText = `${JSON.stringify({ jobs: config.jobs, registry: config.registry, route: config.route }, null, 2)}\n`;
  if (!configExists || (options.force && file(CONFIG_FILE) !== configText))
    plan(CONFIG_FILE, configExists ? "update" : "create", "where jobs are and where generated files go", configText);
  else plan(CONFIG_FILE, "kept", "already there");
  const examplePath = `${prefix}jobs/hello.job.ts`;
  const jobFiles = await discoverFiles(root, config.jobs);
  if (
    jobFiles.length === 0 ||
    (options.force && existsSync(join(root, examplePath)) && file(examplePath) !== exampleJob)
  ) {
    plan(examplePath, existsSync(join(root, examplePath)) ? "update" : "create", "an example job", exampleJob);
  } else plan(jobFiles.length === 1 ? (jobFiles[0] as string) : `${jobFiles.length} job files`, "kept", "your jobs");

  // Environment examples that work with `qjobs dev`.
  const env = [
    "# qjobs: these values work with `qjobs dev`; use your QStash console's values in production.",
    "QSTASH_URL=http://127.0.0.1:8080",
    `QSTASH_TOKEN=${DEV_CREDENTIALS.token}`,
    `QSTASH_CURRENT_SIGNING_KEY=${DEV_CREDENTIALS.currentSigningKey}`,
    `QSTASH_NEXT_SIGNING_KEY=${DEV_CREDENTIALS.nextSigningKey}`,
    "QJOBS_URL=http://localhost:3000/api/jobs",
    // The run store: qjobs dev's own Upstash Redis stand-in, which takes its token.
    `QJOBS_REDIS_REST_URL=http://127.0.0.1:${DEFAULT_REDIS_PORT}/redis`,
    `QJOBS_REDIS_REST_TOKEN=${DEV_CREDENTIALS.token}`,
  ];
  const envText = file(".env.example") ?? "";
  const missingEnv = missingLines(
    envText,
    env.slice(1),
    (line, wanted) => line.split("=")[0]?.trim() === wanted.split("=")[0],
  );
  if (missingEnv.length > 0)
    plan(
      ".env.example",
      envText ? "update" : "create",
      `adds ${missingEnv.map((line) => line.split("=")[0]).join(", ")}`,
      appendLines(envText, envText ? missingEnv : env),
    );
  else plan(".env.example", "unchanged", "has every variable");

  // package.json: the packages and two scripts, never replacing what is there without --force.
  const updated: PackageJson = JSON.parse(packageText) as PackageJson;
  const added: string[] = [];
  const setIn = (section: "dependencies" | "devDependencies" | "scripts", name: string, value: string) => {
    const current = updated[section]?.[name];
    if (current === value || (current !== undefined && !options.force)) return;
    updated[section] = { ...updated[section], [name]: value };
    added.push(section === "scripts" ? `script "${name}"` : name);
  };
  setIn("dependencies", "@qjobs/runtime", RUNTIME_VERSION);
  setIn("devDependencies", "@qjobs/cli", RUNTIME_VERSION);
  setIn("scripts", "prebuild", "qjobs generate");
  setIn("scripts", "dev:jobs", "qjobs dev --watch");
  if (added.length > 0) {
    const indent = /^\{\n(\s+)"/.exec(packageText)?.[1] ?? "  ";
    plan("package.json", "update", `adds ${added.join(", ")}`, `${JSON.stringify(updated, null, indent)}\n`);
  } else plan("package.json", "unchanged", "has the packages and scripts");

  // Git: the cache stays out, .env.example goes in (create-next-app's `.env*` would hide it, and the Quick start
  // copies it), the generated files are marked generated.
  const gitignore = file(".gitignore") ?? "";
  const ignoreLines = [
    ...missingLines(gitignore, [".qjobs/"], (line) => /^\/?\.qjobs\/?$/.test(line.trim())),
    ...(envExampleIgnored(root, gitignore) ? ["!.env.example"] : []),
  ];
  if (ignoreLines.length > 0)
    plan(
      ".gitignore",
      gitignore ? "update" : "create",
      ignoreLines
        .map((line) => (line === ".qjobs/" ? "ignores .qjobs/, the cache" : "un-ignores .env.example (.env* hid it)"))
        .join("; "),
      appendLines(gitignore, ignoreLines),
    );
  else plan(".gitignore", "unchanged", "ignores .qjobs/");
  const attributes = file(".gitattributes") ?? "";
  const generatedLines = [`${config.registry} linguist-generated`, `${config.route} linguist-generated`];
  const missingAttributes = missingLines(attributes, generatedLines);
  if (missingAttributes.length > 0)
    plan(
      ".gitattributes",
      attributes ? "update" : "create",
      "marks the generated files as generated",
      appendLines(attributes, missingAttributes),
    );
  else plan(".gitattributes", "unchanged", "marks the generated files");

  const nextSteps = nextStepsFor(framework, manager, config, Boolean(options.install), pagesDir);
  if (options.confirm && writes.size > 0 && !(await options.confirm(changes))) {
    return { framework, packageManager: manager, config, changes, applied: false, nextSteps };
  }
  for (const [path, content] of writes) {
    await mkdir(dirname(join(root, path)), { recursive: true });
    await writeFile(join(root, path), content);
  }
  const generated = await syncProject({ cwd: root });
  if (generated.diagnostics.length > 0) {
    throw new UserError(
      `the project's job files have errors; run qjobs generate to see them (nothing else is wrong with init)`,
    );
  }
  for (const generatedFile of generated.files) {
    changes.push({
      path: generatedFile.path,
      action: generatedFile.status === "written" ? "create" : "unchanged",
      detail: "generated",
    });
  }
  if (options.install) {
    const result = spawnSync(manager, ["install"], {
      cwd: root,
      stdio: "inherit",
      shell: process.platform === "win32",
    });
    if (result.status !== 0)
      throw new UserError(
        `${manager} install failed (exit ${result.status}); run it yourself, then continue with the next steps`,
      );
  }
  return { framework, packageManager: manager, config, changes, applied: true, nextSteps };
}

function nextStepsFor(
  framework: Framework,
  manager: PackageManager,
  config: Config,
  installed: boolean,
  pagesDir = "pages",
): NextStep[] {
  const envFile = framework === "none" ? ".env" : ".env.local";
  const steps: NextStep[] = [
    ...(installed ? [] : [{ command: `${manager} install`, why: "installs @qjobs/runtime and @qjobs/cli" }]),
    { command: `cp .env.example ${envFile}`, why: "values that work with qjobs dev" },
    { command: run(manager, "dev:jobs"), why: "the local QStash server, regenerating as you edit jobs" },
  ];
  if (framework === "next-app")
    steps.push({ command: run(manager, "dev"), why: "your app, in another terminal: jobs arrive at /api/jobs" });
  else if (framework === "next-pages") {
    steps.push({
      why: `mount the route in ${pagesDir}/api/jobs.ts:`,
      code: [
        'import { toNodeHandler } from "@qjobs/runtime/node";',
        `import { POST } from "${importSpecifier(`${pagesDir}/api/jobs.ts`, config.route, "")}";`,
        "export default toNodeHandler(POST);",
        "export const config = { api: { bodyParser: false } }; // signatures need the raw body",
      ],
    });
  } else {
    steps.push({
      why: `mount ${config.route}'s POST at /api/jobs in your server, for example:`,
      code: [
        'Hono:      app.post("/api/jobs", (c) => POST(c.req.raw));',
        'node:http: createServer(toNodeHandler(POST)); // from "@qjobs/runtime/node"',
      ],
    });
  }
  steps.push({
    why: "dispatch the example from server code:",
    code: [`await dispatch("hello", { name: "world" }); // import { dispatch } from your registry, ${config.registry}`],
  });
  return steps;
}
