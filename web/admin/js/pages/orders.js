// Orders: the search (order id, CPF/CNPJ, status, payment method, days, total; the filters kept
// in the route's query string, so back, forward and reload show the same search; cursor pages;
// the search's orders exported as CSV), and one order with the moves its status allows — mark
// paid (money received outside the providers), ship with a tracking code (once invoiced), mark
// delivered, cancel (a paid order is refunded), give back part of a paid order's money — and its
// NF-e: what happened to it (authorisation, refusal, cancellation, correction letters, voiding)
// and the fiscal moves, each confirmed in the page before it is sent; and its shipping label,
// bought from the carrier (./labels.js).

import { get, post, request } from "/js/api.js";
import { h, replace, notice, field, busy, id, showFieldErrors, clearFieldErrors } from "/js/dom.js";
import { t, money, moneyInput, dateTime, statusLabel, errorText, parseMoney, STATUSES } from "/js/i18n.js";
import { link, go } from "/js/router.js";
import { watchOrders } from "/js/realtime.js";
import { pager } from "../lists.js";
import { labelPanel } from "./labels.js";

export async function render(main, route, ctx, orderId) {
  if (orderId) return detail(main, orderId);
  return list(main, route);
}

// ---------------------------------------------------------------- the search

/**
 * The search's filters, named as GET /api/v1/admin/orders names them (docs/api.md, "Order search
 * and customers"); the route's query string holds them under the same names, totals in centavos.
 */
const FILTERS = ["id", "customer", "tax_id", "status", "method", "from", "to", "min_total_centavos", "max_total_centavos"];
const METHODS = ["pix", "card", "boleto"];
const PAGE = 25;

/** The filters of a route's query string (empty ones left out). */
function filtersOf(query) {
  const out = {};
  for (const k of FILTERS) {
    const v = (query.get(k) || "").trim();
    if (v) out[k] = v;
  }
  return out;
}

/** A payment method's name: Pix, Cartão, Boleto. */
export function methodLabel(method) {
  return METHODS.includes(method) ? t(`admin.payments.method.${method}`) : method || "—";
}

/** Centavos from the query string, as typed in a money field ("49,90"); anything else as it is. */
function amountInput(centavos) {
  return /^\d+$/.test(centavos || "") ? moneyInput(Number(centavos)) : centavos || "";
}

/** Today in São Paulo, as YYYY-MM-DD (the export's file name). */
function today() {
  return new Intl.DateTimeFormat("en-CA", { timeZone: "America/Sao_Paulo", year: "numeric", month: "2-digit", day: "2-digit" }).format(new Date());
}

