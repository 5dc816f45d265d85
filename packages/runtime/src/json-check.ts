/**
 * The first place in a payload that JSON cannot carry, in the words of the compile-time check (types.ts's
 * JsonIssues: `payload.remindAt is a Date (send a string or a number)`), or undefined. For values tsc never saw
 * (`any`, JavaScript, a cast): JSON.stringify would turn a Date into a string, a Map into `{}` and drop a function.
 */
export function jsonIssue(value: unknown, path = "payload", depth = 0): string | undefined {
  if (value === null || typeof value === "string" || typeof value === "boolean") return undefined;
  if (typeof value === "number")
    return Number.isFinite(value) ? undefined : `${path} is ${value} (JSON turns it into null)`;
  if (typeof value === "bigint") return `${path} is a bigint`;
  if (typeof value === "symbol") return `${path} is a symbol`;
  if (typeof value === "function") return `${path} is a function`;
  if (typeof value !== "object" || depth > 64) return undefined;
  if (value instanceof Date) return `${path} is a Date (send a string or a number)`;
  if (value instanceof Map) return `${path} is a Map (send an object or an array)`;
  if (value instanceof Set) return `${path} is a Set (send an array)`;
  if (Array.isArray(value)) {
    for (const item of value) {
      if (item === undefined) return `${path}[] may hold undefined (JSON turns it into null)`;
      const issue = jsonIssue(item, `${path}[]`, depth + 1);
      if (issue) return issue;
    }
    return undefined;
  }
  const prototype = Object.getPrototypeOf(value);
  // A plain object of another realm (a vm context, an iframe) has another Object.prototype: still plain.
  if (prototype !== Object.prototype && prototype !== null && prototype.constructor?.name !== "Object")
    return `${path} is a ${prototype?.constructor?.name ?? "class"} instance (send a plain object)`;
  for (const [key, item] of Object.entries(value)) {
    if (item === undefined) continue; // an absent field, as JSON has it
    const issue = jsonIssue(item, `${path}.${key}`, depth + 1);
    if (issue) return issue;
  }
  return undefined;
}
