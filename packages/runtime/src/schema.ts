import type { StandardSchemaV1 } from "@standard-schema/spec";
import { InvalidPayloadError, type PayloadIssue } from "./errors.js";

/** Runs a Standard Schema (zod, valibot, arktype, ...) and returns its output or throws with every issue. */
export async function validatePayload<TOutput>(
  key: string,
  schema: StandardSchemaV1<unknown, TOutput> | undefined,
  payload: unknown,
): Promise<TOutput> {
  if (!schema) return payload as TOutput;
  const result = await schema["~standard"].validate(payload);
  if (result.issues) throw new InvalidPayloadError(key, result.issues.map(toPayloadIssue));
  return result.value;
}

function toPayloadIssue(issue: StandardSchemaV1.Issue): PayloadIssue {
  const path = (issue.path ?? [])
    .map((segment) => (typeof segment === "object" ? segment.key : segment))
    .map(String)
    .join(".");
  return { path, message: issue.message };
}
