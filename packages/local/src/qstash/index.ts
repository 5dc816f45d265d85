// The local stand-in for QStash: the gateway (the engine, its behaviour and state, no HTTP) and the router
// (QStash's REST API over it), served by server.ts on qjobs dev's port.
export { DEFAULT_MAX_BODY_BYTES, DEFAULT_MAX_DLQ, DEFAULT_PORT, DEFAULT_RETRY_SCALE } from "./defaults.js";
export { deliverHttp } from "./deliver.js";
export { type AttemptReport, Engine, type EngineOptions } from "./gateway.js";
export { type MessageSpec, parsePublish } from "./message.js";
export { routeWarning } from "./route-check.js";
export { qstashRouter } from "./router.js";
export { type DevServer, startServer } from "./server.js";
export { scheduleView } from "./views.js";
