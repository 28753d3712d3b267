// Paying with a real provider: the boleto view, and the card form whose number goes from this
// page to the provider's own script (loaded from the provider's origin, which the
// Content-Security-Policy allows only when such a provider is configured), never to the store's
// API: the API gets a one-time token, the card's brand id, issuer and first digits (docs/payments.md).

import { get, post } from "./api.js";
import { h, replace, notice, field, busy } from "./dom.js";
import { t, money, date, lang, addStrings, errorText } from "./i18n.js";

addStrings({
  "pt-BR": {
    "checkout.boletoText": "vence em 3 dias; o banco confirma em até 3 dias úteis",
    "boleto.title": "Pague com boleto",
    "boleto.steps": "Pague no app ou internet banking do seu banco, numa lotérica ou agência, até o vencimento. A confirmação do banco leva até 3 dias úteis; a página se atualiza sozinha.",
    "boleto.line": "Linha digitável",
    "boleto.barcode": "Código de barras: {code}",
    "boleto.due": "Vencimento: {when}",
    "boleto.amount": "Valor: {total}",
    "boleto.pdf": "Abrir o boleto (PDF)",
    "card.expiry": "Validade (MM/AA)",
    "card.cvv": "Código de segurança (CVV)",
    "card.document": "CPF do titular",
    "card.secure": "Os dados do cartão vão direto para {provider}; a loja não os recebe nem guarda.",
    "card.challenge": "Seu banco pede uma confirmação (3-D Secure).",
    "card.challengeOpen": "Confirmar no banco",
    "card.review": "Pagamento em análise pelo emissor do cartão. A página se atualiza quando houver resposta.",
    "card.providerFailed": "O formulário de cartão de {provider} não carregou. Verifique sua conexão e recarregue a página.",
    "card.binFirst": "Digite o número do cartão para ver as parcelas.",
  },
  en: {
    "checkout.boletoText": "due in 3 days; the bank confirms within 3 business days",
    "boleto.title": "Pay with boleto",
    "boleto.steps": "Pay it in your bank's app or internet banking, at a lottery outlet or a branch, by its due date. The bank's confirmation takes up to 3 business days; this page updates by itself.",
    "boleto.line": "Digitable line",
    "boleto.barcode": "Barcode: {code}",
    "boleto.due": "Due: {when}",
    "boleto.amount": "Amount: {total}",
    "boleto.pdf": "Open the boleto (PDF)",
    "card.expiry": "Expiry (MM/YY)",
    "card.cvv": "Security code (CVV)",
    "card.document": "Cardholder's CPF",
    "card.secure": "The card details go straight to {provider}; the store neither receives nor keeps them.",
    "card.challenge": "Your bank asks for a confirmation (3-D Secure).",
    "card.challengeOpen": "Confirm with the bank",
    "card.review": "The card issuer is reviewing the payment. This page updates when it answers.",
    "card.providerFailed": "{provider}'s card form did not load. Check your connection and reload the page.",
    "card.binFirst": "Type the card number to see the installments.",
  },
});

const PROVIDER_NAMES = { mercadopago: "Mercado Pago" };

let configured;
/** The store's payment setup (`GET /api/v1/config` → `payments`), asked once per page. */
export function paymentsConfig() {
  configured ??= get("/api/v1/config", { auth: false })
    .then((c) => c.payments || null)
    .catch(() => {
      configured = undefined;
      return null;
    });
  return configured;
}

const scripts = new Map();
function loadScript(url) {
  if (!scripts.has(url)) {
    scripts.set(
      url,
      new Promise((resolve, reject) => {
        const tag = document.createElement("script");
        tag.src = url;
        tag.async = true;
        tag.onload = resolve;
        tag.onerror = () => {
          scripts.delete(url);
          tag.remove();
          reject(new Error(`could not load ${url}`));
        };
        document.head.append(tag);
      }),
    );
  }
  return scripts.get(url);
}

/** A "copy" button for `text` shown in `field` (selected and copied the old way when the
 * clipboard API is refused), and the status line that says it was copied. */
export function copyButton(field, text) {
  const copied = h("span", { role: "status", class: "muted" });
  const copy = h(
    "button",
    {
      type: "button",
      on: {
        click: async () => {
          try {
            await navigator.clipboard.writeText(text);
          } catch {
            field.select();
            document.execCommand("copy");
          }
          copied.textContent = t("order.copied");
        },
      },
    },
    t("order.copy"),
  );
  return [copy, copied];
}

/** The boleto of `payment`: digitable line (with a copy button), barcode number, PDF, due date. */
export function boletoView(payment) {
  const b = payment.boleto;
  const lineId = "boleto-line";
  const line = h("input", { id: lineId, class: "brcode", readonly: true, value: b.digitable_line, "data-testid": "boleto-line" });
  const [copy, copied] = copyButton(line, b.digitable_line);
  return [
    h("h2", { id: "pay-title" }, t("boleto.title")),
    h("p", null, t("boleto.steps")),
    h("label", { for: lineId }, t("boleto.line")),
    line,
    h("div", { class: "actions" }, copy, copied, h("a", { href: b.pdf_url, target: "_blank", rel: "noopener noreferrer", class: "button secondary", "data-testid": "boleto-pdf" }, t("boleto.pdf"))),
    h("p", { class: "muted" }, t("boleto.amount", { total: money(payment.amount_centavos) }), h("br"), t("boleto.due", { when: date(b.expires_at) }), h("br"), t("boleto.barcode", { code: b.barcode })),
    h("p", null, t("order.autoUpdate")),
  ];
}

