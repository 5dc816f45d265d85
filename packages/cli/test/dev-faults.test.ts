import { describe, expect, it } from "vitest";
import { startLocal } from "./dev-support.js";

/** A small deterministic generator, so a failing run can be replayed. */
function random(seed: number) {
  return () => {
    seed = (seed * 1_103_515_245 + 12_345) % 2 ** 31;
    return seed / 2 ** 31;
  };
}

describe("a fault run: nothing is lost", () => {
  it("1,000 messages to a destination that fails, hangs past the timeout and drops connections all end delivered or dead-lettered", async () => {
    const next = random(42);
    const answered = new Map<string, string[]>(); // message id → what each attempt got
    const { client, destination, engine } = await startLocal({
      respond: (delivery, response) => {
        const id = String(delivery.headers["upstash-message-id"]);
        const roll = next();
        const outcome =
          roll < 0.45
            ? "200"
            : roll < 0.65
              ? "500"
              : roll < 0.75
                ? "hang"
                : roll < 0.85
                  ? "drop"
                  : roll < 0.9
                    ? "489"
                    : "503";
        answered.set(id, [...(answered.get(id) ?? []), outcome]);
        if (outcome === "200") response.writeHead(200).end("ok");
        else if (outcome === "500" || outcome === "503") response.writeHead(Number(outcome)).end("failed");
        else if (outcome === "489")
          response.writeHead(489, { "upstash-nonretryable-error": "true" }).end("never again");
        else if (outcome === "drop") response.socket?.destroy();
        // "hang": never answer; the 1 s timeout ends the attempt
      },
    });

    const started = performance.now();
    const ids: string[] = [];
    for (let batch = 0; batch < 10; batch++) {
      const results = await client.batch(
        Array.from({ length: 100 }, (_, i) => ({
          url: `${destination.url}/faulty?n=${batch * 100 + i}`,
          body: "x",
          retries: 3,
          timeout: "1s" as const,
        })),
      );
      ids.push(...results.map((result) => (result as { messageId: string }).messageId));
    }
    await engine.idle();
    const seconds = (performance.now() - started) / 1000;

    // The engine's own record: each message's attempts and final state.
    const finalState = new Map<string, string>();
    const engineAttempts = new Map<string, number>();
    for (const event of engine.events) {
      if (event.state === "ACTIVE") engineAttempts.set(event.messageId, (engineAttempts.get(event.messageId) ?? 0) + 1);
      if (event.state === "DELIVERED" || event.state === "FAILED") finalState.set(event.messageId, event.state);
    }
    const dlq = new Set([...engine.dlq.values()].map((entry) => entry.message.messageId));
    const delivered = ids.filter((id) => finalState.get(id) === "DELIVERED");
    expect(new Set(ids).size).toBe(1000);
    expect(engine.messages.size).toBe(0); // nothing left in flight or waiting
    expect(delivered.length + dlq.size).toBe(1000);
    for (const id of ids) {
      const reached = answered.get(id) ?? []; // attempts that reached the destination (some time out connecting)
      const attempts = engineAttempts.get(id) ?? 0;
      expect(attempts, id).toBeGreaterThan(0);
      expect(attempts, id).toBeLessThanOrEqual(4);
      expect(reached.length, id).toBeLessThanOrEqual(attempts);
      // At least once, as QStash: a 200 that arrives after the attempt timed out is retried anyway, so a
      // dead-lettered message may have seen a 200, and a delivered one more than one.
      if (dlq.has(id)) {
        expect(finalState.get(id), id).toBe("FAILED");
        // (Arrival order at the app can differ from attempt order when a timed-out request is handled late.)
        expect(attempts === 4 || reached.includes("489"), `${id}: ${attempts} attempts, ${reached}`).toBe(true);
      } else {
        expect(finalState.get(id), id).toBe("DELIVERED");
        expect(reached, id).toContain("200");
      }
    }
    const attempts = [...engineAttempts.values()].reduce((sum, count) => sum + count, 0);
    console.log(
      `fault run: 1000 messages, ${attempts} attempts (${destination.deliveries.length} reached the destination), ${delivered.length} delivered, ${dlq.size} dead-lettered, ${seconds.toFixed(1)} s`,
    );
  }, 60_000);
});
