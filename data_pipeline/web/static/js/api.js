// The JSON API client: every answer is the contract's envelope; failures become ApiError.
export const API = "/api/v0";
const TOKEN_KEY = "dp_api_token";

export class ApiError extends Error {
  constructor(status, envelope, fallback) {
    const err = (envelope && envelope.error) || {};
    super((envelope && envelope.message) || fallback || `HTTP ${status}`);
    this.status = status;
    this.code = err.code || (status === 0 ? "NETWORK_ERROR" : "HTTP_" + status);
    this.details = err.details || "";
    this.invalidParams = err.invalid_params || [];
  }
}

export function token() { return sessionStorage.getItem(TOKEN_KEY) || ""; }
export function setToken(value) {
  if (value) sessionStorage.setItem(TOKEN_KEY, value); else sessionStorage.removeItem(TOKEN_KEY);
}
export function authHeaders() {
  const t = token();
  return t ? { Authorization: `Bearer ${t}` } : {};
}

/** Call the API; resolves to the envelope's `data`, rejects with ApiError (message + error.details). */
export async function request(method, path, body, { form } = {}) {
  const headers = { Accept: "application/json", ...authHeaders() };
  let payload;
  if (form) payload = form;
  else if (body !== undefined) { headers["Content-Type"] = "application/json"; payload = JSON.stringify(body); }
  let resp;
  try {
    resp = await fetch(path.startsWith("/") ? path : `${API}/${path}`, { method, headers, body: payload });
  } catch (e) {
    throw new ApiError(0, null, "无法连接到服务：" + e.message);
  }
  let envelope = null;
  try { envelope = await resp.json(); } catch (_) { /* not JSON: keep the status */ }
  if (resp.status === 401) window.dispatchEvent(new Event("dp:unauthorized"));
  if (!resp.ok || !envelope || envelope.success === false) throw new ApiError(resp.status, envelope);
  return envelope.data;
}

export const get = (path) => request("GET", path);

// Conditional GETs for polled reads: the last answer per URL and its ETag; a 304 reuses the answer.
const validated = new Map();

/** GET with If-None-Match: resolves to { data, changed } (changed=false: a 304, data is the kept answer). */
export async function getIfChanged(path) {
  const url = path.startsWith("/") ? path : `${API}/${path}`;
  const kept = validated.get(url);
  const headers = { Accept: "application/json", ...authHeaders() };
  if (kept) headers["If-None-Match"] = kept.etag;
  let resp;
  try {
    // no-store: the page does the revalidation itself, so a 304 reaches this code instead of the HTTP cache
    resp = await fetch(url, { headers, cache: "no-store" });
  } catch (e) {
    throw new ApiError(0, null, "无法连接到服务：" + e.message);
  }
  if (resp.status === 304 && kept) return { data: kept.data, changed: false };
  let envelope = null;
  try { envelope = await resp.json(); } catch (_) { /* not JSON: keep the status */ }
  if (resp.status === 401) window.dispatchEvent(new Event("dp:unauthorized"));
  if (!resp.ok || !envelope || envelope.success === false) throw new ApiError(resp.status, envelope);
  const etag = resp.headers.get("ETag");
  if (etag) validated.set(url, { etag, data: envelope.data }); else validated.delete(url);
  return { data: envelope.data, changed: true };
}
export const post = (path, body) => request("POST", path, body === undefined ? {} : body);
export const del = (path) => request("DELETE", path);
export const upload = (path, form) => request("POST", path, undefined, { form });

export const taskPath = (id, rest = "") => `data_pipeline/tasks/${encodeURIComponent(id)}${rest}`;
export const fileUrl = (id, name, inline = false) =>
  `${API}/${taskPath(id, "/files/" + encodeURIComponent(name))}${inline ? "?inline=1" : ""}`;

/** Fetch a text resource (file preview); ApiError on an error envelope. */
export async function getText(url) {
  let resp;
  try { resp = await fetch(url, { headers: authHeaders() }); }
  catch (e) { throw new ApiError(0, null, "无法连接到服务：" + e.message); }
  if (!resp.ok) {
    let envelope = null;
    try { envelope = await resp.json(); } catch (_) { /* ignore */ }
    throw new ApiError(resp.status, envelope);
  }
  return resp.text();
}
