// The customer's account: profile (name, CPF/CNPJ, phone, language, marketing consent, cart
// reminders), saved addresses, order history, their data (LGPD: a copy to download, the
// account's erasure), sign out.

import { get, post, put, del, download, currentUser, signOut, forgetSession } from "../api.js";
import { h, replace, notice, field, busy, showFieldErrors, clearFieldErrors } from "../dom.js";
import { t, money, date, statusLabel, errorText, lang, setLang, applyDocumentLang } from "../i18n.js";
import { link, go } from "../router.js";
import { UFS, maskCep } from "./checkout.js";
import { shortId } from "./order.js";

export async function render(main, route, ctx) {
  document.title = t("account.title");
  const wrap = h("div", { class: "wrap" }, h("h1", null, t("account.heading")), h("p", { class: "muted", role: "status" }, t("account.loading")));
  main.append(wrap);
  await ctx.session;
  if (!currentUser()) {
    go(link("entrar", { next: "/conta" }), { replace: true });
    return;
  }
  let profile, addresses, orders;
  try {
    [profile, addresses, orders] = await Promise.all([get("/api/v1/me"), get("/api/v1/me/addresses"), get("/api/v1/orders?limit=20")]);
  } catch (e) {
    replace(wrap, h("h1", null, t("account.heading")), notice("error", errorText(e)));
    return;
  }

  const ordersBox = h("section", { "aria-labelledby": "orders-title", class: "panel" });
  const addressesBox = h("section", { "aria-labelledby": "addresses-title", class: "panel" });
  const profileBox = h("section", { "aria-labelledby": "profile-title", class: "panel" });
  const privacyBox = h("section", { "aria-labelledby": "privacy-title", class: "panel" });
  replace(
    wrap,
    h("h1", null, t("account.heading")),
    h("p", null, t("account.hello", { name: profile.name })),
    h("div", { class: "panels" }, ordersBox, h("div", { class: "stack" }, profileBox, addressesBox, privacyBox)),
    h("div", { class: "actions" }, h("button", { type: "button", class: "secondary", on: { click: async () => { await signOut(); go("#/"); } } }, t("nav.signOut"))),
  );

  // ----- orders -----
  function showOrders(page, append = false) {
    const list = append ? ordersBox.querySelector("ul") : h("ul", { class: "lines" });
    for (const o of page.items) {
      list.append(
        h(
          "li",
          { class: "order-row" },
          h("span", { class: "badge " + o.status }, statusLabel(o.status)),
          h("div", null, h("a", { href: link("pedido", o.id) }, t("order.heading", { id: shortId(o.id) })), h("br"), h("span", { class: "muted" }, `${date(o.created_at)} · ${money(o.total_centavos)}`)),
        ),
      );
    }
    if (!append) {
      replace(ordersBox, h("h2", { id: "orders-title" }, t("account.orders")), page.items.length ? list : h("p", null, t("account.noOrders")));
    }
    ordersBox.querySelector(".more")?.remove();
    if (page.next) {
      const more = h("button", { type: "button", class: "secondary more", on: { click: async () => showOrders(await get(`/api/v1/orders?limit=20&after=${encodeURIComponent(page.next)}`), true) } }, t("account.moreOrders"));
      ordersBox.append(more);
    }
  }
  showOrders(orders);

  // ----- profile -----
  const pMessage = h("div");
  const nameF = field({ label: t("auth.name"), name: "name", autocomplete: "name", required: true, value: profile.name });
  const taxF = field({ label: t("checkout.taxId"), name: "tax_id", inputmode: "numeric", value: profile.tax_id || "" });
  const phoneF = field({ label: t("account.phone"), name: "phone", type: "tel", autocomplete: "tel", value: profile.phone || "" });
  const langF = field({ label: t("account.language"), name: "language", value: profile.language || lang(), options: [["pt-BR", "Português (Brasil)"], ["en", "English"]] });
  const smsBox = h("input", { type: "checkbox", id: "sms-opt-in", name: "sms_opt_in", checked: profile.sms_opt_in });
  const marketingBox = h("input", { type: "checkbox", id: "marketing-emails", name: "marketing_emails", checked: !!(profile.marketing_emails && profile.marketing_emails.granted) });
  const consentNote = h("p", { class: "muted", id: "marketing-consent" });
  const remindersBox = h("input", { type: "checkbox", id: "cart-reminders", name: "cart_reminders", checked: profile.cart_reminders !== false });
  const showConsent = () => {
    const c = profile.marketing_emails;
    consentNote.textContent = c ? t(c.granted ? "account.marketing.given" : "account.marketing.withdrawn", { date: date(c.at) }) : "";
  };
  showConsent();
  const saveProfile = h("button", { type: "submit" }, t("account.save"));
  const profileForm = h(
    "form",
    {
      novalidate: true,
      on: {
        submit: async (e) => {
          e.preventDefault();
          clearFieldErrors(profileForm);
          await busy(saveProfile, async () => {
            try {
              profile = await put("/api/v1/me", {
                name: nameF.control.value.trim(),
                tax_id: taxF.control.value.trim() || null,
                phone: phoneF.control.value.trim() || null,
                sms_opt_in: smsBox.checked,
                language: langF.control.value,
                // Only a change is a new answer: a box left unticked by someone never asked
                // records nothing (not "consent withdrawn").
                marketing_emails: marketingBox.checked !== !!(profile.marketing_emails && profile.marketing_emails.granted) ? marketingBox.checked : null,
                cart_reminders: remindersBox.checked,
              });
              showConsent();
              replace(pMessage, notice("ok", t("account.saved")));
              if (profile.language !== lang()) {
                setLang(profile.language);
                applyDocumentLang();
                go(location.hash);
              }
            } catch (err) {
              const rest = err.type === "validation" ? showFieldErrors(profileForm, err.problem.errors) : [err];
              replace(pMessage, notice("error", rest.length ? errorText(err) : t("error.fields")));
            }
          });
        },
      },
    },
    nameF,
    taxF,
    phoneF,
    h("label", { class: "choice", for: "sms-opt-in" }, smsBox, t("account.sms")),
    h("label", { class: "choice", for: "marketing-emails" }, marketingBox, t("account.marketing")),
    consentNote,
    h("label", { class: "choice", for: "cart-reminders" }, remindersBox, t("account.cartReminders")),
    langF,
    h("div", { class: "actions" }, saveProfile),
  );
  replace(profileBox, h("h2", { id: "profile-title" }, t("account.profile")), h("p", { class: "muted" }, profile.email), pMessage, profileForm);

  // ----- addresses -----
  function showAddresses() {
    const aMessage = h("div");
    const list = h(
      "ul",
      { class: "lines" },
      addresses.map((a) =>
        h(
          "li",
          { class: "address-row" },
          h(
            "div",
            null,
            h("strong", null, a.label || a.recipient),
            h("br"),
            `${a.street}, ${a.number}${a.complement ? ` — ${a.complement}` : ""}`,
            h("br"),
            `${a.district} — ${a.city}/${a.uf} — ${maskCep(a.cep)}`,
          ),
          h(
            "div",
            null,
            h(
              "button",
              {
                type: "button",
                class: "secondary",
                "aria-label": t("account.removeAddress", { label: a.label || a.street }),
                on: {
                  click: async () => {
                    try {
                      await del(`/api/v1/me/addresses/${encodeURIComponent(a.id)}`);
                      addresses = addresses.filter((x) => x.id !== a.id);
                      showAddresses();
                    } catch (e) {
                      replace(aMessage, notice("error", errorText(e)));
                    }
                  },
                },
              },
              t("account.remove"),
            ),
          ),
        ),
      ),
    );
    const f = {
      label: field({ label: t("address.label"), name: "label", placeholder: t("address.labelExample") }),
      recipient: field({ label: t("address.recipient"), name: "recipient", required: true, autocomplete: "name", value: profile.name }),
      cep: field({ label: t("address.cep"), name: "cep", required: true, inputmode: "numeric", autocomplete: "postal-code", maxlength: 9 }),
      street: field({ label: t("address.street"), name: "street", required: true, autocomplete: "address-line1" }),
      number: field({ label: t("address.number"), name: "number", required: true }),
      complement: field({ label: t("address.complement"), name: "complement" }),
      district: field({ label: t("address.district"), name: "district", required: true }),
      city: field({ label: t("address.city"), name: "city", required: true, autocomplete: "address-level2" }),
      uf: field({ label: t("address.uf"), name: "uf", required: true, options: [["", t("address.chooseUf")], ...UFS.map((u) => [u, u])] }),
    };
    f.cep.control.addEventListener("input", () => {
      f.cep.control.value = maskCep(f.cep.control.value);
    });
    const add = h("button", { type: "submit" }, t("account.addAddress"));
    const form = h(
      "form",
      {
        novalidate: true,
        on: {
          submit: async (e) => {
            e.preventDefault();
            clearFieldErrors(form);
            await busy(add, async () => {
              try {
                const body = {};
                for (const [k, fld] of Object.entries(f)) body[k] = fld.control.value.trim() || null;
                const a = await post("/api/v1/me/addresses", body);
                addresses.push(a);
                showAddresses();
              } catch (err) {
                const rest = err.type === "validation" ? showFieldErrors(form, err.problem.errors) : [err];
                replace(aMessage, notice("error", rest.length ? errorText(err) : t("error.fields")));
              }
            });
          },
        },
      },
      f.label,
      f.recipient,
      h("div", { class: "grid-2" }, f.cep, f.uf),
      f.street,
      h("div", { class: "grid-2" }, f.number, f.complement),
      h("div", { class: "grid-2" }, f.district, f.city),
      h("div", { class: "actions" }, add),
    );
    replace(
      addressesBox,
      h("h2", { id: "addresses-title" }, t("account.addresses")),
      aMessage,
      addresses.length ? list : h("p", null, t("account.noAddresses")),
      h("details", null, h("summary", null, t("account.newAddress")), form),
    );
  }
  showAddresses();

  // ----- their data (LGPD) -----
  const dMessage = h("div", { role: "status" });
  const downloadBtn = h("button", { type: "button", class: "secondary" }, t("account.data.download"));
  downloadBtn.addEventListener("click", () =>
    busy(downloadBtn, async () => {
      try {
        await download("/api/v1/me/data", "meus-dados.json");
        replace(dMessage, notice("ok", t("account.data.downloaded")));
      } catch (err) {
        replace(dMessage, notice("error", errorText(err)));
      }
    }),
  );
  const confirmBox = h("input", { type: "checkbox", id: "erase-confirm", name: "erase_confirm" });
  const eraseBtn = h("button", { type: "submit", class: "danger" }, t("account.erase.button"));
  const eraseForm = h(
    "form",
    {
      novalidate: true,
      on: {
        submit: async (e) => {
          e.preventDefault();
          replace(dMessage);
          if (!confirmBox.checked) {
            replace(dMessage, notice("error", t("account.erase.confirmFirst")));
            return;
          }
          await busy(eraseBtn, async () => {
            try {
              await del("/api/v1/me", { body: { confirm: true } });
              forgetSession();
              replace(wrap, h("h1", null, t("account.erase.doneTitle")), notice("ok", t("account.erase.done")));
            } catch (err) {
              const key = err.status === 403 ? "account.erase.signInAgain" : null;
              replace(dMessage, notice("error", key ? t(key) : errorText(err)));
            }
          });
        },
      },
    },
    h("p", null, t("account.erase.what")),
    h("label", { class: "choice", for: "erase-confirm" }, confirmBox, t("account.erase.confirm")),
    h("div", { class: "actions" }, eraseBtn),
  );
  replace(
    privacyBox,
    h("h2", { id: "privacy-title" }, t("account.data.title")),
    h("p", null, t("account.data.what")),
    h("div", { class: "actions" }, downloadBtn),
    dMessage,
    h("details", null, h("summary", null, t("account.erase.title")), eraseForm),
  );
}
