// The shop's own look (issue 20 item 6), in a real browser, on either shape (VITRINE_E2E_SHAPE=aws
// runs it on the template runner's stack, as e2e/admin.test.js). The owner opens Loja in the
// admin: a colour too light for white text is refused on its field and nothing is saved; then
// the owner sets the name, description, colours (one typed, one picked), e-mail and WhatsApp,
// and uploads a logo (a PNG made here). A fresh storefront shows the name (as text, then as the
// logo's text alternative), the contact in the footer, the colours from look.css and the name in
// its titles; the product page rendered on the server names the shop in <title> and
// og:site_name. A save over a look someone else changed meanwhile is a conflict, never an
// overwrite; the logo can be removed. A member of the catalog staff has no Loja section.
// Screenshots: target/e2e/shop-look-*.png.

import { test } from "node:test";
import assert from "node:assert/strict";
import { storeAndBrowser, openPage, api, createUser, signInApi, checkPage, checkViewports, screenshot, pngBytes } from "./lib/harness.js";

const OWNER = { email: "dona@loja.example", name: "Dona da Loja", password: "dona-da-loja-2026" };
const NAME = "Ateliê Bela Flor";
const DESCRIPTION = "Cerâmica e flores feitas à mão em Belo Horizonte.";
const BRAND = "#7a1f5c";
const ACCENT = "#1d4e89";
const EMAIL = "contato@belaflor.com.br";
const WHATSAPP = "(31) 98765-4321";
const WA_LINK = "https://wa.me/5531987654321";
const SLUG = "camiseta-basica-algodao";
const SHOP_API = /\/api\/v1\/admin\/shop$/;

/**
 * Wait until `fn` (run in the page with `arg`) returns something truthy, and return it; on
 * timeout fail with `what` and what `describe` (run in the page) says is there instead.
 */
async function shows(page, what, fn, arg, { describe, timeout = 20_000 } = {}) {
  try {
    const handle = await page.waitForFunction(fn, arg, { timeout, polling: 200 });
    return await handle.jsonValue();
  } catch (e) {
    const seen = describe ? await page.evaluate(describe, arg).catch((x) => `(could not read: ${x.message})`) : "";
    assert.fail(`${what}: not shown within ${timeout} ms. ${seen}`);
  }
}

/** Poll the public look until `check(look)` holds (on AWS each function instance keeps its own
 * copy for the catalog cache's time). */
async function publicLook(server, check, what, timeoutMs = 90_000) {
  const deadline = Date.now() + timeoutMs;
  let last;
  while (Date.now() < deadline) {
    const r = await api(server, "/api/v1/shop");
    assert.equal(r.status, 200, r.text);
    last = r.json;
    if (check(last)) return last;
    await new Promise((res) => setTimeout(res, 500));
  }
  assert.fail(`${what}: GET /api/v1/shop still says ${JSON.stringify(last)}`);
}

async function signIn(page, server, who) {
  await page.goto(`${server.base}/admin/`);
  await page.getByLabel("E-mail").fill(who.email);
  await page.getByLabel("Senha").fill(who.password);
  await page.getByRole("button", { name: "Entrar" }).click();
  await page.getByRole("heading", { level: 1, name: "Painel" }).waitFor();
}

