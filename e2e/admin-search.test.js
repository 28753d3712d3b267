// The admin's customer and order search, in a real browser, on either shape (VITRINE_E2E_SHAPE=aws
// runs it on the template runner's stack, as e2e/admin.test.js). Two customers with different
// names and CPFs each save an address and place an order through the API (Helena's paid by Pix,
// Otávio's left unpaid); then the admin finds each customer by the start of a name and by CPF
// digits, opens a customer's page (profile, address, their order, linked to the order's page),
// searches orders by CPF and by status (the filters kept in the address: back and reload show the
// same search), sees a refused filter said on its field, and downloads the search as CSV.

import { test } from "node:test";
import assert from "node:assert/strict";
import { readFile } from "node:fs/promises";
import { storeAndBrowser, openPage, api, createUser, signInApi, payPix, checkPage } from "./lib/harness.js";

const ADMIN = { email: "dona@loja.example", name: "Dona da Loja", password: "dona-da-loja-2026" };
const HELENA = {
  email: "helena.prado@example.com",
  name: "Helena Prado",
  password: "helena-senha-2026",
  tax_id: "529.982.247-25",
  phone: "(41) 98765-4321",
  address: { label: "casa", recipient: "Helena Prado", street: "Rua XV de Novembro", number: "50", district: "Centro", city: "Curitiba", uf: "PR", cep: "80020-310" },
  sku: "BON-SAR-PRETO",
  shipping: "sedex",
};
const OTAVIO = {
  email: "otavio.barros@example.com",
  name: "Otávio Barros",
  password: "otavio-senha-2026",
  tax_id: "111.444.777-35",
  phone: "(11) 99876-5432",
  address: { label: "trabalho", recipient: "Otávio Barros", street: "Avenida Paulista", number: "1000", district: "Bela Vista", city: "São Paulo", uf: "SP", cep: "01310-100" },
  sku: "CAM-BAS-M",
  shipping: "pac",
};
const CSV_HEADER =
  "id,created_at,status,customer_id,buyer_name,buyer_email,buyer_tax_id,payment_method,units,subtotal_brl,discount_brl,shipping_brl,total_brl,uf,city,tracking_code,invoice_key";

async function until(what, fn, { timeoutMs = 30_000, everyMs = 300 } = {}) {
  const deadline = Date.now() + timeoutMs;
  let last;
  while (Date.now() < deadline) {
    last = await fn();
    if (last) return last;
    await new Promise((r) => setTimeout(r, everyMs));
  }
  throw new Error(`timed out waiting for ${what}`);
}

/** A customer with a profile (name, CPF, phone), a saved address and one order; `pay`: by Pix. */
async function customerWithOrder(server, c, { pay }) {
  await createUser(server, c);
  const token = await signInApi(server, c.email, c.password);
  const me = await api(server, "/api/v1/me", { method: "PUT", token, body: { name: c.name, tax_id: c.tax_id, phone: c.phone, sms_opt_in: false, language: "pt-BR" } });
  assert.equal(me.status, 200, me.text);
  const saved = await api(server, "/api/v1/me/addresses", { method: "POST", token, body: c.address });
  assert.ok(saved.status === 200 || saved.status === 201, saved.text);
  const { label, ...address } = c.address;
  const placed = await api(server, "/api/v1/orders", {
    method: "POST",
    token,
    headers: { "Idempotency-Key": `e2e-search-${c.email}-${Date.now()}` },
    body: { items: [{ sku: c.sku, quantity: 1 }], shipping_address: address, shipping_method: c.shipping, payment_method: "pix", tax_id: c.tax_id },
  });
  assert.equal(placed.status, 201, placed.text);
  if (pay) {
    const charge = await api(server, `/api/v1/orders/${placed.json.id}/payment`, { method: "POST", token, body: { method: "pix" } });
    assert.equal(charge.status, 200, charge.text);
    const paid = await payPix(server, { txid: charge.json.pix.txid, amount: charge.json.amount_centavos });
    assert.equal(paid.result, "paid");
  }
  return { id: placed.json.id, sub: me.json.id };
}

