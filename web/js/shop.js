// The shop's look (GET /api/v1/shop): its name in the texts ({shop}), its logo in the header, its
// contact in the footer. The colours come with the stylesheet /api/v1/shop/look.css, which the
// pages link, so they apply before any script runs. Asked once per page; the platform's defaults
// when the store cannot be reached.

import { get, mediaUrl } from "./api.js";
import { h } from "./dom.js";
import { t, setShopName, currentShopName } from "./i18n.js";

let pending = null;
let look = null;

/** The look, once it has arrived (`null` before, or when the store could not be reached). */
export function shop() {
  return look;
}

/** Ask for the look (once); resolves when it is known, never rejects. */
export function loadShop() {
  if (!pending) {
    pending = get("/api/v1/shop", { auth: false })
      .then((l) => {
        look = l;
        setShopName(l.name);
        const theme = document.querySelector('meta[name="theme-color"]');
        if (theme && l.brand) theme.setAttribute("content", l.brand);
        return l;
      })
      .catch(() => null);
  }
  return pending;
}

/** The header's home link: the logo with the name as its text alternative, or the name. */
export function logoLink(href, suffix = "") {
  const name = currentShopName() + suffix;
  if (look && look.logo) {
    return h("a", { class: "logo", href }, h("img", { src: mediaUrl(look.logo), alt: name, height: "40" }));
  }
  return h("a", { class: "logo", href }, name);
}

/** The footer's contact lines: e-mail, phone, WhatsApp, address, hours (what the shop gave). */
export function contactLines() {
  const c = (look && look.contact) || {};
  const items = [];
  if (c.email) items.push(h("li", null, h("a", { href: `mailto:${c.email}` }, c.email)));
  if (c.phone) items.push(h("li", null, h("a", { href: `tel:${c.phone}` }, c.phone_display || c.phone)));
  if (c.whatsapp_link) {
    items.push(h("li", null, h("a", { href: c.whatsapp_link, rel: "noopener", target: "_blank" }, `WhatsApp ${c.whatsapp_display || ""}`.trim())));
  }
  if (c.address) items.push(h("li", null, c.address));
  if (c.hours) items.push(h("li", null, c.hours));
  return items.length ? h("ul", { class: "shop-contact", "aria-label": t("footer.contact") }, ...items) : null;
}
