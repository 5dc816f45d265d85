import { RedisError, wrongType } from "./errors.js";
import type { SortedSet } from "./sorted-set.js";
import type { Stream } from "./stream.js";

/** What each Redis type the local Redis serves holds. */
interface DataOf {
  string: string;
  hash: Map<string, string>;
  stream: Stream;
  zset: SortedSet;
}

export type ValueType = keyof DataOf;
/** What a key holds. */
export type Value = { [T in ValueType]: { type: T; data: DataOf[T] } }[ValueType];
type Data<T extends ValueType> = DataOf[T];

/**
 * The keys and their expiry times. An expired key is gone for every reader from the millisecond it
 * expires (checked lazily on each access), and `sweep` frees the memory of keys nobody reads again.
 */
export class Keyspace {
  private readonly values = new Map<string, Value>();
  /** Absolute expiry (ms since the epoch) of each key that has one, in sweep order. */
  private readonly expiries = new Map<string, number>();

  constructor(private readonly maxKeys: number) {}

  /** The live value at `key`, dropping it first if it has expired. */
  get(key: string, now: number): Value | undefined {
    const expiresAt = this.expiries.get(key);
    if (expiresAt !== undefined && expiresAt <= now) this.delete(key);
    return this.values.get(key);
  }

  /** The value at `key` if it is of `type`; undefined if there is none; WRONGTYPE if it is another type. */
  read<T extends ValueType>(key: string, type: T, now: number): Data<T> | undefined {
    const value = this.get(key, now);
    if (value === undefined) return undefined;
    if (value.type !== type) throw wrongType();
    return value.data as Data<T>;
  }

  /** Like `read`, but creates an empty value of `type` when there is none. */
  readOrCreate<T extends ValueType>(key: string, type: T, now: number, create: () => Data<T>): Data<T> {
    const existing = this.read(key, type, now);
    if (existing !== undefined) return existing;
    const data = create();
    this.put(key, { type, data } as Value, now, true);
    return data;
  }

  /**
   * Stores `value` at `key`. A new key counts against the cap (an existing one is replaced in place);
   * its expiry goes unless `keepExpiry`, as SET does without KEEPTTL.
   */
  put(key: string, value: Value, now: number, keepExpiry = false): void {
    if (this.get(key, now) === undefined && this.values.size >= this.maxKeys) {
      throw new RedisError(
        `OOM command not allowed: the local Redis holds at most ${this.maxKeys} keys (MAX_KEYS); delete some or restart with a fresh state`,
      );
    }
    this.values.set(key, value);
    if (!keepExpiry) this.expiries.delete(key);
  }

  delete(key: string): boolean {
    this.expiries.delete(key);
    return this.values.delete(key);
  }

  /** The key's absolute expiry, or undefined if it has none (or does not exist). */
  expiry(key: string): number | undefined {
    return this.expiries.get(key);
  }

  /** Sets the key's absolute expiry (the key must exist). */
  expireAt(key: string, at: number): void {
    this.expiries.delete(key);
    this.expiries.set(key, at);
  }

  /** Removes the key's expiry: it lives until deleted. */
  persist(key: string): void {
    this.expiries.delete(key);
  }

  get size(): number {
    return this.values.size;
  }

  /** Every key that is live at `now`, with its value and expiry. */
  *live(now: number): Generator<{ key: string; value: Value; expiresAt: number | undefined }> {
    for (const [key, value] of this.values) {
      const expiresAt = this.expiries.get(key);
      if (expiresAt === undefined || expiresAt > now) yield { key, value, expiresAt };
    }
  }

  /**
   * Deletes expired keys, looking at no more than `budget` keys with an expiry, so one sweep stays
   * short however many keys there are; the ones looked at and kept move to the back of the line.
   */
  sweep(now: number, budget: number): number {
    const looked: [string, number][] = [];
    for (const entry of this.expiries) {
      if (looked.length >= budget) break;
      looked.push(entry);
    }
    let removed = 0;
    for (const [key, expiresAt] of looked) {
      if (expiresAt <= now) {
        this.delete(key);
        removed++;
      } else {
        this.expiries.delete(key);
        this.expiries.set(key, expiresAt);
      }
    }
    return removed;
  }
}
