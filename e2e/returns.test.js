// Withdrawal and returns (CDC art. 49), in a real browser: a paid order is invoiced by the
// invoice issuer, shipped and delivered (admin API); the buyer opens a return from the order
// page ("Desistir da compra / devolver"); the admin finds it in Devoluções, marks the items
// received (the unit is back in stock) and approves it; the refund is made through the payment
// provider and both sides show the return approved.

import { test } from "node:test";
import assert from "node:assert/strict";
import { storeAndBrowser, openPage, api, checkPage, paidPixOrder, waitInvoiced, signInApi } from "./lib/harness.js";

const ADMIN = { email: "dona@loja.example", name: "Dona da Loja", password: "dona-da-loja-2026", admin: true };
const BUYER = { email: "carla@example.com", name: "Carla Dias", password: "senha-da-carla-7" };
const SKU = "BON-SAR-PRETO";

async function until(what, check, { timeoutMs = 20_000 } = {}) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 250));
  }
}

const stockOf = async (server, admin) => (await api(server, `/api/v1/admin/stock/${SKU}`, { token: admin })).json.available;

test("a buyer withdraws from a delivered order and the admin receives and refunds it", { timeout: 240_000 }, async (t) => {
  const { server, browser, adminToken: admin } = await storeAndBrowser(t, { admin: ADMIN });
  const orderId = await paidPixOrder(server, BUYER);
  const status = await waitInvoiced(server, admin, orderId, 30_000);
  assert.equal(status, "invoiced", "the paid order was not invoiced within 30 s");
  for (const [path, body] of [
    ["ship", { tracking_code: "BR123456789BR" }],
    ["deliver", {}],
  ]) {
    const r = await api(server, `/api/v1/admin/orders/${orderId}/${path}`, { method: "POST", token: admin, body });
    assert.equal(r.status, 200, r.text);
  }
  const stockBefore = await stockOf(server, admin);

  const { page } = await openPage(browser);
  await t.test("the buyer opens a return from the order page", async () => {
    await page.goto(`${server.base}/#/pedido/${orderId}`);
    await page.getByRole("heading", { level: 1, name: "Entrar" }).waitFor();
    await page.getByLabel("E-mail").fill(BUYER.email);
    await page.getByLabel("Senha").fill(BUYER.password);
    await page.getByRole("button", { name: "Entrar" }).click();
    await page.locator('[data-testid="order-status"][data-status="delivered"]').waitFor();
    await page.getByText(/Você pode desistir da compra até/).waitFor();
    await page.getByRole("button", { name: "Desistir da compra / devolver" }).click();
    await page.getByLabel(/Quantidade de .* a devolver/).selectOption("1");
    await page.getByLabel("Motivo").fill("O tamanho não serviu.");
    await checkPage(page, "returns-01-buyer-form");
    await page.getByRole("button", { name: "Enviar pedido de devolução" }).click();
    await page.getByText("Pedido de devolução enviado.", { exact: false }).waitFor();
    await page.locator('[data-testid="return"][data-status="requested"]').waitFor();
    // One unit of one: nothing left to return, so the button is gone.
    assert.equal(await page.getByRole("button", { name: "Desistir da compra / devolver" }).count(), 0);
    await checkPage(page, "returns-02-buyer-requested");
  });

  const { page: adminPage } = await openPage(browser);
  await t.test("the admin finds it in Devoluções, receives the items and approves the refund", async () => {
    await adminPage.goto(`${server.base}/admin/`);
    await adminPage.getByRole("heading", { level: 1, name: "Entrar na administração" }).waitFor();
    await adminPage.getByLabel("E-mail").fill(ADMIN.email);
    await adminPage.getByLabel("Senha").fill(ADMIN.password);
    await adminPage.getByRole("button", { name: "Entrar" }).click();
    await adminPage.getByRole("heading", { level: 1, name: "Painel" }).waitFor();
    await adminPage.getByRole("link", { name: "Devoluções" }).click();
    await adminPage.getByRole("heading", { level: 1, name: "Devoluções" }).waitFor();
    const row = adminPage.locator(`[data-testid="return-row"][data-order="${orderId}"][data-status="requested"]`);
    await row.waitFor();
    await checkPage(adminPage, "returns-03-admin-list");
    await row.getByRole("link").click();
    await adminPage.locator('[data-testid="admin-return"][data-status="requested"]').waitFor();
    // The entry NF-e's data: the original key, and the line's NCM and CFOP.
    const order = (await api(server, `/api/v1/admin/orders/${orderId}`, { token: admin })).json;
    const key = await adminPage.getByTestId("return-fiscal-key").textContent();
    assert.equal(key.replace(/\s/g, ""), order.invoice_key);
    await checkPage(adminPage, "returns-04-admin-order");

    await adminPage.getByRole("button", { name: "Marcar produtos recebidos" }).click();
    await adminPage.locator('[data-testid="admin-return"][data-status="received"]').waitFor();
    assert.equal(await stockOf(server, admin), stockBefore + 1, "the returned unit is back in stock");

    const amount = order.returns[0].amount_centavos;
    assert.equal(amount, order.total_centavos, "the whole order comes back, shipping included");
    await adminPage.getByRole("button", { name: /Aprovar e estornar/ }).click();
    await adminPage.locator('[data-testid="admin-return"][data-status="approved"]').waitFor();
    await adminPage.getByText("Devolução atualizada: Aprovada (estornada).").waitFor();
    assert.equal(await stockOf(server, admin), stockBefore + 1, "approving does not restock again");
  });

  await t.test("the refund is made and the buyer sees the return approved", async () => {
    const token = await signInApi(server, BUYER.email, BUYER.password);
    const payment = await until("the provider's refund", async () => {
      const p = (await api(server, `/api/v1/orders/${orderId}/payment`, { token })).json;
      return p.partial_refunds?.[0]?.reference ? p : null;
    });
    assert.equal(payment.partial_refunds.length, 1);
    const order = (await api(server, `/api/v1/orders/${orderId}`, { token })).json;
    assert.equal(payment.partial_refunds[0].amount_centavos, order.total_centavos);
    assert.equal(payment.partial_refunds[0].id, order.returns[0].refund_id);
    await page.locator('[data-testid="return"][data-status="approved"]').waitFor({ timeout: 20_000 });
    assert.match(await page.getByTestId("return-status").textContent(), /Aprovada/);
    await checkPage(page, "returns-05-buyer-approved");
  });
});
