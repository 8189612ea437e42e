/**
 * Entry of the staff UI bundle (Yunying, browser layer; built by build.mjs
 * into static/dist/app.js and loaded by templates/base.html).
 *
 * Loads htmx (as `window.htmx`), puts the CSRF header on htmx and same-origin
 * fetch requests, and enhances the page on load and after every htmx swap:
 * widgets (widgets.js, numbers.js), line editors (lines.js), live form state
 * (form_state.js), confirmations, dialogs and select-all boxes (ui.js).
 * Each module's header describes the data attributes it answers to.
 */

import htmx from "htmx.org";

import { installFetchCsrf, installHtmxCsrf } from "./csrf.js";
import { initFormState } from "./form_state.js";
import { bindLines, initLines } from "./lines.js";
import { bindNumbers } from "./numbers.js";
import { bindUi, initDialogs } from "./ui.js";
import { destroyWidget, destroyWidgets, initWidgets } from "./widgets.js";

/** Enhance everything under `root` that is not enhanced yet. */
function enhance(root) {
  initWidgets(root);
  initLines(root);
  initFormState(root);
  initDialogs(root);
}

window.htmx = htmx;
installHtmxCsrf(document);
installFetchCsrf(window);
bindNumbers(document);
bindUi(document);
bindLines(document, { added: enhance, removed: destroyWidgets });

htmx.onLoad(enhance);
document.addEventListener("htmx:beforeCleanupElement", (event) => {
  // htmx cleans up text nodes too (a swapped fragment's whitespace): elements only
  if (event.target instanceof Element && event.target.hasAttribute("data-widget-ready")) {
    destroyWidget(event.target);
  }
});
if (document.readyState === "loading") {
  document.addEventListener("DOMContentLoaded", () => enhance(document));
} else {
  enhance(document);
}
