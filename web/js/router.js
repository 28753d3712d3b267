// A small hash router shared by the storefront and the admin. Hash routes work the same on
// `vitrine serve` and on S3 behind CloudFront, which serves only real files. The pages the
// server renders at real paths (`/produto/x`, `/categoria/x`: crates/vitrine-http/src/pages.rs)
// are routes too when the URL has no hash: the storefront renders the same page, interactive.

/** The current route: { path: "/produto/x", parts: ["produto", "x"], query: URLSearchParams }. */
export function current() {
  const raw = location.hash.replace(/^#/, "") || fromPath();
  const [path, qs] = raw.split("?");
  const clean = path.startsWith("/") ? path : `/${path}`;
  return {
    path: clean,
    parts: clean.split("/").filter(Boolean).map(decodeURIComponent),
    query: new URLSearchParams(qs || ""),
  };
}

/** The route of a server-rendered page's path: /produto/x, or /catalogo?categoria=x; else "/". */
function fromPath() {
  const [first, second, ...rest] = location.pathname.split("/").filter(Boolean);
  if (!second || rest.length) return "/";
  if (first === "produto") return `/produto/${second}`;
  if (first === "categoria") return `/catalogo?categoria=${second}`;
  return "/";
}

/** On a server-rendered page's path, a hash route is the storefront's: show it at "/#/…". */
function leaveServerPath() {
  if (location.hash.length > 1 && /^\/(produto|categoria)\//.test(location.pathname)) {
    history.replaceState(null, "", `/${location.hash}`);
  }
}

/** A hash link: link("/produto", slug) → "#/produto/slug"; a trailing object becomes the query. */
export function link(...segments) {
  let query = "";
  if (segments.length && typeof segments[segments.length - 1] === "object") {
    const params = new URLSearchParams();
    for (const [k, v] of Object.entries(segments.pop())) {
      if (v !== undefined && v !== null && v !== "") params.set(k, v);
    }
    const s = params.toString();
    query = s ? `?${s}` : "";
  }
  const path = segments
    .flatMap((s) => String(s).split("/"))
    .filter(Boolean)
    .map((s) => encodeURIComponent(s))
    .join("/");
  return `#/${path}${query}`;
}

export function go(hash, { replace = false } = {}) {
  if (replace) {
    history.replaceState(null, "", hash);
    window.dispatchEvent(new HashChangeEvent("hashchange"));
  } else if (location.hash === hash) {
    window.dispatchEvent(new HashChangeEvent("hashchange"));
  } else {
    location.hash = hash;
  }
}

/**
 * Start routing: `resolve(route)` returns a page module loader `() => import(...)` and args;
 * each page module exports `render(main, route, ctx)` which may return a cleanup function.
 */
export function start(main, resolve, ctx) {
  let cleanup = null;
  let seq = 0;
  async function run() {
    leaveServerPath();
    const route = current();
    const mine = ++seq;
    if (typeof cleanup === "function") {
      try {
        cleanup();
      } catch {
        // a page's cleanup never stops navigation
      }
    }
    cleanup = null;
    const { load, args } = resolve(route);
    const mod = await load();
    if (mine !== seq) return;
    main.setAttribute("aria-busy", "true");
    main.replaceChildren();
    ctx.route = route;
    ctx.isCurrent = () => mine === seq;
    let done;
    try {
      done = await mod.render(main, route, ctx, args);
    } finally {
      if (mine === seq) main.removeAttribute("aria-busy");
    }
    if (mine !== seq) {
      // Navigated away while this page was loading: undo what it started.
      if (typeof done === "function") done();
      return;
    }
    cleanup = done;
    {
      // Move focus to the new page's heading, so keyboard and screen-reader users start there.
      const heading = main.querySelector("h1");
      if (heading && ctx.navigated) {
        heading.setAttribute("tabindex", "-1");
        heading.focus({ preventScroll: true });
      }
      if (ctx.navigated) window.scrollTo(0, 0);
      ctx.navigated = true;
    }
  }
  window.addEventListener("hashchange", () => {
    run().catch(ctx.onError);
  });
  return run().catch(ctx.onError);
}
