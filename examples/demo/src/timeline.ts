/** What the demo's jobs did, in order, for demo.mjs to print and check. */
export interface Run {
  key: string;
  attempt: number;
  outcome: "done" | "failed" | "gave up" | "hook";
  detail: string;
  at: number;
}

export const runs: Run[] = [];
const listeners = new Set<() => void>();

export function record(run: Omit<Run, "at">): void {
  runs.push({ ...run, at: Date.now() });
  for (const listener of listeners) listener();
}

/** Calls `listener` after every run recorded from now on. */
export function onRecord(listener: () => void): void {
  listeners.add(listener);
}

/** Resolves when `done()` holds, checking after every run; rejects after `timeoutMs`. */
export function until(done: () => boolean, timeoutMs: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const check = () => {
      if (!done()) return;
      listeners.delete(check);
      clearTimeout(timer);
      resolve();
    };
    const timer = setTimeout(() => {
      listeners.delete(check);
      reject(new Error(`gave up waiting after ${timeoutMs} ms`));
    }, timeoutMs);
    listeners.add(check);
    check();
  });
}
