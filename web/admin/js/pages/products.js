// Products: the list (search, pages), and the editor — fields and variants (saved with If-Match:
// a product changed by someone else since it was loaded is a conflict shown to the admin, never
// overwritten), images (uploaded to Blobs), and stock adjustments per SKU.

import { get, post, put, mediaUrl, ApiError } from "/js/api.js";
import { h, replace, notice, field, busy, id, showFieldErrors, clearFieldErrors } from "/js/dom.js";
import { t, money, errorText, parseMoney, moneyInput } from "/js/i18n.js";
import { link, go } from "/js/router.js";

export async function render(main, route, ctx, productId) {
  if (productId) return editor(main, productId === "novo" ? null : productId, route);
  return list(main, route);
}

// ---------------------------------------------------------------- list

async function list(main, route) {
  document.title = t("admin.products.title");
  const q = route.query.get("q") || "";
  const after = route.query.get("after") || "";
  const body = h("div", null, h("p", { class: "muted", role: "status" }, t("admin.loading")));
  const search = field({ label: t("admin.products.search"), name: "q", type: "search", value: q });
  main.append(
    h(
      "div",
      { class: "wrap" },
      h("h1", null, t("admin.products.heading")),
      h("div", { class: "actions" }, h("a", { class: "button", href: link("produtos", "novo") }, t("admin.products.new"))),
      h(
        "form",
        { class: "inline-form", role: "search", on: { submit: (e) => { e.preventDefault(); go(link("produtos", { q: search.control.value.trim() })); } } },
        search,
        h("button", { type: "submit", class: "secondary" }, t("search.button")),
      ),
      body,
    ),
  );
  const params = new URLSearchParams({ limit: "50", sort: "name" });
  if (q) params.set("q", q);
  if (after) params.set("after", after);
  let page;
  try {
    page = await get(`/api/v1/admin/products?${params}`, { auth: "required" });
  } catch (e) {
    replace(body, notice("error", errorText(e)));
    return;
  }
  if (!page.items.length) {
    replace(body, h("p", null, t("admin.products.none")));
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
        h("caption", { class: "visually-hidden" }, t("admin.products.heading")),
        h("thead", null, h("tr", null, h("th", { scope: "col" }, t("admin.products.name")), h("th", { scope: "col" }, "SKU"), h("th", { scope: "col", class: "num" }, t("admin.products.price")), h("th", { scope: "col" }, t("admin.products.state")))),
        h(
          "tbody",
          null,
          page.items.map((p) =>
            h(
              "tr",
              null,
              h("td", null, h("a", { href: link("produtos", p.id) }, p.name), h("br"), h("span", { class: "muted" }, p.slug)),
              h("td", null, p.variants.map((v) => v.sku).join(", ")),
              h("td", { class: "num" }, money(p.price_from_centavos)),
              h("td", null, p.active ? t("admin.products.active") : t("admin.products.inactive")),
            ),
          ),
        ),
      ),
    ),
    page.next ? h("p", null, h("a", { href: link("produtos", { q, after: page.next }) }, t("catalog.next"))) : null,
  );
}

// ---------------------------------------------------------------- editor

/** "tamanho=M; cor=Azul" ⇄ { tamanho: "M", cor: "Azul" } */
function optionsToText(options) {
  return Object.entries(options || {})
    .map(([k, v]) => `${k}=${v}`)
    .join("; ");
}

function textToOptions(text) {
  const out = {};
  for (const part of text.split(/[;\n]/)) {
    const [k, ...rest] = part.split("=");
    const key = (k || "").trim();
    const value = rest.join("=").trim();
    if (key && value) out[key] = value;
  }
  return out;
}