async function list(main, route) {
  const filters = filtersOf(route.query);
  const after = route.query.get("after") || "";
  const searched = Object.keys(filters).length > 0;
  document.title = t("admin.orders.title");

  const f = {
    id: field({ label: t("admin.orders.search.id"), name: "id", value: filters.id, autocomplete: "off" }),
    tax_id: field({ label: t("checkout.taxId"), name: "tax_id", value: filters.tax_id, autocomplete: "off" }),
    status: field({ label: t("admin.orders.status"), name: "status", value: filters.status || "", options: [["", t("admin.orders.search.anyStatus")], ...STATUSES.map((s) => [s, statusLabel(s)])] }),
    method: field({ label: t("admin.orders.search.method"), name: "method", value: filters.method || "", options: [["", t("admin.orders.search.anyMethod")], ...METHODS.map((m) => [m, methodLabel(m)])] }),
    from: field({ label: t("admin.orders.search.from"), name: "from", type: "date", value: filters.from }),
    to: field({ label: t("admin.orders.search.to"), name: "to", type: "date", value: filters.to }),
    min: field({ label: t("admin.orders.search.minTotal"), name: "min_total", inputmode: "decimal", autocomplete: "off", value: amountInput(filters.min_total_centavos) }),
    max: field({ label: t("admin.orders.search.maxTotal"), name: "max_total", inputmode: "decimal", autocomplete: "off", value: amountInput(filters.max_total_centavos) }),
  };
  // The API's names for the fields its problems name.
  const fieldMap = {
    id: f.id.control,
    tax_id: f.tax_id.control,
    status: f.status.control,
    method: f.method.control,
    from: f.from.control,
    to: f.to.control,
    min_total_centavos: f.min.control,
    max_total_centavos: f.max.control,
  };
  const message = h("div", { "aria-live": "polite" });
  const exportMessage = h("div", { "aria-live": "polite" });
  const body = h("div", null, h("p", { class: "muted", role: "status" }, t("admin.loading")));

  const exportHintId = id("export-hint");
  const exportButton = h("button", { type: "button", class: "secondary", "aria-describedby": exportHintId }, t("admin.orders.export"));
  exportButton.addEventListener("click", () => busy(exportButton, () => exportCsv("", 1)));

  const form = h(
    "form",
    { class: "order-search", role: "search", "aria-label": t("admin.orders.search.label"), novalidate: true, on: { submit: onSearch } },
    filters.customer
      ? notice(
          "warn",
          t("admin.orders.search.ofCustomer"),
          " ",
          h("a", { href: link("clientes", filters.customer) }, t("admin.orders.search.seeCustomer")),
          " · ",
          h("a", { href: link("pedidos", { ...filters, customer: "" }) }, t("admin.orders.search.allCustomers")),
        )
      : null,
    h("div", { class: "search-grid" }, f.id, f.tax_id, f.status, f.method, f.from, f.to, f.min, f.max),
    h(
      "div",
      { class: "actions" },
      h("button", { type: "submit" }, t("admin.orders.search.submit")),
      searched ? h("a", { href: link("pedidos") }, t("admin.orders.search.clear")) : null,
      exportButton,
      h("span", { class: "hint", id: exportHintId }, t("admin.orders.exportHint")),
    ),
  );

  main.append(h("div", { class: "wrap" }, h("h1", null, t("admin.orders.heading")), form, message, exportMessage, body));

  function onSearch(e) {
    e.preventDefault();
    clearFieldErrors(form);
    replace(message);
    const next = {};
    if (filters.customer) next.customer = filters.customer;
    const idText = f.id.control.value.trim().replace(/^#/, "");
    if (idText) next.id = idText;
    for (const k of ["tax_id", "status", "method", "from", "to"]) {
      const v = f[k].control.value.trim();
      if (v) next[k] = v;
    }
    const bad = [];
    for (const [name, control] of [
      ["min_total_centavos", f.min.control],
      ["max_total_centavos", f.max.control],
    ]) {
      const text = control.value.trim();
      if (!text) continue;
      const centavos = parseMoney(text);
      if (centavos === null || centavos < 0) bad.push({ field: name, message: t("admin.orders.search.badAmount") });
      else next[name] = String(centavos);
    }
    if (bad.length) {
      showFieldErrors(form, bad, fieldMap);
      replace(message, notice("error", t("error.fields")));
      form.querySelector("[aria-invalid]")?.focus();
      return;
    }
    go(link("pedidos", next));
  }

  /** A refused search or export: its fields marked, and the reason. */
  function refused(err, where) {
    if (err.type === "validation") {
      const errors = err.problem.errors || [];
      const rest = showFieldErrors(form, errors, fieldMap);
      replace(where, notice("error", rest.length || !errors.length ? errorText(err) : t("error.fields")));
    } else {
      replace(where, notice("error", errorText(err)));
    }
  }

  /** The search's orders as CSV (all pages: up to 10,000 a file, `part` the file's number). */
  async function exportCsv(cursor, part) {
    replace(exportMessage);
    const params = new URLSearchParams(filters);
    if (cursor) params.set("after", cursor);
    const name = `pedidos-${today()}${part > 1 ? `-${part}` : ""}.csv`;
    let next;
    try {
      const res = await request(`/api/v1/admin/orders/export?${params}`, { response: "response", headers: { Accept: "text/csv, application/problem+json" }, auth: "required" });
      const blob = await res.blob();
      next = nextCursor(res.headers.get("link"));
      saveFile(blob, name);
    } catch (err) {
      refused(err, exportMessage);
      return;
    }
    let more = null;
    if (next) {
      const b = h("button", { type: "button", class: "secondary" }, t("admin.orders.exportNext", { n: part + 1 }));
      b.addEventListener("click", () => busy(b, () => exportCsv(next, part + 1)));
      more = [" ", t("admin.orders.exportMore"), " ", b];
    }
    replace(exportMessage, notice("ok", h("span", { "data-testid": "export-done" }, t("admin.orders.exported", { name })), more));
  }

  const params = new URLSearchParams(filters);
  params.set("limit", String(PAGE));
  if (after) params.set("after", after);
  let page;
  try {
    page = await get(`/api/v1/admin/orders?${params}`, { auth: "required" });
  } catch (e) {
    replace(body);
    refused(e, body);
    // A cursor the API no longer takes: the search again from its first page.
    if (after) body.append(h("p", null, h("a", { href: link("pedidos", filters) }, t("admin.pages.first"))));
    return;
  }
  const nav = pager({ key: `pedidos ${JSON.stringify(filters)}`, after, next: page.next, href: (a) => link("pedidos", { ...filters, after: a }), label: t("admin.orders.pages") });
  if (!page.items.length) {
    let text = t(searched ? "admin.orders.search.none" : "admin.orders.search.noneYet");
    if (page.next) text = t("admin.orders.search.emptyPage");
    replace(body, h("p", { "data-testid": "orders-empty" }, text), nav);
    return;
  }
  replace(body, ordersTable(page.items, t(searched ? "admin.orders.search.caption" : "admin.orders.search.captionAll")), nav);
}

/** The `after` of a `Link: <…&after=…>; rel="next"` header, or null. */
function nextCursor(header) {
  const m = /<([^>]*)>\s*;\s*rel="?next"?/i.exec(header || "");
  if (!m) return null;
  try {
    return new URL(m[1], location.href).searchParams.get("after");
  } catch {
    return null;
  }
}

/** Hand a file to the browser's downloads, named `name`. */
function saveFile(blob, name) {
  const url = URL.createObjectURL(blob);
  const a = document.createElement("a");
  a.href = url;
  a.download = name;
  a.hidden = true;
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 60_000);
}

