// Entry point: mounts the window into index.html's #app (bundled; no inline script, CSP-safe).
import { mount } from "svelte";
import App from "./App.svelte";
import "./app.css";

const app = mount(App, { target: document.getElementById("app")! });

export default app;
