// The errors the local Redis answers, worded exactly as Redis 7 words them: clients and tests match on
// the text (`WRONGTYPE …`, `ERR syntax error`), so a message here is part of the protocol.

/** A command's error reply: `message` is what Redis would send after the `-`. */
export class RedisError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "RedisError";
  }
}

export const wrongType = () => new RedisError("WRONGTYPE Operation against a key holding the wrong kind of value");
export const syntaxError = (detail?: string) =>
  new RedisError(detail ? `ERR syntax error, ${detail}` : "ERR syntax error");
export const notInteger = () => new RedisError("ERR value is not an integer or out of range");
export const notFloat = () => new RedisError("ERR value is not a valid float");
export const overflow = () => new RedisError("ERR increment or decrement would overflow");
export const invalidStreamId = () => new RedisError("ERR Invalid stream ID specified as stream command argument");

/** `name` is the command's lower-case name, as Redis prints it. */
export const wrongArity = (name: string) => new RedisError(`ERR wrong number of arguments for '${name}' command`);
export const invalidExpireTime = (name: string) => new RedisError(`ERR invalid expire time in '${name}' command`);

/** Redis names the command as sent, and quotes its first arguments until about 128 characters are shown. */
export function unknownCommand(name: string, args: readonly string[]): RedisError {
  let shown = "";
  for (const arg of args) {
    if (shown.length >= 128) break;
    shown += `'${arg.slice(0, 128 - shown.length)}' `;
  }
  // Redis keeps a reply on one line: CR and LF become spaces.
  const line = `ERR unknown command '${name.slice(0, 128)}', with args beginning with: ${shown}`;
  return new RedisError(line.replace(/[\r\n]/g, " "));
}
