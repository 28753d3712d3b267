// Searching the demo catalog in a real browser: a plural, unaccented word ("camisetas") finds the
// T-shirts sorted by relevance, with the total and the facets of its hits — categories (a
// department counts its subcategories), option values and price ranges, each with its count.
// Ticking an option value narrows the results and puts it in the URL (`opcoes=`); its chip takes
// it out again. A price range does the same through `min`/`max`. The counts shown agree with the
// cards and with the API, and every state passes axe-core.

import { test } from "node:test";
import assert from "node:assert/strict";
import { storeAndBrowser, openPage, api, checkPage, checkViewports } from "./lib/harness.js";

const WORD = "camisetas";

/** The hash part of the page's URL, decoded: "#/catalogo?q=camisetas&opcoes=tamanho:gg". */
function hash(page) {
  return decodeURIComponent(new URL(page.url()).hash);
}

/**
 * Do `action` (a click that changes the URL), having marked the results shown now: `cards` then
 * waits for the page that follows, not for these.
 */
async function follow(page, action) {
  await page.evaluate(() => document.querySelector(".cards")?.setAttribute("data-old", ""));
  await action();
}

/** Wait until the results show `n` product cards (no grey placeholders left); their names. */
async function cards(page, n) {
  await page.waitForFunction((n) => {
    const grid = document.querySelector(".cards:not([data-old])");
    return grid && !grid.querySelector(".skeleton") && grid.querySelectorAll(".card h3 a").length === n;
  }, n);
  return page.locator(".cards .card h3 a").allTextContents();
}

/** "Camisetas (3)" → 3 */
function countIn(text) {
  const m = /\((\d+)\)/.exec(text);
  assert.ok(m, `no count in “${text}”`);
  return Number(m[1]);
}

const status = (page) => page.locator("#catalog-count");

