// The REST API client and the session.
//
// Tokens (docs/decisions/0009-browser-tokens.md): the access token lives only in this module's
// memory; the refresh token in sessionStorage, so it dies with the tab and a new page load in
// the same tab (storefront → admin) gets a fresh access token from it. Nothing is kept in
// localStorage but the language and the anonymous cart's token (which opens no account).

const REFRESH_KEY = "vitrine.refresh";
const CART_KEY = "vitrine.cart";

/** An API error: the HTTP status and the problem document (RFC 9457), when there is one. */
export class ApiError extends Error {
  constructor(status, problem) {
    super(problem?.detail || `HTTP ${status}`);
    this.status = status;
    this.problem = problem || {};
    this.type = (this.problem.type || "").replace("urn:vitrine:problem:", "") || (status === 0 ? "network" : "http");
  }
}

const session = { access: null, exp: 0, sub: null, email: null, name: null, groups: [] };
const listeners = new Set();
let refreshing = null;

function decodeClaims(jwt) {
  try {
    const part = jwt.split(".")[1].replace(/-/g, "+").replace(/_/g, "/");
    const json = decodeURIComponent(
      Array.from(atob(part), (c) => "%" + c.charCodeAt(0).toString(16).padStart(2, "0")).join(""),
    );
    return JSON.parse(json);
  } catch {
    return {};
  }
}

function setTokens(tokens) {
  const claims = decodeClaims(tokens.access_token);
  const idClaims = tokens.id_token ? decodeClaims(tokens.id_token) : {};
  session.access = tokens.access_token;
  session.exp = (claims.exp || 0) * 1000;
  session.sub = claims.sub || null;
  session.groups = claims["cognito:groups"] || [];
  session.email = idClaims.email || session.email;
  session.name = idClaims.name || session.name;
  if (tokens.refresh_token) sessionStorage.setItem(REFRESH_KEY, tokens.refresh_token);
  for (const fn of listeners) fn(currentUser());
}

function clearSession() {
  Object.assign(session, { access: null, exp: 0, sub: null, email: null, name: null, groups: [] });
  sessionStorage.removeItem(REFRESH_KEY);
  for (const fn of listeners) fn(null);
}

/**
 * The parts of the admin each group opens (the server's `area_of` decides; this only hides
 * what would be refused): the owner (`admin`) all, each member of staff theirs and the dashboard.
 */
const STAFF_AREAS = {
  admin: ["shared", "catalog", "orders", "owner"],
  "staff-orders": ["shared", "orders"],
  "staff-catalog": ["shared", "catalog"],
};

/** The signed-in user ({sub, email, name, groups, admin, staff, areas}) or null. */
export function currentUser() {
  if (!session.access) return null;
  const areas = [...new Set(session.groups.flatMap((g) => STAFF_AREAS[g] || []))];
  return {
    sub: session.sub,
    email: session.email,
    name: session.name,
    groups: session.groups,
    admin: session.groups.includes("admin"),
    staff: areas.length > 0,
    areas,
  };
}

export function onSessionChange(fn) {
  listeners.add(fn);
  return () => listeners.delete(fn);
}

/** Whether a refresh token is kept (a session may be restored without asking for a password). */
export function hasStoredSession() {
  return Boolean(sessionStorage.getItem(REFRESH_KEY));
}

/** A valid access token (refreshed when it is about to expire), or null when signed out. */
export async function accessToken() {
  if (session.access && session.exp - Date.now() > 60_000) return session.access;
  const refresh = sessionStorage.getItem(REFRESH_KEY);
  if (!refresh) return session.access && session.exp > Date.now() ? session.access : null;
  if (!refreshing) {
    refreshing = request("/api/v1/auth/refresh", { method: "POST", body: { refresh_token: refresh }, auth: false })
      .then((tokens) => {
        setTokens({ ...tokens, refresh_token: null });
        return session.access;
      })
      .catch((e) => {
        if (e.status === 401 || e.status === 400) clearSession();
        return null;
      })
      .finally(() => {
        refreshing = null;
      });
  }
  return refreshing;
}

/** Restore the session of this tab, if any (one refresh call). */
export async function restoreSession() {
  if (!hasStoredSession()) return null;
  await accessToken();
  return currentUser();
}

/**
 * Call the API. opts: method, body (JSON), raw (a Blob/ArrayBuffer body), contentType, headers,
 * auth (true: send the token when signed in; "required": fail without one), cart (send the
 * anonymous cart token), response: "json" (default) | "blob" | "text" | "response".
 */
