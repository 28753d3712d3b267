// What the admin's searchable lists share: cursor pages (the API pages forward only, with `next`)
// and the Brazilian way of writing a CPF/CNPJ, a phone number and a CEP.

import { h } from "/js/dom.js";
import { t } from "/js/i18n.js";

// The cursor of the page before each page seen, per list and search (`key`): "previous page"
// is offered only where it is known (not after a reload in the middle of the pages), "first
// page" always.
const before = new Map();

/**
 * The pages' links of a list: first and previous (when not on the first page), the page's
 * number (when known) and next (whenever the API gave a `next` cursor, even after a page with
 * few or no items). `href(after)` makes the link of a page; `key` names the list and its search.
 */
export function pager({ key, after, next, href, label }) {
  const at = (cursor) => `${key}\n${cursor}`;
  if (next) before.set(at(next), after || "");
  let number = 1;
  let known = true;
  for (let c = after; c; c = before.get(at(c))) {
    number += 1;
    if (!before.has(at(c)) || number > 100_000) {
      known = false;
      break;
    }
  }
  const prev = after ? before.get(at(after)) : undefined;
  const links = [];
  if (after) {
    links.push(h("a", { href: href(""), "data-testid": "first-page" }, t("admin.pages.first")));
    if (prev) links.push(h("a", { href: href(prev), rel: "prev" }, t("catalog.prev")));
  }
  if (known && (after || next)) links.push(h("span", { class: "muted" }, t("admin.pages.number", { n: number })));
  if (next) links.push(h("a", { href: href(next), rel: "next" }, t("catalog.next")));
  if (!links.length) return null;
  return h("nav", { class: "pager", "aria-label": label || t("admin.pages.label") }, links);
}

/** "52998224725" → "529.982.247-25"; a 14-character CNPJ (numeric or not) → "12.ABC.345/01DE-35". */
export function maskTaxId(value) {
  const v = String(value || "").replace(/[^0-9A-Za-z]/g, "").toUpperCase();
  if (/^\d{11}$/.test(v)) return `${v.slice(0, 3)}.${v.slice(3, 6)}.${v.slice(6, 9)}-${v.slice(9)}`;
  if (/^[0-9A-Z]{12}\d{2}$/.test(v)) return `${v.slice(0, 2)}.${v.slice(2, 5)}.${v.slice(5, 8)}/${v.slice(8, 12)}-${v.slice(12)}`;
  return value || "";
}

/** "+5511987654321" → "(11) 98765-4321"; anything else as it is. */
export function maskPhone(value) {
  const d = String(value || "").replace(/\D/g, "");
  const local = d.length === 13 && d.startsWith("55") ? d.slice(2) : d;
  if (local.length === 11) return `(${local.slice(0, 2)}) ${local.slice(2, 7)}-${local.slice(7)}`;
  if (local.length === 10) return `(${local.slice(0, 2)}) ${local.slice(2, 6)}-${local.slice(6)}`;
  return value || "";
}

/** "01310100" → "01310-100" */
export function maskCep(value) {
  const d = String(value || "").replace(/\D/g, "");
  return d.length === 8 ? `${d.slice(0, 5)}-${d.slice(5)}` : value || "";
}
