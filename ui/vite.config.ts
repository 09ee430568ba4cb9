// Build and test configuration. The Tauri shell loads `dist/` (production) or the dev server on
// :5173 (`tauri dev`); everything is bundled, nothing is fetched at run time (the window runs
// under a strict CSP with `script-src 'self'`).
import { defineConfig } from "vitest/config";
import { svelte } from "@sveltejs/vite-plugin-svelte";
import { svelteTesting } from "@testing-library/svelte/vite";

export default defineConfig({
  plugins: [svelte(), svelteTesting()],
  base: "./",
  clearScreen: false,
  envPrefix: ["VITE_", "TAURI_ENV_"],
  server: {
    port: 5173,
    strictPort: true,
  },
  build: {
    outDir: "dist",
    emptyOutDir: true,
    // WebView2 (Chromium) on Windows, WKWebView / WebKitGTK elsewhere.
    target: ["chrome105", "safari15"],
    sourcemap: false,
  },
  test: {
    environment: "jsdom",
    include: ["tests/**/*.test.ts"],
    restoreMocks: true,
  },
});
