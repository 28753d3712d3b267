// The catalog: category, price and text filters, sort, and cursor pagination. The filters
// live in the URL (#/catalogo?categoria=…&q=…&ordem=…&min=…&max=…&opcoes=…&after=…), so every
// page of results has its own address and the back button works.
//
// A search (a `q`) is sorted by relevance unless another order is chosen, and the API answers
// it with the total number of hits and facets: the categories, option values and price ranges
// of those hits with their counts. They are shown in the filters panel as links (categories,
// prices) and checkboxes (option values, kept in `opcoes=cor:azul,tamanho:m` and sent as the
// API's `options`: values of one option are OR-ed, different options AND-ed).

import { get } from "../api.js";
import { h, replace, notice, field } from "../dom.js";
import { t, lang, errorText, parseMoney, moneyInput, money } from "../i18n.js";
import { link, go } from "../router.js";
import { productCard, cardSkeletons } from "./parts.js";

const PAGE = 12;
const SORTS = ["newest", "price_asc", "price_desc", "name"];
// The cursors seen per query, to offer "previous page" (the API pages forward only).
const trail = new Map();

function flatten(nodes, depth = 0, out = []) {
  for (const n of nodes) {
    out.push({ ...n, depth });
    flatten(n.children || [], depth + 1, out);
  }
  return out;
}

/** "cor:azul;tamanho:m" → [{name: "cor", key: "azul"}, …], without repeats, in a stable order. */
function parseOptions(raw) {
  const pairs = [];
  for (const part of String(raw || "").split(";")) {
    const at = part.indexOf(":");
    if (at <= 0) continue;
    const name = part.slice(0, at).trim();
    const key = part.slice(at + 1).trim();
    if (!name || !key || pairs.some((p) => p.name === name && p.key === key)) continue;
    pairs.push({ name, key });
  }
  return pairs.sort((a, b) => (a.name === b.name ? (a.key < b.key ? -1 : a.key > b.key ? 1 : 0) : a.name < b.name ? -1 : 1));
}

function formatOptions(pairs) {
  return pairs.map((p) => `${p.name}:${p.key}`).join(";");
}

/** The pairs with `pair` added, or taken out when it is there. */
function toggleOption(pairs, pair) {
  const has = pairs.some((p) => p.name === pair.name && p.key === pair.key);
  return formatOptions(has ? pairs.filter((p) => !(p.name === pair.name && p.key === pair.key)) : parseOptions(formatOptions([...pairs, pair])));
}

/**
 * Whether an option value can be asked for: `options` is "name:key;name:key", so a name with a
 * colon or a semicolon, or a key with a semicolon, cannot be said in it.
 */
function expressible(name, key) {
  return !/[:;]/.test(name) && !key.includes(";");
}

/** "Até R$ 49,99", "R$ 50,00 a R$ 99,99", "A partir de R$ 500,00". */
function priceLabel(min, max) {
  if (max === null || max === undefined) return t("facet.priceFrom", { min: money(min || 0) });
  if (!min) return t("facet.priceUpTo", { max: money(max) });
  return t("facet.priceBetween", { min: money(min), max: money(max) });
}

/** The facet's categories as a tree (each category's parent is among them when it counts). */
function categoryTree(list) {
  const byId = new Map(list.map((c) => [c.id, { ...c, children: [] }]));
  const roots = [];
  for (const c of byId.values()) {
    const parent = c.parent_id ? byId.get(c.parent_id) : null;
    (parent ? parent.children : roots).push(c);
  }
  return roots;
}

