/**
 * Money and decimal inputs (Yunying staff UI, browser layer).
 *
 * `<input data-widget="money|decimal">` shows thousands separators while it
 * is not focused (`12,345.60`) and the bare number while it is being edited
 * (`12345.60`); the value submitted with the form, or posted for live form
 * state, is always the bare number. Formatting works on the digits as text
 * (never through a float) and never rounds: a money input is padded to its
 * scale (`data-scale`, default 2), extra digits are left for the server to
 * judge. Text that is not a number is left exactly as typed.
 */

const SELECTOR = 'input[data-widget="money"], input[data-widget="decimal"]';
const SEPARATORS = /[,，\s]/g;
const PLAIN = /^-?(\d+\.?\d*|\.\d+)$/;
const DEFAULT_SCALE = { money: 2, decimal: null };

/** `text` without thousands separators or spaces. */
export function stripNumber(text) {
  return String(text).replace(SEPARATORS, "");
}

/** `text` with thousands separators, padded to `scale` decimals (null: as typed). */
export function formatNumber(text, scale = null) {
  const plain = stripNumber(text);
  if (!PLAIN.test(plain)) return String(text);
  const negative = plain.startsWith("-");
  const [whole, fraction = ""] = plain.replace("-", "").split(".");
  const digits = whole.replace(/^0+(?=\d)/, "") || "0";
  const grouped = digits.replace(/\B(?=(\d{3})+(?!\d))/g, ",");
  const decimals = scale !== null && fraction.length < scale ? fraction.padEnd(scale, "0") : fraction;
  return (negative ? "-" : "") + grouped + (decimals ? `.${decimals}` : "");
}

function scaleOf(input) {
  const declared = input.dataset.scale;
  if (declared !== undefined && /^\d+$/.test(declared)) return Number(declared);
  return DEFAULT_SCALE[input.dataset.widget] ?? null;
}

/** Show `input` formatted (used on load and on blur). */
export function initNumber(input) {
  if (input !== input.ownerDocument.activeElement) {
    input.value = formatNumber(input.value, scaleOf(input));
  }
}

function onFocusIn(event) {
  const input = event.target;
  if (input.matches && input.matches(SELECTOR)) input.value = stripNumber(input.value);
}

function onFocusOut(event) {
  const input = event.target;
  if (input.matches && input.matches(SELECTOR)) input.value = formatNumber(input.value, scaleOf(input));
}

// Fired whenever a form's data set is built: native submission, htmx, and
// `new FormData(form)` for live form state all get the bare numbers.
function onFormData(event) {
  for (const input of Array.from(event.target.elements || [])) {
    if (input.matches(SELECTOR) && input.name && !input.disabled && event.formData.has(input.name)) {
      event.formData.set(input.name, stripNumber(input.value));
    }
  }
}

/** Listen once on `doc` for focus changes and form data of every number input. */
export function bindNumbers(doc) {
  doc.addEventListener("focusin", onFocusIn);
  doc.addEventListener("focusout", onFocusOut);
  doc.addEventListener("formdata", onFormData);
}
