// Accounts: sign in, sign up, confirm the e-mail with the code, reset a forgotten password.
// After signing in, the anonymous cart is merged (api.signIn sends its token) and the shopper
// goes back where they were (`next`).

import { post, signIn } from "../api.js";
import { h, replace, notice, field, busy, showFieldErrors, clearFieldErrors } from "../dom.js";
import { t, errorText } from "../i18n.js";
import { link, go } from "../router.js";

// The password typed at sign-up, kept in memory only until the code is confirmed, to sign the
// new customer in without asking again. Never stored.
let pending = null;

function nextOf(route) {
  const next = route.query.get("next") || "/";
  // Only our own hash routes.
  return next.startsWith("/") && !next.startsWith("//") ? next : "/";
}

export async function render(main, route, ctx, which) {
  const wrap = h("div", { class: "wrap", style: null });
  const box = h("div", { class: "stack" });
  wrap.append(box);
  main.append(wrap);
  const next = nextOf(route);
  if (which === "cadastro") return signUp(box, next);
  if (which === "confirmar") return confirm(box, next, route.query.get("email") || "");
  if (which === "senha") return reset(box, next, route.query.get("email") || "");
  return signInPage(box, next, route.query.get("email") || "");
}

function page(box, title, ...children) {
  document.title = t("auth.pageTitle", { title });
  replace(box, h("h1", null, title), ...children);
}

function formError(form, message, err) {
  if (err && err.type === "validation") {
    const rest = showFieldErrors(form, err.problem.errors || []);
    if (!rest.length) {
      replace(message, notice("error", t("error.fields")));
      return;
    }
  }
  replace(message, notice("error", errorText(err)));
}

function signInPage(box, next, email) {
  const message = h("div");
  const emailF = field({ label: t("auth.email"), name: "email", type: "email", autocomplete: "email", required: true, value: email });
  const passF = field({ label: t("auth.password"), name: "password", type: "password", autocomplete: "current-password", required: true });
  const submit = h("button", { type: "submit" }, t("auth.signIn"));
  const form = h(
    "form",
    {
      novalidate: true,
      on: {
        submit: async (e) => {
          e.preventDefault();
          clearFieldErrors(form);
          replace(message);
          await busy(submit, async () => {
            try {
              await signIn(emailF.control.value.trim(), passF.control.value);
              go(`#${next}`);
            } catch (err) {
              if (err.type === "not-confirmed") {
                replace(message, notice("error", t("auth.notConfirmed"), " ", h("a", { href: link("confirmar", { email: emailF.control.value.trim(), next }) }, t("auth.enterCode"))));
              } else {
                formError(form, message, err);
              }
            }
          });
        },
      },
    },
    emailF,
    passF,
    h("div", { class: "actions" }, submit, h("a", { href: link("senha", { email: emailF.control.value, next }) }, t("auth.forgot"))),
  );
  page(
    box,
    t("auth.signInTitle"),
    message,
    form,
    h("section", { "aria-labelledby": "new-here" }, h("h2", { id: "new-here" }, t("auth.newHere")), h("p", null, t("auth.newHereText")), h("a", { class: "button secondary", href: link("cadastro", { next }) }, t("auth.createAccount"))),
  );
}

function signUp(box, next) {
  const message = h("div");
  const nameF = field({ label: t("auth.name"), name: "name", autocomplete: "name", required: true, maxlength: 120 });
  const emailF = field({ label: t("auth.email"), name: "email", type: "email", autocomplete: "email", required: true });
  const passF = field({ label: t("auth.password"), name: "password", type: "password", autocomplete: "new-password", required: true, minlength: 8, hint: t("auth.passwordRule") });
  const submit = h("button", { type: "submit" }, t("auth.createAccount"));
  const form = h(
    "form",
    {
      novalidate: true,
      on: {
        submit: async (e) => {
          e.preventDefault();
          clearFieldErrors(form);
          replace(message);
          const email = emailF.control.value.trim();
          const password = passF.control.value;
          await busy(submit, async () => {
            try {
              await post("/api/v1/auth/sign-up", { email, password, name: nameF.control.value.trim() }, { auth: false });
              pending = { email, password };
              go(link("confirmar", { email, next }));
            } catch (err) {
              formError(form, message, err);
            }
          });
        },
      },
    },
    nameF,
    emailF,
    passF,
    h("div", { class: "actions" }, submit),
  );
  page(box, t("auth.signUpTitle"), message, form, h("p", null, t("auth.haveAccount"), " ", h("a", { href: link("entrar", { next }) }, t("auth.signIn"))));
}

