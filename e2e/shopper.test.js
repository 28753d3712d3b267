// A shopper, in a real browser: browses the catalog, adds two variants of a product to the cart
// (signed out), signs up (reading the code from the mail folder), checks out with Pix (after a
// misspelt city is refused on its field with the right name offered); the
// payment is confirmed by the provider's webhook, the order page turns to "Pago" live (no
// reload), and — once the invoice issuer has issued the NF-e — the invoice downloads.
//
// E2E_SKIP_INVOICE=1 skips only the invoice step (for trees where the invoice endpoint and its
// issuer have not landed); without it, a missing endpoint fails the test by name.

import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { startServer, launch, openPage, createUser, signInApi, api, payPix, mailedCode, checkPage, checkViewports, screenshot, trackScripts, waitPaid, SHOTS } from "./lib/harness.js";

const ADMIN = { email: "dona@loja.example", name: "Dona da Loja", password: "dona-da-loja-2026", admin: true };
const SHOPPER = { email: `ana.${Date.now()}@example.com`, name: "Ana Souza", password: "senha-forte-1" };

test("a shopper buys two variants with Pix and sees the order paid live", { timeout: 240_000 }, async (t) => {
  const server = await startServer();
  const browser = await launch();
  t.after(async () => {
    await browser.close();
    await server.stop();
  });
  await createUser(server, ADMIN);
  const admin = await signInApi(server, ADMIN.email, ADMIN.password);

  // ---- the catalog's JavaScript, as a first visit loads it ----
  await t.test("the catalog page loads under 100 KB of JavaScript (gzip)", async () => {
    const { context, page } = await openPage(browser);
    const scripts = trackScripts(page);
    await page.goto(`${server.base}/#/catalogo`);
    await page.getByRole("heading", { level: 3 }).first().waitFor();
    await page.waitForLoadState("networkidle");
    const total = [...scripts.values()].reduce((s, x) => s + x.gzip, 0);
    const raw = [...scripts.values()].reduce((s, x) => s + x.raw, 0);
    mkdirSync(SHOTS, { recursive: true });
    writeFileSync(join(SHOTS, "catalog-js.json"), JSON.stringify({ gzip_bytes: total, raw_bytes: raw, files: Object.fromEntries(scripts) }, null, 2));
    t.diagnostic(`catalog JavaScript: ${scripts.size} files, ${raw} bytes, ${total} bytes gzip -9`);
    assert.ok(total < 100 * 1024, `catalog JavaScript is ${total} bytes compressed`);
    page.assertClean("catalog first load");
    await context.close();
  });

  const { page } = await openPage(browser);

  await t.test("home", async () => {
    await page.goto(`${server.base}/`);
    await page.getByRole("heading", { level: 1, name: "Bem-vindo à vitrine" }).waitFor();
    await page.locator(".cards .card h3 a").first().waitFor();
    await checkPage(page, "shopper-01-home");
  });

  await t.test("catalog: search and filters", async () => {
    await page.getByRole("link", { name: "Catálogo" }).first().click();
    await page.getByRole("heading", { level: 1, name: "Catálogo" }).waitFor();
    await page.locator(".cards .card h3 a").first().waitFor();
    await page.getByRole("searchbox", { name: "Buscar produtos" }).fill("camiseta");
    await page.getByRole("button", { name: "Buscar" }).click();
    await page.getByRole("heading", { level: 1, name: "Resultados para “camiseta”" }).waitFor();
    await page.getByRole("link", { name: "Camiseta Básica Algodão" }).waitFor();
    const names = await page.locator(".cards .card h3").allTextContents();
    assert.ok(names.length >= 2 && names.every((n) => /camiseta/i.test(n)), `search results: ${names}`);
    await checkPage(page, "shopper-02-catalog");
    await checkViewports(page, "layout-catalog");
  });

  await t.test("product: pick two variants and add them", async () => {
    await page.getByRole("link", { name: "Camiseta Básica Algodão" }).click();
    await page.getByRole("heading", { level: 1, name: "Camiseta Básica Algodão" }).waitFor();
    await page.getByText("R$ 49,90").first().waitFor();
    await page.getByText("Em estoque").waitFor();
    await checkPage(page, "shopper-03-product");
    await checkViewports(page, "layout-product");
    await page.getByRole("radio", { name: "P", exact: true }).check();
    await page.getByRole("button", { name: "Adicionar ao carrinho" }).click();
    await page.getByText(/1 × Camiseta Básica Algodão \(P\) no carrinho/).waitFor();
    await page.getByRole("radio", { name: "M", exact: true }).check();
    await page.getByLabel("Quantidade").fill("2");
    await page.getByRole("button", { name: "Adicionar ao carrinho" }).click();
    await page.getByText(/2 × Camiseta Básica Algodão \(M\) no carrinho/).waitFor();
    await screenshot(page, "shopper-04-added");
    page.assertClean("add to cart");
  });

  await t.test("cart (signed out)", async () => {
    await page.getByRole("link", { name: "Ver carrinho" }).click();
    await page.getByRole("heading", { level: 1, name: "Seu carrinho" }).waitFor();
    await page.locator(".lines > li").nth(1).waitFor();
    const lines = await page.locator(".lines > li").count();
    assert.equal(lines, 2);
    await page.getByText("R$ 149,70").first().waitFor(); // 3 × 49,90
    await checkPage(page, "shopper-05-cart");
    await checkViewports(page, "layout-cart");
  });

  await t.test("sign up with the mailed code; the cart comes along", async () => {
    await page.getByRole("link", { name: "Finalizar compra" }).click();
    await page.getByRole("heading", { level: 1, name: "Entrar" }).waitFor();
    await checkPage(page, "shopper-06-sign-in");
    await page.getByRole("link", { name: "Criar conta" }).click();
    await page.getByRole("heading", { level: 1, name: "Criar conta" }).waitFor();
    await page.getByLabel("Nome completo").fill(SHOPPER.name);
    await page.getByLabel("E-mail").fill(SHOPPER.email);
    await page.getByLabel("Senha").fill(SHOPPER.password);
    await checkPage(page, "shopper-07-sign-up");
    await page.getByRole("button", { name: "Criar conta" }).click();
    await page.getByRole("heading", { level: 1, name: "Confirme seu e-mail" }).waitFor();
    const code = await mailedCode(server, SHOPPER.email);
    await page.getByLabel("Código de 6 dígitos").fill(code);
    await checkPage(page, "shopper-08-confirm");
    await page.getByRole("button", { name: "Confirmar" }).click();
    await page.getByRole("heading", { level: 1, name: "Finalizar compra" }).waitFor();
    await page.getByText("Itens (3)").waitFor();
  });

  let orderId;
  await t.test("checkout with Pix", async () => {
    await page.getByLabel("CEP").fill("01310100");
    await page.getByRole("radio", { name: /PAC/ }).waitFor();
    await page.getByLabel("Rua").fill("Avenida Paulista");
    await page.getByLabel("Número").fill("1000");
    await page.getByLabel("Complemento (opcional)").fill("ap. 12");
    await page.getByLabel("Bairro").fill("Bela Vista");
    await page.getByLabel("Cidade").fill("Sao Paolo");
    await page.getByLabel("Estado (UF)").selectOption("SP");
    await page.getByLabel("CPF ou CNPJ").fill("529.982.247-25");
    await page.getByRole("radio", { name: /PAC/ }).check();
    await page.getByRole("radio", { name: /Pix/ }).check();
    assert.equal(await page.getByLabel("CEP").inputValue(), "01310-100");
    // A city that is not a municipality of the state could never be invoiced: refused on its
    // field, in Portuguese, with the closest name offered. (The form saves the address first,
    // so the refusal comes from the saved-addresses endpoint.)
    page.allow(/\/api\/v1\/me\/addresses$/, 422);
    await page.getByRole("button", { name: "Fazer pedido" }).click();
    await page.getByText("“Sao Paolo” não é um município de SP. Você quis dizer São Paulo?").waitFor();
    assert.equal(await page.getByLabel("Cidade").getAttribute("aria-invalid"), "true");
    await checkPage(page, "shopper-09-checkout-city-refused");
    await page.getByLabel("Cidade").fill("São Paulo");
    await checkPage(page, "shopper-09-checkout");
    await checkViewports(page, "layout-checkout");
    await page.getByRole("button", { name: "Fazer pedido" }).click();
    await page.getByRole("heading", { level: 2, name: "Pague com Pix" }).waitFor();
    orderId = decodeURIComponent(page.url().split("#/pedido/")[1]);
    assert.ok(orderId, page.url());
  });

  await t.test("the order page shows the Pix QR code and the copia e cola code", async () => {
    const qr = page.getByRole("img", { name: /QR Code Pix/ });
    await qr.waitFor();
    await page.waitForFunction(() => {
      const img = document.querySelector(".pix img");
      return img && img.complete && img.naturalWidth > 0;
    });
    const brCode = await page.getByLabel("Pix copia e cola").inputValue();
    assert.match(brCode, /^000201/);
    await page.getByRole("button", { name: "Copiar código Pix" }).waitFor();
    const status = page.getByTestId("order-status");
    assert.equal(await status.textContent(), "Aguardando pagamento");
    await checkPage(page, "shopper-10-order-pix");
    await checkViewports(page, "layout-order");
  });

  await t.test("the webhook confirms the payment and the page turns to paid without a reload", async () => {
    await page.evaluate(() => {
      window.__sameDocument = true;
    });
    await page.getByText("Esta página se atualiza sozinha.").waitFor();
    const payment = await api(server, `/api/v1/orders/${orderId}/payment`, { token: admin });
    assert.equal(payment.status, 200, payment.text);
    const result = await payPix(server, { txid: payment.json.pix.txid, amount: payment.json.amount_centavos });
    assert.equal(result.result, "paid");
    await waitPaid(page);
    assert.equal(await page.evaluate(() => window.__sameDocument), true, "the page was reloaded");
    await page.getByText("Pagamento confirmado. Obrigado pela compra!").waitFor();
    await checkPage(page, "shopper-11-order-paid");
  });

  await t.test("the invoice downloads once issued", async (st) => {
    if (process.env.E2E_SKIP_INVOICE === "1") {
      st.skip("E2E_SKIP_INVOICE=1: the invoice step is skipped");
      return;
    }
    const probe = await api(server, `/api/v1/orders/${orderId}/invoice`, { token: admin });
    assert.ok(
      !(probe.status === 404 && /route not found/.test(probe.text)),
      "GET /api/v1/orders/{id}/invoice is not served (404 route not found): the invoice endpoint has not landed",
    );
    let order;
    const deadline = Date.now() + 20_000;
    do {
      order = (await api(server, `/api/v1/admin/orders/${orderId}`, { token: admin })).json;
      if (order.status === "invoiced" && order.invoice_key) break;
      await new Promise((r) => setTimeout(r, 500));
    } while (Date.now() < deadline);
    assert.equal(order.status, "invoiced", "the paid order was not invoiced within 20 s (is the invoice issuer running?)");
    const button = page.getByRole("button", { name: "Baixar a nota fiscal (XML)" });
    await button.waitFor({ timeout: 15_000 });
    const [download] = await Promise.all([page.waitForEvent("download"), button.click()]);
    const path = join(SHOTS, `invoice-${orderId}.xml`);
    await download.saveAs(path);
    const xml = readFileSync(path, "utf8");
    assert.match(xml, /<(\?xml|NFe|nfeProc)/);
    assert.ok(xml.includes(order.invoice_key.replace(/\D/g, "").slice(0, 44)) || xml.includes("infNFe"), "the invoice XML");
    // The DANFE, the printed form: a PDF (pdftotext is checked in the vitrine-nfe tests).
    const danfeButton = page.getByRole("button", { name: "Baixar o DANFE (PDF)" });
    const [danfe] = await Promise.all([page.waitForEvent("download"), danfeButton.click()]);
    const pdfPath = join(SHOTS, `danfe-${orderId}.pdf`);
    await danfe.saveAs(pdfPath);
    assert.equal(readFileSync(pdfPath).subarray(0, 5).toString("latin1"), "%PDF-", "the DANFE is a PDF");
    await checkPage(page, "shopper-12-invoice");
  });
});
