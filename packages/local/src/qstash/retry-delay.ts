/**
 * QStash's `Upstash-Retry-Delay`: an arithmetic expression in milliseconds over `retried` (0 before the
 * first retry) with pow, sqrt, abs, exp, floor, ceil, round, min and max. Parsed once, evaluated per retry;
 * a small recursive-descent parser, never `eval`. Hand-written because the expression libraries on npm
 * (expr-eval, mathjs) accept far more than QStash does, and this must refuse what QStash refuses.
 */
export type RetryDelay = (retried: number) => number;

const FUNCTIONS: Record<string, (...args: number[]) => number> = {
  pow: Math.pow,
  sqrt: Math.sqrt,
  abs: Math.abs,
  exp: Math.exp,
  floor: Math.floor,
  ceil: Math.ceil,
  round: Math.round,
  min: Math.min,
  max: Math.max,
};

type Node = (retried: number) => number;

export function parseRetryDelay(source: string): RetryDelay {
  const tokens = source.match(/\d+(\.\d+)?|[A-Za-z_]+|[-+*/%(),]|\S/g) ?? [];
  let index = 0;
  const peek = () => tokens[index];
  const fail = (why: string): never => {
    throw new SyntaxError(`invalid retry delay "${source}": ${why}`);
  };
  const expect = (token: string) => {
    if (tokens[index] !== token)
      fail(`expected "${token}" but found ${tokens[index] ? `"${tokens[index]}"` : "the end"}`);
    index++;
  };

  function expression(): Node {
    let left = term();
    while (peek() === "+" || peek() === "-") {
      const operator = tokens[index++];
      const right = term();
      const l = left;
      left = operator === "+" ? (r) => l(r) + right(r) : (r) => l(r) - right(r);
    }
    return left;
  }
  function term(): Node {
    let left = unary();
    while (peek() === "*" || peek() === "/" || peek() === "%") {
      const operator = tokens[index++];
      const right = unary();
      const l = left;
      left =
        operator === "*" ? (r) => l(r) * right(r) : operator === "/" ? (r) => l(r) / right(r) : (r) => l(r) % right(r);
    }
    return left;
  }
  function unary(): Node {
    if (peek() === "-") {
      index++;
      const operand = unary();
      return (r) => -operand(r);
    }
    if (peek() === "+") index++;
    return primary();
  }
  function primary(): Node {
    const token = tokens[index++];
    if (token === undefined) return fail("unexpected end");
    if (/^\d/.test(token)) {
      const value = Number(token);
      return () => value;
    }
    if (token === "retried") return (r) => r;
    if (token === "(") {
      const inner = expression();
      expect(")");
      return inner;
    }
    // Own names only: `__proto__`, `valueOf` and the like are inherited members, not functions of the language.
    const fn = Object.hasOwn(FUNCTIONS, token) ? FUNCTIONS[token] : undefined;
    if (!fn) return fail(`unknown name "${token}"`);
    expect("(");
    const args: Node[] = [expression()];
    while (peek() === ",") {
      index++;
      args.push(expression());
    }
    expect(")");
    return (r) => fn(...args.map((arg) => arg(r)));
  }

  if (tokens.length === 0) fail("it is empty");
  const root = expression();
  if (index < tokens.length) fail(`unexpected "${tokens[index]}"`);
  return (retried) => {
    const value = root(retried);
    return Number.isFinite(value) ? Math.max(0, value) : 0;
  };
}
