// An admin and an order's NF-e, in a real browser: the order page shows the invoiced order's
// NF-e; the admin sends a correction letter and cancels the NF-e (a justification too short is
// refused beside the field first), each confirmed in the page before it is sent.
//
// What the tax authority does depends on the store, read from GET /api/v1/admin/fiscal:
// - `sefaz-simulator` (`vitrine serve`, the demo) or `sefaz`: the NF-e is authorised, the letter
//   and the cancellation are registered with a protocol, shown in the page;
// - `signed-not-transmitted` (the AWS shape's demo stack): nothing is sent, so the letter is
//   refused (422, its reason shown in the page) and the cancellation is recorded in the store
//   alone (cancelled, no protocol).

import { test } from "node:test";
import assert from "node:assert/strict";
import { storeAndBrowser, openPage, api, checkPage, checkViewports, paidPixOrder, waitInvoiced } from "./lib/harness.js";

const ADMIN = { email: "fiscal@loja.example", name: "Fiscal da Loja", password: "fiscal-da-loja-2026", admin: true };
const BUYER = { email: "carla@example.com", name: "Carla Souza", password: "senha-da-carla-7" };
const CORRECTION = "Onde se le Rua XV de Novembro 50, leia-se Rua XV de Novembro 500";
const JUSTIFICATION = "Pedido cancelado a pedido do cliente antes do envio";