// What a table row stands for: an order (its id) or a customer (the name in its first cell).
const ROWS = {
  orders: "(() => [...document.querySelectorAll('#main tbody tr[data-order-id]')].map((r) => r.dataset.orderId))()",
  customers: "(() => [...document.querySelectorAll('#main tbody tr[data-customer]')].map((r) => r.cells[0].innerText.trim()))()",
};

/**
 * Wait until the page, loaded, shows `check(rows)` true of its table's rows (ROWS[kind]); the rows
 * then. The old page stays until the new one is rendered, so a wait is on what is expected.
 */
async function rowsWhere(page, kind, check, what) {
  const read = () => page.evaluate(ROWS[kind]);
  const deadline = Date.now() + 15_000;
  let rows;
  for (;;) {
    const busy = await page.evaluate(() => document.getElementById("main").hasAttribute("aria-busy") || Boolean(document.querySelector("#main p.muted[role=status]")));
    rows = await read();
    if (!busy && check(rows)) return rows;
    if (Date.now() > deadline) break;
    await page.waitForTimeout(100);
  }
  assert.fail(`${what}: the rows are ${JSON.stringify(rows)}\n${(await page.locator("#main").innerText()).slice(0, 1500)}`);
}

/** Wait until the table shows exactly `expected`, in that order. */
async function rowsBecome(page, kind, expected, what) {
  return rowsWhere(page, kind, (rows) => JSON.stringify(rows) === JSON.stringify(expected), `${what} (expected ${JSON.stringify(expected)})`);
}

/** Wait for the address to match `hashPattern` and its page to be loaded. */
async function loaded(page, hashPattern) {
  await page.waitForFunction((src) => new RegExp(src).test(location.hash), hashPattern.source);
  await page.waitForFunction(() => !document.getElementById("main").hasAttribute("aria-busy") && !document.querySelector("#main p.muted[role=status]"));
}

