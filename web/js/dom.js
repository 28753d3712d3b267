// Building the page. Every piece of data goes in as text (text nodes, textContent) or as an
// attribute value — never through innerHTML — so a product named `<img src=x onerror=…>` shows
// those characters and runs nothing.

import { fieldErrorText } from "./i18n.js";

const SVG = "http://www.w3.org/2000/svg";

/**
 * h("a", { href: "#/", class: "x", on: { click: fn } }, "text", child, [more])
 * Attribute values are set with setAttribute (never parsed as markup); children are nodes or
 * strings (made text nodes); null/undefined/false children are skipped.
 */
export function h(tag, props, ...children) {
  const el = document.createElement(tag);
  return fill(el, props, children);
}

/** The same for SVG elements. */
export function s(tag, props, ...children) {
  const el = document.createElementNS(SVG, tag);
  return fill(el, props, children);
}

function fill(el, props, children) {
  if (props) {
    for (const [k, v] of Object.entries(props)) {
      if (v === null || v === undefined || v === false) continue;
      if (k === "on") {
        for (const [type, fn] of Object.entries(v)) el.addEventListener(type, fn);
      } else if (k === "text") {
        el.textContent = String(v);
      } else if (k === "value" && "value" in el) {
        el.value = String(v);
      } else if (k === "checked" || k === "selected" || k === "disabled" || k === "required" || k === "multiple" || k === "hidden") {
        el[k] = Boolean(v);
      } else if (k === "dataset") {
        for (const [dk, dv] of Object.entries(v)) el.dataset[dk] = String(dv);
      } else {
        el.setAttribute(k, v === true ? "" : String(v));
      }
    }
  }
  append(el, children);
  return el;
}

export function append(el, children) {
  for (const c of children.flat(Infinity)) {
    if (c === null || c === undefined || c === false) continue;
    el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return el;
}

/** Replace everything inside `el`. */
export function replace(el, ...children) {
  el.replaceChildren();
  return append(el, children);
}

let uid = 0;
/** A unique id for label/aria wiring. */
export function id(prefix = "f") {
  uid += 1;
  return `${prefix}-${uid}`;
}

/**
 * A labelled form field: { label, name, type, value, hint, required, autocomplete, inputmode,
 * options: [[value, text]] for a select, rows for a textarea }. The hint is tied to the control
 * with aria-describedby, and so are errors later (showFieldErrors).
 * Returns the wrapper; the control is wrapper.control.
 */
export function field(o) {
  const fid = id(o.name || "f");
  let control;
  const common = {
    id: fid,
    name: o.name,
    required: o.required,
    autocomplete: o.autocomplete,
    inputmode: o.inputmode,
    maxlength: o.maxlength,
    minlength: o.minlength,
    pattern: o.pattern,
    placeholder: o.placeholder,
    min: o.min,
    max: o.max,
    step: o.step,
    class: o.class,
    "aria-describedby": o.hint ? `${fid}-hint` : null,
  };
  if (o.options) {
    control = h("select", common, o.options.map(([v, t]) => h("option", { value: v, selected: String(v) === String(o.value ?? "") }, t)));
  } else if (o.type === "textarea") {
    control = h("textarea", { ...common, rows: o.rows || 4 });
    control.value = o.value ?? "";
  } else {
    control = h("input", { ...common, type: o.type || "text", value: o.value ?? "" });
  }
  const wrap = h(
    "div",
    { class: `field ${o.wrapClass || ""}`.trim() },
    h("label", { for: fid }, o.label),
    o.hint ? h("span", { class: "hint", id: `${fid}-hint` }, o.hint) : null,
    control,
  );
  wrap.control = control;
  return wrap;
}

/** Show field problems from a validation problem next to the fields named in `map` (field → control). */
export function showFieldErrors(form, errors, map = {}) {
  clearFieldErrors(form);
  const unplaced = [];
  for (const e of errors || []) {
    const control = map[e.field] || form.querySelector(`[name="${CSS.escape(e.field)}"]`);
    if (!control) {
      unplaced.push(e);
      continue;
    }
    control.setAttribute("aria-invalid", "true");
    const eid = `${control.id}-error`;
    const msg = h("p", { class: "field-error", id: eid }, fieldErrorText(e));
    control.insertAdjacentElement("afterend", msg);
    const described = control.getAttribute("aria-describedby");
    control.setAttribute("aria-describedby", described ? `${described} ${eid}` : eid);
  }
  return unplaced;
}

export function clearFieldErrors(form) {
  for (const m of form.querySelectorAll(".field-error")) m.remove();
  for (const c of form.querySelectorAll("[aria-invalid]")) {
    c.removeAttribute("aria-invalid");
    const d = (c.getAttribute("aria-describedby") || "").split(" ").filter((x) => x && !x.endsWith("-error"));
    if (d.length) c.setAttribute("aria-describedby", d.join(" "));
    else c.removeAttribute("aria-describedby");
  }
}

/** A message box; role=alert for errors (announced at once), status otherwise. */
export function notice(kind, ...children) {
  return h("div", { class: `notice ${kind}`, role: kind === "error" ? "alert" : "status" }, children);
}

/** Disable a form's submit button while `fn` runs. */
export async function busy(button, fn) {
  button.disabled = true;
  button.setAttribute("aria-busy", "true");
  try {
    return await fn();
  } finally {
    button.disabled = false;
    button.removeAttribute("aria-busy");
  }
}
