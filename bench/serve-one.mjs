// Imports a compiled jobs route and serves one signed delivery; prints {"ms"} from process start.
import { pathToFileURL } from "node:url";
import { createDeliveryRequest, DEV_CREDENTIALS } from "@qjobs/runtime/testing";

const [routeFile, key] = process.argv.slice(2);
process.env.QSTASH_CURRENT_SIGNING_KEY = DEV_CREDENTIALS.currentSigningKey;
process.env.QSTASH_NEXT_SIGNING_KEY = DEV_CREDENTIALS.nextSigningKey;
process.env.QJOBS_URL = "http://127.0.0.1/api/jobs";
const request = await createDeliveryRequest({
  key,
  payload: { userId: "u", count: 1 },
});
const started = performance.now();
const { POST } = await import(pathToFileURL(routeFile).href);
const response = await POST(request);
const ms = performance.now() - started;
if (response.status !== 200) throw new Error(`delivery answered ${response.status}: ${await response.text()}`);
console.log(JSON.stringify({ ms }));
