import { Receiver } from "@upstash/qstash";
import { describe, expect, it } from "vitest";
import { signLikeQStash } from "../../../testkit/qstash-signature.js";
import { DEV_CREDENTIALS, SignatureError } from "../src/index.js";
import { nodeCryptoSha256, type Sha256, sha256, webCrypto } from "../src/sha256.js";
import { signDelivery } from "../src/testing.js";
import { type VerifyOptions, verifySignatureWith } from "../src/verify.js";

const keys = { current: "sig_current_0123456789abcdef", next: "sig_next_0123456789abcdef" };
const url = "https://app.example.com/api/jobs?job=welcome-email";
const receiver = new Receiver({ currentSigningKey: keys.current, nextSigningKey: keys.next, devMode: false });
const bytes = (text: string) => new TextEncoder().encode(text);

const nodeCrypto = nodeCryptoSha256();
if (!nodeCrypto) throw new Error("node:crypto should be reachable through process.getBuiltinModule on Node >= 20.16");

// Node runs signatures on node:crypto, edge runtimes on Web Crypto: both must give every verdict alike.
describe.each([
  ["node:crypto", nodeCrypto],
  ["Web Crypto", webCrypto],
] as [string, Sha256][])("verifySignature on %s", (_name, sha) => {
  const verifySignature = (options: VerifyOptions) => verifySignatureWith(sha, options);

  /** Our verdict and the real Receiver's on the same token and body. */
  async function verdicts(signature: string, body: string) {
    const ours = await verifySignature({ signature, body: bytes(body), keys }).then(
      () => "accepted",
      (error: unknown) => (error instanceof SignatureError ? "rejected" : `threw ${String(error)}`),
    );
    const sdk = await receiver.verify({ signature, body }).then(
      () => "accepted",
      () => "rejected",
    );
    return { ours, sdk };
  }

  describe("agrees with the SDK's Receiver", () => {
    const body = '{"userId":"u_1"}';
    const now = Math.floor(Date.now() / 1000);
    const cases: [string, () => Promise<string>, string, "accepted" | "rejected"][] = [
      ["signed with the current key", () => signLikeQStash({ signingKey: keys.current, url, body }), body, "accepted"],
      [
        "signed with the next key (rotation)",
        () => signLikeQStash({ signingKey: keys.next, url, body }),
        body,
        "accepted",
      ],
      [
        "an unpadded body claim",
        () => signLikeQStash({ signingKey: keys.current, url, body, unpadded: true }),
        body,
        "accepted",
      ],
      [
        "nbf equal to iat (older QStash)",
        () => signLikeQStash({ signingKey: keys.current, url, body, claims: { nbf: now } }),
        body,
        "accepted",
      ],
      ["a wrong key", () => signLikeQStash({ signingKey: "sig_someone_else", url, body }), body, "rejected"],
      [
        "the public development key",
        () => signLikeQStash({ signingKey: DEV_CREDENTIALS.currentSigningKey, url, body }),
        body,
        "rejected",
      ],
      [
        "an expired token",
        () => signLikeQStash({ signingKey: keys.current, url, body, now: now - 600 }),
        body,
        "rejected",
      ],
      [
        "nbf in the future",
        () => signLikeQStash({ signingKey: keys.current, url, body, claims: { nbf: now + 600 } }),
        body,
        "rejected",
      ],
      [
        "another issuer",
        () => signLikeQStash({ signingKey: keys.current, url, body, claims: { iss: "Mallory" } }),
        body,
        "rejected",
      ],
      [
        "no issuer",
        () => signLikeQStash({ signingKey: keys.current, url, body, claims: { iss: undefined } }),
        body,
        "rejected",
      ],
      [
        "a tampered body",
        () => signLikeQStash({ signingKey: keys.current, url, body }),
        '{"userId":"u_2"}',
        "rejected",
      ],
      [
        "a re-serialized body",
        () => signLikeQStash({ signingKey: keys.current, url, body: '{ "userId": "u_1" }' }),
        body,
        "rejected",
      ],
      ["not a JWT", async () => "hello", body, "rejected"],
      [
        "a JWT with a garbage signature",
        async () => `${(await signLikeQStash({ signingKey: keys.current, url, body })).slice(0, -6)}AAAAAA`,
        body,
        "rejected",
      ],
    ];
    it.each(cases)("%s", async (_name, sign, sentBody, expected) => {
      expect(await verdicts(await sign(), sentBody)).toEqual({ ours: expected, sdk: expected });
    });

    it("is stricter than the SDK where it should be: no HS512, no token without exp", async () => {
      const hs512 = await signLikeQStash({ signingKey: keys.current, url, body, alg: "HS512" });
      expect(await verdicts(hs512, body)).toEqual({ ours: "rejected", sdk: "accepted" });
      const eternal = await signLikeQStash({ signingKey: keys.current, url, body, claims: { exp: undefined } });
      expect(await verdicts(eternal, body)).toEqual({ ours: "rejected", sdk: "accepted" });
    });

    it("verifies raw bodies with whitespace, \\u escapes and non-ASCII text byte for byte", async () => {
      for (const raw of ['{ "a" : 1 ,\n "b":[ 1.0 ] }', '{"name":"\\u00e9t\\u00e9"}', '{"name":"été 🌞 日本語"}', ""]) {
        const signature = await signLikeQStash({ signingKey: keys.current, url, body: raw });
        expect(await verdicts(signature, raw)).toEqual({ ours: "accepted", sdk: "accepted" });
        // The same JSON value re-serialized can be different bytes, and then must fail.
        const reserialized = raw && JSON.stringify(JSON.parse(raw));
        if (reserialized !== raw) expect(await verdicts(signature, reserialized)).toMatchObject({ ours: "rejected" });
      }
    });

    it("verifies binary bodies over their bytes, which the SDK's string API cannot", async () => {
      const binary = new Uint8Array([0xff, 0x00, 0xfe, 0x80]);
      const signature = await signLikeQStash({ signingKey: keys.current, url, body: binary });
      await expect(verifySignature({ signature, body: binary, keys })).resolves.toMatchObject({ sub: url });
      await expect(
        verifySignature({ signature, body: new Uint8Array([0xff, 0x00, 0xfe, 0x81]), keys }),
      ).rejects.toThrow(SignatureError);
    });

    it("tolerates clock skew only as far as asked", async () => {
      const signature = await signLikeQStash({ signingKey: keys.current, url, body, now: now - 303 });
      await expect(verifySignature({ signature, body: bytes(body), keys })).rejects.toThrow(/expired/);
      await expect(verifySignature({ signature, body: bytes(body), keys, clockTolerance: 10 })).resolves.toMatchObject({
        sub: url,
      });
    });

    it("returns the claims, so the route can check the signed URL", async () => {
      const signature = await signLikeQStash({ signingKey: keys.current, url, body });
      const claims = await verifySignature({ signature, body: bytes(body), keys });
      expect(claims).toMatchObject({ iss: "Upstash", sub: url });
    });
  });

  it("checks every JWT header that is not the one it last accepted: HS256 then HS512 then HS256", async () => {
    const good = await signLikeQStash({ signingKey: keys.current, url, body: "{}" });
    const hs512 = await signLikeQStash({ signingKey: keys.current, url, body: "{}", alg: "HS512" });
    await expect(verifySignature({ signature: good, body: bytes("{}"), keys })).resolves.toMatchObject({ sub: url });
    await expect(verifySignature({ signature: hs512, body: bytes("{}"), keys })).rejects.toThrow(/algorithm/);
    await expect(verifySignature({ signature: good, body: bytes("{}"), keys })).resolves.toMatchObject({ sub: url });
  });
});

