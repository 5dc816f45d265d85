"use client";
import { useMemo, useSyncExternalStore } from "react";
import { createUseRun } from "./run-hook.js";

/**
 * `@qjobs/runtime/react`: `useRun(handle)` follows a run in a client component, from the handle a server action
 * returned (its `token` and the route's path): `{ run, status, progress, result, error, done }`. It accepts
 * `undefined` until there is a handle, renders the same on the server and the client, and stops when the run ends.
 */
export const useRun = createUseRun({ useMemo, useSyncExternalStore });

export type { RunWatchError, RunWatchState, WatchedRun, WatchRunOptions } from "./client.js";
export type { UseRunResult } from "./run-hook.js";
