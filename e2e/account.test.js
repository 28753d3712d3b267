// A returning customer, in a real browser: resets a forgotten password (code from the mail
// folder), which signs them in and merges the cart they filled signed out; checks out to a saved
// address and pays by card (sandbox) in installments; finds the order in their account.

import { test } from "node:test";
import assert from "node:assert/strict";
import { startServer, launch, openPage, createUser, mailedCode, checkPage, waitPaid } from "./lib/harness.js";

const CUSTOMER = { email: "carla@example.com", name: "Carla Dias", password: "senha-antiga-1" };

test("a customer resets the password, pays by card in installments and finds the order", { timeout: 180_000 }, async (t) => {
  const server = await startServer();
  const browser = await launch();
  t.after(async () => {
    await browser.close();
    await server.stop();
  });
  await createUser(server, CUSTOMER);
  const { page } = await openPage(browser, { viewport: { width: 390, height: 844 } });

  await t.test("fill the cart signed out", async () => {
    await page.goto(`${server.base}/#/produto/calca-jeans-reta`);
    await page.getByRole("heading", { level: 1 }).waitFor();
    await page.getByRole("button", { name: "Adicionar ao carrinho" }).click();
    await page.getByText(/no carrinho/).waitFor();
    page.assertClean("add to cart");
  });

  await t.test("reset the password with the mailed code", async () => {
    await page.goto(`${server.base}/#/checkout`);
    await page.getByRole("heading", { level: 1, name: "Entrar" }).waitFor();
    await page.getByRole("link", { name: "Esqueci minha senha" }).click();
    await page.getByRole("heading", { level: 1, name: "Esqueci minha senha" }).waitFor();
    await page.getByLabel("E-mail").fill(CUSTOMER.email);
    await page.getByRole("button", { name: "Enviar código" }).click();
    await page.getByText("Se o e-mail tiver cadastro, o código está a caminho.").waitFor();
    const code = await mailedCode(server, CUSTOMER.email);
    await page.getByLabel("Código de 6 dígitos").fill(code);
    await page.getByLabel("Nova senha").fill("senha-nova-22");
    await checkPage(page, "account-01-reset");
    await page.getByRole("button", { name: "Salvar nova senha" }).click();
    await page.getByRole("heading", { level: 1, name: "Finalizar compra" }).waitFor();
    await page.getByText("Itens (1)").waitFor();
  });

  let orderUrl;
  await t.test("check out paying by card", async () => {
    await page.getByLabel("CEP").fill("80020310");
    await page.getByRole("radio", { name: /SEDEX/ }).waitFor();
    await page.getByLabel("Rua").fill("Rua XV de Novembro");
    await page.getByLabel("Número").fill("50");
    await page.getByLabel("Bairro").fill("Centro");
    await page.getByLabel("Cidade").fill("Curitiba");
    await page.getByLabel("Estado (UF)").selectOption("PR");
    await page.getByRole("radio", { name: /SEDEX/ }).check();
    await page.getByLabel("CPF ou CNPJ").fill("529.982.247-25");
    await page.getByRole("radio", { name: /Cartão de crédito/ }).check();
    await page.getByRole("button", { name: "Fazer pedido" }).click();
    await page.getByRole("heading", { level: 2, name: "Pague com cartão" }).waitFor();
    orderUrl = page.url();
    const options = await page.getByLabel("Parcelas").locator("option").allTextContents();
    assert.ok(options.length >= 3, `installments: ${options}`);
    assert.match(options[2], /^3× de R\$\s[\d.]+,\d\d sem juros$/);
    await checkPage(page, "account-02-card-form");
    await page.getByLabel("Número do cartão").fill("4111 1111 1111 1111");
    await page.getByLabel("Nome impresso no cartão").fill("CARLA DIAS");
    await page.getByLabel("Parcelas").selectOption("3");
    await page.getByRole("button", { name: "Pagar" }).click();
    await waitPaid(page);
    await checkPage(page, "account-03-paid-by-card");
  });

  await t.test("the order and the saved address are in the account", async () => {
    await page.getByRole("link", { name: "Minha conta" }).first().click();
    await page.getByRole("heading", { level: 1, name: "Minha conta" }).waitFor();
    const id = decodeURIComponent(orderUrl.split("#/pedido/")[1]);
    await page.getByRole("link", { name: `Pedido #${id.slice(-8)}` }).waitFor();
    await page.getByText("Rua XV de Novembro, 50").waitFor();
    await checkPage(page, "account-04-account");
  });
});
