// LGPD in a real browser, on either shape: a customer gives consent to marketing e-mails (the page
// shows when), downloads a copy of their data from their account (profile with the dated consent,
// addresses, orders), then deletes the account: they are signed out and can no longer sign in. An
// admin exports another customer's data on request from the customer's page. What is left in the
// database and blobs after an erasure is searched byte for byte by crates/vitrine/tests/privacy.rs.

import { test } from "node:test";
import assert from "node:assert/strict";
import { readFile } from "node:fs/promises";
import { startServer, launch, openPage, createUser, api, signInApi, checkPage } from "./lib/harness.js";

const ADMIN = { email: "dona@loja.example", name: "Dona da Loja", password: "dona-da-loja-2026", admin: true };
const PERSON = { email: "lia.lgpd@example.com", name: "Lia Moraes", password: "senha-forte-88" };
const OTHER = { email: "teo.lgpd@example.com", name: "Teo Barros", password: "senha-forte-99" };

test("a customer takes a copy of their data and deletes their account; the admin exports on request", { timeout: 240_000 }, async (t) => {
  const server = await startServer();
  const browser = await launch();
  t.after(async () => {
    await browser.close();
    await server.stop();
  });
  await createUser(server, PERSON);
  await createUser(server, OTHER);
  await createUser(server, ADMIN);
  const { page } = await openPage(browser);

  await t.test("consent to marketing e-mails, with its date", async () => {
    await page.goto(`${server.base}/#/conta`);
    await page.getByRole("heading", { level: 1, name: "Entrar" }).waitFor();
    await page.getByLabel("E-mail").fill(PERSON.email);
    await page.getByLabel("Senha").fill(PERSON.password);
    await page.getByRole("button", { name: "Entrar" }).click();
    await page.getByRole("heading", { level: 2, name: "Seus dados" }).waitFor();
    await page.getByLabel("CPF ou CNPJ").fill("529.982.247-25");
    await page.getByLabel("Quero receber ofertas e novidades por e-mail").check();
    await page.getByRole("button", { name: "Salvar" }).first().click();
    await page.getByText(/^Consentimento dado em \d{2}\/\d{2}\/\d{4}\.$/).waitFor();
    await checkPage(page, "privacy-01-account");
  });

  await t.test("download a copy of everything", async () => {
    const [download] = await Promise.all([page.waitForEvent("download"), page.getByRole("button", { name: "Baixar meus dados" }).click()]);
    assert.equal(download.suggestedFilename(), "meus-dados.json");
    const data = JSON.parse(await readFile(await download.path(), "utf8"));
    assert.equal(data.profile.email, PERSON.email);
    assert.equal(data.profile.tax_id, "52998224725");
    assert.equal(data.profile.marketing_emails.granted, true);
    for (const part of ["addresses", "cart", "orders", "payments", "invoices", "emails_sent"]) assert.ok(Array.isArray(data[part]), `${part} in the copy`);
    await page.getByText("Arquivo meus-dados.json baixado.").waitFor();
  });

  await t.test("delete the account: signed out, no sign-in any more", async () => {
    await page.getByText("Excluir minha conta", { exact: true }).first().click();
    await page.getByRole("button", { name: "Excluir minha conta" }).click();
    await page.getByText("Marque a confirmação para excluir a conta.").waitFor();
    await page.getByLabel("Entendi e quero excluir minha conta").check();
    await page.getByRole("button", { name: "Excluir minha conta" }).click();
    const done = page.getByRole("heading", { level: 1, name: "Conta excluída" });
    const refused = page.locator("#privacy-title ~ div .notice.error");
    await done.or(refused).waitFor();
    assert.ok(await done.isVisible(), `refused: ${await refused.textContent().catch(() => "")}`);
    await checkPage(page, "privacy-02-erased");
    const r = await api(server, "/api/v1/auth/sign-in", { method: "POST", body: { email: PERSON.email, password: PERSON.password } });
    assert.equal(r.status, 401, r.text);
  });

  await t.test("the admin exports another customer's data from their page", async () => {
    const admin = await signInApi(server, ADMIN.email, ADMIN.password);
    const found = await api(server, "/api/v1/admin/customers?q=teo", { token: admin });
    assert.equal(found.status, 200, found.text);
    const sub = found.json.items.find((c) => c.email === OTHER.email)?.sub;
    assert.ok(sub, found.text);
    const { page: adminPage } = await openPage(browser);
    await adminPage.goto(`${server.base}/admin/#/`);
    await adminPage.getByLabel("E-mail").fill(ADMIN.email);
    await adminPage.getByLabel("Senha").fill(ADMIN.password);
    await adminPage.getByRole("button", { name: "Entrar" }).click();
    await adminPage.getByRole("link", { name: "Clientes" }).waitFor();
    await adminPage.goto(`${server.base}/admin/#/clientes/${encodeURIComponent(sub)}`);
    await adminPage.getByRole("heading", { level: 2, name: "Pedidos do titular (LGPD)" }).waitFor();
    const [download] = await Promise.all([adminPage.waitForEvent("download"), adminPage.getByRole("button", { name: "Exportar os dados" }).click()]);
    const data = JSON.parse(await readFile(await download.path(), "utf8"));
    assert.equal(data.profile.email, OTHER.email);
    await checkPage(adminPage, "privacy-03-admin-customer");
  });
});
