// Coupons: the list, and a form to create one or change its terms (with If-Match).

import { get, post, put } from "/js/api.js";
import { h, replace, notice, field, busy, showFieldErrors, clearFieldErrors } from "/js/dom.js";
import { t, money, date, errorText, parseMoney, moneyInput } from "/js/i18n.js";
import { link, go } from "/js/router.js";

export async function render(main, route, ctx, code) {
  if (code) return editor(main, code === "novo" ? null : code);
  document.title = t("admin.coupons.title");
  const body = h("div", null, h("p", { class: "muted", role: "status" }, t("admin.loading")));
  main.append(h("div", { class: "wrap" }, h("h1", null, t("admin.coupons.heading")), h("div", { class: "actions" }, h("a", { class: "button", href: link("cupons", "novo") }, t("admin.coupons.new"))), body));
  let coupons;
  try {
    coupons = await get("/api/v1/admin/coupons", { auth: "required" });
  } catch (e) {
    replace(body, notice("error", errorText(e)));
    return;
  }
  if (!coupons.length) {
    replace(body, h("p", null, t("admin.coupons.none")));
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
        h("caption", { class: "visually-hidden" }, t("admin.coupons.heading")),
        h("thead", null, h("tr", null, h("th", { scope: "col" }, t("admin.coupons.code")), h("th", { scope: "col" }, t("admin.coupons.discount")), h("th", { scope: "col", class: "num" }, t("admin.coupons.used")), h("th", { scope: "col" }, t("admin.coupons.validUntil")), h("th", { scope: "col" }, t("admin.products.state")))),
        h(
          "tbody",
          null,
          coupons.map((c) =>
            h(
              "tr",
              null,
              h("td", null, h("a", { href: link("cupons", c.code) }, c.code)),
              h("td", null, describe(c)),
              h("td", { class: "num" }, c.usage_limit ? `${c.used} / ${c.usage_limit}` : String(c.used)),
              h("td", null, c.ends_at ? date(c.ends_at) : "—"),
              h("td", null, c.active ? t("admin.products.active") : t("admin.products.inactive")),
            ),
          ),
        ),
      ),
    ),
  );
}

function describe(c) {
  const what = c.kind === "percent" ? `${(c.basis_points / 100).toLocaleString("pt-BR")} %` : money(c.amount_centavos);
  return c.min_subtotal_centavos ? t("admin.coupons.describeMin", { what, min: money(c.min_subtotal_centavos) }) : what;
}

