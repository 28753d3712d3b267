// One order's whole life, on either shape (VITRINE_E2E_SHAPE=aws runs it on the template runner's
// CloudFront address; unset, on `vitrine serve`): the fresh store (sandbox payments, chosen
// explicitly) says so on every page; a customer signs up with the mailed code and
// opts in to text messages, buys by card; the order page, open in the browser, follows the order
// live from paid to invoiced, shipped and delivered as the admin moves it; the NF-e downloads;
// a second order paid by Pix is cancelled (a refund is due); a large order raises the admin's
// alerts; and every e-mail of those lives is sent. On the AWS shape the runner's invocation
// table must then show every function of the template invoked by its own event source.

import { test } from "node:test";
import assert from "node:assert/strict";
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { ALERTS_TO, startServer, launch, openPage, createUser, signInApi, api, payPix, mailedCode, checkPage } from "./lib/harness.js";
import { sentMail } from "./lib/aws.js";

const ADMIN = { email: "dona@loja.example", name: "Dona da Loja", password: "dona-da-loja-2026", admin: true };
const BUYER = { email: `bia.${Date.now()}@example.com`, name: "Bia Lima", password: "senha-forte-2" };
const ADDRESS = {
  recipient: "Bia Lima",
  street: "Avenida Paulista",
  number: "1000",
  district: "Bela Vista",
  city: "São Paulo",
  uf: "SP",
  cep: "01310-100",
};

async function until(what, fn, { timeoutMs = 30_000, everyMs = 300 } = {}) {
  const deadline = Date.now() + timeoutMs;
  let last;
  while (Date.now() < deadline) {
    last = await fn();
    if (last) return last;
    await new Promise((r) => setTimeout(r, everyMs));
  }
  throw new Error(`${what}: not within ${timeoutMs / 1000} s`);
}

/** The subjects of every e-mail sent to `email`, on either shape. */
async function subjectsTo(server, email) {
  if (server.shape === "aws") {
    return (await sentMail(server)).filter((m) => m.to.some((t) => t.toLowerCase() === email.toLowerCase())).map((m) => m.subject);
  }
  const dir = join(server.dataDir, "mail");
  if (!existsSync(dir)) return [];
  const subjects = [];
  for (const f of readdirSync(dir).filter((n) => n.endsWith(".eml"))) {
    const raw = readFileSync(join(dir, f), "utf8");
    if (!raw.toLowerCase().includes(email.toLowerCase())) continue;
    const m = raw.match(/^Subject: (.*(?:\r?\n[ \t].*)*)/m);
    if (m) subjects.push(decodeHeader(m[1].replace(/\r?\n[ \t]/g, " ")));
  }
  return subjects;
}

/** RFC 2047 encoded words (=?utf-8?b?…?= / =?utf-8?q?…?=) to text. */
function decodeHeader(value) {
  return value
    .replace(/\?=\s+=\?/g, "?==?")
    .replace(/=\?utf-8\?([bq])\?([^?]*)\?=/gi, (_, enc, text) =>
      enc.toLowerCase() === "b"
        ? Buffer.from(text, "base64").toString("utf8")
        : Buffer.from(text.replace(/_/g, " ").replace(/=([0-9A-F]{2})/gi, (__, h) => String.fromCharCode(parseInt(h, 16))), "latin1").toString("utf8"),
    );
}

async function order(server, admin, id) {
  const r = await api(server, `/api/v1/admin/orders/${id}`, { token: admin });
  assert.equal(r.status, 200, r.text);
  return r.json;
}

