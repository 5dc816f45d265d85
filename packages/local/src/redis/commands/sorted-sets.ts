import { float, formatScore, integer, scoreBound } from "../arguments.js";
import { arg, type CommandTable, type Context, type Reply } from "../command.js";
import { RedisError, syntaxError } from "../errors.js";
import { type Scored, SortedSet } from "../sorted-set.js";

const ZADD_FLAGS = ["nx", "xx", "ch", "incr", "gt", "lt"];

/** ZADD, as Redis's zaddGenericCommand: options, then every score checked before anything is added. */
function zadd(context: Context, args: string[]): Reply {
  const key = arg(args, 0);
  const flags = new Set<string>();
  let at = 1;
  while (at < args.length && ZADD_FLAGS.includes(arg(args, at).toLowerCase())) flags.add(arg(args, at++).toLowerCase());
  const pairs = args.length - at;
  if (pairs === 0 || pairs % 2 === 1) throw syntaxError();
  const has = (flag: string) => flags.has(flag);
  if (has("nx") && has("xx")) throw new RedisError("ERR XX and NX options at the same time are not compatible");
  if ((has("gt") || has("lt")) && (has("nx") || (has("gt") && has("lt"))))
    throw new RedisError("ERR GT, LT, and/or NX options at the same time are not compatible");
  if (has("incr") && pairs > 2) throw new RedisError("ERR INCR option supports a single increment-element pair");
  const scores: number[] = [];
  for (let index = at; index < args.length; index += 2) scores.push(float(arg(args, index)));

  const existing = context.keys.read(key, "zset", context.now);
  if (!existing && has("xx")) return has("incr") ? null : 0;
  const set = existing ?? new SortedSet();
  let added = 0;
  let updated = 0;
  let last: number | null = null;
  scores.forEach((given, pair) => {
    const member = arg(args, at + pair * 2 + 1);
    const current = set.score(member);
    if (current === undefined) {
      if (has("xx")) return;
      set.set(member, given);
      added++;
      last = given;
      return;
    }
    if (has("nx")) return;
    const score = has("incr") ? current + given : given;
    if (Number.isNaN(score)) throw new RedisError("ERR resulting score is not a number (NaN)");
    if ((has("lt") && score >= current) || (has("gt") && score <= current)) return;
    last = score;
    if (score !== current) {
      set.set(member, score);
      updated++;
    }
  });
  if (!existing && set.size > 0) context.keys.put(key, { type: "zset", data: set }, context.now);
  if (added + updated > 0) context.wrote(["ZADD", ...args]);
  if (has("incr")) return last === null ? null : formatScore(last);
  return has("ch") ? added + updated : added;
}

/** ZRANGE and ZREVRANGE, as Redis's zrangeGenericCommand (by rank, or BYSCORE with REV and LIMIT). */
function zrange(context: Context, args: string[], reverseCommand: boolean): Reply {
  const key = arg(args, 0);
  let withScores = false;
  let offset = 0n;
  let limit = -1n;
  let reverse: boolean | undefined = reverseCommand ? true : undefined;
  let by: "rank" | "score" | "lex" | undefined = reverseCommand ? "rank" : undefined;
  for (let index = 3; index < args.length; index++) {
    const option = arg(args, index).toLowerCase();
    if (option === "withscores") withScores = true;
    else if (option === "limit" && index + 2 < args.length) {
      offset = integer(arg(args, index + 1));
      limit = integer(arg(args, index + 2));
      index += 2;
    } else if (reverse === undefined && option === "rev") reverse = true;
    else if (by === undefined && (option === "byscore" || option === "bylex"))
      by = option === "byscore" ? "score" : "lex";
    else throw syntaxError();
  }
  by ??= "rank";
  if (limit !== -1n && by === "rank")
    throw syntaxError("LIMIT is only supported in combination with either BYSCORE or BYLEX");
  if (withScores && by === "lex") throw syntaxError("WITHSCORES not supported in combination with BYLEX");
  if (by === "lex") throw new RedisError("ERR ZRANGE BYLEX is not supported by the local Redis of qjobs dev");

  // By score, REV takes the range as max then min.
  const [low, high] = reverse && by === "score" ? [arg(args, 2), arg(args, 1)] : [arg(args, 1), arg(args, 2)];
  let members: Scored[];
  if (by === "rank") {
    const start = integer(low);
    const stop = integer(high);
    const set = context.keys.read(key, "zset", context.now);
    members = set ? byRank(set, start, stop, reverse === true) : [];
  } else {
    const { min, max } = scoreRange([key, low, high]);
    const set = context.keys.read(key, "zset", context.now);
    // A negative offset, or one past the end, selects nothing; a negative limit means no limit.
    if (!set || offset < 0n || (offset > 0n && offset >= BigInt(set.size))) members = [];
    else {
      const all = set.byScore(min, max, reverse === true);
      members = all.slice(Number(offset), limit < 0n ? undefined : Number(offset + limit));
    }
  }
  return members.flatMap(({ member, score }) => (withScores ? [member, formatScore(score)] : [member]));
}

function byRank(set: SortedSet, start: bigint, stop: bigint, reverse: boolean): Scored[] {
  const length = BigInt(set.size);
  let first = start < 0n ? length + start : start;
  let last = stop < 0n ? length + stop : stop;
  if (first < 0n) first = 0n;
  if (first > last || first >= length) return [];
  if (last >= length) last = length - 1n;
  return set.byRank(Number(first), Number(last), reverse);
}

/** A ZCOUNT or ZREMRANGEBYSCORE range, refused as Redis refuses it before the key is looked at. */
function scoreRange(args: string[]) {
  const min = scoreBound(arg(args, 1));
  const max = scoreBound(arg(args, 2));
  if (!min || !max) throw new RedisError("ERR min or max is not a float");
  return { min, max };
}

export const sortedSetCommands: CommandTable = {
  zadd: { arity: -4, run: zadd },
  zrange: { arity: -4, run: (context, args) => zrange(context, args, false) },
  zrevrange: { arity: -4, run: (context, args) => zrange(context, args, true) },

  zrem: {
    arity: -3,
    run(context, args) {
      const key = arg(args, 0);
      const set = context.keys.read(key, "zset", context.now);
      if (!set) return 0;
      const removed = args.slice(1).filter((member) => set.remove(member)).length;
      if (set.size === 0) context.keys.delete(key);
      if (removed > 0) context.wrote(["ZREM", ...args]);
      return removed;
    },
  },

  zcount: {
    arity: 4,
    run({ keys, now }, args) {
      const { min, max } = scoreRange(args);
      return keys.read(arg(args, 0), "zset", now)?.byScore(min, max, false).length ?? 0;
    },
  },

  zremrangebyscore: {
    arity: 4,
    run(context, args) {
      const key = arg(args, 0);
      const { min, max } = scoreRange(args);
      const set = context.keys.read(key, "zset", context.now);
      if (!set) return 0;
      const removed = set.byScore(min, max, false).filter(({ member }) => set.remove(member)).length;
      if (set.size === 0) context.keys.delete(key);
      if (removed > 0) context.wrote(["ZREMRANGEBYSCORE", ...args]);
      return removed;
    },
  },

  zcard: {
    arity: 2,
    run: ({ keys, now }, args) => keys.read(arg(args, 0), "zset", now)?.size ?? 0,
  },

  zscore: {
    arity: 3,
    run({ keys, now }, args) {
      const score = keys.read(arg(args, 0), "zset", now)?.score(arg(args, 1));
      return score === undefined ? null : formatScore(score);
    },
  },
};
