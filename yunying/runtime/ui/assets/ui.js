/**
 * Small page behaviours (Yunying staff UI, browser layer):
 * `[data-confirm="text"]` asks before a button or link acts;
 * `[data-dialog-open="<id>"]` opens `<dialog id>` as a modal,
 * `[data-dialog-close]` closes its dialog, and Escape inside a dialog first
 * closes an open calendar or drop-down, then the dialog; a dialog the server
 * rendered `open` (to show a refused action again) is reopened as a modal;
 * `input[type=checkbox][data-select-all]` checks or clears every checkbox of
 * its form named by its `value` (or by `data-select-all="<name>"`), and shows
 * whether all, some or none of them are checked.
 */

import { within } from "./dom.js";
import { closeOpenWidgets } from "./widgets.js";

function closest(event, selector) {
  return event.target instanceof Element ? event.target.closest(selector) : null;
}

// Capture phase: runs before htmx or any other handler can act on the click.
function onConfirm(event) {
  const trigger = closest(event, "[data-confirm]");
  if (trigger && !window.confirm(trigger.getAttribute("data-confirm"))) {
    event.preventDefault();
    event.stopImmediatePropagation();
  }
}

function onDialog(event) {
  const opener = closest(event, "[data-dialog-open]");
  if (opener) {
    const dialog = document.getElementById(opener.getAttribute("data-dialog-open"));
    if (dialog && typeof dialog.showModal === "function" && !dialog.open) {
      event.preventDefault();
      dialog.showModal();
    }
    return;
  }
  const closer = closest(event, "[data-dialog-close]");
  const dialog = closer && closer.closest("dialog");
  if (dialog) {
    event.preventDefault();
    dialog.close();
  }
}

// "cancel" does not bubble: listened for in the capture phase.
function onDialogCancel(event) {
  if (event.target instanceof HTMLDialogElement && closeOpenWidgets(event.target)) event.preventDefault();
}

function targetName(box) {
  return box.getAttribute("data-select-all") || box.value;
}

function controlsIn(scope) {
  return scope.elements ? Array.from(scope.elements) : Array.from(scope.querySelectorAll("input"));
}

function boxesOf(scope, name) {
  return controlsIn(scope).filter((control) => control.type === "checkbox" && control.name === name
    && !control.hasAttribute("data-select-all"));
}

function scopeOf(box) {
  return box.form || box.closest("form") || box.ownerDocument;
}

function showSelection(allBox) {
  const boxes = boxesOf(scopeOf(allBox), targetName(allBox));
  const checked = boxes.filter((box) => box.checked).length;
  allBox.checked = boxes.length > 0 && checked === boxes.length;
  allBox.indeterminate = checked > 0 && checked < boxes.length;
}

function onSelection(event) {
  const box = event.target;
  if (!(box instanceof HTMLInputElement) || box.type !== "checkbox") return;
  const scope = scopeOf(box);
  if (box.hasAttribute("data-select-all")) {
    boxesOf(scope, targetName(box)).filter((other) => !other.disabled)
      .forEach((other) => { other.checked = box.checked; });
    showSelection(box);
    return;
  }
  controlsIn(scope)
    .filter((control) => control.hasAttribute("data-select-all") && targetName(control) === box.name)
    .forEach(showSelection);
}

/** Reopen as modals the dialogs under `root` that were rendered open. */
export function initDialogs(root) {
  for (const dialog of within(root, "dialog[open]")) {
    if (typeof dialog.showModal === "function" && !dialog.matches(":modal") && dialog.isConnected) {
      dialog.close();
      dialog.showModal();
    }
  }
}

/** Listen once on `doc` for confirmations, dialogs and select-all boxes. */
export function bindUi(doc) {
  doc.addEventListener("click", onConfirm, true);
  doc.addEventListener("click", onDialog);
  doc.addEventListener("cancel", onDialogCancel, true);
  doc.addEventListener("change", onSelection);
}
