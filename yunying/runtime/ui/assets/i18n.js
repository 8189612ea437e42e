/**
 * The few texts the bundle shows itself, in zh-CN and en (Yunying staff UI,
 * browser layer). The page language is `<html lang>`, set by the server.
 */

const TEXTS = {
  clear: { zh: "清除", en: "Clear" },
  remove: { zh: "移除", en: "Remove" },
  noResults: { zh: "没有匹配的结果", en: "No results found" },
  loading: { zh: "加载中…", en: "Loading…" },
};

/** True when the page is in Chinese. */
export function isChinese(doc = document) {
  return (doc.documentElement.lang || "zh-CN").toLowerCase().startsWith("zh");
}

/** The text under `key` in the page language. */
export function text(key, doc = document) {
  const entry = TEXTS[key];
  return isChinese(doc) ? entry.zh : entry.en;
}
