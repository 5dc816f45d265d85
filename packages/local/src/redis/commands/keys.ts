import { inInt64, integer } from "../arguments.js";
import { arg, type CommandTable, type Context, type Reply } from "../command.js";
import { invalidExpireTime, RedisError, wrongArity } from "../errors.js";

const INT64_MAX = 2n ** 63n - 1n;
const INT64_MIN = -(2n ** 63n);

/**
 * EXPIRE, PEXPIRE, EXPIREAT and PEXPIREAT, as Redis's expireGenericCommand: options are checked first,
 * then the amount; a time already past deletes the key (and still answers 1).
 */
function expire(name: string, unit: "s" | "ms", relative: boolean) {
  return {
    arity: -3,
    run(context: Context, args: string[]): Reply {
      const { keys, now } = context;
      const key = arg(args, 0);
      const options = new Set<string>();
      for (const option of args.slice(2)) {
        const lower = option.toLowerCase();
        if (!["nx", "xx", "gt", "lt"].includes(lower)) throw new RedisError(`ERR Unsupported option ${option}`);
        options.add(lower);
      }
      if (options.has("nx") && (options.has("xx") || options.has("gt") || options.has("lt")))
        throw new RedisError("ERR NX and XX, GT or LT options at the same time are not compatible");
      if (options.has("gt") && options.has("lt"))
        throw new RedisError("ERR GT and LT options at the same time are not compatible");

      let when = integer(arg(args, 1));
      if (unit === "s") {
        if (when > INT64_MAX / 1000n || when < INT64_MIN / 1000n) throw invalidExpireTime(name);
        when *= 1000n;
      }
      if (relative) when += BigInt(now);
      if (!inInt64(when)) throw invalidExpireTime(name);

      if (keys.get(key, now) === undefined) return 0;
      const current = keys.expiry(key);
      if (options.has("nx") && current !== undefined) return 0;
      if (options.has("xx") && current === undefined) return 0;
      // No expiry counts as an infinite one: GT never beats it, LT always does.
      if (options.has("gt") && (current === undefined || when <= BigInt(current))) return 0;
      if (options.has("lt") && current !== undefined && when >= BigInt(current)) return 0;

      if (when <= BigInt(now)) {
        keys.delete(key);
        context.wrote(["DEL", key]);
      } else {
        keys.expireAt(key, Number(when));
        context.wrote(["PEXPIREAT", key, String(when)]);
      }
      return 1;
    },
  };
}

function ttl(unit: "s" | "ms") {
  return {
    arity: 2,
    run({ keys, now }: Context, args: string[]): Reply {
      const key = arg(args, 0);
      if (keys.get(key, now) === undefined) return -2;
      const expiresAt = keys.expiry(key);
      if (expiresAt === undefined) return -1;
      const left = Math.max(0, expiresAt - now);
      // Redis rounds seconds to the nearest: 1.5 s left reads as TTL 2.
      return unit === "ms" ? left : Math.floor((left + 500) / 1000);
    },
  };
}

export const keyCommands: CommandTable = {
  del: {
    arity: -2,
    run(context, args) {
      let deleted = 0;
      for (const key of args) {
        if (context.keys.get(key, context.now) !== undefined && context.keys.delete(key)) deleted++;
      }
      if (deleted > 0) context.wrote(["DEL", ...args]);
      return deleted;
    },
  },
  exists: {
    arity: -2,
    // A key named twice counts twice, as in Redis.
    run: ({ keys, now }, args) => args.filter((key) => keys.get(key, now) !== undefined).length,
  },
  expire: expire("expire", "s", true),
  pexpire: expire("pexpire", "ms", true),
  expireat: expire("expireat", "s", false),
  pexpireat: expire("pexpireat", "ms", false),
  persist: {
    arity: 2,
    run(context, args) {
      const key = arg(args, 0);
      if (context.keys.get(key, context.now) === undefined || context.keys.expiry(key) === undefined) return 0;
      context.keys.persist(key);
      context.wrote(["PERSIST", key]);
      return 1;
    },
  },
  type: {
    arity: 2,
    run: ({ keys, now }, args) => keys.get(arg(args, 0), now)?.type ?? "none",
  },
  ttl: ttl("s"),
  pttl: ttl("ms"),
  ping: {
    arity: -1,
    run(_context, args) {
      if (args.length > 1) throw wrongArity("ping");
      return args[0] ?? "PONG";
    },
  },
};
