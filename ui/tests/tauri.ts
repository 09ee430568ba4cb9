// A stand-in for the Tauri shell in component tests: `invoke` routed to per-command handlers,
// `listen` recording handlers so tests can emit events, a fake webview for drag and drop, and
// `convertFileSrc` producing glimpse:// URLs. Used through vi.mock in each component test.
import { vi } from "vitest";

type Handler = (args: Record<string, unknown>) => unknown;

export const shell = {
  commands: {} as Record<string, Handler>,
  listeners: {} as Record<string, ((e: { payload: unknown }) => void)[]>,
  drop: null as null | ((e: { payload: unknown }) => void),
  invoke: vi.fn(async (cmd: string, args: Record<string, unknown> = {}) => {
    const h = shell.commands[cmd];
    if (!h) throw `no handler for ${cmd}`;
    return h(args);
  }),
  emit(event: string, payload: unknown) {
    for (const f of shell.listeners[event] ?? []) f({ payload });
  },
  reset() {
    shell.commands = {};
    shell.listeners = {};
    shell.drop = null;
    shell.invoke.mockClear();
  },
  calls(cmd: string) {
    return shell.invoke.mock.calls.filter((c) => c[0] === cmd).map((c) => c[1] as Record<string, unknown>);
  },
};

export const coreMock = {
  invoke: (cmd: string, args?: Record<string, unknown>) => shell.invoke(cmd, args ?? {}),
  convertFileSrc: (path: string, protocol = "asset") => `${protocol}://localhost/${encodeURIComponent(path)}`,
};

export const eventMock = {
  listen: async (event: string, f: (e: { payload: unknown }) => void) => {
    (shell.listeners[event] ??= []).push(f);
    return () => {
      shell.listeners[event] = (shell.listeners[event] ?? []).filter((x) => x !== f);
    };
  },
};

export const webviewMock = {
  getCurrentWebview: () => ({
    onDragDropEvent: async (f: (e: { payload: unknown }) => void) => {
      shell.drop = f;
      return () => {
        shell.drop = null;
      };
    },
  }),
};
