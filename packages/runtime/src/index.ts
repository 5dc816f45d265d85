export { createJob, isValidJobKey, type JobDefinition, type SchemaJobDefinition } from "./job.js";
export { dispatch } from "./publish.js";
export { createRouteHandler, type RouteErrorCode, type RouteHandler, type RouteOptions } from "./route.js";
export { memoryReplayGuard, type ReplayGuard } from "./replay.js";
export { verifySignature, SignatureError, type SignatureClaims, type VerifyOptions } from "./verify.js";
export {
  QJobsError,
  NonRetryableError,
  RetryAfterError,
  ConfigurationError,
  InvalidPayloadError,
  DispatchError,
  PayloadTooLargeError,
  type PayloadIssue,
} from "./errors.js";
export {
  DEFAULT_MAX_BODY_BYTES,
  DEV_CREDENTIALS,
  isLoopbackUrl,
  readSigningKeys,
  readDispatchConfig,
  resolveJobsUrl,
  type Env,
  type SigningKeys,
  type DispatchConfig,
} from "./env.js";
export type {
  AnyJob,
  DispatchArgs,
  DispatchOptions,
  DispatchResult,
  Duration,
  FlowControl,
  Job,
  JobContext,
  JobHandler,
  JobInput,
  JobKey,
  JobLoader,
  JobLoaders,
  Register,
} from "./types.js";
