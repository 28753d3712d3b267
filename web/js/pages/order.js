// An order: its status (updated live over the WebSocket, no reload), lines and totals, the
// payment (Pix QR and "copia e cola", the boleto, or the card form with installments: the
// provider's own tokenising form when one is configured), tracking, and the
// invoice download once it is issued.

import { get, post, request, currentUser, download } from "../api.js";
import { h, replace, notice, field, busy } from "../dom.js";
import { t, money, dateTime, statusLabel, errorText } from "../i18n.js";
import { link, go } from "../router.js";
import { watchOrders } from "../realtime.js";
import { optionsText } from "./parts.js";
import { maskCep } from "./checkout.js";
import { paymentsConfig, boletoView, pendingCardView, tokenisedCardForm, copyButton } from "../payments.js";

const AWAITING = new Set(["pending_payment", "payment_failed"]);
const PAID = new Set(["paid", "invoiced", "shipped", "delivered"]);

export async function render(main, route, ctx, orderId) {
  document.title = t("order.title", { id: shortId(orderId) });
  const wrap = h("div", { class: "wrap" }, h("h1", null, t("order.heading", { id: shortId(orderId) })), h("p", { class: "muted", role: "status" }, t("order.loading")));
  main.append(wrap);
  await ctx.session;
  if (!currentUser()) {
    go(link("entrar", { next: `/pedido/${orderId}` }), { replace: true });
    return;
  }
  let order;
  try {
    order = await get(`/api/v1/orders/${encodeURIComponent(orderId)}`);
  } catch (e) {
    replace(wrap, h("h1", null, e.status === 404 ? t("order.notFound") : t("error.title")), notice("error", e.status === 404 ? t("order.notFoundText") : errorText(e)));
    return;
  }

  const statusBadge = h("span", { class: "badge", "data-testid": "order-status" });
  const statusBox = h("p", { class: "status-line", role: "status", "aria-live": "polite" }, h("span", null, t("order.status")), statusBadge);
  const live = h("span", { class: "muted" });
  const message = h("div");
  const paymentBox = h("section", { "aria-labelledby": "pay-title" });
  const details = h("div");
  const invoiceBox = h("div");
  const returnsList = h("div");
  const returnsAction = h("div");
  const returnsBox = h("section", { "aria-labelledby": "returns-title", "data-testid": "returns", hidden: true }, h("h2", { id: "returns-title" }, t("returns.title")), returnsAction, returnsList);
  let returnFormOpen = false;
  let paymentShownFor = null;
  let stopped = false;

  replace(
    wrap,
    h("nav", { class: "breadcrumbs", "aria-label": t("nav.breadcrumbs") }, h("ol", null, h("li", null, h("a", { href: "#/" }, t("nav.home"))), h("li", null, h("a", { href: link("conta") }, t("nav.account"))), h("li", { "aria-current": "page" }, t("order.heading", { id: shortId(order.id) })))),
    h("h1", null, t("order.heading", { id: shortId(order.id) })),
    statusBox,
    h("p", null, live),
    message,
    paymentBox,
    invoiceBox,
    returnsBox,
    details,
  );

  function show(o) {
    order = o;
    statusBadge.className = `badge ${o.status}`;
    statusBadge.dataset.status = o.status;
    statusBadge.textContent = statusLabel(o.status);
    showInvoice(o);
    showReturns(o);
    showDetails(o);
    if (AWAITING.has(o.status)) {
      if (paymentShownFor !== o.payment_method) showPayment(o);
    } else if (paymentShownFor) {
      paymentShownFor = null;
      // Paid while the page was open; the order may already be past paid when the page hears.
      replace(paymentBox, PAID.has(o.status) ? notice("ok", t("order.paidThanks")) : null);
    }
  }

  function showInvoice(o) {
    if (!o.invoice_key) {
      replace(invoiceBox);
      return;
    }
    if (invoiceBox.dataset.key === o.invoice_key) return;
    invoiceBox.dataset.key = o.invoice_key;
    const result = h("div", { "aria-live": "polite" });
    const id = encodeURIComponent(o.id);
    const downloadButton = (path, filename, label) => {
      const button = h(
        "button",
        {
          type: "button",
          class: "secondary",
          on: {
            click: async () => {
              await busy(button, async () => {
                try {
                  await download(path, filename);
                  replace(result);
                } catch (e) {
                  replace(result, notice("error", errorText(e)));
                }
              });
            },
          },
        },
        label,
      );
      return button;
    };
    replace(
      invoiceBox,
      h(
        "section",
        { "aria-labelledby": "invoice-title" },
        h("h2", { id: "invoice-title" }, t("order.invoice")),
        h("p", { class: "muted" }, t("order.invoiceKey", { key: o.invoice_key })),
        h(
          "div",
          { class: "actions" },
          downloadButton(`/api/v1/orders/${id}/invoice/danfe`, `danfe-${o.id}.pdf`, t("order.danfeDownload")),
          downloadButton(`/api/v1/orders/${id}/invoice`, `nfe-${o.id}.xml`, t("order.invoiceDownload")),
        ),
        result,
      ),
    );
  }

  function showDetails(o) {
    const a = o.shipping_address;
    replace(
      details,
      o.tracking_code ? h("p", null, h("strong", null, t("order.tracking")), " ", h("span", { "data-testid": "tracking-code" }, o.tracking_code)) : null,
      h(
        "div",
        { class: "two-cols" },
        h(
          "section",
          { "aria-labelledby": "lines-title" },
          h("h2", { id: "lines-title" }, t("order.items")),
          h(
            "div",
            { class: "table-wrap" },
            h(
              "table",
              null,
              h("caption", { class: "visually-hidden" }, t("order.items")),
              h("thead", null, h("tr", null, h("th", { scope: "col" }, t("order.product")), h("th", { scope: "col", class: "num" }, t("order.qty")), h("th", { scope: "col", class: "num" }, t("order.lineTotal")))),
              h(
                "tbody",
                null,
                o.lines.map((l) => h("tr", null, h("td", null, l.name, h("br"), h("span", { class: "muted" }, [optionsText(l.options), l.sku].filter(Boolean).join(" · "))), h("td", { class: "num" }, String(l.quantity)), h("td", { class: "num" }, money(l.line_total_centavos)))),
              ),
            ),
          ),
          h("h2", null, t("order.history")),
          h("ol", { class: "timeline" }, o.history.map((c) => h("li", null, h("strong", null, statusLabel(c.status)), " — ", dateTime(c.at)))),
        ),
        h(
          "section",
          { class: "summary", "aria-labelledby": "totals-title" },
          h("h2", { id: "totals-title" }, t("order.summary")),
          h(
            "dl",
            null,
            h("div", null, h("dt", null, t("cart.subtotal")), h("dd", null, money(o.subtotal_centavos))),
            o.discount_centavos ? h("div", null, h("dt", null, t("order.discount", { code: o.coupon || "" })), h("dd", null, `− ${money(o.discount_centavos)}`)) : null,
            h("div", null, h("dt", null, t("order.shipping", { name: o.shipping_name })), h("dd", null, o.shipping_centavos ? money(o.shipping_centavos) : t("checkout.free"))),
            h("div", { class: "total" }, h("dt", null, t("checkout.total")), h("dd", { "data-testid": "order-total", "data-centavos": o.total_centavos }, money(o.total_centavos))),
          ),
          h("h3", null, t("order.deliverTo")),
          h("p", null, a.recipient, h("br"), `${a.street}, ${a.number}${a.complement ? ` — ${a.complement}` : ""}`, h("br"), `${a.district} — ${a.city}/${a.uf}`, h("br"), maskCep(a.cep)),
          h("p", { class: "muted" }, t("order.placedAt", { when: dateTime(o.created_at) }), h("br"), t("order.paymentMethod", { method: o.payment_method === "pix" ? "Pix" : o.payment_method === "boleto" ? "Boleto" : t("checkout.card") }), h("br"), AWAITING.has(o.status) ? t("order.payBy", { when: dateTime(o.pay_by) }) : null),
          o.status === "pending_payment" ? cancelButton(o) : null,
        ),
      ),
    );
  }

  // Withdrawal (CDC art. 49): within 7 days of delivery the buyer returns some or all units.
  function returnable(o, line) {
    const taken = (o.returns || [])
      .filter((r) => r.status !== "refused")
      .flatMap((r) => r.lines)
      .filter((l) => l.sku === line.sku)
      .reduce((n, l) => n + l.quantity, 0);
    return Math.max(0, line.quantity - taken);
  }

  function mayWithdraw(o) {
    return o.status === "delivered" && o.withdrawal_until && Date.now() <= Date.parse(o.withdrawal_until) && o.lines.some((l) => returnable(o, l) > 0);
  }

  function showReturns(o) {
    const list = o.returns || [];
    const open = mayWithdraw(o);
    returnsBox.hidden = !list.length && !open && !returnFormOpen;
    replace(
      returnsList,
      list.length
        ? h(
            "ul",
            { class: "plain" },
            list.map((r) =>
              h(
                "li",
                { "data-testid": "return", "data-status": r.status },
                h("p", null, h("strong", null, t("returns.item", { when: dateTime(r.requested_at) })), " ", h("span", { class: `badge ${r.status}`, "data-testid": "return-status" }, t(`returns.status.${r.status}`))),
                h("ul", null, r.lines.map((l) => h("li", null, `${l.quantity} × ${l.name} (${l.sku})`))),
                h("p", null, h("span", { "data-testid": "return-amount", "data-centavos": r.amount_centavos }, t("returns.amount", { amount: money(r.amount_centavos) })), r.whole_order && r.shipping_centavos ? ` ${t("returns.withShipping")}` : ""),
                h("p", { class: "muted" }, t("returns.yourReason", { reason: r.reason })),
                r.refusal ? h("p", { "data-testid": "return-refusal" }, t("returns.refusal", { reason: r.refusal })) : null,
              ),
            ),
          )
        : null,
    );
    if (returnFormOpen) return;
    if (!open) {
      replace(returnsAction);
      return;
    }
    const start = h("button", { type: "button", class: "secondary", "data-testid": "return-start", on: { click: () => returnForm(order) } }, t("returns.start"));
    replace(returnsAction, h("p", { class: "muted" }, t("returns.until", { when: dateTime(o.withdrawal_until) })), h("div", { class: "actions" }, start));
  }

  function returnForm(o) {
    returnFormOpen = true;
    const result = h("div", { "aria-live": "polite" });
    const quantities = o.lines
      .filter((l) => returnable(o, l) > 0)
      .map((l) => {
        const max = returnable(o, l);
        const f = field({ label: t("returns.quantity", { name: `${l.name} (${l.sku})` }), name: `qty-${l.sku}`, options: Array.from({ length: max + 1 }, (_, n) => [n, String(n)]), value: max });
        f.control.dataset.sku = l.sku;
        return f;
      });
    const reason = field({ label: t("returns.reason"), name: "return-reason", type: "textarea", rows: 3, required: true, maxlength: 500 });
    const send = h("button", { type: "submit", "data-testid": "return-submit" }, t("returns.submit"));
    const back = h(
      "button",
      {
        type: "button",
        class: "secondary",
        on: {
          click: () => {
            returnFormOpen = false;
            showReturns(order);
          },
        },
      },
      t("returns.back"),
    );
    const form = h(
      "form",
      {
        novalidate: true,
        on: {
          submit: async (e) => {
            e.preventDefault();
            replace(result);
            const lines = quantities.map((q) => ({ sku: q.control.dataset.sku, quantity: parseInt(q.control.value, 10) || 0 })).filter((l) => l.quantity > 0);
            if (!lines.length) {
              replace(result, notice("error", t("returns.chooseItem")));
              return;
            }
            await busy(send, async () => {
              try {
                const updated = await post(`/api/v1/orders/${encodeURIComponent(o.id)}/returns`, { lines, reason: reason.control.value });
                returnFormOpen = false;
                show(updated);
                replace(message, notice("ok", t("returns.sent")));
              } catch (err) {
                replace(result, notice("error", errorText(err)));
              }
            });
          },
        },
      },
      ...quantities,
      reason,
      result,
      h("div", { class: "actions" }, send, back),
    );
    returnsBox.hidden = false;
    replace(returnsAction, form);
  }

  function cancelButton(o) {
    const box = h("div", { class: "actions" });
    const ask = h("button", { type: "button", class: "secondary", on: { click: () => replace(box, h("p", null, t("order.cancelConfirm")), yes, no) } }, t("order.cancel"));
    const yes = h(
      "button",
      {
        type: "button",
        class: "danger",
        on: {
          click: async () => {
            try {
              show(await post(`/api/v1/orders/${encodeURIComponent(o.id)}/cancel`, undefined));
              replace(message, notice("ok", t("order.cancelled")));
            } catch (e) {
              replace(message, notice("error", errorText(e)));
            }
          },
        },
      },
      t("order.cancelYes"),
    );
    const no = h("button", { type: "button", class: "secondary", on: { click: () => replace(box, ask) } }, t("order.cancelNo"));
    box.append(ask);
    return box;
  }

  async function showPayment(o) {
    paymentShownFor = o.payment_method;
    replace(paymentBox, h("h2", { id: "pay-title" }, t("order.pay")), h("p", { class: "muted", role: "status" }, t("order.preparingPayment")));
    if (o.payment_method === "pix") {
      let payment;
      try {
        payment = await post(`/api/v1/orders/${encodeURIComponent(o.id)}/payment`, { method: "pix" });
      } catch (e) {
        replace(paymentBox, h("h2", { id: "pay-title" }, t("order.pay")), notice("error", errorText(e)));
        return;
      }
      if (!AWAITING.has(order.status)) return;
      const pix = payment.pix;
      const qr = h("img", { alt: t("order.pixQrAlt", { total: money(payment.amount_centavos) }), width: 240, height: 240 });
      // The QR image needs the token: fetch it and show it as a data: URL (allowed by the
      // storefront's CSP, unlike blob: on CloudFront's policy).
      request(pix.qr_code_url, { response: "text", headers: { Accept: "image/svg+xml" } })
        .then((svg) => {
          qr.src = `data:image/svg+xml;charset=utf-8,${encodeURIComponent(svg)}`;
        })
        .catch(() => {
          qr.alt = t("order.pixQrFailed");
        });
      const codeId = "pix-code";
      const code = h("textarea", { id: codeId, class: "brcode", readonly: true, rows: 4 });
      code.value = pix.br_code;
      const [copy, copied] = copyButton(code, pix.br_code);
      replace(
        paymentBox,
        h("h2", { id: "pay-title" }, t("order.payPix")),
        h(
          "div",
          { class: "pix" },
          qr,
          h(
            "div",
            null,
            h("p", null, t("order.pixSteps")),
            h("label", { for: codeId }, t("order.pixCode")),
            code,
            h("div", { class: "actions" }, copy, copied),
            h("p", { class: "muted" }, t("order.pixAmount", { total: money(payment.amount_centavos) }), h("br"), t("order.pixExpires", { when: dateTime(pix.expires_at) }), h("br"), t("order.pixTxid"), " ", h("span", { "data-testid": "pix-txid" }, pix.txid)),
            h("p", null, t("order.autoUpdate")),
          ),
        ),
      );
    } else if (o.payment_method === "boleto") {
      let payment;
      try {
        payment = await post(`/api/v1/orders/${encodeURIComponent(o.id)}/payment`, { method: "boleto" });
      } catch (e) {
        replace(paymentBox, h("h2", { id: "pay-title" }, t("order.pay")), notice("error", errorText(e)));
        return;
      }
      if (!AWAITING.has(order.status)) return;
      replace(paymentBox, ...boletoView(payment));
    } else {
      const tokenisation = (await paymentsConfig())?.card_tokenisation;
      if (!tokenisation) {
        await showCardForm(o);
        return;
      }
      // A card attempt already waiting for 3-D Secure or review: show that, not a new form.
      const current = await get(`/api/v1/orders/${encodeURIComponent(o.id)}/payment`).catch(() => null);
      if (current?.status === "pending") {
        replace(paymentBox, ...pendingCardView(current));
        return;
      }
      const parts = await tokenisedCardForm(o, tokenisation, async (payment) => {
        if (payment.status === "pending") replace(paymentBox, ...pendingCardView(payment));
        else show(await get(`/api/v1/orders/${encodeURIComponent(o.id)}`));
      });
      if (!AWAITING.has(order.status)) return;
      replace(paymentBox, ...parts);
    }
  }

  async function showCardForm(o) {
    let plans = [];
    try {
      plans = (await get(`/api/v1/payments/installments?total_centavos=${o.total_centavos}`, { auth: false })).plans;
    } catch {
      plans = [];
    }
    const result = h("div");
    const number = field({ label: t("card.number"), name: "number", autocomplete: "cc-number", inputmode: "numeric", required: true, hint: t("card.sandbox") });
    const holder = field({ label: t("card.holder"), name: "holder", autocomplete: "cc-name", required: true });
    const installments = field({
      label: t("card.installments"),
      name: "installments",
      options: (plans.length ? plans : [{ count: 1, installment_centavos: o.total_centavos, total_centavos: o.total_centavos, monthly_rate_bp: 0 }]).map((p) => [
        p.count,
        p.monthly_rate_bp
          ? t("card.planInterest", { n: p.count, each: money(p.installment_centavos), total: money(p.total_centavos) })
          : t("card.planFree", { n: p.count, each: money(p.installment_centavos) }),
      ]),
    });
    const pay = h("button", { type: "submit" }, t("card.pay"));
    const form = h(
      "form",
      {
        novalidate: true,
        on: {
          submit: async (e) => {
            e.preventDefault();
            replace(result);
            await busy(pay, async () => {
              try {
                await post(`/api/v1/orders/${encodeURIComponent(o.id)}/payment`, {
                  method: "card",
                  card: { number: number.control.value, holder: holder.control.value.trim() },
                  installments: parseInt(installments.control.value, 10) || 1,
                });
                show(await get(`/api/v1/orders/${encodeURIComponent(o.id)}`));
              } catch (err) {
                replace(result, notice("error", err.type === "payment-declined" ? t("card.declined", { reason: err.problem.detail || "" }) : errorText(err)));
              }
            });
          },
        },
      },
      number,
      holder,
      installments,
      h("div", { class: "actions" }, pay),
    );
    replace(paymentBox, h("h2", { id: "pay-title" }, t("order.payCard")), result, form);
  }

  show(order);

  // Live status: every event about this order re-reads it (its status, tracking, invoice).
  let reading = null;
  async function reread() {
    if (stopped) return;
    if (reading) return reading;
    reading = get(`/api/v1/orders/${encodeURIComponent(orderId)}`)
      .then((o) => {
        if (!stopped) show(o);
      })
      .catch(() => {})
      .finally(() => {
        reading = null;
      });
    return reading;
  }
  const stop = watchOrders(
    (msg) => {
      if (msg.order_id !== order.id) return;
      if (msg.status && msg.status !== order.status) {
        statusBadge.className = `badge ${msg.status}`;
        statusBadge.dataset.status = msg.status;
        statusBadge.textContent = statusLabel(msg.status);
      }
      reread();
    },
    (state) => {
      live.textContent = state === "closed" ? t("order.liveOff") : t("order.liveOn");
      if (state === "ready") reread();
    },
  );
  return () => {
    stopped = true;
    stop();
  };
}

export function shortId(id) {
  return String(id).slice(-8);
}
