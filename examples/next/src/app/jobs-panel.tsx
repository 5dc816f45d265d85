"use client";
import type { RunHandle } from "@qjobs/runtime";
import { useState, useTransition } from "react";
import { startCharge, startReport } from "./actions";
import { RunStatus } from "./run-status";

export function JobsPanel() {
  const [report, setReport] = useState<RunHandle<"reports/build">>();
  const [charge, setCharge] = useState<RunHandle<"cards/charge">>();
  const [pending, startTransition] = useTransition();
  return (
    <main>
      <h1>Tell the user when it completes</h1>
      <button
        type="button"
        disabled={pending}
        onClick={() => startTransition(async () => setReport(await startReport()))}
      >
        Build the report
      </button>
      <RunStatus handle={report} label="report" />
      <button
        type="button"
        disabled={pending}
        onClick={() => startTransition(async () => setCharge(await startCharge()))}
      >
        Charge the card
      </button>
      <RunStatus handle={charge} label="charge" />
    </main>
  );
}