async function editor(main, productId, route) {
  document.title = productId ? t("admin.products.editTitle") : t("admin.products.newTitle");
  const wrap = h("div", { class: "wrap" }, h("h1", null, productId ? t("admin.products.editTitle") : t("admin.products.newTitle")), h("p", { class: "muted", role: "status" }, t("admin.loading")));
  main.append(wrap);
  const state = { product: null, etag: null };
  let categories = [];
  try {
    const [cats, product] = await Promise.all([get("/api/v1/categories", { auth: false }), productId ? get(`/api/v1/admin/products/${encodeURIComponent(productId)}`, { auth: "required" }) : null]);
    categories = flatten(cats);
    if (product) {
      state.product = product;
      state.etag = product.etag;
    }
  } catch (e) {
    replace(wrap, h("h1", null, t("admin.products.editTitle")), notice("error", errorText(e)));
    return;
  }

  const message = h("div", { "aria-live": "polite" }, route.query.get("criado") ? notice("ok", t("admin.products.created")) : null);
  const p = state.product || { name: "", slug: "", description: "", category_id: null, active: true, images: [], variants: [] };
  const nameF = field({ label: t("admin.products.name"), name: "name", required: true, value: p.name, maxlength: 200 });
  const slugF = field({ label: t("admin.products.slug"), name: "slug", value: p.slug, hint: t("admin.products.slugHint") });
  const descF = field({ label: t("admin.products.description"), name: "description", type: "textarea", value: p.description, rows: 5 });
  const catF = field({ label: t("catalog.category"), name: "category_id", value: p.category_id || "", options: [["", t("admin.products.noCategory")], ...categories.map((c) => [c.id, `${"\u2014 ".repeat(c.depth)}${c.name}`])] });
  const activeBox = h("input", { type: "checkbox", id: "product-active", name: "active", checked: p.active });
  const variantsBox = h("div");
  const variantRows = [];

  function variantRow(v, isNew) {
    const row = {
      isNew,
      sku: field({ label: "SKU", name: "sku", required: true, value: v.sku || "", hint: t("admin.variants.skuHint") }),
      options: field({ label: t("admin.variants.options"), name: "options", value: optionsToText(v.options), placeholder: "tamanho=M; cor=Azul", hint: t("admin.variants.optionsHint") }),
      price: field({ label: t("admin.variants.price"), name: "price", required: true, inputmode: "decimal", value: v.price_centavos ? moneyInput(v.price_centavos) : "" }),
      compare: field({ label: t("admin.variants.compare"), name: "compare", inputmode: "decimal", value: v.compare_at_centavos ? moneyInput(v.compare_at_centavos) : "" }),
      weight: field({ label: t("admin.variants.weight"), name: "weight", type: "number", min: 0, inputmode: "numeric", value: v.weight_g ?? "" }),
      stock: isNew ? field({ label: t("admin.variants.stock"), name: "stock", type: "number", min: 0, inputmode: "numeric", value: 0 }) : null,
      data: v,
    };
    const legend = h("legend", null, t("admin.variants.legend", { n: variantRows.length + 1 }));
    row.el = h(
      "fieldset",
      { class: "variant-edit" },
      legend,
      h("div", { class: "grid-2" }, row.sku, row.options),
      h("div", { class: "grid-2" }, row.price, row.compare),
      h("div", { class: "grid-2" }, row.weight, row.stock),
      h(
        "button",
        {
          type: "button",
          class: "secondary",
          on: {
            click: () => {
              const i = variantRows.indexOf(row);
              if (i >= 0) variantRows.splice(i, 1);
              row.el.remove();
              renumber();
            },
          },
        },
        t("admin.variants.remove"),
      ),
    );
    row.legend = legend;
    return row;
  }

  function renumber() {
    variantRows.forEach((r, i) => {
      r.legend.textContent = t("admin.variants.legend", { n: i + 1 });
    });
  }

  function addVariant(v, isNew) {
    const row = variantRow(v, isNew);
    variantRows.push(row);
    variantsBox.append(row.el);
    return row;
  }
  for (const v of p.variants) addVariant(v, false);
  if (!p.variants.length) addVariant({}, true);

  const save = h("button", { type: "submit" }, productId ? t("admin.save") : t("admin.products.create"));
  const form = h(
    "form",
    { novalidate: true, on: { submit: onSave } },
    nameF,
    slugF,
    descF,
    catF,
    h("label", { class: "choice", for: "product-active" }, activeBox, t("admin.products.activeLabel")),
    h("h2", null, t("admin.variants.heading")),
    variantsBox,
    h("div", { class: "actions" }, h("button", { type: "button", class: "secondary", on: { click: () => addVariant({}, true).sku.control.focus() } }, t("admin.variants.add"))),
    h("div", { class: "actions" }, save, h("a", { href: link("produtos") }, t("admin.back"))),
  );

  const imagesBox = h("section", { class: "panel", "aria-labelledby": "images-title" });
  const stockBox = h("section", { class: "panel", "aria-labelledby": "stock-title" });

  replace(
    wrap,
    h("nav", { class: "breadcrumbs", "aria-label": t("nav.breadcrumbs") }, h("ol", null, h("li", null, h("a", { href: link("produtos") }, t("admin.products.heading"))), h("li", { "aria-current": "page" }, productId ? p.name : t("admin.products.newTitle")))),
    h("h1", null, productId ? t("admin.products.editNamed", { name: p.name }) : t("admin.products.newTitle")),
    message,
    h("div", { class: "two-cols" }, h("section", { "aria-label": t("admin.products.fields") }, form), h("div", { class: "stack" }, imagesBox, stockBox)),
  );
  showImages();
  showStock();

  function body() {
    const variants = variantRows.map((r) => {
      const price = parseMoney(r.price.control.value);
      const compare = r.compare.control.value.trim() ? parseMoney(r.compare.control.value) : null;
      const v = {
        sku: r.sku.control.value.trim(),
        options: textToOptions(r.options.control.value),
        price_centavos: price ?? 0,
        compare_at_centavos: compare,
        weight_g: parseInt(r.weight.control.value, 10) || 0,
      };
      for (const k of ["length_cm", "width_cm", "height_cm", "ncm", "cfop", "origin"]) {
        if (r.data[k] !== undefined && r.data[k] !== null) v[k] = r.data[k];
      }
      if (r.isNew && r.stock) v.stock = parseInt(r.stock.control.value, 10) || 0;
      return v;
    });
    const out = {
      name: nameF.control.value.trim(),
      description: descF.control.value,
      category_id: catF.control.value || null,
      images: state.product ? state.product.images : [],
      active: activeBox.checked,
      variants,
    };
    const slug = slugF.control.value.trim();
    if (slug) out.slug = slug;
    return out;
  }

  function fieldMap() {
    const map = { name: nameF.control, slug: slugF.control, description: descF.control, category_id: catF.control };
    variantRows.forEach((r, i) => {
      map[`variants[${i}].sku`] = r.sku.control;
      map[`variants[${i}].options`] = r.options.control;
      map[`variants[${i}].price_centavos`] = r.price.control;
      map[`variants[${i}].compare_at_centavos`] = r.compare.control;
      map[`variants[${i}].weight_g`] = r.weight.control;
      if (r.stock) map[`variants[${i}].stock`] = r.stock.control;
    });
    return map;
  }

  async function onSave(e) {
    e.preventDefault();
    clearFieldErrors(form);
    replace(message);
    await busy(save, async () => {
      try {
        if (!state.product) {
          const created = await post("/api/v1/admin/products", body(), { auth: "required" });
          go(link("produtos", created.id, { criado: "1" }), { replace: true });
          return;
        }
        const saved = await put(`/api/v1/admin/products/${encodeURIComponent(state.product.id)}`, body(), { auth: "required", headers: { "If-Match": state.etag } });
        state.product = { ...saved, variants: saved.variants };
        state.etag = saved.etag;
        for (const r of variantRows) r.isNew = false;
        replace(message, notice("ok", t("admin.products.saved")));
        showStock();
      } catch (err) {
        if (err.status === 412) {
          conflict();
        } else if (err.type === "validation") {
          const rest = showFieldErrors(form, err.problem.errors || [], fieldMap());
          replace(message, notice("error", rest.length ? errorText(err) : t("error.fields")));
        } else {
          replace(message, notice("error", errorText(err)));
        }
      }
    });
  }

  /** Someone else saved this product since it was loaded: say so, offer to load their version. */
  function conflict() {
    replace(
      message,
      notice(
        "error",
        h("strong", null, t("admin.conflict.title")),
        " ",
        t("admin.conflict.text"),
        " ",
        h("button", { type: "button", class: "secondary", on: { click: () => go(link("produtos", state.product.id), { replace: true }) } }, t("admin.conflict.reload")),
      ),
    );
    message.scrollIntoView({ block: "nearest" });
  }

  function showImages() {
    if (!state.product) {
      replace(imagesBox, h("h2", { id: "images-title" }, t("admin.images.heading")), h("p", { class: "muted" }, t("admin.images.afterCreate")));
      return;
    }
    const imgMessage = h("div", { "aria-live": "polite" });
    const fileId = id("image");
    const file = h("input", { type: "file", id: fileId, name: "image", accept: "image/png,image/jpeg,image/webp,image/avif" });
    const upload = h("button", { type: "submit" }, t("admin.images.upload"));
    const progress = h("progress", { max: 1, value: 0, hidden: true, "aria-label": t("admin.images.sending") });
    const images = state.product.images;
    replace(
      imagesBox,
      h("h2", { id: "images-title" }, t("admin.images.heading")),
      imgMessage,
      images.length
        ? h(
            "ul",
            { class: "images" },
            images.map((key, i) =>
              h(
                "li",
                null,
                h("img", { src: mediaUrl(key), alt: t("admin.images.alt", { n: i + 1, name: state.product.name }), width: 128, height: 128 }),
                h("button", { type: "button", class: "secondary", "aria-label": t("admin.images.removeNamed", { n: i + 1 }), on: { click: () => removeImage(key, imgMessage) } }, t("admin.images.remove")),
              ),
            ),
          )
        : h("p", null, t("admin.images.none")),
      h(
        "form",
        {
          on: {
            submit: async (e) => {
              e.preventDefault();
              const f = file.files && file.files[0];
              if (!f) {
                replace(imgMessage, notice("error", t("admin.images.choose")));
                return;
              }
              await busy(upload, async () => {
                try {
                  const saved = await uploadImage(state.product.id, f, state.etag, (sent, total) => {
                    progress.hidden = false;
                    progress.max = total;
                    progress.value = sent;
                    progress.textContent = t("admin.images.progress", { pct: Math.round((100 * sent) / total) });
                  });
                  state.product = saved;
                  state.etag = saved.etag;
                  showImages();
                  imagesBox.querySelector('[aria-live="polite"]').append(notice("ok", t("admin.images.uploaded")));
                } catch (err) {
                  progress.hidden = true;
                  if (err.status === 412) conflict();
                  else replace(imgMessage, notice("error", uploadErrorText(err)));
                }
              });
            },
          },
        },
        h("div", { class: "field" }, h("label", { for: fileId }, t("admin.images.file")), h("span", { class: "hint" }, t("admin.images.hint")), file),
        progress,
        h("div", { class: "actions" }, upload),
      ),
    );
  }

  async function removeImage(key, imgMessage) {
    const p = state.product;
    try {
      const saved = await put(
        `/api/v1/admin/products/${encodeURIComponent(p.id)}`,
        {
          slug: p.slug,
          name: p.name,
          description: p.description,
          category_id: p.category_id,
          images: p.images.filter((k) => k !== key),
          active: p.active,
          variants: p.variants.map((v) => ({
            sku: v.sku,
            options: v.options,
            price_centavos: v.price_centavos,
            compare_at_centavos: v.compare_at_centavos,
            weight_g: v.weight_g,
            length_cm: v.length_cm,
            width_cm: v.width_cm,
            height_cm: v.height_cm,
            ncm: v.ncm,
            cfop: v.cfop,
            origin: v.origin,
          })),
        },
        { auth: "required", headers: { "If-Match": state.etag } },
      );
      state.product = saved;
      state.etag = saved.etag;
      showImages();
    } catch (err) {
      if (err.status === 412) conflict();
      else replace(imgMessage, notice("error", errorText(err)));
    }
  }

  async function showStock() {
    if (!state.product) {
      replace(stockBox, h("h2", { id: "stock-title" }, t("admin.stock.heading")), h("p", { class: "muted" }, t("admin.stock.afterCreate")));
      return;
    }
    replace(stockBox, h("h2", { id: "stock-title" }, t("admin.stock.heading")), h("p", { class: "muted", role: "status" }, t("admin.loading")));
    const rows = [];
    for (const v of state.product.variants) {
      let available = v.available;
      if (available === undefined) {
        try {
          available = (await get(`/api/v1/admin/stock/${encodeURIComponent(v.sku)}`, { auth: "required" })).available;
        } catch {
          available = null;
        }
      }
      rows.push(stockRow(v, available));
    }
    replace(stockBox, h("h2", { id: "stock-title" }, t("admin.stock.heading")), rows);
  }

  function stockRow(v, available) {
    const level = h("strong", { "data-testid": `stock-${v.sku}` }, available === null ? "—" : String(available));
    const out = h("div", { "aria-live": "polite" });
    const delta = field({ label: t("admin.stock.delta"), name: "delta", type: "number", inputmode: "numeric", required: true, hint: t("admin.stock.deltaHint") });
    const reason = field({ label: t("admin.stock.reason"), name: "reason", maxlength: 200 });
    const apply = h("button", { type: "submit", class: "secondary" }, t("admin.stock.apply"));
    return h(
      "form",
      {
        class: "stock-row",
        on: {
          submit: async (e) => {
            e.preventDefault();
            const n = parseInt(delta.control.value, 10);
            if (!n) {
              replace(out, notice("error", t("admin.stock.nonZero")));
              return;
            }
            await busy(apply, async () => {
              try {
                const r = await post(`/api/v1/admin/stock/${encodeURIComponent(v.sku)}/adjustments`, { delta: n, reason: reason.control.value.trim() }, { auth: "required" });
                level.textContent = String(r.available);
                delta.control.value = "";
                reason.control.value = "";
                replace(out, notice("ok", t("admin.stock.done", { sku: v.sku, n: r.available })));
              } catch (err) {
                replace(out, notice("error", errorText(err)));
              }
            });
          },
        },
      },
      h("h3", null, v.sku, Object.keys(v.options || {}).length ? ` (${Object.values(v.options).join(" / ")})` : ""),
      h("p", null, t("admin.stock.available"), ": ", level),
      h("div", { class: "grid-2" }, delta, reason),
      h("div", { class: "actions" }, apply),
      out,
    );
  }
}