/** A table of orders, each linking to its page (the search, a customer's orders). */
export function ordersTable(items, caption) {
  return h(
    "div",
    { class: "table-wrap" },
    h(
      "table",
      null,
      h("caption", { class: "visually-hidden" }, caption),
      h(
        "thead",
        null,
        h(
          "tr",
          null,
          h("th", { scope: "col" }, t("admin.orders.order")),
          h("th", { scope: "col" }, t("admin.orders.customer")),
          h("th", { scope: "col" }, t("admin.date")),
          h("th", { scope: "col" }, t("admin.orders.status")),
          h("th", { scope: "col" }, t("admin.orders.payment")),
          h("th", { scope: "col", class: "num" }, t("checkout.total")),
        ),
      ),
      h(
        "tbody",
        null,
        items.map((o) =>
          h(
            "tr",
            { "data-order-id": o.id },
            h("td", null, h("a", { href: link("pedidos", o.id) }, `#${o.id.slice(-8)}`)),
            h("td", null, o.shipping_address.recipient, h("br"), h("span", { class: "muted" }, `${o.shipping_address.city}/${o.shipping_address.uf}`)),
            h("td", null, dateTime(o.created_at)),
            h("td", null, h("span", { class: `badge ${o.status}` }, statusLabel(o.status))),
            h("td", null, methodLabel(o.payment_method)),
            h("td", { class: "num" }, money(o.total_centavos)),
          ),
        ),
      ),
    ),
  );
}

