/**
 * Live form state (Yunying staff UI, browser layer).
 *
 * A `<form data-form-state-url="…/form-state">` posts its fields (as
 * url-encoded form data, files left out, `X-CSRFToken` header) 300 ms after
 * the last input / change / line change, and applies the server's answer
 *   {"fields": {code: {"visible", "required", "readonly"}},
 *    "values": {code: text}, "lines": {child: [{field: text}]},
 *    "totals": {child: {field: text}}}
 * — the server evaluates every condition and computes every value; this
 * module only shows them:
 *   `[data-field=code]` wrapper: `hidden` when not visible, `.is-required`,
 *   `.is-readonly`; its named controls: `required`, and `disabled` when read
 *   only or hidden (so they are not submitted; `[data-locked]` controls are
 *   left alone); `[data-computed=code]` gets the value text; in row i of
 *   `table[data-lines=child]`, `[data-computed-line=field]`; in that table,
 *   `[data-line-total=field]`.
 * While a change is pending or a request is running the form has
 * `aria-busy="true"`; `form-state:applied` is fired on the form after an
 * answer is shown. Only the answer to the latest change is applied.
 */

import { attr, claim, emit, showText, within } from "./dom.js";
import { CSRF_HEADER, csrfToken } from "./csrf.js";
import { lineRows } from "./lines.js";
import { setDisabled, setRequired } from "./widgets.js";

const DELAY_MS = 300;
const NO_REQUIRED = new Set(["checkbox", "hidden", "submit", "button", "reset"]);

function controlsOf(wrapper) {
  return Array.from(wrapper.querySelectorAll("input[name], select[name], textarea[name]"))
    .filter((control) => !control.hasAttribute("data-locked"));
}

function applyField(wrapper, state) {
  const visible = state.visible !== false;
  const required = visible && state.required === true;
  const readonly = state.readonly === true;
  wrapper.hidden = !visible;
  wrapper.classList.toggle("is-required", required);
  wrapper.classList.toggle("is-readonly", readonly);
  for (const control of controlsOf(wrapper)) {
    setDisabled(control, readonly || !visible);
    if (!NO_REQUIRED.has(control.type)) setRequired(control, required && !readonly);
  }
}

function applyFields(form, fields) {
  for (const [code, state] of Object.entries(fields)) {
    for (const wrapper of form.querySelectorAll(attr("data-field", code))) {
      // A line cell may reuse a main field's code: main-field state is not its.
      if (!wrapper.closest("table[data-lines]")) applyField(wrapper, state || {});
    }
  }
}

function applyValues(form, values) {
  for (const [code, value] of Object.entries(values)) {
    form.querySelectorAll(attr("data-computed", code)).forEach((element) => showText(element, value));
  }
}

function linesTable(form, child) {
  return form.querySelector(`table${attr("data-lines", child)}`);
}

function applyLines(form, lines) {
  for (const [child, rows] of Object.entries(lines)) {
    const table = linesTable(form, child);
    if (!table || !Array.isArray(rows)) continue;
    const domRows = lineRows(table);
    rows.forEach((values, index) => {
      const row = domRows[index];
      if (!row || !values) return;
      for (const [field, value] of Object.entries(values)) {
        row.querySelectorAll(attr("data-computed-line", field)).forEach((element) => showText(element, value));
      }
    });
  }
}

function applyTotals(form, totals) {
  for (const [child, fields] of Object.entries(totals)) {
    const table = linesTable(form, child);
    if (!table || !fields) continue;
    for (const [field, value] of Object.entries(fields)) {
      table.querySelectorAll(attr("data-line-total", field)).forEach((element) => showText(element, value));
    }
  }
}

/** Show a form-state answer in `form`. */
export function applyFormState(form, answer) {
  applyFields(form, answer.fields || {});
  applyValues(form, answer.values || {});
  applyLines(form, answer.lines || {});
  applyTotals(form, answer.totals || {});
}

function encoded(form) {
  const body = new URLSearchParams();
  for (const [name, value] of new FormData(form)) {
    if (typeof value === "string") body.append(name, value);
  }
  return body;
}

function isAnswer(value) {
  return value !== null && typeof value === "object"
    && ["fields", "values", "lines", "totals"].some((key) => key in value);
}

/** The pending and running requests of one form. */
class FormState {
  constructor(form) {
    this.form = form;
    this.timer = null;
    this.request = null;
    this.latest = 0;
  }

  schedule() {
    this.latest += 1;
    this.form.setAttribute("aria-busy", "true");
    window.clearTimeout(this.timer);
    this.timer = window.setTimeout(() => this.refresh(), DELAY_MS);
  }

  async refresh() {
    const ticket = this.latest;
    if (this.request) this.request.abort();
    const request = new AbortController();
    this.request = request;
    try {
      const response = await fetch(this.form.dataset.formStateUrl, {
        method: "POST",
        body: encoded(this.form),
        headers: { Accept: "application/json", [CSRF_HEADER]: csrfToken() },
        credentials: "same-origin",
        signal: request.signal,
      });
      const answer = await response.json().catch(() => null);
      if (!response.ok) console.warn("form state answered", response.status);
      if (ticket === this.latest && isAnswer(answer)) {
        applyFormState(this.form, answer);
        emit(this.form, "form-state:applied", { status: response.status });
      }
    } catch (error) {
      if (error.name !== "AbortError") console.warn("form state not refreshed", error);
    } finally {
      if (ticket === this.latest) this.form.removeAttribute("aria-busy");
    }
  }
}

function watch(form) {
  const state = new FormState(form);
  const onChange = (event) => {
    // Tom Select's search box and other unnamed helpers change no field.
    if (event.type === "lines:changed" || (event.target && event.target.name)) state.schedule();
  };
  form.addEventListener("input", onChange);
  form.addEventListener("change", onChange);
  form.addEventListener("lines:changed", onChange);
}

/** Watch every live form under `root`. */
export function initFormState(root) {
  for (const form of within(root, "form[data-form-state-url]")) {
    if (claim(form, "form-state")) watch(form);
  }
}
