import type { DispatchOptions } from "@qjobs/runtime";
import { fillDeclaredOptions, isTemplate } from "@qjobs/runtime/keys";
import type { ProjectJob } from "../../local/src/dashboard/view.js";

/**
 * The Upstash-* headers a Run of the job publishes with: its declared options, with the flow-control key and the
 * label filled from this payload through the runtime's one filling function, as the registry's `dispatch` fills
 * them (issue 22). Throws the runtime's InvalidPayloadError, naming the placeholder, when the payload cannot.
 */
export function runHeaders(
  job: ProjectJob,
  publish: NonNullable<ProjectJob["publish"]>,
  body: string,
): Record<string, string> {
  const headers = { ...publish.headers };
  const declared = { flowControl: job.options.flowControl, label: job.options.label } as DispatchOptions;
  // A job without templates publishes any body as it is (a replay's may not be JSON).
  if (!isTemplate(declared.flowControl?.key) && !isTemplate(declared.label)) return headers;
  const filled = fillDeclaredOptions(job.key, declared, body === "" ? undefined : JSON.parse(body));
  if (filled.flowControl) headers["upstash-flow-control-key"] = filled.flowControl.key;
  if (filled.label !== undefined) headers["upstash-label"] = filled.label;
  return headers;
}
