import { createRequire } from "node:module";
import { Command, CommanderError } from "commander";

const { version } = createRequire(import.meta.url)("../package.json") as { version: string };

function program(): Command {
  return new Command("qjobs")
    .description("Type-safe background jobs on Upstash QStash: discovers *.job.ts files and generates a typed registry and route.")
    .version(version, "-v, --version", "print the version")
    .helpOption("-h, --help", "show help for a command")
    .showHelpAfterError("(run qjobs --help for usage)")
    .exitOverride();
}

/** Parses argv, runs one command, and returns the exit code. The bin is the only caller of process.exit. */
export async function run(argv: readonly string[]): Promise<number> {
  try {
    await program().parseAsync(argv as string[]);
    return 0;
  } catch (error) {
    if (error instanceof CommanderError) return error.exitCode;
    throw error;
  }
}