test("an admin sends a correction letter and cancels an order's NF-e", { timeout: 240_000 }, async (t) => {
  const { server, browser, adminToken: admin } = await storeAndBrowser(t, { admin: ADMIN });
  const orderId = await paidPixOrder(server, BUYER);
  const status = await waitInvoiced(server, admin, orderId, 60_000);
  assert.equal(status, "invoiced", `the paid order was not invoiced within 60 s (status ${status}): is the invoice issuer running?`);

  const fiscal = await api(server, "/api/v1/admin/fiscal", { token: admin });
  assert.equal(fiscal.status, 200, fiscal.text);
  const authority = fiscal.json.authority;
  const transmits = authority === "sefaz-simulator" || authority === "sefaz";
  assert.ok(transmits || authority === "signed-not-transmitted", `the store's fiscal authority is ${JSON.stringify(authority)}: this test knows sefaz, sefaz-simulator and signed-not-transmitted (${fiscal.text})`);

  const invoice = async () => {
    const r = await api(server, `/api/v1/admin/orders/${orderId}/invoice`, { token: admin });
    assert.equal(r.status, 200, r.text);
    return r.json;
  };
  const issued = await invoice();
  const { page } = await openPage(browser);
  const nfe = page.getByTestId("nfe");

  await t.test("the order page shows its NF-e", async () => {
    await page.goto(`${server.base}/admin/`);
    await page.getByLabel("E-mail").fill(ADMIN.email);
    await page.getByLabel("Senha").fill(ADMIN.password);
    await page.getByRole("button", { name: "Entrar" }).click();
    await page.getByRole("heading", { level: 1, name: "Painel" }).waitFor();
    await page.getByRole("link", { name: "Pedidos" }).click();
    await page.getByRole("heading", { level: 1, name: "Pedidos" }).waitFor();
    await page.getByLabel("Situação").selectOption("invoiced");
    await page.getByRole("link", { name: `#${orderId.slice(-8)}` }).click();
    await page.getByRole("heading", { level: 2, name: "Nota fiscal" }).waitFor();
    await nfe.getByTestId("nfe-state").waitFor();
    assert.equal(await nfe.getByTestId("nfe-state").textContent(), transmits ? "Autorizada" : "Assinada sem transmissão");
    assert.match(await nfe.textContent(), new RegExp(`Nº ${issued.number}, série ${issued.series}`));
    // The access key in groups of four, as the DANFE prints it.
    assert.match(await nfe.textContent(), new RegExp(issued.access_key.match(/\d{4}/g).join(" ")));
    if (transmits) {
      assert.ok(issued.protocol, "an authorised NF-e has a protocol");
      assert.equal(await nfe.getByTestId("nfe-protocol").textContent(), issued.protocol);
      await nfe.getByText(/^Pode ser cancelada até \d\d\/\d\d\/\d{4}/).waitFor();
    } else {
      assert.equal(issued.protocol, null);
      assert.equal(await nfe.getByTestId("nfe-protocol").count(), 0);
      await nfe.getByText("Esta nota não foi transmitida à SEFAZ: o cancelamento fica registrado apenas na loja.").waitFor();
    }
    await checkPage(page, "fiscal-01-invoice");
    await checkViewports(page, "fiscal-01-invoice");
  });

  await t.test("a correction letter, confirmed before it is sent", async () => {
    await nfe.getByLabel("Texto da correção").fill(CORRECTION);
    await nfe.getByRole("button", { name: "Enviar carta de correção" }).click();
    const question = nfe.getByRole("group", { name: "Enviar a carta de correção nº 1 à SEFAZ? Ela substitui as anteriores." });
    await question.waitFor();
    assert.deepEqual((await invoice()).corrections, [], "the letter was sent before it was confirmed");
    await checkPage(page, "fiscal-02-correction-confirm");
    if (!transmits) page.allow(/\/invoice\/corrections$/, 422);
    await question.getByRole("button", { name: "Confirmar envio" }).click();
    if (transmits) {
      await nfe.getByText("Carta de correção nº 1 registrada.").waitFor();
      const letter = nfe.getByTestId("nfe-correction-1");
      await letter.waitFor();
      const [sent] = (await invoice()).corrections;
      assert.equal(sent.sequence, 1);
      assert.equal(sent.text, CORRECTION);
      assert.equal(sent.registered, true);
      assert.equal(sent.by, ADMIN.email);
      assert.match(sent.protocol, /^\d{15}$/);
      assert.equal(await nfe.getByTestId("nfe-correction-1-protocol").textContent(), sent.protocol);
      assert.match(await letter.textContent(), new RegExp(CORRECTION));
      assert.match(await nfe.getByRole("listitem").filter({ has: page.getByTestId("nfe-correction-1") }).textContent(), /^Carta de correção nº 1 — em vigor/);
      await checkPage(page, "fiscal-03-correction");
    } else {
      // Nothing was sent to SEFAZ: the store's reason, in the page.
      const refusal = nfe.getByRole("alert");
      await refusal.waitFor();
      assert.match(await refusal.textContent(), /^Não é possível agora: .*SEFAZ/);
      assert.deepEqual((await invoice()).corrections, []);
      await checkPage(page, "fiscal-03-correction-refused");
    }
  });

  await t.test("cancel the NF-e: a short justification is refused, then the order is cancelled with it", async () => {
    page.allow(/\/invoice\/cancel$/, 422);
    const justification = nfe.getByLabel("Justificativa");
    await justification.fill("curta");
    await nfe.getByRole("button", { name: "Cancelar nota fiscal" }).click();
    const question = nfe.getByRole("group", { name: /^Confirmar o cancelamento da NF-e nº \d+\?/ });
    await question.getByRole("button", { name: "Confirmar cancelamento" }).click();
    await nfe.locator(".field-error").waitFor();
    assert.equal(await justification.getAttribute("aria-invalid"), "true");
    assert.match(await nfe.locator(".field-error").textContent(), /15 to 255 characters/);
    await nfe.getByText("Confira os campos destacados.").waitFor();
    assert.equal((await invoice()).cancellation, null);
    assert.equal((await api(server, `/api/v1/admin/orders/${orderId}`, { token: admin })).json.status, "invoiced");
    await checkPage(page, "fiscal-04-cancel-refused");

    await justification.fill(JUSTIFICATION);
    await nfe.getByRole("button", { name: "Cancelar nota fiscal" }).click();
    // Back first: nothing is sent.
    await question.getByRole("button", { name: "Voltar" }).click();
    assert.equal(await question.isVisible(), false);
    assert.equal((await invoice()).cancellation, null, "the cancellation was sent without confirmation");
    await nfe.getByRole("button", { name: "Cancelar nota fiscal" }).click();
    await question.getByRole("button", { name: "Confirmar cancelamento" }).click();

    await page.locator('[data-testid="order-status"][data-status="cancelled"]').waitFor();
    await nfe.getByText(`NF-e nº ${issued.number} cancelada; o pedido foi cancelado e o reembolso, pedido.`).waitFor();
    await page.waitForFunction(() => document.querySelector('[data-testid="nfe-state"]')?.textContent === "Cancelada");
    const cancelled = await invoice();
    assert.equal(cancelled.cancelled, true);
    assert.equal(cancelled.cancellable_until, null);
    assert.equal(cancelled.cancellation.text, JUSTIFICATION);
    assert.equal(cancelled.cancellation.registered, true);
    const shown = await nfe.getByTestId("nfe-cancellation-protocol").textContent();
    if (transmits) {
      assert.match(cancelled.cancellation.protocol, /^\d{15}$/);
      assert.equal(shown, cancelled.cancellation.protocol);
    } else {
      assert.equal(cancelled.cancellation.protocol, null);
      assert.equal(shown, "Registrado apenas na loja (nota não transmitida à SEFAZ)");
    }
    assert.equal((await api(server, `/api/v1/admin/orders/${orderId}`, { token: admin })).json.status, "cancelled");
    // A cancelled NF-e takes no more moves.
    assert.equal(await nfe.locator("form").count(), 0);
    await checkPage(page, "fiscal-05-cancelled");
  });
});
