import { Option } from "commander";
import { DEFAULT_DASHBOARD_PORT } from "#local/defaults";
import { UserError } from "../errors.js";
import { appUrlAlias, type CommandDefinition, cwdOption, untilStopped } from "./shared.js";

export const dashboardCommand: CommandDefinition = (root, { output }) => {
  root
    .command("dashboard")
    .description("see and steer the jobs of the QStash that QSTASH_URL/QSTASH_TOKEN name (e.g. production), by job key")
    .addOption(cwdOption())
    .addOption(new Option("--port <port>", "the port on 127.0.0.1").default(String(DEFAULT_DASHBOARD_PORT)))
    .option("--jobs-url <url>", "your app's jobs route (default: QJOBS_URL, from the env or .env files)")
    .addOption(appUrlAlias())
    .addHelpText(
      "after",
      `
  It reads QSTASH_TOKEN (and QSTASH_URL, default https://qstash.upstash.io) from the environment, else the
  project's .env.development.local, .env.local, .env.development, .env (as next dev reads them). The CLI holds the token and forwards only the calls the page makes; the
  page never sees it. Open the address it prints: it holds a secret made for this launch.
With the run store's variables set the same way (QJOBS_REDIS_REST_URL and QJOBS_REDIS_REST_TOKEN, or
UPSTASH_REDIS_REST_*, or KV_REST_API_*), the page shows each message's run and each job's recent runs: the CLI
reads them, the page never sees the store's token.
  (qjobs dev serves the same dashboard for the local server at its own address.)`,
    )
    .action(async (options: { cwd: string; port: string; jobsUrl?: string; appUrl?: string }) => {
      const port = Number(options.port);
      if (!Number.isInteger(port) || port < 0 || port > 65535)
        throw new UserError(`--port must be a port number, got "${options.port}"`);
      const [{ dashboard }, { reportDashboardStarted }] = await Promise.all([
        import("../commands/dashboard.js"),
        import("../report.js"),
      ]);
      const handle = await dashboard({ cwd: options.cwd, port, appUrl: options.jobsUrl ?? options.appUrl });
      const stopped = untilStopped();
      reportDashboardStarted(output, handle);
      await stopped;
      await handle.close();
      output.out(output.color.dim("qjobs dashboard stopped."));
    });
};
