// Tauri runs the page with `freezePrototype: true` (Object.prototype frozen before any script).
// Libraries that assign e.g. `obj.toString = ...` then throw at load time and the window stays
// blank; this loads and drives the whole window with the prototype frozen to catch that here.
import { describe, expect, it, vi } from "vitest";

vi.mock("@tauri-apps/api/core", async () => (await import("./tauri")).coreMock);
vi.mock("@tauri-apps/api/event", async () => (await import("./tauri")).eventMock);
vi.mock("@tauri-apps/api/webview", async () => (await import("./tauri")).webviewMock);

describe("with Object.prototype frozen", () => {
  it("the window loads, searches and renders results", async () => {
    // Frozen before the Svelte runtime, the Tauri API stand-ins and the app are evaluated.
    Object.freeze(Object.prototype);
    const { shell } = await import("./tauri");
    const { hits, page } = await import("./helpers");
    const { render, fireEvent, waitFor } = await import("@testing-library/svelte");
    shell.reset();
    shell.commands = {
      status: () => ({
        version: "1",
        model: { name: "m", ready: true, dir: "/m", problem: null },
        provider: "CPU",
        library: "/l",
        libraryProblem: null,
        heldBy: null,
        photos: 3,
        indexed: 3,
        failed: 0,
        pending: 0,
        indexing: { running: false, paused: false, progress: null, error: null },
        threads: null,
      }),
      roots: () => [{ path: "/p", online: true, photos: 3, indexed: 3, pending: 0, failed: 0, failures: [] }],
      tags: () => [{ name: "dog", count: 1 }],
      formats: () => [{ format: "jpeg", count: 3 }],
      search: () => page(hits(3)),
    };
    const App = (await import("../src/App.svelte")).default;
    const r = render(App);
    await waitFor(() => expect(document.body.dataset.ready).toBe("1"));
    await fireEvent.input(r.getByTestId("search-input"), { target: { value: "dog" } });
    await waitFor(() => expect(r.getAllByTestId("result")).toHaveLength(3));
    // A click selects, Ctrl+click adds, a right-click opens Glimpse's menu, a double click the lightbox.
    await fireEvent.click(r.getAllByTestId("result")[0]);
    await fireEvent.click(r.getAllByTestId("result")[1], { ctrlKey: true });
    await waitFor(() => expect(r.getByTestId("selection-bar")).toBeTruthy());
    await fireEvent.contextMenu(r.getAllByTestId("result")[1]);
    await waitFor(() => expect(r.getByTestId("menu-copy-paths")).toBeTruthy());
    await fireEvent.keyDown(r.getByTestId("context-menu"), { key: "Escape" });
    await fireEvent.dblClick(r.getAllByTestId("result")[0]);
    await waitFor(() => expect(r.getByTestId("lightbox")).toBeTruthy());
    expect(Object.isFrozen(Object.prototype)).toBe(true);
  });
});
