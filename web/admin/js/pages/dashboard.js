// The dashboard: today's orders and revenue, revenue per day (30 days, an SVG bar chart with
// its numbers in a table for screen readers), the cart reminders of the 30 days and the carts
// they recovered, orders by status, and the SKUs low on stock.

import { get } from "/js/api.js";
import { clientConfig } from "/js/config.js";
import { h, s, replace, notice } from "/js/dom.js";
import { t, money, statusLabel, errorText, shortDate } from "/js/i18n.js";
import { link } from "/js/router.js";

export async function render(main) {
  document.title = t("admin.dashboard.title");
  const wrap = h("div", { class: "wrap" }, h("h1", null, t("admin.dashboard.heading")), h("p", { class: "muted", role: "status" }, t("admin.loading")));
  main.append(wrap);
  let d;
  try {
    d = await get("/api/v1/admin/dashboard", { auth: "required" });
  } catch (e) {
    replace(wrap, h("h1", null, t("admin.dashboard.heading")), notice("error", errorText(e)));
    return;
  }
  const total30 = d.revenue_by_day.reduce((sum, day) => sum + day.revenue_centavos, 0);
  const payments = (await clientConfig())?.payments;
  // How NF-e are issued; a failure here leaves the rest of the dashboard alone.
  const fiscal = await get("/api/v1/admin/fiscal", { auth: "required" }).catch(() => null);
  replace(
    wrap,
    h("h1", null, t("admin.dashboard.heading")),
    payments ? paymentsNotice(payments) : null,
    fiscal ? fiscalNotice(fiscal) : null,
    h("p", { class: "muted" }, t("admin.dashboard.timezone", { date: shortDate(d.today.date) })),
    h(
      "ul",
      { class: "stats" },
      h("li", null, t("admin.dashboard.ordersToday"), h("span", { class: "value", "data-testid": "orders-today" }, String(d.today.orders))),
      h("li", null, t("admin.dashboard.revenueToday"), h("span", { class: "value", "data-testid": "revenue-today" }, money(d.today.revenue_centavos))),
      h("li", null, t("admin.dashboard.paidToday"), h("span", { class: "value" }, String(d.today.paid_orders))),
      h("li", null, t("admin.dashboard.revenue30"), h("span", { class: "value" }, money(total30))),
      h("li", null, t("admin.dashboard.remindersSent"), h("span", { class: "value", "data-testid": "cart-reminders-sent" }, String(d.cart_reminders_sent))),
      h("li", null, t("admin.dashboard.cartsRecovered"), h("span", { class: "value", "data-testid": "carts-recovered" }, String(d.carts_recovered))),
    ),
    h("p", { class: "muted" }, t("admin.dashboard.recoveredNote")),
    h("section", { class: "panel", "aria-labelledby": "chart-title" }, h("h2", { id: "chart-title" }, t("admin.dashboard.chart")), chart(d.revenue_by_day), dataTable(d.revenue_by_day)),
    h(
      "div",
      { class: "panels" },
      h(
        "section",
        { class: "panel", "aria-labelledby": "status-title" },
        h("h2", { id: "status-title" }, t("admin.dashboard.byStatus")),
        h(
          "ul",
          { class: "lines" },
          d.orders_by_status.map((row) => h("li", { class: "status-row" }, h("a", { href: link("pedidos", { status: row.status }) }, statusLabel(row.status)), h("strong", null, String(row.count)))),
        ),
      ),
      h(
        "section",
        { class: "panel", "aria-labelledby": "low-title" },
        h("h2", { id: "low-title" }, t("admin.dashboard.lowStock", { n: d.low_stock_threshold })),
        d.low_stock.length
          ? h(
              "div",
              { class: "table-wrap" },
              h(
                "table",
                null,
                h("thead", null, h("tr", null, h("th", { scope: "col" }, "SKU"), h("th", { scope: "col" }, t("admin.product")), h("th", { scope: "col", class: "num" }, t("admin.stock.available")))),
                h(
                  "tbody",
                  null,
                  d.low_stock.map((l) =>
                    h("tr", null, h("td", null, l.sku), h("td", null, l.product_id ? h("a", { href: link("produtos", l.product_id) }, l.product_name || l.sku) : l.product_name || "—"), h("td", { class: "num" }, String(l.available))),
                  ),
                ),
              ),
            )
          : h("p", null, t("admin.dashboard.noLowStock")),
      ),
    ),
  );
}

