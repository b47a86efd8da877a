// The REST API, called as the signed-in user: with the browser session
// (/auth/login sets the HttpOnly obsyk_session cookie, sent same-origin only)
// or with a personal API token the user pasted.
//
// A pasted token lives in sessionStorage (this tab only, gone when it closes)
// and goes out as "Authorization: Bearer".  Under a session, unsafe requests
// echo the obsyk_csrf cookie in X-CSRF-Token: a cross-site page can make the
// browser send the session cookie but cannot read that one.

const TOKEN_KEY = "obsyk.token";
const API = "/api/v1";

export class ApiError extends Error {
  constructor(status, message, code) {
    super(message);
    this.status = status;
    this.code = code;
  }
}

export function token() {
  return sessionStorage.getItem(TOKEN_KEY);
}

export function signIn(value) {
  sessionStorage.setItem(TOKEN_KEY, value.trim());
}

export function signOut() {
  sessionStorage.removeItem(TOKEN_KEY);
}

function csrfToken() {
  const entry = document.cookie.split("; ").find((part) => part.startsWith("obsyk_csrf="));
  return entry ? decodeURIComponent(entry.slice("obsyk_csrf=".length)) : "";
}

// End the browser session on the server (and at the identity provider), then start over.
export async function endSession() {
  await fetch("/auth/logout", { method: "POST", headers: { "X-CSRF-Token": csrfToken() }, credentials: "same-origin", redirect: "manual" });
}

// GET an API path with query parameters (empty ones left out); the parsed JSON,
// or an ApiError carrying the API's own "message".
export function get(path, params = {}) {
  return call("GET", path, params);
}

// POST / DELETE with a JSON body; same answers and errors as get().
export function send(method, path, body = undefined) {
  return call(method, path, {}, body);
}

async function call(method, path, params, body) {
  // A "." or ".." segment (an id stored before the platform refused them) would be
  // resolved by the browser, encoded or not, and fetch another URL: never send it.
  if (path.split("/").some((segment) => /^(\.|%2e){1,2}$/i.test(segment))) {
    throw new ApiError(400, "This object's id cannot be used in a URL ('.' or '..').", "unsafe_path");
  }
  const url = withQuery(`${API}${path}`, params);
  const headers = { Accept: "application/json" };
  if (token()) headers.Authorization = `Bearer ${token()}`;
  else if (method !== "GET") headers["X-CSRF-Token"] = csrfToken();
  if (body !== undefined) headers["Content-Type"] = "application/json";
  let response;
  try {
    response = await fetch(url, {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
      credentials: "same-origin",
      cache: "no-store",
    });
  } catch (error) {
    throw new ApiError(0, `Could not reach the platform: ${error.message}`, "network");
  }
  const answer = response.status === 204 ? null : await response.json().catch(() => null);
  if (!response.ok) {
    const message = answer?.message ?? `The platform answered ${response.status}.`;
    throw new ApiError(response.status, message, answer?.code);
  }
  return answer;
}

// `base` with the parameters as a query string, the empty ones left out.
export function withQuery(base, params = {}) {
  const query = new URLSearchParams();
  for (const [name, value] of Object.entries(params)) {
    if (value !== undefined && value !== null && value !== "") query.set(name, value);
  }
  const search = query.toString();
  return `${base}${search ? `?${search}` : ""}`;
}

export const path = (...parts) => parts.map((part) => `/${encodeURIComponent(part)}`).join("");
