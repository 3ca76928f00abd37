// The dashboard: one page that draws whatever its address names, kept live over Socket.IO.
import { api, backFromProvider, session } from "./api.js";
import { h, refreshTimes } from "./dom.js";
import { showAdmin, showTokens } from "./views/account.js";
import { showApps } from "./views/apps.js";
import { showBuild } from "./views/build.js";
import { showNewProject } from "./views/new_project.js";
import { showProject } from "./views/project.js";
import { showProjects } from "./views/projects.js";
import { showSignIn } from "./views/signin.js";

const ROUTES = [
  [/^\/$/, showProjects],
  [/^\/projects\/new$/, showNewProject],
  [/^\/projects\/(\d+)$/, showProject],
  [/^\/builds\/(\d+)$/, showBuild],
  [/^\/apps$/, showApps],
  [/^\/tokens$/, showTokens],
  [/^\/admin$/, showAdmin],
];

const main = document.getElementById("main");
const banner = document.getElementById("banner");
const connection = document.getElementById("connection");
let socket = null;
// The view on screen; events go to it. While a view loads, a stand-in keeps them for it.
let current = {};

function say(message) {
  banner.textContent = message || "";
  banner.hidden = !message;
}

function navigate(path) {
  history.pushState(null, "", path);
  show();
}

const app = { navigate, say, signedIn, signOut };

async function show() {
  current.dispose?.();
  const pending = [];
  const loading = {
    onStatus: (build) => pending.push(["onStatus", build]),
    onLog: (piece) => pending.push(["onLog", piece]),
    onAppStatus: (build) => pending.push(["onAppStatus", build]),
    // What the view fetched may predate the connection: it is told to catch up.
    onReconnect: () => pending.push(["onReconnect"]),
  };
  current = loading;
  drawAccount();
  const [render, ...params] = session.token ? route(location.pathname) : [showSignIn];
  main.replaceChildren();
  const view = (await render(main, app, ...params)) || {};
  if (current !== loading) {
    view.dispose?.(); // the reader moved on while this view loaded
    return;
  }
  current = view;
  for (const [handler, argument] of pending) view[handler]?.(argument);
  // Move focus to the new heading, as a page load would, so keyboards and readers start there.
  main.querySelector("h1")?.focus({ preventScroll: true });
}

function route(path) {
  for (const [pattern, render] of ROUTES) {
    const match = pattern.exec(path);
    if (match) return [render, ...match.slice(1).map(Number)];
  }
  return [notFound];
}

function notFound(main) {
  main.append(h("h1", { tabindex: "-1" }, "Nothing here"),
              h("p", {}, h("a", { href: "/" }, "Back to your projects")));
}

// Whether the signed-in user is one of Stoker's admins, asked once per sign-in.
let admin = null;

function drawAccount() {
  const account = document.getElementById("account");
  if (!session.token) {
    admin = null;
    account.replaceChildren();
    return;
  }
  const users = h("a", { href: "/admin", hidden: true }, "Users");
  account.replaceChildren(h("a", { href: "/apps" }, "App builds"), h("a", { href: "/tokens" }, "API tokens"), users,
    h("button", { type: "button", onclick: () => signOut() }, "Sign out"));
  admin ??= api("GET", "/auth/me").then(({ user }) => user.admin).catch(() => false);
  admin.then((isAdmin) => { users.hidden = !isAdmin; });
}

async function connect() {
  let io;
  try {
    ({ io } = await import("/vendor/socket.io.esm.min.js"));
  } catch {
    say("Live updates are off: the Socket.IO client is not installed (run `npm ci` where Stoker is checked out).");
    return;
  }
  if (!session.token || socket) return;
  socket = io({ auth: { token: session.token }, transports: ["websocket", "polling"] });
  socket.on("connect", () => {
    setConnection(true);
    current.onReconnect?.();
  });
  socket.on("disconnect", () => setConnection(false));
  socket.on("connect_error", (error) => {
    setConnection(false);
    if (error.message === "authentication failed") sessionEnded();
  });
  socket.on("buildStatusUpdate", (build) => current.onStatus?.(build));
  socket.on("buildLog", (piece) => current.onLog?.(piece));
  socket.on("appBuildStatusUpdate", (build) => current.onAppStatus?.(build));
}

function setConnection(live) {
  connection.hidden = false;
  connection.textContent = live ? "live" : "reconnecting…";
  connection.dataset.live = live;
}

function signedIn(token) {
  session.signIn(token);
  say("");
  connect();
  show();
}

function signOut({ revoke = true } = {}) {
  // The server revokes the token, so a copy of it is no use to anyone either.
  if (revoke && session.token) api("POST", "/auth/logout").catch(() => {});
  session.signOut();
  socket?.disconnect();
  socket = null;
  connection.hidden = true;
  say("");
  show();
}

function sessionEnded() {
  if (!session.token) return;
  signOut({ revoke: false });
  say("Your session has ended. Sign in again to go on.");
}

// Links inside the page change the view without a reload, so the live connection stays up.
document.addEventListener("click", (event) => {
  const link = event.target.closest("a[href^='/']");
  if (!link || route(link.pathname)[0] === notFound || event.defaultPrevented || event.button !== 0 || event.metaKey || event.ctrlKey
      || event.shiftKey || event.altKey || link.target || link.hasAttribute("download")) return;
  event.preventDefault();
  navigate(link.getAttribute("href"));
});
window.addEventListener("popstate", show);
window.addEventListener("stoker:session-ended", sessionEnded);
setInterval(() => refreshTimes(main), 15000);

// Back from a sign-in provider, the address's fragment says how it went: a code this tab's
// cookie exchanges for a login token, or words for the banner. It is wiped at once; and read
// only if this tab went to the provider, so a link that lands here with a fragment does nothing.
async function arrived() {
  const said = new URLSearchParams(location.hash.slice(1));
  if (!["signInCode", "signInError", "linked"].some((key) => said.has(key))) return;
  history.replaceState(null, "", location.pathname);
  if (!backFromProvider()) return;
  if (said.has("signInError")) say(said.get("signInError"));
  if (said.has("linked")) say(`${said.get("linked")} is linked: you can sign in with it.`);
  if (said.has("signInCode")) {
    try {
      const { accessToken } = await api("POST", "/auth/oauth/exchange", { code: said.get("signInCode") });
      session.signIn(accessToken);
    } catch (failure) {
      say(failure.message);
    }
  }
}

await arrived();
if (session.token) connect();
show();
