/** Every error qjobs throws carries a `code` that callers can match on. */
export class QJobsError extends Error {
  readonly code: string;
  constructor(code: string, message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = new.target.name;
    this.code = code;
  }
}

/**
 * Thrown by a handler to end a delivery for good: the route answers 489 with
 * `Upstash-NonRetryable-Error: true`, so QStash stops retrying and dead-letters the message.
 */
export class NonRetryableError extends QJobsError {
  constructor(message = "The job failed and must not be retried", options?: ErrorOptions) {
    super("non_retryable", message, options);
  }
}

/**
 * Thrown by a handler to ask QStash to retry after `seconds` (sent as `Retry-After`)
 * instead of its exponential backoff.
 */
export class RetryAfterError extends QJobsError {
  readonly seconds: number;
  constructor(seconds: number, message = `Retry in ${seconds} s`, options?: ErrorOptions) {
    if (!Number.isFinite(seconds) || seconds < 0) {
      throw new RangeError(`RetryAfterError needs a number of seconds >= 0, got ${seconds}`);
    }
    super("retry_after", message, options);
    this.seconds = Math.ceil(seconds);
  }
}

/** A required environment variable is missing or refused; `variables` names them. */
export class ConfigurationError extends QJobsError {
  readonly variables: readonly string[];
  constructor(message: string, variables: readonly string[]) {
    super("configuration", message);
    this.variables = variables;
  }
}

export interface PayloadIssue {
  readonly path: string;
  readonly message: string;
}

/** A payload failed its job's schema; nothing was published or run. */
export class InvalidPayloadError extends QJobsError {
  readonly key: string;
  readonly issues: readonly PayloadIssue[];
  constructor(key: string, issues: readonly PayloadIssue[]) {
    const summary = issues.map((issue) => (issue.path ? `${issue.path}: ${issue.message}` : issue.message));
    super("invalid_payload", `Invalid payload for job "${key}": ${summary.join("; ")}`);
    this.key = key;
    this.issues = issues;
  }
}

/** A payload is too large for the route to accept it (or its failure callback); nothing was published. */
export class PayloadTooLargeError extends QJobsError {
  readonly key: string;
  readonly size: number;
  readonly limit: number;
  constructor(key: string, size: number, limit: number) {
    super(
      "payload_too_large",
      `The payload of job "${key}" is ${size} bytes; the jobs route accepts payloads up to ${limit} bytes ` +
        "(QJOBS_MAX_BODY_BYTES, leaving room for the failure callback). Send a reference (a URL, an id) instead.",
    );
    this.key = key;
    this.size = size;
    this.limit = limit;
  }
}

/**
 * QStash refused or failed a publish; `status` is its HTTP status when there was one. For `dispatchMany`,
 * `published` holds the messages that were accepted before the failure, in order (the first ones).
 */
export class DispatchError extends QJobsError {
  readonly key: string;
  readonly status: number | undefined;
  readonly published: readonly { messageId: string }[];
  constructor(
    key: string,
    message: string,
    status: number | undefined,
    options?: ErrorOptions & { published?: readonly { messageId: string }[] },
  ) {
    super("dispatch_failed", `Could not dispatch job "${key}": ${message}`, options);
    this.key = key;
    this.status = status;
    this.published = options?.published ?? [];
  }
}