test("search: total, facets, narrowing by an option value and a price range", { timeout: 180_000 }, async (t) => {
  const { server, browser } = await storeAndBrowser(t);
  const { page } = await openPage(browser);
  const viaApi = (await api(server, `/api/v1/products?q=${WORD}&limit=100`)).json;
  let total;

  await t.test("a plural, unaccented word finds the products, sorted by relevance, with the total", async () => {
    await page.goto(`${server.base}/#/`);
    await page.getByRole("heading", { level: 1, name: "Bem-vindo à vitrine" }).waitFor();
    await page.getByRole("searchbox", { name: "Buscar produtos" }).fill(WORD);
    await page.getByRole("button", { name: "Buscar" }).click();
    await page.getByRole("heading", { level: 1, name: `Resultados para “${WORD}”` }).waitFor();
    await page.getByRole("link", { name: "Camiseta Básica Algodão" }).waitFor();
    assert.equal(typeof viaApi.total, "number", `the API gives no total for q=${WORD}: ${JSON.stringify(viaApi)}`);
    total = viaApi.total;
    assert.ok(total >= 3 && total <= 12, `the demo catalog's T-shirts fit in one page: total ${total}`);
    const names = await cards(page, total);
    for (const n of ["Camiseta Básica Algodão", "Camiseta Estampa Ipê", "Camiseta Listrada Marinho"]) assert.ok(names.includes(n), `${n} among ${names}`);
    assert.equal(await status(page).textContent(), `${total} resultados para “${WORD}”`);
    // Relevance is the search's order, chosen in the select and left out of the URL.
    const sort = page.getByLabel("Ordenar por");
    assert.equal(await sort.inputValue(), "relevance");
    assert.equal((await sort.locator("option").first().textContent()), "Relevância");
    assert.ok(!hash(page).includes("ordem="), hash(page));
    await checkPage(page, "search-01-results");
    await checkViewports(page, "layout-search");
  });

  await t.test("the category facet counts the hits, departments with their subcategories", async () => {
    const facet = page.locator(".facet", { has: page.getByRole("heading", { level: 2, name: "Categorias" }) });
    const camisetas = facet.getByRole("link", { name: /^Camisetas \(\d+\)$/ });
    const roupas = facet.getByRole("link", { name: /^Roupas \(\d+\)$/ });
    const nCamisetas = countIn(await camisetas.textContent());
    const nRoupas = countIn(await roupas.textContent());
    assert.equal(nCamisetas, total, "every hit is a T-shirt");
    assert.ok(nRoupas >= nCamisetas, `Roupas (${nRoupas}) includes Camisetas (${nCamisetas})`);
    // Camisetas is inside Roupas in the list.
    assert.equal(await facet.locator("li", { has: page.getByRole("link", { name: /^Roupas \(/ }) }).locator("ul").getByRole("link", { name: /^Camisetas/ }).count(), 1);
    // Following it filters by the category; the active entry is marked and takes it off.
    await follow(page, () => camisetas.click());
    await page.waitForURL((u) => decodeURIComponent(u.hash).includes("categoria=camisetas"));
    await cards(page, nCamisetas);
    const active = facet.getByRole("link", { name: /^Camisetas \(\d+\) — filtro aplicado; remover$/ });
    assert.equal(await active.getAttribute("aria-current"), "true");
    await page.getByRole("list", { name: "Filtros aplicados" }).getByRole("link", { name: "Remover o filtro Camisetas" }).waitFor();
    await checkPage(page, "search-02-category");
    await follow(page, () => active.click());
    await page.waitForURL((u) => !decodeURIComponent(u.hash).includes("categoria="));
    await cards(page, total);
    assert.equal(await page.getByRole("list", { name: "Filtros aplicados" }).count(), 0);
  });

  let narrowed;
  await t.test("ticking an option value narrows the results and keeps it in the URL", async () => {
    const group = page.getByRole("group", { name: "tamanho" });
    await group.waitFor();
    const boxes = group.getByRole("checkbox");
    const labels = await group.locator("label").allTextContents();
    assert.ok(labels.length >= 2, `tamanho values: ${labels}`);
    // A value some hits lack (GG: not every T-shirt comes in it).
    const i = labels.findIndex((l) => countIn(l) < total);
    assert.ok(i >= 0, `some size narrows the ${total} results: ${labels}`);
    const label = labels[i].replace(/\s*\(\d+\)$/, "").trim();
    narrowed = countIn(labels[i]);
    const key = viaApi.facets.options.find((o) => o.name === "tamanho").values.find((v) => v.value === label).key;
    assert.equal(key, label.toLowerCase());
    await follow(page, () => boxes.nth(i).click()); // the page follows at once (check() would look at a replaced box)
    await page.waitForURL((u) => decodeURIComponent(u.hash).includes(`opcoes=tamanho:${key}`));
    const names = await cards(page, narrowed);
    assert.ok(narrowed < total);
    assert.equal(await status(page).textContent(), `${narrowed} ${narrowed === 1 ? "resultado" : "resultados"} para “${WORD}”`);
    assert.equal(await page.getByRole("group", { name: "tamanho" }).getByRole("checkbox", { name: new RegExp(`^${label} \\(`) }).isChecked(), true);
    // Every product shown comes in that size.
    for (const href of await page.locator(".cards .card h3 a").evaluateAll((as) => as.map((a) => a.getAttribute("href")))) {
      const slug = decodeURIComponent(href.split("#/produto/")[1]);
      const product = (await api(server, `/api/v1/products/${slug}`)).json;
      assert.ok(product.variants.some((v) => v.options.tamanho === label), `${slug} (of ${names}) has no ${label}`);
    }
    await page.getByRole("list", { name: "Filtros aplicados" }).getByRole("link", { name: `Remover o filtro tamanho: ${label}` }).waitFor();
    await checkPage(page, "search-03-option");
    await checkViewports(page, "layout-search-option");
  });

  await t.test("its chip takes the option value off again", async () => {
    const chip = page.getByRole("list", { name: "Filtros aplicados" }).getByRole("link", { name: /^Remover o filtro tamanho: / });
    await follow(page, () => chip.click());
    await page.waitForURL((u) => !decodeURIComponent(u.hash).includes("opcoes="));
    await cards(page, total);
    assert.equal(await status(page).textContent(), `${total} resultados para “${WORD}”`);
    const checked = await page.getByRole("group", { name: "tamanho" }).getByRole("checkbox", { checked: true }).count();
    assert.equal(checked, 0);
    page.assertClean("option removed");
  });

  await t.test("a price range sets min/max and counts what it shows", async () => {
    const facet = page.locator(".facet", { has: page.getByRole("heading", { level: 2, name: "Faixa de preço" }) });
    const links = facet.getByRole("link");
    const texts = await links.allTextContents();
    assert.ok(texts.length >= 1, "price ranges");
    for (const text of texts) assert.match(text, /^(Até R\$\s[\d.]+,\d\d|R\$\s[\d.]+,\d\d a R\$\s[\d.]+,\d\d|A partir de R\$\s[\d.]+,\d\d) \(\d+\)$/);
    assert.equal(texts.reduce((s, x) => s + countIn(x), 0), total, `each hit falls in one range: ${texts}`);
    const n = countIn(texts[0]);
    await follow(page, () => links.first().click());
    await page.waitForURL((u) => /[?&](min|max)=/.test(u.hash));
    await cards(page, n);
    assert.equal(await facet.getByRole("link", { name: / — filtro aplicado; remover$/ }).getAttribute("aria-current"), "true");
    const chip = page.getByRole("list", { name: "Filtros aplicados" }).getByRole("link", { name: /^Remover o filtro (Até|R\$|A partir de)/ });
    await checkPage(page, "search-04-price");
    await follow(page, () => chip.click());
    await page.waitForURL((u) => !/[?&](min|max)=/.test(u.hash));
    await cards(page, total);
  });

  await t.test("another order is kept in the URL; relevance is offered only for a search", async () => {
    await follow(page, () => page.getByLabel("Ordenar por").selectOption("price_asc"));
    await page.waitForURL((u) => u.hash.includes("ordem=price_asc"));
    const names = await cards(page, total);
    const prices = viaApi.items.map((p) => [p.name, p.price_from_centavos]).sort((a, b) => a[1] - b[1]);
    assert.equal(names[0], prices[0][0], "the cheapest first");
    await follow(page, () => page.getByLabel("Ordenar por").selectOption("relevance"));
    await page.waitForURL((u) => !u.hash.includes("ordem="));
    await cards(page, total);
    // The plain catalog: newest first by default, no relevance.
    await page.goto(`${server.base}/#/catalogo`);
    await page.getByRole("heading", { level: 1, name: "Catálogo" }).waitFor();
    await page.locator(".cards .card h3 a").first().waitFor();
    assert.equal(await page.getByLabel("Ordenar por").inputValue(), "newest");
    assert.equal(await page.getByLabel("Ordenar por").locator('option[value="relevance"]').count(), 0);
    assert.equal(await page.locator(".facets .facet").count(), 0, "no facets without words");
    assert.match(await status(page).textContent(), /produtos nesta página/);
    page.assertClean("sort");
  });

  await t.test("in English", async () => {
    await page.goto(`${server.base}/#/catalogo?q=${WORD}`);
    await follow(page, () => page.getByRole("button", { name: "English" }).click());
    await page.getByRole("heading", { level: 1, name: `Results for “${WORD}”` }).waitFor();
    await cards(page, total);
    await page.getByText(`${total} results for “${WORD}”`).waitFor();
    await page.getByRole("heading", { level: 2, name: "Categories" }).waitFor();
    assert.equal(await page.getByLabel("Sort by").locator("option").first().textContent(), "Relevance");
    await checkPage(page, "search-05-english");
    await page.getByRole("button", { name: "Português" }).click();
    await page.getByRole("heading", { level: 1, name: `Resultados para “${WORD}”` }).waitFor();
    page.assertClean("english");
  });
});
