/**
 * Build the staff UI bundle (Yunying, front-end build; run by `./dev setup`
 * or `npm run build`): app.js and app.css of this folder, with the npm
 * libraries they import, into ../static/dist/app.js and app.css, and the
 * dashboards' charts.js (ECharts; loaded only by dashboard pages) — minified,
 * with linked source maps and the libraries' licence comments at the end.
 * All bundles are built in memory first and written only when all built
 * (each file through a temporary name and a rename), so a failed build never
 * leaves a half-new dist/ behind and a server never reads half a file.
 *
 *   node yunying/runtime/ui/assets/build.mjs           build once
 *   node yunying/runtime/ui/assets/build.mjs --watch   rebuild on change
 */

import { mkdir, rename, writeFile } from "node:fs/promises";
import { dirname, join, relative } from "node:path";
import { fileURLToPath } from "node:url";

import * as esbuild from "esbuild";

const ASSETS = dirname(fileURLToPath(import.meta.url));
const DIST = join(ASSETS, "..", "static", "dist");

const COMMON = {
  bundle: true,
  minify: true,
  sourcemap: "linked",
  legalComments: "eof",
  target: ["chrome105", "edge105", "firefox115", "safari16"],
  outdir: DIST,
  logLevel: "warning",
};

const BUNDLES = [
  { ...COMMON, entryPoints: [join(ASSETS, "app.css")] },
  { ...COMMON, entryPoints: [join(ASSETS, "charts.js")], format: "iife" },
  { ...COMMON, entryPoints: [join(ASSETS, "app.js")], format: "iife" },
];

function kib(bytes) {
  return `${(bytes / 1024).toFixed(1)} KiB`;
}

async function buildOnce() {
  const results = await Promise.all(BUNDLES.map((options) => esbuild.build({ ...options, write: false })));
  await mkdir(DIST, { recursive: true });
  // app.js last: ./dev compares sources against its time to decide on a rebuild.
  for (const file of results.flatMap((result) => result.outputFiles)) {
    const partial = `${file.path}.${process.pid}.tmp`;
    await writeFile(partial, file.contents);
    await rename(partial, file.path);
    if (!file.path.endsWith(".map")) console.log(`  ${relative(process.cwd(), file.path)}  ${kib(file.contents.length)}`);
  }
}

async function watch() {
  const contexts = await Promise.all(BUNDLES.map((options) => esbuild.context({ ...options, logLevel: "info" })));
  await Promise.all(contexts.map((context) => context.watch()));
  console.log("watching yunying/runtime/ui/assets (Ctrl-C to stop)");
}

try {
  if (process.argv.includes("--watch")) await watch();
  else await buildOnce();
} catch (error) {
  // esbuild has already printed located messages for build errors.
  if (!error.errors) console.error(error);
  process.exit(1);
}
