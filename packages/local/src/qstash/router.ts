import { parseDuration } from "../time.js";
import {
  type Answer,
  type Call,
  endpointsOf,
  isUrl,
  jsonBody,
  NOT_IMPLEMENTED,
  notFound,
  notImplemented,
  number,
  ok,
} from "./call.js";
import { parseQuery } from "./filters.js";
import type { Engine } from "./gateway.js";
import { BadRequest, parsePublish, retryOverrides } from "./message.js";
import { publish, publishBatch } from "./publish-routes.js";
import { dlqView, eventView, groupView, messageView, queueView, scheduleView } from "./views.js";

/** A path segment's rule: present (`true`), absent (`false`), this exact text, or any (left out). */
type Segment = boolean | string | readonly string[];

/** One route of the QStash API: `/v2/<verb>/<id>/<action>`, by method. */
interface Route {
  verb: string;
  methods: readonly string[];
  id?: Segment;
  action?: Segment;
  /** Undefined: not this route after all; the next that fits is tried (none: a 404 naming the route). */
  handle: (engine: Engine, call: Call, id: string, action: string) => Answer | undefined;
}

/** Any method: the route decides (an unknown queue is a 404 whatever the method). */
const ANY: readonly string[] = ["*"];

/** The route as it is named in errors: `GET /v2/dlq`. */
const name = (call: Call) => `${call.method} /v2/${call.segments.join("/")}`;

const fits = (rule: Segment | undefined, value: string | undefined) => {
  if (rule === undefined) return true;
  if (typeof rule === "boolean") return rule === (value !== undefined && value !== "");
  if (typeof rule === "string") return value === rule;
  return value !== undefined && rule.includes(value);
};

/** The flow-control actions QStash takes on a key (`POST /v2/flowControl/<key>/<action>`). */
const FLOW_ACTIONS = ["pause", "resume", "resetRate", "pin", "unpin"] as const;

function updateFlow(engine: Engine, call: Call, key: string, action: (typeof FLOW_ACTIONS)[number]): Answer {
  const { query } = call;
  if (action === "unpin") {
    // unpin names what to unpin: parallelism=true, rate=true (neither: everything).
    const flag = (name: string) => (query.get(name) === "true" ? 1 : undefined);
    const values = { parallelism: flag("parallelism"), rate: flag("rate") };
    return engine.updateFlow(key, action, values) ? ok() : notFound(`flow control key "${key}"`);
  }
  const period = query.get("period");
  const periodMs = period ? parseDuration(period) : undefined;
  if (period && periodMs === undefined) throw new BadRequest(`invalid period: "${period}"`);
  const values = { parallelism: number(query, "parallelism"), rate: number(query, "rate"), periodMs };
  return engine.updateFlow(key, action, values) ? ok() : notFound(`flow control key "${key}"`);
}

function upsertQueue(engine: Engine, call: Call): Answer {
  const body = jsonBody<{ queueName?: unknown; parallelism?: unknown; paused?: unknown }>(call, "queue body");
  if (typeof body.queueName !== "string" || body.queueName === "") throw new BadRequest("queueName is required");
  const parallelism = body.parallelism === undefined ? undefined : Number(body.parallelism);
  if (parallelism !== undefined && !(Number.isInteger(parallelism) && parallelism > 0)) {
    throw new BadRequest("parallelism must be a whole number > 0");
  }
  engine.upsertQueue(body.queueName, {
    parallelism,
    paused: body.paused === undefined ? undefined : Boolean(body.paused),
  });
  return ok();
}

/** `/v2/queues/<name>[/<action>]`: an unknown queue is a 404 whatever the method, as QStash answers. */
function queueRoute(engine: Engine, call: Call, id: string, action: string): Answer | undefined {
  const queue = id ? engine.getQueue(id) : undefined;
  if (!queue) return notFound("queue");
  if (!action && call.method === "GET") return ok(queueView(queue, engine.queueLag(queue.name)));
  if (!action && call.method === "DELETE") return engine.deleteQueue(queue.name) ? ok() : notFound("queue");
  if ((action === "pause" || action === "resume") && call.method === "POST") {
    engine.upsertQueue(queue.name, { paused: action === "pause" });
    return ok();
  }
  return undefined;
}