async function detail(main, orderId) {
  document.title = t("admin.orders.detailTitle", { id: orderId.slice(-8) });
  const wrap = h("div", { class: "wrap" }, h("h1", null, t("admin.orders.detailHeading", { id: orderId.slice(-8) })), h("p", { class: "muted", role: "status" }, t("admin.loading")));
  main.append(wrap);
  let order;
  try {
    order = await get(`/api/v1/admin/orders/${encodeURIComponent(orderId)}`, { auth: "required" });
  } catch (e) {
    replace(wrap, h("h1", null, t("error.title")), notice("error", errorText(e)));
    return;
  }
  const message = h("div", { "aria-live": "polite" });
  const badge = h("span", { class: "badge", "data-testid": "order-status" });
  const actions = h("div");
  const info = h("div");
  const invoice = invoicePanel(() => order, reload);
  const label = labelPanel(() => order, reload);

  replace(
    wrap,
    h("nav", { class: "breadcrumbs", "aria-label": t("nav.breadcrumbs") }, h("ol", null, h("li", null, h("a", { href: link("pedidos", { status: order.status }) }, t("admin.orders.heading"))), h("li", { "aria-current": "page" }, `#${order.id.slice(-8)}`))),
    h("h1", null, t("admin.orders.detailHeading", { id: order.id.slice(-8) })),
    h("p", { class: "status-line", role: "status" }, t("order.status"), " ", badge),
    message,
    h("div", { class: "two-cols" }, info, h("section", { class: "panel", "aria-labelledby": "moves-title" }, h("h2", { id: "moves-title" }, t("admin.orders.moves")), actions), invoice.el, label.el),
  );

  function show(o) {
    order = o;
    badge.className = `badge ${o.status}`;
    badge.textContent = statusLabel(o.status);
    badge.dataset.status = o.status;
    const a = o.shipping_address;
    replace(
      info,
      h(
        "section",
        { "aria-labelledby": "items-title" },
        h("h2", { id: "items-title" }, t("order.items")),
        h(
          "div",
          { class: "table-wrap" },
          h(
            "table",
            null,
            h("thead", null, h("tr", null, h("th", { scope: "col" }, "SKU"), h("th", { scope: "col" }, t("order.product")), h("th", { scope: "col", class: "num" }, t("order.qty")), h("th", { scope: "col", class: "num" }, t("order.lineTotal")))),
            h("tbody", null, o.lines.map((l) => h("tr", null, h("td", null, l.sku), h("td", null, l.name), h("td", { class: "num" }, String(l.quantity)), h("td", { class: "num" }, money(l.line_total_centavos))))),
          ),
        ),
        h(
          "dl",
          { class: "pairs" },
          h("div", null, h("dt", null, t("cart.subtotal")), h("dd", null, money(o.subtotal_centavos))),
          h("div", null, h("dt", null, t("order.discount", { code: o.coupon || "" })), h("dd", null, money(o.discount_centavos))),
          h("div", null, h("dt", null, t("order.shipping", { name: o.shipping_name })), h("dd", null, money(o.shipping_centavos))),
          h("div", null, h("dt", null, t("checkout.total")), h("dd", null, money(o.total_centavos))),
          h("div", null, h("dt", null, t("admin.orders.payment")), h("dd", null, o.payment_method === "pix" ? "Pix" : o.payment_method === "boleto" ? "Boleto" : t("checkout.card"))),
          h("div", null, h("dt", null, t("admin.orders.provider")), h("dd", { "data-testid": "payment-provider" }, o.payment_provider || "—")),
          h("div", null, h("dt", null, t("admin.orders.customer")), h("dd", null, h("a", { href: link("clientes", o.customer_id), "data-testid": "order-customer" }, t("admin.orders.seeCustomer")))),
          o.tracking_code ? h("div", null, h("dt", null, t("order.tracking")), h("dd", { "data-testid": "tracking-code" }, o.tracking_code)) : null,
          o.invoice_key ? h("div", null, h("dt", null, t("order.invoice")), h("dd", null, groupedKey(o.invoice_key))) : null,
        ),
        h("h2", null, t("order.deliverTo")),
        h("p", null, a.recipient, h("br"), `${a.street}, ${a.number}${a.complement ? ` — ${a.complement}` : ""}`, h("br"), `${a.district} — ${a.city}/${a.uf} — ${a.cep}`),
        h("h2", null, t("order.history")),
        h("ol", { class: "timeline" }, o.history.map((c) => h("li", null, h("strong", null, statusLabel(c.status)), " — ", dateTime(c.at), c.note ? h("span", null, " — ", c.note) : null))),
        returnsPanel(o),
      ),
    );
    showActions(o);
    invoice.refresh();
    label.refresh();
  }

  function move(path, bodyOf, button) {
    return async (e) => {
      e.preventDefault();
      replace(message);
      await busy(button, async () => {
        try {
          const o = await post(`/api/v1/admin/orders/${encodeURIComponent(order.id)}/${path}`, bodyOf(), { auth: "required", headers: { "If-Match": `"${order.version}"` } });
          show(o);
          replace(message, notice("ok", t("admin.orders.moved", { status: statusLabel(o.status) })));
        } catch (err) {
          if (err.status === 412) {
            replace(message, notice("error", h("strong", null, t("admin.conflict.title")), " ", t("admin.conflict.orderText"), " ", h("button", { type: "button", class: "secondary", on: { click: reload } }, t("admin.conflict.reload"))));
          } else {
            replace(message, notice("error", errorText(err)));
          }
        }
      });
    };
  }

  // Returns (withdrawal, CDC art. 49): each with its steps and the entry NF-e's data.
  function returnsPanel(o) {
    if (!o.returns || !o.returns.length) return null;
    return h(
      "section",
      { "aria-labelledby": "returns-title", "data-testid": "admin-returns" },
      h("h2", { id: "returns-title" }, t("admin.returns.panel")),
      o.returns.map((r) => returnView(o, r)),
    );
  }

  function returnView(o, r) {
    const step = (path, bodyOf, button) => async (e) => {
      e.preventDefault();
      replace(message);
      await busy(button, async () => {
        try {
          const updated = await post(`/api/v1/admin/orders/${encodeURIComponent(o.id)}/returns/${encodeURIComponent(r.id)}/${path}`, bodyOf(), { auth: "required", headers: { "If-Match": `"${order.version}"` } });
          show(updated);
          const now = updated.returns.find((x) => x.id === r.id);
          replace(message, notice("ok", t("admin.returns.done", { status: t(`admin.returns.s.${now.status}`) })));
        } catch (err) {
          if (err.status === 412) {
            replace(message, notice("error", h("strong", null, t("admin.conflict.title")), " ", t("admin.conflict.orderText"), " ", h("button", { type: "button", class: "secondary", on: { click: reload } }, t("admin.conflict.reload"))));
          } else {
            replace(message, notice("error", errorText(err)));
          }
        }
      });
    };
    const forms = [];
    if (r.status === "requested") {
      const b = h("button", { type: "submit", "data-testid": "return-receive" }, t("admin.returns.receive"));
      forms.push(h("form", { on: { submit: step("receive", () => ({}), b) } }, h("p", { class: "muted" }, t("admin.returns.receiveHint")), h("div", { class: "actions" }, b)));
    }
    if (r.status === "received") {
      const b = h("button", { type: "submit", "data-testid": "return-approve" }, t("admin.returns.approve", { amount: money(r.amount_centavos) }));
      forms.push(h("form", { on: { submit: step("approve", () => ({}), b) } }, h("div", { class: "actions" }, b)));
    }
    if (r.status === "requested" || r.status === "received") {
      const reason = field({ label: t("admin.returns.refuseReason"), name: `refuse-${r.id}`, required: true, maxlength: 500 });
      const b = h("button", { type: "submit", class: "danger", "data-testid": "return-refuse" }, t("admin.returns.refuse"));
      forms.push(h("form", { on: { submit: step("refuse", () => ({ reason: reason.control.value.trim() }), b) } }, reason, h("div", { class: "actions" }, b)));
    }
    const f = r.fiscal;
    return h(
      "article",
      { class: "panel", "data-testid": "admin-return", "data-status": r.status },
      h("h3", null, `${dateTime(r.requested_at)} — `, h("span", { class: `badge ${r.status}`, "data-testid": "admin-return-status" }, t(`admin.returns.s.${r.status}`)), " — ", h("span", { "data-testid": "admin-return-amount" }, money(r.amount_centavos))),
      h("p", null, t("admin.returns.reason", { reason: r.reason })),
      r.refusal ? h("p", null, t("admin.returns.refusal", { reason: r.refusal })) : null,
      forms,
      h("h4", null, t("admin.returns.fiscal")),
      h(
        "dl",
        { class: "pairs", "data-testid": "return-fiscal" },
        h("div", null, h("dt", null, t("admin.returns.fiscalKey")), h("dd", { "data-testid": "return-fiscal-key" }, f.original_invoice_key ? groupedKey(f.original_invoice_key) : t("admin.returns.fiscalNone"))),
        h("div", null, h("dt", null, t("admin.returns.fiscalReceived")), h("dd", null, f.received_at ? dateTime(f.received_at) : t("admin.returns.fiscalNone"))),
        f.shipping_centavos ? h("div", null, h("dt", null, t("admin.returns.shipping")), h("dd", null, money(f.shipping_centavos))) : null,
      ),
      h(
        "div",
        { class: "table-wrap" },
        h(
          "table",
          null,
          h("thead", null, h("tr", null, h("th", { scope: "col" }, "SKU"), h("th", { scope: "col" }, t("admin.returns.ncm")), h("th", { scope: "col" }, t("admin.returns.cfop")), h("th", { scope: "col", class: "num" }, t("admin.returns.qty")), h("th", { scope: "col", class: "num" }, t("admin.returns.value")))),
          h("tbody", null, f.lines.map((l) => h("tr", null, h("td", null, l.sku), h("td", null, l.ncm), h("td", null, l.cfop), h("td", { class: "num" }, String(l.quantity)), h("td", { class: "num" }, money(l.value_centavos))))),
        ),
      ),
      h("p", { class: "muted" }, t("admin.returns.fiscalNote")),
    );
  }

  async function reload() {
    try {
      show(await get(`/api/v1/admin/orders/${encodeURIComponent(order.id)}`, { auth: "required" }));
      replace(message);
    } catch (e) {
      replace(message, notice("error", errorText(e)));
    }
  }

  function showActions(o) {
    const forms = [];
    if (o.status === "pending_payment" || o.status === "payment_failed") {
      const ref = field({ label: t("admin.orders.reference"), name: "reference", required: true, hint: t("admin.orders.referenceHint") });
      const b = h("button", { type: "submit" }, t("admin.orders.markPaid"));
      forms.push(h("form", { on: { submit: move("mark-paid", () => ({ reference: ref.control.value.trim() }), b) } }, h("h3", null, t("admin.orders.markPaidTitle")), ref, h("div", { class: "actions" }, b)));
    }
    if (o.status === "invoiced") {
      const code = field({ label: t("admin.orders.trackingCode"), name: "tracking_code", required: true, placeholder: "BR123456789BR", autocomplete: "off" });
      const b = h("button", { type: "submit" }, t("admin.orders.ship"));
      forms.push(h("form", { on: { submit: move("ship", () => ({ tracking_code: code.control.value.trim() }), b) } }, h("h3", null, t("admin.orders.shipTitle")), code, h("div", { class: "actions" }, b)));
    } else if (o.status === "paid") {
      forms.push(h("p", { class: "muted" }, t("admin.orders.waitInvoice")));
    }
    if (o.status === "shipped") {
      const b = h("button", { type: "submit" }, t("admin.orders.deliver"));
      forms.push(h("form", { on: { submit: move("deliver", () => undefined, b) } }, h("h3", null, t("admin.orders.deliverTitle")), h("div", { class: "actions" }, b)));
    }
    if (["pending_payment", "payment_failed", "paid"].includes(o.status)) {
      const reason = field({ label: t("admin.orders.reason"), name: "reason", required: true });
      const b = h("button", { type: "submit", class: "danger" }, o.status === "paid" ? t("admin.orders.refund") : t("admin.orders.cancel"));
      forms.push(
        h(
          "form",
          { on: { submit: move("cancel", () => ({ reason: reason.control.value.trim() }), b) } },
          h("h3", null, o.status === "paid" ? t("admin.orders.refundTitle") : t("admin.orders.cancelTitle")),
          o.status === "paid" ? h("p", { class: "muted" }, t("admin.orders.refundText")) : null,
          reason,
          h("div", { class: "actions" }, b),
        ),
      );
    }
    if (["paid", "invoiced", "shipped", "delivered"].includes(o.status)) {
      const amount = field({ label: t("admin.orders.partialAmount"), name: "amount", inputmode: "decimal", required: true, autocomplete: "off" });
      const reason = field({ label: t("admin.orders.reason"), name: "reason", required: true });
      const b = h("button", { type: "submit", class: "secondary" }, t("admin.orders.partial"));
      const submit = async (e) => {
        e.preventDefault();
        replace(message);
        const centavos = parseMoney(amount.control.value);
        if (!centavos || centavos <= 0) {
          replace(message, notice("error", t("admin.orders.partialBadAmount")));
          return;
        }
        await busy(b, async () => {
          try {
            await post(`/api/v1/admin/orders/${encodeURIComponent(order.id)}/refunds`, { amount_centavos: centavos, reason: reason.control.value.trim() }, { auth: "required" });
            replace(message, notice("ok", t("admin.orders.partialAsked", { amount: money(centavos) })));
            amount.control.value = "";
          } catch (err) {
            replace(message, notice("error", errorText(err)));
          }
        });
      };
      forms.push(h("form", { on: { submit } }, h("h3", null, t("admin.orders.partialTitle")), h("p", { class: "muted" }, t("admin.orders.partialText")), amount, reason, h("div", { class: "actions" }, b)));
    }
    if (!forms.length) forms.push(h("p", { class: "muted" }, t("admin.orders.noMoves")));
    replace(actions, forms);
  }

  show(order);
  // Status changes made elsewhere (payment webhook, invoice issuer, another admin) show live.
  const stop = watchOrders((msg) => {
    if (msg.order_id !== order.id) return;
    if (msg.status !== order.status) reload();
    // A return's step leaves the status as it is: show the order anew, keeping any message.
    else if (String(msg.event_type || "").startsWith("order.return")) {
      get(`/api/v1/admin/orders/${encodeURIComponent(order.id)}`, { auth: "required" })
        .then((o) => {
          if (o.version > order.version) show(o);
        })
        .catch(() => {});
    }
  });
  return stop;
}

