// The REST API, called with the personal API token the user pasted.
//
// The token lives in sessionStorage (this tab only, gone when it closes) and
// goes out as "Authorization: Bearer" on each fetch.  No cookie is sent
// (credentials: "omit") or set, so a cross-site page cannot make the browser
// send a credential on the user's behalf: there is no CSRF surface.

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

// GET an API path with query parameters (empty ones left out); the parsed JSON,
// or an ApiError carrying the API's own "message".
export async function get(path, params = {}) {
  const query = new URLSearchParams();
  for (const [name, value] of Object.entries(params)) {
    if (value !== undefined && value !== null && value !== "") query.set(name, value);
  }
  const search = query.toString();
  const url = `${API}${path}${search ? `?${search}` : ""}`;
  let response;
  try {
    response = await fetch(url, {
      headers: { Authorization: `Bearer ${token() ?? ""}`, Accept: "application/json" },
      credentials: "omit",
      cache: "no-store",
    });
  } catch (error) {
    throw new ApiError(0, `Could not reach the platform: ${error.message}`, "network");
  }
  const body = await response.json().catch(() => null);
  if (!response.ok) {
    const message = body?.message ?? `The platform answered ${response.status}.`;
    throw new ApiError(response.status, message, body?.code);
  }
  return body;
}

export const path = (...parts) => parts.map((part) => `/${encodeURIComponent(part)}`).join("");
