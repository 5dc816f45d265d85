// Runs (issue 18): the pure fold from a run's stored fields to its state, and the run store configuration.
import { describe, expect, it } from "vitest";
import { DEFAULT_RUN_RETENTION_SECONDS, readRunStoreConfig } from "../src/env.js";
import { ConfigurationError } from "../src/errors.js";
import { foldRun, jsonUnder, runErrorOf, runFields } from "../src/runs/model.js";

const key = "orders/import";
const base = { key, app: "a1", createdAt: "1000" };
const start = (attempt: number, at: number) => ({ [runFields.start(key)]: JSON.stringify({ attempt, at }) });
const fail = (attempt: number, at: number) => ({
  [runFields.fail(key)]: JSON.stringify({ attempt, at, error: { message: "boom" } }),
});
const end = (status: string, at: number, extra = {}) => ({
  [runFields.end(key)]: JSON.stringify({ status, at, ...extra }),
});

describe("foldRun: states only move forward", () => {
  it("no hash, or one without its create-only fields, is no run", () => {
    expect(foldRun("m", undefined)).toBeUndefined();
    expect(foldRun("m", { [runFields.end(key)]: "{}" })).toBeUndefined();
  });

  it("queued, running, retrying, running again, succeeded", () => {
    expect(foldRun("m", base)?.status).toBe("queued");
    expect(foldRun("m", { ...base, ...start(1, 2000) })).toMatchObject({ status: "running", attempt: 1 });
    expect(foldRun("m", { ...base, ...start(1, 2000), ...fail(1, 3000) })).toMatchObject({
      status: "retrying",
      error: { message: "boom" },
    });
    const again = foldRun("m", { ...base, ...start(2, 4000), ...fail(1, 3000) });
    expect(again).toMatchObject({ status: "running", attempt: 2 });
    expect(again?.error).toBeUndefined();
    const done = foldRun("m", {
      ...base,
      ...start(2, 4000),
      ...fail(1, 3000),
      ...end("succeeded", 5000, { result: 7 }),
    });
    expect(done).toMatchObject({ status: "succeeded", result: 7, finishedAt: new Date(5000).toISOString() });
    expect(done?.updatedAt).toBe(new Date(5000).toISOString());
  });

  it("a start recorded after the end (a duplicate delivery) leaves the run ended", () => {
    expect(foldRun("m", { ...base, ...end("succeeded", 5000, { result: 1 }), ...start(3, 6000) })?.status).toBe(
      "succeeded",
    );
  });

  it("fields written for another job key are inert: writes bind to the signed key", () => {
    const foreign = {
      [runFields.end("other/job")]: JSON.stringify({ status: "succeeded", at: 9000, result: "forged" }),
    };
    const run = foldRun("m", { ...base, ...start(1, 2000), ...foreign });
    expect(run).toMatchObject({ status: "running" });
    expect(run?.result).toBeUndefined();
  });

  it("a cancel asked for during an attempt closes the run when that attempt fails", () => {
    const running = foldRun("m", { ...base, ...start(1, 2000), [runFields.cancelRequested]: "2500" });
    expect(running).toMatchObject({ status: "running", cancelRequested: true });
    expect(
      foldRun("m", { ...base, ...start(1, 2000), [runFields.cancelRequested]: "2500", ...fail(1, 3000) })?.status,
    ).toBe("cancelled");
  });

  it("an unreadable field is ignored rather than thrown", () => {
    expect(foldRun("m", { ...base, [runFields.start(key)]: "{not json" })?.status).toBe("queued");
  });
});

describe("errors and caps", () => {
  it("an error keeps name and message, cut at 4 KiB, never the stack", () => {
    const error = runErrorOf(new TypeError("x".repeat(5000)), 500);
    expect(error.name).toBe("TypeError");
    expect(error.message.length).toBeLessThanOrEqual(4097);
    expect(error).not.toHaveProperty("stack");
  });
  it("a value over its cap, or not JSON, says why", () => {
    expect(jsonUnder("é".repeat(10), 15)).toEqual({ reason: "22 bytes of JSON, over the cap of 15" });
    const cyclic: Record<string, unknown> = {};
    cyclic.self = cyclic;
    expect(jsonUnder(cyclic, 100)).toHaveProperty("reason");
  });
});

describe("readRunStoreConfig: the first complete pair wins", () => {
  it("QJOBS_ before UPSTASH_ before KV_, with the retention", () => {
    const env = {
      QJOBS_REDIS_REST_URL: "https://qjobs.upstash.io",
      QJOBS_REDIS_REST_TOKEN: "q",
      UPSTASH_REDIS_REST_URL: "https://app.upstash.io",
      UPSTASH_REDIS_REST_TOKEN: "u",
    };
    expect(readRunStoreConfig(env)).toEqual({
      url: "https://qjobs.upstash.io",
      token: "q",
      retention: DEFAULT_RUN_RETENTION_SECONDS,
    });
    expect(
      readRunStoreConfig({
        KV_REST_API_URL: "https://kv.example",
        KV_REST_API_TOKEN: "k",
        QJOBS_RUN_RETENTION: "3600",
      }),
    ).toEqual({
      url: "https://kv.example",
      token: "k",
      retention: 3600,
    });
    expect(readRunStoreConfig({})).toBeUndefined();
  });

  it("half a pair is a configuration error naming the missing half", () => {
    const error = (() => {
      try {
        readRunStoreConfig({
          UPSTASH_REDIS_REST_URL: "https://app.upstash.io",
          KV_REST_API_URL: "x",
          KV_REST_API_TOKEN: "y",
        });
      } catch (thrown) {
        return thrown;
      }
    })();
    expect(error).toBeInstanceOf(ConfigurationError);
    expect((error as ConfigurationError).variables).toEqual(["UPSTASH_REDIS_REST_TOKEN"]);
  });

  it("a plain-http store only on a loopback address, and a retention in whole seconds", () => {
    expect(() =>
      readRunStoreConfig({ QJOBS_REDIS_REST_URL: "http://redis.example", QJOBS_REDIS_REST_TOKEN: "t" }),
    ).toThrow(/https/);
    expect(() =>
      readRunStoreConfig({
        QJOBS_REDIS_REST_URL: "https://r.example",
        QJOBS_REDIS_REST_TOKEN: "t",
        QJOBS_RUN_RETENTION: "7d",
      }),
    ).toThrow(/QJOBS_RUN_RETENTION/);
  });
});
