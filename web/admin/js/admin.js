// The admin: for the `admin` group only (the API checks every call; this only decides what to
// show). Same building blocks as the storefront: /js/api.js, dom.js, i18n.js, router.js.

import "./strings.js";
import { currentUser, onSessionChange, restoreSession, signIn, signOut } from "/js/api.js";
import { h, replace, notice, field, busy } from "/js/dom.js";
import { t, lang, setLang, errorText, applyDocumentLang } from "/js/i18n.js";
import { start, link, go, current } from "/js/router.js";
import { clientConfig, demoBanner } from "/js/config.js";
import { loadShop } from "/js/shop.js";

const main = document.getElementById("main");
const header = document.getElementById("site-header");

const pages = {
  dashboard: () => import("./pages/dashboard.js"),
  products: () => import("./pages/products.js"),
  orders: () => import("./pages/orders.js"),
  customers: () => import("./pages/customers.js"),
  returns: () => import("./pages/returns.js"),
  coupons: () => import("./pages/coupons.js"),
  events: () => import("./pages/events.js"),
  reports: () => import("./pages/reports.js"),
  shop: () => import("./pages/shop.js"),
};

const gate = { render: renderGate };

// The deployment's facts (GET /api/v1/config): in demo mode every page says so in the header.
let config = null;

function resolve(route) {
  const user = currentUser();
  if (!user || !user.staff) return { load: async () => gate };
  const section = sections.find(([path]) => path === (route.parts[0] || "painel"));
  if (section && !user.areas.includes(section[2])) return { load: async () => ({ render: renderNotYours }) };
  switch (route.parts[0]) {
    case undefined:
    case "painel":
      return { load: pages.dashboard };
    case "produtos":
      return { load: pages.products, args: route.parts[1] };
    case "pedidos":
      return { load: pages.orders, args: route.parts[1] };
    case "clientes":
      return { load: pages.customers, args: route.parts[1] };
    case "devolucoes":
      return { load: pages.returns };
    case "cupons":
      return { load: pages.coupons, args: route.parts[1] };
    case "eventos":
      return { load: pages.events };
    case "relatorios":
      return { load: pages.reports };
    case "loja":
      return { load: pages.shop };
    default:
      return { load: pages.dashboard };
  }
}

// Each section with the part of the admin it belongs to (web/js/api.js, STAFF_AREAS).
const sections = [
  ["painel", "admin.nav.dashboard", "shared"],
  ["produtos", "admin.nav.products", "catalog"],
  ["pedidos", "admin.nav.orders", "orders"],
  ["clientes", "admin.nav.customers", "orders"],
  ["devolucoes", "admin.nav.returns", "orders"],
  ["cupons", "admin.nav.coupons", "catalog"],
  ["eventos", "admin.nav.events", "owner"],
  ["relatorios", "admin.nav.reports", "owner"],
  ["loja", "admin.nav.shop", "owner"],
];

function renderHeader() {
  const user = currentUser();
  const here = current().parts[0] || "painel";
  replace(
    header,
    h("a", { class: "skip", href: "#main", on: { click: skipToMain } }, t("nav.skip")),
    demoBanner(config),
    h(
      "div",
      { class: "wrap" },
      h("a", { class: "logo", href: "#/" }, t("admin.brand")),
      h(
        "nav",
        { class: "site-nav", "aria-label": t("admin.nav.label") },
        h(
          "ul",
          null,
          user && user.staff
            ? sections
                .filter(([, , area]) => user.areas.includes(area))
                .map(([path, key]) => h("li", null, h("a", { href: link(path), "aria-current": here === path ? "page" : null }, t(key))))
            : null,
          h("li", null, h("a", { href: "/" }, t("admin.nav.store"))),
          user ? h("li", null, h("button", { type: "button", class: "linklike", on: { click: onSignOut } }, t("nav.signOut"))) : null,
          h("li", null, h("button", { type: "button", class: "linklike", lang: lang() === "en" ? "pt-BR" : "en", on: { click: toggleLang } }, lang() === "en" ? "Português" : "English")),
        ),
      ),
    ),
  );
}

function skipToMain(e) {
  e.preventDefault();
  main.setAttribute("tabindex", "-1");
  main.focus();
}

async function onSignOut() {
  await signOut();
  go("#/");
}

function toggleLang() {
  setLang(lang() === "en" ? "pt-BR" : "en");
  applyDocumentLang();
  renderHeader();
  go(location.hash || "#/");
}

/** A section the signed-in member of staff's role does not open. */
function renderNotYours(main) {
  document.title = t("admin.gate.title");
  main.append(
    h(
      "div",
      { class: "wrap" },
      h("h1", null, t("admin.gate.title")),
      notice("error", t("admin.gate.notYours")),
      h("p", null, h("a", { href: link("painel") }, t("admin.nav.dashboard"))),
    ),
  );
}

/** Not signed in as staff: a sign-in form, or a refusal. */
function renderGate(main) {
  const user = currentUser();
  document.title = t("admin.gate.title");
  const wrap = h("div", { class: "wrap" });
  main.append(wrap);
  if (user && !user.staff) {
    replace(wrap, h("h1", null, t("admin.gate.title")), notice("error", t("admin.gate.forbidden")), h("p", null, h("a", { href: "/" }, t("admin.nav.store"))));
    return;
  }
  const message = h("div");
  const email = field({ label: t("auth.email"), name: "email", type: "email", autocomplete: "username", required: true });
  const password = field({ label: t("auth.password"), name: "password", type: "password", autocomplete: "current-password", required: true });
  const submit = h("button", { type: "submit" }, t("auth.signIn"));
  replace(
    wrap,
    h("h1", null, t("admin.gate.heading")),
    message,
    h(
      "form",
      {
        novalidate: true,
        on: {
          submit: async (e) => {
            e.preventDefault();
            await busy(submit, async () => {
              try {
                const u = await signIn(email.control.value.trim(), password.control.value);
                if (!currentUser()?.staff) {
                  replace(message, notice("error", t("admin.gate.forbidden")));
                  return;
                }
                go(location.hash || "#/");
              } catch (err) {
                replace(message, notice("error", errorText(err)));
              }
            });
          },
        },
      },
      email,
      password,
      h("div", { class: "actions" }, submit),
    ),
  );
}

const ctx = {
  navigated: false,
  app: "admin",
  onError(e) {
    replace(main, h("div", { class: "wrap" }, h("h1", null, t("error.title")), notice("error", errorText(e))));
  },
};

onSessionChange(() => renderHeader());
window.addEventListener("hashchange", renderHeader);
applyDocumentLang();
renderHeader();
clientConfig().then((c) => {
  config = c;
  if (demoBanner(c)) renderHeader();
});
// The shop's name goes in the header and every title ({shop}).
Promise.all([restoreSession().catch(() => null), loadShop()]).then(() => {
  renderHeader();
  start(main, resolve, ctx);
});