export async function request(path, opts = {}) {
  const headers = { Accept: "application/json", ...(opts.headers || {}) };
  let body;
  if (opts.raw !== undefined) {
    body = opts.raw;
    headers["Content-Type"] = opts.contentType;
  } else if (opts.body !== undefined) {
    body = JSON.stringify(opts.body);
    headers["Content-Type"] = "application/json";
  }
  if (opts.auth !== false) {
    const token = await accessToken();
    if (token) headers.Authorization = `Bearer ${token}`;
    else if (opts.auth === "required") throw new ApiError(401, { type: "urn:vitrine:problem:unauthenticated", detail: "sign in first" });
  }
  if (opts.cart) {
    const cart = cartToken();
    if (cart && !headers.Authorization) headers["X-Cart-Token"] = cart;
  }
  let res;
  try {
    res = await fetch(path, { method: opts.method || "GET", headers, body, credentials: "same-origin", signal: opts.signal });
  } catch (e) {
    if (e.name === "AbortError") throw e;
    throw new ApiError(0, { detail: String(e.message || e) });
  }
  if (!res.ok) {
    let problem = null;
    const type = res.headers.get("content-type") || "";
    if (type.includes("json")) problem = await res.json().catch(() => null);
    throw Object.assign(new ApiError(res.status, problem), { etag: res.headers.get("etag") });
  }
  if (opts.response === "response") return res;
  if (opts.response === "blob") return res.blob();
  if (opts.response === "text") return res.text();
  if (res.status === 204) return null;
  const data = await res.json();
  const etag = res.headers.get("etag");
  if (etag && data && typeof data === "object") Object.defineProperty(data, "etag", { value: etag, enumerable: false });
  return data;
}

export const get = (path, opts) => request(path, { ...opts, method: "GET" });
export const post = (path, body, opts) => request(path, { ...opts, method: "POST", body });
export const put = (path, body, opts) => request(path, { ...opts, method: "PUT", body });
export const del = (path, opts) => request(path, { ...opts, method: "DELETE" });

// ----- accounts -----

export async function signIn(email, password) {
  const cart = cartToken();
  const tokens = await post("/api/v1/auth/sign-in", { email, password, ...(cart ? { cart_token: cart } : {}) }, { auth: false });
  setTokens(tokens);
  // The anonymous cart was merged into the customer's.
  if (cart) localStorage.removeItem(CART_KEY);
  notifyCart();
  return currentUser();
}

export async function signOut() {
  const refresh = sessionStorage.getItem(REFRESH_KEY);
  clearSession();
  notifyCart();
  if (refresh) await post("/api/v1/auth/sign-out", { refresh_token: refresh }, { auth: false }).catch(() => {});
}

/** Forget the session in this browser only: after the account's erasure there is nothing to
 * sign out of on the server (its tokens are already refused). */
export function forgetSession() {
  clearSession();
  notifyCart();
}

// ----- the cart -----

const cartListeners = new Set();

export function cartToken() {
  return localStorage.getItem(CART_KEY);
}

export function onCartChange(fn) {
  cartListeners.add(fn);
  return () => cartListeners.delete(fn);
}

function notifyCart(cart) {
  for (const fn of cartListeners) fn(cart || null);
}

function keepCart(cart) {
  if (cart && cart.token) localStorage.setItem(CART_KEY, cart.token);
  notifyCart(cart);
  return cart;
}

export async function getCart() {
  try {
    return keepCart(await get("/api/v1/cart", { cart: true }));
  } catch (e) {
    // An anonymous cart forgotten by the server (30 days without change): start afresh.
    if (e.status === 404 && !currentUser()) {
      localStorage.removeItem(CART_KEY);
      return keepCart({ token: null, lines: [], subtotal_centavos: 0, weight_g: 0 });
    }
    throw e;
  }
}

export async function addToCart(sku, quantity) {
  return keepCart(await post("/api/v1/cart/items", { sku, quantity }, { cart: true }));
}

export async function setCartQuantity(sku, quantity) {
  return keepCart(await put(`/api/v1/cart/items/${encodeURIComponent(sku)}`, { quantity }, { cart: true }));
}

export async function removeFromCart(sku) {
  return keepCart(await del(`/api/v1/cart/items/${encodeURIComponent(sku)}`, { cart: true }));
}

/** Tell the cart listeners that the cart changed elsewhere (an order emptied it). */
export function cartChanged(cart) {
  notifyCart(cart);
}

/** The public URL of a product image key. */
export function mediaUrl(key) {
  return `/media/${key.split("/").map(encodeURIComponent).join("/")}`;
}

/** Download a protected file (sent with the token) under `filename`. */
export async function download(path, filename) {
  const blob = await request(path, { response: "blob", headers: { Accept: "*/*" }, auth: "required" });
  const url = URL.createObjectURL(blob);
  const a = document.createElement("a");
  a.href = url;
  a.download = filename;
  a.hidden = true;
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 60_000);
}
