// Real-client check: the AWS SDK for JavaScript v3 uploading a Node Readable stream.
//
// What it proves: a PutObject whose Body is a stream (not a Buffer), with ContentLength set so
// it stays one PutObject, is stored intact. Over plain HTTP the SDK (with its default flexible
// checksums) sends such a body as `Content-Encoding: aws-chunked` with
// `x-amz-content-sha256: STREAMING-UNSIGNED-PAYLOAD-TRAILER` and a CRC32 trailer; Ceph RGW 16
// rejects that form, bucketgate decodes it (checking the checksum) before it reaches RGW.
// GetObject then returns exactly the bytes that were streamed.
//
// Run by tests/s3_clients.rs, against bucketgate and directly against the upstream.
// Environment:
//   BG_ENDPOINT   http://127.0.0.1:PORT (plain HTTP)
//   BG_BUCKET     the bucket as the client sees it
//   BG_KEY        the key to write (default js/stream-upload.bin)
//   BG_SIZE       body size in bytes (default 3 MiB + 123)
//   BG_KEEP=1     leave the object in place (the caller inspects it upstream); else deleted
//   AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY
// Prints `sent x-amz-content-sha256: <value>` (and the Content-Encoding) as the SDK sent them,
// then `ok: ...` lines; exits 0 on success, 1 printing the error otherwise.
import { createHash, randomBytes } from "node:crypto";
import { Readable } from "node:stream";
import { S3Client, PutObjectCommand, GetObjectCommand, DeleteObjectCommand } from "@aws-sdk/client-s3";

function need(name) {
  const v = process.env[name];
  if (!v) {
    console.error(`FAILED: setup: set ${name}`);
    process.exit(2);
  }
  return v;
}

const endpoint = need("BG_ENDPOINT");
const bucket = need("BG_BUCKET");
const key = process.env.BG_KEY || "js/stream-upload.bin";
const size = Number(process.env.BG_SIZE || 3 * 1024 * 1024 + 123);
delete process.env.AWS_CA_BUNDLE;
delete process.env.AWS_PROFILE;

const client = new S3Client({
  endpoint,
  region: "us-east-1",
  forcePathStyle: true,
  credentials: {
    accessKeyId: need("AWS_ACCESS_KEY_ID"),
    secretAccessKey: need("AWS_SECRET_ACCESS_KEY"),
  },
  maxAttempts: 1,
});

// The deserialize step is the innermost: the request here is the one on the wire, signed.
const sent = [];
client.middlewareStack.add(
  (next) => async (args) => {
    const h = args.request?.headers ?? {};
    const get = (name) => Object.entries(h).find(([k]) => k.toLowerCase() === name)?.[1];
    sent.push({
      method: args.request?.method,
      path: args.request?.path,
      query: new URLSearchParams(
        Object.entries(args.request?.query ?? {}).flatMap(([k, v]) =>
          Array.isArray(v) ? v.map((x) => [k, x ?? ""]) : [[k, v ?? ""]],
        ),
      ).toString(),
      sha256: get("x-amz-content-sha256"),
      encoding: get("content-encoding"),
      trailer: get("x-amz-trailer"),
      decodedLength: get("x-amz-decoded-content-length"),
      contentLength: get("content-length"),
      transferEncoding: get("transfer-encoding"),
    });
    return next(args);
  },
  { step: "deserialize", name: "bgRecordSentHeaders", priority: "low" },
);

const sha = (b) => createHash("sha256").update(b).digest("hex");

async function main() {
  const data = randomBytes(size);
  // A real stream in 64 KiB pieces, so the SDK cannot treat it as a buffer.
  const pieces = [];
  for (let i = 0; i < data.length; i += 65536) pieces.push(data.subarray(i, i + 65536));
  const body = Readable.from(pieces, { objectMode: false });

  let stage = "PutObject (stream body)";
  try {
    await client.send(
      new PutObjectCommand({ Bucket: bucket, Key: key, Body: body, ContentLength: data.length }),
    );
  } finally {
    const put = sent.find((s) => s.method === "PUT");
    if (put) {
      console.log(`sent request: ${put.method} ${put.path}${put.query ? "?" + put.query : ""}`);
      console.log(`sent x-amz-content-sha256: ${put.sha256}`);
      console.log(`sent content-encoding: ${put.encoding ?? "(none)"}`);
      console.log(`sent x-amz-trailer: ${put.trailer ?? "(none)"}`);
      console.log(`sent x-amz-decoded-content-length: ${put.decodedLength ?? "(none)"}`);
      console.log(`sent content-length: ${put.contentLength ?? "(none)"}`);
      console.log(`sent transfer-encoding: ${put.transferEncoding ?? "(none)"}`);
    }
  }
  console.log(`ok: ${stage}, ${data.length} bytes`);

  stage = "GetObject";
  const got = await client.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
  const back = Buffer.from(await got.Body.transformToByteArray());
  if (back.length !== data.length || !back.equals(data)) {
    throw new Error(
      `GetObject returned ${back.length} bytes (sha256 ${sha(back)}), uploaded ${data.length} (sha256 ${sha(data)})`,
    );
  }
  console.log(`ok: ${stage}, bytes identical (sha256 ${sha(back)})`);

  if (!process.env.BG_KEEP) {
    stage = "DeleteObject";
    await client.send(new DeleteObjectCommand({ Bucket: bucket, Key: key }));
    console.log(`ok: ${stage}`);
  }
  console.log("js: all checks passed");
}

main().catch((e) => {
  const meta = e?.$metadata ? ` (HTTP ${e.$metadata.httpStatusCode})` : "";
  console.error(`FAILED: ${e?.name ?? "Error"}${meta}: ${e?.message ?? e}`);
  if (e?.$response?.body && typeof e.$response.body === "string") console.error(e.$response.body);
  process.exit(1);
});
