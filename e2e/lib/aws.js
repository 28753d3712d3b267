// The AWS shape for the browser tests: `infra/template.yaml` run whole by the template runner
// (crates/vitrine-testkit/src/runner/, binary `aws-runner`) on the AWS emulator, the storefront
// reached through the runner's CloudFront address exactly as a shopper reaches the deployed store.
//
// The harness (harness.js) calls `startAwsStore()` instead of starting `vitrine serve` when
// VITRINE_E2E_SHAPE=aws; the helpers below are the AWS-shape halves of createUser, mailedCode and
// payPix: users are made with `vitrine user create` on the aws backend (the same command an
// operator runs against the deployed stack), codes and e-mails are read back from the emulator's
// record of what SES sent, the Pix webhook is signed with the secret given to the stack as its
// PaymentsWebhookSecret parameter.

import { spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdtempSync, rmSync, existsSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { createServer } from "node:net";

const READY_TIMEOUT_MS = 240_000;

function runnerBinary(root) {
  const bin = resolve(root, process.env.VITRINE_RUNNER_BIN || join("target", "debug", "aws-runner"));
  if (!existsSync(bin)) {
    throw new Error(`the template runner is not at ${bin}: build it (cargo build -p vitrine-testkit --bin aws-runner) or set VITRINE_RUNNER_BIN`);
  }
  return bin;
}

async function freePort() {
  return new Promise((res, rej) => {
    const s = createServer();
    s.once("error", rej);
    s.listen(0, "127.0.0.1", () => {
      const { port } = s.address();
      s.close(() => res(port));
    });
  });
}

/** The emulator: the one the test command started, or our own from .venv. */
async function emulator(root) {
  if (process.env.VITRINE_TEST_MOTO_URL) return { url: process.env.VITRINE_TEST_MOTO_URL, stop: async () => {} };
  const port = await freePort();
  const child = spawn(join(root, ".venv", "bin", "moto_server"), ["-H", "127.0.0.1", "-p", String(port)], { stdio: "ignore" });
  const url = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + 30_000;
  while (Date.now() < deadline) {
    try {
      await fetch(`${url}/moto-api/`);
      break;
    } catch {
      await new Promise((r) => setTimeout(r, 200));
    }
  }
  return {
    url,
    stop: async () => {
      child.kill("SIGTERM");
    },
  };
}

/**
 * Start the runner over the template and wait until every endpoint is up. Returns the same
 * shape of object as `startServer()` (base, stop, stderr), plus what the AWS helpers need.
 */
export async function startAwsStore(root, { parameters = {}, secret = null } = {}) {
  const moto = await emulator(root);
  const work = mkdtempSync(join(tmpdir(), "vitrine-e2e-aws-"));
  const webhookSecret = randomBytes(24).toString("hex");
  const params = {
    // The template's providers default to off (never the sandbox): the e2e store sells in
    // demo, so it chooses the sandbox explicitly.
    PixProvider: "sandbox",
    CardProvider: "sandbox",
    PaymentsWebhookSecret: webhookSecret,
    PixKey: "loja@vitrine.example",
    MailFrom: "loja@vitrine.example",
    SesIdentity: "vitrine.example",
    AlertsTo: "alertas@loja.example",
    // Each function instance serves the catalog from a snapshot at most this old (10 s by
    // default; docs/configuration.md): the tests read the storefront right after an admin's edit.
    CatalogCacheSecs: "1",
    ...parameters,
  };
  const args = ["--template", join(root, "infra", "template.yaml"), "--emulator", moto.url, "--work", work, "--bin-dir", join(root, "target", "debug")];
  for (const [k, v] of Object.entries(params)) args.push("--parameter", `${k}=${v}`);
  const child = spawn(runnerBinary(root), args, { cwd: root, stdio: ["ignore", "pipe", "pipe"], env: { ...process.env, RUST_LOG: process.env.RUST_LOG || "warn" } });
  let out = "";
  let err = "";
  child.stderr.on("data", (d) => (err += d));
  const endpoints = await new Promise((res, rej) => {
    const timer = setTimeout(() => rej(new Error(`the runner was not ready in ${READY_TIMEOUT_MS / 1000} s\n${out}\n${err}`)), READY_TIMEOUT_MS);
    child.stdout.on("data", (d) => {
      out += d;
      if (/^runner: ready$/m.test(out)) {
        clearTimeout(timer);
        const found = {};
        for (const m of out.matchAll(/^runner: (\w+) (\S+)$/gm)) found[m[1]] = m[2];
        res(found);
      }
    });
    child.on("exit", (code) => {
      clearTimeout(timer);
      rej(new Error(`the runner exited (${code})\n${out}\n${err}`));
    });
  });
  for (const name of ["cloudfront", "control"]) {
    if (!endpoints[name]) throw new Error(`the runner did not print its ${name} address:\n${out}`);
  }
  const resources = await (await fetch(`${endpoints.control}/resources`)).json();
  // The real providers' settings, put into the stack's payments secret as an operator does after
  // deploying, before any function's cold start reads it.
  if (secret) {
    try {
      await putSecret(moto.url, resources.PaymentsSecret, secret);
    } catch (e) {
      child.kill("SIGTERM");
      await moto.stop();
      throw e;
    }
  }
  const control = async (path, init) => {
    const r = await fetch(`${endpoints.control}${path}`, init);
    const text = await r.text();
    if (!r.ok) throw new Error(`runner ${path}: ${r.status} ${text}`);
    return JSON.parse(text);
  };
  const store = {
    shape: "aws",
    base: endpoints.cloudfront.replace(/\/$/, ""),
    endpoints,
    emulator: moto.url,
    webhookSecret,
    resources,
    root: work,
    stderr: () => err,
    stdout: () => out,
    /** The runner's invocation table: [{function, source, invocations, errors, duration_ms}], one row per
     * function and source (a function never invoked has one row with source null). */
    async invocations() {
      return control("/invocations");
    },
    /** The scheduled rules' logical ids. */
    async schedules() {
      return control("/schedules");
    },
    async fireSchedule(rule) {
      return control(`/schedules/${encodeURIComponent(rule)}/fire`, { method: "POST" });
    },
    /** AWS calls a function made that its role in the template does not allow. */
    async denials() {
      return control("/denials");
    },
    async stop() {
      if (child.exitCode === null) {
        const exited = new Promise((r) => child.once("exit", r));
        child.kill("SIGTERM");
        await Promise.race([exited, new Promise((r) => setTimeout(r, 20_000))]);
        if (child.exitCode === null) child.kill("SIGKILL");
      }
      await moto.stop();
      rmSync(work, { recursive: true, force: true });
    },
  };
  // The deploy command's last step, as scripts/deploy.sh runs it after the stack is up: the
  // storefront into the site bucket, the first admin, the URLs.
  try {
    await publish(root, store);
  } catch (e) {
    await store.stop();
    throw e;
  }
  return store;
}

/** PutSecretValue on the emulator's Secrets Manager: `value` as JSON. */
async function putSecret(emulator, secretId, value) {
  if (!secretId) throw new Error("the runner created no PaymentsSecret");
  const r = await fetch(emulator, {
    method: "POST",
    headers: {
      "Content-Type": "application/x-amz-json-1.1",
      "X-Amz-Target": "secretsmanager.PutSecretValue",
      // The emulator reads the account and region from the credential scope; it checks no signature.
      Authorization: "AWS4-HMAC-SHA256 Credential=operator/20260101/us-east-1/secretsmanager/aws4_request, SignedHeaders=host, Signature=0",
    },
    body: JSON.stringify({ SecretId: secretId, SecretString: JSON.stringify(value) }),
  });
  if (!r.ok) throw new Error(`putting the payments secret: ${r.status} ${await r.text()}`);
}

/** The operator's first admin, made by the deploy step (the tests make their own admins too). */
export const OPERATOR = { email: "operador@loja.example", password: "operador-da-loja-2026" };

async function publish(root, store) {
  const bin = resolve(root, process.env.VITRINE_BIN || join("target", "debug", "vitrine"));
  const args = [
    "aws", "publish",
    "--site-bucket", physical(store, "SiteBucket"),
    "--user-pool-id", physical(store, "UserPool"),
    "--admin-email", OPERATOR.email,
    "--admin-password-stdin",
    "--site-url", store.base,
    "--web-dir", join(root, "web"),
  ];
  const child = spawn(bin, args, { cwd: root, env: awsEnv(store), stdio: ["pipe", "pipe", "pipe"] });
  let out = "";
  child.stdout.on("data", (d) => (out += d));
  child.stderr.on("data", (d) => (out += d));
  child.stdin.end(`${OPERATOR.password}\n`);
  const code = await new Promise((r) => child.on("exit", r));
  if (code !== 0) throw new Error(`vitrine aws publish failed (${code}): ${out}`);
}

/** The physical id of a resource of the template, by logical id. */
export function physical(store, logicalId) {
  const id = store.resources[logicalId];
  if (!id) throw new Error(`the runner created no ${logicalId}; it has ${Object.keys(store.resources).join(", ")}`);
  return id;
}

/** The environment under which `vitrine` commands act on the runner's resources. */
export function awsEnv(store) {
  const env = {};
  for (const [k, v] of Object.entries(process.env)) if (!k.startsWith("VITRINE_")) env[k] = v;
  return {
    ...env,
    VITRINE_BACKEND: "aws",
    VITRINE_AWS_EMULATOR: "true",
    AWS_ENDPOINT_URL: store.emulator,
    AWS_REGION: "us-east-1",
    AWS_ACCESS_KEY_ID: "operator",
    AWS_SECRET_ACCESS_KEY: "operator",
    VITRINE_TABLE: physical(store, "DataTable"),
    VITRINE_BUCKET: physical(store, "InvoicesBucket"),
    VITRINE_USER_POOL_ID: physical(store, "UserPool"),
    VITRINE_CLIENT_ID: physical(store, "UserPoolClient"),
    VITRINE_MAIL_FROM: "loja@vitrine.example",
    VITRINE_LOG: "warn",
  };
}

/** Everything the emulator's SES sent, newest last: [{to, subject, body}]. */
export async function sentMail(store) {
  // moto builds this dump from its live state and answers 500 when a request changes the state
  // meanwhile: ask again (a few times).
  let data;
  for (let attempt = 1; ; attempt++) {
    const r = await fetch(`${store.emulator}/moto-api/data.json`);
    if (r.ok) {
      data = await r.json();
      break;
    }
    if (attempt >= 20) throw new Error(`the emulator's state: ${r.status} ${await r.text()}`);
    await new Promise((res) => setTimeout(res, 100));
  }
  const messages = (data.ses && data.ses.Message) || [];
  return messages.map((m) => ({
    to: [...((m.destinations && m.destinations.ToAddresses) || [])],
    subject: m.subject || "",
    body: m.body || "",
    source: m.source || "",
  }));
}

/** The newest six-digit code SES sent to `email`. */
export async function sesCode(store, email, { timeoutMs = 20_000 } = {}) {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const mails = (await sentMail(store)).filter((m) => m.to.some((t) => t.toLowerCase() === email.toLowerCase()));
    for (const m of mails.reverse()) {
      const c = m.body.match(/\b(\d{6})\b/);
      if (c) return c[1];
    }
    await new Promise((r) => setTimeout(r, 300));
  }
  throw new Error(`SES sent no code to ${email}`);
}
