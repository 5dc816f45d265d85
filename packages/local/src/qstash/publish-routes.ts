import { type Answer, type Call, groupName, isUrl, jsonBody, ok } from "./call.js";
import { MAX_BATCH_MESSAGES } from "./defaults.js";
import type { Engine } from "./gateway.js";
import { BadRequest, parsePublish } from "./message.js";

// Publishing routes: one message to a URL or a URL group (publish, enqueue), or many at once (batch).

/** One publish: to a URL, or fanned out to every endpoint of a URL group. */
function publishTo(
  engine: Engine,
  call: Call,
  destination: string,
  headers: Record<string, string>,
  body: Buffer,
  queueName?: string,
) {
  if (isUrl(destination)) {
    const spec = parsePublish(destination, headers, body, call.callerIp);
    engine.ensureRoom(1);
    const result = engine.publish(queueName ? { ...spec, queueName } : spec);
    return { result: { ...result, url: spec.url }, group: false };
  }
  // A name is a URL group, as QStash reads it; something with a slash is a URL without its scheme.
  if (!destination || (destination.split("?")[0] as string).includes("/"))
    parsePublish(destination, headers, body, call.callerIp);
  // The spec of a group's messages is checked against a placeholder URL.
  const spec = parsePublish("http://url-group.invalid/", headers, body, call.callerIp);
  engine.ensureRoom(engine.groupSize(groupName(destination)));
  const results = engine.publishToGroup(groupName(destination), queueName ? { ...spec, queueName } : spec);
  return { result: results, group: true };
}

/** `POST /v2/publish/<destination>` and `POST /v2/enqueue/<queue>/<destination>`: 202 for a duplicate. */
export function publish(engine: Engine, call: Call, destination: string, queueName?: string): Answer {
  const { result, group } = publishTo(engine, call, destination, call.headers, call.body, queueName);
  if (!group && (result as { deduplicated?: boolean }).deduplicated) return { status: 202, body: result };
  return ok(result);
}

/** `POST /v2/batch`: every entry checked before any is accepted, so a bad batch publishes nothing. */
export function publishBatch(engine: Engine, call: Call): Answer {
  const entries = jsonBody<unknown>(call, "the batch body");
  if (!Array.isArray(entries)) throw new BadRequest("batch body must be a JSON array");
  if (entries.length > MAX_BATCH_MESSAGES)
    throw new BadRequest(
      `batch has ${entries.length} messages: qjobs dev takes at most ${MAX_BATCH_MESSAGES} in one request; split it`,
    );
  // Validate every entry before accepting any, so a bad batch publishes nothing.
  const checked = entries.map(
    (entry: { destination?: string; headers?: Record<string, string>; body?: string; queue?: string }, index) => {
      if (typeof entry?.destination !== "string") throw new BadRequest(`batch entry ${index} has no destination`);
      const headers = Object.fromEntries(
        Object.entries(entry.headers ?? {}).map(([name, value]) => [name.toLowerCase(), String(value)]),
      );
      const body = Buffer.from(entry.body ?? "", "utf8");
      parsePublish(
        isUrl(entry.destination) ? entry.destination : "http://url-group.invalid/",
        headers,
        body,
        call.callerIp,
      );
      if (!isUrl(entry.destination) && !engine.getGroup(groupName(entry.destination))) {
        throw new BadRequest(`batch entry ${index}: url group "${entry.destination}" not found`);
      }
      return { destination: entry.destination, headers, body, queue: entry.queue };
    },
  );
  // All or nothing: a batch that would pass the live-message cap publishes none of its messages.
  engine.ensureRoom(
    checked.reduce(
      (sum, entry) => sum + (isUrl(entry.destination) ? 1 : engine.groupSize(groupName(entry.destination))),
      0,
    ),
  );
  return ok(
    checked.map((entry) => publishTo(engine, call, entry.destination, entry.headers, entry.body, entry.queue).result),
  );
}