test("an admin finds customers and orders, opens a customer and exports the orders as CSV", { timeout: 300_000 }, async (t) => {
  const { server, browser, adminToken: admin } = await storeAndBrowser(t, { admin: ADMIN });
  const helena = await customerWithOrder(server, HELENA, { pay: true });
  const otavio = await customerWithOrder(server, OTAVIO, { pay: false });

  // The search finds what the API finds: wait until both customers and both orders are found
  // through it (on the AWS shape the search's entries may be written by a stream consumer).
  const started = Date.now();
  await until("both customers found by the API", async () => {
    const a = await api(server, "/api/v1/admin/customers?q=helena", { token: admin });
    const b = await api(server, "/api/v1/admin/customers?q=11144477735", { token: admin });
    assert.ok(a.status === 200 && b.status === 200, `${a.status} ${a.text} / ${b.status} ${b.text}`);
    return a.json.items.some((c) => c.name === HELENA.name) && b.json.items.some((c) => c.name === OTAVIO.name);
  });
  await until("both orders found by the API", async () => {
    const r = await api(server, "/api/v1/admin/orders", { token: admin });
    assert.equal(r.status, 200, r.text);
    const ids = r.json.items.map((o) => o.id);
    return ids.includes(helena.id) && ids.includes(otavio.id);
  });
  t.diagnostic(`the API found both customers and both orders after ${Date.now() - started} ms`);

  const { page } = await openPage(browser);

  await t.test("sign in; Clientes is in the navigation and lists the customers", async () => {
    await page.goto(`${server.base}/admin/`);
    await page.getByLabel("E-mail").fill(ADMIN.email);
    await page.getByLabel("Senha").fill(ADMIN.password);
    await page.getByRole("button", { name: "Entrar" }).click();
    await page.getByRole("heading", { level: 1, name: "Painel" }).waitFor();
    const nav = page.getByRole("navigation", { name: "Administração" });
    await nav.getByRole("link", { name: "Clientes" }).click();
    await page.getByRole("heading", { level: 1, name: "Clientes" }).waitFor();
    const names = await rowsWhere(page, "customers", (rows) => rows.includes(HELENA.name) && rows.includes(OTAVIO.name), "both customers listed");
    // Newest first: Otávio signed in after Helena.
    assert.ok(names.indexOf(OTAVIO.name) < names.indexOf(HELENA.name), `not newest first: ${names.join(", ")}`);
    await checkPage(page, "admin-search-01-customers");
  });

  await t.test("a name prefix finds only Helena", async () => {
    await page.getByLabel("Buscar clientes").fill("hele");
    await page.getByRole("search").getByRole("button", { name: "Buscar" }).click();
    await loaded(page, /^#\/clientes\?q=hele$/);
    await rowsBecome(page, "customers", [HELENA.name], "customers found by “hele”");
    const row = page.locator("#main tbody tr[data-customer]");
    assert.match(await row.innerText(), /529\.982\.247-25/);
    assert.match(await row.innerText(), /helena\.prado@example\.com/);
    await checkPage(page, "admin-search-02-customers-by-name");
  });

  await t.test("CPF digits find only Otávio, whose page shows his profile, address and order", async () => {
    await page.getByLabel("Buscar clientes").fill("111444");
    await page.getByRole("search").getByRole("button", { name: "Buscar" }).click();
    await loaded(page, /^#\/clientes\?q=111444$/);
    await rowsBecome(page, "customers", [OTAVIO.name], "customers found by “111444”");
    await page.getByRole("link", { name: OTAVIO.name }).click();
    await page.getByRole("heading", { level: 1, name: OTAVIO.name }).waitFor();
    await loaded(page, /^#\/clientes\/[^?]+$/);
    const profile = await page.getByTestId("customer-profile").innerText();
    assert.match(profile, /otavio\.barros@example\.com/);
    assert.match(profile, /111\.444\.777-35/);
    assert.match(profile, /\(11\) 99876-5432/);
    const addresses = await page.getByTestId("customer-addresses").innerText();
    assert.match(addresses, /Avenida Paulista, 1000/);
    assert.match(addresses, /01310-100/);
    await rowsBecome(page, "orders", [otavio.id], "Otávio's orders");
    assert.equal(await page.getByRole("link", { name: `#${helena.id.slice(-8)}` }).count(), 0, "Helena's order is on Otávio's page");
    await checkPage(page, "admin-search-03-customer");
    await page.getByRole("link", { name: `#${otavio.id.slice(-8)}` }).click();
    await page.getByRole("heading", { level: 1, name: `Pedido #${otavio.id.slice(-8)}` }).waitFor();
    // The order's page links back to its customer.
    await page.getByTestId("order-customer").click();
    await page.getByRole("heading", { level: 1, name: OTAVIO.name }).waitFor();
  });

  await t.test("orders: all, newest first; by CPF; by status; kept in the address", async () => {
    const nav = page.getByRole("navigation", { name: "Administração" });
    await nav.getByRole("link", { name: "Pedidos" }).click();
    await page.getByRole("heading", { level: 1, name: "Pedidos" }).waitFor();
    await loaded(page, /^#\/pedidos$/);
    await rowsBecome(page, "orders", [otavio.id, helena.id], "every order, newest first");
    await checkPage(page, "admin-search-04-orders");

    await page.getByLabel("CPF ou CNPJ").fill(HELENA.tax_id);
    await page.getByRole("button", { name: "Buscar", exact: true }).click();
    await loaded(page, /tax_id=529\.982\.247-25/);
    await rowsBecome(page, "orders", [helena.id], "orders by Helena's CPF");
    await checkPage(page, "admin-search-05-orders-by-cpf");

    await page.getByRole("link", { name: "Limpar a busca" }).click();
    await loaded(page, /^#\/pedidos$/);
    await rowsBecome(page, "orders", [otavio.id, helena.id], "every order again");
    assert.equal(await page.getByLabel("CPF ou CNPJ").inputValue(), "");
    await page.getByLabel("Situação").selectOption({ label: "Aguardando pagamento" });
    await page.getByRole("button", { name: "Buscar", exact: true }).click();
    await loaded(page, /status=pending_payment/);
    await rowsBecome(page, "orders", [otavio.id], "unpaid orders");

    // Both filters together: Helena has no unpaid order.
    await page.getByLabel("CPF ou CNPJ").fill("52998224725");
    await page.getByRole("button", { name: "Buscar", exact: true }).click();
    await loaded(page, /tax_id=52998224725/);
    await page.getByTestId("orders-empty").waitFor();
    assert.equal(await page.locator("#main tbody tr[data-order-id]").count(), 0);

    // Back: the unpaid orders again, the form as it was; reload: the same.
    await page.goBack();
    await loaded(page, /^#\/pedidos\?status=pending_payment$/);
    await rowsBecome(page, "orders", [otavio.id], "unpaid orders after going back");
    assert.equal(await page.getByLabel("Situação").inputValue(), "pending_payment");
    assert.equal(await page.getByLabel("CPF ou CNPJ").inputValue(), "");
    await page.reload();
    await page.getByRole("heading", { level: 1, name: "Pedidos" }).waitFor();
    await loaded(page, /^#\/pedidos\?status=pending_payment$/);
    await rowsBecome(page, "orders", [otavio.id], "unpaid orders after a reload");
    await checkPage(page, "admin-search-06-orders-by-status");
  });

  await t.test("a bad filter is said on its field", async () => {
    // An amount that is not one is refused in the page, before asking.
    await page.getByLabel("Total mínimo (R$)").fill("abc");
    await page.getByRole("button", { name: "Buscar", exact: true }).click();
    await page.getByText("Informe um valor como 49,90.").waitFor();
    assert.equal(await page.getByLabel("Total mínimo (R$)").getAttribute("aria-invalid"), "true");
    await page.getByLabel("Total mínimo (R$)").fill("");
    // A start after the end is the API's 422, naming the field.
    page.allow(/\/api\/v1\/admin\/orders\?/, 422);
    await page.getByLabel("Feitos desde (dia)").fill("2030-01-02");
    await page.getByLabel("Feitos até (dia)").fill("2030-01-01");
    await page.getByRole("button", { name: "Buscar", exact: true }).click();
    await loaded(page, /from=2030-01-02/);
    // The page rendered again for the new address: the field named by the API is marked.
    const marked = await page
      .waitForFunction(() => document.querySelector("#main [name=from][aria-invalid=true], #main [name=to][aria-invalid=true]"), null, { timeout: 15_000 })
      .then(() => true)
      .catch(() => false);
    assert.ok(marked, `neither "from" nor "to" is marked invalid:\n${(await page.locator("#main").innerText()).slice(0, 1500)}`);
    await page.getByRole("alert").first().waitFor();
    assert.equal(await page.locator("#main tbody tr[data-order-id]").count(), 0);
    await checkPage(page, "admin-search-07-bad-filter");
  });

  await t.test("the search's orders download as CSV", async () => {
    await page.goto(`${server.base}/admin/#/pedidos?tax_id=${encodeURIComponent(HELENA.tax_id)}`);
    await page.getByRole("heading", { level: 1, name: "Pedidos" }).waitFor();
    await loaded(page, /tax_id=/);
    await rowsBecome(page, "orders", [helena.id], "orders by Helena's CPF");
    const [download] = await Promise.all([page.waitForEvent("download"), page.getByRole("button", { name: "Exportar CSV" }).click()]);
    assert.match(download.suggestedFilename(), /^pedidos-\d{4}-\d{2}-\d{2}\.csv$/);
    const csv = await readFile(await download.path(), "utf8");
    const lines = csv.replace(/^\uFEFF/, "").split(/\r\n/);
    assert.equal(lines[0], CSV_HEADER);
    assert.ok(csv.includes(helena.id), `Helena's order is not in the file:\n${csv.slice(0, 2000)}`);
    assert.ok(!csv.includes(otavio.id), "Otávio's order is in a file of Helena's CPF");
    const row = lines.find((l) => l.startsWith(helena.id));
    assert.ok(row && row.includes(HELENA.email), `row: ${row}`);
    await page.getByTestId("export-done").waitFor();
    await checkPage(page, "admin-search-08-exported");
  });
});
