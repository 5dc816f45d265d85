// @vitest-environment happy-dom
// useRun on React 19 (the runtime's own react and react-dom); fixtures/react18 runs the same suite on React 18.
import * as react from "react";
import * as client from "react-dom/client";
import * as server from "react-dom/server";
import { describeUseRun } from "../../../testkit/use-run-suite.js";

describeUseRun({ version: react.version, react, client, server } as never);
