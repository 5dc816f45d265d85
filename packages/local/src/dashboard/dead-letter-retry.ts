import { linkRunRetry, readRunStoreConfig } from "@qjobs/runtime";
import { MESSAGE_ID } from "./endpoints.js";
import type { RunsOptions } from "./runs.js";

/** The most retries a dashboard remembers; the oldest are forgotten first. */
const MAX_RETRY_LINKS = 10_000;

/** What a message is to the dashboard's retries: the dead letter a retry came from, the retries a message had. */
export interface RetryLinksView {
  retryOf?: string;
  retriedAs: string[];
}

/**
 * Which dead letter each Retry made through this dashboard came from, kept by the CLI for as long as it runs.
 * QStash's retry copies the message and names nothing: a header added to the retry could name the dead letter,
 * but QStash may take `Upstash-Forward-*` sent with a retry in place of the message's own forwarded headers (its
 * docs do not say), and a message that lost the Vercel bypass secret fails again. With a run store, the runs are
 * linked too, in the store (retryOf/retriedAs), where every dashboard and `getRun` sees them.
 */
export class RetryLinks {
  /** The retry's message id → the dead letter's, oldest first. */
  private readonly origins = new Map<string, string>();

  record(retried: string, retry: string): void {
    this.origins.set(retry, retried);
    if (this.origins.size > MAX_RETRY_LINKS) this.origins.delete(this.origins.keys().next().value as string);
  }

  of(messageId: string): RetryLinksView {
    const retryOf = this.origins.get(messageId);
    const retriedAs = [...this.origins].filter(([, from]) => from === messageId).map(([retry]) => retry);
    return { ...(retryOf ? { retryOf } : {}), retriedAs };
  }
}

/**
 * Before the page's "Retry" of a dead letter is forwarded: the dead letter's message id, asked of QStash. Returns
 * what to do with QStash's answer: note the new message as a retry of it, and link their runs when a store is
 * configured. Best effort: a lookup or a link that fails never fails the retry.
 */
export async function prepareRetry(
  runs: RunsOptions,
  links: RetryLinks,
  upstream: { url: string; token: string },
  dlqIdSegment: string,
): Promise<(status: number, answer: string) => Promise<void>> {
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
  const from = retried;
  if (from === undefined) return async () => {};
  return async (status, text) => {
    if (status < 200 || status >= 300) return;
    try {
      const retry = (JSON.parse(text) as { messageId?: unknown }).messageId;
      if (typeof retry !== "string" || !MESSAGE_ID.test(retry)) return;
      links.record(from, retry);
      const env = runs.env();
      if (readRunStoreConfig(env)) await linkRunRetry(from, retry, env);
    } catch {}
  };
}