// ----- the NF-e -----

/** The NF-e's situation, in words: issued (authorised, or signed and not sent), cancelled… */
function invoiceState(inv) {
  if (inv.status === "voided") return t("admin.nfe.state.voided");
  if (inv.cancelled) return t("admin.nfe.state.cancelled");
  if (inv.status === "numbered") return t("admin.nfe.state.numbered");
  if (inv.transmission === "authorized") return t("admin.nfe.state.authorized");
  if (inv.transmission === "signed-not-transmitted") return t("admin.nfe.state.signed");
  return t("admin.nfe.state.issued");
}

/** The access key in groups of four digits, as the DANFE prints it (and so it can wrap). */
function groupedKey(key) {
  return (key || "").replace(/(\d{4})(?=\d)/g, "$1 ");
}

/** A term of a `dl.pairs`, or nothing when there is no value. */
function pair(term, value, testId) {
  if (value === null || value === undefined || value === "") return null;
  return h("div", null, h("dt", null, term), h("dd", { "data-testid": testId }, value));
}

/**
 * A cancellation, a correction letter or a voiding: its text, who asked and when, and SEFAZ's
 * registration (or that it is awaited, or that it was recorded in the store alone).
 */
function fiscalEvent(ev, textLabel, testId) {
  const registration = ev.protocol || (ev.registered ? t("admin.nfe.storeOnly") : t("admin.nfe.awaiting"));
  return h(
    "div",
    { "data-testid": testId },
    h("p", null, h("span", { class: "muted" }, textLabel, ": "), ev.text),
    h(
      "dl",
      { class: "pairs" },
      pair(t("admin.nfe.requestedBy"), ev.by),
      pair(t("admin.nfe.requestedAt"), dateTime(ev.requested_at)),
      pair(t("admin.nfe.eventProtocol"), registration, `${testId}-protocol`),
      pair(t("admin.nfe.registeredAt"), dateTime(ev.registered_at)),
    ),
  );
}

