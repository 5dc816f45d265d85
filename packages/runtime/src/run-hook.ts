import {
  INITIAL_STATE,
  type RunSource,
  type RunWatchError,
  type RunWatchState,
  runSource,
  type WatchedRun,
  type WatchRunOptions,
} from "./client.js";
import { isRunEnded, type RunStatus } from "./runs/model.js";
import type { JobKey, JobResult, RunHandle } from "./types.js";

/** What `useRun` gives a component. */
export interface UseRunResult<TResult = unknown> {
  /** The last known run; undefined until the first answer (and on the server). */
  run: WatchedRun<TResult> | undefined;
  status: RunStatus | undefined;
  progress: unknown;
  /** The handler's result once the run succeeded, typed by the handle's key. */
  result: TResult | undefined;
  /**
   * Why it failed or could not be followed: the job's error (its message only for a `NonRetryableError` or an
   * error with `expose = true`), or the route's refusal with its `code` (`unauthorized`, `token_expired`...).
   */
  error: (RunWatchError | { code?: undefined; name?: string; message: string }) | undefined;
  /** The run ended: nothing will change any more. */
  done: boolean;
}

/** The two hooks `useRun` needs, so it can be built over React 18 and 19 alike (and tested on both). */
export interface ReactHooks {
  useMemo<T>(make: () => T, deps: readonly unknown[]): T;
  useSyncExternalStore<T>(subscribe: (notify: () => void) => () => void, get: () => T, getServer: () => T): T;
}

const idle: RunSource = { subscribe: () => () => {}, getSnapshot: () => INITIAL_STATE };
const initial = () => INITIAL_STATE;

function resultOf<TResult>(state: RunWatchState<TResult>): UseRunResult<TResult> {
  const run = state.run;
  return {
    run,
    status: run?.status,
    progress: run?.progress,
    result: run?.status === "succeeded" ? run.result : undefined,
    error: state.error ?? run?.error,
    done: run !== undefined && isRunEnded(run),
  };
}

/** `useRun` over the given React. */
export function createUseRun(react: ReactHooks) {
  // biome-ignore lint/correctness/noComponentHookFactories: built once per React when react.ts loads, never in a render.
  return function useRun<TKey extends JobKey>(
    handle: RunHandle<TKey> | undefined,
    options: WatchRunOptions = {},
  ): UseRunResult<JobResult<TKey>> {
    const identity = handle ? `${handle.route ?? ""}\n${handle.id}\n${handle.token ?? ""}` : "";
    // One source per handle (the handle object itself may be new at each render: a server action's return).
    const source = react.useMemo(() => (handle ? runSource(handle, options) : idle), [identity, options.origin]);
    // The server and the hydrating client both render the initial state: no hydration mismatch.
    const state = react.useSyncExternalStore(source.subscribe, source.getSnapshot, initial);
    return react.useMemo(() => resultOf(state as RunWatchState<JobResult<TKey>>), [state]);
  };
}
