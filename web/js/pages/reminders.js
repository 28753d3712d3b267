// The page a cart reminder's link opens (#/lembretes?token=…): it asks before turning the
// reminders off — mail scanners open the links of an e-mail, and opening one must change
// nothing — and its button sends the link's token (POST /api/v1/cart-reminders/off). No
// sign-in: the token names the customer and the store signed it.

import { post } from "../api.js";
import { h, replace, notice, busy } from "../dom.js";
import { t, errorText } from "../i18n.js";
import { link } from "../router.js";

export function render(main, route) {
  document.title = t("reminders.title");
  const token = route.query.get("token") || "";
  const wrap = h("div", { class: "wrap" });
  main.append(wrap);
  const heading = h("h1", null, t("reminders.heading"));
  if (!token) {
    replace(wrap, heading, notice("error", t("reminders.invalid")), accountNote());
    return;
  }
  const message = h("div");
  const button = h("button", { type: "button", "data-testid": "reminders-off" }, t("reminders.button"));
  button.addEventListener("click", () =>
    busy(button, async () => {
      try {
        await post("/api/v1/cart-reminders/off", { token }, { auth: false });
        replace(wrap, heading, notice("ok", t("reminders.done")), accountNote());
      } catch (e) {
        replace(message, notice("error", e.status === 422 ? t("reminders.invalid") : errorText(e)));
      }
    }),
  );
  replace(wrap, heading, h("p", null, t("reminders.ask")), message, h("div", { class: "actions" }, button), accountNote());
}

function accountNote() {
  return h("p", { class: "muted" }, t("reminders.account"), " ", h("a", { href: link("conta") }, t("reminders.accountLink")));
}
