import { inInt64, integer, tryInteger } from "../arguments.js";
import { arg, type CommandTable } from "../command.js";
import { overflow, RedisError, wrongArity } from "../errors.js";

const newHash = () => new Map<string, string>();

export const hashCommands: CommandTable = {
  hset: {
    arity: -4,
    run(context, args) {
      if (args.length % 2 === 0) throw wrongArity("hset");
      const key = arg(args, 0);
      const hash = context.keys.readOrCreate(key, "hash", context.now, newHash);
      let created = 0;
      for (let index = 1; index < args.length; index += 2) {
        if (!hash.has(arg(args, index))) created++;
        hash.set(arg(args, index), arg(args, index + 1));
      }
      context.wrote(["HSET", ...args]);
      return created;
    },
  },

  hsetnx: {
    arity: 4,
    run(context, args) {
      const [key, field, value] = [arg(args, 0), arg(args, 1), arg(args, 2)];
      const hash = context.keys.readOrCreate(key, "hash", context.now, newHash);
      if (hash.has(field)) return 0;
      hash.set(field, value);
      context.wrote(["HSETNX", key, field, value]);
      return 1;
    },
  },

  hget: {
    arity: 3,
    run: ({ keys, now }, args) => keys.read(arg(args, 0), "hash", now)?.get(arg(args, 1)) ?? null,
  },

  hmget: {
    arity: -3,
    run({ keys, now }, args) {
      const hash = keys.read(arg(args, 0), "hash", now);
      return args.slice(1).map((field) => hash?.get(field) ?? null);
    },
  },

  hexists: {
    arity: 3,
    run: ({ keys, now }, args) => (keys.read(arg(args, 0), "hash", now)?.has(arg(args, 1)) ? 1 : 0),
  },

  hlen: {
    arity: 2,
    run: ({ keys, now }, args) => keys.read(arg(args, 0), "hash", now)?.size ?? 0,
  },

  hgetall: {
    arity: 2,
    run: ({ keys, now }, args) => [...(keys.read(arg(args, 0), "hash", now) ?? [])].flat(),
  },

  hdel: {
    arity: -3,
    run(context, args) {
      const key = arg(args, 0);
      const hash = context.keys.read(key, "hash", context.now);
      if (!hash) return 0;
      const deleted = args.slice(1).filter((field) => hash.delete(field)).length;
      // Redis never keeps an empty hash.
      if (hash.size === 0) context.keys.delete(key);
      if (deleted > 0) context.wrote(["HDEL", ...args]);
      return deleted;
    },
  },

  hincrby: {
    arity: 4,
    run(context, args) {
      const [key, field] = [arg(args, 0), arg(args, 1)];
      const increment = integer(arg(args, 2));
      const current = context.keys.read(key, "hash", context.now)?.get(field);
      const value = current === undefined ? 0n : tryInteger(current);
      if (value === undefined) throw new RedisError("ERR hash value is not an integer");
      if (!inInt64(value + increment)) throw overflow();
      const hash = context.keys.readOrCreate(key, "hash", context.now, newHash);
      hash.set(field, String(value + increment));
      context.wrote(["HINCRBY", key, field, String(increment)]);
      return Number(value + increment);
    },
  },
};
