// A product: images, the variant picker (one radio group per option), price and compare-at
// price, stock state, and "add to cart".

import { get, addToCart, mediaUrl } from "../api.js";
import { h, replace, notice, id } from "../dom.js";
import { t, money, errorText } from "../i18n.js";
import { link } from "../router.js";
import { cover, stockBadge } from "./parts.js";

export async function render(main, route, ctx, slug) {
  document.title = t("product.loading");
  const wrap = h("div", { class: "wrap" }, h("h1", { class: "skeleton" }, "\u00a0"), h("div", { class: "thumb skeleton", style: null }));
  main.append(wrap);
  let product;
  try {
    product = await get(`/api/v1/products/${encodeURIComponent(slug)}`, { auth: false });
  } catch (e) {
    replace(wrap, h("h1", null, e.status === 404 ? t("product.notFound") : t("error.title")), notice("error", e.status === 404 ? t("product.notFoundText") : errorText(e)), h("p", null, h("a", { href: link("catalogo") }, t("home.seeAll"))));
    document.title = t("product.notFound");
    return;
  }
  document.title = t("product.title", { name: product.name });

  // Option names in the order they first appear; values in order too.
  const names = [];
  const values = new Map();
  for (const v of product.variants) {
    for (const [k, val] of Object.entries(v.options || {})) {
      if (!values.has(k)) {
        names.push(k);
        values.set(k, []);
      }
      if (!values.get(k).includes(val)) values.get(k).push(val);
    }
  }
  const firstAvailable = product.variants.find((v) => (v.available ?? 1) > 0) || product.variants[0];
  const chosen = { ...(firstAvailable.options || {}) };

  const priceBox = h("p", { class: "price", "aria-live": "polite" });
  const stockBox = h("p", { "aria-live": "polite" });
  const skuBox = h("p", { class: "muted" });
  const message = h("div");
  const qty = h("input", { id: id("qty"), class: "qty", type: "number", name: "quantity", min: 1, max: 99, value: 1, inputmode: "numeric" });
  const addButton = h("button", { type: "submit" }, t("product.add"));

  const pickers = names.map((name) => {
    const legendId = id("opt");
    return h(
      "fieldset",
      null,
      h("legend", { id: legendId }, name),
      h(
        "div",
        { class: "options" },
        values.get(name).map((val) =>
          h(
            "label",
            { class: "pill" },
            h("input", {
              type: "radio",
              name: `opt-${name}`,
              value: val,
              checked: chosen[name] === val,
              on: {
                change: () => {
                  chosen[name] = val;
                  update();
                },
              },
            }),
            val,
          ),
        ),
      ),
    );
  });

  function selected() {
    return product.variants.find((v) => names.every((n) => (v.options || {})[n] === chosen[n])) || null;
  }

  function update() {
    const v = selected();
    if (!v) {
      replace(priceBox, t("product.combination"));
      replace(stockBox, h("span", { class: "badge out-of-stock" }, t("product.unavailable")));
      replace(skuBox);
      addButton.disabled = true;
      return;
    }
    replace(
      priceBox,
      v.compare_at_centavos
        ? h("del", null, h("span", { class: "visually-hidden" }, t("price.was")), money(v.compare_at_centavos))
        : null,
      v.compare_at_centavos ? h("span", { class: "visually-hidden" }, t("price.now")) : null,
      h("span", { "data-testid": "price" }, money(v.price_centavos)),
    );
    replace(stockBox, stockBadge(v.available));
    replace(skuBox, t("product.sku", { sku: v.sku }));
    addButton.disabled = (v.available ?? 1) <= 0;
    qty.max = String(Math.max(1, Math.min(99, v.available ?? 99)));
  }

  async function onAdd(e) {
    e.preventDefault();
    const v = selected();
    if (!v) return;
    const n = Math.max(1, Math.min(99, parseInt(qty.value, 10) || 1));
    addButton.disabled = true;
    try {
      const cart = await addToCart(v.sku, n);
      const line = cart.lines.find((l) => l.sku === v.sku);
      replace(message, notice("ok", t("product.added", { n, name: product.name, option: optionLabel(v) }), " ", h("a", { href: link("carrinho") }, t("product.goToCart")), line ? ` (${t("cart.items", { n: cart.lines.reduce((s, l) => s + l.quantity, 0) })})` : ""));
    } catch (err) {
      replace(message, notice("error", errorText(err)));
    } finally {
      update();
    }
  }

  function optionLabel(v) {
    return Object.values(v.options || {}).join(" / ");
  }

  // The gallery: the first image large, the others as buttons that swap it.
  const gallery = h("div", { class: "gallery" });
  if (product.images.length) {
    const big = h("img", { class: "main-image", src: mediaUrl(product.images[0]), alt: product.name, width: 600, height: 600 });
    gallery.append(big);
    if (product.images.length > 1) {
      const thumbs = product.images.map((key, i) =>
        h(
          "li",
          null,
          h(
            "button",
            {
              type: "button",
              "aria-pressed": i === 0 ? "true" : "false",
              "aria-label": t("product.image", { n: i + 1, total: product.images.length }),
              on: {
                click: (e) => {
                  big.src = mediaUrl(key);
                  for (const b of gallery.querySelectorAll("li button")) b.setAttribute("aria-pressed", "false");
                  e.currentTarget.setAttribute("aria-pressed", "true");
                },
              },
            },
            h("img", { src: mediaUrl(key), alt: "", width: 64, height: 64, loading: "lazy" }),
          ),
        ),
      );
      gallery.append(h("ul", null, thumbs));
    }
  } else {
    gallery.append(cover(product, { eager: true }));
  }

  replace(
    wrap,
    h(
      "nav",
      { class: "breadcrumbs", "aria-label": t("nav.breadcrumbs") },
      h("ol", null, h("li", null, h("a", { href: "#/" }, t("nav.home"))), h("li", null, h("a", { href: link("catalogo") }, t("catalog.heading"))), h("li", { "aria-current": "page" }, product.name)),
    ),
    h(
      "article",
      { class: "product" },
      gallery,
      h(
        "div",
        null,
        h("h1", { "data-testid": "product-name" }, product.name),
        priceBox,
        stockBox,
        h(
          "form",
          { on: { submit: onAdd } },
          pickers,
          h("div", { class: "field" }, h("label", { for: qty.id }, t("product.quantity")), qty),
          h("div", { class: "actions" }, addButton),
        ),
        message,
        skuBox,
        product.description ? h("section", { "aria-labelledby": "desc-title" }, h("h2", { id: "desc-title" }, t("product.description")), h("p", { class: "description" }, product.description)) : null,
      ),
    ),
  );
  update();
}