function chart(days) {
  const W = 600;
  const H = 200;
  const pad = { top: 10, right: 8, bottom: 24, left: 8 };
  const max = Math.max(1, ...days.map((d) => d.revenue_centavos));
  const bw = (W - pad.left - pad.right) / days.length;
  const total = days.reduce((sum, d) => sum + d.revenue_centavos, 0);
  const best = days.reduce((a, b) => (b.revenue_centavos > a.revenue_centavos ? b : a), days[0]);
  const label = t("admin.dashboard.chartLabel", { total: money(total), best: shortDate(best.date), bestValue: money(best.revenue_centavos) });
  return s(
    "svg",
    { class: "chart", viewBox: `0 0 ${W} ${H}`, role: "img", "aria-label": label, preserveAspectRatio: "none" },
    s("line", { class: "axis", x1: pad.left, x2: W - pad.right, y1: H - pad.bottom, y2: H - pad.bottom }),
    days.map((d, i) => {
      const bh = ((H - pad.top - pad.bottom) * d.revenue_centavos) / max;
      return s(
        "rect",
        { class: "bar", x: pad.left + i * bw + 1, y: H - pad.bottom - bh, width: Math.max(1, bw - 2), height: Math.max(0, bh) },
        s("title", null, `${shortDate(d.date)}: ${money(d.revenue_centavos)}`),
      );
    }),
    [0, days.length - 1].map((i) => s("text", { x: pad.left + i * bw + (i ? bw : 0), y: H - 6, "text-anchor": i ? "end" : "start" }, shortDate(days[i].date))),
  );
}

function dataTable(days) {
  return h(
    "details",
    null,
    h("summary", null, t("admin.dashboard.chartData")),
    h(
      "div",
      { class: "table-wrap" },
      h(
        "table",
        null,
        h("thead", null, h("tr", null, h("th", { scope: "col" }, t("admin.date")), h("th", { scope: "col", class: "num" }, t("admin.dashboard.orders")), h("th", { scope: "col", class: "num" }, t("admin.dashboard.paid")), h("th", { scope: "col", class: "num" }, t("admin.dashboard.revenue")))),
        h(
          "tbody",
          null,
          days
            .slice()
            .reverse()
            .map((d) => h("tr", null, h("td", null, shortDate(d.date)), h("td", { class: "num" }, String(d.orders)), h("td", { class: "num" }, String(d.paid_orders)), h("td", { class: "num" }, money(d.revenue_centavos)))),
        ),
      ),
    ),
  );
}

// How NF-e are issued: in demo mode, that the built-in SEFAZ simulator authorises them (no
// legal value); in contingency, since when and why.
function fiscalNotice(fiscal) {
  if (fiscal.contingency) {
    return h("div", { class: "notice warn", role: "note", "data-testid": "fiscal-contingency" }, h("strong", null, t("admin.fiscal.contingency", { since: shortDate(fiscal.contingency.since) })), " ", fiscal.contingency.reason);
  }
  if (fiscal.authority === "sefaz-simulator") {
    return h("div", { class: "notice warn", role: "note", "data-testid": "fiscal-demo" }, h("strong", null, t("admin.fiscal.demo")));
  }
  if (fiscal.authority === "signed-not-transmitted") {
    return h("p", { class: "muted", "data-testid": "fiscal-not-transmitted" }, t("admin.fiscal.notTransmitted"));
  }
  if (fiscal.environment === "homologation") {
    return h("p", { class: "muted", "data-testid": "fiscal-homologation" }, t("admin.fiscal.homologation"));
  }
  return null;
}

// Who takes each payment method, and, in demo mode, that no payment is charged.
function paymentsNotice(payments) {
  const methods = payments.methods.map((m) => `${t(`admin.payments.method.${m}`)}: ${payments.providers[m]}`);
  const text = methods.length ? methods.join(" · ") : t("admin.payments.none");
  if (payments.sandbox) {
    return h("div", { class: "notice warn", role: "note", "data-testid": "demo-mode" }, h("strong", null, t("admin.payments.demo")), " ", text);
  }
  return h("p", { class: "muted", "data-testid": "payment-providers" }, t("admin.payments.providers"), " ", text);
}