function confirm(box, next, email) {
  const message = h("div");
  const emailF = field({ label: t("auth.email"), name: "email", type: "email", autocomplete: "email", required: true, value: email });
  const codeF = field({ label: t("auth.code"), name: "code", autocomplete: "one-time-code", inputmode: "numeric", required: true, maxlength: 6, hint: t("auth.codeHint") });
  const submit = h("button", { type: "submit" }, t("auth.confirm"));
  const resend = h(
    "button",
    {
      type: "button",
      class: "secondary",
      on: {
        click: async () => {
          await busy(resend, async () => {
            try {
              await post("/api/v1/auth/resend-code", { email: emailF.control.value.trim() }, { auth: false });
              replace(message, notice("ok", t("auth.codeResent")));
            } catch (err) {
              replace(message, notice("error", errorText(err)));
            }
          });
        },
      },
    },
    t("auth.resend"),
  );
  const form = h(
    "form",
    {
      novalidate: true,
      on: {
        submit: async (e) => {
          e.preventDefault();
          clearFieldErrors(form);
          replace(message);
          const mail = emailF.control.value.trim();
          await busy(submit, async () => {
            try {
              await post("/api/v1/auth/confirm", { email: mail, code: codeF.control.value.trim() }, { auth: false });
              if (pending && pending.email === mail) {
                const { password } = pending;
                pending = null;
                await signIn(mail, password);
                go(`#${next}`);
              } else {
                go(link("entrar", { email: mail, next, confirmado: "1" }));
              }
            } catch (err) {
              formError(form, message, err);
            }
          });
        },
      },
    },
    emailF,
    codeF,
    h("div", { class: "actions" }, submit, resend),
  );
  page(box, t("auth.confirmTitle"), h("p", null, t("auth.confirmText")), message, form);
}

function reset(box, next, email) {
  const message = h("div");
  const emailF = field({ label: t("auth.email"), name: "email", type: "email", autocomplete: "email", required: true, value: email });
  const askButton = h("button", { type: "submit" }, t("auth.sendCode"));
  const ask = h(
    "form",
    {
      novalidate: true,
      on: {
        submit: async (e) => {
          e.preventDefault();
          await busy(askButton, async () => {
            try {
              await post("/api/v1/auth/forgot-password", { email: emailF.control.value.trim() }, { auth: false });
              replace(message, notice("ok", t("auth.resetSent")));
              second.hidden = false;
              codeF.control.focus();
            } catch (err) {
              formError(ask, message, err);
            }
          });
        },
      },
    },
    emailF,
    h("div", { class: "actions" }, askButton),
  );
  const codeF = field({ label: t("auth.code"), name: "code", autocomplete: "one-time-code", inputmode: "numeric", required: true, maxlength: 6 });
  const passF = field({ label: t("auth.newPassword"), name: "new_password", type: "password", autocomplete: "new-password", required: true, hint: t("auth.passwordRule") });
  const resetButton = h("button", { type: "submit" }, t("auth.resetButton"));
  const second = h(
    "form",
    {
      novalidate: true,
      hidden: !email,
      on: {
        submit: async (e) => {
          e.preventDefault();
          clearFieldErrors(second);
          const mail = emailF.control.value.trim();
          await busy(resetButton, async () => {
            try {
              await post("/api/v1/auth/reset-password", { email: mail, code: codeF.control.value.trim(), new_password: passF.control.value }, { auth: false });
              await signIn(mail, passF.control.value);
              go(`#${next}`);
            } catch (err) {
              formError(second, message, err);
            }
          });
        },
      },
    },
    h("h2", null, t("auth.resetStep2")),
    codeF,
    passF,
    h("div", { class: "actions" }, resetButton),
  );
  page(box, t("auth.resetTitle"), h("p", null, t("auth.resetText")), message, ask, second);
}
