// Run tokens (issue 19): an HMAC of its own domain, for one run of one app, expiring; minted by the dispatcher
// onto run handles and by runToken on a server.
import { describe, expect, it, vi } from "vitest";
import { useCaptureQStash } from "../../../testkit/capture-server.js";
import { ConfigurationError, createDispatch, createRuns, DEV_CREDENTIALS } from "../src/index.js";
import { checkRunToken, mintRunToken, readRunTokenKeys } from "../src/runs/token.js";
import { sha256 } from "../src/sha256.js";

const jobsUrl = "https://app.example.com/api/jobs";
const url = new URL(jobsUrl);
const keysA = { QSTASH_CURRENT_SIGNING_KEY: "sig_current_a", QSTASH_NEXT_SIGNING_KEY: "sig_next_a" };
const SECRET = "s".repeat(32);

const keysOf = async (env: Record<string, string>, at: URL = url) => {
  const keys = await readRunTokenKeys(env, at);
  if (!keys) throw new Error("no keys");
  return keys;
};

describe("a run token reads one run of one app, until it expires", () => {
  it("derives the keys from the signing keys once, not at every dispatch", async () => {
    const env = { QSTASH_CURRENT_SIGNING_KEY: "sig_once_current", QSTASH_NEXT_SIGNING_KEY: "sig_once_next" };
    const derive = vi.spyOn(sha256, "signHmac");
    try {
      const first = await keysOf(env);
      const again = await keysOf(env);
      expect(again).toEqual(first);
      expect(derive).toHaveBeenCalledTimes(2); // one for each signing key, the first time only
    } finally {
      derive.mockRestore();
    }
  });

  it("a token minted for a run is valid for that run", async () => {
    const keys = await keysOf(keysA);
    const token = await mintRunToken(keys, jobsUrl, "msg_1");
    expect(token).toMatch(/^v1\.\d{10}\.[A-Za-z0-9_-]{43}$/);
    expect(await checkRunToken(keys, jobsUrl, "msg_1", token)).toBe("valid");
  });

  it("an expired token is told apart only when its MAC holds", async () => {
    const keys = await keysOf(keysA);
    const token = await mintRunToken(keys, jobsUrl, "msg_1", 60, Date.now() - 120_000);
    expect(await checkRunToken(keys, jobsUrl, "msg_1", token)).toBe("expired");
    // Moving the expiry forward breaks the MAC: a forged token is never "expired", only invalid.
    const [, expiry, mac] = token.split(".");
    expect(await checkRunToken(keys, jobsUrl, "msg_1", `v1.${Number(expiry) + 3600}.${mac}`)).toBe("invalid");
  });

  it("attack: a tampered, truncated or re-spelled token is invalid", async () => {
    const keys = await keysOf(keysA);
    const token = await mintRunToken(keys, jobsUrl, "msg_1");
    const flip = (text: string, at: number) => text.slice(0, at) + (text[at] === "A" ? "B" : "A") + text.slice(at + 1);
    expect(await checkRunToken(keys, jobsUrl, "msg_1", flip(token, 20))).toBe("invalid");
    expect(await checkRunToken(keys, jobsUrl, "msg_1", token.slice(0, -1))).toBe("invalid");
    expect(await checkRunToken(keys, jobsUrl, "msg_1", `${token}A`)).toBe("invalid");
    expect(await checkRunToken(keys, jobsUrl, "msg_1", token.replace("v1.", "v2."))).toBe("invalid");
    // The last base64url character carries two spare bits: another spelling of the same MAC is refused.
    const last = token.at(-1) as string;
    const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    const respelled = `${token.slice(0, -1)}${alphabet[alphabet.indexOf(last) + 1]}`;
    expect(await checkRunToken(keys, jobsUrl, "msg_1", respelled)).toBe("invalid");
  });

  it("attack: a token for another run does not read this one", async () => {
    const keys = await keysOf(keysA);
    const token = await mintRunToken(keys, jobsUrl, "msg_other");
    expect(await checkRunToken(keys, jobsUrl, "msg_1", token)).toBe("invalid");
  });

  it("attack: a token for the right id from another app (same QStash keys) is invalid here", async () => {
    const keys = await keysOf(keysA);
    const token = await mintRunToken(keys, "https://other.example.com/api/jobs", "msg_1");
    expect(await checkRunToken(keys, jobsUrl, "msg_1", token)).toBe("invalid");
  });

  it("attack: a token minted with other keys is invalid", async () => {
    const other = await keysOf({ QSTASH_CURRENT_SIGNING_KEY: "sig_current_b", QSTASH_NEXT_SIGNING_KEY: "sig_next_b" });
    const token = await mintRunToken(other, jobsUrl, "msg_1");
    expect(await checkRunToken(await keysOf(keysA), jobsUrl, "msg_1", token)).toBe("invalid");
  });

  it("a token survives one rotation of the QStash signing keys, not two", async () => {
    const token = await mintRunToken(await keysOf(keysA), jobsUrl, "msg_1");
    // QStash's rotation: the next key becomes the current one, and a new next key appears.
    const once = { QSTASH_CURRENT_SIGNING_KEY: keysA.QSTASH_NEXT_SIGNING_KEY, QSTASH_NEXT_SIGNING_KEY: "sig_next_c" };
    expect(await checkRunToken(await keysOf(once), jobsUrl, "msg_1", token)).toBe("valid");
    const twice = { QSTASH_CURRENT_SIGNING_KEY: "sig_next_c", QSTASH_NEXT_SIGNING_KEY: "sig_next_d" };
    expect(await checkRunToken(await keysOf(twice), jobsUrl, "msg_1", token)).toBe("invalid");
  });

  it("QJOBS_RUN_TOKEN_SECRET, when set, is the only key: tokens derived from the signing keys are refused", async () => {
    const withSecret = await keysOf({ ...keysA, QJOBS_RUN_TOKEN_SECRET: SECRET });
    const derived = await mintRunToken(await keysOf(keysA), jobsUrl, "msg_1");
    expect(await checkRunToken(withSecret, jobsUrl, "msg_1", derived)).toBe("invalid");
    const token = await mintRunToken(withSecret, jobsUrl, "msg_1");
    expect(await checkRunToken(withSecret, jobsUrl, "msg_1", token)).toBe("valid");
    expect(await checkRunToken(await keysOf(keysA), jobsUrl, "msg_1", token)).toBe("invalid");
  });

  it("a short QJOBS_RUN_TOKEN_SECRET is a configuration error naming it", async () => {
    await expect(readRunTokenKeys({ QJOBS_RUN_TOKEN_SECRET: "short" }, url)).rejects.toMatchObject({
      variables: ["QJOBS_RUN_TOKEN_SECRET"],
    });
  });

  it("attack: tokens derived from the public development keys are refused outside local use", async () => {
    const dev = {
      QSTASH_CURRENT_SIGNING_KEY: DEV_CREDENTIALS.currentSigningKey,
      QSTASH_NEXT_SIGNING_KEY: DEV_CREDENTIALS.nextSigningKey,
    };
    await expect(readRunTokenKeys({ ...dev, NODE_ENV: "production" }, url)).rejects.toBeInstanceOf(ConfigurationError);
    // Local use (a loopback jobs URL) accepts them, as deliveries are.
    expect(await readRunTokenKeys(dev, new URL("http://127.0.0.1:3000/api/jobs"))).toBeDefined();
    // A secret of the app's own is not public: accepted anywhere.
    expect(await readRunTokenKeys({ ...dev, QJOBS_RUN_TOKEN_SECRET: SECRET }, url)).toBeDefined();
  });
});

