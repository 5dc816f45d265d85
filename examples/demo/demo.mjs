// The end-to-end demo: `qjobs dev` (the local QStash) and a small Node app that mounts the generated
// jobs route; real jobs are dispatched through @qjobs/runtime and QStash's real SDK, delivered signed,
// retried, delayed and dead-lettered, their runs recorded in the local Upstash Redis stand-in and one of them
// followed to its result. Prints a timeline; exits 0 only if every outcome was as expected.
import { spawn } from "node:child_process";
import { fileURLToPath } from "node:url";
import { stripVTControlCharacters } from "node:util";
import { Client } from "@upstash/qstash";
import pc from "picocolors";

const here = fileURLToPath(new URL(".", import.meta.url));
const color = pc.createColors(Boolean(process.stdout.isTTY) && !("NO_COLOR" in process.env));
const started = Date.now();
const stamp = () => color.dim(`+${String(Date.now() - started).padStart(5)} ms`);
const say = (source, line) =>
  console.log(`${stamp()}  ${source === "qstash" ? color.magenta("qstash") : color.cyan("app   ")} │ ${line}`);

/**
 * Starts `qjobs dev` on a free port and resolves with its URL and its Redis stand-in's (the run store) once its
 * banner has printed both.
 */
function startQStash() {
  const child = spawn(
    process.execPath,
    [fileURLToPath(new URL("../../packages/cli/dist/bin.js", import.meta.url)), "dev", "--port", "0", "--fresh"],
    {
      cwd: here,
      env: {
        ...process.env,
        FORCE_COLOR: color.isColorSupported ? "1" : undefined,
        NO_COLOR: color.isColorSupported ? undefined : "1",
      },
      stdio: ["ignore", "pipe", "inherit"],
    },
  );
  return new Promise((resolve, reject) => {
    let buffered = "";
    let url;
    let redisUrl;
    child.stdout.setEncoding("utf8");
    child.stdout.on("data", (text) => {
      buffered += text;
      const lines = buffered.split("\n");
      buffered = lines.pop() ?? "";
      for (const line of lines) {
        const plain = stripVTControlCharacters(line);
        const match = /running at (?:\S*)(http:\/\/127\.0\.0\.1:\d+)/.exec(plain);
        const redis = /QJOBS_REDIS_REST_URL=(\S+)/.exec(plain);
        if (match && !url) {
          url = match[1];
          say("qstash", `qjobs dev is running at ${url}`);
        } else if (redis && !redisUrl) {
          redisUrl = redis[1];
          say("qstash", `its local Redis, the run store, at ${redisUrl}`);
          resolve({ url, redisUrl, child });
        } else if (redisUrl && /#\d+/.test(line)) say("qstash", line.trim());
      }
    });
    child.once("exit", (code) => reject(new Error(`qjobs dev exited with ${code}`)));
  });
}

const { url: qstashUrl, redisUrl, child } = await startQStash();
const { startApp } = await import("./dist/app.js");
const app = await startApp();
// qjobs dev's public development credentials: its QStash and its Redis stand-in both take the token.
const { DEV_CREDENTIALS } = await import("@qjobs/runtime");
const devToken = DEV_CREDENTIALS.token;
Object.assign(process.env, {
  QSTASH_URL: qstashUrl,
  QSTASH_TOKEN: devToken,
  QSTASH_CURRENT_SIGNING_KEY: DEV_CREDENTIALS.currentSigningKey,
  QSTASH_NEXT_SIGNING_KEY: DEV_CREDENTIALS.nextSigningKey,
  QJOBS_URL: `${app.url}/api/jobs`,
  QJOBS_REDIS_REST_URL: redisUrl,
  QJOBS_REDIS_REST_TOKEN: devToken,
});
say("app", `the app serves the jobs route at ${process.env.QJOBS_URL}`);

const { runs, until, onRecord } = await import("./dist/timeline.js");
// The route logs failures with console.error/warn: show them in the timeline, one dim line each.
for (const level of ["error", "warn"])
  console[level] = (...args) =>
    say("app", color.dim(args.map((arg) => (arg instanceof Error ? arg.message : String(arg))).join(" ")));
const { welcomeEmail } = await import("./dist/jobs/welcome-email.job.js");
const { syncContacts } = await import("./dist/jobs/sync-contacts.job.js");
const { chargeCard } = await import("./dist/jobs/charge-card.job.js");
const { sendReminder } = await import("./dist/jobs/send-reminder.job.js");
const { resizeImage } = await import("./dist/jobs/resize-image.job.js");

let exitCode = 1;
try {
  const printed = new Set();
  const printRuns = () => {
    for (const run of runs) {
      if (printed.has(run)) continue;
      printed.add(run);
      const mark =
        run.outcome === "done"
          ? color.green("✓")
          : run.outcome === "failed"
            ? color.yellow("↻")
            : run.outcome === "hook"
              ? color.cyan("⚑")
              : color.red("✗");
      say("app", `${mark} ${run.key} (attempt ${run.attempt}): ${run.detail}`);
    }
  };
  onRecord(printRuns);
  const dispatched = (what, result) =>
    say(
      "app",
      `dispatched ${what} → ${Array.isArray(result) ? result.map((r) => r.messageId).join(", ") : result.messageId}`,
    );

  dispatched("welcome-email", await welcomeEmail.dispatch({ userId: "u_42" }));
  const syncRun = await syncContacts.dispatch({ accountId: 7 });
  dispatched("crm/sync-contacts", syncRun);
  // Follow that run, as an app would: each change of status on the timeline, then its result.
  const { createRuns } = await import("@qjobs/runtime");
  const followed = createRuns().waitForRun(syncRun, {
    timeout: 20,
    onUpdate: (run) =>
      say("app", color.dim(`run ${run.id} of ${run.key}: ${run.status}${run.error ? ` (${run.error.message})` : ""}`)),
  });
  dispatched("billing/charge-card", await chargeCard.dispatch({ orderId: "o_1001", cents: 4999 }));
  dispatched("send-reminder with a 2 s delay", await sendReminder.dispatch({ dispatchedAt: Date.now() }, { delay: 2 }));
  dispatched(
    "images/resize x3 in one batch",
    await resizeImage.dispatchMany(
      [1, 2, 3].map((n) => ({ url: `https://example.com/photo-${n}.png`, width: 320 * n })),
    ),
  );

  const count = (key, outcome) => runs.filter((run) => run.key === key && run.outcome === outcome).length;
  const expected = [
    ["welcome-email ran once", () => count("welcome-email", "done") === 1],
    [
      "crm/sync-contacts failed once, then succeeded on its retry",
      () => count("crm/sync-contacts", "failed") === 1 && count("crm/sync-contacts", "done") === 1,
    ],
    ["billing/charge-card gave up without retrying", () => count("billing/charge-card", "gave up") === 1],
    ["billing/charge-card's onFailure ran once", () => count("billing/charge-card", "hook") === 1],
    [
      "send-reminder ran after its delay",
      () => runs.some((run) => run.key === "send-reminder" && Number(run.detail.match(/([\d.]+) s/)?.[1]) >= 2),
    ],
    ["images/resize ran for all 3 images", () => count("images/resize", "done") === 3],
  ];
  await until(() => expected.every(([, check]) => check()), 25_000).catch(() => undefined);
  const ended = await followed;
  say("app", `the run of crm/sync-contacts ended ${ended?.status}, with the result ${JSON.stringify(ended?.result)}`);
  expected.push([
    "crm/sync-contacts's run was followed to its result",
    () => ended?.status === "succeeded" && ended.attempt === 2 && ended.result?.synced === 7,
  ]);

  const qstash = new Client({
    baseUrl: qstashUrl,
    token: process.env.QSTASH_TOKEN,
    devMode: false,
    enableTelemetry: false,
  });
  const { messages } = await qstash.dlq.listMessages();
  const dead = messages.filter((message) => message.url.includes("job=billing%2Fcharge-card"));
  expected.push([
    "the declined charge is in the dead-letter queue, and nothing else",
    () => dead.length === 1 && messages.length === 1,
  ]);
  await new Promise((resolve) => setTimeout(resolve, 200)); // let the last log lines of qjobs dev arrive

  console.log("");
  let failures = 0;
  for (const [what, check] of expected) {
    const ok = check();
    if (!ok) failures++;
    console.log(`${ok ? color.green("✓") : color.red("✗")} ${what}`);
  }
  console.log(
    failures === 0
      ? color.green(`\ndemo ok in ${((Date.now() - started) / 1000).toFixed(1)} s`)
      : color.red(`\ndemo FAILED: ${failures} outcome(s) not as expected`),
  );
  exitCode = failures === 0 ? 0 : 1;
} finally {
  child.kill("SIGINT");
  app.server.closeAllConnections();
  app.server.close();
}
process.exitCode = exitCode;
