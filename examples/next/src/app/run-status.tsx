"use client";
import type { RunHandle } from "@qjobs/runtime";
import { useRun } from "@qjobs/runtime/react";

/** What the user sees of a run, from the handle its server action returned. */
export function RunStatus({
  handle,
  label,
}: {
  handle: RunHandle<"reports/build" | "cards/charge"> | undefined;
  label: string;
}) {
  const { status, progress, result, error, done } = useRun(handle);
  if (!handle) return null;
  const step = progress as { step: number; of: number } | undefined;
  return (
    <section data-run={label}>
      <p data-testid={`${label}-status`}>{status ?? "starting"}</p>
      {step && !done && (
        <p data-testid={`${label}-progress`}>
          Step {step.step} of {step.of}
        </p>
      )}
      {result !== undefined && <p data-testid={`${label}-result`}>{JSON.stringify(result)}</p>}
      {error && <p data-testid={`${label}-error`}>{error.message}</p>}
    </section>
  );
}
