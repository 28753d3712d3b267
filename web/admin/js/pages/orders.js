// Orders: the list by status (newest first, pages), and one order with the moves its status
// allows — mark paid (money received outside the providers), ship with a tracking code (once
// invoiced), mark delivered, cancel (a paid order is refunded), give back part of a paid
// order's money.

import { get, post } from "/js/api.js";
import { h, replace, notice, field, busy } from "/js/dom.js";
import { t, money, dateTime, statusLabel, errorText, parseMoney, STATUSES } from "/js/i18n.js";
import { link, go } from "/js/router.js";
import { watchOrders } from "/js/realtime.js";

export async function render(main, route, ctx, orderId) {
  if (orderId) return detail(main, orderId);
  return list(main, route);
}

async function list(main, route) {
  const status = route.query.get("status") || "paid";
  const after = route.query.get("after") || "";
  document.title = t("admin.orders.title");
  const filter = field({ label: t("admin.orders.status"), name: "status", value: status, options: STATUSES.map((s) => [s, statusLabel(s)]) });
  filter.control.addEventListener("change", () => go(link("pedidos", { status: filter.control.value })));
  const body = h("div", null, h("p", { class: "muted", role: "status" }, t("admin.loading")));
  main.append(
    h(
      "div",
      { class: "wrap" },
      h("h1", null, t("admin.orders.heading")),
      h("form", { class: "inline-form", on: { submit: (e) => { e.preventDefault(); go(link("pedidos", { status: filter.control.value })); } } }, filter, h("button", { type: "submit", class: "secondary" }, t("admin.orders.filter"))),
      body,
    ),
  );
  let page;
  try {
    page = await get(`/api/v1/admin/orders?status=${encodeURIComponent(status)}&limit=25${after ? `&after=${encodeURIComponent(after)}` : ""}`, { auth: "required" });
  } catch (e) {
    replace(body, notice("error", errorText(e)));
    return;
  }
  if (!page.items.length) {
    replace(body, h("p", null, t("admin.orders.none", { status: statusLabel(status) })));
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
        h("caption", { class: "visually-hidden" }, t("admin.orders.caption", { status: statusLabel(status) })),
        h("thead", null, h("tr", null, h("th", { scope: "col" }, t("admin.orders.order")), h("th", { scope: "col" }, t("admin.orders.customer")), h("th", { scope: "col" }, t("admin.date")), h("th", { scope: "col", class: "num" }, t("checkout.total")))),
        h(
          "tbody",
          null,
          page.items.map((o) =>
            h(
              "tr",
              null,
              h("td", null, h("a", { href: link("pedidos", o.id) }, `#${o.id.slice(-8)}`)),
              h("td", null, o.shipping_address.recipient, h("br"), h("span", { class: "muted" }, `${o.shipping_address.city}/${o.shipping_address.uf}`)),
              h("td", null, dateTime(o.created_at)),
              h("td", { class: "num" }, money(o.total_centavos)),
            ),
          ),
        ),
      ),
    ),
    page.next ? h("p", null, h("a", { href: link("pedidos", { status, after: page.next }) }, t("catalog.next"))) : null,
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

  replace(
    wrap,
    h("nav", { class: "breadcrumbs", "aria-label": t("nav.breadcrumbs") }, h("ol", null, h("li", null, h("a", { href: link("pedidos", { status: order.status }) }, t("admin.orders.heading"))), h("li", { "aria-current": "page" }, `#${order.id.slice(-8)}`))),
    h("h1", null, t("admin.orders.detailHeading", { id: order.id.slice(-8) })),
    h("p", { class: "status-line", role: "status" }, t("order.status"), " ", badge),
    message,
    h("div", { class: "two-cols" }, info, h("section", { class: "panel", "aria-labelledby": "moves-title" }, h("h2", { id: "moves-title" }, t("admin.orders.moves")), actions)),
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
          o.tracking_code ? h("div", null, h("dt", null, t("order.tracking")), h("dd", { "data-testid": "tracking-code" }, o.tracking_code)) : null,
          o.invoice_key ? h("div", null, h("dt", null, t("order.invoice")), h("dd", null, o.invoice_key)) : null,
        ),
        h("h2", null, t("order.deliverTo")),
        h("p", null, a.recipient, h("br"), `${a.street}, ${a.number}${a.complement ? ` — ${a.complement}` : ""}`, h("br"), `${a.district} — ${a.city}/${a.uf} — ${a.cep}`),
        h("h2", null, t("order.history")),
        h("ol", { class: "timeline" }, o.history.map((c) => h("li", null, h("strong", null, statusLabel(c.status)), " — ", dateTime(c.at), c.note ? h("span", null, " — ", c.note) : null))),
      ),
    );
    showActions(o);
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
    if (msg.order_id === order.id && msg.status !== order.status) reload();
  });
  return stop;
}