function createSchedule(engine: Engine, call: Call): Answer | undefined {
  if (call.headers["upstash-cron"] === undefined) return undefined;
  const destination = call.rawTail("/v2/schedules/");
  if (!isUrl(destination) && !destination.split("?")[0]?.includes("/")) {
    return notImplemented("schedules that publish to a URL group");
  }
  const cron = call.headers["upstash-cron"];
  if (!cron) throw new BadRequest("the Upstash-Cron header is required to create a schedule");
  const spec = parsePublish(destination, call.headers, call.body, call.callerIp);
  const schedule = engine.createSchedule(cron, spec, call.headers["upstash-schedule-id"]);
  return ok({ scheduleId: schedule.scheduleId });
}

const route = (verb: string, methods: string | readonly string[], rest: Omit<Route, "verb" | "methods">): Route => ({
  verb,
  methods: typeof methods === "string" ? [methods] : methods,
  ...rest,
});

/** The QStash API qjobs dev serves, first match wins; what no route takes is a 404 naming it. */
const ROUTES: readonly Route[] = [
  route("publish", "POST", { handle: (engine, call) => publish(engine, call, call.rawTail("/v2/publish/")) }),
  route("enqueue", "POST", {
    id: true,
    handle: (engine, call, id) => {
      // The destination starts after the queue's segment, however the client encoded the name.
      const afterQueue = call.rawTail("/v2/enqueue/");
      return publish(engine, call, afterQueue.slice(afterQueue.indexOf("/") + 1), id);
    },
  }),
  route("batch", "POST", { handle: (engine, call) => publishBatch(engine, call) }),

  route("messages", "GET", {
    id: true,
    handle: (engine, _call, id) => {
      const message = engine.getMessage(id);
      return message ? ok(messageView(message)) : notFound("message");
    },
  }),
  route("messages", "DELETE", {
    id: true,
    handle: (engine, _call, id) => (engine.cancel(id) ? ok({ cancelled: 1 }) : notFound("message")),
  }),
  route("messages", "DELETE", {
    id: false,
    handle: (engine, call) =>
      ok({ cancelled: engine.cancelMatching(parseQuery(call.query, "cancel", name(call)).filter) }),
  }),

  route("dlq", "POST", {
    id: "retry",
    action: true,
    handle: (engine, call, _id, action) => {
      const response = engine.retryDlq(action, retryOverrides(call.headers));
      return response ? ok(response) : notFound("dlq message");
    },
  }),
  route("dlq", "POST", {
    id: "retry",
    handle: (engine, call) => {
      const { filter, count, cursor } = parseQuery(call.query, "dlq-action", name(call));
      return ok(engine.retryDlqMatching(filter, retryOverrides(call.headers), count, cursor));
    },
  }),
  route("dlq", "GET", {
    id: true,
    handle: (engine, _call, id) => {
      const entry = engine.getDlq(id);
      return entry ? ok(dlqView(entry)) : notFound("dlq message");
    },
  }),
  route("dlq", "DELETE", {
    id: true,
    handle: (engine, _call, id) => (engine.deleteDlq(id) ? ok() : notFound("dlq message")),
  }),
  route("dlq", "GET", {
    id: false,
    handle: (engine, call) => {
      const { filter, count, cursor } = parseQuery(call.query, "dlq", name(call));
      const { items, cursor: next } = engine.listDlq(filter, count, cursor);
      return ok({ messages: items.map(dlqView), ...(next ? { cursor: next } : {}) });
    },
  }),
  route("dlq", "DELETE", {
    id: false,
    handle: (engine, call) => {
      const { filter, count, cursor } = parseQuery(call.query, "dlq-action", name(call));
      return ok(engine.deleteDlqMatching(filter, count, cursor));
    },
  }),

  ...["events", "logs"].map((verb) =>
    route(verb, "GET", {
      id: false,
      handle: (engine, call) => {
        const { filter, count, cursor } = parseQuery(call.query, "events", name(call));
        const { items, cursor: next } = engine.listEvents(filter, count, cursor);
        return ok({ [verb]: items.map(eventView), ...(next ? { cursor: next } : {}) });
      },
    }),
  ),

  route("schedules", "GET", { id: false, handle: (engine) => ok(engine.listSchedules().map(scheduleView)) }),
  route("schedules", "POST", { handle: createSchedule }),
  route("schedules", "GET", {
    id: true,
    action: false,
    handle: (engine, _call, id) => {
      const schedule = engine.getSchedule(id);
      return schedule ? ok(scheduleView(schedule)) : notFound("schedule");
    },
  }),
  route("schedules", "DELETE", {
    id: true,
    action: false,
    handle: (engine, _call, id) => (engine.deleteSchedule(id) ? ok() : notFound("schedule")),
  }),
  // qjobs dev's own: run a schedule once, now.
  route("schedules", "POST", {
    id: true,
    action: "trigger",
    handle: (engine, _call, id) => {
      const triggered = engine.triggerSchedule(id);
      return triggered ? ok(triggered) : notFound("schedule");
    },
  }),
  route("schedules", ["PATCH", "POST"], {
    id: true,
    action: ["pause", "resume"],
    handle: (engine, _call, id, action) => (engine.pauseSchedule(id, action === "pause") ? ok() : notFound("schedule")),
  }),

  route("queues", "POST", { id: false, handle: upsertQueue }),
  route("queues", "GET", {
    id: false,
    handle: (engine) => ok(engine.listQueues().map((queue) => queueView(queue, engine.queueLag(queue.name)))),
  }),
  route("queues", ANY, { handle: queueRoute }),

  route("topics", "GET", { id: false, handle: (engine) => ok(engine.listGroups().map(groupView)) }),
  route("topics", "POST", {
    id: true,
    action: "endpoints",
    handle: (engine, call, id) => {
      engine.addEndpoints(id, endpointsOf(call));
      return ok();
    },
  }),
  route("topics", "DELETE", {
    id: true,
    action: "endpoints",
    handle: (engine, call, id) => {
      const { endpoints } = jsonBody<{ endpoints?: { name?: string; url?: string }[] }>(call, "the endpoints body");
      if (!Array.isArray(endpoints) || endpoints.length === 0)
        throw new BadRequest("endpoints must be a non-empty list");
      return engine.removeEndpoints(id, endpoints) ? ok() : notFound(`url group "${id}"`);
    },
  }),
  route("topics", "GET", {
    id: true,
    action: false,
    handle: (engine, _call, id) => {
      const group = engine.getGroup(id);
      return group ? ok(groupView(group)) : notFound(`url group "${id}"`);
    },
  }),
  route("topics", "DELETE", {
    id: true,
    action: false,
    handle: (engine, _call, id) => (engine.deleteGroup(id) ? ok() : notFound(`url group "${id}"`)),
  }),

  route("flowControl", "GET", {
    id: false,
    handle: (engine) => ok(engine.flowControlKeys().map((key) => engine.flowControlInfo(key))),
  }),
  route("flowControl", "GET", {
    id: true,
    action: false,
    handle: (engine, _call, id) => {
      const info = engine.flowControlInfo(id);
      return info ? ok(info) : notFound(`flow control key "${id}"`);
    },
  }),
  route("flowControl", "POST", {
    id: true,
    action: FLOW_ACTIONS,
    handle: (engine, call, id, action) => updateFlow(engine, call, id, action as (typeof FLOW_ACTIONS)[number]),
  }),

  route("globalParallelism", "GET", { id: false, handle: (engine) => ok(engine.globalParallelism()) }),

  // QStash APIs this server does not implement: 501 naming them (an unknown path is a 404, as QStash answers).
  ...Object.entries(NOT_IMPLEMENTED).map(([verb, what]) =>
    route(verb, ANY, { handle: () => notImplemented(`${what} (/v2/${verb})`) }),
  ),
];

/** The QStash API over an engine: each call to the first route that fits it, or a 404 naming it. */
export function qstashRouter(engine: Engine, keys: { current: string; next: string }): (call: Call) => Answer {
  const table: readonly Route[] = [route("keys", "GET", { handle: () => ok(keys) }), ...ROUTES];
  return (call) => {
    const [verb, id = "", action = ""] = call.segments;
    for (const entry of table) {
      if (entry.verb !== verb) continue;
      if (entry.methods !== ANY && !entry.methods.includes(call.method)) continue;
      if (!fits(entry.id, id) || !fits(entry.action, action)) continue;
      const answer = entry.handle(engine, call, id, action);
      if (answer) return answer;
    }
    return { status: 404, body: { error: `no route for ${name(call)}` } };
  };
}