test("the owner sets the shop's look; the storefront, its titles and its pages show it", { timeout: 300_000 }, async (t) => {
  const { server, browser, adminToken } = await storeAndBrowser(t, { admin: OWNER });
  const { page } = await openPage(browser);
  const brandText = () => page.getByLabel("Cor principal", { exact: true });
  const accentText = () => page.getByLabel("Cor de destaque", { exact: true });

  await t.test("Loja is in the owner's navigation and shows the store's default look", async () => {
    await signIn(page, server, OWNER);
    const nav = page.getByRole("navigation", { name: "Administração" });
    await nav.getByRole("link", { name: "Loja", exact: true }).click();
    await page.getByRole("heading", { level: 1, name: "Aparência e contato da loja" }).waitFor();
    assert.match(await page.title(), /^Loja — .+ admin$/);
    assert.equal(await page.getByLabel("Nome da loja").inputValue(), "vitrine");
    assert.equal(await brandText().inputValue(), "#0a5c36");
    assert.equal(await page.getByLabel("Cor principal: escolher no seletor de cores").inputValue(), "#0a5c36");
    await page.getByText("Nenhum logotipo: o nome da loja aparece em texto no cabeçalho.").waitFor();
    await checkPage(page, "shop-look-01-default");
  });

  await t.test("a colour too light for white text is said on its field, and nothing is saved", async () => {
    page.allow(SHOP_API, 422);
    await brandText().fill("#ffd700");
    // The contrast is said while typing, before anything is sent.
    await page.getByText("Contraste com o branco: 1,4:1 — clara demais; o mínimo é 4,5:1.").waitFor();
    await page.getByRole("button", { name: "Salvar" }).click();
    const error = page.locator("#main .field-error");
    await error.waitFor();
    assert.match(await error.innerText(), /clara demais para ler sobre o branco: contraste de 1,4:1, o mínimo é 4,5:1/);
    const wiring = await brandText().evaluate((el) => ({
      invalid: el.getAttribute("aria-invalid"),
      describedBy: (el.getAttribute("aria-describedby") || "").split(" "),
      errorId: document.querySelector("#main .field-error").id,
      focused: document.activeElement === el,
    }));
    assert.equal(wiring.invalid, "true");
    assert.ok(wiring.describedBy.includes(wiring.errorId), `the error is not tied to the field: ${JSON.stringify(wiring)}`);
    assert.ok(wiring.focused, "the focus is not on the field in error");
    assert.equal(await page.locator('#main [aria-invalid="true"]').count(), 1, "only the main colour is in error");
    await page.getByText("Confira os campos destacados.").waitFor();
    const stored = await api(server, "/api/v1/admin/shop", { token: adminToken });
    assert.equal(stored.status, 200, stored.text);
    assert.equal(stored.json.version, 0, "a refused look was saved");
    assert.equal(stored.json.brand, "#0a5c36");
    assert.equal(stored.headers.get("etag"), '"0"');
    // No axe here: the preview shows the too-light colour as it would be (unreadable), on purpose.
    await screenshot(page, "shop-look-02-too-light");
    page.assertClean("too light");
  });

  await t.test("the owner saves the name, description, colours and contact; the preview follows", async () => {
    await page.getByLabel("Nome da loja").fill(NAME);
    await page.getByLabel("Descrição").fill(DESCRIPTION);
    // One colour typed (the picker follows), the other picked (the text follows).
    await brandText().fill(BRAND);
    assert.equal(await page.getByLabel("Cor principal: escolher no seletor de cores").inputValue(), BRAND);
    await page.getByLabel("Cor de destaque: escolher no seletor de cores").fill(ACCENT);
    assert.equal(await accentText().inputValue(), ACCENT);
    await page.getByText("Contraste com o branco: 9,6:1 (o mínimo é 4,5:1).").waitFor();
    await page.getByLabel("E-mail").fill(EMAIL);
    await page.getByLabel("WhatsApp").fill(WHATSAPP);
    const preview = await page.evaluate(() => {
      const band = document.querySelector("#shop-preview-title").parentElement.querySelector(".site-header");
      return { band: getComputedStyle(band).backgroundColor, ink: getComputedStyle(band).color, name: band.querySelector(".logo").textContent, price: getComputedStyle(document.querySelector("#main .price")).color };
    });
    assert.deepEqual(preview, { band: "rgb(122, 31, 92)", ink: "rgb(255, 255, 255)", name: NAME, price: "rgb(29, 78, 137)" });
    await page.getByRole("button", { name: "Salvar" }).click();
    await page.getByText("Aparência da loja salva.").waitFor();
    assert.equal(await page.locator("#main .field-error").count(), 0);
    const stored = await api(server, "/api/v1/admin/shop", { token: adminToken });
    assert.equal(stored.headers.get("etag"), '"1"');
    assert.equal(stored.json.name, NAME);
    assert.equal(stored.json.description, DESCRIPTION);
    assert.equal(stored.json.brand, BRAND);
    assert.equal(stored.json.accent, ACCENT);
    assert.equal(stored.json.contact.email, EMAIL);
    assert.equal(stored.json.contact.whatsapp_link, WA_LINK);
    assert.equal(stored.json.contact.phone, null);
    await checkPage(page, "shop-look-03-saved");
    // The form, its colour pickers and the preview at phone and laptop sizes.
    await checkViewports(page, "shop-look-03-saved");
  });

  await t.test("a fresh storefront names the shop in text, with its contact and colours", async () => {
    await publicLook(server, (l) => l.name === NAME && l.brand === BRAND, "the saved look");
    const { page: store } = await openPage(browser);
    await store.goto(`${server.base}/`);
    await shows(
      store,
      "the header's .logo link with the shop's name as text",
      (name) => {
        const a = document.querySelector("header a.logo");
        return a && !a.querySelector("img") && a.textContent.trim() === name;
      },
      NAME,
      { describe: () => `header .logo is ${document.querySelector("header .logo")?.outerHTML}` },
    );
    await storefrontLook(store);
    await store.context().close();
  });

  await t.test("the owner uploads a logo", async () => {
    await page.getByLabel("Arquivo do logotipo").setInputFiles({ name: "logo.png", mimeType: "image/png", buffer: pngBytes(64) });
    await page.getByRole("button", { name: "Enviar logotipo" }).click();
    // The logo panel's answer, whichever it is (a refusal is worth reading in the failure).
    const said = await shows(page, "the logo upload's answer", () => document.querySelector('[aria-labelledby="shop-logo-title"] .notice')?.textContent);
    assert.equal(said, "Logotipo enviado.", "the logo upload was refused");
    await page.waitForFunction((alt) => {
      const i = [...document.querySelectorAll("#main img")].find((x) => x.alt === alt);
      return i && i.complete && i.naturalWidth === 64;
    }, `Logotipo atual de ${NAME}`);
    // The preview's band shows it too, named by the shop's name.
    await page.waitForFunction((name) => {
      const i = document.querySelector("#main .site-header .logo img");
      return i && i.alt === name && i.complete && i.naturalWidth === 64;
    }, NAME);
    await page.getByRole("button", { name: "Remover logotipo" }).waitFor();
    const stored = await api(server, "/api/v1/admin/shop", { token: adminToken });
    assert.equal(stored.headers.get("etag"), '"2"');
    assert.match(stored.json.logo, /^images\/shop\/logo-[a-z0-9]+\.png$/);
    await checkPage(page, "shop-look-04-logo");
  });

  await t.test("a fresh storefront shows the logo, the contact, the colours and the name in its titles", async () => {
    await publicLook(server, (l) => Boolean(l.logo_url), "the look with its logo");
    const { page: store } = await openPage(browser);
    await store.goto(`${server.base}/`);
    await shows(
      store,
      "the header's .logo link holding an <img> whose alt is the shop's name",
      (name) => {
        const img = document.querySelector("header a.logo img");
        return img && img.alt === name && img.complete && img.naturalWidth === 64;
      },
      NAME,
      { describe: () => `header .logo is ${document.querySelector("header .logo")?.outerHTML}` },
    );
    await storefrontLook(store);
    await checkPage(store, "shop-look-05-storefront");
    // A page whose title is "{page} — {shop}".
    await store.goto(`${server.base}/#/produto/${SLUG}`);
    await store.getByRole("heading", { level: 1, name: "Camiseta Básica Algodão" }).waitFor();
    await shows(store, `document.title ending with "— ${NAME}"`, (name) => document.title.endsWith(`— ${name}`), NAME, {
      describe: () => `document.title is "${document.title}"`,
    });
    await checkPage(store, "shop-look-06-storefront-product");
    await store.context().close();
  });

  await t.test("the product page rendered on the server names the shop in its title and og:site_name", async () => {
    const deadline = Date.now() + 90_000;
    let html = "";
    for (let n = 0; ; n++) {
      // On AWS the distribution keeps a page for its s-maxage: ask for the page afresh.
      const res = await fetch(`${server.base}/produto/${SLUG}${n ? `?nova=${n}` : ""}`, { headers: { Accept: "text/html" } });
      assert.equal(res.status, 200);
      html = await res.text();
      if (html.includes(`<title>Camiseta Básica Algodão — ${NAME}</title>`) || Date.now() > deadline) break;
      await new Promise((r) => setTimeout(r, 1000));
    }
    const title = (html.match(/<title>([^<]*)<\/title>/) || [])[1];
    assert.equal(title, `Camiseta Básica Algodão — ${NAME}`, "the server-rendered product page's <title>");
    const site = (html.match(/<meta property="og:site_name" content="([^"]*)">/) || [])[1];
    assert.equal(site, NAME, "og:site_name");
  });

  await t.test("a save over a look changed by someone else is a conflict; reloading shows theirs", async () => {
    page.allow(SHOP_API, 412);
    const now = await api(server, "/api/v1/admin/shop", { token: adminToken });
    const { version, logo, logo_url, brand_ink, updated_at, contact, ...rest } = now.json;
    const theirs = await api(server, "/api/v1/admin/shop", {
      method: "PUT",
      token: adminToken,
      headers: { "If-Match": now.headers.get("etag") },
      body: { name: rest.name, description: rest.description, brand: rest.brand, accent: rest.accent, contact: { email: contact.email, whatsapp: contact.whatsapp, hours: "Seg a sex, 9h às 18h" } },
    });
    assert.equal(theirs.status, 200, theirs.text);
    await page.getByLabel("Horário de atendimento").fill("Todos os dias, 8h às 20h");
    await page.getByRole("button", { name: "Salvar" }).click();
    await page.getByText("A aparência da loja foi alterada por outra pessoa").waitFor();
    const after = await api(server, "/api/v1/admin/shop", { token: adminToken });
    assert.equal(after.json.contact.hours, "Seg a sex, 9h às 18h", "the other save was overwritten");
    await page.getByRole("button", { name: "Recarregar" }).click();
    await page.waitForFunction(() => document.querySelector('#main input[name="contact.hours"]')?.value === "Seg a sex, 9h às 18h");
    page.assertClean("conflict");
  });

  await t.test("the owner removes the logo", async () => {
    await page.getByRole("button", { name: "Remover logotipo" }).click();
    await page.getByText("Logotipo removido: o nome da loja aparece em texto.").waitFor();
    await page.getByText("Nenhum logotipo: o nome da loja aparece em texto no cabeçalho.").waitFor();
    const stored = await api(server, "/api/v1/admin/shop", { token: adminToken });
    assert.equal(stored.json.logo, null);
    assert.equal(stored.json.name, NAME);
    await checkPage(page, "shop-look-07-logo-removed");
  });
});

