import type { QStashState } from "./state.js";
import type { FlowState } from "./types.js";

/** The configuration deliveries of a key obey now: a pinned one, else the latest message's. */
export function effective(state: FlowState): { parallelism?: number; rate?: number; periodMs: number } {
  return {
    ...state.config,
    ...Object.fromEntries(Object.entries(state.pinned ?? {}).filter(([, value]) => value !== undefined)),
  };
}

/** Flow control: per-key parallelism and rate, which the API can pause, pin and reset. */
export class FlowControl {
  /** `wake` starts what a change lets go (the delivery's pump). */
  constructor(
    private readonly state: QStashState,
    private readonly wake: () => void,
  ) {}

  /** What QStash's `GET /v2/flowControl/{key}` tells, or undefined for a key never seen. */
  flowControlInfo(key: string) {
    const state = this.state.flows.get(key);
    if (!state) return undefined;
    const config = effective(state);
    const now = this.state.now();
    const starts = state.starts.filter((at) => at > now - config.periodMs);
    return {
      flowControlKey: key,
      waitListSize: this.state.waitingForFlow.get(key) ?? 0,
      parallelismMax: config.parallelism ?? 0,
      parallelismCount: state.active,
      rateMax: config.rate ?? 0,
      rateCount: starts.length,
      ratePeriod: config.periodMs / 1000,
      // Unix seconds, as QStash documents it.
      ratePeriodStart: Math.floor((starts[0] ?? state.periodStart) / 1000),
      isPaused: state.paused,
      isPinnedParallelism: state.pinned?.parallelism !== undefined,
      isPinnedRate: state.pinned?.rate !== undefined,
    };
  }

  flowControlKeys(): string[] {
    return [...this.state.flows.keys()];
  }

  /** Pauses, resumes, pins, unpins or resets a key's rate; false for a key never seen. */
  updateFlow(
    key: string,
    action: "pause" | "resume" | "pin" | "unpin" | "resetRate",
    values: { parallelism?: number; rate?: number; periodMs?: number } = {},
  ): boolean {
    const state = this.state.flows.get(key);
    if (!state) return false;
    if (action === "pause" || action === "resume") state.paused = action === "pause";
    // Pinning one setting leaves the other's pin as it was: each is unpinned on its own.
    else if (action === "pin")
      state.pinned = {
        ...state.pinned,
        ...Object.fromEntries(Object.entries(values).filter(([, value]) => value !== undefined)),
      };
    else if (action === "unpin") {
      const pinned = { ...state.pinned };
      if (values.parallelism !== undefined || (values.parallelism === undefined && values.rate === undefined))
        delete pinned.parallelism;
      if (values.rate !== undefined || (values.parallelism === undefined && values.rate === undefined)) {
        delete pinned.rate;
        delete pinned.periodMs;
      }
      state.pinned = Object.keys(pinned).length > 0 ? pinned : undefined;
    } else {
      state.starts = [];
      state.periodStart = this.state.now();
    }
    this.state.store.append({ k: "flow", f: { key, paused: state.paused, pinned: state.pinned } });
    this.wake();
    return true;
  }

  /** QStash's `GET /v2/globalParallelism`: how many deliveries may run at once, and how many do. */
  globalParallelism(): { parallelismMax: number; parallelismCount: number } {
    return { parallelismMax: this.state.concurrency, parallelismCount: this.state.active };
  }
}
