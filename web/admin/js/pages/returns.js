// Returns (withdrawal, CDC art. 49): every return, open ones (waiting for the items, or received
// and waiting for a decision) first; each links to its order, where the staff receive, approve
// (refund) or refuse it and read the data for the entry NF-e.

import { get } from "/js/api.js";
import { h, replace, notice } from "/js/dom.js";
import { t, money, dateTime, errorText } from "/js/i18n.js";
import { link } from "/js/router.js";
import { pager } from "../lists.js";

export async function render(main, route) {
  document.title = t("admin.returns.title");
  const body = h("div", null, h("p", { class: "muted", role: "status" }, t("admin.loading")));
  main.append(h("div", { class: "wrap" }, h("h1", null, t("admin.returns.heading")), h("p", { class: "muted" }, t("admin.returns.intro")), body));
  const after = route.query.get("after") || "";
  let page;
  try {
    page = await get(`/api/v1/admin/returns?limit=50${after ? `&after=${encodeURIComponent(after)}` : ""}`, { auth: "required" });
  } catch (e) {
    replace(body, notice("error", errorText(e)));
    return;
  }
  if (!page.items.length) {
    replace(body, h("p", null, t("admin.returns.none")));
    return;
  }
  replace(
    body,
    h(
      "div",
      { class: "table-wrap" },
      h(
        "table",
        { "data-testid": "returns-table" },
        h("caption", { class: "visually-hidden" }, t("admin.returns.heading")),
        h(
          "thead",
          null,
          h(
            "tr",
            null,
            h("th", { scope: "col" }, t("admin.returns.order")),
            h("th", { scope: "col" }, t("admin.returns.requested")),
            h("th", { scope: "col" }, t("admin.returns.items")),
            h("th", { scope: "col", class: "num" }, t("admin.returns.amount")),
            h("th", { scope: "col" }, t("admin.returns.status")),
          ),
        ),
        h(
          "tbody",
          null,
          page.items.map((e) =>
            h(
              "tr",
              { "data-testid": "return-row", "data-order": e.order_id, "data-status": e.return.status },
              h("td", null, h("a", { href: link("pedidos", e.order_id) }, `#${e.order_id.slice(-8)}`)),
              h("td", null, dateTime(e.return.requested_at)),
              h("td", null, e.return.lines.map((l) => `${l.quantity} × ${l.sku}`).join(", ")),
              h("td", { class: "num" }, money(e.return.amount_centavos)),
              h("td", null, h("span", { class: `badge ${e.return.status}` }, t(`admin.returns.s.${e.return.status}`))),
            ),
          ),
        ),
      ),
    ),
    pager({ key: "returns", after, next: page.next, href: (c) => (c ? link("devolucoes", { after: c }) : link("devolucoes")) }),
  );
}
