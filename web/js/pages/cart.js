// The cart: works signed out (an anonymous cart, merged into the customer's at sign-in).

import { getCart, setCartQuantity, removeFromCart, currentUser, mediaUrl } from "../api.js";
import { h, replace, notice, id } from "../dom.js";
import { t, money, errorText } from "../i18n.js";
import { link } from "../router.js";
import { optionsText } from "./parts.js";

export async function render(main, route, ctx) {
  document.title = t("cart.title");
  const body = h("div", null, h("p", { class: "muted", role: "status" }, t("cart.loading")));
  const message = h("div", { "aria-live": "polite" });
  main.append(h("div", { class: "wrap" }, h("h1", null, t("cart.heading")), message, body));
  await ctx.session;
  let cart;
  try {
    cart = await getCart();
  } catch (e) {
    replace(body, notice("error", errorText(e)));
    return;
  }
  show(cart);

  function show(cart) {
    if (!cart.lines.length) {
      replace(body, h("p", null, t("cart.empty")), h("p", null, h("a", { class: "button", href: link("catalogo") }, t("cart.browse"))));
      return;
    }
    const items = cart.lines.map((l) => line(l));
    const sold = cart.lines.every((l) => l.unit_price_centavos !== null && l.unit_price_centavos !== undefined);
    replace(
      body,
      h(
        "div",
        { class: "two-cols" },
        h("section", { "aria-labelledby": "cart-lines" }, h("h2", { id: "cart-lines", class: "visually-hidden" }, t("cart.lines")), h("ul", { class: "lines" }, items)),
        h(
          "section",
          { class: "summary", "aria-labelledby": "cart-summary" },
          h("h2", { id: "cart-summary" }, t("cart.summary")),
          h("dl", null, h("div", { class: "total", style: null }, h("dt", null, t("cart.subtotal")), h("dd", null, money(cart.subtotal_centavos)))),
          h("p", { class: "muted" }, t("cart.shippingLater")),
          sold
            ? h("a", { class: "button", href: currentUser() ? link("checkout") : link("entrar", { next: "/checkout" }) }, t("cart.checkout"))
            : notice("warn", t("cart.unavailableLines")),
          h("p", null, h("a", { href: link("catalogo") }, t("cart.continue"))),
        ),
      ),
    );
  }

  function line(l) {
    const qid = id("qty");
    const input = h("input", { id: qid, class: "qty", type: "number", min: 1, max: 99, value: l.quantity, inputmode: "numeric" });
    const name = l.name ?? l.sku;
    const update = h("button", { type: "submit", class: "secondary" }, t("cart.update"));
    const remove = h("button", { type: "button", class: "secondary", "aria-label": t("cart.removeNamed", { name }), on: { click: () => change(() => removeFromCart(l.sku)) } }, t("cart.remove"));
    return h(
      "li",
      null,
      l.image ? h("img", { class: "thumb", src: mediaUrl(l.image), alt: "", width: 72, height: 72 }) : h("div", { class: "thumb placeholder", "aria-hidden": "true" }, (Array.from(name)[0] || "?").toUpperCase()),
      h(
        "div",
        null,
        h("h3", null, l.slug ? h("a", { href: link("produto", l.slug) }, name) : name),
        h("p", { class: "muted" }, optionsText(l.options), l.options && Object.keys(l.options).length ? " · " : "", t("product.sku", { sku: l.sku })),
        l.unit_price_centavos === null || l.unit_price_centavos === undefined
          ? h("p", { class: "badge out-of-stock" }, t("cart.notSold"))
          : h("p", null, t("cart.unit", { price: money(l.unit_price_centavos) }), " · ", h("strong", null, money(l.line_total_centavos))),
        h(
          "form",
          {
            class: "line-controls",
            on: {
              submit: (e) => {
                e.preventDefault();
                const n = parseInt(input.value, 10);
                change(() => (n > 0 ? setCartQuantity(l.sku, Math.min(99, n)) : removeFromCart(l.sku)));
              },
            },
          },
          h("div", { class: "field" }, h("label", { for: qid }, t("cart.quantity")), input),
          update,
          remove,
        ),
      ),
    );
  }

  async function change(fn) {
    try {
      const cart = await fn();
      replace(message, notice("ok", t("cart.updated")));
      show(cart);
    } catch (e) {
      replace(message, notice("error", errorText(e)));
    }
  }
}
