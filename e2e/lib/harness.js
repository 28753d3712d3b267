// The browser tests' harness: the real `vitrine serve` on a random port over a fresh data folder,
// headless Debian Chromium through playwright-core, and the checks every page gets — no console
// error, no serious or critical axe-core violation, a screenshot under target/e2e/, and (where
// asked) no horizontal scrolling and no overlapping controls at phone and laptop sizes.

import { spawn } from "node:child_process";
import { createHmac } from "node:crypto";
import { mkdtempSync, mkdirSync, readFileSync, readdirSync, rmSync, writeFileSync, existsSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { createRequire } from "node:module";
import { deflateSync, gzipSync } from "node:zlib";
import assert from "node:assert/strict";
import { chromium } from "playwright-core";
import { startAwsStore, awsEnv, sesCode } from "./aws.js";

const require = createRequire(import.meta.url);
const here = dirname(fileURLToPath(import.meta.url));
export const ROOT = resolve(here, "..", "..");
export const SHOTS = join(ROOT, "target", "e2e");
const AXE = readFileSync(require.resolve("axe-core/axe.min.js"), "utf8");

/** Where the store sends its admin alerts (large orders, low stock, failed invoices). */
export const ALERTS_TO = "alertas@loja.example";

export const VIEWPORTS = {
  phone: { width: 390, height: 844 },
  laptop: { width: 1366, height: 768 },
};

function binary() {
  const bin = process.env.VITRINE_BIN || join(ROOT, "target", "debug", "vitrine");
  const path = resolve(ROOT, bin);
  if (!existsSync(path)) {
    throw new Error(`the vitrine binary is not at ${path}: build it (cargo build -p vitrine) or set VITRINE_BIN`);
  }
  return path;
}

/** The environment for the server: ours, without any VITRINE_* setting from outside. */
function serverEnv(dataDir, extra = {}) {
  const env = {};
  for (const [k, v] of Object.entries(process.env)) if (!k.startsWith("VITRINE_")) env[k] = v;
  const config = join(dataDir, "..", "vitrine.toml");
  writeFileSync(config, "");
  return { ...env, VITRINE_DATA_DIR: dataDir, VITRINE_CONFIG: config, VITRINE_LOG: "warn", ...extra };
}

/** Run a `vitrine` command to its end; its output on failure. */
async function runVitrine(args, { cwd, env, input }) {
  const child = spawn(binary(), args, { cwd, env, stdio: ["pipe", "pipe", "pipe"] });
  let out = "";
  child.stdout.on("data", (d) => (out += d));
  child.stderr.on("data", (d) => (out += d));
  child.stdin.end(input || "");
  const code = await new Promise((r) => child.on("exit", r));
  assert.equal(code, 0, `vitrine ${args.join(" ")} failed: ${out}`);
  return out;
}

/**
 * The store under test: `vitrine serve` (the default), or with VITRINE_E2E_SHAPE=aws the AWS
 * shape — the template run by the runner on the emulator, seeded with the demo catalog by
 * `vitrine seed` on the aws backend (lib/aws.js). `env`: more settings for `vitrine serve`;
 * `aws`: {parameters, secret} for the AWS shape (lib/psp.js makes both).
 */
export async function startServer({ env = {}, aws = {} } = {}) {
  if (process.env.VITRINE_E2E_SHAPE === "aws") {
    const store = await startAwsStore(ROOT, aws);
    try {
      await runVitrine(["seed"], { cwd: store.root, env: awsEnv(store) });
    } catch (e) {
      await store.stop();
      throw e;
    }
    return store;
  }
  return startLocalServer(env);
}

/**
 * The store and a browser for the test `t`, both stopped when it ends; with `admin` (email, name,
 * password), that admin is made and signed in through the API (its token: `adminToken`).
 */
export async function storeAndBrowser(t, { admin } = {}) {
  const server = await startServer();
  t.after(() => server.stop());
  const browser = await launch();
  t.after(() => browser.close());
  if (!admin) return { server, browser };
  await createUser(server, { ...admin, admin: true });
  return { server, browser, adminToken: await signInApi(server, admin.email, admin.password) };
}

/** Start `vitrine serve` on 127.0.0.1:<random> over a fresh, seeded data folder. */
async function startLocalServer(extra) {
  const root = mkdtempSync(join(tmpdir(), "vitrine-e2e-"));
  const dataDir = join(root, "data");
  const env = serverEnv(dataDir, { VITRINE_LISTEN: "127.0.0.1:0", VITRINE_ALERTS_TO: ALERTS_TO, ...extra });
  const child = spawn(binary(), ["serve"], { cwd: root, env, stdio: ["ignore", "pipe", "pipe"] });
  let out = "";
  let err = "";
  child.stderr.on("data", (d) => {
    err += d;
  });
  const base = await new Promise((resolvePromise, reject) => {
    const timer = setTimeout(() => reject(new Error(`vitrine serve did not start in 60 s\n${out}\n${err}`)), 60_000);
    child.stdout.on("data", (d) => {
      out += d;
      const m = out.match(/vitrine is running at (http:\/\/[^\s/]+)\//);
      if (m) {
        clearTimeout(timer);
        resolvePromise(m[1]);
      }
    });
    child.on("exit", (code) => {
      clearTimeout(timer);
      reject(new Error(`vitrine serve exited (${code})\n${out}\n${err}`));
    });
  });
  return {
    base,
    dataDir,
    root,
    stderr: () => err,
    async stop() {
      if (child.exitCode === null) {
        const exited = new Promise((r) => child.once("exit", r));
        child.kill("SIGTERM");
        await Promise.race([exited, new Promise((r) => setTimeout(r, 10_000))]);
        if (child.exitCode === null) child.kill("SIGKILL");
      }
      rmSync(root, { recursive: true, force: true });
    },
  };
}

/** `vitrine user create` on the server's data folder (the server keeps running), or on the AWS
 * shape's user pool and table. */
export async function createUser(server, { email, name, password, admin = false, role }) {
  const args = ["user", "create", "--email", email, "--name", name, "--password-stdin"];
  if (admin) args.push("--admin");
  if (role) args.push("--role", role);
  const env = server.shape === "aws" ? awsEnv(server) : serverEnv(server.dataDir);
  await runVitrine(args, { cwd: server.root, env, input: `${password}\n` });
}

/** Call the API from the test (not the browser). */
export async function api(server, path, { method = "GET", token, body, headers = {} } = {}) {
  const h = { Accept: "application/json", ...headers };
  if (token) h.Authorization = `Bearer ${token}`;
  if (body !== undefined) h["Content-Type"] = "application/json";
  const res = await fetch(server.base + path, { method, headers: h, body: body === undefined ? undefined : JSON.stringify(body) });
  const text = await res.text();
  let json = null;
  try {
    json = text ? JSON.parse(text) : null;
  } catch {
    json = null;
  }
  return { status: res.status, headers: res.headers, json, text };
}

export async function signInApi(server, email, password) {
  const r = await api(server, "/api/v1/auth/sign-in", { method: "POST", body: { email, password } });
  assert.equal(r.status, 200, `sign-in of ${email}: ${r.text}`);
  return r.json.access_token;
}

/** Confirm a Pix payment the way the payment provider does: a signed webhook. */
export async function payPix(server, { txid, amount }) {
  const secret = server.shape === "aws" ? server.webhookSecret : readFileSync(join(server.dataDir, "keys", "payments-webhook.secret"));
  const body = JSON.stringify({
    id: `ntf_${Date.now()}_${Math.random().toString(36).slice(2)}`,
    type: "pix.paid",
    txid,
    amount_centavos: amount,
    end_to_end_id: `E${Date.now()}${Math.floor(Math.random() * 1e6)}`,
  });
  const ts = Math.floor(Date.now() / 1000);
  const sig = createHmac("sha256", secret).update(`${ts}.${body}`).digest("hex");
  const res = await fetch(`${server.base}/api/v1/payments/webhooks/pix`, {
    method: "POST",
    headers: { "Content-Type": "application/json", "Vitrine-Signature": `t=${ts},v1=${sig}` },
    body,
  });
  const text = await res.text();
  assert.equal(res.status, 200, `webhook: ${text}`);
  return JSON.parse(text);
}

/** A paid Pix order of `buyer`'s (made here), placed and paid through the API; its id. */
export async function paidPixOrder(server, buyer) {
  await createUser(server, buyer);
  const token = await signInApi(server, buyer.email, buyer.password);
  const placed = await api(server, "/api/v1/orders", {
    method: "POST",
    token,
    headers: { "Idempotency-Key": `e2e-${Date.now()}` },
    body: {
      items: [{ sku: "BON-SAR-PRETO", quantity: 1 }],
      shipping_address: { recipient: buyer.name, street: "Rua XV de Novembro", number: "50", district: "Centro", city: "Curitiba", uf: "PR", cep: "80020-310" },
      shipping_method: "sedex",
      payment_method: "pix",
      tax_id: "529.982.247-25",
    },
  });
  assert.equal(placed.status, 201, placed.text);
  const charge = await api(server, `/api/v1/orders/${placed.json.id}/payment`, { method: "POST", token, body: { method: "pix" } });
  assert.equal(charge.status, 200, charge.text);
  const paid = await payPix(server, { txid: charge.json.pix.txid, amount: charge.json.amount_centavos });
  assert.equal(paid.result, "paid");
  return placed.json.id;
}

/** Wait up to `ms` for the invoice issuer to move the order to `invoiced`; the status then. */
export async function waitInvoiced(server, adminToken, id, ms) {
  const deadline = Date.now() + ms;
  for (;;) {
    const o = (await api(server, `/api/v1/admin/orders/${id}`, { token: adminToken })).json;
    if (o.status === "invoiced" || Date.now() > deadline) return o.status;
    await new Promise((r) => setTimeout(r, 500));
  }
}

/** Decode what the file mailer writes: quoted-printable or base64 text parts. */
function decodeMail(raw) {
  const text = raw.replace(/\r\n/g, "\n");
  const parts = text.split(/\n--[^\n]+\n/);
  let out = "";
  for (const part of parts) {
    const [head, ...rest] = part.split("\n\n");
    const body = rest.join("\n\n");
    if (/content-transfer-encoding:\s*quoted-printable/i.test(head)) {
      const bytes = [];
      const soft = body.replace(/=\n/g, "");
      for (let i = 0; i < soft.length; i++) {
        if (soft[i] === "=" && /^[0-9A-F]{2}$/i.test(soft.slice(i + 1, i + 3))) {
          bytes.push(parseInt(soft.slice(i + 1, i + 3), 16));
          i += 2;
        } else {
          bytes.push(...Buffer.from(soft[i], "utf8"));
        }
      }
      out += Buffer.from(bytes).toString("utf8") + "\n";
    } else if (/content-transfer-encoding:\s*base64/i.test(head)) {
      out += Buffer.from(body.replace(/\s+/g, ""), "base64").toString("utf8") + "\n";
    } else {
      out += body + "\n";
    }
  }
  return out;
}

/** The newest six-digit code mailed to `email` (sign-up confirmation, password reset). */
export async function mailedCode(server, email, { timeoutMs = 10_000 } = {}) {
  if (server.shape === "aws") return sesCode(server, email, { timeoutMs: Math.max(timeoutMs, 20_000) });
  const dir = join(server.dataDir, "mail");
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (existsSync(dir)) {
      const files = readdirSync(dir).filter((f) => f.endsWith(".eml") && !f.startsWith(".")).sort();
      for (const f of files.reverse()) {
        const raw = readFileSync(join(dir, f), "utf8");
        if (!raw.toLowerCase().includes(email.toLowerCase())) continue;
        const m = decodeMail(raw).match(/\b(\d{6})\s*$/m);
        if (m) return m[1];
      }
    }
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new Error(`no code mailed to ${email} in ${dir}`);
}

export async function launch() {
  return chromium.launch({
    executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
    headless: true,
    args: ["--no-sandbox", "--disable-dev-shm-usage"],
  });
}

/**
 * A page that records console errors, uncaught exceptions and dialogs (an `alert` would mean
 * injected script ran). `allow(pattern)` lets one expected failed request through (e.g. a
 * deliberate 412), by its URL and status.
 */
export async function openPage(browser, { viewport = VIEWPORTS.laptop } = {}) {
  const context = await browser.newContext({ viewport, locale: "pt-BR", timezoneId: "America/Sao_Paulo", acceptDownloads: true });
  const page = await context.newPage();
  const problems = [];
  const allowed = [];
  page.on("console", (m) => {
    if (m.type() !== "error") return;
    const url = m.location()?.url || "";
    const hit = allowed.find((a) => a.url.test(url) && (!a.status || m.text().includes(`status of ${a.status}`)));
    if (hit) {
      hit.seen = true;
      return;
    }
    problems.push(`console error: ${m.text()} (${url})`);
  });
  page.on("pageerror", (e) => problems.push(`uncaught exception: ${e.message}`));
  page.on("dialog", async (d) => {
    problems.push(`dialog opened (${d.type()}): ${d.message()}`);
    await d.dismiss().catch(() => {});
  });
  page.problems = problems;
  page.allow = (url, status) => allowed.push({ url, status, seen: false });
  page.assertClean = (step) => {
    assert.deepEqual(problems, [], `browser problems at ${step}:\n${problems.join("\n")}`);
  };
  return { context, page };
}

/** Inject axe-core and fail on serious or critical violations. */
export async function axe(page, step) {
  const loaded = await page.evaluate(() => typeof window.axe !== "undefined");
  if (!loaded) await page.evaluate(AXE);
  const result = await page.evaluate(async () => {
    const r = await window.axe.run(document, { resultTypes: ["violations"] });
    return r.violations.map((v) => ({ id: v.id, impact: v.impact, help: v.help, nodes: v.nodes.slice(0, 5).map((n) => n.target.join(" ") + " — " + n.failureSummary) }));
  });
  const bad = result.filter((v) => v.impact === "serious" || v.impact === "critical");
  assert.deepEqual(bad, [], `axe-core at ${step}:\n${JSON.stringify(bad, null, 2)}`);
  return result;
}

export async function screenshot(page, name) {
  mkdirSync(SHOTS, { recursive: true });
  const path = join(SHOTS, `${name}.png`);
  await page.screenshot({ path, fullPage: true });
  return path;
}

/**
 * No horizontal scrolling, and no two visible controls or headings overlapping (one inside the
 * other — a link around a heading — is fine).
 */
export async function assertLayout(page, step) {
  const r = await page.evaluate(() => {
    const doc = document.documentElement;
    const selector = "a[href], button, input:not([type=hidden]), select, textarea, summary, [tabindex]:not([tabindex='-1']), h1, h2, h3, h4, img";
    const els = Array.from(document.querySelectorAll(selector)).filter((el) => {
      if (el.closest("[hidden], .visually-hidden")) return false;
      const s = getComputedStyle(el);
      if (s.visibility === "hidden" || s.display === "none") return false;
      const b = el.getBoundingClientRect();
      return b.width > 1 && b.height > 1;
    });
    const boxes = els.map((el) => {
      const b = el.getBoundingClientRect();
      return { el, x: b.left + scrollX, y: b.top + scrollY, w: b.width, h: b.height };
    });
    const name = (el) => {
      const text = (el.getAttribute("aria-label") || el.textContent || el.getAttribute("alt") || el.getAttribute("name") || "").trim().slice(0, 40);
      return `${el.tagName.toLowerCase()}${el.id ? "#" + el.id : ""}${el.className && typeof el.className === "string" ? "." + el.className.split(" ")[0] : ""} "${text}"`;
    };
    const overlaps = [];
    for (let i = 0; i < boxes.length; i++) {
      for (let j = i + 1; j < boxes.length; j++) {
        const a = boxes[i];
        const b = boxes[j];
        if (a.el.contains(b.el) || b.el.contains(a.el)) continue;
        // A label's own control, or an image inside a link/button, belongs together.
        if (a.el.closest("label") && a.el.closest("label") === b.el.closest("label")) continue;
        const w = Math.min(a.x + a.w, b.x + b.w) - Math.max(a.x, b.x);
        const h = Math.min(a.y + a.h, b.y + b.h) - Math.max(a.y, b.y);
        if (w > 2 && h > 2) overlaps.push(`${name(a.el)} × ${name(b.el)} (${Math.round(w)}×${Math.round(h)} px)`);
      }
    }
    return { scrollWidth: doc.scrollWidth, innerWidth: window.innerWidth, overlaps: overlaps.slice(0, 10) };
  });
  assert.ok(r.scrollWidth <= r.innerWidth, `${step}: horizontal scrolling (scrollWidth ${r.scrollWidth} > ${r.innerWidth})`);
  assert.deepEqual(r.overlaps, [], `${step}: overlapping elements`);
}

/** Check a page at both sizes (screenshots `${name}-phone`, `${name}-laptop`), then restore. */
export async function checkViewports(page, name) {
  const original = page.viewportSize();
  for (const [label, size] of Object.entries(VIEWPORTS)) {
    await page.setViewportSize(size);
    await page.waitForTimeout(150);
    await assertLayout(page, `${name} at ${size.width}×${size.height}`);
    await screenshot(page, `${name}-${label}`);
  }
  await page.setViewportSize(original);
}

/** Every check of a page: console, axe, screenshot. */
export async function checkPage(page, name) {
  await page.waitForLoadState("networkidle").catch(() => {});
  await axe(page, name);
  await screenshot(page, name);
  page.assertClean(name);
}

/** The JavaScript the page loaded, and its size gzip -9 compressed. */
export function trackScripts(page) {
  const scripts = new Map();
  page.on("response", async (res) => {
    if (res.request().resourceType() !== "script") return;
    try {
      const body = await res.body();
      scripts.set(res.url(), { raw: body.length, gzip: gzipSync(body, { level: 9 }).length });
    } catch {
      // a redirect or an aborted request has no body
    }
  });
  return scripts;
}

/** A real PNG (a 64×64 picture: green with a white diagonal band), made here: no file to ship. */
export function pngBytes(size = 64) {
  const crcTable = Array.from({ length: 256 }, (_, n) => {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    return c >>> 0;
  });
  const crc32 = (buf) => {
    let c = 0xffffffff;
    for (const b of buf) c = crcTable[(c ^ b) & 0xff] ^ (c >>> 8);
    return (c ^ 0xffffffff) >>> 0;
  };
  const chunk = (type, data) => {
    const len = Buffer.alloc(4);
    len.writeUInt32BE(data.length);
    const td = Buffer.concat([Buffer.from(type, "ascii"), data]);
    const crc = Buffer.alloc(4);
    crc.writeUInt32BE(crc32(td));
    return Buffer.concat([len, td, crc]);
  };
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(size, 0);
  ihdr.writeUInt32BE(size, 4);
  ihdr[8] = 8; // bit depth
  ihdr[9] = 2; // RGB
  const rows = [];
  for (let y = 0; y < size; y++) {
    const row = Buffer.alloc(1 + size * 3);
    for (let x = 0; x < size; x++) {
      const band = Math.abs(x - y) < size / 8;
      row[1 + x * 3] = band ? 255 : 10;
      row[2 + x * 3] = band ? 255 : 92;
      row[3 + x * 3] = band ? 255 : 54;
    }
    rows.push(row);
  }
  return Buffer.concat([
    Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    chunk("IHDR", ihdr),
    chunk("IDAT", deflateSync(Buffer.concat(rows))),
    chunk("IEND", Buffer.alloc(0)),
  ]);
}

/**
 * Wait until the order page shows the order as paid, and return what it shows. The store invoices
 * a paid order on its own, so by the time a test looks the page may already say "Faturado": both
 * count, and the label is read in the same moment as the status so that the pair agrees.
 */
export async function waitPaid(page, { timeout = 15_000 } = {}) {
  const handle = await page.waitForFunction(
    () => {
      const el = document.querySelector('[data-testid="order-status"]');
      const status = el && el.getAttribute("data-status");
      return status === "paid" || status === "invoiced" ? { status, label: el.textContent } : null;
    },
    null,
    { timeout },
  );
  const shown = await handle.jsonValue();
  const expected = { paid: "Pago", invoiced: "Faturado" }[shown.status];
  assert.equal(shown.label, expected, `status ${shown.status} is labelled ${shown.label}`);
  return shown;
}
