export { appIdentity, deliveryUrl, isSameApp } from "./binding.js";
export { BYPASS_HEADER, bypassWithheld, foreignCallback } from "./bypass.js";
export {
  DEFAULT_MAX_BODY_BYTES,
  DEV_CREDENTIALS,
  type DispatchConfig,
  type Env,
  isLoopbackUrl,
  readDispatchConfig,
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
export { createDispatch, dispatch, FAILURE_CALLBACK_RETRIES, type RegistryDispatch } from "./publish.js";
export { memoryReplayGuard, type ReplayGuard } from "./replay.js";
export { createRouteHandler, type RouteErrorCode, type RouteHandler, type RouteOptions } from "./route.js";
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
  JsonIssues,
  Register,
} from "./types.js";
export { type SignatureClaims, SignatureError, type VerifyOptions, verifySignature } from "./verify.js";
