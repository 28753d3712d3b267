// Real payment providers in the browser, through their fakes (binary fake-psp of vitrine-testkit,
// lib/psp.js), on either shape (VITRINE_E2E_SHAPE=aws: the template on the runner; unset: `vitrine
// serve`): a store that takes Pix through its bank's Pix API (bcb) and cards and boletos through
// Mercado Pago. A shopper signs up and pays by card in the order page's form, the card tokenised
// by the provider's script (1×, then 6× from the provider's installment table); by Pix, the
// payer's bank paying the charge and its notice turning the page to paid live; by boleto, the
// digitable line and the PDF shown, the boleto paid and the page turning to paid. No demo banner
// anywhere (no sandbox); the fakes saw requests from the store and no departure from the specs.
// On the AWS shape CloudFront's page policy names the card provider's origins
// (CardProviderOrigins), and the notices reach the api function through CloudFront.

import { test } from "node:test";
import assert from "node:assert/strict";
import { ROOT, startServer, launch, openPage, api, signInApi, mailedCode, checkPage } from "./lib/harness.js";
import { startPsp } from "./lib/psp.js";

const SHOPPER = { email: `caio.${Date.now()}@example.com`, name: "Caio Prado", password: "senha-forte-caio-9" };
const PRODUCT = "Camiseta Básica Algodão";
const CARD = { number: "5031 4332 1540 6351", holder: "APRO", expiry: "11/30", cvv: "123", cpf: "12345678909" };
const WAIT = { timeout: 30_000 };

async function addToCart(page, base) {
  await page.goto(`${base}/#/catalogo`);
  await page.getByRole("link", { name: PRODUCT }).first().click();
  await page.getByRole("heading", { level: 1, name: PRODUCT }).waitFor();
  await page.getByRole("radio", { name: "M", exact: true }).check();
  await page.getByRole("button", { name: "Adicionar ao carrinho" }).click();
  await page.getByText(/× Camiseta Básica Algodão \(M\) no carrinho/).waitFor();
}

