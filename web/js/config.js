// What this deployment tells the web apps (GET /api/v1/config): where the realtime socket is and
// how the store takes payments (which methods, which providers, whether it is in demo mode).
// Asked once per page; `null` when the store cannot be reached.

import { get } from "./api.js";
import { h } from "./dom.js";
import { t } from "./i18n.js";

let pending = null;

export function clientConfig() {
  if (!pending) pending = get("/api/v1/config", { auth: false }).catch(() => null);
  return pending;
}

/** The demo-mode banner for `config` (a sandbox takes some method: nothing is charged), or null. */
export function demoBanner(config) {
  if (!config || !config.payments || !config.payments.sandbox) return null;
  return h("p", { class: "demo-banner", role: "note", "data-testid": "demo-banner" }, t("demo.banner"));
}
