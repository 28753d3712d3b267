// Checkout: where to (a saved address or a new one, by CEP), how (the shipping options quoted
// for that CEP and the cart's weight), the CPF/CNPJ for the invoice, a coupon, and how to pay
// (Pix, card or boleto, as the store takes them). Placing the order leads to its page, where it
// is paid.

import { get, post, getCart, currentUser, cartChanged } from "../api.js";
import { h, replace, notice, field, busy, showFieldErrors, clearFieldErrors } from "../dom.js";
import { t, money, errorText } from "../i18n.js";
import { link, go } from "../router.js";
import { paymentsConfig } from "../payments.js";

export const UFS = ["AC", "AL", "AP", "AM", "BA", "CE", "DF", "ES", "GO", "MA", "MT", "MS", "MG", "PA", "PB", "PR", "PE", "PI", "RJ", "RN", "RS", "RO", "RR", "SC", "SP", "SE", "TO"];

/** "01310100" → "01310-100" while typing. */
export function maskCep(value) {
  const d = value.replace(/\D/g, "").slice(0, 8);
  return d.length > 5 ? `${d.slice(0, 5)}-${d.slice(5)}` : d;
}

// One Idempotency-Key per distinct order attempt: a retry of the same body (after a network
// error) reuses it, so the order is placed once; a changed form gets a new one.
let attempt = { body: null, key: null };
function idempotencyKey(body) {
  const json = JSON.stringify(body);
  if (attempt.body !== json) attempt = { body: json, key: crypto.randomUUID() };
  return attempt.key;
}

