import { DEFAULT_MAX_DLQ, DEFAULT_MAX_DLQ_BYTES } from "./defaults.js";
import { type Filter, type Filterable, filterable, matches } from "./filters.js";
import { newestFirst, page } from "./paging.js";
import { dlqRecord } from "./records.js";
import type { QStashState } from "./state.js";
import type { DlqEntry, Page } from "./types.js";

/** The dead-letter queue: messages that failed for good, newest first, within a count and a byte bound. */
export class DeadLetters {
  constructor(private readonly state: QStashState) {}

  list(filter: Filter, count?: number, cursor?: string): Page<DlqEntry> {
    return page(newestFirst(this.state.dlq), (entry) => matches(filter, this.filterable(entry)), count, cursor);
  }

  private filterable(entry: DlqEntry): Filterable {
    return {
      ...filterable(entry.message, { dlqId: entry.dlqId }),
      responseStatus: entry.response.status,
    };
  }

  get(dlqId: string): DlqEntry | undefined {
    return this.state.dlq.get(dlqId);
  }

  delete(dlqId: string): boolean {
    if (!this.state.dlq.delete(dlqId)) return false;
    this.state.store.append({ k: "undlq", id: dlqId });
    return true;
  }

  /** Deletes a page of matching dead letters; the cursor says there are more. */
  deleteMatching(filter: Filter, count?: number, cursor?: string): { deleted: number; cursor?: string } {
    const chosen = this.list(filter, count, cursor);
    for (const entry of chosen.items) this.delete(entry.dlqId);
    return { deleted: chosen.items.length, ...(chosen.cursor ? { cursor: chosen.cursor } : {}) };
  }

  /** Keeps the dead-letter queue within its bounds (count and body bytes): the oldest entries go first. */
  add(entry: DlqEntry): void {
    this.state.dlq.set(entry.dlqId, entry);
    this.state.store.append(dlqRecord(entry));
    const maxCount = this.state.options.maxDlq ?? DEFAULT_MAX_DLQ;
    const maxBytes = this.state.options.maxDlqBytes ?? DEFAULT_MAX_DLQ_BYTES;
    let bytes = 0;
    for (const kept of this.state.dlq.values()) bytes += kept.message.body.length + kept.response.body.length;
    for (const [dlqId, oldest] of this.state.dlq) {
      if (this.state.dlq.size <= maxCount && bytes <= maxBytes) break;
      if (dlqId === entry.dlqId && this.state.dlq.size === 1) break; // one entry over the byte bound still stays
      bytes -= oldest.message.body.length + oldest.response.body.length;
      this.delete(dlqId);
    }
  }
}
