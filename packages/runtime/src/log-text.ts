/**
 * Untrusted text (a URL, a JWT field, an app's error, QStash's answer) made safe to print: nothing in it can
 * move the cursor, recolour, hide or reorder what a terminal or a log viewer shows, or start a fake line.
 */

// C0 (newline, ESC...), DEL, C1 (CSI as one byte), the line and paragraph separators, and the bidi controls.
// biome-ignore lint/suspicious/noControlCharactersInRegex: matching control characters is the point.
const CONTROLS = /[\u0000-\u001f\u007f-\u009f\u061c\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069]/g;

const escaped = (char: string) => `\\u${char.charCodeAt(0).toString(16).padStart(4, "0")}`;

/** `text` with every control character written as `\uXXXX`; the rest (accents, CJK, emoji) kept. */
export function escapeControls(text: string): string {
  return text.replace(CONTROLS, escaped);
}

/**
 * Attacker-controlled text made safe for a log line or an error body: quoted, every character outside printable
 * ASCII escaped (so no newline can forge a line), and cut short.
 */
export function quoteForLog(text: string, max = 200): string {
  const cut = text.length > max ? `${text.slice(0, max)}...` : text;
  return JSON.stringify(cut).replace(/[^\x20-\x7e]/g, escaped);
}
