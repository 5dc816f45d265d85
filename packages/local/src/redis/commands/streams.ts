import { integer, isOption } from "../arguments.js";
import { arg, type CommandTable, type Context, type Reply } from "../command.js";
import { RedisError, syntaxError, wrongArity } from "../errors.js";
import { compareIds, formatId, parseId, parseIntervalEnd, Stream, type StreamId, UINT64_MAX } from "../stream.js";

/** Without LIMIT, `~` trims at most this many entries per XADD (Redis: 100 × stream-node-max-entries). */
const DEFAULT_APPROXIMATE_LIMIT = 10_000n;

interface AddArguments {
  trim?: { maxlen: bigint; approximate: boolean; limit: bigint };
  noMakeStream: boolean;
  requested?: { id: StreamId; seqGiven: boolean };
  /** Index of the first field. */
  fieldsAt: number;
}

/** XADD's options and id, as Redis's streamParseAddOrTrimArgsOrReply reads them. */
function addArguments(args: string[]): AddArguments {
  let trim: { maxlen: bigint; approximate: boolean } | undefined;
  let limit: bigint | undefined;
  let noMakeStream = false;
  let requested: AddArguments["requested"];
  let index = 1;
  for (; index < args.length; index++) {
    const option = arg(args, index);
    const more = args.length - 1 - index;
    if (option === "*") break;
    if (isOption(option, "maxlen") && more > 0) {
      if (trim) throw syntaxError("MAXLEN and MINID options at the same time are not compatible");
      const next = args[index + 1];
      const approximate = more >= 2 && next === "~";
      if (more >= 2 && (next === "~" || next === "=")) index++;
      const maxlen = integer(arg(args, index + 1));
      if (maxlen < 0n) throw new RedisError("ERR The MAXLEN argument must be >= 0.");
      index++;
      trim = { maxlen, approximate };
    } else if (isOption(option, "minid") && more > 0) {
      throw new RedisError("ERR XADD MINID is not supported by the local Redis of qjobs dev (use MAXLEN)");
    } else if (isOption(option, "limit") && more > 0) {
      limit = integer(arg(args, index + 1));
      if (limit < 0n) throw new RedisError("ERR The LIMIT argument must be >= 0.");
      index++;
    } else if (isOption(option, "nomkstream")) {
      noMakeStream = true;
    } else {
      requested = parseId(option, { strict: true, autoSeq: true });
      break;
    }
  }
  if (limit && !trim) throw syntaxError("LIMIT cannot be used without specifying a trimming strategy");
  if (limit !== undefined && !trim?.approximate) throw syntaxError("LIMIT cannot be used without the special ~ option");
  const trimLimit = trim?.approximate ? (limit ?? DEFAULT_APPROXIMATE_LIMIT) : 0n;
  return {
    ...(trim ? { trim: { ...trim, limit: trimLimit } } : {}),
    noMakeStream,
    ...(requested ? { requested } : {}),
    fieldsAt: index + 1,
  };
}

function range(reverse: boolean) {
  return {
    arity: -4,
    run({ keys, now }: Context, args: string[]): Reply {
      const [first, second] = [arg(args, 1), arg(args, 2)];
      const start = parseIntervalEnd(reverse ? second : first, "start");
      const end = parseIntervalEnd(reverse ? first : second, "end");
      let count = -1n;
      for (let index = 3; index < args.length; index++) {
        if (!isOption(args[index], "count") || index + 1 >= args.length) throw syntaxError();
        count = integer(arg(args, index + 1));
        if (count < 0n) count = 0n;
        index++;
      }
      // COUNT 0 answers a nil array, before the key is even looked at.
      if (count === 0n) return null;
      const stream = keys.read(arg(args, 0), "stream", now);
      if (!stream) return [];
      const entries = stream.range(start, end, count === -1n ? 0 : Number(count), reverse);
      return entries.map((entry) => [formatId(entry.id), [...entry.fields]]);
    },
  };
}

export const streamCommands: CommandTable = {
  xadd: {
    arity: -5,
    run(context, args) {
      const key = arg(args, 0);
      const { keys, now } = context;
      const { trim, noMakeStream, requested, fieldsAt } = addArguments(args);
      const fields = args.slice(fieldsAt);
      if (fields.length < 2 || fields.length % 2 === 1) throw wrongArity("xadd");
      if (requested?.seqGiven && requested.id.ms === 0n && requested.id.seq === 0n)
        throw new RedisError("ERR The ID specified in XADD must be greater than 0-0");
      const existing = keys.read(key, "stream", now);
      if (!existing && noMakeStream) return null;
      const stream = existing ?? new Stream();
      if (stream.lastId.ms === UINT64_MAX && stream.lastId.seq === UINT64_MAX)
        throw new RedisError("ERR The stream has exhausted the last possible ID, unable to add more items");
      const id = stream.nextId(now, requested);
      if (!existing) keys.put(key, { type: "stream", data: stream }, now);
      stream.append(id, fields);
      if (trim) stream.trim(Number(trim.maxlen), trim.approximate, Number(trim.limit));
      const trimArgs = trim
        ? [
            "MAXLEN",
            trim.approximate ? "~" : "=",
            String(trim.maxlen),
            ...(trim.approximate ? ["LIMIT", String(trim.limit)] : []),
          ]
        : [];
      context.wrote(["XADD", key, ...trimArgs, formatId(id), ...fields]);
      return formatId(id);
    },
  },

  xrange: range(false),
  xrevrange: range(true),

  xsetid: {
    arity: -3,
    run(context, args) {
      const key = arg(args, 0);
      const { id } = parseId(arg(args, 1), { strict: true });
      if (args.length > 2) {
        const option = arg(args, 2).toLowerCase();
        if ((option === "entriesadded" || option === "maxdeletedid") && args.length > 3)
          throw new RedisError(`ERR XSETID ${option.toUpperCase()} is not supported by the local Redis of qjobs dev`);
        throw syntaxError();
      }
      const stream = context.keys.read(key, "stream", context.now);
      if (!stream) throw new RedisError("ERR no such key");
      const top = stream.entries.at(-1);
      if (top && compareIds(id, top.id) < 0)
        throw new RedisError("ERR The ID specified in XSETID is smaller than the target stream top item");
      stream.lastId = id;
      context.wrote(["XSETID", key, formatId(id)]);
      return "OK";
    },
  },

  xlen: {
    arity: 2,
    run: ({ keys, now }, args) => keys.read(arg(args, 0), "stream", now)?.entries.length ?? 0,
  },
};
