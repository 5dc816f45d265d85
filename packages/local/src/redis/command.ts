import type { Keyspace } from "./keyspace.js";

/** A reply as Redis (RESP2) gives it: a string, an integer, nil, or an array of replies. */
export type Reply = string | number | null | Reply[];

/** What a command runs against: the keys, the time of the command, and where its writes are recorded. */
export interface Context {
  /** The command's time in ms since the epoch: one reading for the whole command, as Redis takes it. */
  readonly now: number;
  readonly keys: Keyspace;
  /** Records a write that changed something, in a form that replays to the same state at any later time. */
  wrote(command: string[]): void;
}

export interface Command {
  /** Redis's arity, counting the name: exactly this many when positive, at least `-arity` when negative. */
  arity: number;
  /** Runs on the arguments after the name; throws a RedisError for an error reply, before changing anything. */
  run(context: Context, args: string[]): Reply;
}

export type CommandTable = Record<string, Command>;

/** The argument at `index`, which the command's arity guarantees. */
export const arg = (args: string[], index: number) => args[index] as string;

/**
 * One applied write, as it can be replayed later: `command` in a form whose meaning does not depend on
 * when it runs (expiry times absolute, stream ids explicit), applied as if at `at` (ms since the epoch).
 */
export interface WriteRecord {
  at: number;
  command: string[];
}