export async function render(main, route, ctx) {
  document.title = t("checkout.title");
  const body = h("div", null, h("p", { class: "muted", role: "status" }, t("checkout.loading")));
  main.append(h("div", { class: "wrap" }, h("h1", null, t("checkout.heading")), body));
  await ctx.session;
  if (!currentUser()) {
    go(link("entrar", { next: "/checkout" }), { replace: true });
    return;
  }
  let cart, profile, addresses;
  try {
    [cart, profile, addresses] = await Promise.all([getCart(), get("/api/v1/me"), get("/api/v1/me/addresses")]);
  } catch (e) {
    replace(body, notice("error", errorText(e)));
    return;
  }
  if (!cart.lines.length) {
    replace(body, h("p", null, t("cart.empty")), h("p", null, h("a", { class: "button", href: link("catalogo") }, t("cart.browse"))));
    return;
  }

  const message = h("div");
  let quotes = [];
  let quotedCep = null;

  // ----- address -----
  const addrFields = {
    recipient: field({ label: t("address.recipient"), name: "shipping_address.recipient", autocomplete: "name", required: true, value: profile.name || "" }),
    cep: field({ label: t("address.cep"), name: "shipping_address.cep", autocomplete: "postal-code", inputmode: "numeric", required: true, maxlength: 9, placeholder: "00000-000", hint: t("address.cepHint") }),
    street: field({ label: t("address.street"), name: "shipping_address.street", autocomplete: "address-line1", required: true }),
    number: field({ label: t("address.number"), name: "shipping_address.number", required: true, inputmode: "text" }),
    complement: field({ label: t("address.complement"), name: "shipping_address.complement", autocomplete: "address-line2" }),
    district: field({ label: t("address.district"), name: "shipping_address.district", autocomplete: "address-level3", required: true }),
    city: field({ label: t("address.city"), name: "shipping_address.city", autocomplete: "address-level2", required: true }),
    uf: field({ label: t("address.uf"), name: "shipping_address.uf", autocomplete: "address-level1", required: true, options: [["", t("address.chooseUf")], ...UFS.map((u) => [u, u])] }),
  };
  const cepInput = addrFields.cep.control;
  cepInput.addEventListener("input", () => {
    const pos = cepInput.value.length;
    cepInput.value = maskCep(cepInput.value);
    if (pos === cepInput.value.length) cepInput.setSelectionRange(pos, pos);
    refreshQuotes();
  });
  const saveBox = h("input", { type: "checkbox", name: "save_address", id: "save-address", checked: true });
  const newAddress = h(
    "div",
    { class: "new-address" },
    addrFields.recipient,
    h("div", { class: "grid-2" }, addrFields.cep, addrFields.uf),
    addrFields.street,
    h("div", { class: "grid-2" }, addrFields.number, addrFields.complement),
    h("div", { class: "grid-2" }, addrFields.district, addrFields.city),
    h("label", { class: "choice", for: "save-address" }, saveBox, t("checkout.saveAddress")),
  );
  const savedChoices = addresses.map((a, i) =>
    h(
      "label",
      { class: "choice" },
      h("input", { type: "radio", name: "address_choice", value: a.id, checked: i === 0, on: { change: onAddressChoice } }),
      h("span", null, h("strong", null, a.label || a.recipient), h("br"), `${a.street}, ${a.number}${a.complement ? ` — ${a.complement}` : ""}`, h("br"), `${a.district} — ${a.city}/${a.uf} — ${maskCep(a.cep)}`),
    ),
  );
  const newChoice = addresses.length
    ? h("label", { class: "choice" }, h("input", { type: "radio", name: "address_choice", value: "new", on: { change: onAddressChoice } }), t("checkout.newAddress"))
    : null;
  newAddress.hidden = addresses.length > 0;
  const addressSet = h("fieldset", null, h("legend", null, t("checkout.address")), savedChoices, newChoice, newAddress);

  function chosenAddress() {
    const c = addressSet.querySelector('input[name="address_choice"]:checked');
    if (c && c.value !== "new") return addresses.find((a) => a.id === c.value);
    return null;
  }

  function onAddressChoice() {
    newAddress.hidden = Boolean(chosenAddress());
    refreshQuotes();
  }

  // ----- shipping -----
  const shippingList = h("div", { "aria-live": "polite" }, h("p", { class: "muted" }, t("checkout.enterCep")));
  const shippingSet = h("fieldset", { id: "shipping-options" }, h("legend", null, t("checkout.shipping")), shippingList);

  let quoteTimer = null;
  function refreshQuotes() {
    clearTimeout(quoteTimer);
    quoteTimer = setTimeout(loadQuotes, 150);
  }

  async function loadQuotes() {
    const saved = chosenAddress();
    const cep = (saved ? saved.cep : cepInput.value).replace(/\D/g, "");
    if (cep.length !== 8) {
      quotes = [];
      quotedCep = null;
      replace(shippingList, h("p", { class: "muted" }, t("checkout.enterCep")));
      updateSummary();
      return;
    }
    if (cep === quotedCep) return;
    quotedCep = cep;
    replace(shippingList, h("p", { class: "muted" }, t("checkout.quoting")));
    try {
      const box = cart.parcel || {};
      const params = new URLSearchParams({ cep, weight_g: String(Math.max(1, cart.weight_g)), subtotal_centavos: String(cart.subtotal_centavos) });
      for (const side of ["length_cm", "width_cm", "height_cm"]) if (box[side]) params.set(side, String(box[side]));
      quotes = await get(`/api/v1/shipping/quote?${params}`, { auth: false });
    } catch (e) {
      quotes = [];
      quotedCep = null;
      replace(shippingList, notice("error", errorText(e)));
      updateSummary();
      return;
    }
    if (!quotes.length) {
      replace(shippingList, notice("warn", t("checkout.noShipping")));
    } else {
      replace(
        shippingList,
        quotes.map((q, i) =>
          h(
            "label",
            { class: "choice" },
            h("input", { type: "radio", name: "shipping_method", value: q.method_id, checked: i === 0, on: { change: updateSummary } }),
            h("span", null, h("strong", null, q.name), ` — ${q.price_centavos ? money(q.price_centavos) : t("checkout.free")} · ${(q.days === 1 ? t("checkout.day") : t("checkout.days", { n: q.days }))}`),
          ),
        ),
      );
    }
    updateSummary();
  }

  function chosenQuote() {
    const c = shippingSet.querySelector('input[name="shipping_method"]:checked');
    return c ? quotes.find((q) => q.method_id === c.value) : null;
  }

  // ----- tax id, coupon, payment -----
  const taxF = field({ label: t("checkout.taxId"), name: "tax_id", inputmode: "numeric", required: true, value: profile.tax_id || "", hint: t("checkout.taxIdHint"), autocomplete: "off" });
  const couponF = field({ label: t("checkout.coupon"), name: "coupon", autocomplete: "off", hint: t("checkout.couponHint") });
  const paySet = h(
    "fieldset",
    null,
    h("legend", null, t("checkout.payment")),
    h("label", { class: "choice" }, h("input", { type: "radio", name: "payment_method", value: "pix", checked: true }), h("span", null, h("strong", null, "Pix"), " — ", t("checkout.pixText"))),
    h("label", { class: "choice" }, h("input", { type: "radio", name: "payment_method", value: "card" }), h("span", null, h("strong", null, t("checkout.card")), " — ", t("checkout.cardText"))),
    h("label", { class: "choice", hidden: true }, h("input", { type: "radio", name: "payment_method", value: "boleto" }), h("span", null, h("strong", null, "Boleto"), " — ", t("checkout.boletoText"))),
  );
  // Only the methods the store takes (GET /api/v1/config): boleto appears with a provider for
  // it, and a method switched off disappears.
  paymentsConfig().then((cfg) => {
    if (!cfg || !Array.isArray(cfg.methods)) return;
    for (const input of paySet.querySelectorAll('input[name="payment_method"]')) {
      const taken = cfg.methods.includes(input.value);
      input.closest("label").hidden = !taken;
      input.disabled = !taken;
    }
    if (!paySet.querySelector('input[name="payment_method"]:checked:not(:disabled)')) {
      const first = paySet.querySelector('input[name="payment_method"]:not(:disabled)');
      if (first) first.checked = true;
    }
  });

  // ----- summary -----
  const summaryList = h("dl");
  function updateSummary() {
    const q = chosenQuote();
    const shipping = q ? q.price_centavos : null;
    replace(
      summaryList,
      h("div", null, h("dt", null, t("checkout.items", { n: cart.lines.reduce((s, l) => s + l.quantity, 0) })), h("dd", null, money(cart.subtotal_centavos))),
      h("div", null, h("dt", null, t("checkout.shippingCost")), h("dd", null, shipping === null ? "—" : shipping ? money(shipping) : t("checkout.free"))),
      h("div", { class: "total" }, h("dt", null, t("checkout.total")), h("dd", null, money(cart.subtotal_centavos + (shipping || 0)))),
    );
  }

  const submit = h("button", { type: "submit" }, t("checkout.place"));
  const form = h(
    "form",
    { novalidate: true, on: { submit: onSubmit } },
    addressSet,
    shippingSet,
    taxF,
    couponF,
    paySet,
    h("div", { class: "actions" }, submit),
  );
  replace(
    body,
    message,
    h(
      "div",
      { class: "two-cols" },
      h("section", { "aria-labelledby": "checkout-form" }, h("h2", { id: "checkout-form", class: "visually-hidden" }, t("checkout.details")), form),
      h(
        "section",
        { class: "summary", "aria-labelledby": "checkout-summary" },
        h("h2", { id: "checkout-summary" }, t("cart.summary")),
        h("ul", { class: "lines" }, cart.lines.map((l) => h("li", { class: "compact" }, h("span", null, `${l.quantity}×`), h("span", null, l.name ?? l.sku, l.options && Object.keys(l.options).length ? ` (${Object.values(l.options).join(" / ")})` : "")))),
        summaryList,
        h("p", { class: "muted" }, t("checkout.couponLater")),
        h("p", null, h("a", { href: link("carrinho") }, t("checkout.editCart"))),
      ),
    ),
  );
  updateSummary();
  if (addresses.length) loadQuotes();

  async function onSubmit(e) {
    e.preventDefault();
    clearFieldErrors(form);
    replace(message);
    const q = chosenQuote();
    if (!q) {
      replace(message, notice("error", t("checkout.chooseShipping")));
      shippingSet.querySelector("input, p")?.scrollIntoView({ block: "center" });
      return;
    }
    const saved = chosenAddress();
    const order = {
      shipping_method: q.method_id,
      payment_method: form.querySelector('input[name="payment_method"]:checked').value,
      tax_id: taxF.control.value.trim(),
    };
    const coupon = couponF.control.value.trim();
    if (coupon) order.coupon = coupon;
    const address = {
      recipient: addrFields.recipient.control.value.trim(),
      street: addrFields.street.control.value.trim(),
      number: addrFields.number.control.value.trim(),
      complement: addrFields.complement.control.value.trim() || null,
      district: addrFields.district.control.value.trim(),
      city: addrFields.city.control.value.trim(),
      uf: addrFields.uf.control.value,
      cep: addrFields.cep.control.value.trim(),
    };
    await busy(submit, async () => {
      try {
        if (saved) {
          order.address_id = saved.id;
        } else if (saveBox.checked) {
          const a = await post("/api/v1/me/addresses", { label: null, ...address });
          addresses.push(a);
          order.address_id = a.id;
        } else {
          order.shipping_address = address;
        }
        const placed = await post("/api/v1/orders", order, { headers: { "Idempotency-Key": idempotencyKey(order) } });
        attempt = { body: null, key: null };
        cartChanged({ lines: [], subtotal_centavos: 0, weight_g: 0, token: null });
        go(link("pedido", placed.id));
      } catch (err) {
        if (err.type === "validation") {
          const map = {};
          for (const [k, f] of Object.entries(addrFields)) map[k] = f.control;
          for (const [k, f] of Object.entries(addrFields)) map[`shipping_address.${k}`] = f.control;
          map.tax_id = taxF.control;
          map.coupon = couponF.control;
          const rest = showFieldErrors(form, err.problem.errors || [], map);
          replace(message, notice("error", rest.length ? errorText(err) : t("error.fields")));
        } else {
          replace(message, notice("error", errorText(err)));
        }
        message.scrollIntoView({ block: "nearest" });
      }
    });
  }
}
