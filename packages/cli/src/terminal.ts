import pc from "picocolors";
import type { Diagnostic } from "./types.js";

export type Colors = ReturnType<typeof pc.createColors>;

/** Colors only on a terminal, never with NO_COLOR or TERM=dumb; FORCE_COLOR forces them. */
export function colorsFor(stream: { isTTY?: boolean }, env: NodeJS.ProcessEnv = process.env): Colors {
  const forced = env.FORCE_COLOR !== undefined && env.FORCE_COLOR !== "0";
  const enabled = forced || (Boolean(stream.isTTY) && !("NO_COLOR" in env) && env.TERM !== "dumb");
  return pc.createColors(enabled);
}

export interface Output {
  out(line: string): void;
  err(line: string): void;
  readonly color: Colors;
  readonly errColor: Colors;
}

export function processOutput(): Output {
  return {
    out: (line) => process.stdout.write(`${line}\n`),
    err: (line) => process.stderr.write(`${line}\n`),
    color: colorsFor(process.stdout),
    errColor: colorsFor(process.stderr),
  };
}

/** `path:line:column: message`, like a compiler. */
export function formatDiagnostic(diagnostic: Diagnostic, color: Colors): string {
  return `${color.cyan(diagnostic.file)}:${color.yellow(String(diagnostic.line))}:${color.yellow(String(diagnostic.column))}: ${diagnostic.message}`;
}

export function plural(count: number, word: string): string {
  return `${count} ${word}${count === 1 ? "" : "s"}`;
}

/** The time of day every command prints a line with: local time, to the millisecond (`14:02:07.125`). */
export function formatClock(ms: number = Date.now()): string {
  const date = new Date(ms);
  const pad = (value: number, width = 2) => String(value).padStart(width, "0");
  return `${pad(date.getHours())}:${pad(date.getMinutes())}:${pad(date.getSeconds())}.${pad(date.getMilliseconds(), 3)}`;
}

export function formatDuration(ms: number): string {
  return ms < 1000 ? `${Math.round(ms)} ms` : `${(ms / 1000).toFixed(2)} s`;
}

/** Prints every diagnostic and a closing count. */
export function reportDiagnostics(output: Output, diagnostics: readonly Diagnostic[], consequence: string): void {
  for (const diagnostic of diagnostics) output.err(formatDiagnostic(diagnostic, output.errColor));
  const files = new Set(diagnostics.map((d) => d.file)).size;
  output.err(
    `\n${output.errColor.red(`Found ${plural(diagnostics.length, "error")} in ${plural(files, "file")}`)}; ${consequence}.`,
  );
}
