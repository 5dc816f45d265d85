import type { QStashState } from "./state.js";
import type { Queue } from "./types.js";

/** Queues: FIFO lines of messages with their own parallelism, which can be paused. */
export class Queues {
  /** `wake` starts what a change lets go (the delivery's pump). */
  constructor(
    private readonly state: QStashState,
    private readonly wake: () => void,
  ) {}

  listQueues(): Queue[] {
    return [...this.state.queues.values()];
  }

  getQueue(name: string): Queue | undefined {
    return this.state.queues.get(name);
  }

  upsertQueue(name: string, update: { parallelism?: number; paused?: boolean }): Queue {
    const now = this.state.now();
    const queue = this.state.queues.get(name) ?? {
      name,
      parallelism: 1,
      paused: false,
      createdAt: now,
      updatedAt: now,
    };
    if (update.parallelism !== undefined) queue.parallelism = update.parallelism;
    if (update.paused !== undefined) queue.paused = update.paused;
    queue.updatedAt = now;
    this.state.queues.set(name, queue);
    this.state.store.append({ k: "queue", q: queue });
    this.wake();
    return queue;
  }

  deleteQueue(name: string): boolean {
    if (!this.state.queues.delete(name)) return false;
    this.state.store.append({ k: "unqueue", name });
    return true;
  }

  /** How many of a queue's messages wait (not being delivered). */
  queueLag(name: string): number {
    return this.state.waitingInQueue.get(name) ?? 0;
  }
}