async function editor(main, code) {
  document.title = code ? t("admin.coupons.editTitle", { code }) : t("admin.coupons.newTitle");
  const wrap = h("div", { class: "wrap" }, h("h1", null, document.title), h("p", { class: "muted", role: "status" }, t("admin.loading")));
  main.append(wrap);
  let coupon = null;
  if (code) {
    try {
      coupon = await get(`/api/v1/admin/coupons/${encodeURIComponent(code)}`, { auth: "required" });
    } catch (e) {
      replace(wrap, h("h1", null, t("error.title")), notice("error", errorText(e)));
      return;
    }
  }
  const c = coupon || { code: "", kind: "percent", basis_points: 1000, amount_centavos: null, min_subtotal_centavos: 0, starts_at: null, ends_at: null, usage_limit: null, per_customer_limit: null, active: true };
  const message = h("div", { "aria-live": "polite" });
  const codeF = field({ label: t("admin.coupons.code"), name: "code", required: true, value: c.code, hint: t("admin.coupons.codeHint"), autocomplete: "off" });
  if (coupon) codeF.control.readOnly = true;
  const kindF = field({ label: t("admin.coupons.kind"), name: "kind", value: c.kind, options: [["percent", t("admin.coupons.percent")], ["fixed", t("admin.coupons.fixed")]] });
  const percentF = field({ label: t("admin.coupons.percentValue"), name: "basis_points", inputmode: "decimal", value: c.basis_points ? String(c.basis_points / 100).replace(".", ",") : "" });
  const amountF = field({ label: t("admin.coupons.amount"), name: "amount_centavos", inputmode: "decimal", value: c.amount_centavos ? moneyInput(c.amount_centavos) : "" });
  const minF = field({ label: t("admin.coupons.min"), name: "min_subtotal_centavos", inputmode: "decimal", value: c.min_subtotal_centavos ? moneyInput(c.min_subtotal_centavos) : "" });
  const endsF = field({ label: t("admin.coupons.ends"), name: "ends_at", type: "date", value: c.ends_at ? c.ends_at.slice(0, 10) : "" });
  const limitF = field({ label: t("admin.coupons.limit"), name: "usage_limit", type: "number", min: 1, inputmode: "numeric", value: c.usage_limit ?? "" });
  const perCustomerF = field({ label: t("admin.coupons.perCustomer"), name: "per_customer_limit", type: "number", min: 1, inputmode: "numeric", value: c.per_customer_limit ?? "", hint: t("admin.coupons.perCustomerHint") });
  const activeBox = h("input", { type: "checkbox", id: "coupon-active", checked: c.active });
  function sync() {
    percentF.hidden = kindF.control.value !== "percent";
    amountF.hidden = kindF.control.value !== "fixed";
  }
  kindF.control.addEventListener("change", sync);
  sync();
  const save = h("button", { type: "submit" }, t("admin.save"));
  let etag = coupon ? coupon.etag : null;
  const form = h(
    "form",
    {
      novalidate: true,
      on: {
        submit: async (e) => {
          e.preventDefault();
          clearFieldErrors(form);
          replace(message);
          const body = {
            code: codeF.control.value.trim(),
            kind: kindF.control.value,
            min_subtotal_centavos: parseMoney(minF.control.value) ?? 0,
            ends_at: endsF.control.value ? `${endsF.control.value}T23:59:59-03:00` : null,
            usage_limit: limitF.control.value ? parseInt(limitF.control.value, 10) : null,
            per_customer_limit: perCustomerF.control.value ? parseInt(perCustomerF.control.value, 10) : null,
            active: activeBox.checked,
          };
          if (coupon && coupon.starts_at) body.starts_at = coupon.starts_at;
          if (body.kind === "percent") body.basis_points = Math.round(parseFloat(percentF.control.value.replace(",", ".")) * 100) || 0;
          else body.amount_centavos = parseMoney(amountF.control.value) ?? 0;
          await busy(save, async () => {
            try {
              if (coupon) {
                const saved = await put(`/api/v1/admin/coupons/${encodeURIComponent(coupon.code)}`, body, { auth: "required", headers: { "If-Match": etag } });
                etag = saved.etag;
                replace(message, notice("ok", t("admin.coupons.saved")));
              } else {
                const saved = await post("/api/v1/admin/coupons", body, { auth: "required" });
                go(link("cupons", saved.code));
              }
            } catch (err) {
              if (err.status === 412) {
                replace(message, notice("error", h("strong", null, t("admin.conflict.title")), " ", t("admin.conflict.couponText"), " ", h("button", { type: "button", class: "secondary", on: { click: () => go(link("cupons", coupon.code), { replace: true }) } }, t("admin.conflict.reload"))));
              } else if (err.type === "validation") {
                const rest = showFieldErrors(form, err.problem.errors || []);
                replace(message, notice("error", rest.length ? errorText(err) : t("error.fields")));
              } else {
                replace(message, notice("error", errorText(err)));
              }
            }
          });
        },
      },
    },
    codeF,
    kindF,
    percentF,
    amountF,
    minF,
    endsF,
    limitF,
    perCustomerF,
    h("label", { class: "choice", for: "coupon-active" }, activeBox, t("admin.coupons.active")),
    h("div", { class: "actions" }, save, h("a", { href: link("cupons") }, t("admin.back"))),
  );
  replace(wrap, h("h1", null, document.title), coupon ? h("p", { class: "muted" }, t("admin.coupons.usedCount", { n: coupon.used })) : null, message, form);
}
