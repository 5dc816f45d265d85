// The state folder under attack and after accidents (issue 20, items 2, 9, 10 and 11): a checked-out repository
// decides what `.qjobs/` holds, other local users may read or race for it, and a crash may cut the journal.
import { type ChildProcess, spawn } from "node:child_process";
import { existsSync, readdirSync } from "node:fs";
import { chmod, lstat, mkdir, mkdtemp, readFile, rm, stat, symlink, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { pathToFileURL } from "node:url";
import { afterAll, afterEach, describe, expect, it } from "vitest";
import { openJournal } from "../../local/src/state.js";
import { localClient } from "./dev-support.js";
import { jobSource, repoRoot, runCli, spawnCli, tempProject } from "./support.js";

const folders: string[] = [];
afterAll(() => Promise.all(folders.splice(0).map((dir) => rm(dir, { recursive: true, force: true }))));
const privateTemp = async (prefix: string) => {
  const dir = await mkdtemp(join(tmpdir(), prefix));
  folders.push(dir);
  return dir;
};

/** A file outside the project that a planted link points at: it must never change. */
async function victim(): Promise<string> {
  const path = join(await privateTemp("qjobs-victim-"), "victim.txt");
  await writeFile(path, "IMPORTANT: not a journal\n");
  return path;
}

const untouched = async (path: string) => expect(await readFile(path, "utf8")).toBe("IMPORTANT: not a journal\n");

/** A journal line as qjobs dev writes it: a queue record (harmless, and it makes the start compact). */
const queueLine = JSON.stringify({
  k: "queue",
  q: { name: "q", parallelism: 1, paused: false, createdAt: 1, updatedAt: 1 },
});

/** `qjobs dev` on the project's default state folder; resolves with its result when it ends by itself. */
const devIn = (dir: string) => runCli(["dev", "--cwd", dir, "--port", "0", "--state-dir", ".qjobs/dev"]);
const startDev = async (dir: string, extra: string[] = []) => {
  const cli = spawnCli(["dev", "--cwd", dir, "--port", "0", "--state-dir", ".qjobs/dev", "--quiet", ...extra]);
  const [, url] = await cli.waitFor(/running at (http:\/\/127\.0\.0\.1:\d+)/);
  await cli.waitFor(/Ctrl-C stops/); // the whole banner, and the signal handler installed
  return { cli, client: localClient(url as string) };
};

describe("attack: a repository that commits links in .qjobs/ (item 2)", () => {
  it("journal link: qjobs dev refuses .qjobs/dev/journal.jsonl as a link and leaves its target alone", async () => {
    const target = await victim();
    const dir = await tempProject();
    await mkdir(join(dir, ".qjobs", "dev"), { recursive: true, mode: 0o700 });
    await symlink(target, join(dir, ".qjobs", "dev", "journal.jsonl"));
    const run = await devIn(dir);
    expect(run.code).toBe(1);
    expect(run.stderr).toMatch(/journal\.jsonl is a symbolic link/);
    await untouched(target);
  });

  it("tmp link: a committed journal.jsonl.tmp link is never written through, even when the start compacts", async () => {
    const target = await victim();
    const dir = await tempProject();
    await mkdir(join(dir, ".qjobs", "dev"), { recursive: true, mode: 0o700 });
    await writeFile(join(dir, ".qjobs", "dev", "journal.jsonl"), `${queueLine}\n`);
    await symlink(target, join(dir, ".qjobs", "dev", "journal.jsonl.tmp"));
    const { cli, client } = await startDev(dir);
    await client.publish({ url: "http://127.0.0.1:9/x", body: "{}", delay: 3600 });
    expect(await cli.stop()).toBe(0);
    await untouched(target);
    expect((await lstat(join(dir, ".qjobs", "dev", "journal.jsonl"))).isSymbolicLink()).toBe(false);
  });

  it(".qjobs/dev link: qjobs dev refuses a state folder that is a link, and writes nothing in its target", async () => {
    const elsewhere = await privateTemp("qjobs-elsewhere-");
    const dir = await tempProject();
    await mkdir(join(dir, ".qjobs"), { mode: 0o700 });
    await symlink(elsewhere, join(dir, ".qjobs", "dev"));
    const run = await devIn(dir);
    expect(run.code).toBe(1);
    expect(run.stderr).toMatch(/\.qjobs[/\\]dev is a symbolic link/);
    expect(readdirSync(elsewhere)).toEqual([]);
  });

  it(".qjobs link: qjobs dev refuses a .qjobs folder that is a link", async () => {
    const elsewhere = await privateTemp("qjobs-elsewhere-");
    const dir = await tempProject();
    await symlink(elsewhere, join(dir, ".qjobs"));
    const run = await devIn(dir);
    expect(run.code).toBe(1);
    expect(run.stderr).toMatch(/\.qjobs is a symbolic link/);
    expect(readdirSync(elsewhere)).toEqual([]);
  });

  it("lock link: qjobs dev refuses .qjobs/dev/lock as a link and leaves its target alone", async () => {
    const target = await victim();
    const dir = await tempProject();
    await mkdir(join(dir, ".qjobs", "dev"), { recursive: true, mode: 0o700 });
    await symlink(target, join(dir, ".qjobs", "dev", "lock"));
    const run = await devIn(dir);
    expect(run.code).toBe(1);
    expect(run.stderr).toMatch(/lock is a symbolic link/);
    await untouched(target);
  });

  it("cache link: qjobs generate refuses .qjobs/extract-cache.json as a link and leaves its target alone", async () => {
    const target = await victim();
    const dir = await tempProject({ "src/a.job.ts": jobSource("job", "a") });
    await mkdir(join(dir, ".qjobs"));
    await symlink(target, join(dir, ".qjobs", "extract-cache.json"));
    const run = await runCli(["generate", "--cwd", dir]);
    expect(run.code).toBe(1);
    expect(run.stderr).toMatch(/extract-cache\.json is a symbolic link/);
    await untouched(target);
  });

  it(".gitignore link: qjobs generate refuses .qjobs/.gitignore as a link and leaves its target alone", async () => {
    const target = await victim();
    const dir = await tempProject({ "src/a.job.ts": jobSource("job", "a") });
    await mkdir(join(dir, ".qjobs"));
    await symlink(target, join(dir, ".qjobs", ".gitignore"));
    const run = await runCli(["generate", "--cwd", dir]);
    expect(run.code).toBe(1);
    expect(run.stderr).toMatch(/\.gitignore is a symbolic link/);
    await untouched(target);
  });

  it(".gitignore link: qjobs dev refuses .qjobs/.gitignore as a link and leaves its target alone", async () => {
    const target = await victim();
    const dir = await tempProject();
    await mkdir(join(dir, ".qjobs"));
    await symlink(target, join(dir, ".qjobs", ".gitignore"));
    const run = await devIn(dir);
    expect(run.code).toBe(1);
    expect(run.stderr).toMatch(/\.gitignore is a symbolic link/);
    await untouched(target);
  });

  it.skipIf(process.platform === "win32")(
    "shared state folder: one that group or others may write is refused (they could plant links in it)",
    async () => {
      const state = await privateTemp("qjobs-shared-state-");
      await chmod(state, 0o777);
      const run = await runCli(["dev", "--port", "0", "--state-dir", state]);
      expect(run.code).toBe(1);
      expect(run.stderr).toMatch(/group or others may write it \(mode 777\)/);
      expect(readdirSync(state)).toEqual([]);
    },
  );
});

describe.skipIf(process.platform === "win32")("the state is private to the user (item 9)", () => {
  it("creates the folder 0700 and the journal and lock 0600", async () => {
    const dir = await tempProject();
    const { cli } = await startDev(dir);
    const state = join(dir, ".qjobs", "dev");
    expect((await stat(state)).mode & 0o777).toBe(0o700);
    expect((await stat(join(state, "journal.jsonl"))).mode & 0o777).toBe(0o600);
    expect((await stat(join(state, "lock"))).mode & 0o777).toBe(0o600);
    expect(await cli.stop()).toBe(0);
  });

  it("tightens a world-readable folder and journal at start, and says so once", async () => {
    const dir = await tempProject();
    const state = join(dir, ".qjobs", "dev");
    await mkdir(state, { recursive: true });
    await chmod(state, 0o755);
    await writeFile(join(state, "journal.jsonl"), `${queueLine}\n`, { mode: 0o644 });
    await chmod(join(state, "journal.jsonl"), 0o644);
    const first = await startDev(dir);
    expect(first.cli.output()).toMatch(/was readable by others: now private/);
    expect((await stat(state)).mode & 0o777).toBe(0o700);
    expect((await stat(join(state, "journal.jsonl"))).mode & 0o777).toBe(0o600);
    expect(await first.cli.stop()).toBe(0);
    const second = await startDev(dir);
    expect(second.cli.output()).not.toMatch(/readable by others/);
    expect(await second.cli.stop()).toBe(0);
  });
});

describe("a journal damaged by a crash or by hand (item 10)", () => {
  it("a journal holding only a cut line: publish, kill -9, restart, and the acknowledged message is still there", async () => {
    const dir = await tempProject();
    const state = join(dir, ".qjobs", "dev");
    await mkdir(state, { recursive: true, mode: 0o700 });
    await writeFile(join(state, "journal.jsonl"), '{"k":"msg","m":{"url":"http://127.0.0.1:9/cut', { mode: 0o600 });
    const first = await startDev(dir);
    expect(first.cli.output()).toMatch(/cut back to its last complete line/);
    const { messageId } = await first.client.publish({ url: "http://127.0.0.1:9/kept", body: "{}", delay: 3600 });
    first.cli.child.kill("SIGKILL");
    await first.cli.exited;
    const second = await startDev(dir);
    expect((await second.client.messages.get(messageId)).url).toBe("http://127.0.0.1:9/kept");
    expect(await second.cli.stop()).toBe(0);
  });

  it("a null line and lines that parse but are not records are skipped, reported by line number, and kept aside", async () => {
    const dir = await tempProject();
    const state = join(dir, ".qjobs", "dev");
    await mkdir(state, { recursive: true, mode: 0o700 });
    const lines = [
      queueLine,
      "null",
      JSON.stringify({ k: "schedule", s: { scheduleId: "s", cron: "not a cron" } }),
      JSON.stringify({ k: "msg" }),
      JSON.stringify({ k: "queue", q: { name: "kept", parallelism: 2, paused: true, createdAt: 1, updatedAt: 1 } }),
    ];
    const original = `${lines.join("\n")}\n`;
    await writeFile(join(state, "journal.jsonl"), original, { mode: 0o600 });
    const { cli, client } = await startDev(dir);
    const output = cli.output();
    expect(output).toMatch(/Journal line 2 is not a record/);
    expect(output).toMatch(/Journal line 3 is not a record \(s\.cron/);
    expect(output).toMatch(/Journal line 4 is not a record \(m:/);
    expect(output).not.toMatch(/Journal line [15] /);
    const [, aside] = output.match(/The journal as found is kept in (.+)/) ?? [];
    expect(await readFile(String(aside).trim(), "utf8")).toBe(original);
    expect((await client.queue({ queueName: "kept" }).get()).parallelism).toBe(2);
    expect(await cli.stop()).toBe(0);
  });

  it("attack: escape sequences in a committed journal's keys reach the report escaped, never raw", async () => {
    const dir = await tempProject();
    const state = join(dir, ".qjobs", "dev");
    await mkdir(state, { recursive: true, mode: 0o700 });
    const message = {
      messageId: "msg_1",
      url: "http://127.0.0.1:9/x",
      method: "POST",
      headers: { "\u001b[2J\u001b[31mfake": 5 },
      body: "",
      labels: [],
      callerIp: "127.0.0.1",
      createdAt: 1,
      dueAt: 1,
      delayMs: 0,
      retried: 0,
      maxRetries: 3,
      state: "CREATED",
    };
    await writeFile(join(state, "journal.jsonl"), `${JSON.stringify({ k: "msg", m: message })}\n`, { mode: 0o600 });
    const { cli } = await startDev(dir);
    expect(cli.output()).toMatch(/Journal line 1 is not a record \(m\.headers\..*fake/);
    expect(cli.output()).not.toContain("\u001b[2J");
    expect(await cli.stop()).toBe(0);
  });

  it("a journal whose last line was cut is cut back before the next record is appended", async () => {
    const dir = await privateTemp("qjobs-cut-");
    await writeFile(join(dir, "journal.jsonl"), `${queueLine}\n{"k":"que`, { mode: 0o600 });
    const journal = openJournal(dir, dir);
    expect(journal.notice.cut).toBe(true);
    expect(journal.records).toHaveLength(1);
    journal.store.append({ k: "unqueue", name: "q" });
    journal.store.close();
    expect(await readFile(join(dir, "journal.jsonl"), "utf8")).toBe(`${queueLine}\n{"k":"unqueue","name":"q"}\n`);
  });
});

/** A process that opens the journal in a folder when told, reports whether it got it, and keeps it. */
interface Racer {
  child: ChildProcess;
  next(): Promise<string>;
}

const storeModule = pathToFileURL(join(repoRoot, "packages", "local", "dist", "index.js")).href;
const racerSource = `
import { openJournal } from ${JSON.stringify(storeModule)};
import { createInterface } from "node:readline";
const held = [];
createInterface({ input: process.stdin }).on("line", (dir) => {
  try {
    held.push(openJournal(dir, dir));
    process.stdout.write("won\\n");
  } catch (error) {
    process.stdout.write(\`lost \${String(error.message).split("\\n")[0]}\\n\`);
  }
});
process.stdout.write("ready\\n");
`;

const racers: ChildProcess[] = [];
afterEach(() => {
  for (const child of racers.splice(0)) child.kill("SIGKILL");
});

function startRacer(): Racer {
  const child = spawn(process.execPath, ["--input-type=module", "-e", racerSource], {
    stdio: ["pipe", "pipe", "inherit"],
  });
  racers.push(child);
  const lines: string[] = [];
  const waiting: ((line: string) => void)[] = [];
  createInterface({ input: child.stdout as NodeJS.ReadableStream }).on("line", (line) => {
    const waiter = waiting.shift();
    if (waiter) waiter(line);
    else lines.push(line);
  });
  return {
    child,
    next: () => {
      const line = lines.shift();
      return line !== undefined ? Promise.resolve(line) : new Promise((resolve) => waiting.push(resolve));
    },
  };
}

/** A lock as a process that is gone left it (no process has a PID this large). */
const staleLock = JSON.stringify({ pid: 2 ** 30, start: "1", nonce: "left-by-a-crash" });

describe("the lock (item 11)", () => {
  it("two starts racing for a stale lock: exactly one takes the state, 25 times out of 25", async () => {
    const pair = [startRacer(), startRacer()];
    for (const racer of pair) expect(await racer.next()).toBe("ready");
    const outcomes: string[][] = [];
    for (let trial = 0; trial < 25; trial++) {
      const dir = await privateTemp("qjobs-race-");
      await writeFile(join(dir, "lock"), staleLock, { mode: 0o600 });
      for (const racer of pair) racer.child.stdin?.write(`${dir}\n`);
      outcomes.push(await Promise.all(pair.map((racer) => racer.next())));
    }
    const winners = outcomes.map((outcome) => outcome.filter((line) => line === "won").length);
    expect(winners).toEqual(Array(25).fill(1));
    for (const outcome of outcomes) expect(outcome.find((line) => line !== "won")).toMatch(/^lost Another qjobs dev/);
  }, 60_000);

  it.skipIf(!existsSync("/proc/self/stat"))(
    "a reused PID: a lock whose PID now belongs to a live unrelated process is taken over",
    async () => {
      const dir = await privateTemp("qjobs-reused-pid-");
      const crashed = startRacer();
      expect(await crashed.next()).toBe("ready");
      crashed.child.stdin?.write(`${dir}\n`);
      expect(await crashed.next()).toBe("won");
      crashed.child.kill("SIGKILL");
      await new Promise((resolve) => crashed.child.once("exit", resolve));
      // Its PID is reused by a live process that did not write the lock: this test's parent.
      const lock = await readFile(join(dir, "lock"), "utf8");
      await writeFile(join(dir, "lock"), lock.replace(String(crashed.child.pid), String(process.ppid)));
      const next = startRacer();
      expect(await next.next()).toBe("ready");
      next.child.stdin?.write(`${dir}\n`);
      expect(await next.next()).toBe("won");
    },
  );

  it("attack: a committed lock whose nonce is a path never makes the takeover replace or delete a file outside the state folder", async () => {
    const dir = await privateTemp("qjobs-lock-path-");
    // A committed folder `lock.a` makes `lock.a/../../` a way out of the state folder.
    await mkdir(join(dir, "state", "lock.a"), { recursive: true, mode: 0o700 });
    await writeFile(
      join(dir, "state", "lock"),
      JSON.stringify({ pid: 2 ** 30, start: "1", nonce: "a/../../escaped" }),
      {
        mode: 0o600,
      },
    );
    await writeFile(join(dir, "escaped.claim"), "precious");
    const racer = startRacer();
    expect(await racer.next()).toBe("ready");
    racer.child.stdin?.write(`${join(dir, "state")}\n`);
    expect(await racer.next()).toBe("won");
    expect(readdirSync(dir).sort()).toEqual(["escaped.claim", "state"]);
    expect(await readFile(join(dir, "escaped.claim"), "utf8")).toBe("precious");
  });

  it("a live owner keeps its lock: a second start is refused, naming its process", async () => {
    const dir = await privateTemp("qjobs-live-lock-");
    const [first, second] = [startRacer(), startRacer()];
    for (const racer of [first, second]) expect(await racer?.next()).toBe("ready");
    first?.child.stdin?.write(`${dir}\n`);
    expect(await first?.next()).toBe("won");
    second?.child.stdin?.write(`${dir}\n`);
    expect(await second?.next()).toBe(
      `lost Another qjobs dev (process ${first?.child.pid}) is using the state in ${dir}. Stop it, or give this one --state-dir.`,
    );
  });
});

describe("a --state-dir outside the project", () => {
  it("is created with its missing parents, private", async () => {
    const state = join(await privateTemp("qjobs-elsewhere-"), "a", "b", "state");
    const cli = spawnCli(["dev", "--port", "0", "--state-dir", state, "--quiet"]);
    await cli.waitFor(/Ctrl-C stops/);
    expect(existsSync(join(state, "journal.jsonl"))).toBe(true);
    if (process.platform !== "win32") expect((await stat(state)).mode & 0o777).toBe(0o700);
    expect(await cli.stop()).toBe(0);
  });
});