function flatten(nodes, depth = 0, out = []) {
  for (const n of nodes) {
    out.push({ ...n, depth });
    flatten(n.children || [], depth + 1, out);
  }
  return out;
}

// ----- image upload: target → PUT → register (docs/api.md, "Product images") -----

const IMAGE_TYPES = ["image/png", "image/jpeg", "image/webp", "image/avif"];
const MAX_IMAGE_BYTES = 5 * 1024 * 1024;

/**
 * Upload `file` as an image of product `productId` at version `etag`: ask for an upload target,
 * PUT the file there (S3 on AWS, the store itself locally; `onProgress(sent, total)` as it
 * goes), then register it. Resolves with the edited product; rejects with an ApiError.
 */
async function uploadImage(productId, file, etag, onProgress) {
  if (!IMAGE_TYPES.includes(file.type)) throw new ApiError(0, { type: "urn:vitrine:problem:image-type" });
  if (file.size > MAX_IMAGE_BYTES) throw new ApiError(0, { type: "urn:vitrine:problem:image-size" });
  const base = `/api/v1/admin/products/${encodeURIComponent(productId)}/image-uploads`;
  const target = await post(base, { content_type: file.type, size: file.size }, { auth: "required" });
  await putFile(target, file, onProgress);
  return post(`${base}/register`, { key: target.key }, { auth: "required", headers: { "If-Match": etag } });
}

