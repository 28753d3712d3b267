// The shop's own look (the owner's section, GET/PUT /api/v1/admin/shop): its name, description,
// two colours and contact, with a live preview and each colour's contrast with white; and its
// logo (PUT/DELETE /api/v1/admin/shop/logo, the image's bytes as the body). Every save sends the
// version read (If-Match): a look changed by someone else meanwhile is a conflict shown to the
// owner, never overwritten.

import { get, put, del, request } from "/js/api.js";
import { h, replace, notice, field, busy, id, showFieldErrors, clearFieldErrors } from "/js/dom.js";
import { t, money, lang, errorText, setShopName } from "/js/i18n.js";
import { link, go } from "/js/router.js";

const LOGO_TYPES = ["image/png", "image/jpeg", "image/webp", "image/avif"];
const MAX_LOGO_BYTES = 1024 * 1024;
/** The least contrast with white the store accepts for either colour (WCAG 2.1 AA). */
const MIN_CONTRAST = 4.5;
/** The stylesheet's text colour (`--ink`), what a light colour is written in. */
const INK = "#1b1b1b";
const WHITE = "#ffffff";

export async function render(main) {
  document.title = t("admin.shop.title");
  const wrap = h("div", { class: "wrap" }, h("h1", null, t("admin.shop.heading")), h("p", { class: "muted", role: "status" }, t("admin.loading")));
  main.append(wrap);
  const state = { look: null, etag: null };
  try {
    state.look = await get("/api/v1/admin/shop", { auth: "required" });
    state.etag = state.look.etag;
  } catch (e) {
    replace(wrap, h("h1", null, t("admin.shop.heading")), notice("error", errorText(e)));
    return;
  }
  const look = state.look;
  const c = look.contact || {};
  const message = h("div", { "aria-live": "polite" });

  const nameF = field({ label: t("admin.shop.name"), name: "name", required: true, value: look.name, maxlength: 60, autocomplete: "organization", hint: t("admin.shop.nameHint") });
  const descF = field({ label: t("admin.shop.description"), name: "description", type: "textarea", rows: 3, maxlength: 300, value: look.description, hint: t("admin.shop.descriptionHint") });
  const brand = colourField({ label: t("admin.shop.brand"), name: "brand", value: look.brand, hint: t("admin.shop.brandHint") });
  const accent = colourField({ label: t("admin.shop.accent"), name: "accent", value: look.accent, hint: t("admin.shop.accentHint") });
  const emailF = field({ label: t("admin.shop.email"), name: "contact.email", type: "email", autocomplete: "off", value: c.email || "" });
  const phoneF = field({ label: t("admin.shop.phone"), name: "contact.phone", type: "tel", autocomplete: "off", value: c.phone_display || c.phone || "", hint: t("admin.shop.phoneHint") });
  const whatsappF = field({ label: t("admin.shop.whatsapp"), name: "contact.whatsapp", type: "tel", autocomplete: "off", value: c.whatsapp_display || c.whatsapp || "", hint: t("admin.shop.whatsappHint") });
  const addressF = field({ label: t("admin.shop.address"), name: "contact.address", maxlength: 200, autocomplete: "off", value: c.address || "" });
  const hoursF = field({ label: t("admin.shop.hours"), name: "contact.hours", maxlength: 200, autocomplete: "off", value: c.hours || "", hint: t("admin.shop.hoursHint") });
  const fields = {
    name: nameF.control,
    description: descF.control,
    brand: brand.text,
    accent: accent.text,
    "contact.email": emailF.control,
    "contact.phone": phoneF.control,
    "contact.whatsapp": whatsappF.control,
    "contact.address": addressF.control,
    "contact.hours": hoursF.control,
  };

  // ----- the preview: a header band in the main colour, a price in the second -----
  const previewLogo = h("span", { class: "logo" });
  const band = h("div", { class: "site-header" }, h("div", { class: "wrap" }, previewLogo, h("span", null, t("admin.shop.previewNav"))));
  const previewPrice = h("p", { class: "price" }, money(8990));
  const previewLink = h("p", null, t("admin.shop.previewLink"));
  const preview = h(
    "section",
    { class: "panel", "aria-labelledby": "shop-preview-title" },
    h("h2", { id: "shop-preview-title" }, t("admin.shop.preview")),
    h("p", { class: "hint" }, t("admin.shop.previewHint")),
    band,
    h("p", null, h("strong", null, t("admin.shop.previewProduct"))),
    previewPrice,
    previewLink,
  );
  band.style.borderRadius = "6px";
  band.style.margin = "0 0 0.75rem";
  previewLink.style.textDecoration = "underline";

  function showPreview() {
    const b = brand.value();
    const a = accent.value();
    band.style.setProperty("--brand", b);
    band.style.setProperty("--brand-ink", ink(b));
    previewPrice.style.color = a;
    previewLink.style.color = b;
    const name = nameF.control.value.trim() || look.name;
    if (state.look.logo_url) {
      replace(previewLogo, h("img", { src: state.look.logo_url, alt: name }));
    } else {
      replace(previewLogo, name);
    }
  }
  nameF.control.addEventListener("input", showPreview);
  brand.onChange(showPreview);
  accent.onChange(showPreview);

  // ----- the form -----
  const save = h("button", { type: "submit" }, t("admin.save"));
  const form = h(
    "form",
    { novalidate: true, on: { submit: onSave } },
    nameF,
    descF,
    h("fieldset", null, h("legend", null, t("admin.shop.colours")), h("div", { class: "grid-2" }, brand.el, accent.el)),
    h("fieldset", null, h("legend", null, t("admin.shop.contact")), h("p", { class: "hint" }, t("admin.shop.contactHint")), emailF, h("div", { class: "grid-2" }, phoneF, whatsappF), addressF, hoursF),
    h("div", { class: "actions" }, save),
  );

  // ----- the logo -----
  const logoBox = h("section", { class: "panel", "aria-labelledby": "shop-logo-title" });
  const logoMessage = h("div", { "aria-live": "polite" });

  replace(
    wrap,
    h("h1", null, t("admin.shop.heading")),
    h("p", { class: "muted" }, t("admin.shop.intro")),
    message,
    h("div", { class: "two-cols" }, h("section", { "aria-label": t("admin.shop.fields") }, form), h("div", { class: "stack" }, preview, logoBox)),
  );
  showPreview();
  showLogo();

  function body() {
    const text = (control) => control.value.trim() || null;
    return {
      name: nameF.control.value.trim(),
      description: descF.control.value.trim(),
      brand: brand.text.value.trim(),
      accent: accent.text.value.trim(),
      contact: {
        email: text(emailF.control),
        phone: text(phoneF.control),
        whatsapp: text(whatsappF.control),
        address: text(addressF.control),
        hours: text(hoursF.control),
      },
    };
  }

  async function onSave(e) {
    e.preventDefault();
    clearFieldErrors(form);
    replace(message);
    await busy(save, async () => {
      try {
        const saved = await put("/api/v1/admin/shop", body(), { auth: "required", headers: { "If-Match": state.etag } });
        keep(saved);
        replace(message, notice("ok", t("admin.shop.saved")));
      } catch (err) {
        if (err.status === 412) {
          conflict(message);
        } else if (err.type === "validation") {
          const errors = (err.problem.errors || []).map(worded);
          const rest = showFieldErrors(form, errors, fields);
          // A colour's error goes under its pair of controls, not between them.
          for (const pair of [brand, accent]) {
            const shown = pair.row.querySelector(".field-error");
            if (shown) pair.row.after(shown);
          }
          replace(message, notice("error", rest.length ? rest.map((x) => x.message).join(" ") : t("error.fields")));
          const first = form.querySelector('[aria-invalid="true"]');
          if (first) first.focus();
        } else {
          replace(message, notice("error", errorText(err)));
        }
      }
    });
  }

  /** The look as the server answered: kept, with its version, and shown where it shows. */
  function keep(saved) {
    state.look = saved;
    state.etag = saved.etag;
    // The admin itself takes the new look at once (its look.css is read again on the next load).
    const root = document.documentElement.style;
    root.setProperty("--brand", saved.brand);
    root.setProperty("--brand-ink", saved.brand_ink);
    root.setProperty("--accent", saved.accent);
    setShopName(saved.name);
    document.title = t("admin.shop.title");
    showPreview();
  }

  function showLogo() {
    const fileId = id("logo");
    const file = h("input", { type: "file", id: fileId, name: "logo", accept: LOGO_TYPES.join(","), "aria-describedby": `${fileId}-hint` });
    const upload = h("button", { type: "submit" }, t("admin.shop.logoUpload"));
    const current = state.look.logo_url;
    const remove = current ? h("button", { type: "button", class: "secondary", on: { click: onRemove } }, t("admin.shop.logoRemove")) : null;
    replace(
      logoBox,
      h("h2", { id: "shop-logo-title" }, t("admin.shop.logo")),
      logoMessage,
      current
        ? h("div", { class: "stack" }, h("img", { src: current, alt: t("admin.shop.logoAlt", { name: state.look.name }), class: "shop-logo-current" }), h("div", { class: "actions" }, remove))
        : h("p", null, t("admin.shop.logoNone")),
      h(
        "form",
        { novalidate: true, on: { submit: onUpload } },
        h("div", { class: "field" }, h("label", { for: fileId }, current ? t("admin.shop.logoReplace") : t("admin.shop.logoFile")), h("span", { class: "hint", id: `${fileId}-hint` }, t("admin.shop.logoHint")), file),
        h("div", { class: "actions" }, upload),
      ),
    );
    const img = logoBox.querySelector("img.shop-logo-current");
    if (img) {
      img.style.maxHeight = "5rem";
      img.style.maxWidth = "100%";
      img.style.padding = "0.5rem";
      img.style.background = state.look.brand;
      img.style.borderRadius = "6px";
    }

    async function onUpload(e) {
      e.preventDefault();
      replace(logoMessage);
      const f = file.files && file.files[0];
      if (!f) {
        replace(logoMessage, notice("error", t("admin.shop.logoChoose")));
        file.focus();
        return;
      }
      if (!LOGO_TYPES.includes(f.type)) {
        replace(logoMessage, notice("error", t("admin.shop.logoBadType")));
        file.focus();
        return;
      }
      if (f.size > MAX_LOGO_BYTES) {
        replace(logoMessage, notice("error", t("admin.shop.logoTooBig")));
        file.focus();
        return;
      }
      // The file's bytes as the body, with its type, through the API client (the token).
      await changeLogo(upload, "admin.shop.logoUploaded", logoErrorText, () =>
        request("/api/v1/admin/shop/logo", { method: "PUT", raw: f, contentType: f.type, headers: { "If-Match": state.etag }, auth: "required" }),
      );
    }

    async function onRemove() {
      replace(logoMessage);
      await changeLogo(remove, "admin.shop.logoRemoved", errorText, () =>
        del("/api/v1/admin/shop/logo", { auth: "required", headers: { "If-Match": state.etag } }),
      );
    }

    /** Send a change of the logo (`call`), then show the look it answers, or why not. */
    async function changeLogo(button, okKey, explain, call) {
      await busy(button, async () => {
        try {
          keep(await call());
          showLogo();
          replace(logoMessage, notice("ok", t(okKey)));
        } catch (err) {
          if (err.status === 412) conflict(logoMessage);
          else replace(logoMessage, notice("error", explain(err)));
        }
      });
    }
  }

  /** Someone else saved the look since it was loaded: say so, offer to load theirs. */
  function conflict(where) {
    replace(
      where,
      notice(
        "error",
        h("strong", null, t("admin.conflict.title")),
        " ",
        t("admin.shop.conflict"),
        " ",
        h("button", { type: "button", class: "secondary", on: { click: () => go(link("loja"), { replace: true }) } }, t("admin.conflict.reload")),
      ),
    );
    where.scrollIntoView({ block: "nearest" });
  }
}

