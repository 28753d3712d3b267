// Pieces several storefront pages share: product cards, prices, stock state.

import { mediaUrl } from "../api.js";
import { h } from "../dom.js";
import { t, money } from "../i18n.js";
import { link } from "../router.js";

/** A product's cover image, or a placeholder with its initial. */
export function cover(product, { eager = false } = {}) {
  const key = product.images && product.images[0];
  if (key) {
    return h("img", {
      class: "thumb",
      src: mediaUrl(key),
      alt: product.name,
      width: 400,
      height: 400,
      loading: eager ? "eager" : "lazy",
      decoding: "async",
    });
  }
  const initial = Array.from((product.name || "?").trim())[0] || "?";
  return h("div", { class: "thumb placeholder", "aria-hidden": "true" }, initial.toUpperCase());
}

/** The lowest and highest compare-at price of a listing item, when it has one. */
function compareFrom(product) {
  const withCompare = (product.variants || []).filter((v) => v.compare_at_centavos);
  if (!withCompare.length) return null;
  const cheapest = (product.variants || []).reduce((a, b) => (b.price_centavos < a.price_centavos ? b : a));
  return cheapest.compare_at_centavos || null;
}

/** A product card for listings. `level` is the heading level inside the card. */
export function productCard(product, level = 2) {
  const href = link("produto", product.slug);
  const compare = compareFrom(product);
  const several = new Set((product.variants || []).map((v) => v.price_centavos)).size > 1;
  return h(
    "li",
    { class: "card" },
    h("a", { href, tabindex: "-1", "aria-hidden": "true" }, cover(product)),
    h(`h${level}`, null, h("a", { href }, product.name)),
    h(
      "p",
      { class: "price" },
      compare ? h("del", null, h("span", { class: "visually-hidden" }, t("price.was")), money(compare)) : null,
      several ? h("span", { class: "compare" }, t("price.from")) : null,
      compare ? h("span", { class: "visually-hidden" }, t("price.now")) : null,
      money(product.price_from_centavos),
    ),
  );
}

/** Grey boxes where product cards will appear: the page is useful before the API answers. */
export function cardSkeletons(n, level = 2) {
  return Array.from({ length: n }, () =>
    h(
      "li",
      { class: "card", "aria-hidden": "true" },
      h("div", { class: "thumb skeleton" }),
      h(`h${level}`, { class: "skeleton" }, "\u00a0"),
      h("p", { class: "skeleton" }, "\u00a0"),
    ),
  );
}

/** The stock state of a variant: in stock, last units, out of stock. */
export function stockBadge(available) {
  if (available === undefined || available === null) return null;
  if (available <= 0) return h("span", { class: "badge out-of-stock" }, t("stock.out"));
  if (available <= 5) return h("span", { class: "badge low-stock" }, t("stock.low", { n: available }));
  return h("span", { class: "badge in-stock" }, t("stock.in"));
}

/** "tamanho: M · cor: azul" */
export function optionsText(options) {
  return Object.entries(options || {})
    .map(([k, v]) => `${k}: ${v}`)
    .join(" · ");
}
