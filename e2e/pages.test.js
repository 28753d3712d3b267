// The pages the server renders for search engines (crates/vitrine-http/src/pages.rs), as a
// browser and a crawler see them: with scripts off, a product page shows its name, price and
// availability; with scripts on, the storefront takes the same address over and stays usable;
// every active product's page carries schema.org Product JSON-LD with what rich results
// require; sitemap.xml lists every active product and is valid against the sitemaps.org 0.9
// schema (the XSD shipped in the `sitemap` npm package, checked with xmllint). The store as its
// first command starts it shows every demo product with its picture (screenshot
// `store-home-with-pictures.png` in target/e2e/).

import { test } from "node:test";
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createRequire } from "node:module";
import { storeAndBrowser, openPage, api, checkPage, screenshot } from "./lib/harness.js";

const require = createRequire(import.meta.url);
const SITEMAP_XSD = join(require.resolve("sitemap/package.json"), "..", "schema", "sitemap.xsd");
const SLUG = "camiseta-basica-algodao";

/** Every active product of the store, through the API's cursor pages. */
async function activeProducts(server) {
  const out = [];
  let after = "";
  for (;;) {
    const page = (await api(server, `/api/v1/products?limit=100${after ? `&after=${after}` : ""}`)).json;
    out.push(...page.items);
    if (!page.next) return out;
    after = encodeURIComponent(page.next);
  }
}

/** The JSON-LD blocks of an HTML page. */
function jsonLd(html) {
  const blocks = [];
  const re = /<script type="application\/ld\+json">([\s\S]*?)<\/script>/g;
  for (const m of html.matchAll(re)) blocks.push(JSON.parse(m[1]));
  return blocks;
}

/** What Google's rich results require of a Product with offers; the problems found. */
function productProblems(ld, product) {
  const problems = [];
  if (ld["@context"] !== "https://schema.org") problems.push("@context");
  if (ld["@type"] !== "Product") problems.push("@type");
  if (typeof ld.name !== "string" || !ld.name) problems.push("name");
  if (!Array.isArray(ld.image) || !ld.image.length || ld.image.length !== product.images.length) problems.push("image");
  const offers = Array.isArray(ld.offers) ? ld.offers : [ld.offers];
  if (!offers.length || offers.some((o) => !o)) problems.push("offers");
  for (const o of offers.filter(Boolean)) {
    if (o["@type"] !== "Offer") problems.push("offers.@type");
    if (!/^\d+\.\d{2}$/.test(String(o.price))) problems.push(`offers.price ${o.price}`);
    if (o.priceCurrency !== "BRL") problems.push("offers.priceCurrency");
    if (!["https://schema.org/InStock", "https://schema.org/OutOfStock"].includes(o.availability)) problems.push("offers.availability");
    const variant = product.variants.find((v) => v.sku === o.sku);
    if (!variant) problems.push(`offers.sku ${o.sku}`);
    else {
      if (Math.round(Number(o.price) * 100) !== variant.price_centavos) problems.push(`offers.price of ${o.sku}`);
      const inStock = variant.available > 0;
      if ((o.availability === "https://schema.org/InStock") !== inStock) problems.push(`offers.availability of ${o.sku}`);
    }
  }
  return problems;
}

