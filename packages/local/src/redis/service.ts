import { createServer, type Server } from "node:http";
import { listenLocally } from "../http.js";
import type { LiveRecords } from "../state.js";
import type { JournalRecord, Store } from "../storage/journal.js";
import type { Clock } from "../time.js";
import { RedisGateway } from "./gateway.js";
import { redisRecord, redisWrites } from "./records.js";
import { REDIS_PREFIX, redisHandler } from "./router.js";

export interface LocalRedis {
  /** `QJOBS_REDIS_REST_URL`: the server's address with the /redis prefix. */
  readonly url: string;
  readonly port: number;
  readonly gateway: RedisGateway;
  close(): Promise<void>;
}

export interface LocalRedisOptions {
  port: number;
  host?: string;
  /** `QJOBS_REDIS_REST_TOKEN`: the bearer token clients must send. */
  token: string;
  clock: Clock;
  /**
   * The shared journal: the records it held at start (the Redis ones are replayed), and how to get this
   * service's view of it. Without it the data lives in memory only (`--in-memory`).
   */
  journal?: { records: readonly JournalRecord[]; section: (live: LiveRecords) => Store };
}

/**
 * The local Upstash Redis: the gateway restored from the journal, its writes journalled (one line per
 * request, handed to the operating system before the client is answered), served on its own port under
 * /redis behind the same Host and Origin rules as the local QStash.
 */
export async function startLocalRedis(options: LocalRedisOptions): Promise<LocalRedis> {
  let store: Store | undefined;
  // Writes since the journal was last compacted by this service: past twice the live keys, it compacts.
  let appended = 0;
  const gateway = new RedisGateway({
    clock: options.clock,
    onWrite: (writes) => {
      if (!store) return;
      store.append(redisRecord(writes));
      store.flush();
      if (++appended > 2 * gateway.size + 10_000) {
        appended = 0;
        store.compact([redisRecord(gateway.snapshot())]);
      }
    },
  });
  if (options.journal) gateway.restore(redisWrites(options.journal.records));
  const handler = redisHandler(gateway, { token: options.token });
  const server: Server = createServer((request, response) => {
    if (handler(request, response)) return;
    response
      .writeHead(404, { "content-type": "application/json" })
      .end(JSON.stringify({ error: `ERR no route: the local Redis answers under ${REDIS_PREFIX}` }));
  });
  server.keepAliveTimeout = 30_000;
  const listening = await listenLocally(server, options.port, options.host);
  // Only once it listens: a start that failed (a port in use) leaves no section in the shared journal.
  if (options.journal) store = options.journal.section(() => [redisRecord(gateway.snapshot())]);
  gateway.start();
  return {
    url: `http://127.0.0.1:${listening.port}${REDIS_PREFIX}`,
    port: listening.port,
    gateway,
    close: () => {
      gateway.stop();
      return listening.close();
    },
  };
}
