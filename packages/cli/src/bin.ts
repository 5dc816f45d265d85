#!/usr/bin/env node
import { run } from "./cli.js";

// Piped into a reader that stops early (`qjobs dev --help | head`): the reader is gone, so end quietly
// instead of crashing on the next write.
for (const stream of [process.stdout, process.stderr]) {
  stream.on("error", (error: NodeJS.ErrnoException) => {
    if (error.code !== "EPIPE") throw error;
    process.exit(process.exitCode ?? 0);
  });
}

try {
  process.exitCode = await run(process.argv);
} catch (error) {
  // Not the user's mistake: show everything, so it can be reported.
  console.error("qjobs crashed; this is a bug in qjobs, please report it with the output below.\n");
  console.error(error);
  process.exitCode = 2;
}
