// Home: the categories and the newest products ("novidades").

import { get } from "../api.js";
import { h, replace, notice } from "../dom.js";
import { t, errorText } from "../i18n.js";
import { link } from "../router.js";
import { productCard, cardSkeletons } from "./parts.js";
import { shop } from "../shop.js";

export async function render(main) {
  document.title = t("home.title");
  const cats = h("ul", { class: "chips" }, h("li", null, h("a", { href: link("catalogo") }, t("home.all"))));
  const grid = h("ul", { class: "cards" }, cardSkeletons(8));
  const status = h("div");
  main.append(
    h(
      "div",
      { class: "wrap" },
      h("h1", null, t("home.heading")),
      h("p", { class: "muted" }, ownDescription() || t("home.lead")),
      h("section", { "aria-labelledby": "home-cats" }, h("h2", { id: "home-cats" }, t("home.categories")), cats),
      h("section", { "aria-labelledby": "home-new" }, h("h2", { id: "home-new" }, t("home.featured")), status, grid),
      h("p", null, h("a", { class: "button secondary", href: link("catalogo") }, t("home.seeAll"))),
    ),
  );
  const [categories, products] = await Promise.allSettled([
    get("/api/v1/categories", { auth: false }),
    get("/api/v1/products?limit=8&sort=newest", { auth: false }),
  ]);
  if (categories.status === "fulfilled") {
    for (const c of categories.value) {
      cats.append(h("li", null, h("a", { href: link("catalogo", { categoria: c.slug }) }, c.name)));
    }
  }
  if (products.status === "fulfilled") {
    replace(grid, products.value.items.map((p) => productCard(p, 3)));
    if (!products.value.items.length) replace(status, notice("", t("catalog.empty")));
  } else {
    replace(grid);
    replace(status, notice("error", errorText(products.reason)));
  }
}

/** The description the owner gave the shop, if they did. */
function ownDescription() {
  const look = shop();
  return look && look.version > 0 ? look.description : "";
}
