// Customers: the list, newest first, and the search by name, e-mail, CPF/CNPJ or phone (`q`, in
// the route's query string; cursor pages); one customer's page — profile, saved addresses and
// their orders, pages of them, each linking to the order. GET /api/v1/admin/customers,
// …/customers/{sub} and /admin/orders?customer={sub} (docs/api.md, "Order search and customers").

import { get, post, download } from "/js/api.js";
import { h, replace, notice, field, busy, showFieldErrors } from "/js/dom.js";
import { t, date, errorText } from "/js/i18n.js";
import { link, go } from "/js/router.js";
import { pager, maskTaxId, maskPhone, maskCep } from "../lists.js";
import { ordersTable } from "./orders.js";

const PAGE = 25;
const ORDERS_PAGE = 10;

export async function render(main, route, ctx, sub) {
  if (sub) return profile(main, route, sub);
  return list(main, route);
}

// ---------------------------------------------------------------- the list and the search

async function list(main, route) {
  const q = (route.query.get("q") || "").trim();
  const after = route.query.get("after") || "";
  document.title = t("admin.customers.title");
  const search = field({ label: t("admin.customers.search"), name: "q", type: "search", value: q, hint: t("admin.customers.searchHint"), autocomplete: "off" });
  const form = h(
    "form",
    {
      class: "inline-form",
      role: "search",
      on: {
        submit: (e) => {
          e.preventDefault();
          go(link("clientes", { q: search.control.value.trim() }));
        },
      },
    },
    search,
    h("button", { type: "submit", class: "secondary" }, t("search.button")),
  );
  const body = h("div", null, h("p", { class: "muted", role: "status" }, t("admin.loading")));
  main.append(h("div", { class: "wrap" }, h("h1", null, t("admin.customers.heading")), form, q ? h("p", null, h("a", { href: link("clientes") }, t("admin.customers.all"))) : null, body));

  const params = new URLSearchParams({ limit: String(PAGE) });
  if (q) params.set("q", q);
  if (after) params.set("after", after);
  let page;
  try {
    page = await get(`/api/v1/admin/customers?${params}`, { auth: "required" });
  } catch (e) {
    if (e.type === "validation") {
      // A refused `q` is said beside the search box; anything else in the message.
      const errors = e.problem.errors || [];
      const rest = showFieldErrors(form, errors);
      replace(body, notice("error", rest.length || !errors.length ? errorText(e) : t("error.fields")));
    } else {
      replace(body, notice("error", errorText(e)));
    }
    if (after) body.append(h("p", null, h("a", { href: link("clientes", { q }) }, t("admin.pages.first"))));
    return;
  }
  const nav = pager({ key: `clientes ${q}`, after, next: page.next, href: (a) => link("clientes", { q, after: a }), label: t("admin.customers.pages") });
  if (!page.items.length) {
    const text = page.next ? t("admin.customers.emptyPage") : q ? t("admin.customers.none", { q }) : t("admin.customers.noneYet");
    replace(body, h("p", { "data-testid": "customers-empty" }, text), nav);
    return;
  }
  replace(
    body,
    h(
      "div",
      { class: "table-wrap" },
      h(
        "table",
        null,
        h("caption", { class: "visually-hidden" }, q ? t("admin.customers.captionFound", { q }) : t("admin.customers.caption")),
        h(
          "thead",
          null,
          h(
            "tr",
            null,
            h("th", { scope: "col" }, t("admin.customers.name")),
            h("th", { scope: "col" }, t("auth.email")),
            h("th", { scope: "col" }, t("checkout.taxId")),
            h("th", { scope: "col" }, t("admin.customers.phone")),
            h("th", { scope: "col" }, t("admin.customers.since")),
          ),
        ),
        h(
          "tbody",
          null,
          page.items.map((c) =>
            h(
              "tr",
              { "data-customer": c.sub },
              h("td", null, h("a", { href: link("clientes", c.sub) }, c.name || c.email || c.sub)),
              h("td", null, c.email || "—"),
              h("td", null, c.tax_id ? maskTaxId(c.tax_id) : "—"),
              h("td", null, c.phone ? maskPhone(c.phone) : "—"),
              h("td", null, c.created_at ? date(c.created_at) : "—"),
            ),
          ),
        ),
      ),
    ),
    nav,
  );
}

// ---------------------------------------------------------------- one customer

