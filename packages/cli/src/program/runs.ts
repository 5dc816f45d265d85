import { UserError } from "../errors.js";
import { type CommandDefinition, cwdOption } from "./shared.js";

export const runCommand: CommandDefinition = (root, { output, setExitCode }) => {
  root
    .command("run")
    .description("dispatch a job as the registry's dispatch does, and print its run id")
    .argument("<key>", "the job's key")
    .addOption(cwdOption())
    .option("--payload <json>", "the payload, as JSON")
    .option("--payload-file <file>", "a file holding the payload, as JSON")
    .option("--wait", "follow the run to its end (exit 0 succeeded, 1 failed or cancelled, 2 timed out)")
    .option("--timeout <seconds>", "with --wait, how long to wait", "60")
    .option("--json", "print the run handle (with --wait: the run at its end) as JSON")
    .action(
      async (
        key: string,
        options: {
          cwd: string;
          payload?: string;
          payloadFile?: string;
          wait?: boolean;
          timeout: string;
          json?: boolean;
        },
      ) => {
        const timeout = Number(options.timeout);
        if (!Number.isFinite(timeout) || timeout <= 0)
          throw new UserError(`--timeout must be a number of seconds > 0, got ${JSON.stringify(options.timeout)}`);
        const [{ runJob }, { reportRun, reportRunUpdate }] = await Promise.all([
          import("../commands/runs.js"),
          import("../report.js"),
        ]);
        const result = await runJob({
          cwd: options.cwd,
          key,
          payload: options.payload,
          payloadFile: options.payloadFile,
          wait: options.wait,
          timeout,
          ...(options.json ? {} : { onUpdate: (run) => reportRunUpdate(output, run) }),
        });
        setExitCode(reportRun(output, result, { json: options.json ?? false, wait: options.wait ?? false }));
      },
    );
};

export const runsCommand: CommandDefinition = (root, { output, setExitCode }) => {
  const runs = root.command("runs").description("runs: from the run store, or QStash's logs");
  runs
    .command("get")
    .description("one run, by id")
    .argument("<id>", "the run's id (QStash's message id)")
    .addOption(cwdOption())
    .option("--json", "print the run as JSON")
    .action(async (id: string, options: { cwd: string; json?: boolean }) => {
      const [{ getRunCommand }, { reportRunsGet }] = await Promise.all([
        import("../commands/runs.js"),
        import("../report.js"),
      ]);
      setExitCode(reportRunsGet(output, id, await getRunCommand({ cwd: options.cwd, id }), options.json ?? false));
    });
  runs
    .command("list")
    .description("this app's recent runs, newest first (needs the run store)")
    .addOption(cwdOption())
    .option("--job <key>", "only this job's runs")
    .option("--status <status>", "only runs in this status")
    .option("--json", 'print { "runs", "nextCursor" } as JSON')
    .action(async (options: { cwd: string; job?: string; status?: string; json?: boolean }) => {
      const [{ listRunsCommand }, { reportRunsList }] = await Promise.all([
        import("../commands/runs.js"),
        import("../report.js"),
      ]);
      const page = await listRunsCommand({ cwd: options.cwd, key: options.job, status: options.status });
      setExitCode(reportRunsList(output, page, options.json ?? false));
    });
};
