import { type CommandDefinition, cwdOption, untilStopped } from "./shared.js";

export const initCommand: CommandDefinition = (root, { output }) => {
  root
    .command("init")
    .description("set a project up: config, an example job, the generated files, package.json scripts, .env.example")
    .addOption(cwdOption())
    .option("-y, --yes", "take every default without asking")
    .option("--force", "overwrite files and scripts that qjobs would otherwise leave alone")
    .option("--install", "run the package manager's install at the end")
    .action(async (options: { cwd: string; yes?: boolean; force?: boolean; install?: boolean }) => {
      const interactive = !options.yes && Boolean(process.stdin.isTTY && process.stdout.isTTY) && !process.env.CI;
      const [{ init }, { confirmInit, reportInit }] = await Promise.all([
        import("../commands/init.js"),
        import("../report.js"),
      ]);
      const result = await init({
        cwd: options.cwd,
        force: options.force,
        install: options.install,
        confirm: interactive ? (plan) => confirmInit(output, plan) : undefined,
      });
      reportInit(output, result);
    });
};

export const generateCommand: CommandDefinition = (root, { output, setExitCode }) => {
  root
    .command("generate")
    .description("discover the job files and write the registry and the route")
    .addOption(cwdOption())
    .option("--check", "write nothing; exit 1 if a generated file is stale or missing (for CI)")
    .action(async (options: { cwd: string; check?: boolean }) => {
      const [{ generate }, { reportGenerate }] = await Promise.all([
        import("../commands/generate.js"),
        import("../report.js"),
      ]);
      const check = options.check ?? false;
      setExitCode(reportGenerate(output, await generate({ cwd: options.cwd, check }), check));
    });
};

export const watchCommand: CommandDefinition = (root, { output }) => {
  root
    .command("watch")
    .description("generate, then regenerate on every add, change or removal of a job file (and of the config)")
    .addOption(cwdOption())
    .action(async (options: { cwd: string }) => {
      const [{ watch }, { reportWatchEvent }] = await Promise.all([
        import("../commands/watch.js"),
        import("../report.js"),
      ]);
      const watcher = await watch({ cwd: options.cwd, onEvent: (event) => reportWatchEvent(output, event) });
      const stopped = untilStopped();
      output.out(output.color.dim(`Watching ${watcher.config.jobs.join(", ")}; Ctrl-C stops.`));
      await stopped;
      await watcher.close();
    });
};

export const listCommand: CommandDefinition = (root, { output, setExitCode }) => {
  root
    .command("list")
    .description("print the discovered jobs: key, file, export, and schedules with their next runs")
    .addOption(cwdOption())
    .option("--json", 'print [{ "key", "file", "export", "schedules" }] sorted by key')
    .action(async (options: { cwd: string; json?: boolean }) => {
      const [{ list }, { reportList }] = await Promise.all([import("../commands/list.js"), import("../report.js")]);
      setExitCode(reportList(output, await list({ cwd: options.cwd }), options.json ?? false));
    });
};
