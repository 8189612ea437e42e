/**
 * Input widgets chosen by `data-widget` (Yunying staff UI, browser layer).
 *
 * date / datetime → flatpickr (Chinese calendar texts when `<html lang>` is
 * zh-*; values `YYYY-MM-DD` / `YYYY-MM-DDTHH:MM`, typing allowed);
 * select → Tom Select over the server-rendered options; lookup → Tom Select
 * searching `data-lookup-url?q=…` (answer `{"items": [{"value", "text"}]}`),
 * the server rendering the current value as the selected option;
 * money / decimal → thousands separators (numbers.js).
 * Setting up is idempotent, so it runs on page load, after htmx swaps and on
 * new line rows alike.
 */

import flatpickr from "flatpickr";
import { english } from "flatpickr/dist/esm/l10n/default.js";
import { Mandarin } from "flatpickr/dist/esm/l10n/zh.js";
import TomSelect from "tom-select/base";
import clearButton from "tom-select/plugins/clear_button/plugin.js";
import removeButton from "tom-select/plugins/remove_button/plugin.js";

import { claim, within } from "./dom.js";
import { isChinese, text } from "./i18n.js";
import { initNumber } from "./numbers.js";

TomSelect.define("clear_button", clearButton);
TomSelect.define("remove_button", removeButton);

const DATE_FORMATS = { date: "Y-m-d", datetime: "Y-m-dTH:i" };

function initCalendar(input) {
  const withTime = input.dataset.widget === "datetime";
  const format = DATE_FORMATS[input.dataset.widget];
  flatpickr(input, {
    allowInput: true,
    disableMobile: true,
    dateFormat: format,
    enableTime: withTime,
    time_24hr: true,
    locale: { ...(isChinese() ? Mandarin : english), firstDayOfWeek: 1 }, // weeks start on Monday
    // Inside a modal <dialog> (the top layer) the calendar must live beside
    // the input, or it would open behind the dialog.
    static: Boolean(input.closest("dialog")),
    // Typed "2024-05-01 08:30" is read like "2024-05-01T08:30".
    parseDate: (value) => flatpickr.parseDate(value.trim().replace(" ", "T"), format),
  });
}

function messages() {
  return {
    no_results: () => `<div class="no-results">${text("noResults")}</div>`,
    loading: () => `<div class="spinner" aria-label="${text("loading")}"></div>`,
  };
}

function initSelect(select) {
  new TomSelect(select, {
    allowEmptyOption: true,
    maxOptions: null,
    create: false,
    plugins: select.multiple ? { remove_button: { title: text("remove") } } : [],
    render: messages(),
  });
}

// The server decides what matches a search: an option is shown for a query
// when the server returned it for that query, in the server's order.
function serverScore(served) {
  return function score(query) {
    const ranks = served.get(query);
    if (!ranks) {
      const needle = query.toLowerCase();
      return (item) => (String(item.text).toLowerCase().includes(needle) ? 0.5 : 0);
    }
    return (item) => (ranks.has(String(item.value)) ? 1 / (1 + ranks.get(String(item.value))) : 0);
  };
}

/** An answer arriving after the user picked and moved on must not open the
 * list again over the next fields: Tom Select refreshes (and opens) the
 * dropdown on every answer, focused or not. */
function closeIfLeft(widget) {
  if (!widget.isFocused) widget.close();
}

function loader(select, served) {
  return function load(query, callback) {
    const url = new URL(select.dataset.lookupUrl, window.location.href);
    url.searchParams.set("q", query);
    fetch(url, { headers: { Accept: "application/json" }, credentials: "same-origin" })
      .then((response) => (response.ok ? response.json() : Promise.reject(response.status)))
      .then((answer) => {
        const items = Array.isArray(answer.items) ? answer.items : [];
        served.set(query, new Map(items.map((item, rank) => [String(item.value), rank])));
        callback(items);
        closeIfLeft(this);
      })
      .catch(() => {
        delete this.loadedSearches[query]; // let the same search be tried again
        callback();
        closeIfLeft(this);
      });
  };
}

function initLookup(select) {
  const served = new Map();
  const plugins = select.multiple ? { remove_button: { title: text("remove") } } : { clear_button: { title: text("clear") } };
  new TomSelect(select, {
    valueField: "value",
    labelField: "text",
    searchField: ["text"],
    maxOptions: 50,
    create: false,
    preload: "focus",
    shouldLoad: () => true,
    load: loader(select, served),
    score: serverScore(served),
    plugins,
    render: messages(),
  });
}

const INITIALISERS = {
  date: initCalendar,
  datetime: initCalendar,
  select: initSelect,
  lookup: initLookup,
  money: initNumber,
  decimal: initNumber,
};

/** Set up every `[data-widget]` under `root` not set up yet. */
export function initWidgets(root) {
  for (const element of within(root, "[data-widget]")) {
    const init = INITIALISERS[element.dataset.widget];
    if (init && claim(element, "widget")) init(element);
  }
}

/** Tear down the widget of one element (before htmx or a line removal drops it). */
export function destroyWidget(element) {
  if (element._flatpickr) element._flatpickr.destroy();
  if (element.tomselect) element.tomselect.destroy();
  element.removeAttribute("data-widget-ready");
}

/** Tear down every widget under `root`. */
export function destroyWidgets(root) {
  within(root, "[data-widget-ready]").forEach(destroyWidget);
}

/** Close every open calendar or drop-down under `root`; true when one was open. */
export function closeOpenWidgets(root) {
  let closed = false;
  for (const element of within(root, "[data-widget-ready]")) {
    const widget = element._flatpickr || element.tomselect;
    if (widget && widget.isOpen) {
      widget.close();
      closed = true;
    }
  }
  return closed;
}

/** Enable or disable a control together with its widget. */
export function setDisabled(control, disabled) {
  if (control.tomselect) {
    if (disabled) control.tomselect.disable();
    else control.tomselect.enable();
  }
  if (control._flatpickr && disabled) control._flatpickr.close();
  control.disabled = disabled;
}

/** Mark a control required (or not) together with its widget. */
export function setRequired(control, required) {
  control.required = required;
  if (control.tomselect) {
    control.tomselect.isRequired = required;
    control.tomselect.refreshState();
  }
}
