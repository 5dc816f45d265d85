#!/usr/bin/env node
import { run } from "./cli.js";

try {
  process.exitCode = await run(process.argv);
} catch (error) {
  // Not the user's mistake: show everything, so it can be reported.
  console.error("qjobs crashed; this is a bug in qjobs, please report it with the output below.\n");
  console.error(error);
  process.exitCode = 2;
}