test("an order from sign-up to delivered, with every e-mail and every function", { timeout: 420_000 }, async (t) => {
  const server = await startServer();
  const browser = await launch();
  t.after(async () => {
    await browser.close();
    await server.stop();
  });
  await createUser(server, ADMIN);
  const admin = await signInApi(server, ADMIN.email, ADMIN.password);

  let token;
  await t.test("sign up with the mailed code and opt in to text messages", async () => {
    const up = await api(server, "/api/v1/auth/sign-up", { method: "POST", body: { email: BUYER.email, name: BUYER.name, password: BUYER.password } });
    assert.ok([200, 201, 202].includes(up.status), up.text);
    const wrong = await api(server, "/api/v1/auth/confirm", { method: "POST", body: { email: BUYER.email, code: "000000" } });
    assert.ok(wrong.status >= 400 && wrong.status < 500, `a wrong code must be refused: ${wrong.status} ${wrong.text}`);
    const code = await mailedCode(server, BUYER.email);
    const confirmed = await api(server, "/api/v1/auth/confirm", { method: "POST", body: { email: BUYER.email, code } });
    assert.ok(confirmed.status < 300, confirmed.text);
    token = await signInApi(server, BUYER.email, BUYER.password);
    const me = await api(server, "/api/v1/me", { method: "PUT", token, body: { name: BUYER.name, tax_id: "529.982.247-25", phone: "(11) 98765-4321", sms_opt_in: true, language: "pt-BR" } });
    assert.equal(me.status, 200, me.text);
    assert.equal(me.json.sms_opt_in, true);
  });

  let cardOrder;
  await t.test("buy by card", async () => {
    const placed = await api(server, "/api/v1/orders", {
      method: "POST",
      token,
      headers: { "Idempotency-Key": `journey-card-${Date.now()}` },
      body: { items: [{ sku: "CAM-BAS-M", quantity: 1 }], shipping_address: ADDRESS, shipping_method: "pac", payment_method: "card" },
    });
    assert.equal(placed.status, 201, placed.text);
    cardOrder = placed.json.id;
    const paid = await api(server, `/api/v1/orders/${cardOrder}/payment`, {
      method: "POST",
      token,
      body: { method: "card", card: { number: "4111 1111 1111 1111", holder: "BIA LIMA" }, installments: 1 },
    });
    assert.ok(paid.status < 300, paid.text);
  });

  const { page } = await openPage(browser);
  await t.test("a fresh store says on every page, in Portuguese, that it is in demo mode", async () => {
    for (const path of ["/#/", "/#/catalogo", "/#/carrinho", "/admin/"]) {
      await page.goto(`${server.base}${path}`);
      const banner = page.getByTestId("demo-banner");
      await banner.waitFor({ timeout: 20_000 });
      assert.ok(await banner.isVisible(), path);
      assert.equal((await banner.textContent()).trim(), "Loja em modo de demonstração: nenhum pagamento é cobrado", path);
    }
  });
  await t.test("the order page follows the order live to delivered", async () => {
    await page.goto(`${server.base}/#/entrar`);
    await page.getByLabel("E-mail").fill(BUYER.email);
    await page.getByLabel("Senha").fill(BUYER.password);
    await page.getByRole("button", { name: "Entrar" }).click();
    await page.getByRole("link", { name: "Minha conta" }).first().waitFor();
    await page.goto(`${server.base}/#/pedido/${encodeURIComponent(cardOrder)}`);
    await page.getByTestId("order-status").waitFor();
    await page.getByText("Esta página se atualiza sozinha.").waitFor({ timeout: 20_000 });
    await page.evaluate(() => {
      window.__sameDocument = true;
    });
    await until("the card order invoiced by the invoice issuer", async () => (await order(server, admin, cardOrder)).status === "invoiced", { timeoutMs: 60_000 });
    await page.locator('[data-testid="order-status"][data-status="invoiced"]').waitFor({ timeout: 20_000 });
    const shipped = await api(server, `/api/v1/admin/orders/${cardOrder}/ship`, { method: "POST", token: admin, body: { tracking_code: "BR123456789BR" } });
    assert.equal(shipped.status, 200, shipped.text);
    await page.locator('[data-testid="order-status"][data-status="shipped"]').waitFor({ timeout: 20_000 });
    const delivered = await api(server, `/api/v1/admin/orders/${cardOrder}/deliver`, { method: "POST", token: admin, body: {} });
    assert.equal(delivered.status, 200, delivered.text);
    await page.locator('[data-testid="order-status"][data-status="delivered"]').waitFor({ timeout: 20_000 });
    assert.equal(await page.evaluate(() => window.__sameDocument), true, "the page was reloaded");
    await checkPage(page, `journey-${server.shape || "local"}-delivered`);
  });

  await t.test("the NF-e downloads", async () => {
    const r = await api(server, `/api/v1/orders/${cardOrder}/invoice`, { token, headers: { Accept: "application/xml" } });
    assert.equal(r.status, 200, r.text.slice(0, 500));
    assert.match(r.text, /<(NFe|nfeProc)[ >]/);
    assert.match(r.text, /<Signature[ >]/);
  });

  let pixOrder;
  await t.test("a Pix order paid by the webhook, then cancelled with a refund due", async () => {
    const placed = await api(server, "/api/v1/orders", {
      method: "POST",
      token,
      headers: { "Idempotency-Key": `journey-pix-${Date.now()}` },
      body: { items: [{ sku: "CAM-BAS-P", quantity: 1 }], shipping_address: ADDRESS, shipping_method: "pac", payment_method: "pix" },
    });
    assert.equal(placed.status, 201, placed.text);
    pixOrder = placed.json.id;
    const charge = await api(server, `/api/v1/orders/${pixOrder}/payment`, { method: "POST", token, body: { method: "pix" } });
    assert.ok(charge.status < 300, charge.text);
    const payment = await api(server, `/api/v1/orders/${pixOrder}/payment`, { token });
    assert.equal(payment.status, 200, payment.text);
    const result = await payPix(server, { txid: payment.json.pix.txid, amount: payment.json.amount_centavos });
    assert.equal(result.result, "paid");
    await until("the Pix order paid", async () => ["paid", "invoiced"].includes((await order(server, admin, pixOrder)).status));
    const cancelled = await api(server, `/api/v1/admin/orders/${pixOrder}/cancel`, { method: "POST", token: admin, body: { reason: "cliente desistiu" } });
    assert.equal(cancelled.status, 200, cancelled.text);
  });

  await t.test("a large order raises the admin's alerts", async () => {
    const placed = await api(server, "/api/v1/orders", {
      method: "POST",
      token,
      headers: { "Idempotency-Key": `journey-large-${Date.now()}` },
      body: { items: [{ sku: "CAM-BAS-G", quantity: 22 }], shipping_address: ADDRESS, shipping_method: "pac", payment_method: "pix" },
    });
    assert.equal(placed.status, 201, placed.text);
    await until("an alert e-mail to the admin", async () => (await subjectsTo(server, ALERTS_TO)).some((s) => /Pedido grande|Estoque baixo/.test(s)), { timeoutMs: 60_000 });
  });

  await t.test("every e-mail of the lifecycle was sent", async () => {
    const expected = [
      `Recebemos seu pedido ${cardOrder}`,
      `Pagamento confirmado: pedido ${cardOrder}`,
      `Nota fiscal emitida: pedido ${cardOrder}`,
      `Pedido ${cardOrder} enviado`,
      `Pedido ${cardOrder} entregue`,
      `Pedido ${pixOrder} cancelado`,
    ];
    const subjects = await until(
      "every lifecycle e-mail",
      async () => {
        const s = await subjectsTo(server, BUYER.email);
        return expected.every((e) => s.includes(e)) ? s : null;
      },
      { timeoutMs: 60_000 },
    ).catch(async (e) => {
      throw new Error(`${e.message}; sent to the buyer: ${JSON.stringify(await subjectsTo(server, BUYER.email))}`);
    });
    t.diagnostic(`e-mails to the buyer: ${subjects.length}`);
  });

  if (server.shape === "aws") {
    await t.test("every function of the template was invoked by its own event source", async () => {
      // The schedules' functions run on their timers; fire them now rather than wait a day.
      for (const rule of await server.schedules()) await server.fireSchedule(rule);
      const table = await until(
        "an invocation of every function",
        async () => {
          const rows = await server.invocations();
          const invoked = new Set(rows.filter((r) => r.invocations > 0).map((r) => r.function));
          const missing = [...new Set(rows.map((r) => r.function))].filter((f) => !invoked.has(f));
          return missing.length === 0 && rows.length > 0 ? rows : null;
        },
        { timeoutMs: 90_000, everyMs: 1_000 },
      ).catch(async (e) => {
        throw new Error(`${e.message}; invocations: ${JSON.stringify(await server.invocations())}`);
      });
      for (const row of table) t.diagnostic(`${row.function} ← ${row.source}: ${row.invocations} invocations, ${row.errors} errors`);
      assert.deepEqual(await server.denials(), [], "every AWS call the functions made is allowed by the template");
    });
  }
});
