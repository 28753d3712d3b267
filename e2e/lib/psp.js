// The fake payment providers for the browser tests: the `fake-psp` binary of vitrine-testkit (the
// fake bank's Pix API over mutual TLS and the fake Mercado Pago, both checking every request
// against the providers' specs, each with the inbox its notices reach). `startPsp()` starts it,
// reads the lines it prints, and returns the store's settings to use it (`env` for `vitrine
// serve`, `aws` for the template's parameters and payments secret), the control helpers the tests
// play the payer with, and `stop`.

import { spawn } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, existsSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";

const READY_TIMEOUT_MS = 30_000;
const CONTROL_TIMEOUT_MS = 15_000;

function pspBinary(root) {
  const bin = resolve(root, process.env.VITRINE_FAKE_PSP_BIN || join("target", "debug", "fake-psp"));
  if (!existsSync(bin)) {
    throw new Error(`the fake providers are not at ${bin}: build them (cargo build -p vitrine-testkit --bin fake-psp) or set VITRINE_FAKE_PSP_BIN`);
  }
  return bin;
}

/** Start fake-psp; the store's settings choose the bank for Pix and Mercado Pago for cards and boleto. */
export async function startPsp(root) {
  const dir = mkdtempSync(join(tmpdir(), "vitrine-e2e-psp-"));
  const child = spawn(pspBinary(root), ["--dir", dir], { stdio: ["pipe", "pipe", "pipe"] });
  let out = "";
  let err = "";
  child.stderr.on("data", (d) => (err += d));
  const facts = await new Promise((res, rej) => {
    const timer = setTimeout(() => rej(new Error(`fake-psp was not ready in ${READY_TIMEOUT_MS / 1000} s\n${out}\n${err}`)), READY_TIMEOUT_MS);
    child.stdout.on("data", (d) => {
      out += d;
      if (/^fake-psp: ready$/m.test(out)) {
        clearTimeout(timer);
        const found = {};
        for (const m of out.matchAll(/^fake-psp: ([\w-]+) (\S+)$/gm)) found[m[1]] = m[2];
        res(found);
      }
    });
    child.on("exit", (code) => {
      clearTimeout(timer);
      rej(new Error(`fake-psp exited (${code})\n${out}\n${err}`));
    });
  });
  for (const name of ["bcb-api", "bcb-token", "bcb-webhook", "mercadopago", "mercadopago-notify", "control"]) {
    if (!facts[name]) throw new Error(`fake-psp did not print its ${name}:\n${out}`);
  }

  const control = async (path, { method = "GET", body } = {}) => {
    const r = await fetch(`${facts.control}${path}`, {
      method,
      headers: body === undefined ? {} : { "Content-Type": "application/json" },
      body: body === undefined ? undefined : JSON.stringify(body),
      signal: AbortSignal.timeout(CONTROL_TIMEOUT_MS),
    });
    const text = await r.text();
    if (!r.ok) throw new Error(`fake-psp ${method} ${path}: ${r.status} ${text}`);
    return JSON.parse(text);
  };

  // The shared choice and settings; PEM files for `vitrine serve`, PEM text in the AWS secret.
  const common = {
    VITRINE_PAYMENTS_PIX: "bcb",
    VITRINE_PAYMENTS_CARD: "mercadopago",
    VITRINE_PAYMENTS_BOLETO: "mercadopago",
    VITRINE_PIX_KEY: facts["bcb-pix-key"],
    VITRINE_BCB_API_URL: facts["bcb-api"],
    VITRINE_BCB_TOKEN_URL: facts["bcb-token"],
    VITRINE_BCB_CLIENT_ID: facts["bcb-client-id"],
    VITRINE_BCB_CLIENT_SECRET: facts["bcb-client-secret"],
    VITRINE_BCB_WEBHOOK_URL: facts["bcb-webhook"],
    VITRINE_MERCADOPAGO_API_URL: facts.mercadopago,
    VITRINE_MERCADOPAGO_SCRIPT_URL: facts["mercadopago-script"],
    VITRINE_MERCADOPAGO_ACCESS_TOKEN: facts["mercadopago-access-token"],
    VITRINE_MERCADOPAGO_PUBLIC_KEY: facts["public-key"],
    VITRINE_MERCADOPAGO_WEBHOOK_SECRET: facts["webhook-secret"],
    VITRINE_MERCADOPAGO_NOTIFICATION_URL: facts["mercadopago-notify"],
  };
  const env = {
    ...common,
    VITRINE_BCB_CERTIFICATE_FILE: facts["bcb-certificate-file"],
    VITRINE_BCB_KEY_FILE: facts["bcb-key-file"],
    VITRINE_BCB_CA_FILE: facts["bcb-ca-file"],
  };
  // On AWS the choice and the Pix key are template parameters; the rest is the payments secret.
  const asParameters = new Set(["VITRINE_PAYMENTS_PIX", "VITRINE_PAYMENTS_CARD", "VITRINE_PAYMENTS_BOLETO", "VITRINE_PIX_KEY"]);
  const aws = {
    // The page policy CloudFront sends allows the card provider's origins (here the fake's).
    parameters: { PixProvider: "bcb", CardProvider: "mercadopago", CardProviderOrigins: new URL(facts.mercadopago).origin, BoletoProvider: "mercadopago", PixKey: common.VITRINE_PIX_KEY },
    secret: {
      ...Object.fromEntries(Object.entries(common).filter(([k]) => !asParameters.has(k))),
      VITRINE_BCB_CERTIFICATE_PEM: readFileSync(facts["bcb-certificate-file"], "utf8"),
      VITRINE_BCB_KEY_PEM: readFileSync(facts["bcb-key-file"], "utf8"),
      VITRINE_BCB_CA_PEM: readFileSync(facts["bcb-ca-file"], "utf8"),
    },
  };

  return {
    facts,
    env,
    aws,
    stdout: () => out,
    stderr: () => err,
    /** Pass every notice the providers send to the store at `base`. */
    relayTo: (base) => control("/store", { method: "POST", body: { url: base } }),
    /** The payer pays the Pix charge `txid` at the bank: its end-to-end id. */
    payPix: async (txid) => (await control(`/bank/pay/${encodeURIComponent(txid)}`, { method: "POST" })).end_to_end_id,
    /** The boleto (Mercado Pago's payment id) is paid. */
    payBoleto: (id) => control(`/mercadopago/boleto/${encodeURIComponent(id)}/pay`, { method: "POST" }),
    /** {requests: {bcb, mercadopago}, violations: [...], relayed: [...]} */
    report: () => control("/report"),
    async stop() {
      if (child.exitCode === null) {
        const exited = new Promise((r) => child.once("exit", r));
        await control("/stop", { method: "POST" }).catch(() => child.kill("SIGTERM"));
        await Promise.race([exited, new Promise((r) => setTimeout(r, 5_000))]);
        if (child.exitCode === null) child.kill("SIGKILL");
      }
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
