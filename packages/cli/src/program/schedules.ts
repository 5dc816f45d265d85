import { type CommandDefinition, cwdOption } from "./shared.js";

export const schedulesCommand: CommandDefinition = (root, { output, setExitCode }) => {
  const schedules = root.command("schedules").description("declared schedules and QStash");
  schedules
    .command("sync")
    .description("make QStash's schedules for the app at QJOBS_URL match the ones the jobs declare")
    .addOption(cwdOption())
    .option("--dry-run", "print the plan and change nothing")
    .option("--json", "print the plan (and what was applied) as JSON")
    .addHelpText(
      "after",
      `
  Uses QSTASH_URL and QSTASH_TOKEN (which QStash) and QJOBS_URL (which app), from the environment, else
  .env.production.local, .env.local, .env.production, .env (as next start reads them); run it once a deploy is live.
  Each declared schedule gets an id from the app's URL, the job key and the schedule's name (or position), so
  re-running never duplicates, and production, previews and other apps in one QStash account never collide.
  Only schedules qjobs made for this URL are changed or deleted; schedules made by hand are left alone.`,
    )
    .action(async (options: { cwd: string; dryRun?: boolean; json?: boolean }) => {
      const [{ schedulesSync }, { reportSchedulesSync }] = await Promise.all([
        import("../commands/schedules.js"),
        import("../report.js"),
      ]);
      const result = await schedulesSync({ cwd: options.cwd, dryRun: options.dryRun });
      setExitCode(reportSchedulesSync(output, result, options.json ?? false));
    });
};
