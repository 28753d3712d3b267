// Product text is always text: a product named like an HTML element shows those characters in
// the catalog, the product page, the cart and the admin, and runs nothing (no element is made
// from it, no dialog opens). Also: the English switch, and shopping with the keyboard alone.

import { test } from "node:test";
import assert from "node:assert/strict";
import { startServer, launch, openPage, createUser, signInApi, api, checkPage } from "./lib/harness.js";

const HOSTILE = "<img src=x onerror=alert(1)>";
const ADMIN = { email: "dona@loja.example", name: "Dona da Loja", password: "dona-da-loja-2026", admin: true };

async function noInjectedElement(page) {
  const injected = await page.evaluate(() => document.querySelectorAll('img[src="x"], img[onerror]').length);
  assert.equal(injected, 0, "markup from the product name became an element");
}

test("a product named like markup renders as text everywhere", { timeout: 180_000 }, async (t) => {
  const server = await startServer();
  const browser = await launch();
  t.after(async () => {
    await browser.close();
    await server.stop();
  });
  await createUser(server, ADMIN);
  const admin = await signInApi(server, ADMIN.email, ADMIN.password);
  const created = await api(server, "/api/v1/admin/products", {
    method: "POST",
    token: admin,
    body: {
      slug: "produto-hostil",
      name: HOSTILE,
      description: `<script>alert("descrição")</script>\nSegunda linha & "aspas"`,
      variants: [{ sku: "HOSTIL-1", options: { "<b>cor</b>": "<i>azul</i>" }, price_centavos: 1990, weight_g: 100, stock: 5 }],
    },
  });
  assert.equal(created.status, 201, created.text);
  const { page } = await openPage(browser);

  await t.test("catalog", async () => {
    await page.goto(`${server.base}/#/catalogo`);
    const card = page.locator(".cards .card h3 a", { hasText: HOSTILE });
    await card.waitFor();
    assert.equal(await card.textContent(), HOSTILE);
    await noInjectedElement(page);
    await checkPage(page, "hostile-01-catalog");
  });

  await t.test("search facets: option names and values stay text", async () => {
    await page.goto(`${server.base}/#/catalogo?q=onerror`);
    await page.locator(".cards .card h3 a", { hasText: HOSTILE }).waitFor();
    const group = page.getByRole("group", { name: "<b>cor</b>" });
    await group.getByRole("checkbox", { name: "<i>azul</i> (1)" }).click();
    await page.waitForURL((u) => decodeURIComponent(u.hash).includes("opcoes=<b>cor</b>:<i>azul</i>"));
    await page.getByRole("link", { name: "Remover o filtro <b>cor</b>: <i>azul</i>" }).waitFor();
    await page.locator(".cards .card h3 a", { hasText: HOSTILE }).waitFor();
    assert.equal(await page.getByRole("group", { name: "<b>cor</b>" }).getByRole("checkbox", { name: "<i>azul</i> (1)" }).isChecked(), true);
    await noInjectedElement(page);
    assert.equal(await page.evaluate(() => document.querySelectorAll(".facets b, .facets i, .active-filters b, .active-filters i").length), 0);
    await checkPage(page, "hostile-01-search-facets");
  });

  await t.test("product page", async () => {
    await page.locator(".cards .card h3 a", { hasText: HOSTILE }).click();
    const title = page.getByTestId("product-name");
    await title.waitFor();
    assert.equal(await title.textContent(), HOSTILE);
    await page.getByText(`<script>alert("descrição")</script>`).waitFor();
    await page.getByRole("group", { name: "<b>cor</b>" }).waitFor();
    await page.getByRole("radio", { name: "<i>azul</i>" }).waitFor();
    assert.equal(await page.title(), `${HOSTILE} — vitrine`);
    await noInjectedElement(page);
    await checkPage(page, "hostile-02-product");
  });

  await t.test("cart", async () => {
    await page.getByRole("button", { name: "Adicionar ao carrinho" }).click();
    await page.getByRole("link", { name: "Ver carrinho" }).click();
    const line = page.locator(".lines h3", { hasText: HOSTILE });
    await line.waitFor();
    assert.equal(await line.textContent(), HOSTILE);
    await noInjectedElement(page);
    await checkPage(page, "hostile-03-cart");
  });

  await t.test("admin", async () => {
    await page.goto(`${server.base}/admin/#/produtos`);
    await page.getByLabel("E-mail").fill(ADMIN.email);
    await page.getByLabel("Senha").fill(ADMIN.password);
    await page.getByRole("button", { name: "Entrar" }).click();
    const row = page.getByRole("link", { name: HOSTILE, exact: true });
    await row.waitFor();
    await row.click();
    await page.getByRole("heading", { level: 1, name: `Editar: ${HOSTILE}` }).waitFor();
    assert.equal(await page.getByLabel("Nome", { exact: true }).inputValue(), HOSTILE);
    await noInjectedElement(page);
    await checkPage(page, "hostile-04-admin");
  });

  await t.test("the keyboard alone: skip link, a product, a variant, add to cart", async () => {
    const { context, page: kb } = await openPage(browser);
    const active = () => kb.evaluate(() => {
      const el = document.activeElement;
      const s = getComputedStyle(el);
      return { tag: el.tagName, id: el.id, text: (el.textContent || "").trim(), type: el.type || null, checked: el.checked ?? null, value: el.value ?? null, outline: `${s.outlineStyle} ${s.outlineWidth}` };
    });
    async function tabTo(match, max = 80) {
      for (let i = 0; i < max; i++) {
        await kb.keyboard.press("Tab");
        const a = await active();
        if (match(a)) return a;
      }
      throw new Error("not reached with Tab");
    }
    await kb.goto(`${server.base}/#/catalogo?q=camiseta`);
    await kb.locator(".cards .card h3 a").first().waitFor();
    await kb.keyboard.press("Tab");
    const skip = await active();
    assert.equal(skip.text, "Pular para o conteúdo");
    assert.equal(skip.outline, "solid 3px", "the focus is visible");
    await kb.keyboard.press("Enter");
    assert.equal((await active()).id, "main");
    await tabTo((a) => a.tag === "A" && a.text === "Camiseta Básica Algodão");
    await kb.keyboard.press("Enter");
    await kb.getByRole("heading", { level: 1, name: "Camiseta Básica Algodão" }).waitFor();
    assert.equal((await active()).tag, "H1", "focus moves to the new page's heading");
    const radio = await tabTo((a) => a.type === "radio");
    assert.equal(radio.value, "P");
    await kb.keyboard.press("ArrowRight");
    const next = await active();
    assert.equal(next.value, "M");
    assert.equal(next.checked, true);
    const button = await tabTo((a) => a.tag === "BUTTON" && a.text === "Adicionar ao carrinho");
    assert.equal(button.outline, "solid 3px");
    await kb.keyboard.press("Enter");
    await kb.getByText(/1 × Camiseta Básica Algodão \(M\) no carrinho/).waitFor();
    kb.assertClean("keyboard");
    await context.close();
  });

  await t.test("the English switch", async () => {
    await page.goto(`${server.base}/#/catalogo`);
    await page.getByRole("heading", { level: 1, name: "Catálogo" }).waitFor();
    await page.getByRole("button", { name: "English" }).click();
    await page.getByRole("heading", { level: 1, name: "Catalog" }).waitFor();
    assert.equal(await page.evaluate(() => document.documentElement.lang), "en");
    await page.getByRole("link", { name: "My account" }).waitFor();
    // Money stays Brazilian.
    await page.getByText("R$ 19,90").first().waitFor();
    await checkPage(page, "hostile-05-english");
    await page.reload();
    await page.getByRole("heading", { level: 1, name: "Catalog" }).waitFor();
    await page.getByRole("button", { name: "Português" }).click();
    await page.getByRole("heading", { level: 1, name: "Catálogo" }).waitFor();
    page.assertClean("language switch");
  });
});
