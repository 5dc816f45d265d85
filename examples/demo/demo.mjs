// The end-to-end example until `qjobs dev` lands: the real QStash Client publishes a job to a
// small in-process relay that stands in for QStash, which delivers it, signed, to the jobs route
// served over HTTP. Exits 0 only when the job ran with its payload.
import { createServer } from "node:http";
import { createJob, createRouteHandler, DEV_CREDENTIALS } from "@qjobs/runtime";
import { signDelivery } from "@qjobs/runtime/testing";

const ran = [];
const welcomeEmail = createJob("welcome-email", async (payload, ctx) => {
  ran.push({ payload, ctx });
});
const POST = createRouteHandler({ "welcome-email": async () => welcomeEmail });

function listen(handler) {
  const server = createServer(async (req, res) => {
    const chunks = [];
    for await (const chunk of req) chunks.push(chunk);
    const request = new Request(`http://${req.headers.host}${req.url}`, {
      method: req.method,
      headers: req.headers,
      body: req.method === "POST" ? Buffer.concat(chunks) : undefined,
    });
    const response = await handler(request, req.url);
    res.writeHead(response.status, Object.fromEntries(response.headers)).end(Buffer.from(await response.arrayBuffer()));
  });
  return new Promise((resolve) => server.listen(0, "127.0.0.1", () => resolve(server)));
}

const app = await listen(POST);
const relay = await listen(async (request, target) => {
  const destination = target.slice("/v2/publish/".length);
  const body = await request.text();
  const signature = await signDelivery({ url: destination, body });
  const delivery = await fetch(destination, {
    method: "POST",
    body,
    headers: { "content-type": "application/json", "upstash-signature": signature, "upstash-message-id": "msg_demo", "upstash-retried": "0" },
  });
  console.log(`relay    delivered to ${destination} -> ${delivery.status}`);
  return Response.json({ messageId: "msg_demo" });
});

Object.assign(process.env, {
  QSTASH_URL: `http://127.0.0.1:${relay.address().port}`,
  QSTASH_TOKEN: DEV_CREDENTIALS.token,
  QSTASH_CURRENT_SIGNING_KEY: DEV_CREDENTIALS.currentSigningKey,
  QSTASH_NEXT_SIGNING_KEY: DEV_CREDENTIALS.nextSigningKey,
  QJOBS_URL: `http://127.0.0.1:${app.address().port}/api/jobs`,
});

const { messageId } = await welcomeEmail.dispatch({ userId: "u_42" });
console.log(`dispatch welcome-email -> ${messageId}`);
app.close();
relay.close();
const ok = ran.length === 1 && ran[0].payload.userId === "u_42";
console.log(ok ? "demo ok: the job ran once with its payload" : `demo FAILED: ${JSON.stringify(ran)}`);
process.exitCode = ok ? 0 : 1;
