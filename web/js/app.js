// The storefront: layout (header, navigation, language switch, cart count) and its pages,
// each loaded on first visit (a catalog visit loads only what the catalog needs).

import { currentUser, getCart, onCartChange, onSessionChange, restoreSession, signOut } from "./api.js";
import { h, replace, notice } from "./dom.js";
import { t, lang, setLang, errorText, applyDocumentLang, currentShopName } from "./i18n.js";
import { start, link, go } from "./router.js";
import { clientConfig, demoBanner } from "./config.js";
import { loadShop, logoLink, contactLines, shop } from "./shop.js";

const main = document.getElementById("main");
const header = document.getElementById("site-header");
const footer = document.getElementById("site-footer");

const pages = {
  home: () => import("./pages/home.js"),
  catalog: () => import("./pages/catalog.js"),
  product: () => import("./pages/product.js"),
  cart: () => import("./pages/cart.js"),
  checkout: () => import("./pages/checkout.js"),
  order: () => import("./pages/order.js"),
  account: () => import("./pages/account.js"),
  auth: () => import("./pages/auth.js"),
  reminders: () => import("./pages/reminders.js"),
  notFound: () => import("./pages/notfound.js"),
};

function resolve(route) {
  const [first, second] = route.parts;
  switch (first) {
    case undefined:
      return { load: pages.home };
    case "catalogo":
      return { load: pages.catalog };
    case "produto":
      return second ? { load: pages.product, args: second } : { load: pages.catalog };
    case "carrinho":
      return { load: pages.cart };
    case "checkout":
      return { load: pages.checkout };
    case "pedido":
      return second ? { load: pages.order, args: second } : { load: pages.account };
    case "conta":
      return { load: pages.account };
    case "lembretes":
      return { load: pages.reminders };
    case "entrar":
    case "cadastro":
    case "confirmar":
    case "senha":
      return { load: pages.auth, args: first };
    default:
      return { load: pages.notFound };
  }
}

// The deployment's facts (GET /api/v1/config): in demo mode every page says so in the header.
let config = null;

let cartCount = null;
// The cart count in the header, updated in place (re-rendering the header would take the focus
// away from someone typing in the search box).
const cartBadge = { visible: h("span", { "aria-hidden": "true" }), spoken: h("span", { class: "visually-hidden" }) };
function showCartCount() {
  cartBadge.visible.textContent = cartCount ? `\u00a0(${cartCount})` : "";
  cartBadge.spoken.textContent = cartCount ? ` — ${t("cart.items", { n: cartCount })}` : "";
}

function renderHeader() {
  const user = currentUser();
  showCartCount();
  const searchId = "site-search";
  // Someone typing in the search box keeps what they typed (and the focus) across a re-render.
  const old = document.getElementById(searchId);
  const typing = old && document.activeElement === old;
  const q = typing ? old.value : ctx.route?.parts[0] === "catalogo" ? ctx.route.query.get("q") || "" : "";
  replace(
    header,
    h("a", { class: "skip", href: "#main", on: { click: skipToMain } }, t("nav.skip")),
    demoBanner(config),
    h(
      "div",
      { class: "wrap" },
      logoLink("#/"),
      h(
        "form",
        { class: "search", role: "search", on: { submit: onSearch } },
        h("label", { for: searchId, class: "visually-hidden" }, t("search.label")),
        h("input", { id: searchId, type: "search", name: "q", value: q, placeholder: t("search.placeholder"), autocomplete: "off" }),
        h("button", { type: "submit" }, t("search.button")),
      ),
      h(
        "nav",
        { class: "site-nav", "aria-label": t("nav.main") },
        h(
          "ul",
          null,
          h("li", null, h("a", { href: link("catalogo") }, t("nav.catalog"))),
          h(
            "li",
            null,
            h("a", { href: link("carrinho") }, t("nav.cart"), cartBadge.visible, cartBadge.spoken),
          ),
          user
            ? h("li", null, h("a", { href: link("conta") }, t("nav.account")))
            : h("li", null, h("a", { href: link("entrar", { next: currentPath() }) }, t("nav.signIn"))),
          user && user.staff ? h("li", null, h("a", { href: "/admin/" }, t("nav.admin"))) : null,
          user ? h("li", null, h("button", { type: "button", class: "linklike", on: { click: onSignOut } }, t("nav.signOut"))) : null,
          h(
            "li",
            null,
            h(
              "button",
              { type: "button", class: "linklike", lang: lang() === "en" ? "pt-BR" : "en", on: { click: toggleLang } },
              lang() === "en" ? "Português" : "English",
            ),
          ),
        ),
      ),
    ),
  );
  const look = shop();
  replace(
    footer,
    h(
      "div",
      { class: "wrap" },
      h("p", null, h("strong", null, currentShopName()), look && look.description ? ` — ${look.description}` : null),
      contactLines(),
      h("p", null, t("footer.text")),
    ),
  );
  if (typing) document.getElementById(searchId).focus();
}

function currentPath() {
  return (location.hash || "#/").replace(/^#/, "");
}

function skipToMain(e) {
  e.preventDefault();
  main.setAttribute("tabindex", "-1");
  main.focus();
}

function onSearch(e) {
  e.preventDefault();
  const q = new FormData(e.currentTarget).get("q").toString().trim();
  go(link("catalogo", { q }));
}

async function onSignOut() {
  await signOut();
  go(link(""));
}

function toggleLang() {
  setLang(lang() === "en" ? "pt-BR" : "en");
  applyDocumentLang();
  renderHeader();
  go(location.hash || "#/");
}

const ctx = {
  navigated: false,
  route: null,
  app: "store",
  onError(e) {
    replace(main, h("h1", null, t("error.title")), notice("error", errorText(e)));
  },
};

onSessionChange(() => renderHeader());
onCartChange((cart) => {
  const n = cart ? cart.lines.reduce((sum, l) => sum + l.quantity, 0) : null;
  if (n !== cartCount) {
    cartCount = n;
    showCartCount();
  }
});
window.addEventListener("hashchange", () => {
  // Keep the search box showing the catalog's query.
  const input = document.getElementById("site-search");
  if (input && document.activeElement !== input) {
    const params = new URLSearchParams((location.hash.split("?")[1] || ""));
    input.value = location.hash.startsWith("#/catalogo") ? params.get("q") || "" : "";
  }
});

applyDocumentLang();
renderHeader();
clientConfig().then((c) => {
  config = c;
  if (demoBanner(c)) renderHeader();
});
// The page starts rendering at once; the session (one refresh call when this tab has one) and
// the cart count follow.
const session = restoreSession().catch(() => null);
ctx.session = session;
// The first page waits for the shop's look (one small cached request) so that its title and
// header name the shop from the start.
loadShop().then(() => {
  renderHeader();
  start(main, resolve, ctx);
});
session.then(() => getCart().catch(() => null));
