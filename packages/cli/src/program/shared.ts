import { type Command, Option } from "commander";
import type { Output } from "../terminal.js";

/** One entry of the CLI's table of commands: adds its command (and subcommands) to the program. */
export type CommandDefinition = (
  root: Command,
  context: { output: Output; setExitCode: (code: number) => void },
) => void;

export const cwdOption = () =>
  new Option("--cwd <dir>", "the project folder, where qjobs.config.json lives").default(".", "the current folder");

/** The first name of --jobs-url, kept working but out of the help: it takes the jobs route's URL, not the app's. */
export const appUrlAlias = () => new Option("--app-url <url>").hideHelp();

/** Resolves on Ctrl-C or SIGTERM. */
export const untilStopped = () =>
  new Promise<void>((resolve) => {
    process.once("SIGINT", () => resolve());
    process.once("SIGTERM", () => resolve());
  });
