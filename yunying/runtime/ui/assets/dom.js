/**
 * DOM helpers shared by the front-end modules (Yunying staff UI, browser layer).
 */

/** Every element under `root` (and `root` itself) matching `selector`. */
export function within(root, selector) {
  const found = root.querySelectorAll ? Array.from(root.querySelectorAll(selector)) : [];
  if (root.matches && root.matches(selector)) found.unshift(root);
  return found;
}

/**
 * The element matching `selector` nearest to `start`: `start` itself, else
 * the first match inside its parent, its grandparent, and so on up.
 */
export function nearest(start, selector) {
  for (let scope = start; scope; scope = scope.parentElement) {
    if (scope.matches(selector)) return scope;
    const found = scope.querySelector(selector);
    if (found) return found;
  }
  return null;
}

/** Mark `element` as set up under `flag`; false when it already was (idempotent init). */
export function claim(element, flag) {
  const attribute = `data-${flag}-ready`;
  if (element.hasAttribute(attribute)) return false;
  element.setAttribute(attribute, "");
  return true;
}

/** Fire a bubbling custom event. */
export function emit(target, name, detail = {}) {
  target.dispatchEvent(new CustomEvent(name, { bubbles: true, detail }));
}

/** Show `text` in `element`: the value of an input, the text of anything else. */
export function showText(element, text) {
  const shown = text === null || text === undefined ? "" : String(text);
  if (element instanceof HTMLInputElement || element instanceof HTMLTextAreaElement) {
    element.value = shown;
  } else {
    element.textContent = shown;
  }
}

/** An attribute selector with the value quoted safely. */
export function attr(name, value) {
  return `[${name}="${CSS.escape(String(value))}"]`;
}
