import { linkRunRetry, readRunStoreConfig } from "@qjobs/runtime";
import { MESSAGE_ID, RETRY_OF_FORWARD } from "./endpoints.js";
import type { RunsOptions } from "./runs.js";

/** What the proxy sends with a dead letter's Retry, and what it does with QStash's answer. */
export interface PreparedRetry {
  /** `Upstash-Forward-Qjobs-Retry-Of`, naming the dead letter's message; empty when QStash did not say which. */
  headers: Record<string, string>;
  /** Links the new message's run to the dead letter's when a run store is configured. Never throws. */
  answered: (status: number, answer: string) => Promise<void>;
}

/**
 * Before the page's "Retry" of a dead letter is forwarded: the dead letter's message id, asked of QStash. The retry
 * carries it as a forwarded header, so the new message names its original in QStash's logs (and to the app) with
 * or without a run store; with one, the runs are linked too (retryOf/retriedAs), so the old run follows to the new.
 * The proxy, not the page, says which message: the page sends no header with a retry. Best effort: a lookup that
 * fails never fails the retry.
 */
export async function prepareRetry(
  runs: RunsOptions,
  upstream: { url: string; token: string },
  dlqIdSegment: string,
): Promise<PreparedRetry> {
  let retried: string | undefined;
  try {
    const dlqId = decodeURIComponent(dlqIdSegment);
    const answer = await fetch(`${upstream.url.replace(/\/$/, "")}/v2/dlq/${encodeURIComponent(dlqId)}`, {
      headers: { authorization: `Bearer ${upstream.token}` },
      redirect: "manual",
      signal: AbortSignal.timeout(5000),
    });
    const messageId = answer.ok ? ((await answer.json()) as { messageId?: unknown }).messageId : undefined;
    if (typeof messageId === "string" && MESSAGE_ID.test(messageId)) retried = messageId;
  } catch {}
  if (retried === undefined) return { headers: {}, answered: async () => {} };
  const from = retried;
  return {
    headers: { [RETRY_OF_FORWARD]: from },
    answered: async (status, text) => {
      if (status < 200 || status >= 300) return;
      try {
        const env = runs.env();
        if (!readRunStoreConfig(env)) return;
        const retry = (JSON.parse(text) as { messageId?: unknown }).messageId;
        if (typeof retry === "string") await linkRunRetry(from, retry, env);
      } catch {}
    },
  };
}