async function profile(main, route, sub) {
  const after = route.query.get("after") || "";
  document.title = t("admin.customers.detailTitle");
  const wrap = h("div", { class: "wrap" }, h("h1", null, t("admin.customers.detailHeading")), h("p", { class: "muted", role: "status" }, t("admin.loading")));
  main.append(wrap);
  const params = new URLSearchParams({ customer: sub, limit: String(ORDERS_PAGE) });
  if (after) params.set("after", after);
  const [customer, orders] = await Promise.allSettled([
    get(`/api/v1/admin/customers/${encodeURIComponent(sub)}`, { auth: "required" }),
    get(`/api/v1/admin/orders?${params}`, { auth: "required" }),
  ]);
  const crumbs = (here) =>
    h("nav", { class: "breadcrumbs", "aria-label": t("nav.breadcrumbs") }, h("ol", null, h("li", null, h("a", { href: link("clientes") }, t("admin.customers.heading"))), h("li", { "aria-current": "page" }, here)));
  if (customer.status === "rejected") {
    replace(wrap, crumbs(t("admin.customers.detailHeading")), h("h1", null, t("admin.customers.detailHeading")), notice("error", errorText(customer.reason)));
    return;
  }
  const c = customer.value;
  const name = c.name || c.email || sub;
  document.title = t("admin.customers.namedTitle", { name });

  const addresses = Array.isArray(c.addresses) ? c.addresses : [];
  const ordersBox = h("section", { class: "panel", "aria-labelledby": "customer-orders" }, h("h2", { id: "customer-orders" }, t("admin.customers.orders")));
  if (orders.status === "rejected") {
    ordersBox.append(notice("error", errorText(orders.reason)));
    if (after) ordersBox.append(h("p", null, h("a", { href: link("clientes", sub) }, t("admin.pages.first"))));
  } else {
    const page = orders.value;
    const nav = pager({ key: `cliente ${sub}`, after, next: page.next, href: (a) => link("clientes", sub, { after: a }), label: t("admin.customers.orderPages") });
    if (page.items.length) {
      ordersBox.append(ordersTable(page.items, t("admin.customers.ordersOf", { name })));
    } else {
      ordersBox.append(h("p", { "data-testid": "customer-orders-empty" }, page.next ? t("admin.orders.search.emptyPage") : t("admin.customers.noOrders")));
    }
    if (nav) ordersBox.append(nav);
    ordersBox.append(h("p", null, h("a", { href: link("pedidos", { customer: sub }) }, t("admin.customers.searchOrders"))));
  }

  replace(
    wrap,
    crumbs(name),
    h("h1", null, name),
    h(
      "div",
      { class: "stack" },
      h(
        "div",
        { class: "two-cols" },
        h(
          "section",
          { class: "panel", "aria-labelledby": "customer-profile" },
          h("h2", { id: "customer-profile" }, t("admin.customers.profile")),
          h(
            "dl",
            { class: "pairs", "data-testid": "customer-profile" },
            pair(t("admin.customers.name"), c.name),
            pair(t("auth.email"), c.email),
            pair(t("checkout.taxId"), c.tax_id ? maskTaxId(c.tax_id) : t("admin.customers.notGiven")),
            pair(t("admin.customers.phone"), c.phone ? maskPhone(c.phone) : t("admin.customers.notGiven")),
            typeof c.sms_opt_in === "boolean" ? pair(t("admin.customers.sms"), c.sms_opt_in ? t("admin.customers.yes") : t("admin.customers.no")) : null,
            c.language ? pair(t("admin.customers.language"), c.language === "en" ? "English" : "Português") : null,
            pair(t("admin.customers.since"), c.created_at ? date(c.created_at) : null),
          ),
        ),
        h(
          "section",
          { class: "panel", "aria-labelledby": "customer-addresses" },
          h("h2", { id: "customer-addresses" }, t("admin.customers.addresses")),
          addresses.length
            ? h(
                "ul",
                { class: "lines", "data-testid": "customer-addresses" },
                addresses.map((a) =>
                  h(
                    "li",
                    { class: "address-row" },
                    h(
                      "div",
                      null,
                      h("strong", null, a.label || a.recipient),
                      a.label && a.recipient ? [h("br"), a.recipient] : null,
                      h("br"),
                      `${a.street}, ${a.number}${a.complement ? ` — ${a.complement}` : ""}`,
                      h("br"),
                      `${a.district} — ${a.city}/${a.uf} — ${maskCep(a.cep)}`,
                    ),
                  ),
                ),
              )
            : h("p", { class: "muted" }, t("admin.customers.noAddresses")),
        ),
      ),
      ordersBox,
      privacyPanel(sub),
    ),
  );
}

/** LGPD requests made to the shop: a copy of the customer's data, the erasure of their account. */
function privacyPanel(sub) {
  const message = h("div", { role: "status" });
  const exportBtn = h("button", { type: "button", class: "secondary" }, t("admin.customers.data.export"));
  exportBtn.addEventListener("click", () =>
    busy(exportBtn, async () => {
      try {
        await download(`/api/v1/admin/customers/${encodeURIComponent(sub)}/data`, `dados-${sub}.json`);
        replace(message, notice("ok", t("admin.customers.data.exported")));
      } catch (err) {
        replace(message, notice("error", errorText(err)));
      }
    }),
  );
  const confirmBox = h("input", { type: "checkbox", id: "erase-confirm" });
  const eraseBtn = h("button", { type: "button", class: "danger" }, t("admin.customers.erase.button"));
  eraseBtn.addEventListener("click", () => {
    if (!confirmBox.checked) {
      replace(message, notice("error", t("admin.customers.erase.confirmFirst")));
      return;
    }
    return busy(eraseBtn, async () => {
      try {
        const record = await post(`/api/v1/admin/customers/${encodeURIComponent(sub)}/erase`, { confirm: true }, { auth: "required" });
        replace(message, notice("ok", t("admin.customers.erase.done", { orders: record.orders })));
        eraseBtn.disabled = true;
      } catch (err) {
        replace(message, notice("error", errorText(err)));
      }
    });
  });
  return h(
    "section",
    { class: "panel", "aria-labelledby": "customer-privacy" },
    h("h2", { id: "customer-privacy" }, t("admin.customers.data.title")),
    h("p", { class: "muted" }, t("admin.customers.data.what")),
    h("div", { class: "actions" }, exportBtn),
    h("label", { class: "choice", for: "erase-confirm" }, confirmBox, t("admin.customers.erase.confirm")),
    h("div", { class: "actions" }, eraseBtn),
    message,
  );
}

/** A term of a `dl.pairs`, or nothing when there is no value. */
function pair(term, value) {
  if (value === null || value === undefined || value === "") return null;
  return h("div", null, h("dt", null, term), h("dd", null, value));
}
