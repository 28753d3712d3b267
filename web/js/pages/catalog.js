// The catalog: category, price and text filters, sort, and cursor pagination. The filters
// live in the URL (#/catalogo?categoria=…&q=…&ordem=…&min=…&max=…&after=…), so every page of
// results has its own address and the back button works.

import { get } from "../api.js";
import { h, replace, notice, field } from "../dom.js";
import { t, errorText, parseMoney, moneyInput } from "../i18n.js";
import { link, go } from "../router.js";
import { productCard, cardSkeletons } from "./parts.js";

const PAGE = 12;
// The cursors seen per query, to offer "previous page" (the API pages forward only).
const trail = new Map();

function flatten(nodes, depth = 0, out = []) {
  for (const n of nodes) {
    out.push({ ...n, depth });
    flatten(n.children || [], depth + 1, out);
  }
  return out;
}

export async function render(main, route) {
  const q = route.query;
  const filters = {
    categoria: q.get("categoria") || "",
    q: q.get("q") || "",
    ordem: q.get("ordem") || "newest",
    min: q.get("min") || "",
    max: q.get("max") || "",
  };
  const after = q.get("after") || "";
  const key = JSON.stringify(filters);
  const seen = trail.get(key) || [""];
  trail.set(key, seen);
  if (!seen.includes(after)) seen.push(after);
  const pageIndex = seen.indexOf(after);

  document.title = filters.q ? t("catalog.titleSearch", { q: filters.q }) : t("catalog.title");
  const heading = h("h1", null, filters.q ? t("catalog.headingSearch", { q: filters.q }) : t("catalog.heading"));
  const grid = h("ul", { class: "cards", "aria-describedby": "catalog-count" }, cardSkeletons(8));
  const count = h("p", { id: "catalog-count", class: "muted", role: "status" }, t("catalog.loading"));
  const pager = h("nav", { class: "pager", "aria-label": t("catalog.pages") });
  const problems = h("div");

  const category = field({ label: t("catalog.category"), name: "categoria", options: [["", t("catalog.allCategories")]], value: filters.categoria });
  const sort = field({
    label: t("catalog.sort"),
    name: "ordem",
    value: filters.ordem,
    options: [
      ["newest", t("sort.newest")],
      ["price_asc", t("sort.priceAsc")],
      ["price_desc", t("sort.priceDesc")],
      ["name", t("sort.name")],
    ],
  });
  const min = field({ label: t("catalog.minPrice"), name: "min", value: filters.min, inputmode: "decimal", placeholder: "0,00" });
  const max = field({ label: t("catalog.maxPrice"), name: "max", value: filters.max, inputmode: "decimal", placeholder: "0,00" });
  const text = field({ label: t("catalog.words"), name: "q", type: "search", value: filters.q });
  const form = h(
    "form",
    { on: { submit: onFilter } },
    text,
    category,
    h("fieldset", null, h("legend", null, t("catalog.priceRange")), h("div", { class: "grid-2 tight" }, min, max)),
    sort,
    h("div", { class: "actions" }, h("button", { type: "submit" }, t("catalog.apply")), h("a", { href: link("catalogo") }, t("catalog.clear"))),
  );
  const anyFilter = filters.categoria || filters.min || filters.max || filters.ordem !== "newest";
  const panel = h(
    "aside",
    { class: "filters", "aria-labelledby": "filters-title" },
    h("details", { open: anyFilter || window.matchMedia("(min-width: 56rem)").matches }, h("summary", { id: "filters-title" }, t("catalog.filters")), form),
  );
  // Sorting applies at once.
  sort.control.addEventListener("change", () => form.requestSubmit());

  main.append(
    h(
      "div",
      { class: "wrap" },
      h("nav", { class: "breadcrumbs", "aria-label": t("nav.breadcrumbs") }, h("ol", null, h("li", null, h("a", { href: "#/" }, t("nav.home"))), h("li", { "aria-current": "page" }, t("catalog.heading")))),
      heading,
      h("div", { class: "catalog" }, panel, h("section", { "aria-labelledby": "results-title" }, h("h2", { id: "results-title", class: "visually-hidden" }, t("catalog.results")), problems, h("div", { class: "result-bar" }, count), grid, pager)),
    ),
  );

  function onFilter(e) {
    e.preventDefault();
    const data = new FormData(form);
    const next = {};
    for (const name of ["categoria", "q", "ordem"]) next[name] = String(data.get(name) || "").trim();
    for (const name of ["min", "max"]) {
      const raw = String(data.get(name) || "").trim();
      next[name] = raw && parseMoney(raw) !== null ? moneyInput(parseMoney(raw)) : "";
    }
    if (next.ordem === "newest") delete next.ordem;
    go(link("catalogo", next));
  }

  const params = new URLSearchParams({ limit: String(PAGE) });
  if (filters.categoria) params.set("category", filters.categoria);
  if (filters.q) params.set("q", filters.q);
  if (filters.ordem && filters.ordem !== "newest") params.set("sort", filters.ordem);
  const minC = filters.min ? parseMoney(filters.min) : null;
  const maxC = filters.max ? parseMoney(filters.max) : null;
  if (minC !== null) params.set("min_price_centavos", String(minC));
  if (maxC !== null) params.set("max_price_centavos", String(maxC));
  if (after) params.set("after", after);

  const [cats, page] = await Promise.allSettled([get("/api/v1/categories", { auth: false }), get(`/api/v1/products?${params}`, { auth: false })]);
  if (cats.status === "fulfilled") {
    const select = category.control;
    for (const c of flatten(cats.value)) {
      select.append(h("option", { value: c.slug, selected: c.slug === filters.categoria }, `${"\u2014 ".repeat(c.depth)}${c.name}`));
    }
    const current = flatten(cats.value).find((c) => c.slug === filters.categoria);
    if (current && !filters.q) {
      heading.textContent = current.name;
      document.title = t("catalog.titleCategory", { name: current.name });
    }
  }
  if (page.status === "rejected") {
    replace(grid);
    replace(count);
    replace(problems, notice("error", errorText(page.reason)));
    return;
  }
  const { items, next } = page.value;
  replace(grid, items.map((p) => productCard(p, 3)));
  count.textContent = items.length ? t("catalog.count", { n: items.length, page: pageIndex + 1 }) : t("catalog.empty");
  const base = { ...filters, ordem: filters.ordem === "newest" ? "" : filters.ordem };
  if (pageIndex > 0) {
    pager.append(h("a", { href: link("catalogo", { ...base, after: seen[pageIndex - 1] }), rel: "prev" }, t("catalog.prev")));
  } else {
    pager.append(h("span"));
  }
  if (next) {
    pager.append(h("a", { href: link("catalogo", { ...base, after: next }), rel: "next" }, t("catalog.next")));
  }
}