/**
 * A colour: a text field for `#rrggbb` (labelled, what is sent) beside a colour picker, kept in
 * step, and the colour's contrast with white said under them.
 */
function colourField({ label, name, value, hint }) {
  const wrapper = field({ label, name, value, hint, maxlength: 7, autocomplete: "off", placeholder: "#0a5c36" });
  const text = wrapper.control;
  text.setAttribute("spellcheck", "false");
  const picker = h("input", { type: "color", value: normalise(value) || "#000000", "aria-label": t("admin.shop.picker", { name: label }) });
  const contrast = h("p", { class: "hint", id: `${text.id}-contrast` });
  text.setAttribute("aria-describedby", [text.getAttribute("aria-describedby"), contrast.id].filter(Boolean).join(" "));
  const row = h("div", { class: "colour-row" }, picker);
  text.replaceWith(row);
  row.append(text);
  wrapper.append(contrast);
  picker.classList.add("colour-picker");
  text.classList.add("colour-hex");

  const listeners = [];
  let last = normalise(value) || "#000000";
  function changed() {
    const ratio = contrastRatio(last, WHITE);
    const shown = new Intl.NumberFormat(lang(), { minimumFractionDigits: 1, maximumFractionDigits: 1 }).format(Math.floor(ratio * 10) / 10);
    contrast.textContent = ratio >= MIN_CONTRAST ? t("admin.shop.contrastOk", { ratio: shown }) : t("admin.shop.contrastLow", { ratio: shown });
    contrast.style.color = ratio < MIN_CONTRAST ? "var(--danger)" : "";
    contrast.style.fontWeight = ratio < MIN_CONTRAST ? "600" : "";
    for (const fn of listeners) fn();
  }
  picker.addEventListener("input", () => {
    text.value = picker.value;
    last = picker.value;
    changed();
  });
  text.addEventListener("input", () => {
    const c = normalise(text.value);
    if (!c) return;
    picker.value = c;
    last = c;
    changed();
  });
  changed();
  return {
    el: wrapper,
    row,
    text,
    picker,
    value: () => last,
    onChange: (fn) => listeners.push(fn),
  };
}