describe("the signature primitives", () => {
  it("are node:crypto's on Node, chosen once", () => {
    expect(sha256.name).toBe("node:crypto");
  });

  it("fall back to Web Crypto where the runtime has no process.getBuiltinModule (edge runtimes)", () => {
    const runtime = process as { getBuiltinModule?: unknown };
    const getBuiltinModule = runtime.getBuiltinModule;
    runtime.getBuiltinModule = undefined;
    try {
      expect(nodeCryptoSha256()).toBeUndefined();
    } finally {
      runtime.getBuiltinModule = getBuiltinModule;
    }
  });

  it("hash and sign alike on both implementations", async () => {
    const data = bytes("été 🌞 {}");
    expect(await nodeCrypto.hash(data)).toBe(await webCrypto.hash(data));
    expect(await nodeCrypto.signHmac(keys.current, data)).toEqual(await webCrypto.signHmac(keys.current, data));
    const mac = await webCrypto.signHmac(keys.current, data);
    expect(await nodeCrypto.verifyHmac(keys.current, data, mac)).toBe(true);
    expect(await nodeCrypto.verifyHmac(keys.next, data, mac)).toBe(false);
    expect(await nodeCrypto.verifyHmac(keys.current, data, mac.slice(0, 31))).toBe(false);
  });
});

describe("the runtime's test signer", () => {
  it("produces signatures the real Receiver accepts, and the Receiver checks the subject", async () => {
    const body = '{"n":1}';
    const signature = await signDelivery({ url, body, signingKey: keys.next });
    await expect(receiver.verify({ signature, body, url })).resolves.toBe(true);
    await expect(receiver.verify({ signature, body, url: `${url}&x=1` })).rejects.toThrow(/invalid subject/);
    await expect(receiver.verify({ signature, body: '{"n":2}' })).rejects.toThrow(/body hash/);
  });
});
