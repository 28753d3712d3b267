// Shipping quoted by a carrier, in a real browser: the store set up with Melhor Envio (through the
// `fake-carrier` binary of vitrine-testkit, the fake Melhor Envio that checks every request
// against the published API); at checkout the buyer sees the carriers' options for their CEP —
// Correios and Jadlog, each with its price and days — picks one, and the order is charged what
// that option was quoted. Once the order is paid and invoiced, the owner buys its shipping label
// from the admin's order page ("Comprar etiqueta" at that price, confirmed): the panel shows the
// label bought with its tracking code and "Imprimir etiqueta", nothing left to click, and the
// order is shipped with that code; one label (the fake does not tell over HTTP how many it sold,
// so the label route says). The fake refused nothing the store sent. Local shape only: the AWS
// shape's api function does not read the carrier settings yet (docs/configuration.md).

import { test } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { join, resolve } from "node:path";
import { ROOT, startServer, launch, openPage, createUser, api, signInApi, checkPage, payPix, waitInvoiced } from "./lib/harness.js";

const BUYER = { email: "rio@example.com", name: "Rita Rocha", password: "senha-forte-77" };
const ADMIN = { email: "dona@loja.example", name: "Dona da Loja", password: "dona-da-loja-2026" };

/** Start fake-carrier: `{ url, token, stop }`; `stop` resolves to the requests it refused. */
async function startCarrier() {
  const bin = resolve(ROOT, process.env.VITRINE_FAKE_CARRIER_BIN || join("target", "debug", "fake-carrier"));
  if (!existsSync(bin)) throw new Error(`the fake carrier is not at ${bin}: cargo build -p vitrine-testkit --bin fake-carrier`);
  const child = spawn(bin, [], { stdio: ["pipe", "pipe", "pipe"] });
  let out = "";
  let err = "";
  child.stderr.on("data", (d) => (err += d));
  const facts = await new Promise((res, rej) => {
    const timer = setTimeout(() => rej(new Error(`fake-carrier was not ready in 30 s\n${out}\n${err}`)), 30_000);
    child.stdout.on("data", (d) => {
      out += d;
      if (/^fake-carrier: ready$/m.test(out)) {
        clearTimeout(timer);
        const found = {};
        for (const m of out.matchAll(/^fake-carrier: (url|token) (\S+)$/gm)) found[m[1]] = m[2];
        res(found);
      }
    });
    child.on("exit", (code) => {
      clearTimeout(timer);
      rej(new Error(`fake-carrier exited (${code})\n${out}\n${err}`));
    });
  });
  return {
    ...facts,
    async stop() {
      if (child.exitCode !== null) return [];
      const exited = new Promise((r) => child.once("exit", r));
      child.stdin.end();
      await Promise.race([exited, new Promise((r) => setTimeout(r, 10_000))]);
      if (child.exitCode === null) child.kill("SIGKILL");
      return [...out.matchAll(/^fake-carrier: violation (.*)$/gm)].map((m) => m[1]);
    },
  };
}

