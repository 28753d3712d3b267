// Reports: the files the report jobs wrote (GET /api/v1/admin/reports →
// {"items":[{"key","name","size","created_at","url"}]}, docs/reports.md), each downloadable.

import { get, download } from "/js/api.js";
import { h, replace, notice, busy } from "/js/dom.js";
import { t, dateTime, errorText } from "/js/i18n.js";

export async function render(main) {
  document.title = t("admin.reports.title");
  const message = h("div", { "aria-live": "polite" });
  const body = h("div", null, h("p", { class: "muted", role: "status" }, t("admin.loading")));
  main.append(h("div", { class: "wrap" }, h("h1", null, t("admin.reports.heading")), message, body));
  let items = [];
  try {
    items = (await get("/api/v1/admin/reports", { auth: "required" })).items || [];
  } catch (e) {
    // 404/405: the reports endpoint is not there (yet): nothing to list.
    if (e.status !== 404 && e.status !== 405) {
      replace(body, notice("error", errorText(e)));
      return;
    }
  }
  if (!items.length) {
    replace(body, h("p", null, t("admin.reports.none")));
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
        h("caption", { class: "visually-hidden" }, t("admin.reports.heading")),
        h("thead", null, h("tr", null, h("th", { scope: "col" }, t("admin.reports.name")), h("th", { scope: "col" }, t("admin.date")), h("th", { scope: "col", class: "num" }, t("admin.reports.size")), h("th", { scope: "col" }, h("span", { class: "visually-hidden" }, t("admin.reports.download"))))),
        h(
          "tbody",
          null,
          items.map((r) => {
            const name = r.name || r.key;
            const b = h(
              "button",
              {
                type: "button",
                class: "secondary",
                "aria-label": t("admin.reports.downloadNamed", { name }),
                on: {
                  click: () =>
                    busy(b, async () => {
                      try {
                        await fetchReport(r, name);
                      } catch (err) {
                        replace(message, notice("error", errorText(err)));
                      }
                    }),
                },
              },
              t("admin.reports.download"),
            );
            return h("tr", null, h("td", null, name), h("td", null, r.created_at ? dateTime(r.created_at) : "—"), h("td", { class: "num" }, size(r.size)), h("td", null, b));
          }),
        ),
      ),
    ),
  );
}

/** A same-origin URL is fetched with the token; another (an S3 presigned URL) is opened as is. */
async function fetchReport(r, name) {
  const url = new URL(r.url, location.href);
  if (url.origin === location.origin) {
    await download(url.pathname + url.search, name.split("/").pop());
  } else if (url.protocol === "https:") {
    const a = document.createElement("a");
    a.href = url.href;
    a.rel = "noopener";
    a.download = name.split("/").pop();
    document.body.append(a);
    a.click();
    a.remove();
  }
}

function size(bytes) {
  if (typeof bytes !== "number") return "—";
  if (bytes < 1024) return `${bytes} B`;
  if (bytes < 1024 * 1024) return `${(bytes / 1024).toLocaleString("pt-BR", { maximumFractionDigits: 1 })} KB`;
  return `${(bytes / 1024 / 1024).toLocaleString("pt-BR", { maximumFractionDigits: 1 })} MB`;
}
