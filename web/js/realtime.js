// Order events over the WebSocket (/api/v1/ws; docs/api.md, "Realtime"): the token goes in the
// subprotocol list, a reconnect resumes after the last event seen, and events are deduplicated
// by id (delivery is at least once).

import { accessToken } from "./api.js";
import { clientConfig } from "./config.js";

const LAST_KEY = "vitrine.lastEvent";

// Where the socket lives: this origin's /api/v1/ws, unless the deployment says otherwise (on AWS
// the WebSocket API has its own address; GET /api/v1/config). Asked once per page.
let socketBase = null;
async function socketUrl() {
  if (!socketBase) {
    socketBase = clientConfig().then((c) => (c && c.realtime_url) || null);
  }
  const configured = await socketBase;
  if (configured) return new URL(configured);
  const url = new URL("/api/v1/ws", location.href);
  url.protocol = location.protocol === "https:" ? "wss:" : "ws:";
  return url;
}

/**
 * Call `onEvent(message)` for every order event until the returned `stop()` is called.
 * `onState("open" | "ready" | "closed")` reports the connection, for a "live" indicator.
 */
export function watchOrders(onEvent, onState = () => {}) {
  const seen = new Set();
  let last = sessionStorage.getItem(LAST_KEY);
  let ws = null;
  let stopped = false;
  let retry = 0;
  let timer = null;

  async function open() {
    if (stopped) return;
    const token = await accessToken();
    if (stopped || !token) return;
    const url = await socketUrl();
    if (stopped) return;
    if (last) url.searchParams.set("after", last);
    const socket = new WebSocket(url, ["bearer", token]);
    ws = socket;
    socket.addEventListener("open", () => {
      if (stopped) {
        socket.close(1000);
        return;
      }
      retry = 0;
      // The AWS WebSocket API takes the resume point as a message (crates/vitrine-lambda/src/ws.rs);
      // this server reads `after` from the URL.
      if (last && url.origin !== location.origin.replace(/^http/, "ws")) {
        socket.send(JSON.stringify({ action: "resume", after: last }));
      }
      onState("open");
    });
    socket.addEventListener("message", (m) => {
      let msg;
      try {
        msg = JSON.parse(m.data);
      } catch {
        return;
      }
      if (msg.type === "ready") {
        // Everything missed while disconnected has been replayed: a page may re-read its data
        // once here to close the gap between its first read and the socket.
        onState("ready");
        return;
      }
      if (msg.type !== "event" || seen.has(msg.id)) return;
      seen.add(msg.id);
      last = msg.id;
      sessionStorage.setItem(LAST_KEY, last);
      onEvent(msg);
    });
    socket.addEventListener("close", (e) => {
      if (ws === socket) ws = null;
      onState("closed");
      if (stopped) return;
      // 4001: the token expired (accessToken() refreshes it); others: back off and resume.
      retry = Math.min(retry + 1, 6);
      const delay = e.code === 4001 ? 0 : Math.min(15_000, 500 * 2 ** retry);
      timer = setTimeout(open, delay);
    });
  }

  open();
  return function stop() {
    stopped = true;
    clearTimeout(timer);
    // Closing a socket still connecting makes the browser log an error: let its "open" handler
    // close it instead.
    if (ws && ws.readyState === WebSocket.OPEN) ws.close(1000);
  };
}
