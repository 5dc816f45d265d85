export { run } from "./cli.js";