/** Send `file` to an upload target with XMLHttpRequest, which reports upload progress. */
function putFile(target, file, onProgress) {
  return new Promise((resolve, reject) => {
    const xhr = new XMLHttpRequest();
    xhr.open(target.method, target.url);
    for (const [name, value] of Object.entries(target.headers || {})) xhr.setRequestHeader(name, value);
    xhr.upload.onprogress = (e) => {
      if (e.lengthComputable) onProgress(e.loaded, e.total);
    };
    xhr.onload = () => {
      if (xhr.status >= 200 && xhr.status < 300) {
        onProgress(file.size, file.size);
        resolve();
        return;
      }
      let problem = null;
      try {
        problem = JSON.parse(xhr.responseText);
      } catch {
        // S3 answers in XML: the status says enough.
      }
      reject(new ApiError(xhr.status, { type: "urn:vitrine:problem:upload-refused", detail: problem && problem.detail }));
    };
    xhr.onerror = () => reject(new ApiError(0, { type: "urn:vitrine:problem:upload-network" }));
    xhr.send(file);
  });
}

/** The message for a failed upload: the upload's own cases, else the API's. */
function uploadErrorText(err) {
  const type = (err.problem && err.problem.type) || "";
  if (type.endsWith(":image-type")) return t("admin.images.badType");
  if (type.endsWith(":image-size")) return t("admin.images.tooBig");
  if (type.endsWith(":upload-refused")) return t("admin.images.refused", { status: err.status });
  if (type.endsWith(":upload-network")) return t("admin.images.network");
  if (err.status === 410) return t("admin.images.expired");
  const field = err.problem && err.problem.errors && err.problem.errors[0] && err.problem.errors[0].field;
  if (err.status === 422 && field === "key") return t("admin.images.notImage");
  return errorText(err);
}
