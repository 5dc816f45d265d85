/** The QStash options a job may declare (its DispatchOptions): read statically, applied to every dispatch. */
export const OPTION_NAMES: readonly string[] = [
  "delay",
  "notBefore",
  "deduplicationId",
  "contentBasedDeduplication",
  "retries",
  "retryDelay",
  "timeout",
  "callback",
  "failureCallback",
  "flowControl",
  "label",
  "headers",
];

/** Those that apply to a schedule's runs: all but what only a single message has. */
export const SCHEDULE_OPTION_NAMES: readonly string[] = OPTION_NAMES.filter(
  (name) => !["notBefore", "deduplicationId", "contentBasedDeduplication"].includes(name),
);
