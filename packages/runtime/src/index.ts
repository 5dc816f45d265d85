export { appIdentity, deliveryUrl, isSameApp } from "./binding.js";
export { BYPASS_HEADER, bypassHeaders, bypassWithheld, foreignCallback } from "./bypass.js";
export type { Debounce } from "./debounce.js";
export {
  checkJobsUrlPath,
  DEFAULT_MAX_BODY_BYTES,
  DEFAULT_RUN_RETENTION_SECONDS,
  DEV_CREDENTIALS,
  type DispatchConfig,
  type Env,
  isLoopbackUrl,
  RUN_STORE_VARIABLES,
  readDispatchConfig,
  readRunStoreConfig,
  readSigningKeys,
  resolveJobsUrl,
  type SigningKeys,
} from "./env.js";
export {
  ConfigurationError,
  DispatchError,
  InvalidPayloadError,
  NonRetryableError,
  type PayloadIssue,
  PayloadTooLargeError,
  QJobsError,
  RetryAfterError,
} from "./errors.js";
export { FAILURE_CALLBACK_RETRIES, failureCallbackOf } from "./failure-callback.js";
export {
  createJob,
  isValidJobKey,
  JOB_KEY_RULE,
  type JobDefinition,
  type JobSchedule,
  type ScheduleDeclaration,
  type SchemaJobDefinition,
} from "./job.js";
export { escapeControls } from "./log-text.js";
export { createDispatch, dispatch, type RegistryDispatch } from "./publish.js";
export { memoryReplayGuard, type ReplayGuard } from "./replay.js";
export { createRouteHandler, type RouteErrorCode, type RouteHandler, type RouteOptions } from "./route.js";
export {
  type BrowserRun,
  DEFAULT_STREAM_SECONDS,
  type RunAnswerCode,
  type RunAnswerOptions,
} from "./runs/answer.js";
export { createRuns, DEFAULT_WAIT_SECONDS, linkRunRetry, type RunsApi, type WaitOptions } from "./runs/api.js";
export {
  isRunEnded,
  MAX_ERROR_CHARS,
  MAX_PROGRESS_BYTES,
  MAX_RESULT_BYTES,
  RUN_STATUSES,
  type Run,
  type RunError,
  type RunStatus,
} from "./runs/model.js";
export type { ListRunsOptions, RunPage } from "./runs/read.js";
export { STORE_TIMEOUT_MS } from "./runs/store.js";
export { DEFAULT_RUN_TOKEN_SECONDS } from "./runs/token.js";
// Filling key templates lives at @qjobs/runtime/keys, not here: an edge route bundles this entry, and need not
// load SHA-256 to deliver (dispatch imports it on first use).
export type { DeclaredOptions, TemplateCheck, TemplateIssues } from "./template-types.js";
export type {
  AnyJob,
  DispatchArgs,
  DispatchOptions,
  DispatchResult,
  Duration,
  FailureHook,
  FlowControl,
  Job,
  JobContext,
  JobFailure,
  JobHandler,
  JobInput,
  JobKey,
  JobLoader,
  JobLoaders,
  JobResult,
  JsonIssues,
  Jsonify,
  Register,
  RunHandle,
} from "./types.js";
export { type SignatureClaims, SignatureError, type VerifyOptions, verifySignature } from "./verify.js";