/** A card payment waiting for 3-D Secure or the issuer's review. */
export function pendingCardView(payment) {
  if (payment.challenge_url) {
    return [
      h("h2", { id: "pay-title" }, t("order.payCard")),
      h("p", null, t("card.challenge")),
      h("p", null, h("a", { href: payment.challenge_url, target: "_blank", rel: "noopener", class: "button", "data-testid": "card-challenge" }, t("card.challengeOpen"))),
      h("p", { class: "muted" }, t("order.autoUpdate")),
    ];
  }
  return [h("h2", { id: "pay-title" }, t("order.payCard")), h("p", { role: "status" }, t("card.review"))];
}

function plansOptions(plans, total) {
  return (plans.length ? plans : [{ count: 1, installment_centavos: total, total_centavos: total, monthly_rate_bp: 0 }]).map((p) => [
    p.count,
    p.monthly_rate_bp || p.total_centavos > total
      ? t("card.planInterest", { n: p.count, each: money(p.installment_centavos), total: money(p.total_centavos) })
      : t("card.planFree", { n: p.count, each: money(p.installment_centavos) }),
  ]);
}

/**
 * The card form of a provider that tokenises in the browser. `order` is the order to pay;
 * `done(payment)` is called with the API's answer (confirmed, or pending 3-D Secure).
 */
export async function tokenisedCardForm(order, tokenisation, done) {
  const providerName = PROVIDER_NAMES[tokenisation.provider] || tokenisation.provider;
  let sdk;
  try {
    await loadScript(tokenisation.script_url);
    if (typeof window.MercadoPago !== "function") throw new Error("no MercadoPago in the script");
    sdk = new window.MercadoPago(tokenisation.public_key, { locale: lang() === "en" ? "en-US" : "pt-BR" });
  } catch {
    return [h("h2", { id: "pay-title" }, t("order.payCard")), notice("error", t("card.providerFailed", { provider: providerName }))];
  }
  const result = h("div");
  const number = field({ label: t("card.number"), name: "number", autocomplete: "cc-number", inputmode: "numeric", required: true });
  const holder = field({ label: t("card.holder"), name: "holder", autocomplete: "cc-name", required: true });
  const expiry = field({ label: t("card.expiry"), name: "expiry", autocomplete: "cc-exp", inputmode: "numeric", required: true });
  const cvv = field({ label: t("card.cvv"), name: "cvv", autocomplete: "cc-csc", inputmode: "numeric", required: true });
  const doc = field({ label: t("card.document"), name: "document", inputmode: "numeric", required: true });
  const installments = field({ label: t("card.installments"), name: "installments", options: plansOptions([], order.total_centavos), hint: t("card.binFirst") });
  let bin = "";
  let method = null;
  // The installments come from the provider's table for the card's first digits (through the
  // store's API, which asks the provider, so what is shown is what is charged).
  number.control.addEventListener("input", async () => {
    const digits = number.control.value.replace(/\D/g, "");
    const next = digits.length >= 6 ? digits.slice(0, 6) : "";
    if (next === bin) return;
    bin = next;
    method = null;
    if (!bin) {
      replace(installments.control, ...plansOptions([], order.total_centavos).map(([v, label]) => h("option", { value: v }, label)));
      return;
    }
    try {
      const [plans, methods] = await Promise.all([
        get(`/api/v1/payments/installments?total_centavos=${order.total_centavos}&bin=${bin}`, { auth: false }),
        sdk.getPaymentMethods({ bin }),
      ]);
      if (bin !== next) return;
      method = (methods.results || [])[0] || null;
      replace(installments.control, ...plansOptions(plans.plans, order.total_centavos).map(([v, label]) => h("option", { value: v }, label)));
    } catch (err) {
      replace(result, notice("error", errorText(err)));
    }
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
              const [month, year] = expiry.control.value.split("/").map((s) => s.trim());
              const token = await sdk.createCardToken({
                cardNumber: number.control.value.replace(/\D/g, ""),
                cardholderName: holder.control.value.trim(),
                cardExpirationMonth: month,
                cardExpirationYear: year && year.length === 2 ? `20${year}` : year,
                securityCode: cvv.control.value.trim(),
                identificationType: "CPF",
                identificationNumber: doc.control.value.replace(/\D/g, ""),
              });
              const payment = await post(`/api/v1/orders/${encodeURIComponent(order.id)}/payment`, {
                method: "card",
                card: {
                  token: token.id,
                  payment_method_id: method?.id || token.payment_method_id,
                  issuer_id: method?.issuer?.id ? String(method.issuer.id) : null,
                  bin: token.first_six_digits || bin,
                },
                installments: parseInt(installments.control.value, 10) || 1,
              });
              await done(payment);
            } catch (err) {
              const text = err.type === "payment-declined" ? t("card.declined", { reason: err.problem.detail || "" }) : err.status !== undefined ? errorText(err) : err.message || String(err);
              replace(result, notice("error", text));
            }
          });
        },
      },
    },
    number,
    holder,
    expiry,
    cvv,
    doc,
    installments,
    h("p", { class: "muted" }, t("card.secure", { provider: providerName })),
    h("div", { class: "actions" }, pay),
  );
  return [h("h2", { id: "pay-title" }, t("order.payCard")), result, form];
}