describe("run handles carry a token the dispatcher mints", () => {
  useCaptureQStash({ jobsUrl, env: keysA });
  const { dispatch, dispatchMany } = createDispatch({ "mail/send": {} });
  const { runToken } = createRuns();

  it("dispatch: the handle's token reads its run for 24 h, and survives JSON (a server action's return)", async () => {
    const before = Math.floor(Date.now() / 1000);
    const handle = JSON.parse(JSON.stringify(await dispatch("mail/send", undefined)));
    expect(handle).toMatchObject({ key: "mail/send", route: "/api/jobs", token: expect.any(String) });
    expect(await checkRunToken(await keysOf(keysA), jobsUrl, handle.id, handle.token)).toBe("valid");
    const expiry = Number(handle.token.split(".")[1]);
    expect(expiry - before).toBeGreaterThanOrEqual(24 * 3600);
    expect(expiry - before).toBeLessThan(24 * 3600 + 5);
  });

  it("tokenExpiresIn per dispatch sets the token's life; dispatchMany mints one per run", async () => {
    const before = Math.floor(Date.now() / 1000);
    const handle = await dispatch("mail/send", undefined, { tokenExpiresIn: "10m" });
    expect(Number(handle.token?.split(".")[1]) - before).toBeLessThan(600 + 5);
    const many = await dispatchMany("mail/send", [undefined, undefined]);
    for (const each of many)
      expect(await checkRunToken(await keysOf(keysA), jobsUrl, each.id, each.token as string)).toBe("valid");
  });

  it("runToken mints for a handle or an id with expiresIn; a bad duration is refused by name", async () => {
    const token = await runToken("msg_42", { expiresIn: 60 });
    expect(await checkRunToken(await keysOf(keysA), jobsUrl, "msg_42", token)).toBe("valid");
    await expect(runToken("msg_42", { expiresIn: -1 })).rejects.toThrow(/expiresIn/);
  });

  it("runToken reads the env given to createRuns, not process.env (the dashboard's env files)", async () => {
    const other = "https://other.example.com/api/jobs";
    const env = () => ({ QJOBS_URL: other, QJOBS_RUN_TOKEN_SECRET: SECRET });
    const token = await createRuns({ env }).runToken("msg_7");
    const keys = await keysOf({ QJOBS_RUN_TOKEN_SECRET: SECRET });
    expect(await checkRunToken(keys, other, "msg_7", token)).toBe("valid");
  });
});