export async function render(main, route) {
  const q = route.query;
  const words = (q.get("q") || "").trim();
  // A search is sorted by relevance unless asked otherwise; a listing by the newest first. The
  // default of each is left out of the URL.
  const defaultSort = words ? "relevance" : "newest";
  const sorts = words ? ["relevance", ...SORTS] : SORTS;
  const asked = q.get("ordem") || "";
  const filters = {
    categoria: q.get("categoria") || "",
    q: words,
    ordem: sorts.includes(asked) ? asked : defaultSort,
    min: q.get("min") || "",
    max: q.get("max") || "",
    // Option values narrow a search only (the API reads `options` with `q`).
    opcoes: words ? formatOptions(parseOptions(q.get("opcoes"))) : "",
  };
  const chosen = parseOptions(filters.opcoes);
  const after = q.get("after") || "";
  const key = JSON.stringify(filters);
  const seen = trail.get(key) || [""];
  trail.set(key, seen);
  if (!seen.includes(after)) seen.push(after);
  const pageIndex = seen.indexOf(after);
  // The filters as they go in a link: the default order left out; changing any filter starts
  // again at the first page.
  const base = { ...filters, ordem: filters.ordem === defaultSort ? "" : filters.ordem };
  const hrefWith = (changes) => link("catalogo", { ...base, ...changes });
  const minC = filters.min ? parseMoney(filters.min) : null;
  const maxC = filters.max ? parseMoney(filters.max) : null;

  document.title = filters.q ? t("catalog.titleSearch", { q: filters.q }) : t("catalog.title");
  const heading = h("h1", null, filters.q ? t("catalog.headingSearch", { q: filters.q }) : t("catalog.heading"));
  const grid = h("ul", { class: "cards", "aria-describedby": "catalog-count" }, cardSkeletons(8));
  const count = h("p", { id: "catalog-count", class: "muted", role: "status" }, t("catalog.loading"));
  const active = h("div");
  const pager = h("nav", { class: "pager", "aria-label": t("catalog.pages") });
  const problems = h("div");
  const facets = h("div", { class: "facets" });

  const category = field({ label: t("catalog.category"), name: "categoria", options: [["", t("catalog.allCategories")]], value: filters.categoria });
  const sortNames = { relevance: "sort.relevance", newest: "sort.newest", price_asc: "sort.priceAsc", price_desc: "sort.priceDesc", name: "sort.name" };
  const sort = field({
    label: t("catalog.sort"),
    name: "ordem",
    value: filters.ordem,
    options: sorts.map((s) => [s, t(sortNames[s])]),
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
  const anyFilter = filters.categoria || filters.min || filters.max || filters.opcoes || filters.ordem !== defaultSort;
  const panel = h(
    "aside",
    { class: "filters", "aria-labelledby": "filters-title" },
    h("details", { open: anyFilter || window.matchMedia("(min-width: 56rem)").matches }, h("summary", { id: "filters-title" }, t("catalog.filters")), facets, form),
  );
  // Sorting applies at once.
  sort.control.addEventListener("change", () => form.requestSubmit());

  main.append(
    h(
      "div",
      { class: "wrap" },
      h("nav", { class: "breadcrumbs", "aria-label": t("nav.breadcrumbs") }, h("ol", null, h("li", null, h("a", { href: "#/" }, t("nav.home"))), h("li", { "aria-current": "page" }, t("catalog.heading")))),
      heading,
      h("div", { class: "catalog" }, panel, h("section", { "aria-labelledby": "results-title" }, h("h2", { id: "results-title", class: "visually-hidden" }, t("catalog.results")), problems, h("div", { class: "result-bar" }, count), active, grid, pager)),
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
    // The option values were picked among one search's hits: other words start without them.
    next.opcoes = next.q === filters.q ? filters.opcoes : "";
    // The order shown as this page's default was not chosen: the new page gets its own default
    // (relevance for a search, newest otherwise); relevance needs words.
    const nextDefault = next.q ? "relevance" : "newest";
    if (next.ordem === defaultSort || next.ordem === nextDefault || (!next.q && next.ordem === "relevance")) delete next.ordem;
    go(link("catalogo", next));
  }

  const params = new URLSearchParams({ limit: String(PAGE) });
  if (filters.categoria) params.set("category", filters.categoria);
  if (filters.q) params.set("q", filters.q);
  if (filters.ordem !== defaultSort) params.set("sort", filters.ordem);
  if (minC !== null) params.set("min_price_centavos", String(minC));
  if (maxC !== null) params.set("max_price_centavos", String(maxC));
  if (filters.opcoes) params.set("options", filters.opcoes);
  if (after) params.set("after", after);

  const [cats, page] = await Promise.allSettled([get("/api/v1/categories", { auth: false }), get(`/api/v1/products?${params}`, { auth: false })]);
  const allCategories = cats.status === "fulfilled" ? flatten(cats.value) : [];
  if (cats.status === "fulfilled") {
    const select = category.control;
    for (const c of allCategories) {
      select.append(h("option", { value: c.slug, selected: c.slug === filters.categoria }, `${"\u2014 ".repeat(c.depth)}${c.name}`));
    }
    const current = allCategories.find((c) => c.slug === filters.categoria);
    if (current && !filters.q) {
      heading.textContent = current.name;
      document.title = t("catalog.titleCategory", { name: current.name });
    }
  }
  if (page.status === "rejected") {
    replace(grid);
    replace(count);
    replace(problems, notice("error", errorText(page.reason)));
    showActive(null);
    return;
  }
  const { items, next, total } = page.value;
  replace(grid, items.map((p) => productCard(p, 3)));
  const several = pageIndex > 0 || Boolean(next);
  if (typeof total === "number") {
    // A search: how many products it found in all, across the pages.
    count.textContent = total
      ? [t(total === 1 ? "catalog.totalOne" : "catalog.total", { n: new Intl.NumberFormat(lang()).format(total), q: filters.q }), several ? t("catalog.pageOf", { page: pageIndex + 1 }) : ""].join("")
      : t("catalog.empty");
  } else {
    count.textContent = items.length ? t("catalog.count", { n: items.length, page: pageIndex + 1 }) : t("catalog.empty");
  }
  if (page.value.facets) showFacets(page.value.facets);
  showActive(page.value.facets);
  if (pageIndex > 0) {
    pager.append(h("a", { href: link("catalogo", { ...base, after: seen[pageIndex - 1] }), rel: "prev" }, t("catalog.prev")));
  } else {
    pager.append(h("span"));
  }
  if (next) {
    pager.append(h("a", { href: link("catalogo", { ...base, after: next }), rel: "next" }, t("catalog.next")));
  }

  /** A facet entry: its name and count; the active one is marked, and its link removes it. */
  function facetLink(href, label, n, on) {
    return h(
      "a",
      { href, "aria-current": on ? "true" : null },
      h("span", { class: "facet-name" }, label),
      " ",
      h("span", { class: "count" }, `(${n})`),
      on ? h("span", { class: "visually-hidden" }, t("facet.selectedRemove")) : null,
    );
  }

  function showFacets(f) {
    const groups = [];
    const isCategory = (c) => filters.categoria === c.slug || filters.categoria === c.id;
    const categoryItems = (nodes) =>
      h(
        "ul",
        null,
        nodes.map((c) =>
          h("li", null, facetLink(hrefWith({ categoria: isCategory(c) ? "" : c.slug }), c.name, c.count, isCategory(c)), c.children.length ? categoryItems(c.children) : null),
        ),
      );
    if (f.categories?.length) {
      groups.push(h("div", { class: "facet" }, h("h2", null, t("facet.categories")), categoryItems(categoryTree(f.categories))));
    }
    for (const [i, o] of (f.options || []).entries()) {
      const values = (o.values || []).filter((v) => expressible(o.name, v.key));
      if (!values.length) continue;
      groups.push(
        h(
          "fieldset",
          { class: "facet" },
          h("legend", null, o.label || o.name),
          h(
            "ul",
            null,
            values.map((v, j) => {
              const pair = { name: o.name, key: v.key };
              const on = chosen.some((p) => p.name === pair.name && p.key === pair.key);
              const boxId = `facet-${i}-${j}`;
              return h(
                "li",
                null,
                h(
                  "label",
                  { class: "choice", for: boxId },
                  h("input", { type: "checkbox", id: boxId, checked: on, on: { change: () => go(hrefWith({ opcoes: toggleOption(chosen, pair) })) } }),
                  h("span", null, h("span", { class: "facet-name" }, v.value), " ", h("span", { class: "count" }, `(${v.count})`)),
                ),
              );
            }),
          ),
        ),
      );
    }
    if (f.prices?.length) {
      const anyPrice = Boolean(filters.min || filters.max);
      const ranges = f.prices.map((r) => {
        const on = anyPrice && (minC || 0) === (r.min_centavos || 0) && (maxC ?? null) === (r.max_centavos ?? null);
        const href = on
          ? hrefWith({ min: "", max: "" })
          : hrefWith({ min: r.min_centavos ? moneyInput(r.min_centavos) : "", max: r.max_centavos === null || r.max_centavos === undefined ? "" : moneyInput(r.max_centavos) });
        return h("li", null, facetLink(href, priceLabel(r.min_centavos, r.max_centavos), r.count, on));
      });
      groups.push(h("div", { class: "facet" }, h("h2", null, t("facet.prices")), h("ul", null, ranges)));
    }
    replace(facets, groups);
  }

  /** The filters in force, each a chip that removes it. */
  function showActive(f) {
    const chips = [];
    const chip = (href, label) => h("li", null, h("a", { href }, h("span", { class: "visually-hidden" }, t("facet.remove")), label, h("span", { "aria-hidden": "true" }, " \u00d7")));
    if (filters.categoria) {
      const c = allCategories.find((x) => x.slug === filters.categoria || x.id === filters.categoria);
      chips.push(chip(hrefWith({ categoria: "" }), c ? c.name : filters.categoria));
    }
    for (const pair of chosen) {
      const option = (f?.options || []).find((o) => o.name === pair.name);
      const shown = option?.values?.find((v) => v.key === pair.key)?.value || pair.key;
      chips.push(chip(hrefWith({ opcoes: toggleOption(chosen, pair) }), `${option?.label || pair.name}: ${shown}`));
    }
    if (minC !== null || maxC !== null) chips.push(chip(hrefWith({ min: "", max: "" }), priceLabel(minC, maxC)));
    replace(active, chips.length ? h("ul", { class: "chips active-filters", "aria-label": t("facet.active") }, chips) : null);
  }
}
