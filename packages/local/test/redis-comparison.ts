// The harness for comparing the local Redis with a real redis-server: the same command sequences sent to
// both, every reply (and every error, word for word) compared. Expiry is driven by the stand-in's clock and,
// on the real server, by waiting (polled, bounded) for keys given a few milliseconds to live.
import { afterAll, beforeAll, beforeEach, describe, expect, test } from "vitest";
import { until } from "../../../testkit/processes.js";
import type { Outcome } from "../src/redis/index.js";
import { type RealRedis, redisServerInstalled, type StandIn, startRealRedis, startStandIn } from "./redis-support.js";

/** A command (`"SET k v"`, split on spaces, or an array), a reply compared within `near`, or a wait for expiry. */
export type Step = string | string[] | { near: number; command: string } | { wait: number; gone: string[] };

/** Runs the steps on both and expects the same transcript: command by command, reply by reply. */
export type Compare = (steps: (now: number) => Step[]) => Promise<void>;

// Under CI the comparison must run (.ci/run installs redis-server); elsewhere it is skipped, saying why.
const requireRedis = process.env.CI === "true";

/** A suite of comparisons, against one redis-server emptied before each test. */
export function describeAgainstRealRedis(title: string, tests: (compare: Compare) => void): void {
  if (!redisServerInstalled && requireRedis) {
    // A failing test, not a failing hook, so the totals line counts it.
    describe(title, () => {
      test("redis-server is installed, as CI requires", () => {
        expect.fail("redis-server is missing: .ci/run installs it with apt-get install -y redis-server");
      });
    });
    return;
  }
  if (!redisServerInstalled) {
    console.warn(`redis-server is not installed: "${title}" is skipped (apt-get install -y redis-server)`);
    describe.skip(title, () => tests(async () => {}));
    return;
  }
  describe(title, () => {
    let real: { redis: RealRedis; stop: () => Promise<void> } | undefined;
    beforeAll(async () => {
      real = await startRealRedis();
    });
    afterAll(() => real?.stop());
    beforeEach(async () => {
      await real?.redis.send(["FLUSHALL"]);
    });

    const compare: Compare = async (steps) => {
      const redis = real as { redis: RealRedis };
      const now = Date.now();
      const standIn: StandIn = await startStandIn({ start: now });
      const expected: [string, Outcome][] = [];
      const actual: [string, Outcome][] = [];
      for (const step of steps(now)) {
        if (typeof step === "object" && "wait" in step) {
          standIn.clock.advance(step.wait);
          await until(`${step.gone.join(", ")} to expire on redis-server`, async () => {
            const left = await redis.redis.send(["EXISTS", ...step.gone]);
            return "result" in left && left.result === 0 ? true : undefined;
          });
          continue;
        }
        // The stand-in's time keeps up with the real server's, so absolute times (EXAT, PXAT) mean the same to both.
        standIn.clock.advance(Math.max(0, Date.now() - standIn.clock.now()));
        const text = typeof step === "object" && !Array.isArray(step) ? step.command : step;
        const command = Array.isArray(text) ? text : text.split(" ");
        const [fromRedis, fromStandIn] = [await redis.redis.send(command), await standIn.send(command)];
        const label = JSON.stringify(command);
        if (typeof step === "object" && "near" in step) {
          const [a, b] = [fromRedis, fromStandIn].map((outcome) => ("result" in outcome ? outcome.result : outcome));
          expect(
            typeof a === "number" && typeof b === "number" && Math.abs(a - b) <= step.near,
            `${label}: ${a} vs ${b}`,
          ).toBe(true);
          continue;
        }
        expected.push([label, fromRedis]);
        actual.push([label, fromStandIn]);
      }
      expect(actual).toEqual(expected);
    };

    tests(compare);
  });
}