/** From the cart to the order page, paying by `method` (the label of its radio). */
async function checkout(page, base, method, first = false) {
  if (!first) {
    await page.goto(`${base}/#/carrinho`);
    await page.getByRole("link", { name: "Finalizar compra" }).click();
  }
  await page.getByRole("heading", { level: 1, name: "Finalizar compra" }).waitFor();
  if (first) {
    await page.getByLabel("CEP").fill("01310100");
    await page.getByRole("radio", { name: /PAC/ }).waitFor(WAIT);
    await page.getByLabel("Rua").fill("Avenida Paulista");
    await page.getByLabel("Número").fill("1000");
    await page.getByLabel("Bairro").fill("Bela Vista");
    await page.getByLabel("Cidade").fill("São Paulo");
    await page.getByLabel("Estado (UF)").selectOption("SP");
  }
  await page.getByRole("radio", { name: /PAC/ }).waitFor(WAIT);
  await page.getByRole("radio", { name: /PAC/ }).check();
  const taxId = page.getByLabel("CPF ou CNPJ");
  if (!(await taxId.inputValue())) await taxId.fill("529.982.247-25");
  await page.getByRole("radio", { name: method }).check();
  await page.getByRole("button", { name: "Fazer pedido" }).click();
  await page.waitForURL(/#\/pedido\//, WAIT);
  return decodeURIComponent(page.url().split("#/pedido/")[1]);
}

async function noDemoBanner(page, where) {
  // The banner comes with the config, asked at each page's start: wait for the page to settle.
  await page.waitForLoadState("networkidle").catch(() => {});
  assert.equal(await page.getByTestId("demo-banner").count(), 0, `a demo banner at ${where}`);
}

async function paidLive(page) {
  try {
    // Paid, or already invoiced: the invoice issuer may be that quick.
    await page.locator('[data-testid="order-status"]:is([data-status="paid"], [data-status="invoiced"])').waitFor(WAIT);
    await page.getByText("Pagamento confirmado. Obrigado pela compra!").waitFor(WAIT);
  } catch (e) {
    const status = await page.getByTestId("order-status").getAttribute("data-status").catch(() => null);
    const box = await page.locator('section[aria-labelledby="pay-title"]').innerText().catch(() => "");
    throw new Error(`${e.message}\nthe order is ${status}; its payment box says: ${box}`);
  }
}

/** Fill the tokenised card form and pay in `count` installments; returns the option's text. */
async function payByCard(page, count) {
  await page.getByRole("heading", { level: 2, name: "Pague com cartão" }).waitFor(WAIT);
  await page.getByLabel("Número do cartão").fill(CARD.number);
  const installments = page.getByLabel("Parcelas");
  // The plans of the provider's table for this card replace the single 1× placeholder.
  await page.waitForFunction(() => document.querySelectorAll('select[name="installments"] option').length > 1, null, WAIT);
  await page.getByLabel("Nome impresso no cartão").fill(CARD.holder);
  await page.getByLabel("Validade (MM/AA)").fill(CARD.expiry);
  await page.getByLabel("Código de segurança (CVV)").fill(CARD.cvv);
  await page.getByLabel("CPF do titular").fill(CARD.cpf);
  await installments.selectOption(String(count));
  const chosen = await installments.locator("option:checked").textContent();
  await page.getByRole("button", { name: "Pagar" }).click();
  return chosen;
}

test("card, Pix and boleto through the providers' fakes, in the browser", { timeout: 600_000 }, async (t) => {
  const started = Date.now();
  const psp = await startPsp(ROOT);
  let server;
  try {
    server = await startServer({ env: psp.env, aws: psp.aws });
  } catch (e) {
    await psp.stop();
    throw new Error(`${e.message}\nfake-psp: ${psp.stderr()}`);
  }
  const browser = await launch();
  t.after(async () => {
    await browser.close();
    await server.stop();
    await psp.stop();
  });
  await psp.relayTo(server.base);
  // `vitrine serve` registers its webhook with the bank at start; on AWS the expire function does
  // on its reconciliation schedule (every 10 minutes): fired now rather than waited for.
  if (server.shape === "aws") {
    const rule = (await server.schedules()).find((r) => /Reconcile$/.test(r));
    assert.ok(rule, `no reconciliation schedule among ${await server.schedules()}`);
    await server.fireSchedule(rule);
  }
  t.diagnostic(`store and fakes up in ${Date.now() - started} ms`);

  await t.test("the store says which providers take each method, none a sandbox", async () => {
    const config = await api(server, "/api/v1/config");
    assert.equal(config.status, 200, config.text);
    const payments = config.json.payments;
    assert.ok(!payments.sandbox, JSON.stringify(payments));
    assert.deepEqual([...payments.methods].sort(), ["boleto", "card", "pix"], JSON.stringify(payments));
    assert.equal(payments.card_tokenisation.provider, "mercadopago");
    assert.equal(payments.card_tokenisation.script_url, psp.facts["mercadopago-script"]);
  });

  const { page } = await openPage(browser);
  // The card form first asks for the order's payment, to show a card attempt that waits for
  // 3-D Secure instead of a new form: before any attempt that answers 404, which the browser
  // logs. Expected, and only that.
  page.allow(/\/api\/v1\/orders\/[^/]+\/payment$/, 404);
  let token;
  await t.test("sign up with the mailed code on the way to checkout", async () => {
    await page.goto(`${server.base}/`);
    await noDemoBanner(page, "the home page");
    await addToCart(page, server.base);
    await page.goto(`${server.base}/#/carrinho`);
    await page.getByRole("link", { name: "Finalizar compra" }).click();
    await page.getByRole("heading", { level: 1, name: "Entrar" }).waitFor();
    await page.getByRole("link", { name: "Criar conta" }).click();
    await page.getByRole("heading", { level: 1, name: "Criar conta" }).waitFor();
    await page.getByLabel("Nome completo").fill(SHOPPER.name);
    await page.getByLabel("E-mail").fill(SHOPPER.email);
    await page.getByLabel("Senha").fill(SHOPPER.password);
    await page.getByRole("button", { name: "Criar conta" }).click();
    await page.getByRole("heading", { level: 1, name: "Confirme seu e-mail" }).waitFor(WAIT);
    await page.getByLabel("Código de 6 dígitos").fill(await mailedCode(server, SHOPPER.email));
    await page.getByRole("button", { name: "Confirmar" }).click();
    await page.getByRole("heading", { level: 1, name: "Finalizar compra" }).waitFor(WAIT);
    token = await signInApi(server, SHOPPER.email, SHOPPER.password);
  });

  await t.test("by card, 1×, tokenised by the provider's script", async () => {
    const id = await checkout(page, server.base, /Cartão de crédito/, true);
    await noDemoBanner(page, "the order page");
    const chosen = await payByCard(page, 1);
    assert.match(chosen, /^1×/);
    await paidLive(page);
    const payment = await api(server, `/api/v1/orders/${encodeURIComponent(id)}/payment`, { token });
    assert.equal(payment.status, 200, payment.text);
    assert.equal(payment.json.provider, "mercadopago", payment.text);
    await checkPage(page, `payments-${server.shape || "local"}-card-paid`);
  });

  await t.test("by card, 6× with the interest of the provider's table", async () => {
    await addToCart(page, server.base);
    const id = await checkout(page, server.base, /Cartão de crédito/);
    const order = await api(server, `/api/v1/orders/${encodeURIComponent(id)}`, { token });
    const plans = await api(server, `/api/v1/payments/installments?total_centavos=${order.json.total_centavos}&bin=503143`);
    const six = plans.json.plans.find((p) => p.count === 6);
    assert.ok(six && six.total_centavos > order.json.total_centavos, `6× carries interest: ${plans.text}`);
    const chosen = await payByCard(page, 6);
    assert.match(chosen, /^6×.*com juros/, chosen);
    await paidLive(page);
    const payment = await api(server, `/api/v1/orders/${encodeURIComponent(id)}/payment`, { token });
    assert.equal(payment.json.installments.count, 6, payment.text);
    assert.equal(payment.json.amount_centavos, six.total_centavos, "the buyer pays the table's total");
  });

  await t.test("by Pix, paid at the bank, the page turning to paid live", async () => {
    await addToCart(page, server.base);
    await checkout(page, server.base, /Pix/);
    await page.getByRole("heading", { level: 2, name: "Pague com Pix" }).waitFor(WAIT);
    await noDemoBanner(page, "the Pix order page");
    const txid = (await page.getByTestId("pix-txid").textContent()).trim();
    assert.match(txid, /^[a-zA-Z0-9]{26,35}$/, txid);
    assert.match(await page.getByLabel("Pix copia e cola").inputValue(), /^000201/);
    await page.evaluate(() => {
      window.__sameDocument = true;
    });
    const e2e = await psp.payPix(txid);
    assert.match(e2e, /^E/);
    await paidLive(page);
    assert.equal(await page.evaluate(() => window.__sameDocument), true, "the page was reloaded");
    await checkPage(page, `payments-${server.shape || "local"}-pix-paid`);
  });

  await t.test("by boleto: the digitable line and the PDF, paid, the page turning to paid", async () => {
    await addToCart(page, server.base);
    const id = await checkout(page, server.base, /Boleto/);
    await page.getByRole("heading", { level: 2, name: "Pague com boleto" }).waitFor(WAIT);
    const line = await page.getByTestId("boleto-line").inputValue();
    assert.match(line.replace(/\D/g, ""), /^\d{47}$/, line);
    const pdf = await page.getByTestId("boleto-pdf").getAttribute("href");
    assert.ok(pdf && pdf.startsWith(psp.facts.mercadopago), `the boleto's PDF at the provider: ${pdf}`);
    const printable = await fetch(pdf, { signal: AbortSignal.timeout(10_000) });
    assert.equal(printable.status, 200, `the boleto's PDF link: ${pdf}`);
    await checkPage(page, `payments-${server.shape || "local"}-boleto`);
    const payment = await api(server, `/api/v1/orders/${encodeURIComponent(id)}/payment`, { token });
    const reference = payment.json.charge_reference || payment.json.reference;
    assert.ok(reference, payment.text);
    await psp.payBoleto(reference);
    await paidLive(page);
  });

  await t.test("the providers were called, and always as their specs say", async () => {
    const report = await psp.report();
    t.diagnostic(`requests: bank ${report.requests.bcb}, Mercado Pago ${report.requests.mercadopago}; notices passed on: ${report.relayed.length}`);
    assert.deepEqual(report.violations, [], JSON.stringify(report.violations, null, 2));
    assert.ok(report.requests.bcb > 0, "the bank was called");
    assert.ok(report.requests.mercadopago > 0, "Mercado Pago was called");
    const refused = report.relayed.filter((r) => r.status !== 200);
    assert.deepEqual(refused, [], "every notice was taken by the store");
    t.diagnostic(`the whole run: ${Date.now() - started} ms`);
  });
});