/**
 * The order's NF-e panel: its record, then the moves it allows. `current()` is the order as the
 * page shows it; `reload()` re-renders the whole order page (a cancelled NF-e cancels the order).
 */
function invoicePanel(current, reload) {
  const details = h("div", null, h("p", { class: "muted", role: "status" }, t("admin.loading")));
  const message = h("div", { "aria-live": "polite" });
  const forms = h("div");
  const el = h("section", { class: "panel", "aria-labelledby": "nfe-title", "data-testid": "nfe" }, h("h2", { id: "nfe-title" }, t("admin.nfe.heading")), details, message, forms);
  let asked = 0;

  async function refresh() {
    const order = current();
    const mine = ++asked;
    // An NF-e number is taken only for a paid order: one never paid has none to ask for.
    if (!order.history.some((c) => c.status === "paid") && !["paid", "invoiced", "shipped", "delivered"].includes(order.status)) {
      replace(forms);
      replace(details, h("p", { class: "muted" }, t("admin.nfe.none")));
      return;
    }
    let inv;
    try {
      inv = await get(`/api/v1/admin/orders/${encodeURIComponent(order.id)}/invoice`, { auth: "required" });
    } catch (e) {
      if (mine !== asked) return;
      replace(forms);
      replace(details, e.status === 404 ? h("p", { class: "muted" }, t("admin.nfe.none")) : notice("error", errorText(e)));
      return;
    }
    // Only the answer to the latest question is shown (the page reloads on live updates too).
    if (mine !== asked) return;
    show(inv, order);
  }

  function show(inv, order) {
    const last = inv.corrections[inv.corrections.length - 1];
    replace(
      details,
      h(
        "dl",
        { class: "pairs" },
        pair(t("admin.nfe.number"), t("admin.nfe.numberValue", { number: inv.number, series: inv.series })),
        pair(t("admin.nfe.environment"), inv.environment === "production" ? t("admin.nfe.production") : t("admin.nfe.homologation")),
        pair(t("admin.nfe.key"), groupedKey(inv.access_key)),
        pair(t("admin.nfe.state"), invoiceState(inv), "nfe-state"),
        inv.status === "issued" ? pair(t("admin.nfe.issuedAt"), dateTime(inv.issued_at)) : null,
        pair(t("admin.nfe.protocol"), inv.protocol, "nfe-protocol"),
        pair(t("admin.nfe.authorizedAt"), dateTime(inv.authorized_at)),
      ),
      inv.rejection ? notice("warn", t("admin.nfe.rejection", { at: dateTime(inv.rejection.at), code: inv.rejection.code, reason: inv.rejection.reason })) : null,
      inv.cancellation ? [h("h3", null, t("admin.nfe.cancellation")), fiscalEvent(inv.cancellation, t("admin.nfe.justification"), "nfe-cancellation")] : null,
      inv.corrections.length
        ? [
            h("h3", null, t("admin.nfe.corrections")),
            h(
              "ol",
              { class: "timeline" },
              inv.corrections.map((c) =>
                h("li", null, h("strong", null, t("admin.nfe.correctionN", { n: c.sequence })), c === last && c.registered ? [" — ", t("admin.nfe.inForce")] : null, fiscalEvent(c, t("admin.nfe.correction"), `nfe-correction-${c.sequence}`)),
              ),
            ),
          ]
        : null,
      inv.voiding ? [h("h3", null, t("admin.nfe.voiding")), fiscalEvent(inv.voiding, t("admin.nfe.justification"), "nfe-voiding")] : null,
    );
    replace(forms, moves(inv, order, last));
  }

  /** The forms the NF-e allows now, each with what it does and why it may not be there. */
  function moves(inv, order, last) {
    const out = [];
    const path = (move) => `/api/v1/admin/orders/${encodeURIComponent(order.id)}/invoice/${move}`;
    if (inv.status === "issued" && !inv.cancellation) {
      // A letter for an NF-e SEFAZ never authorised is refused: the form stays, with a warning,
      // so that the store's reason is shown when it is tried.
      const pending = last && !last.registered ? last : null;
      const next = pending ? pending.sequence : inv.corrections.length + 1;
      out.push(
        confirmedForm({
          title: t("admin.nfe.correctionTitle"),
          texts: [t("admin.nfe.correctionText"), t("admin.nfe.correctionLimits")],
          warning: inv.protocol ? null : t("admin.nfe.correctionNotAuthorized"),
          pending,
          control: { label: t("admin.nfe.correction"), name: "correction", hint: t("admin.nfe.correctionHint"), maxlength: 1000, rows: 4 },
          button: t("admin.nfe.correct"),
          question: t("admin.nfe.correctConfirm", { n: next }),
          yes: t("admin.nfe.correctYes"),
          send: (text) => post(path("corrections"), { correction: text }, { auth: "required" }),
          done: () => t("admin.nfe.corrected", { n: next }),
        }),
      );
    }
    if (inv.status === "issued" && !inv.cancelled) {
      // An authorised NF-e has a window (`cancellable_until`); one never sent to SEFAZ is
      // cancelled in the store alone, at any time before the goods leave.
      let why = null;
      if (!["invoiced", "cancelled"].includes(order.status)) why = t("admin.nfe.cancelShipped");
      else if (inv.cancellable_until && Date.now() >= Date.parse(inv.cancellable_until)) why = t("admin.nfe.cancelClosed", { date: dateTime(inv.cancellable_until) });
      if (why) {
        out.push(h("h3", null, t("admin.nfe.cancelTitle")), h("p", { class: "muted" }, why));
      } else {
        const pending = inv.cancellation && !inv.cancellation.registered ? inv.cancellation : null;
        out.push(
          confirmedForm({
            title: t("admin.nfe.cancelTitle"),
            texts: [t("admin.nfe.cancelText"), inv.protocol ? t("admin.nfe.cancelUntil", { date: dateTime(inv.cancellable_until) }) : t("admin.nfe.cancelNotSent")],
            pending,
            control: { label: t("admin.nfe.justification"), name: "justification", hint: t("admin.nfe.justificationHint"), maxlength: 255 },
            button: t("admin.nfe.cancel"),
            danger: true,
            question: t("admin.nfe.cancelConfirm", { number: inv.number }),
            yes: t("admin.nfe.cancelYes"),
            send: (text) => post(path("cancel"), { justification: text }, { auth: "required" }),
            done: () => t("admin.nfe.cancelDone", { number: inv.number }),
          }),
        );
      }
    }
    if (inv.status === "numbered" && ["cancelled", "expired"].includes(order.status)) {
      const pending = inv.voiding && !inv.voiding.registered ? inv.voiding : null;
      const vars = { number: inv.number, series: inv.series };
      out.push(
        confirmedForm({
          title: t("admin.nfe.voidTitle"),
          texts: [t("admin.nfe.voidText", vars)],
          pending,
          control: { label: t("admin.nfe.justification"), name: "justification", hint: t("admin.nfe.justificationHint"), maxlength: 255 },
          button: t("admin.nfe.void"),
          danger: true,
          question: t("admin.nfe.voidConfirm", vars),
          yes: t("admin.nfe.voidYes"),
          send: (text) => post(path("void"), { justification: text }, { auth: "required" }),
          done: () => t("admin.nfe.voided", vars),
        }),
      );
    }
    return out;
  }

  /**
   * A fiscal move: a text and a button that first asks, in the page, to confirm (with the text
   * then read-only); confirmed, it is sent, and the order page is rendered again. A request
   * still waiting for SEFAZ (`pending`) fills the text, to be sent again as it was.
   */
  function confirmedForm(o) {
    const text = field({ ...o.control, type: "textarea", rows: o.control.rows || 3, required: true, value: o.pending ? o.pending.text : "" });
    const ask = h("button", { type: "submit", class: o.danger ? "danger" : null }, o.button);
    const yes = h("button", { type: "button", class: o.danger ? "danger" : null }, o.yes);
    const back = h("button", { type: "button", class: "secondary" }, t("admin.nfe.back"));
    const questionId = id("confirm");
    const confirm = h("div", { class: "notice warn", role: "group", "aria-labelledby": questionId, hidden: true }, h("p", { id: questionId }, h("strong", null, o.question)), h("div", { class: "actions" }, yes, back));
    const askRow = h("div", { class: "actions" }, ask);
    const said = h("div", { "aria-live": "polite" });
    const form = h(
      "form",
      null,
      h("h3", null, o.title),
      o.texts.map((x) => h("p", { class: "muted" }, x)),
      o.warning ? notice("warn", o.warning) : null,
      o.pending ? notice("warn", t("admin.nfe.pending")) : null,
      text,
      said,
      askRow,
      confirm,
    );
    const asking = (on) => {
      confirm.hidden = !on;
      askRow.hidden = on;
      text.control.readOnly = on;
    };
    form.addEventListener("submit", (e) => {
      e.preventDefault();
      replace(message);
      replace(said);
      clearFieldErrors(form);
      asking(true);
      yes.focus();
    });
    back.addEventListener("click", () => {
      asking(false);
      text.control.focus();
    });
    yes.addEventListener("click", async () => {
      await busy(yes, async () => {
        try {
          await o.send(text.control.value);
        } catch (err) {
          asking(false);
          failed(form, said, err);
          return;
        }
        // The order page again (a cancellation cancels the order), then what was done.
        await reload();
        replace(message, notice("ok", o.done()));
      });
    });
    return form;
  }

  /**
   * A refused move, said beside its form: field errors beside the text, or the reason. When a
   * request was kept (SEFAZ did not answer) or another one waits, the record is shown again, and
   * the reason above the forms.
   */
  function failed(form, said, err) {
    if (err.type === "validation") {
      const rest = showFieldErrors(form, err.problem.errors || []);
      replace(said, notice("error", rest.length ? errorText(err) : t("error.fields")));
      form.querySelector("[aria-invalid]")?.focus();
    } else if (err.status === 503 || err.status === 409) {
      replace(message, notice("error", err.status === 503 ? t("admin.nfe.unavailable") : errorText(err)));
      refresh();
    } else {
      replace(said, notice("error", errorText(err)));
    }
  }

  return { el, refresh };
}
