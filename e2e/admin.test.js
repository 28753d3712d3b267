// An admin, in a real browser: signs in, reads the dashboard, creates a product with two
// variants, uploads its image (stored in Blobs, served from /media), adjusts its stock, sees an
// edit conflict (someone else saved the product meanwhile: 412, shown, nothing overwritten), and
// ships an order with a tracking code.
//
// Shipping needs an invoiced order (ADR 0008). With E2E_SKIP_INVOICE=1, on a tree where the
// invoice issuer has not landed, the order stays paid: the test then checks that the order page
// says shipping waits for the invoice, instead of shipping.

import { test } from "node:test";
import assert from "node:assert/strict";
import { storeAndBrowser, openPage, api, checkPage, screenshot, pngBytes, paidPixOrder, waitInvoiced, createUser } from "./lib/harness.js";

const ADMIN = { email: "dona@loja.example", name: "Dona da Loja", password: "dona-da-loja-2026", admin: true };
const BUYER = { email: "bruno@example.com", name: "Bruno Lima", password: "outra-senha-9" };

test("an admin creates a product with an image, adjusts stock and ships an order", { timeout: 240_000 }, async (t) => {
  const { server, browser, adminToken: admin } = await storeAndBrowser(t, { admin: ADMIN });
  const orderId = await paidPixOrder(server, BUYER);
  const { page } = await openPage(browser);

  await t.test("sign in and read the dashboard", async () => {
    await page.goto(`${server.base}/admin/`);
    await page.getByRole("heading", { level: 1, name: "Entrar na administração" }).waitFor();
    await checkPage(page, "admin-01-sign-in");
    await page.getByLabel("E-mail").fill(ADMIN.email);
    await page.getByLabel("Senha").fill(ADMIN.password);
    await page.getByRole("button", { name: "Entrar" }).click();
    await page.getByRole("heading", { level: 1, name: "Painel" }).waitFor();
    assert.equal(await page.getByTestId("orders-today").textContent(), "1");
    assert.match(await page.getByTestId("revenue-today").textContent(), /^R\$\s[\d.]+,\d\d$/);
    await page.getByRole("img", { name: /Receita dos últimos 30 dias/ }).waitFor();
    await checkPage(page, "admin-02-dashboard");
  });

  let productUrl;
  await t.test("create a product with two variants", async () => {
    await page.getByRole("link", { name: "Produtos" }).click();
    await page.getByRole("heading", { level: 1, name: "Produtos" }).waitFor();
    await page.getByRole("link", { name: "Camiseta Básica Algodão" }).waitFor();
    await checkPage(page, "admin-03-products");
    await page.getByRole("link", { name: "Novo produto" }).click();
    await page.getByRole("heading", { level: 1, name: "Novo produto" }).waitFor();
    await page.getByLabel("Nome", { exact: true }).fill("Caneca Esmaltada");
    await page.getByLabel("Descrição").fill("Caneca de ágata, 350 ml.");
    await page.getByLabel("Categoria").selectOption({ label: "Casa" });
    const first = page.locator("fieldset.variant-edit").nth(0);
    await first.getByLabel("SKU").fill("CAN-ESM-AZUL");
    await first.getByLabel("Opções").fill("cor=azul");
    await first.getByLabel("Preço (R$)").fill("59,90");
    await first.getByLabel("Peso (g)").fill("350");
    await first.getByLabel("Estoque inicial").fill("10");
    await page.getByRole("button", { name: "Adicionar variante" }).click();
    const second = page.locator("fieldset.variant-edit").nth(1);
    await second.getByLabel("SKU").fill("CAN-ESM-VERDE");
    await second.getByLabel("Opções").fill("cor=verde");
    await second.getByLabel("Preço (R$)").fill("59,90");
    await second.getByLabel("Preço “de” (R$, opcional)").fill("69,90");
    await second.getByLabel("Peso (g)").fill("350");
    await second.getByLabel("Estoque inicial").fill("4");
    await checkPage(page, "admin-04-new-product");
    await page.getByRole("button", { name: "Criar produto" }).click();
    await page.getByText("Produto criado.").waitFor();
    await page.getByRole("heading", { level: 1, name: "Editar: Caneca Esmaltada" }).waitFor();
    productUrl = page.url();
    await checkPage(page, "admin-05-product-created");
  });

  await t.test("upload the product's image", async () => {
    // A file of another type is refused before anything is sent; markup posing as a PNG is
    // sent, then refused at registration, with a message.
    await page.getByLabel("Arquivo de imagem").setInputFiles({ name: "notas.txt", mimeType: "text/plain", buffer: Buffer.from("olá") });
    await page.getByRole("button", { name: "Enviar imagem" }).click();
    await page.getByText("Este arquivo não é PNG, JPEG, WebP nem AVIF.").waitFor();
    page.allow(/\/image-uploads\/register$/, 422);
    await page.getByLabel("Arquivo de imagem").setInputFiles({ name: "falsa.png", mimeType: "image/png", buffer: Buffer.from("<svg xmlns='http://www.w3.org/2000/svg'></svg>") });
    await page.getByRole("button", { name: "Enviar imagem" }).click();
    await page.getByText("O arquivo enviado não é uma imagem do tipo que diz ser (o conteúdo não confere).").waitFor();
    assert.equal(await page.locator(".images img").count(), 0);

    // The flow: an upload target, the file PUT to it, then the registration.
    const calls = [];
    const record = (req) => {
      const path = new URL(req.url()).pathname;
      // The PUT goes to the store's own /uploads/… under `vitrine serve`, and to the bucket's
      // /{bucket}/uploads/… on the AWS shape.
      if (/image-uploads/.test(path)) calls.push(`${req.method()} ${path}`);
      else if (/\/uploads\//.test(path)) calls.push(`${req.method()} /uploads/…`);
    };
    page.on("request", record);
    await page.getByLabel("Arquivo de imagem").setInputFiles({ name: "caneca.png", mimeType: "image/png", buffer: pngBytes(256) });
    await page.getByRole("button", { name: "Enviar imagem" }).click();
    await page.getByText("Imagem enviada.").waitFor();
    page.off("request", record);
    const base = /\/api\/v1\/admin\/products\/[0-9A-Z]{26}\/image-uploads/;
    assert.equal(calls.length, 3, calls.join(", "));
    assert.match(calls[0], new RegExp(`^POST ${base.source}$`));
    assert.equal(calls[1], "PUT /uploads/…");
    assert.match(calls[2], new RegExp(`^POST ${base.source}/register$`));
    const img = page.getByRole("img", { name: "Imagem 1 de Caneca Esmaltada" });
    await img.waitFor();
    await page.waitForFunction(() => {
      const i = document.querySelector(".images img");
      return i && i.complete && i.naturalWidth === 256;
    });
    const src = await img.getAttribute("src");
    assert.match(src, /^\/media\/images\/[0-9A-Z]{26}\/[0-9a-z]{26}\.png$/);
    const served = await fetch(server.base + src);
    assert.equal(served.status, 200);
    assert.equal(served.headers.get("content-type"), "image/png");
    assert.match(served.headers.get("cache-control"), /immutable/);
    await checkPage(page, "admin-06-image");
  });

  await t.test("adjust stock", async () => {
    const row = page.locator("form.stock-row", { hasText: "CAN-ESM-AZUL" });
    assert.equal(await page.getByTestId("stock-CAN-ESM-AZUL").textContent(), "10");
    await row.getByLabel("Ajuste (unidades)").fill("5");
    await row.getByLabel("Motivo (opcional)").fill("recebimento NF 1234");
    await row.getByRole("button", { name: "Ajustar estoque" }).click();
    await row.getByText("Estoque de CAN-ESM-AZUL: 15 unidades.").waitFor();
    assert.equal(await page.getByTestId("stock-CAN-ESM-AZUL").textContent(), "15");
    const level = await api(server, "/api/v1/admin/stock/CAN-ESM-AZUL", { token: admin });
    assert.equal(level.json.available, 15);
    await checkPage(page, "admin-07-stock");
  });

  await t.test("an edit conflict is shown, not overwritten", async () => {
    // Someone else saves the product (through the API) after this page loaded it.
    const id = decodeURIComponent(productUrl.split("#/produtos/")[1].split("?")[0]);
    const current = await api(server, `/api/v1/admin/products/${id}`, { token: admin });
    const theirs = { ...current.json, name: "Caneca Esmaltada Azul e Verde" };
    const body = {
      name: theirs.name,
      description: theirs.description,
      category_id: theirs.category_id,
      images: theirs.images,
      active: theirs.active,
      variants: theirs.variants.map(({ sku, options, price_centavos, compare_at_centavos, weight_g }) => ({ sku, options, price_centavos, compare_at_centavos, weight_g })),
    };
    const saved = await api(server, `/api/v1/admin/products/${id}`, { method: "PUT", token: admin, body, headers: { "If-Match": current.headers.get("etag") } });
    assert.equal(saved.status, 200, saved.text);
    page.allow(/\/api\/v1\/admin\/products\//, 412);
    await page.getByLabel("Descrição").fill("Caneca de ágata esmaltada, 350 ml.");
    await page.getByRole("button", { name: "Salvar" }).click();
    await page.getByText("Conflito de edição.").waitFor();
    await page.getByRole("button", { name: "Recarregar" }).waitFor();
    const after = await api(server, `/api/v1/admin/products/${id}`, { token: admin });
    assert.equal(after.json.name, "Caneca Esmaltada Azul e Verde", "the other admin's change was overwritten");
    await checkPage(page, "admin-08-conflict");
    await page.getByRole("button", { name: "Recarregar" }).click();
    await page.getByRole("heading", { level: 1, name: "Editar: Caneca Esmaltada Azul e Verde" }).waitFor();
  });

  await t.test("ship an order with a tracking code", async (st) => {
    const status = await waitInvoiced(server, admin, orderId, process.env.E2E_SKIP_INVOICE === "1" ? 3_000 : 20_000);
    await page.getByRole("link", { name: "Pedidos" }).click();
    await page.getByRole("heading", { level: 1, name: "Pedidos" }).waitFor();
    if (status !== "invoiced") {
      assert.equal(process.env.E2E_SKIP_INVOICE, "1", `the paid order was not invoiced within 20 s (status ${status}): is the invoice issuer running?`);
      await page.getByLabel("Situação").selectOption("paid");
      await page.getByRole("button", { name: "Buscar", exact: true }).click();
      await page.waitForURL(/status=paid/);
      // No NF-e record yet: the order page's question for it is answered 404.
      page.allow(/\/invoice$/, 404);
      await page.getByRole("link", { name: `#${orderId.slice(-8)}` }).click();
      await page.getByText("O envio fica disponível quando a nota fiscal for emitida.").waitFor();
      await checkPage(page, "admin-09-order-waits-invoice");
      st.skip("E2E_SKIP_INVOICE=1 and the order was not invoiced: shipping is not possible yet");
      return;
    }
    await page.getByLabel("Situação").selectOption("invoiced");
    await page.getByRole("button", { name: "Buscar", exact: true }).click();
    await page.waitForURL(/status=invoiced/);
    await page.getByRole("link", { name: `#${orderId.slice(-8)}` }).click();
    await page.getByRole("heading", { level: 1, name: `Pedido #${orderId.slice(-8)}` }).waitFor();
    await checkPage(page, "admin-09-order");
    await page.getByLabel("Código de rastreio").fill("BR123456789BR");
    await page.getByRole("button", { name: "Marcar como enviado" }).click();
    await page.locator('[data-testid="order-status"][data-status="shipped"]').waitFor();
    assert.equal(await page.getByTestId("tracking-code").textContent(), "BR123456789BR");
    const o = await api(server, `/api/v1/admin/orders/${orderId}`, { token: admin });
    assert.equal(o.json.status, "shipped");
    assert.equal(o.json.tracking_code, "BR123456789BR");
    await checkPage(page, "admin-10-shipped");
  });

  await t.test("coupons, events and reports pages", async () => {
    await page.getByRole("link", { name: "Cupons" }).click();
    await page.getByRole("heading", { level: 1, name: "Cupons" }).waitFor();
    await page.getByRole("link", { name: "BEMVINDO10" }).waitFor();
    await checkPage(page, "admin-11-coupons");
    await page.getByRole("link", { name: "Novo cupom" }).click();
    await page.getByLabel("Código").fill("frete10");
    await page.getByLabel("Tipo").selectOption("fixed");
    await page.getByLabel("Valor (R$)").fill("10,00");
    await page.getByRole("button", { name: "Salvar" }).click();
    await page.getByRole("heading", { level: 1, name: "Cupom FRETE10" }).waitFor();
    await checkPage(page, "admin-12-coupon");
    await page.getByRole("link", { name: "Eventos" }).click();
    await page.getByRole("heading", { level: 1, name: "Eventos" }).waitFor();
    await page.getByRole("table", { name: "Filas por assinante" }).waitFor();
    await checkPage(page, "admin-13-events");
    // A report generated now (the shipped order is a sale) is listed with its files.
    const made = await api(server, "/api/v1/admin/reports", { method: "POST", token: admin, body: {} });
    assert.equal(made.status, 201, made.text);
    await page.getByRole("link", { name: "Relatórios" }).click();
    await page.getByRole("heading", { level: 1, name: "Relatórios" }).waitFor();
    await page.getByRole("cell", { name: /sales-by-day\.csv$/ }).first().waitFor();
    await checkPage(page, "admin-14-reports");
  });

  await t.test("the new product is in the store with its image", async () => {
    await page.goto(`${server.base}/#/produto/caneca-esmaltada`);
    await page.getByRole("heading", { level: 1, name: "Caneca Esmaltada Azul e Verde" }).waitFor();
    await page.waitForFunction(() => {
      const i = document.querySelector(".gallery img");
      return i && i.complete && i.naturalWidth === 256;
    });
    await screenshot(page, "admin-15-in-store");
    page.assertClean("store product");
  });
});

test("a member of the orders staff sees the orders and the dashboard, not the catalog", { timeout: 120_000 }, async (t) => {
  const { server, browser } = await storeAndBrowser(t);
  const STAFF = { email: "pedidos@loja.example", name: "Equipe de Pedidos", password: "pedidos-2026-x", role: "orders" };
  await createUser(server, STAFF);
  const { page } = await openPage(browser);
  await page.goto(`${server.base}/admin/`);
  await page.getByLabel("E-mail").fill(STAFF.email);
  await page.getByLabel("Senha").fill(STAFF.password);
  await page.getByRole("button", { name: "Entrar" }).click();
  await page.getByRole("heading", { level: 1, name: "Painel" }).waitFor();
  const nav = page.getByRole("navigation", { name: "Administração" });
  await nav.getByRole("link", { name: "Pedidos" }).waitFor();
  for (const section of ["Produtos", "Cupons", "Eventos", "Relatórios"]) {
    assert.equal(await nav.getByRole("link", { name: section }).count(), 0, `${section} is not the orders staff's`);
  }
  await checkPage(page, "admin-staff-orders-dashboard");
  await nav.getByRole("link", { name: "Pedidos" }).click();
  await page.getByRole("heading", { level: 1, name: "Pedidos" }).waitFor();
  // A catalog address typed by hand: the section says it is not theirs; the API would refuse.
  await page.goto(`${server.base}/admin/#/produtos`);
  await page.getByText("Esta parte da administração não é da sua função na equipe.").waitFor();
  await checkPage(page, "admin-staff-orders-not-theirs");
});