/** `#rgb` or `#rrggbb` (either case, spaces around) as `#rrggbb`; null when it is not one. */
function normalise(input) {
  const m = /^#([0-9a-f]{3}|[0-9a-f]{6})$/i.exec(String(input || "").trim());
  if (!m) return null;
  const hex = m[1].toLowerCase();
  return hex.length === 3 ? `#${[...hex].map((d) => d + d).join("")}` : `#${hex}`;
}

/** Relative luminance (WCAG 2.1) of `#rrggbb`. */
function luminance(hex) {
  const [r, g, b] = [1, 3, 5].map((i) => {
    const c = parseInt(hex.slice(i, i + 2), 16) / 255;
    return c <= 0.04045 ? c / 12.92 : ((c + 0.055) / 1.055) ** 2.4;
  });
  return 0.2126 * r + 0.7152 * g + 0.0722 * b;
}

function contrastRatio(a, b) {
  const [x, y] = [luminance(a), luminance(b)];
  return (Math.max(x, y) + 0.05) / (Math.min(x, y) + 0.05);
}

/** The text colour on `bg`: white or near-black, whichever contrasts more (as the server picks). */
function ink(bg) {
  return contrastRatio(bg, WHITE) >= contrastRatio(bg, INK) ? WHITE : INK;
}

/** A field error in the page's language where the admin has its own words for it. */
function worded(e) {
  if (e.code === "colour-too-light") {
    const ratio = Number.parseFloat(e.params && e.params.contrast);
    const shown = Number.isFinite(ratio) ? new Intl.NumberFormat(lang(), { minimumFractionDigits: 1, maximumFractionDigits: 1 }).format(ratio) : "?";
    // fieldErrorText shows `message` for a code it does not know.
    return { ...e, code: null, message: t("admin.shop.tooLight", { ratio: shown }) };
  }
  return e;
}

/** The message for a logo the server refused. */
function logoErrorText(err) {
  if (err.status === 413) return t("admin.shop.logoTooBig");
  if (err.status === 415) return t("admin.shop.logoBadType");
  const field = err.problem && err.problem.errors && err.problem.errors[0] && err.problem.errors[0].field;
  if (err.status === 422 && field === "body") return t("admin.shop.logoNotImage");
  return errorText(err);
}
