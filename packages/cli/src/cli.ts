import { createRequire } from "node:module";
import { Command, CommanderError, Option } from "commander";
import { generate } from "./commands/generate.js";
import { list } from "./commands/list.js";
import { UserError } from "./errors.js";
import { formatDuration, type Output, plural, processOutput, reportDiagnostics } from "./terminal.js";

const { version } = createRequire(import.meta.url)("../package.json") as { version: string };

const cwdOption = () => new Option("--cwd <dir>", "the project folder, where qjobs.config.json lives").default(".", "the current folder");

function program(output: Output, setExitCode: (code: number) => void): Command {
  const root = new Command("qjobs")
    .description("Type-safe background jobs on Upstash QStash.\nDiscovers *.job.ts files and generates a typed job registry and one route handler.")
    .version(version, "-v, --version", "print the version")
    .helpOption("-h, --help", "show help for a command")
    .showHelpAfterError("(run qjobs --help for usage)")
    .configureOutput({ writeOut: (text) => output.out(text.trimEnd()), writeErr: (text) => output.err(text.trimEnd()) })
    .exitOverride()
    .addHelpText(
      "after",
      `
Examples:
  $ qjobs generate            write the registry and the route (run it before your build)
  $ qjobs generate --check    in CI: fail when the generated files are stale
  $ qjobs list --json         the jobs, as JSON

Configuration: qjobs.config.json in the project folder, for example
  { "jobs": ["src/**/*.job.ts"], "registry": "src/qjobs.gen.ts", "route": "src/app/api/jobs/route.ts" }`,
    );

  root
    .command("generate")
    .description("discover the job files and write the registry and the route")
    .addOption(cwdOption())
    .option("--check", "write nothing; exit 1 if a generated file is stale or missing (for CI)")
    .action(async (options: { cwd: string; check?: boolean }) => {
      const result = await generate({ cwd: options.cwd, check: options.check ?? false });
      const { color } = output;
      if (result.diagnostics.length > 0) {
        reportDiagnostics(output, result.diagnostics, options.check ? "fix them, then run qjobs generate" : "nothing was written");
        return setExitCode(1);
      }
      const took = color.dim(`in ${formatDuration(result.durationMs)}`);
      const jobs = plural(result.model.jobs.length, "job");
      if (options.check) {
        const outdated = result.files.filter((file) => file.status !== "unchanged");
        if (outdated.length === 0) return output.out(`${color.green("✓")} qjobs: ${jobs}, generated files are up to date ${took}`);
        for (const file of outdated) output.err(`${color.red("✗")} ${file.path} is ${file.status}`);
        output.err(`Run ${color.bold("qjobs generate")} and commit the result.`);
        return setExitCode(1);
      }
      const files = result.files.map((file) => `${file.path} ${file.status === "written" ? color.green("written") : color.dim("unchanged")}`);
      output.out(`${color.green("✓")} qjobs: ${jobs} from ${plural(result.jobFiles, "file")} → ${files.join(", ")} ${took}`);
    });

  root
    .command("list")
    .description("print the discovered jobs: key, file and export")
    .addOption(cwdOption())
    .option("--json", 'print [{ "key", "file", "export" }] sorted by key')
    .action(async (options: { cwd: string; json?: boolean }) => {
      const result = await list({ cwd: options.cwd });
      if (result.diagnostics.length > 0) {
        reportDiagnostics(output, result.diagnostics, "the list would be incomplete");
        return setExitCode(1);
      }
      const rows = result.jobs.map((job) => ({ key: job.key, file: job.file, export: job.exportName }));
      if (options.json) return output.out(JSON.stringify(rows, null, 2));
      if (rows.length === 0) return output.out("No jobs found.");
      const width = (column: "key" | "file") => Math.max(column.length, ...rows.map((row) => row[column].length));
      const [keyWidth, fileWidth] = [width("key"), width("file")];
      output.out(output.color.bold(`${"KEY".padEnd(keyWidth)}  ${"FILE".padEnd(fileWidth)}  EXPORT`));
      for (const row of rows) output.out(`${row.key.padEnd(keyWidth)}  ${output.color.dim(row.file.padEnd(fileWidth))}  ${row.export}`);
    });

  return root;
}

/** Parses argv, runs one command, and returns the exit code. The bin is the only caller of process.exit. */
export async function run(argv: readonly string[], output: Output = processOutput()): Promise<number> {
  let exitCode = 0;
  try {
    await program(output, (code) => {
      exitCode = code;
    }).parseAsync(argv as string[]);
    return exitCode;
  } catch (error) {
    if (error instanceof CommanderError) return error.exitCode;
    if (error instanceof UserError) {
      output.err(`${output.errColor.red("error")} ${error.message}`);
      return 1;
    }
    throw error;
  }
}