/** What every storefront page shows of the look: the footer's contact, the colours of look.css. */
async function storefrontLook(store) {
  await shows(store, `the footer with the e-mail ${EMAIL}`, (email) => document.querySelector("footer")?.innerText.includes(email), EMAIL, {
    describe: () => `the footer says "${document.querySelector("footer")?.innerText}"`,
  });
  await shows(store, `the footer's WhatsApp link ${WA_LINK}`, (href) => Boolean(document.querySelector(`footer a[href="${href}"]`)), WA_LINK, {
    describe: () => `the footer's links: ${JSON.stringify([...document.querySelectorAll("footer a")].map((a) => a.href))}`,
  });
  await shows(store, `--brand on :root being ${BRAND} (look.css)`, (brand) => getComputedStyle(document.documentElement).getPropertyValue("--brand").trim() === brand, BRAND, {
    describe: () => `--brand is "${getComputedStyle(document.documentElement).getPropertyValue("--brand").trim()}"; stylesheets: ${JSON.stringify([...document.styleSheets].map((s) => s.href))}`,
  });
  const header = await store.evaluate(() => getComputedStyle(document.querySelector("header.site-header, .site-header")).backgroundColor);
  assert.equal(header, "rgb(122, 31, 92)", "the header's background is the brand colour");
}

