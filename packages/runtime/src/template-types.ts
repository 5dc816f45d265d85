import type { DispatchOptions, Duration, FlowControl } from "./types.js";

/**
 * The types of keys from the payload (issue 22): a template such as `"tenant:{tenantId}"` declared on a job is
 * checked against the job's payload type, so that tsc refuses a placeholder that no payload can fill.
 */

type Scalar = string | number | boolean;

/** Why a field's type cannot fill a placeholder, or never when it can. */
type ValueIssue<V> = [V] extends [Scalar]
  ? never
  : [NonNullable<V>] extends [Scalar]
    ? null extends V
      ? "names a field that may be null"
      : "names a field that may be undefined"
    : "names a field that is not a string, number or boolean";

/**
 * What is wrong with one placeholder's path in the payload type `P`, or never. An optional field is refused
 * through `Optional`, which holds with `strictNullChecks` off as well (where `undefined` vanishes
 * from the field's type).
 */
// biome-ignore lint/complexity/noBannedTypes: `{} extends Pick<P, K>` is how a type tells an optional field.
type Optional<P, K extends keyof P> = {} extends Pick<P, K> ? true : false;

type PathIssue<P, Path extends string> = Path extends `${infer Head}.${infer Rest}`
  ? Head extends keyof P
    ? Optional<P, Head> extends true
      ? `names an optional field (${Head})`
      : [P[Head]] extends [object]
        ? PathIssue<P[Head], Rest>
        : "names no field of the payload"
    : "names no field of the payload"
  : Path extends keyof P
    ? Optional<P, Path> extends true
      ? "names an optional field"
      : ValueIssue<P[Path]>
    : "names no field of the payload";

/** Every problem of a template's placeholders, as `placeholder {x} names ...` strings; never when it is sound. */
export type TemplateIssues<T extends string, P> = string extends T
  ? never
  : T extends `${string}{${infer Path}}${infer Rest}`
    ? PathIssue<P, Path> extends infer Issue extends string
      ? ([Issue] extends [never] ? never : `placeholder {${Path}} ${Issue}`) | TemplateIssues<Rest, P>
      : never
    : never;

/**
 * Nothing when every placeholder of `T` names a string, number or boolean field of `P`; else a type naming each.
 * A `P` of `undefined` is not checked: it is also what `P` is, by default, while tsc has not yet read a handler
 * whose `ctx` is left to inference (its first pass skips such a handler), and refusing then would refuse every
 * template of such a job. A job with no payload has nothing to fill: its dispatch throws, naming the placeholder.
 */
export type TemplateCheck<T extends string, P> = [P] extends [undefined]
  ? unknown
  : [TemplateIssues<T, P>] extends [never]
    ? unknown
    : {
        [Issue in TemplateIssues<T, P>]: "a key template fills each {placeholder} from a required field of the payload";
      };

/**
 * A job's declared options, with `flowControl.key`, `deduplicationId` and `label` checked as templates over the
 * payload type `P` (`TFlowKey`, `TDeduplicationId` and `TLabel` are inferred from the literals written).
 */
export type DeclaredOptions<P, TFlowKey extends string, TDeduplicationId extends string, TLabel extends string> = Omit<
  DispatchOptions,
  "flowControl" | "deduplicationId" | "label"
> & {
  /** Limits deliveries per key; the key may be a template, such as `"tenant:{tenantId}"`. */
  flowControl?: FlowControl & { key: TFlowKey & TemplateCheck<TFlowKey, NoInfer<P>> };
  /** Messages with the same id within QStash's window are published once; may be a template. */
  deduplicationId?: TDeduplicationId & TemplateCheck<TDeduplicationId, NoInfer<P>>;
  /** A label for QStash's logs and dead-letter queue; may be a template. */
  label?: TLabel & TemplateCheck<TLabel, NoInfer<P>>;
};

/**
 * A job's debounce: dispatches with the same key within `period` run it once, with the last payload, `period`
 * after the last one; `maxWait` bounds how long a steady stream can postpone it. The key is a template too.
 */
export type DebounceDeclaration<P, TDebounceKey extends string> = {
  key: TDebounceKey & TemplateCheck<TDebounceKey, NoInfer<P>>;
  period: number | Duration;
  maxWait?: number | Duration;
};
