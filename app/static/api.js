// Stoker's API as the dashboard uses it: the tab's token on every call, every failure an ApiError.

const TOKEN_KEY = "stoker.token";

const SETTING_OUT_KEY = "stoker.signing-in";

// sessionStorage: the token lives as long as the tab, and signing out forgets it.
export const session = {
  get token() { return sessionStorage.getItem(TOKEN_KEY); },
  signIn(token) { sessionStorage.setItem(TOKEN_KEY, token); },
  signOut() { sessionStorage.removeItem(TOKEN_KEY); },
};

/** Send this tab to a sign-in provider; only a tab that did so reads what it comes back with. */
export async function goToProvider(path, body) {
  const { authorizeUrl } = await api("POST", path, body);
  sessionStorage.setItem(SETTING_OUT_KEY, "1");
  location.assign(authorizeUrl);
}

/** Whether this tab went to a sign-in provider, forgetting it: a link from anyone else that
 *  lands here with a fragment is not read. */
export function backFromProvider() {
  const went = sessionStorage.getItem(SETTING_OUT_KEY) === "1";
  sessionStorage.removeItem(SETTING_OUT_KEY);
  return went;
}

export class ApiError extends Error {
  constructor(status, message) {
    super(message);
    this.status = status;
  }
}

async function call(method, path, body) {
  const headers = {};
  if (session.token) headers.Authorization = `Bearer ${session.token}`;
  if (body !== undefined) headers["Content-Type"] = "application/json";
  let response;
  try {
    response = await fetch(`/api${path}`, {
      method, headers, body: body === undefined ? undefined : JSON.stringify(body),
    });
  } catch {
    throw new ApiError(0, "Stoker cannot be reached. Is the server running?");
  }
  if (response.status === 401 && headers.Authorization) {
    // The token expired or its user is gone: the page asks to sign in again.
    window.dispatchEvent(new CustomEvent("stoker:session-ended"));
  }
  if (!response.ok) {
    const json = (response.headers.get("Content-Type") || "").startsWith("application/json");
    const message = json ? (await response.json()).message : `${response.status} ${response.statusText}`;
    throw new ApiError(response.status, message);
  }
  return response;
}

export async function api(method, path, body) {
  return (await call(method, path, body)).json();
}

/** Save the build's whole log as a file, named as the server names it. The token goes in a header,
 *  so the browser cannot follow a plain link: the file is fetched, then handed to it. */
export async function downloadLog(buildId) {
  const response = await call("GET", `/build/${buildId}/logs?format=text`);
  const named = /filename="([^"]+)"/.exec(response.headers.get("Content-Disposition") || "");
  const link = document.createElement("a");
  link.href = URL.createObjectURL(await response.blob());
  link.download = named ? named[1] : `build-${buildId}.log`;
  link.click();
  setTimeout(() => URL.revokeObjectURL(link.href), 60_000);
}

/** The log of a build (or of one of its steps) from byte `offset`: its text, and the byte offset
 *  to ask for next. */
export async function fetchLog(buildId, offset, step) {
  const only = step === undefined ? "" : `&step=${encodeURIComponent(step)}`;
  const response = await call("GET", `/build/${buildId}/logs?offset=${offset}${only}`);
  return { text: await response.text(), next: Number(response.headers.get("X-Log-Next-Offset")) };
}
