import { type ChildProcess, spawn, spawnSync } from "node:child_process";
import { once } from "node:events";
import { join } from "node:path";
import { spawnCli } from "./cli.js";
import { freePort, until } from "./processes.js";

// `next start` runs with NODE_ENV=production, where the public development keys are refused (by design): qjobs dev
// runs with keys of its own, as a production app would have.
export const NEXT_CREDENTIALS = {
  token: "next_app_token_0123456789",
  current: "sig_next_app_current_0123456789",
  next: "sig_next_app_next_0123456789",
};

const nextEnv = { ...process.env, NEXT_TELEMETRY_DISABLED: "1", NO_COLOR: "1" };
const nextBin = (app: string) => join(app, "node_modules", "next", "dist", "bin", "next");

/** `next build` in `app`, throwing with its output when it fails. */
export function buildNext(app: string, timeout: number): void {
  const build = spawnSync(process.execPath, [nextBin(app), "build"], {
    cwd: app,
    encoding: "utf8",
    env: nextEnv,
    timeout,
  });
  if (build.status !== 0) throw new Error(`next build failed:\n${build.stdout}\n${build.stderr}`);
}

export interface StartedNext {
  readonly appUrl: string;
  readonly qstashUrl: string;
  stop(): Promise<void>;
}

/**
 * `next start` of a built app beside a spawned `qjobs dev` (its QStash and its Redis stand-in, on free ports, with
 * NEXT_CREDENTIALS), the app given the variables that point at them, its run store included; resolves once both
 * answer.
 */
export async function startNext(app: string, env: Record<string, string> = {}): Promise<StartedNext> {
  const [qstashPort, redisPort, appPort] = [await freePort(), await freePort(), await freePort()];
  const qstashUrl = `http://127.0.0.1:${qstashPort}`;
  const redisUrl = `http://127.0.0.1:${redisPort}/redis`;
  const appUrl = `http://127.0.0.1:${appPort}`;
  const { token, current, next } = NEXT_CREDENTIALS;
  const keys = ["--token", token, "--current-signing-key", current, "--next-signing-key", next];
  spawnCli(["dev", "--port", String(qstashPort), "--redis-port", String(redisPort), "--quiet", ...keys], {
    lifetime: "file",
  });
  const server: ChildProcess = spawn(
    process.execPath,
    [nextBin(app), "start", "-p", String(appPort), "-H", "127.0.0.1"],
    {
      cwd: app,
      stdio: "ignore",
      env: {
        ...nextEnv,
        QSTASH_URL: qstashUrl,
        QSTASH_TOKEN: token,
        QSTASH_CURRENT_SIGNING_KEY: current,
        QSTASH_NEXT_SIGNING_KEY: next,
        QJOBS_URL: `${appUrl}/api/jobs`,
        QJOBS_REDIS_REST_URL: redisUrl,
        QJOBS_REDIS_REST_TOKEN: token,
        ...env,
      },
    },
  );
  const stop = async () => {
    if (server.exitCode !== null) return;
    const exited = once(server, "exit");
    server.kill("SIGTERM");
    const killer = setTimeout(() => server.kill("SIGKILL"), 10_000);
    await exited;
    clearTimeout(killer);
  };
  try {
    await until("next start", async () => ((await fetch(appUrl)).ok ? true : undefined), 60_000);
    await until("qjobs dev", async () =>
      (await fetch(`${qstashUrl}/v2/keys`, { headers: { authorization: `Bearer ${token}` } })).ok ? true : undefined,
    );
  } catch (error) {
    await stop();
    throw error;
  }
  return { appUrl, qstashUrl, stop };
}
