import type { Clock } from "../time.js";
import type { Command, CommandTable, Context, Reply, WriteRecord } from "./command.js";
import { hashCommands } from "./commands/hashes.js";
import { keyCommands } from "./commands/keys.js";
import { sortedSetCommands } from "./commands/sorted-sets.js";
import { streamCommands } from "./commands/streams.js";
import { stringCommands } from "./commands/strings.js";
import { RedisError, unknownCommand, wrongArity } from "./errors.js";
import { Keyspace } from "./keyspace.js";
import { snapshotRecords } from "./snapshot.js";

export type { WriteRecord };

/** At most this many keys at once: a runaway loop in an app fills its terminal, not the machine's memory. */
export const MAX_KEYS = 100_000;
/** How often expired keys that nobody reads are freed, and how many keys with an expiry one sweep looks at. */
export const SWEEP_INTERVAL_MS = 1000;
export const SWEEP_BUDGET = 500;

const COMMANDS: CommandTable = {
  ...keyCommands,
  ...stringCommands,
  ...hashCommands,
  ...streamCommands,
  ...sortedSetCommands,
};

/** What a command answered: its reply, or Redis's error text. */
export type Outcome = { result: Reply } | { error: string };

export interface RedisGatewayOptions {
  clock: Clock;
  maxKeys?: number;
  /**
   * Told of each request's writes, in order, once applied and before the client is answered. A
   * transaction's writes come in one call: stored in one append, none of them survives a crash without the rest.
   */
  onWrite?: (records: WriteRecord[]) => void;
}

/**
 * The local stand-in for Upstash Redis: a keyspace of strings, hashes, streams and sorted sets that
 * answers commands exactly as Redis does, with no HTTP. Every write it applies is reported as a record,
 * and `restore` rebuilds the same keyspace from those records.
 *
 * Where it knowingly differs: values are text (what JSON carries), not arbitrary bytes; a hash lists its
 * fields in insertion order, as Redis does only for small hashes (up to 128 fields); scores print as the
 * shortest decimal that reads back (Redis 7.2 and later; 7.0 prints 17 digits for some fractions);
 * XADD MINID, XSETID's options and ZRANGE BYLEX answer an error saying they are not supported.
 */
export class RedisGateway {
  private readonly keys: Keyspace;
  private readonly clock: Clock;
  private readonly onWrite: ((records: WriteRecord[]) => void) | undefined;
  private stopSweeping: (() => void) | undefined;

  constructor(options: RedisGatewayOptions) {
    this.clock = options.clock;
    this.keys = new Keyspace(options.maxKeys ?? MAX_KEYS);
    this.onWrite = options.onWrite;
  }

  /** Runs one command. */
  execute(command: string[]): Outcome {
    return this.batch([command], false)[0] as Outcome;
  }

  /** Runs commands in order, each answered on its own, as Upstash's /pipeline does. */
  pipeline(commands: string[][]): Outcome[] {
    return this.batch(commands, false);
  }

  /**
   * Runs commands as one transaction (MULTI … EXEC): nothing runs between them, and if any is unknown or
   * has the wrong number of arguments none runs and the answer is that error. An error while running
   * (WRONGTYPE, say) answers that command alone, as in Redis; the others still apply.
   */
  transaction(commands: string[][]): Outcome[] | { error: string } {
    for (const command of commands) {
      const found = lookup(command);
      if (found instanceof RedisError) return { error: found.message };
    }
    return this.batch(commands, true);
  }

  /** Rebuilds the keyspace from records reported by `onWrite`, each applied at its own time. */
  restore(records: Iterable<WriteRecord>): void {
    let index = 0;
    for (const record of records) {
      // Each write runs at its own time, so a key that had expired by then is gone for it as it was live.
      const outcome = this.apply(record.command, { now: record.at, keys: this.keys, wrote: () => {} });
      if ("error" in outcome)
        throw new Error(`Redis write ${index} (${record.command[0]}) could not be replayed: ${outcome.error}`);
      index++;
    }
  }

  /**
   * The live keyspace as records, the fewest that `restore` needs to rebuild it (one per key, one per
   * stream entry): what a journal keeps when it compacts, instead of every write since the start.
   */
  snapshot(): WriteRecord[] {
    return snapshotRecords(this.keys, this.clock.now());
  }

  /** Frees expired keys now (bounded by SWEEP_BUDGET); returns how many went. */
  sweep(): number {
    return this.keys.sweep(this.clock.now(), SWEEP_BUDGET);
  }

  /** Starts sweeping expired keys every SWEEP_INTERVAL_MS on the clock. */
  start(): void {
    if (this.stopSweeping) return;
    const tick = () => {
      this.sweep();
      this.stopSweeping = this.clock.schedule(tick, SWEEP_INTERVAL_MS);
    };
    this.stopSweeping = this.clock.schedule(tick, SWEEP_INTERVAL_MS);
  }

  stop(): void {
    this.stopSweeping?.();
    this.stopSweeping = undefined;
  }

  /** How many keys are held (expired ones not yet swept included). */
  get size(): number {
    return this.keys.size;
  }

  /** Runs commands back to back, then reports their writes together. A transaction reads the clock once. */
  private batch(commands: string[][], oneTime: boolean): Outcome[] {
    const records: WriteRecord[] = [];
    const start = this.clock.now();
    try {
      return commands.map((command) => {
        const now = oneTime ? start : this.clock.now();
        const wrote = (written: string[]) => void records.push({ at: now, command: written });
        return this.apply(command, { now, keys: this.keys, wrote });
      });
    } finally {
      // Even if a command failed unexpectedly, what was applied before it is reported.
      if (records.length > 0) this.onWrite?.(records);
    }
  }

  private apply(command: string[], context: Context): Outcome {
    const found = lookup(command);
    if (found instanceof RedisError) return { error: found.message };
    try {
      return { result: found.spec.run(context, command.slice(1)) };
    } catch (error) {
      if (error instanceof RedisError) return { error: error.message };
      throw error;
    }
  }
}

/** The command to run, or why Redis would refuse to even queue it: unknown, or the wrong number of arguments. */
function lookup(command: string[]): { spec: Command } | RedisError {
  const [name, ...args] = command;
  if (name === undefined) return new RedisError("ERR empty command");
  const lower = name.toLowerCase();
  const spec = Object.hasOwn(COMMANDS, lower) ? COMMANDS[lower] : undefined;
  if (!spec) return unknownCommand(name, args);
  const count = command.length;
  if (spec.arity > 0 ? count !== spec.arity : count < -spec.arity) return wrongArity(lower);
  return { spec };
}