test("pages rendered on the server: without scripts, with scripts, JSON-LD and the sitemap", { timeout: 180_000 }, async (t) => {
  const { server, browser } = await storeAndBrowser(t);

  await t.test("with scripts off, a product page shows its name, price and availability", async () => {
    const context = await browser.newContext({ javaScriptEnabled: false, locale: "pt-BR" });
    t.after(() => context.close());
    const page = await context.newPage();
    const res = await page.goto(`${server.base}/produto/${SLUG}`);
    assert.equal(res.status(), 200);
    assert.equal(await page.title(), "Camiseta Básica Algodão — vitrine");
    assert.equal((await page.locator("h1").textContent()).trim(), "Camiseta Básica Algodão");
    assert.equal((await page.locator(".price [data-price]").textContent()).trim(), "R$ 49,90");
    assert.equal((await page.locator(".stock").textContent()).trim(), "Em estoque");
    // Its trail leads to the category page, which lists it.
    await page.getByRole("navigation", { name: "Trilha" }).getByRole("link", { name: "Camisetas" }).click();
    await page.waitForURL(`${server.base}/categoria/camisetas`);
    assert.equal((await page.locator("h1").textContent()).trim(), "Camisetas");
    await page.getByRole("link", { name: "Camiseta Básica Algodão" }).waitFor();
  });

  await t.test("with scripts on, the storefront takes the address over", async () => {
    const { page } = await openPage(browser);
    await page.goto(`${server.base}/produto/${SLUG}`);
    // The interactive page: the variant picker and the add-to-cart button.
    await page.getByRole("button", { name: "Adicionar ao carrinho" }).waitFor();
    await checkPage(page, "pages-01-server-page-taken-over");
    await page.getByRole("radio", { name: "M", exact: true }).check();
    await page.getByRole("button", { name: "Adicionar ao carrinho" }).click();
    await page.getByText(/1 × Camiseta Básica Algodão \(M\) no carrinho/).waitFor();
    // A storefront link from here shows its page at "/#/…".
    await page.getByRole("link", { name: "Ver carrinho" }).click();
    await page.waitForURL(`${server.base}/#/carrinho`);
    await page.getByRole("heading", { level: 1, name: "Seu carrinho" }).waitFor();
    page.assertClean("server page, taken over");
  });

  await t.test("the demo store shows each product with its picture", async () => {
    const { page } = await openPage(browser);
    await page.goto(`${server.base}/`);
    await page.getByRole("heading", { level: 2, name: "Novidades" }).waitFor();
    // Every card of the newest products has its picture, loaded.
    await page.waitForFunction(() => {
      const cards = [...document.querySelectorAll(".cards .card")];
      return cards.length === 8 && cards.every((c) => {
        const img = c.querySelector("img");
        return img && img.complete && img.naturalWidth === 480;
      });
    });
    assert.equal(await page.locator(".cards .placeholder").count(), 0, "no card shows an initial instead of a picture");
    await screenshot(page, "store-home-with-pictures");
    page.assertClean("home with pictures");
  });

  const products = await activeProducts(server);
  assert.ok(products.length >= 10, `the demo catalog: ${products.length} products`);

  await t.test("every product page carries the Product JSON-LD rich results require", async () => {
    for (const listed of products) {
      const product = (await api(server, `/api/v1/products/${listed.slug}`)).json;
      const res = await fetch(`${server.base}/produto/${listed.slug}`);
      assert.equal(res.status, 200, listed.slug);
      const blocks = jsonLd(await res.text());
      const ld = blocks.find((b) => b["@type"] === "Product");
      assert.ok(ld, `${listed.slug}: no Product JSON-LD`);
      assert.deepEqual(productProblems(ld, product), [], `${listed.slug}: ${JSON.stringify(ld)}`);
      assert.ok(blocks.some((b) => b["@type"] === "BreadcrumbList"), `${listed.slug}: no BreadcrumbList`);
    }
  });

  await t.test("sitemap.xml lists every active product and is valid against the sitemap 0.9 schema", async () => {
    const res = await fetch(`${server.base}/sitemap.xml`);
    assert.equal(res.status, 200);
    const xml = await res.text();
    const dir = mkdtempSync(join(tmpdir(), "vitrine-sitemap-"));
    const file = join(dir, "sitemap.xml");
    writeFileSync(file, xml);
    // Throws, with xmllint's message, when the file is not valid.
    execFileSync("xmllint", ["--noout", "--schema", SITEMAP_XSD, file], { stdio: "pipe" });
    // By path: behind CloudFront (the AWS shape) the addresses are https, as viewers reach it.
    const locs = new Set([...xml.matchAll(/<loc>([^<]+)<\/loc>/g)].map((m) => new URL(m[1]).pathname));
    for (const p of products) assert.ok(locs.has(`/produto/${p.slug}`), `${p.slug} is not in the sitemap`);
    assert.ok(locs.has("/categoria/camisetas"));
    const robots = await (await fetch(`${server.base}/robots.txt`)).text();
    assert.match(robots, new RegExp(`^Sitemap: https?://${new URL(server.base).host}/sitemap.xml$`, "m"));
  });
});