test("checkout shows the carriers' options with prices and days, and charges the one chosen", { timeout: 180_000 }, async (t) => {
  if (process.env.VITRINE_E2E_SHAPE === "aws") {
    t.skip("the AWS shape's api function does not read the carrier settings yet");
    return;
  }
  const carrier = await startCarrier();
  const server = await startServer({
    env: {
      VITRINE_CARRIER: "melhorenvio",
      VITRINE_MELHORENVIO_API_URL: carrier.url,
      VITRINE_MELHORENVIO_TOKEN: carrier.token,
      VITRINE_MELHORENVIO_FROM_CEP: "01310-100",
      VITRINE_MELHORENVIO_CONTACT: "ti@loja.example",
    },
  });
  const browser = await launch();
  t.after(async () => {
    await browser.close();
    await server.stop();
    await carrier.stop();
  });
  await createUser(server, BUYER);
  const { page } = await openPage(browser);

  await t.test("sign in with a mug in the cart", async () => {
    await page.goto(`${server.base}/#/produto/caneca-de-ceramica-artesanal`);
    await page.getByRole("heading", { level: 1 }).waitFor();
    await page.getByRole("button", { name: "Adicionar ao carrinho" }).click();
    await page.getByText(/no carrinho/).waitFor();
    await page.goto(`${server.base}/#/checkout`);
    await page.getByRole("heading", { level: 1, name: "Entrar" }).waitFor();
    await page.getByLabel("E-mail").fill(BUYER.email);
    await page.getByLabel("Senha").fill(BUYER.password);
    await page.getByRole("button", { name: "Entrar" }).click();
    await page.getByRole("heading", { level: 1, name: "Finalizar compra" }).waitFor();
  });

  let chosen;
  await t.test("the options for a CEP in Rio: Correios and Jadlog, prices and days", async () => {
    await page.getByLabel("CEP").fill("20040002");
    const jadlog = page.getByRole("radio", { name: /^Jadlog \.Package/ });
    await jadlog.waitFor();
    await page.getByRole("radio", { name: /^Correios PAC/ }).waitFor();
    await page.getByRole("radio", { name: /^Correios SEDEX/ }).waitFor();
    const labels = await page.locator("#shipping-options label").allTextContents();
    assert.ok(labels.length >= 3, `options: ${labels}`);
    for (const l of labels) assert.match(l, /R\$\s\d+,\d{2} · \d+ dias? úte(is|l)/, `price and days: ${l}`);
    await page.getByLabel("Rua").fill("Avenida Rio Branco");
    await page.getByLabel("Número").fill("1");
    await page.getByLabel("Bairro").fill("Centro");
    await page.getByLabel("Cidade").fill("Rio de Janeiro");
    await page.getByLabel("Estado (UF)").selectOption("RJ");
    await page.getByLabel("CPF ou CNPJ").fill("529.982.247-25");
    await jadlog.check();
    const text = await page.locator("#shipping-options label", { has: jadlog }).textContent();
    const price = text.match(/R\$\s([\d.]+),(\d{2})/);
    assert.ok(price, text);
    chosen = { id: await jadlog.getAttribute("value"), centavos: Number(price[1].replace(/\./g, "")) * 100 + Number(price[2]) };
    assert.match(chosen.id, /^me-\d+$/);
    await page.getByRole("radio", { name: /Pix/ }).check();
    await checkPage(page, "carrier-01-checkout-options");
    await page.getByRole("button", { name: "Fazer pedido" }).click();
    await page.getByRole("heading", { level: 2, name: "Pague com Pix" }).waitFor();
  });

  let orderId;
  await t.test("the order is charged the option as quoted", async () => {
    orderId = decodeURIComponent(page.url().split("#/pedido/")[1]);
    const token = await signInApi(server, BUYER.email, BUYER.password);
    const order = await api(server, `/api/v1/orders/${orderId}`, { token });
    assert.equal(order.status, 200, order.text);
    assert.equal(order.json.shipping_method, chosen.id);
    assert.equal(order.json.shipping_centavos, chosen.centavos, "charged as shown");
  });

  let admin;
  await t.test("the order is paid and invoiced", async () => {
    await createUser(server, { ...ADMIN, admin: true });
    admin = await signInApi(server, ADMIN.email, ADMIN.password);
    const payment = await api(server, `/api/v1/orders/${orderId}/payment`, { token: admin });
    assert.equal(payment.status, 200, payment.text);
    const paid = await payPix(server, { txid: payment.json.pix.txid, amount: payment.json.amount_centavos });
    assert.equal(paid.result, "paid");
    const status = await waitInvoiced(server, admin, orderId, 30_000);
    assert.equal(status, "invoiced", "the paid order was not invoiced within 30 s");
    const label = await api(server, `/api/v1/admin/orders/${orderId}/label`, { token: admin });
    assert.equal(label.status, 200, label.text);
    assert.equal(label.json.sells_labels, true);
    assert.equal(label.json.label, null, "no label before the purchase");
  });

  const { page: adminPage } = await openPage(browser);
  let tracking;
  await t.test("the owner buys the label from the order page, which ships the order", async () => {
    await adminPage.goto(`${server.base}/admin/#/pedidos/${orderId}`);
    await adminPage.getByRole("heading", { level: 1, name: "Entrar na administração" }).waitFor();
    await adminPage.getByLabel("E-mail").fill(ADMIN.email);
    await adminPage.getByLabel("Senha").fill(ADMIN.password);
    await adminPage.getByRole("button", { name: "Entrar" }).click();
    await adminPage.locator('[data-testid="order-status"][data-status="invoiced"]').waitFor();
    const panel = adminPage.getByTestId("label");
    await panel.getByRole("heading", { level: 2, name: "Etiqueta de envio" }).waitFor();
    const buy = panel.getByRole("button", { name: /^Comprar etiqueta/ });
    await buy.waitFor();
    const price = (await buy.textContent()).match(/R\$\s([\d.]+),(\d{2}) no pedido/);
    assert.ok(price, await buy.textContent());
    assert.equal(Number(price[1].replace(/\./g, "")) * 100 + Number(price[2]), chosen.centavos, "the price charged at checkout");
    await checkPage(adminPage, "carrier-02-admin-label-offer");
    await buy.click();
    const yes = panel.getByRole("button", { name: "Sim, comprar" });
    await yes.waitFor();
    await panel.getByText(/^Comprar a etiqueta de Jadlog/).waitFor();
    await yes.click();
    const done = panel.getByText(/^Etiqueta comprada; pedido enviado com o código /);
    await done.waitFor();
    tracking = (await panel.getByTestId("label-tracking").textContent()).trim();
    assert.ok(tracking, "a tracking code");
    assert.equal(await done.textContent(), `Etiqueta comprada; pedido enviado com o código ${tracking}.`);
    assert.equal((await panel.getByTestId("label-state").textContent()).trim(), "Comprada, aguardando postagem");
    const print = panel.getByRole("link", { name: "Imprimir etiqueta" });
    await print.waitFor();
    assert.match(await print.getAttribute("href"), /^https?:\/\//);
    await adminPage.locator('[data-testid="order-status"][data-status="shipped"]').waitFor();
    assert.equal((await adminPage.getByTestId("tracking-code").textContent()).trim(), tracking);
    // Bought: nothing left to click.
    assert.equal(await panel.getByRole("button", { name: /^Comprar etiqueta/ }).count(), 0);
    assert.equal(await panel.getByRole("button", { name: "Sim, comprar" }).count(), 0);
    await checkPage(adminPage, "carrier-03-admin-label-bought");
  });

  await t.test("the order is shipped with the label's tracking code; one label, bought once", async () => {
    const order = await api(server, `/api/v1/admin/orders/${orderId}`, { token: admin });
    assert.equal(order.status, 200, order.text);
    assert.equal(order.json.status, "shipped");
    assert.equal(order.json.tracking_code, tracking);
    const label = await api(server, `/api/v1/admin/orders/${orderId}/label`, { token: admin });
    assert.equal(label.status, 200, label.text);
    assert.equal(label.json.label.state, "bought");
    assert.equal(label.json.label.tracking_code, tracking);
    assert.equal(label.json.label.method_id, chosen.id);
    assert.ok(label.json.label.label_id, "the carrier's id of the label");
    assert.ok(label.json.label.print_url, "the label's print address");
    assert.equal(label.json.releasable, false);
    // The server buys at most one label per order, whatever asks again.
    const again = await api(server, `/api/v1/admin/orders/${orderId}/label`, { method: "POST", token: admin, body: {} });
    assert.equal(again.status, 409, again.text);
    const after = await api(server, `/api/v1/admin/orders/${orderId}/label`, { token: admin });
    assert.equal(after.json.label.label_id, label.json.label.label_id, "the same label");
  });

  await t.test("the carrier refused nothing the store sent", async () => {
    const violations = await carrier.stop();
    assert.deepEqual(violations, [], "requests the fake Melhor Envio refused");
  });
});