test("a member of the catalog staff has no Loja section, and the API refuses them the look", { timeout: 120_000 }, async (t) => {
  const { server, browser } = await storeAndBrowser(t);
  const STAFF = { email: "catalogo@loja.example", name: "Equipe do Catálogo", password: "catalogo-2026-x", role: "catalog" };
  await createUser(server, STAFF);
  const { page } = await openPage(browser);
  await signIn(page, server, STAFF);
  const nav = page.getByRole("navigation", { name: "Administração" });
  await nav.getByRole("link", { name: "Produtos" }).waitFor();
  assert.equal(await nav.getByRole("link", { name: "Loja", exact: true }).count(), 0, "Loja is the owner's");
  // The address typed by hand: the section says it is not theirs.
  await page.goto(`${server.base}/admin/#/loja`);
  await page.getByText("Esta parte da administração não é da sua função na equipe.").waitFor();
  await checkPage(page, "shop-look-08-staff-not-theirs");
  const token = await signInApi(server, STAFF.email, STAFF.password);
  const read = await api(server, "/api/v1/admin/shop", { token });
  assert.equal(read.status, 403, read.text);
  const write = await api(server, "/api/v1/admin/shop", { method: "PUT", token, headers: { "If-Match": '"0"' }, body: { name: "Outra", brand: "#000000", accent: "#000000" } });
  assert.equal(write.status, 403, write.text);
});
