/**
 * Line editor of a document's child rows (Yunying staff UI, browser layer).
 *
 * `<table class="lines" data-lines="<child>">`: rows `<tr data-line>` in the
 * first `<tbody>`, inputs named `<child>-<i>-<field>`; a new row is cloned
 * from `<template data-line-template>` (the one nearest the table, or
 * anywhere as `data-line-template="<child>"`) with `__i__` for the index.
 * Buttons: `[data-line-add]` (adds to the nearest line table, or to
 * `data-line-add="<child>"`), `[data-line-remove]` in a row, and the drag
 * handle `[data-line-handle]` (SortableJS; when the handle is focusable —
 * a `<button>` — arrow up / down moves its row too, for keyboard use).
 * After every add, remove or move the rows are renumbered `0..n-1` in DOM
 * order: every `<child>-<k>` in names, ids, label `for`s, aria references
 * and `data-testid`s becomes `<child>-<i>`, and `[data-line-number]` shows
 * `i + 1`; then `lines:changed` is fired on the table (form state listens).
 */

import Sortable from "sortablejs";

import { attr, claim, emit, nearest, within } from "./dom.js";

const ROW = "tr[data-line]";
const TABLE = "table[data-lines]";
const RENAMED = ["name", "id", "for", "aria-describedby", "aria-labelledby", "aria-controls", "data-testid"];
const FOCUSABLE = "input:not([type=hidden]):not([disabled]), select:not([disabled]), textarea:not([disabled])";

/** The line rows of `table`, in DOM order. */
export function lineRows(table) {
  const body = table.tBodies[0];
  return body ? Array.from(body.children).filter((row) => row.matches(ROW)) : [];
}

function indexPattern(child) {
  const escaped = child.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
  return new RegExp(`(^|[^\\w])${escaped}-(\\d+|__i__)(?=-|$|\\s)`, "g");
}

/** Renumber the rows of `table` to 0..n-1 in DOM order. */
export function renumber(table) {
  const child = table.dataset.lines;
  const pattern = indexPattern(child);
  lineRows(table).forEach((row, index) => {
    for (const element of [row, ...row.querySelectorAll("*")]) {
      for (const name of RENAMED) {
        const value = element.getAttribute(name);
        if (value && value.includes(child)) {
          element.setAttribute(name, value.replace(pattern, `$1${child}-${index}`));
        }
      }
    }
    row.querySelectorAll("[data-line-number]").forEach((cell) => { cell.textContent = String(index + 1); });
  });
}

function changed(table) {
  renumber(table);
  emit(table, "lines:changed", { child: table.dataset.lines });
}

function templateOf(table) {
  return document.querySelector(`template${attr("data-line-template", table.dataset.lines)}`)
    || nearest(table, "template[data-line-template]");
}

function tableFor(button) {
  const child = button.getAttribute("data-line-add");
  if (child) return document.querySelector(`table${attr("data-lines", child)}`);
  return nearest(button, TABLE);
}

function addButtonOf(table) {
  return document.querySelector(`[data-line-add]${attr("data-line-add", table.dataset.lines)}`)
    || nearest(table, "[data-line-add]");
}

function focusFirst(row, fallback) {
  const target = (row && row.querySelector(FOCUSABLE)) || fallback;
  if (target) target.focus();
}

function addLine(table, hooks) {
  const template = templateOf(table);
  const body = table.tBodies[0];
  if (!template || !body) return;
  const holder = document.createElement("template");
  holder.innerHTML = template.innerHTML.replaceAll("__i__", String(lineRows(table).length));
  const row = holder.content.querySelector(ROW);
  if (!row) return;
  body.append(row);
  hooks.added(row);
  changed(table);
  focusFirst(row, null);
}

function removeLine(row, hooks) {
  const table = row.closest(TABLE);
  const next = row.nextElementSibling || row.previousElementSibling;
  hooks.removed(row);
  row.remove();
  if (!table) return;
  changed(table);
  focusFirst(next && next.matches(ROW) ? next : null, addButtonOf(table));
}

const MOVES = {
  ArrowUp: (row) => {
    const before = row.previousElementSibling;
    if (before && before.matches(ROW)) before.before(row);
  },
  ArrowDown: (row) => {
    const after = row.nextElementSibling;
    if (after && after.matches(ROW)) after.after(row);
  },
};

function onHandleKey(event) {
  const handle = event.target.closest && event.target.closest("[data-line-handle]");
  const move = MOVES[event.key];
  if (!handle || !move) return;
  const row = handle.closest(ROW);
  const table = row && row.closest(TABLE);
  if (!table) return;
  event.preventDefault();
  move(row);
  changed(table);
  handle.focus();
}

/** Make the rows of every line table under `root` sortable by their handle. */
export function initLines(root) {
  for (const table of within(root, TABLE)) {
    const body = table.tBodies[0];
    if (!body || !claim(table, "lines")) continue;
    Sortable.create(body, {
      handle: "[data-line-handle]",
      draggable: ROW,
      animation: 120,
      forceFallback: true, // mouse-event dragging: reliable for table rows and test drivers
      onEnd: (event) => { if (event.oldIndex !== event.newIndex) changed(table); },
    });
  }
}

/**
 * Listen once on `doc` for the line buttons and keys. `hooks.added(row)` sets
 * up a new row's widgets, `hooks.removed(row)` tears down a removed row's.
 */
export function bindLines(doc, hooks) {
  doc.addEventListener("click", (event) => {
    const add = event.target.closest && event.target.closest("[data-line-add]");
    const remove = event.target.closest && event.target.closest("[data-line-remove]");
    if (add) {
      event.preventDefault();
      const table = tableFor(add);
      if (table) addLine(table, hooks);
    } else if (remove && remove.closest(ROW)) {
      event.preventDefault();
      removeLine(remove.closest(ROW), hooks);
    }
  });
  doc.addEventListener("keydown", onHandleKey);
}
