import { useState } from "preact/hooks";
import { type FlowControlInfo, qstash } from "./api.js";
import { KEYS_PER_JOB, usedOfMax } from "./flow-keys.js";
import { ColumnHeads, Time } from "./ui.js";

/** What `GET /v2/flowControl/{key}` adds to the list: whether delivery is paused, what is pinned, the period. */
function KeyDetail({ info }: { info: FlowControlInfo }) {
  return (
    <dl class="facts wide">
      <dt>Delivery</dt>
      <dd>{info.isPaused ? "paused" : "running"}</dd>
      <dt>Pinned</dt>
      <dd>
        {[info.isPinnedParallelism && "parallelism", info.isPinnedRate && "rate"].filter(Boolean).join(", ") ||
          "nothing (each message's own limits)"}
      </dd>
      {(info.rateMax ?? 0) > 0 && info.ratePeriodStart !== undefined && (
        <>
          <dt>Period since</dt>
          <dd>
            <Time at={info.ratePeriodStart} />
          </dd>
        </>
      )}
    </dl>
  );
}

/** A key's row; its detail on demand, read then (fresher than the page's last poll), in a row below. */
function KeyRow({ info }: { info: FlowControlInfo }) {
  const [detail, setDetail] = useState<{ info?: FlowControlInfo; error?: string }>();
  const key = info.flowControlKey;
  const toggle = async () => {
    if (detail) return setDetail(undefined);
    setDetail({});
    try {
      setDetail({ info: await qstash.flowKey(key) });
    } catch (error) {
      setDetail({ error: (error as Error).message });
    }
  };
  return (
    <>
      <tr>
        <th scope="row">
          <code>{key}</code>
          {info.isPaused && <span class="muted"> (paused)</span>}
          <button type="button" aria-expanded={detail !== undefined} aria-label={`Detail of ${key}`} onClick={toggle}>
            Detail
          </button>
        </th>
        <td>{info.waitListSize}</td>
        <td>{usedOfMax(info.parallelismCount, info.parallelismMax)}</td>
        <td>
          {usedOfMax(info.rateCount, info.rateMax)}
          {(info.rateMax ?? 0) > 0 && info.ratePeriod !== undefined && ` per ${info.ratePeriod} s`}
        </td>
      </tr>
      {detail && (
        <tr>
          <td colSpan={4} aria-label={`${key}, detail`}>
            {detail.error ? (
              <span class="error">Could not read the key: {detail.error}</span>
            ) : detail.info ? (
              <KeyDetail info={detail.info} />
            ) : (
              <span class="muted">reading…</span>
            )}
          </td>
        </tr>
      )}
    </>
  );
}

/** A job's flow-control keys: the busiest first, each with waiting, parallelism and rate (used/max). */
export function FlowKeys({ template, keys, total }: { template: string; keys?: FlowControlInfo[]; total: number }) {
  if (!keys) return <span class="muted">reading flow control…</span>;
  if (keys.length === 0)
    return (
      <span class="muted">
        no key of <code>{template}</code> in use
      </span>
    );
  return (
    <>
      <table class="list flow-keys" aria-label={`Flow-control keys of ${template}`}>
        <ColumnHeads columns={["Key", "Waiting", "Parallelism", "Rate"]} />
        <tbody>
          {keys.map((info) => (
            <KeyRow key={info.flowControlKey} info={info} />
          ))}
        </tbody>
      </table>
      {total > keys.length && (
        <p class="muted">
          the busiest {KEYS_PER_JOB} of {total} keys
        </p>
      )}
    </>
  );
}
