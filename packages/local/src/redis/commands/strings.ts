import { inInt64, integer, tryInteger } from "../arguments.js";
import { arg, type CommandTable, type Context, type Reply } from "../command.js";
import { invalidExpireTime, notInteger, overflow, syntaxError } from "../errors.js";

const INT64_MAX = 2n ** 63n - 1n;
const EXPIRY_OPTIONS = ["ex", "px", "exat", "pxat"];

/** SET's options, read as Redis reads them: a later EX/PX/EXAT/PXAT may not mix with another kind or KEEPTTL. */
function setOptions(options: string[]) {
  const flags = new Set<string>();
  let expiry: { kind: string; amount: string } | undefined;
  for (let index = 0; index < options.length; index++) {
    const option = arg(options, index).toLowerCase();
    const next = options[index + 1];
    const otherExpiry = EXPIRY_OPTIONS.some((kind) => kind !== option && flags.has(kind));
    if (option === "nx" && !flags.has("xx")) flags.add(option);
    else if (option === "xx" && !flags.has("nx")) flags.add(option);
    else if (option === "get") flags.add(option);
    else if (option === "keepttl" && !EXPIRY_OPTIONS.some((kind) => flags.has(kind))) flags.add(option);
    else if (EXPIRY_OPTIONS.includes(option) && !flags.has("keepttl") && !otherExpiry && next !== undefined) {
      flags.add(option);
      expiry = { kind: option, amount: next };
      index++;
    } else throw syntaxError();
  }
  return { flags, expiry };
}

/** An EX/PX/EXAT/PXAT amount as the absolute time (ms) it names; `name` is the command refused in the error. */
function absoluteExpiry(context: Context, expiry: { kind: string; amount: string }, name = "set"): number {
  let ms = integer(expiry.amount);
  const seconds = expiry.kind === "ex" || expiry.kind === "exat";
  if (ms <= 0n || (seconds && ms > INT64_MAX / 1000n)) throw invalidExpireTime(name);
  if (seconds) ms *= 1000n;
  if (expiry.kind === "ex" || expiry.kind === "px") ms += BigInt(context.now);
  if (!inInt64(ms)) throw invalidExpireTime(name);
  return Number(ms);
}

/** SETEX and PSETEX: SET with EX or PX, the amount before the value. */
function setWithExpiry(name: string, kind: "ex" | "px") {
  return {
    arity: 4,
    run(context: Context, args: string[]): Reply {
      const [key, amount, value] = [arg(args, 0), arg(args, 1), arg(args, 2)];
      const expiresAt = absoluteExpiry(context, { kind, amount }, name);
      context.keys.put(key, { type: "string", data: value }, context.now);
      context.keys.expireAt(key, expiresAt);
      context.wrote(["SET", key, value, "PXAT", String(expiresAt)]);
      return "OK";
    },
  };
}

export const stringCommands: CommandTable = {
  get: {
    arity: 2,
    run: ({ keys, now }, args) => keys.read(arg(args, 0), "string", now) ?? null,
  },

  set: {
    arity: -3,
    run(context, args) {
      const [key, value] = [arg(args, 0), arg(args, 1)];
      const { keys, now } = context;
      const { flags, expiry } = setOptions(args.slice(2));
      const expiresAt = expiry ? absoluteExpiry(context, expiry) : undefined;
      const previous = flags.has("get") ? (keys.read(key, "string", now) ?? null) : undefined;
      const found = keys.get(key, now) !== undefined;
      if ((flags.has("nx") && found) || (flags.has("xx") && !found)) return previous ?? null;
      keys.put(key, { type: "string", data: value }, now, flags.has("keepttl"));
      if (expiresAt !== undefined) keys.expireAt(key, expiresAt);
      context.wrote([
        "SET",
        key,
        value,
        ...(expiresAt !== undefined ? ["PXAT", String(expiresAt)] : []),
        ...(flags.has("keepttl") ? ["KEEPTTL"] : []),
      ]);
      return previous === undefined ? "OK" : previous;
    },
  },

  setex: setWithExpiry("setex", "ex"),
  psetex: setWithExpiry("psetex", "px"),

  mget: {
    arity: -2,
    // Keys of other types read as nil here, not as WRONGTYPE.
    run: ({ keys, now }, args) =>
      args.map((key) => {
        const value = keys.get(key, now);
        return value?.type === "string" ? value.data : null;
      }),
  },

  incr: {
    arity: 2,
    run(context, args) {
      const key = arg(args, 0);
      const { keys, now } = context;
      const current = keys.read(key, "string", now);
      const value = current === undefined ? 0n : tryInteger(current);
      if (value === undefined) throw notInteger();
      if (value === INT64_MAX) throw overflow();
      keys.put(key, { type: "string", data: String(value + 1n) }, now, true);
      context.wrote(["INCR", key]);
      return Number(value + 1n);
    },
  },
};
