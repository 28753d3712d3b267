// Cart reminders in a real browser (docs/abandoned-carts.md): the account page's box turns them
// off and on again; the page a reminder's link opens asks before doing anything, refuses a link
// the store did not sign, and needs no sign-in. That a genuine link turns them off, and that the
// sweep mails once, is crates/vitrine/tests/abandoned_carts.rs (the sweep's time is the test's).

import { test } from "node:test";
import assert from "node:assert/strict";
import { storeAndBrowser, openPage, createUser, api, signInApi, checkPage } from "./lib/harness.js";

const PERSON = { email: "rui.lembretes@example.com", name: "Rui Campos", password: "senha-forte-77" };

test("cart reminders: the account's box, and the link's page asks first and refuses a forged link", { timeout: 180_000 }, async (t) => {
  const { server, browser } = await storeAndBrowser(t);
  await createUser(server, PERSON);
  const token = await signInApi(server, PERSON.email, PERSON.password);
  const remindersOn = async () => (await api(server, "/api/v1/me", { token })).json.cart_reminders;

  await t.test("the account page turns them off and on", async () => {
    const { page } = await openPage(browser);
    await page.goto(`${server.base}/#/conta`);
    await page.getByRole("heading", { level: 1, name: "Entrar" }).waitFor();
    await page.getByLabel("E-mail", { exact: true }).fill(PERSON.email);
    await page.getByLabel("Senha").fill(PERSON.password);
    await page.getByRole("button", { name: "Entrar" }).click();
    const box = page.getByLabel("Quero um lembrete por e-mail quando deixar itens no carrinho");
    await box.waitFor();
    assert.equal(await box.isChecked(), true, "on by default");
    const save = async () => {
      const put = page.waitForResponse((r) => r.url().endsWith("/api/v1/me") && r.request().method() === "PUT");
      await page.getByRole("button", { name: "Salvar" }).first().click();
      assert.equal((await put).status(), 200);
    };
    await box.uncheck();
    await save();
    await page.getByText("Dados salvos.").waitFor();
    assert.equal(await remindersOn(), false);
    await box.check();
    await save();
    assert.equal(await remindersOn(), true);
    await checkPage(page, "cart-reminders-01-account");
  });

  await t.test("a link's page asks first, and a forged link changes nothing", async () => {
    const { page } = await openPage(browser);
    page.allow(/\/api\/v1\/cart-reminders\/off/, 422);
    await page.goto(`${server.base}/#/lembretes?token=c3ViLXF1YWxxdWVy.QUFBQQ`);
    await page.getByRole("heading", { level: 1, name: "Lembretes de carrinho" }).waitFor();
    await checkPage(page, "cart-reminders-02-ask");
    await page.getByRole("button", { name: "Não quero mais lembretes de carrinho" }).click();
    await page.getByText(/^Este link não é válido/).waitFor();
    await checkPage(page, "cart-reminders-03-forged");
    assert.equal(await remindersOn(), true, "nothing changed");
  });

  await t.test("a link without its token says so and offers the account", async () => {
    const { page } = await openPage(browser);
    await page.goto(`${server.base}/#/lembretes`);
    await page.getByText(/^Este link não é válido/).waitFor();
    await page.getByRole("link", { name: "Ir para minha conta" }).waitFor();
    await checkPage(page, "cart-reminders-04-no-token");
  });
});
