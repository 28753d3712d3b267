// Event delivery: the outbox, each subscriber's queue, and the dead letters (deliveries that
// failed for good — e.g. a refund the provider refused) with replay.

import { get, post } from "/js/api.js";
import { h, replace, notice, busy } from "/js/dom.js";
import { t, errorText } from "/js/i18n.js";

export async function render(main) {
  document.title = t("admin.events.title");
  const message = h("div", { "aria-live": "polite" });
  const body = h("div", null, h("p", { class: "muted", role: "status" }, t("admin.loading")));
  main.append(h("div", { class: "wrap" }, h("h1", null, t("admin.events.heading")), message, body));
  await load();

  async function load() {
    let e;
    try {
      e = await get("/api/v1/admin/events", { auth: "required" });
    } catch (err) {
      replace(body, notice("error", errorText(err)));
      return;
    }
    const all = h("button", { type: "button", on: { click: () => replay("/api/v1/admin/events/dead-letters/replay", all) } }, t("admin.events.replayAll"));
    replace(
      body,
      h("p", null, t("admin.events.outbox", { n: e.outbox })),
      h(
        "div",
        { class: "table-wrap" },
        h(
          "table",
          null,
          h("caption", null, t("admin.events.queues")),
          h("thead", null, h("tr", null, h("th", { scope: "col" }, t("admin.events.subscriber")), h("th", { scope: "col", class: "num" }, t("admin.events.pending")), h("th", { scope: "col", class: "num" }, t("admin.events.dead")))),
          h("tbody", null, e.queues.map((q) => h("tr", null, h("td", null, q.subscriber), h("td", { class: "num" }, String(q.pending)), h("td", { class: "num" }, String(q.dead))))),
        ),
      ),
      h("h2", null, t("admin.events.deadLetters")),
      e.dead_letters.length
        ? [
            h("div", { class: "actions" }, all),
            h(
              "ul",
              { class: "lines" },
              e.dead_letters.map((d) => {
                const b = h(
                  "button",
                  { type: "button", class: "secondary", "aria-label": t("admin.events.replayOne", { type: d.event_type, subject: d.subject }), on: { click: () => replay(`/api/v1/admin/events/dead-letters/${encodeURIComponent(d.subscriber)}/${encodeURIComponent(d.event_id)}/replay`, b) } },
                  t("admin.events.replay"),
                );
                return h(
                  "li",
                  { class: "dead-letter" },
                  h("div", null, h("strong", null, d.event_type), ` — ${d.subject}`, h("br"), h("span", { class: "muted" }, t("admin.events.detail", { subscriber: d.subscriber, attempts: d.attempts })), h("br"), h("span", { class: "muted" }, d.last_error)),
                  h("div", null, b),
                );
              }),
            ),
          ]
        : h("p", null, t("admin.events.noDead")),
    );
  }

  async function replay(path, button) {
    await busy(button, async () => {
      try {
        await post(path, undefined, { auth: "required" });
        replace(message, notice("ok", t("admin.events.replayed")));
        await load();
      } catch (err) {
        replace(message, notice("error", errorText(err)));
      }
    });
  }
}
