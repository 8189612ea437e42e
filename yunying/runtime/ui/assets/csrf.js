/**
 * CSRF header for script requests (Yunying staff UI, browser layer).
 *
 * The server checks every POST/PUT/PATCH/DELETE for the form field
 * `csrf_token` or the header `X-CSRFToken`; pages carry the token in
 * `<meta name="csrf-token">`. htmx requests and same-origin `fetch` calls get
 * the header here, so no page script has to remember it. The token is never
 * sent to another origin.
 */

export const CSRF_HEADER = "X-CSRFToken";

/** The page's CSRF token ("" when the page has none). */
export function csrfToken(doc = document) {
  const meta = doc.querySelector('meta[name="csrf-token"]');
  return meta ? meta.getAttribute("content") || "" : "";
}

/** Add the header to every htmx request. */
export function installHtmxCsrf(doc) {
  doc.addEventListener("htmx:configRequest", (event) => {
    const token = csrfToken(doc);
    if (token) event.detail.headers[CSRF_HEADER] = token;
  });
}

function sameOrigin(win, input) {
  const url = input instanceof win.Request ? input.url : String(input);
  return new URL(url, win.location.href).origin === win.location.origin;
}

/** Wrap `win.fetch` so same-origin calls carry the header (unless already set). */
export function installFetchCsrf(win) {
  const original = win.fetch.bind(win);
  win.fetch = (input, init = {}) => {
    const token = csrfToken(win.document);
    if (!token || !sameOrigin(win, input)) return original(input, init);
    const base = init.headers || (input instanceof win.Request ? input.headers : undefined);
    const headers = new win.Headers(base);
    if (!headers.has(CSRF_HEADER)) headers.set(CSRF_HEADER, token);
    return original(input, { ...init, headers });
  };
}
