// One class for user mistakes, the local server's and the CLI's: `cli.ts` prints any of them without a stack.
export { UserError } from "#local/defaults";
