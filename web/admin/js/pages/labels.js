// The order page's shipping label panel, for a store whose carrier sells labels (Melhor Envio):
// "Comprar etiqueta" with the price charged at checkout, confirmed in the page before any money
// is spent; then the label's state, tracking code and "Imprimir etiqueta"; a purchase nobody
// heard the end of (the carrier did not answer, or the server stopped mid-call) shown as
// "buying since …, check the carrier's panel", with its release once allowed. The server buys at
// most one label per order whatever is clicked (docs/api.md, "Shipping labels").

import { get, post } from "/js/api.js";
import { h, replace, notice, busy, id } from "/js/dom.js";
import { t, money, dateTime, errorText } from "/js/i18n.js";

/**
 * The panel: `current()` is the order as the page shows it; `reload()` re-renders the order page
 * (a label with a tracking code ships the order).
 */
export function labelPanel(current, reload) {
  const details = h("div");
  const message = h("div", { "aria-live": "polite" });
  const el = h("section", { class: "panel", "aria-labelledby": "label-title", "data-testid": "label", hidden: true }, h("h2", { id: "label-title" }, t("admin.label.heading")), details, message);
  let asked = 0;

  async function refresh() {
    const order = current();
    const mine = ++asked;
    let view;
    try {
      view = await get(`/api/v1/admin/orders/${encodeURIComponent(order.id)}/label`, { auth: "required" });
    } catch (e) {
      if (mine !== asked) return;
      el.hidden = false;
      replace(details, notice("error", errorText(e)));
      return;
    }
    if (mine !== asked) return;
    // A store on its own rate table has no labels: the panel stays out of the way.
    el.hidden = !view.sells_labels;
    if (view.sells_labels) show(view, order);
  }

  function show(view, order) {
    const label = view.label;
    const out = [];
    if (label && label.state !== "refused") {
      out.push(
        h(
          "dl",
          { class: "pairs" },
          pair(t("admin.label.state"), t(`admin.label.state.${label.state}`), "label-state"),
          pair(t("order.tracking"), label.tracking_code, "label-tracking"),
          pair(t("admin.label.price"), label.price_centavos == null ? null : money(label.price_centavos)),
          pair(t("admin.label.boughtAt"), label.bought_at ? dateTime(label.bought_at) : null),
          pair(t("admin.label.carrierId"), label.label_id),
        ),
      );
      if (label.print_url) out.push(h("p", null, h("a", { href: label.print_url, target: "_blank", rel: "noopener", "data-testid": "label-print" }, t("admin.label.print"))));
      if (label.state === "buying") out.push(stuck(label, view.releasable, order));
      if (label.state === "failed") out.push(notice("warn", t("admin.label.failed", { note: label.note || "" })));
    } else {
      if (label && label.state === "refused") out.push(notice("warn", t("admin.label.refused", { note: label.note || "" })));
      out.push(buyForm(order));
    }
    replace(details, out);
  }

  /** A claim still held: since when, what to check, and its release when allowed. */
  function stuck(label, releasable, order) {
    const text = notice("warn", t("admin.label.buying", { at: dateTime(label.claimed_at), by: label.claimed_by }), label.note ? h("br") : null, label.note || null);
    if (!releasable) return h("div", null, text, h("p", { class: "muted" }, t("admin.label.releaseLater")));
    const release = h("button", { type: "button", class: "secondary", "data-testid": "label-release" }, t("admin.label.release"));
    release.addEventListener("click", () =>
      busy(release, async () => {
        replace(message);
        try {
          await post(`/api/v1/admin/orders/${encodeURIComponent(order.id)}/label/release`, {}, { auth: "required" });
        } catch (err) {
          replace(message, notice("error", errorText(err)));
          return;
        }
        await refresh();
        replace(message, notice("ok", t("admin.label.released")));
      }),
    );
    return h("div", null, text, h("div", { class: "actions" }, release));
  }

  /** "Comprar etiqueta": for a paid or invoiced order, confirmed in the page first. */
  function buyForm(order) {
    if (!["paid", "invoiced"].includes(order.status)) return h("p", { class: "muted" }, t("admin.label.notNow"));
    const ask = h("button", { type: "button", "data-testid": "label-buy" }, t("admin.label.buy", { price: money(order.shipping_centavos) }));
    const yes = h("button", { type: "button", "data-testid": "label-buy-yes" }, t("admin.label.buyYes"));
    const back = h("button", { type: "button", class: "secondary" }, t("admin.label.buyNo"));
    const questionId = id("label-confirm");
    const confirm = h("div", { class: "notice warn", role: "group", "aria-labelledby": questionId, hidden: true }, h("p", { id: questionId }, h("strong", null, t("admin.label.buyConfirm", { method: order.shipping_name, price: money(order.shipping_centavos) }))), h("div", { class: "actions" }, yes, back));
    const askRow = h("div", { class: "actions" }, ask);
    const asking = (on) => {
      confirm.hidden = !on;
      askRow.hidden = on;
    };
    ask.addEventListener("click", () => {
      replace(message);
      asking(true);
      yes.focus();
    });
    back.addEventListener("click", () => {
      asking(false);
      ask.focus();
    });
    yes.addEventListener("click", () =>
      busy(yes, async () => {
        let label;
        try {
          label = await post(`/api/v1/admin/orders/${encodeURIComponent(order.id)}/label`, {}, { auth: "required" });
        } catch (err) {
          asking(false);
          replace(message, notice("error", err.status === 503 ? t("admin.label.unavailable") : errorText(err)));
          await refresh();
          return;
        }
        // The order page again: a label with a tracking code shipped the order.
        await reload();
        replace(message, notice("ok", label.tracking_code ? t("admin.label.boughtShipped", { code: label.tracking_code }) : t("admin.label.bought")));
      }),
    );
    return h("div", null, h("p", { class: "muted" }, t("admin.label.text")), askRow, confirm);
  }

  return { el, refresh };
}

function pair(term, value, testId) {
  if (value === null || value === undefined || value === "") return null;
  return h("div", null, h("dt", null, term), h("dd", { "data-testid": testId }, value));
}
