#!/usr/bin/env python3
"""End-to-end tests of the real Glimpse window: the debug app binary runs under Xvfb, driven
through tauri-driver + WebKitWebDriver (W3C WebDriver, spoken here with the standard library).

What it checks, in order, on pictures drawn at test time with ImageMagick and the repository's
shape model (models/test/shape-clip):
  1. a folder added from the folder panel is indexed (per-root status reaches N indexed),
     a HEIC among its pictures (libheif decoding inside the app's process); a pasted path is
     added only once the native dialog that asks is answered "Add folder" (pressed by xdotool),
     and declining it adds nothing;
  2. typing "red circle" shows a red circle first;
  3. the window asks the engine which picture files a drop may be (camera RAW among them), and
     dropping an image file onto the window (a real X11 drag from a GTK source, by xdotool)
     shows the dropped picture as the query and similar photos first;
  4. "Auto-tag this folder" with the labels circle/square/star tags the photos, and the tag
     filter restricts results to photos carrying the tag;
  5. the glimpse: protocol serves a photo inside the folder and refuses the same picture
     outside it, through `..` traversal and through a symlink out, and inside the folder where
     the library does not hold it as a photo (a hidden folder); the page cannot add a folder or
     search by a file by naming its path;
  6. opening Glimpse again brings the open window forward;
  7. the results on screen follow the library: a folder added after a search brings its
     matches into the grid without retyping, and deleted files leave it (with nothing typed,
     the window lists every photo under month headers, checked after step 1);
  8. a failed "Reveal in file manager" (none runs here) is said inside the lightbox, in
     words, and Copy path answers there too; a right-click opens Glimpse's own menu, whose
     Copy path puts the photo's path on the X clipboard, and Ctrl+click selects a second photo
     for "Copy paths" (both paths, one per line);
  9. the grid's justified rows: an 8000 x 600 panorama and a 600 x 3000 screenshot arriving in
     the shown folder get a wide and a narrow cell showing them whole (letterboxed), the rows
     fill the grid's width at M and XL, and a 12 MP photo's preview has twice the pixels of its
     XL cell's height (sharp on a 2x screen);
  9b. two photos tagged "holiday" from the selection bar are counted and found by the tag
     filter, and one taken off again; "Copy image" puts the picture on the clipboard at its size;
  9c. the Duplicates view groups a picture with its resized and recompressed copies (not with
     pictures of the same subject), keeps the lossless original and, once confirmed, moves the
     copies to the system Trash (a folder the test owns: the app's XDG_DATA_HOME), with their
     .trashinfo files; the other pictures stay on disk and the grid drops the copies;
  9d. Settings switches to another model (the list, what it costs), and the status and a
     search use it;
  11. a first index answers from its first batches: the window is closed, its library removed,
     and a fresh one indexes 600 pictures, paused once some are in; the listing counts exactly
     what is done and text queries answer from it, then the rest completes.
With --screenshots DIR it also saves screenshots of the whole X screen (the README's).

Usage: run.py --app target/debug/glimpse-app [--screenshots DIR] [--keep]
Exit status 0 when every check passed; a failed check prints what was seen.
"""
import argparse
import concurrent.futures
import fcntl
import http.client
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
# Overridable so that two runs (two checkouts) can share a machine.
DISPLAY = os.environ.get("GLIMPSE_E2E_DISPLAY", ":77")
SCREEN = (1600, 1000)
DRIVER_PORT = int(os.environ.get("GLIMPSE_E2E_PORT", "4444"))
NATIVE_PORT = DRIVER_PORT + 1
ELEMENT = "element-6066-11e4-a52e-4f735466cecf"


class Failure(Exception):
    pass


def check(cond, what):
    if not cond:
        raise Failure(what)
    print(f"  ok: {what}", flush=True)


# --- pictures -----------------------------------------------------------------------------

COLOURS = {"red": "rgb(215,35,35)", "blue": "rgb(35,70,215)", "yellow": "rgb(240,215,40)"}
GREYS = ["rgb(150,150,150)", "rgb(120,120,120)", "rgb(185,185,185)", "rgb(100,100,100)"]


def shape_draw(shape, cx, cy, r):
    if shape == "circle":
        return f"circle {cx},{cy} {cx + r},{cy}"
    if shape == "square":
        return f"rectangle {cx - r},{cy - r} {cx + r},{cy + r}"
    # a five-pointed star
    import math

    pts = []
    for k in range(10):
        rad = r if k % 2 == 0 else r * 0.45
        a = -math.pi / 2 + k * math.pi / 5
        pts.append(f"{cx + rad * math.cos(a):.1f},{cy + rad * math.sin(a):.1f}")
    return "polygon " + " ".join(pts)


def draw(path, colour, shape, k):
    w, h = 220 + 13 * (k % 5), 200 + 17 * (k % 4)
    r = 48 + 7 * (k % 3)
    cx, cy = w // 2 + (k % 3 - 1) * 20, h // 2 + (k % 2) * 15 - 7
    subprocess.run(
        ["convert", "-size", f"{w}x{h}", f"xc:{GREYS[k % len(GREYS)]}",
         "-fill", COLOURS[colour], "-draw", shape_draw(shape, cx, cy, r), str(path)],
        check=True,
    )


def draw_folder(folder, classes, per_class, start=0):
    folder.mkdir(parents=True, exist_ok=True)
    jobs = [(folder / f"{colour}-{shape}-{k}.png", colour, shape, k)
            for colour, shape in classes for k in range(start, start + per_class)]
    # One `convert` per picture: two at a time keep both cores busy.
    with concurrent.futures.ThreadPoolExecutor(max_workers=2) as pool:
        list(pool.map(lambda j: draw(*j), jobs))


# --- WebDriver ----------------------------------------------------------------------------


class Driver:
    def __init__(self, port):
        self.base = f"http://127.0.0.1:{port}"
        self.sid = None

    def call(self, method, path, body=None, timeout=60):
        data = None if body is None else json.dumps(body).encode()
        for attempt in range(4):
            req = urllib.request.Request(self.base + path, data=data, method=method,
                                         headers={"Content-Type": "application/json"})
            try:
                with urllib.request.urlopen(req, timeout=timeout) as r:
                    return json.loads(r.read() or b"{}").get("value")
            except urllib.error.HTTPError as e:
                raise Failure(f"WebDriver {method} {path}: {e.code} {e.read()[:500]!r}") from e
            except (http.client.RemoteDisconnected, ConnectionResetError) as e:
                # tauri-driver answers a request it could not pass on (a kept-alive
                # connection to WebKitWebDriver that had just been closed) by dropping ours
                # before sending anything: the command never ran, so it is sent again.
                if attempt == 3:
                    raise
                print(f"  (driver dropped {method} {path}: {e}; sending it again)",
                      file=sys.stderr, flush=True)
                time.sleep(0.3)

    def start(self, app, env_note):
        caps = {"capabilities": {"alwaysMatch": {
            "browserName": "wry", "tauri:options": {"application": str(app)}}}}
        v = self.call("POST", "/session", caps, timeout=120)
        self.sid = v["sessionId"]
        print(f"  session {self.sid} ({env_note})", flush=True)

    def s(self, path):
        return f"/session/{self.sid}{path}"

    def js(self, script, *args):
        return self.call("POST", self.s("/execute/sync"), {"script": script, "args": list(args)})

    def js_async(self, script, *args):
        return self.call("POST", self.s("/execute/async"), {"script": script, "args": list(args)})

    def find_all(self, testid, within=None):
        sel = {"using": "css selector", "value": f'[data-testid="{testid}"]'}
        base = self.s(f"/element/{within}") if within else self.s("")
        return [e[ELEMENT] for e in self.call("POST", base + "/elements", sel)]

    def find(self, testid, timeout=20):
        until = time.time() + timeout
        while True:
            found = self.find_all(testid)
            if found:
                return found[0]
            if time.time() > until:
                raise Failure(f'no element [data-testid="{testid}"] after {timeout} s')
            time.sleep(0.2)

    def click(self, el):
        self.call("POST", self.s(f"/element/{el}/click"), {})

    def type(self, el, text):
        self.call("POST", self.s(f"/element/{el}/value"), {"text": text})

    def clear(self, el):
        self.call("POST", self.s(f"/element/{el}/clear"), {})

    def text(self, el):
        return self.call("GET", self.s(f"/element/{el}/text"))

    def attr(self, el, name):
        return self.call("GET", self.s(f"/element/{el}/attribute/{name}"))

    def quit(self):
        if self.sid:
            try:
                self.call("DELETE", self.s(""), timeout=20)
            except Exception:  # noqa: BLE001 - best effort at teardown
                pass


def wait_for(what, fn, timeout=60, every=0.25):
    until = time.time() + timeout
    last = None
    while time.time() < until:
        last = fn()
        if last:
            return last
        time.sleep(every)
    raise Failure(f"timed out after {timeout} s waiting for {what} (last: {last!r})")


def wait_port(port, timeout=30):
    until = time.time() + timeout
    while time.time() < until:
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.1)
    raise Failure(f"nothing listens on port {port} after {timeout} s")


def results(d):
    """The rendered results, best first, once the search settled: [(path, score)]."""
    wait_for("a settled answer", lambda: d.js(
        "const r = document.querySelector('[data-testid=results]');"
        "return !r || r.dataset.loading !== '1';"), timeout=60)
    time.sleep(0.3)
    return d.js(
        "return [...document.querySelectorAll('[data-testid=result]')]"
        ".map(e => [e.dataset.path, parseFloat(e.dataset.score)]);")


def search(d, text, allow_empty=False):
    """Types `text` into the search box and returns the settled results; with `allow_empty`
    an answer of no results (every match below the relevance floor) is an answer too."""
    box = d.find("search-input")
    d.clear(box)
    d.type(box, text)
    time.sleep(0.6)  # the box answers after its debounce
    if allow_empty:
        return results(d)
    return wait_for(f"results for {text!r}", lambda: results(d), timeout=60)


def screenshot(out, name):
    if out:
        path = out / f"{name}.png"
        subprocess.run(["import", "-display", DISPLAY, "-window", "root", "-crop",
                        "1280x820+0+0", "+repage", str(path)], check=True)
        print(f"  screenshot {path}", flush=True)


def clipboard():
    """The text on the X clipboard, read through GTK (as another program pasting would)."""
    got = subprocess.run(
        ["/usr/bin/python3", "-c",
         "import gi; gi.require_version('Gtk', '3.0'); from gi.repository import Gtk, Gdk;"
         "t = Gtk.Clipboard.get(Gdk.SELECTION_CLIPBOARD).wait_for_text(); print(t or '', end='')"],
        env={**os.environ, "DISPLAY": DISPLAY}, capture_output=True, text=True, timeout=20)
    return got.stdout


def clipboard_image():
    """The picture on the X clipboard, read through GTK as a program pasting it would: the
    clipboard's targets and the decoded picture's [width, height] (None when there is none)."""
    got = subprocess.run(
        ["/usr/bin/python3", "-c",
         "import gi, json; gi.require_version('Gtk', '3.0'); from gi.repository import Gtk, Gdk;"
         "c = Gtk.Clipboard.get(Gdk.SELECTION_CLIPBOARD); ok, targets = c.wait_for_targets();"
         "p = c.wait_for_image();"
         "print(json.dumps({'targets': [t.name() for t in targets] if ok else [],"
         " 'size': [p.get_width(), p.get_height()] if p else None}))"],
        env={**os.environ, "DISPLAY": DISPLAY}, capture_output=True, text=True, timeout=20)
    try:
        return json.loads(got.stdout)
    except ValueError:
        return {"targets": [], "size": None, "error": got.stderr[-300:]}


def screen_point(d, el):
    """The middle of an element on the X screen, for real (XTEST) clicks."""
    r = d.js("const b = arguments[0].getBoundingClientRect();"
             "return [window.screenX + b.left + b.width / 2, window.screenY + b.top + b.height / 2];",
             {ELEMENT: el})
    return int(r[0]), int(r[1])


def xdotool(*args):
    subprocess.run(["xdotool", *map(str, args)], check=True,
                   env={**os.environ, "DISPLAY": DISPLAY})


# The title of the native dialog in which the shell asks before adding a pasted folder path.
CONFIRM_TITLE = "Add this folder?"


def answer_add_folder(yes):
    """Answers the shell's native "Add this folder?" dialog: Alt+A is its "_Add folder" button,
    Escape cancels it. Waits for the dialog to appear first."""
    env = {**os.environ, "DISPLAY": DISPLAY}
    found = subprocess.run(["timeout", "30", "xdotool", "search", "--sync", "--name",
                            CONFIRM_TITLE], env=env, capture_output=True, text=True)
    windows = found.stdout.split()
    if not windows:
        raise Failure(f"no '{CONFIRM_TITLE}' dialog appeared ({found.stderr.strip()})")
    # No window manager runs under Xvfb: the dialog gets the keyboard by XSetInputFocus, and
    # the key goes through XTEST (GTK ignores keys sent to a window as synthetic events).
    time.sleep(0.5)
    for win in windows:
        subprocess.run(["xdotool", "windowfocus", "--sync", win], env=env,
                       capture_output=True, timeout=10)
    xdotool("key", "--clearmodifiers", "alt+a" if yes else "Escape")


# --- the run ------------------------------------------------------------------------------


def run(args, work, procs):
    app = Path(args.app).resolve()
    photos = work / "photos"
    library = work / "library"
    outside = work / "outside"
    draw_folder(photos, [("red", "circle"), ("blue", "square"), ("yellow", "star")], 5)
    # A phone's HEIC (one more yellow star): decoded by libheif, loaded into the app's process.
    draw(photos / "yellow-star-phone.heic", "yellow", "star", 5)
    outside.mkdir()
    draw(outside / "query-blue-square.png", "blue", "square", 7)
    shutil.copy(photos / "red-circle-0.png", outside / "copy.png")
    os.symlink(outside / "copy.png", photos / "link-out.png")
    # Inside the folder, and never a photo of the library (hidden folders are not indexed).
    (photos / ".private").mkdir()
    shutil.copy(photos / "red-circle-0.png", photos / ".private" / "copy.png")

    env = {**os.environ, "DISPLAY": DISPLAY, "GLIMPSE_HOME": str(library),
           "GLIMPSE_MODEL": str(ROOT / "models/test/shape-clip"),
           # Settings offers the model folders here (step 8c switches to tiny-clip).
           "GLIMPSE_MODELS_DIR": str(work / "models"),
           "GDK_BACKEND": "x11", "WEBKIT_DISABLE_COMPOSITING_MODE": "1",
           "NO_AT_BRIDGE": "1", "RUST_LOG": "info",
           # The freedesktop Trash (Trash/files, Trash/info) lives here: a folder the test owns.
           "XDG_DATA_HOME": str(work / "xdg-data"),
           # The OCR models scripts/setup.sh fetched: the window reads the words in pictures.
           "GLIMPSE_OCR_MODELS": str(ROOT / ".cache/ocr/ppocr-v4")}
    (work / "xdg-data").mkdir()
    (work / "models").mkdir()
    for m in ["shape-clip", "tiny-clip"]:
        os.symlink(ROOT / "models/test" / m, work / "models" / m)
    log = open(work / "app-driver.log", "w")
    # A session bus of the run's own: without one, GTK/WebKit autolaunch a bus tied to the X
    # display, which can outlive or vanish under a later run on the same display number.
    bus = subprocess.Popen(["dbus-daemon", "--session", "--nofork", "--print-address=1"],
                           stdout=subprocess.PIPE, stderr=log, text=True)
    procs.append(bus)
    env["DBUS_SESSION_BUS_ADDRESS"] = bus.stdout.readline().strip()
    procs.append(subprocess.Popen(
        ["Xvfb", DISPLAY, "-screen", "0", f"{SCREEN[0]}x{SCREEN[1]}x24", "-nolisten", "tcp"],
        stdout=log, stderr=log))
    time.sleep(1)
    procs.append(subprocess.Popen(
        ["tauri-driver", "--port", str(DRIVER_PORT), "--native-port", str(NATIVE_PORT),
         "--native-driver", os.environ.get("GLIMPSE_E2E_NATIVE_DRIVER") or shutil.which("WebKitWebDriver") or "/usr/bin/WebKitWebDriver"],
        env=env, stdout=log, stderr=log))
    wait_port(DRIVER_PORT)
    # Another Glimpse indexing the library when the window opens: held here the way the engine
    # holds it (flock on writer.lock, who in the file), and let go once the window has said so.
    library.mkdir()
    holder = open(library / "writer.lock", "w")
    fcntl.flock(holder, fcntl.LOCK_EX | fcntl.LOCK_NB)
    holder.write(f"e2e-holder, pid {os.getpid()}\n")
    holder.flush()
    d = Driver(DRIVER_PORT)
    try:
        d.start(app, f"library {library}")
        procs.append(d)
    except Failure:
        # The native driver may come up a moment after tauri-driver's own port.
        wait_port(NATIVE_PORT)
        d.start(app, f"library {library}")
        procs.append(d)
    shots = Path(args.screenshots).resolve() if args.screenshots else None
    if shots:
        shots.mkdir(parents=True, exist_ok=True)

    print("0. a library another Glimpse is indexing", flush=True)
    wait_for("the window to be ready", lambda: d.js("return document.body.dataset.ready === '1'"))
    held = d.text(d.find("library-held"))
    check(f"Another Glimpse (e2e-holder, pid {os.getpid()}) is indexing this library" in held,
          "the window says who is indexing its library")
    check(d.find_all("first-run") == [] and d.find_all("search-input") != [],
          "and searches meanwhile (no first-run screen)")
    d.type(d.find("folder-path-input"), str(photos))
    d.click(d.find("folder-path-add"))
    refused = wait_for("the folder to be refused", lambda: d.find_all("error") and d.text(d.find("error")))
    check("change its folders there" in refused and d.find_all("root") == [],
          f"a folder cannot be added meanwhile ({refused!r})")
    screenshot(shots, "library-held")
    d.click(d.find("error-dismiss"))
    holder.close()
    wait_for("the window to take the library over once it is free",
             lambda: d.find_all("library-held") == [], timeout=30)

    print("1. adding a folder and indexing it", flush=True)
    check(d.find_all("empty-state") != [], "an empty library says how to start")
    check("CPU" in d.text(d.find("provider")), "the provider in use is shown")
    # The path refused in step 0 is still in the box: the same click asks to add it now. The
    # shell asks in a native dialog first; declined, nothing is added.
    typed = d.js("return document.querySelector('[data-testid=folder-path-input]').value")
    check(typed == str(photos), f"the refused path waits in the box ({typed!r})")
    d.click(d.find("folder-path-add"))
    answer_add_folder(False)
    time.sleep(1.0)
    check(d.find_all("root") == [] and d.find_all("error") == [],
          "a pasted folder declined in the native dialog is not added")
    d.click(d.find("folder-path-add"))
    answer_add_folder(True)
    root = d.find("root")
    check(d.attr(root, "data-path") == str(photos.resolve()), "the folder is listed")
    def settled():
        t = d.text(d.find("root-status"))
        m = re.search(r"(\d+) indexed", t)
        return t if m and int(m.group(1)) == 16 and "0 pending" in t else None

    # 15 PNGs and the HEIC; the symlink out is never followed, so never indexed.
    status = wait_for("16 photos indexed", settled, timeout=180)
    check("0 failed" in status, f"nothing failed ({status})")
    check(True, f"folder status: {status}")

    # The same folder again, and a folder inside it: no dialog, said in the panel (not an
    # error), and nothing added.
    (photos / "Garden").mkdir()
    for again, said in [(photos, "is already in your library."),
                        (photos / "Garden", "inside “photos”: its photos are searchable")]:
        d.type(d.find("folder-path-input"), str(again))
        d.click(d.find("folder-path-add"))
        notice = d.text(d.find("folder-notice", timeout=20))
        check(said in notice and d.find_all("error") == [] and len(d.find_all("root")) == 1,
              f"adding {again.name} again says so ({notice!r})")
        d.click(d.find("folder-notice-dismiss"))
        wait_for("the notice to go", lambda: d.find_all("folder-notice") == [], timeout=10)

    print("1b. all photos, with nothing typed", flush=True)
    listed = wait_for("the listing of every photo",
                      lambda: (lambda r: r if len(r) == 16 else None)(results(d)), timeout=60)
    check(all(s is None or s != s for _, s in listed), "the window opens on all 16 photos, unscored")
    headers = [d.text(e) for e in d.find_all("month-header")]
    check(len(headers) >= 1 and all(re.search(r"\b20\d\d\b", h) for h in headers),
          f"grouped under month headers ({headers})")
    summary = d.text(d.find("result-summary"))
    check("newest first" in summary, f"the summary says the order ({summary!r})")

    print("2. searching by text", flush=True)
    found = search(d, "red circle")
    check(len(found) >= 3, f"{len(found)} results for 'red circle'")
    check("red-circle" in found[0][0], f"best result is a red circle ({found[0]})")
    check(all(a[1] >= b[1] for a, b in zip(found, found[1:])), "results are best first")
    screenshot(shots, "search")

    print("3. dropping an image file onto the window", flush=True)
    # What a drop may be comes from the engine (a RAW file is taken; HEIC where it decodes).
    types = d.js_async("""
        const done = arguments[arguments.length - 1];
        window.__TAURI_INTERNALS__.invoke('picture_types')
            .then((t) => done(t.join(',')), (e) => done('error: ' + e));
    """)
    check({"jpg", "png", "dng", "cr3"} <= set(types.split(",")),
          f"the window asks the engine which pictures it reads ({types})")
    src = subprocess.Popen(["/usr/bin/python3", str(ROOT / "tests/e2e/drag_source.py"),
                            str(outside / "query-blue-square.png"), "1340", "80"],
                           env=env, stdout=subprocess.PIPE, text=True)
    procs.append(src)
    check(src.stdout.readline().strip() == "READY", "the drag source window is up")
    time.sleep(0.5)
    xdotool("mousemove", 1420, 140)
    xdotool("mousedown", 1)
    for x, y in [(1400, 150), (1350, 200), (1200, 300), (900, 400), (700, 420)]:
        xdotool("mousemove", x, y)
        time.sleep(0.15)
    time.sleep(0.5)
    xdotool("mouseup", 1)
    wait_for("the query card", lambda: d.find_all("query-card"), timeout=30)
    img = d.find("query-image")
    src_attr = d.attr(img, "src") or ""
    check(src_attr.startswith("data:image/jpeg") or src_attr.startswith("glimpse:")
          or "glimpse.localhost" in src_attr, "the dropped picture is shown as the query")
    found = wait_for("results for the dropped picture", lambda: results(d), timeout=60)
    # The model's similar floor: the five blue squares, the other shapes behind "Show more".
    check(sorted(Path(p).name for p, _ in found) == [f"blue-square-{k}.png" for k in range(5)],
          f"the photos like it are the blue squares: {[Path(p).name for p, _ in found]}")
    screenshot(shots, "drop")
    d.click(d.find("show-more"))
    more = wait_for("weaker matches", lambda: (lambda r: r if len(r) > len(found) else None)(results(d)))
    check([p for p, _ in more[:len(found)]] == [p for p, _ in found]
          and not any("blue-square" in p for p, _ in more[len(found):]),
          f"'Show more' adds the other shapes after them: {[Path(p).name for p, _ in more]}")
    d.click(d.find("query-clear"))

    print("4. auto-tagging the folder and filtering by a tag", flush=True)
    d.click(d.find("autotag"))
    d.click(d.find("label-clear-all"))
    check(d.find_all("label-chip") == [], "the label list is empty")
    box = d.find("label-input")
    for label in ["circle", "square", "star"]:
        d.type(box, label + "\n")
    check(len(d.find_all("label-chip")) == 3, "three labels entered")
    d.click(d.find("autotag-run"))
    report = d.text(d.find("autotag-report", timeout=60))
    check("circle" in report, f"tagging report: {report!r}")

    def folder_lines():
        return [d.text(e) for e in d.find_all("root-autotag")]
    lines = wait_for("the folder list to show the auto-tag", lambda: folder_lines() or None,
                     timeout=20)
    check(lines == ["Auto-tags new photos: circle, square, star"],
          f"the folder list says the folder tags new photos ({lines})")
    tag = wait_for("the 'star' tag in the tag list", lambda: [
        e for e in d.find_all("tag-filter") if d.attr(e, "data-tag") == "star"], timeout=30)
    d.click(tag[0])
    check(d.find_all("active-tag") != [], "the tag filter is active")
    found = search(d, "red circle", allow_empty=True)
    # Nothing matches well: the quiet "Show the closest anyway" (or "Show more" beside results).
    weaker = d.find_all("show-closest") or d.find_all("show-more")
    if weaker:
        d.click(weaker[0])
        found = wait_for("weaker results", lambda: results(d), timeout=30)
    check(len(found) >= 3, f"{len(found)} results with the star tag")
    check(all("yellow-star" in p for p, _ in found),
          f"only photos tagged star: {[Path(p).name for p, _ in found]}")
    chips = d.js("return [...document.querySelectorAll('[data-testid=result] "
                 "[data-testid=tag-chip]')].map(e => e.textContent.trim())")
    check(chips and all("star" in c for c in chips if c), f"tag chips on photos: {chips[:6]}")
    screenshot(shots, "tags")
    # Nothing typed: the tag alone lists every photo carrying it, by date, with no scores.
    listed = search(d, " ")
    check({p for p, _ in listed} == {p for p, _ in found},
          f"the tag's listing is its photos: {sorted(Path(p).name for p, _ in listed)}")
    check(all(s is None or s != s for _, s in listed), "a listing shows no scores")
    summary = d.text(d.find("result-summary"))
    check("newest first" in summary, f"the listing says its order ({summary!r})")
    # The type checkboxes are the library's formats; ticking HEIC narrows to the phone's photo.
    def type_box(name):
        return {d.attr(e, "data-type"): e for e in d.find_all("filter-type")}.get(name)
    offered = sorted(d.attr(e, "data-type") for e in d.find_all("filter-type"))
    check(offered == ["heic", "png"], f"the type filter offers the library's formats: {offered}")
    d.click(type_box("heic"))

    def narrowed():
        got = results(d)
        return got if len(got) < len(listed) else None
    heics = wait_for("the HEIC listing", narrowed, timeout=30)
    check([Path(p).name for p, _ in heics] == ["yellow-star-phone.heic"],
          f"HEIC lists the phone's photo only: {[Path(p).name for p, _ in heics]}")
    d.click(type_box("heic"))
    d.click(d.find("active-tag"))
    # A photo copied into the tagged folder later is tagged as it is indexed, and tagging the
    # folder again starts from the folder's own labels.
    def star_count():
        for e in d.find_all("tag-filter"):
            if d.attr(e, "data-tag") == "star":
                return int(d.text(e).split()[-1].replace(",", ""))
        return 0
    d.click(d.find("autotag-close"))
    stars = star_count()
    draw(photos / "yellow-star-later.png", "yellow", "star", 7)
    wait_for("the photo copied in later to be tagged star", lambda: star_count() == stars + 1,
             timeout=60)
    check(True, f"star tag: {stars} -> {star_count()} photos")
    d.click(d.find("autotag"))
    again = wait_for("the folder's labels", lambda: [
        d.attr(e, "data-label") for e in d.find_all("label-chip")] or None, timeout=20)
    check(again == ["circle", "square", "star"], f"tagging again starts from them ({again})")
    keeps = d.text(d.find("autotag-keeps"))
    check("as they arrive" in keeps, f"the editor says the folder keeps tagging ({keeps!r})")
    d.click(d.find("autotag-stop"))
    wait_for("the line to go once stopped", lambda: d.find_all("autotag-keeps") == [], timeout=20)
    wait_for("the folder list to drop the auto-tag", lambda: folder_lines() == [], timeout=20)
    check(True, "the folder list no longer shows the stopped auto-tag")

    print("5. the protocol serves inside the folder only", flush=True)
    probe = """
        const [path, done] = [arguments[0], arguments[arguments.length - 1]];
        const url = window.__TAURI_INTERNALS__.convertFileSrc(path, 'glimpse');
        const img = new Image();
        img.onload = () => done('loaded ' + img.naturalWidth);
        img.onerror = () => done('refused');
        img.src = url;
    """
    inside = d.js_async(probe, str(photos / "red-circle-0.png"))
    check(inside.startswith("loaded"), f"a photo inside the folder loads ({inside})")
    for name, p in [("outside the folders", str(outside / "copy.png")),
                    ("through ..", str(photos) + "/../outside/copy.png"),
                    ("through a symlink out", str(photos / "link-out.png")),
                    ("inside the folder but not a library photo",
                     str(photos / ".private" / "copy.png")),
                    ("the library's catalog", str(library / "catalog.sqlite")),
                    ("a system file", "/etc/passwd")]:
        got = d.js_async(probe, p)
        check(got == "refused", f"a request {name} is refused ({got})")
    # The page names no file or folder to the engine: the old path-taking command is gone, and a
    # search that names a file is a search for nothing.
    named = d.js_async("""
        const [path, done] = [arguments[0], arguments[arguments.length - 1]];
        window.__TAURI_INTERNALS__.invoke('add_root', { path })
            .then(() => done('added'), (e) => done('refused: ' + e));
    """, str(outside))
    check(named.startswith("refused") and d.attr(d.find("root"), "data-path") == str(photos.resolve())
          and len(d.find_all("root")) == 1, f"the page cannot add a folder by naming it ({named})")
    by_path = d.js_async("""
        const [path, done] = [arguments[0], arguments[arguments.length - 1]];
        const query = { examplePath: path, limit: 10, offset: 0, includeWeak: true, sort: 'score', filter: {} };
        window.__TAURI_INTERNALS__.invoke('search', { query })
            .then((p) => done(p.hits.every((h) => h.score === null) ? 'listing' : 'scored ' + p.hits.length),
                  (e) => done('error: ' + e));
    """, str(outside / "query-blue-square.png"))
    # The path is dropped before the engine sees the query, which is then the plain listing.
    check(by_path == "listing", f"a search naming a file reads nothing ({by_path})")

    print("6. opening Glimpse again brings the open window forward", flush=True)
    # Without single-instance handling a second window would open (and find its library in use).
    second = subprocess.Popen([str(app)], env=env, stdout=log, stderr=log)
    procs.append(second)
    try:
        code = second.wait(timeout=30)
    except subprocess.TimeoutExpired:
        code = None
    check(code == 0, f"the second launch hands over to the open window and exits (exit {code})")
    log.flush()
    told = wait_for("the open window to hear of it",
                    lambda: "Glimpse was opened again" in (work / "app-driver.log").read_text(errors="replace"),
                    timeout=10)
    check(told, "the open window was told and came forward")
    check(d.find_all("search-input") != [], "the open window still answers")

    print("7. the results follow the library", flush=True)
    d.click(d.find("autotag-close"))
    before = search(d, "red square", allow_empty=True)
    check(not any("red-square" in p for p, _ in before),
          f"no red square yet ({[Path(p).name for p, _ in before][:5]})")
    arrivals = work / "arrivals"
    draw_folder(arrivals / "Reds", [("red", "square")], 40)
    draw_folder(arrivals / "Blues" / "Deep", [("blue", "circle")], 40)
    d.type(d.find("folder-path-input"), str(arrivals))
    d.click(d.find("folder-path-add"))
    answer_add_folder(True)
    seen_mid_index = []

    def indexing():
        return d.js("const p = document.querySelector('[data-testid=progress]');"
                    "return !!p && p.dataset.running === '1';")

    def red_squares():
        got = [p for p, _ in results(d) if "red-square" in p]
        if got and not seen_mid_index:
            seen_mid_index.append(indexing())
        return got
    # Typed once, before the folder came: the grid follows without another keystroke.
    wait_for("red squares to appear in the results on screen", red_squares, timeout=120)
    check(True, "red squares arrived in the shown results without retyping "
          f"({'while indexing ran' if seen_mid_index[0] else 'after indexing'})")
    wait_for("the folder to be indexed", lambda: not indexing(), timeout=180)
    shown = red_squares()
    gone = sorted(shown)[:6]
    for p in gone:
        os.remove(p)
    def without_gone():
        got = [p for p, _ in results(d)]
        return got if got and not set(gone) & set(got) else None
    after = wait_for("deleted photos to leave the results", without_gone, timeout=120)
    check(any("red-square" in p for p in after),
          f"{len(gone)} deleted photos left the grid, the other red squares stayed")

    # The folder tree: the new folder's subfolders with their counts; one lists its photos.
    search(d, " ")
    arrivals_root = [e for e in d.find_all("root") if d.attr(e, "data-path") == str(arrivals.resolve())]
    check(len(arrivals_root) == 1, "the new folder is listed")
    d.click(d.find_all("root-subfolders-toggle", within=arrivals_root[0])[0])
    rows = wait_for("its subfolders", lambda: [
        (d.attr(e, "data-path"), d.text(e).split()) for e in d.find_all("subfolder")] or None, timeout=20)
    names = [(Path(p).name, words[-1]) for p, words in rows]
    check(names == [("Blues", "40"), ("Deep", "40"), ("Reds", str(40 - len(gone)))],
          f"the subfolders with their photos: {names}")
    deep = [e for e in d.find_all("subfolder") if Path(d.attr(e, "data-path")).name == "Deep"][0]
    d.click(deep)

    def only_deep():
        got = results(d)
        return got if got and all("/Blues/Deep/" in p for p, _ in got) else None
    shown = wait_for("the subfolder's photos", only_deep, timeout=30)
    summary = d.text(d.find("result-summary"))
    # The grid renders the rows near the view; the summary counts them all.
    check(all("blue-circle" in p for p, _ in shown) and summary.startswith("40 photos in “Deep”"),
          f"the subfolder lists its own 40 photos ({summary!r}, {len(shown)} drawn)")
    # The Folder filter offers the subfolders too, indented under their root, read once the
    # pointer comes to it.
    xdotool("mousemove", *screen_point(d, d.find("filter-folder")))
    options = wait_for("the Folder filter's subfolders", lambda: (lambda o: o if len(o) >= 5 else None)(
        [(d.attr(e, "value"), d.text(e).strip()) for e in d.find_all("filter-folder-option")]), timeout=30)
    check([(Path(v).name, t.split(" (")[0].strip()) for v, t in options
           if v.startswith(str(arrivals.resolve()))] == [
              ("arrivals", "arrivals"), ("Blues", "Blues"), ("Deep", "Deep"), ("Reds", "Reds")],
          f"the Folder filter offers the subfolders ({[t for _, t in options]})")
    reds = [e for e in d.find_all("filter-folder-option") if Path(d.attr(e, "value")).name == "Reds"][0]
    d.click(reds)

    def only_reds():
        got = results(d)
        return got if got and all("/arrivals/Reds/" in p for p, _ in got) else None
    wait_for("the photos of the subfolder chosen in the filter", only_reds, timeout=30)
    summary = d.text(d.find("result-summary"))
    check(summary.startswith(f"{40 - len(gone)} photos in “Reds”"),
          f"choosing a subfolder in the Folder filter lists it ({summary!r})")

    print("8. the lightbox says what went wrong where the user looks", flush=True)
    first = d.find_all("result")[0]
    # A click selects; a double click opens the lightbox.
    d.click(first)
    d.js("arguments[0].dispatchEvent(new MouseEvent('dblclick', {bubbles: true}))",
         {ELEMENT: first})
    lb = d.find("lightbox")
    # A small picture opens at its own pixels (not blown up to the stage), and zooms by key.
    level = wait_for("the zoom level", lambda: d.find_all("zoom-level") and d.text(d.find("zoom-level")),
                     timeout=20)
    drawn = d.js("const i = document.querySelector('[data-testid=lightbox] img.photo');"
                 "return [i.naturalWidth, Math.round(i.getBoundingClientRect().width)];")
    check(level == "100%" and drawn[0] == drawn[1] and drawn[0] < 400,
          f"a {drawn[0]} px picture is drawn {drawn[1]} px wide, at {level}")
    xdotool("key", "plus")
    wait_for("125 %", lambda: d.text(d.find("zoom-level")) == "125%", timeout=10)
    xdotool("key", "0")
    check(d.text(d.find("zoom-level")) == "100%", "+ zooms in, 0 shows the whole picture again")
    d.click(d.find("reveal"))
    notice = d.text(d.find("lightbox-notice", timeout=30))
    check("No file manager could show this photo" in notice and "Invalid GUID" not in notice
          and "ExitStatus" not in notice,
          f"no file manager here: the lightbox says so in words ({notice!r})")
    check(d.find_all("error") == [], "and no banner hides behind the lightbox")
    d.click(d.find("copy-path"))
    wait_for("the path to be copied",
             lambda: d.text(d.find("lightbox-notice")) == "Path copied.", timeout=20)
    check(lb in d.find_all("lightbox"), "Copy path answers in the lightbox")
    xdotool("key", "Escape")
    wait_for("the lightbox to close", lambda: d.find_all("lightbox") == [], timeout=10)

    print("8b. Glimpse's own context menu, and several photos at once", flush=True)
    cells = d.find_all("result")
    paths = [d.attr(c, "data-path") for c in cells[:3]]
    # A real right-click (XTEST, at the cell's place on the screen): Glimpse's menu, not the
    # web view's.
    def on_screen(el):
        r = d.js("const b = arguments[0].getBoundingClientRect();"
                 "return [window.screenX + b.left + b.width / 2, window.screenY + b.top + b.height / 2];",
                 {ELEMENT: el})
        return int(r[0]), int(r[1])
    xdotool("mousemove", *on_screen(cells[1]))
    xdotool("click", 3)
    menu = d.find("context-menu", timeout=10)
    entries = [t for t in ["menu-open", "menu-reveal", "menu-copy-path", "menu-more-like-this"]
               if d.find_all(t, within=menu)]
    check(len(entries) == 4, f"the menu offers Open, Reveal, Copy path, More like this ({entries})")
    d.click(d.find("menu-copy-path"))
    said = wait_for("the menu's answer", lambda: d.find_all("action-notice")
                    and d.text(d.find("action-notice")), timeout=10)
    check(said == "Path copied." and clipboard() == paths[1],
          f"Copy path put the photo's path on the clipboard ({said!r})")
    # Ctrl+click a second cell (real key and button presses), then Copy paths for both.
    d.click(cells[0])
    xdotool("mousemove", *on_screen(cells[2]))
    xdotool("keydown", "ctrl")
    xdotool("click", 1)
    xdotool("keyup", "ctrl")
    bar = d.find("selection-bar", timeout=10)
    check("2 selected" in d.text(bar), f"two photos selected ({d.text(bar)!r})")
    d.click(d.find("selection-copy-paths"))
    wait_for("the paths to be copied", lambda: d.find_all("action-notice")
             and "2 paths copied" in d.text(d.find("action-notice")), timeout=10)
    copied = clipboard().splitlines()
    check(sorted(copied) == sorted([paths[0], paths[2]]),
          f"Copy paths put both on the clipboard, one per line ({copied})")
    xdotool("key", "Escape")

    print("9. justified rows: each photo keeps its shape, rows fill the width", flush=True)
    # Into the folder on screen ("Reds", chosen in the Folder filter in step 7): the results
    # follow the library, newest first.
    shown_dir = arrivals / "Reds"
    shapes = {"wide-panorama.jpg": (8000, 600), "tall-screenshot.png": (600, 3000),
              "camera-12mp.jpg": (4000, 3000)}
    for name, (w, h) in shapes.items():
        subprocess.run(["convert", "-size", f"{w}x{h}", "gradient:rgb(90,150,230)-rgb(40,120,60)",
                        "-fill", COLOURS["red"], "-draw", f"circle {w // 2},{h // 2} {w // 2 + min(w, h) // 4},{h // 2}",
                        str(shown_dir / name)], check=True)
    wait_for("the new shapes in the grid", lambda: all(
        any(p.endswith("/" + n) for p, _ in results(d)) for n in shapes), timeout=120)
    geometry = """
        const grid = document.querySelector('[data-testid=results]');
        const cells = [...document.querySelectorAll('[data-testid=result]')];
        const info = (name) => {
            const c = cells.find((e) => e.dataset.path.endsWith('/' + name));
            if (!c) return null;
            const b = c.getBoundingClientRect();
            const i = c.querySelector('img');
            return { w: b.width, h: b.height, fit: i ? getComputedStyle(i).objectFit : null,
                     nh: i ? i.naturalHeight : 0 };
        };
        const rows = [...document.querySelectorAll('[data-testid=result-row]')].map((r) => {
            const bs = [...r.querySelectorAll('[data-testid=result]')].map((c) => c.getBoundingClientRect());
            return [Math.min(...bs.map((b) => b.left)), Math.max(...bs.map((b) => b.right)),
                    Math.round(bs[0].height), bs.length];
        });
        const g = grid.getBoundingClientRect();
        return { pano: info('wide-panorama.jpg'), tall: info('tall-screenshot.png'),
                 camera: info('camera-12mp.jpg'), rows, left: g.left, width: grid.clientWidth };
    """

    def justified(size):
        d.click(d.find(f"thumb-size-{size}"))
        # Laid out, and the 12 MP photo's preview loaded.
        g = wait_for(f"the rows at {size}", lambda: (lambda g: g if g["camera"] and g["camera"]["nh"] > 0
                                                     and g["pano"] and g["tall"] else None)(d.js(geometry)),
                     timeout=30)
        pano, tall = g["pano"], g["tall"]
        check(pano["w"] > 2.5 * pano["h"] and pano["fit"] == "contain",
              f"{size}: the panorama's cell is wide ({pano['w']:.0f} x {pano['h']:.0f}) and shows it whole")
        check(tall["h"] > 2 * tall["w"] and tall["fit"] == "contain",
              f"{size}: the tall screenshot's cell is narrow ({tall['w']:.0f} x {tall['h']:.0f}) and shows it whole")
        check(g["camera"]["fit"] == "cover" and abs(g["camera"]["w"] / g["camera"]["h"] - 4 / 3) < 0.02,
              f"{size}: a 4:3 photo fills a 4:3 cell")
        inner = g["width"] - 32
        # Every rendered row but the last (which may be a short last row) fills the width.
        full = g["rows"][:-1]
        check(len(full) >= 2 and all(abs((r - l) - inner) <= 1.5 and abs(l - (g["left"] + 16)) <= 1.5
                                     for l, r, _, _ in full),
              f"{size}: {len(full)} rows fill the grid's {inner} px ({[(round(r - l), n) for l, r, _, n in full]})")
        return g

    justified("m")
    screenshot(shots, "grid")
    g = justified("xl")
    heights = sorted({h for _, _, h, _ in g["rows"]})
    check(all(h <= 360 for h in heights), f"XL rows are at most 1.2 x 300 px tall ({heights})")
    cam = g["camera"]
    check(cam["nh"] >= 2 * cam["h"],
          f"the 12 MP photo's preview ({cam['nh']} px tall) is sharp in its {cam['h']:.0f} px cell on a 2x screen")
    screenshot(shots, "grid-xl")
    d.click(d.find("thumb-size-m"))

    tag_by_hand_and_copy_image(d, shots)
    duplicates_step(d, photos, work / "xdg-data", shots)
    words_step(d, work, shots)
    model_step(d, shots)

    if shots:
        print("10. screenshot of indexing progress", flush=True)
        more = work / "more-photos"
        draw_folder(more, [("red", "square"), ("blue", "circle"), ("yellow", "circle")], 60)
        d.type(d.find("folder-path-input"), str(more))
        d.click(d.find("folder-path-add"))
        answer_add_folder(True)
        wait_for("progress", lambda: d.find_all("progress"), timeout=30)
        time.sleep(1.5)
        screenshot(shots, "indexing")
    first_index(d, app, work, library)
    print("all end-to-end checks passed", flush=True)


def words_step(d, work, shots):
    print("9e. the words in pictures: found by what they say, outlined in the lightbox", flush=True)
    # The earlier steps' folder and tag filters go.
    if d.find_all("filters-clear"):
        d.click(d.find("filters-clear"))
    signs = work / "signs"
    signs.mkdir()
    # Rendered by tests/fixtures/ocr/make_set.py: a password, a Chinese address, prices, signs.
    for name in ["38-dark.jpg", "33-dark.jpg", "37-dark.jpg", "31-light.jpg"]:
        shutil.copy(ROOT / "tests/fixtures/ocr/set" / name, signs / name)
    d.type(d.find("folder-path-input"), str(signs))
    d.click(d.find("folder-path-add"))
    answer_add_folder(True)

    def first_with_words(query, name):
        got = search(d, query, allow_empty=True)
        if not got or Path(got[0][0]).name != name:
            return None
        words = d.js("const c = document.querySelector('[data-testid=result]');"
                     "const w = c && c.querySelector('[data-testid=result-words]');"
                     "return w ? [w.textContent.trim(), "
                     "[...w.querySelectorAll('mark')].map(m => m.textContent)] : null;")
        return (got, words) if words else None
    # The pictures are searchable by meaning first; their words arrive once the text is read.
    got, words = wait_for("the password's picture first, with its words",
                          lambda: first_with_words("password", "38-dark.jpg"), timeout=240)
    check("password" in words[0] and words[1] == ["password"],
          f"a search for a word finds its picture first and shows the word ({words})")
    got, words = wait_for("a part of a word", lambda: first_with_words("harbo", "33-dark.jpg"),
                          timeout=60)
    check(words[1] == ["harbo"], f"part of a word finds it too, marked ({words})")
    got, words = wait_for("a Chinese query", lambda: first_with_words("朝阳区", "33-dark.jpg"),
                          timeout=60)
    check("朝阳区" in words[0], f"a CJK query finds the Chinese sign ({words})")
    screenshot(shots, "words")

    # The lightbox outlines the matched line over the photo and lists it.
    first = d.find_all("result")[0]
    d.click(first)
    d.js("arguments[0].dispatchEvent(new MouseEvent('dblclick', {bubbles: true}))",
         {ELEMENT: first})
    d.find("lightbox")
    boxes = wait_for("the outline of the matched line", lambda: d.js(
        "const b = [...document.querySelectorAll('[data-testid=lightbox-box]')];"
        "const img = document.querySelector('[data-testid=lightbox] img.photo');"
        "if (!b.length || !img) return null;"
        "const i = img.getBoundingClientRect();"
        "return {img: [i.left, i.top, i.width, i.height], natural: img.naturalWidth,"
        " boxes: b.map(e => { const r = e.getBoundingClientRect();"
        " return [r.left, r.top, r.width, r.height]; })};"), timeout=20)
    listed = d.text(d.find("lightbox-words"))
    check("朝阳区" in listed, f"the lightbox lists the matched line ({listed!r})")
    il, it, iw, ih = boxes["img"]
    inside = all(il - 2 <= x and it - 2 <= y and x + w <= il + iw + 2 and y + h <= it + ih + 2
                 and w > 10 and h > 5 for x, y, w, h in boxes["boxes"])
    check(len(boxes["boxes"]) == 1 and inside,
          f"one box outlined, on the photo ({boxes['boxes']} in {boxes['img']})")
    wait_for("the photo to have faded in", lambda: d.js(
        "const i = document.querySelector('[data-testid=lightbox] img.photo');"
        "return !!i && getComputedStyle(i).opacity === '1';"), timeout=10)
    screenshot(shots, "words-lightbox")
    xdotool("key", "Escape")
    wait_for("the lightbox to close", lambda: d.find_all("lightbox") == [], timeout=10)

    # The text filter: with text, the signs are among the results; without, none of them.
    def choose_text(key):
        d.js("const s = document.querySelector('[data-testid=filter-text]');"
             "s.value = arguments[0]; s.dispatchEvent(new Event('change', {bubbles: true}));", key)
    choose_text("with")
    listed = {Path(p).name for p, _ in wait_for("photos with text", lambda: search(d, " "), timeout=60)}
    check({"38-dark.jpg", "33-dark.jpg", "37-dark.jpg", "31-light.jpg"} <= listed,
          f"'With text' lists the signs ({sorted(listed)[:8]})")
    choose_text("without")
    listed = {Path(p).name for p, _ in search(d, " ")}
    check(listed and not listed & {"38-dark.jpg", "33-dark.jpg"}, "'Without text' leaves them out")
    choose_text("")
    search(d, " ")


def model_step(d, shots):
    """9d. Settings switches the window from the shape model to the tiny one: the list, what it
    costs, then the status names the new model and a search answers with it."""
    print("9d. another model, chosen in Settings", flush=True)
    tiny = str((ROOT / "models/test/tiny-clip").resolve())
    d.click(d.find("open-settings"))
    d.click(d.find("model-change"))
    rows = wait_for("the models offered", lambda: {d.attr(c, "data-name"): c for c in d.find_all("model-choice")}
                    if d.find_all("model-choice") else None, timeout=20)
    check(tiny in rows and "on this computer" in d.text(rows[tiny]),
          f"tiny-clip is offered as on this computer ({list(rows)})")
    d.click(rows[tiny])
    cost = d.text(d.find("model-cost"))
    check("read again with this model" in cost, f"the switch says what it costs ({cost!r})")
    screenshot(shots, "change-model")
    d.click(d.find("model-confirm"))
    wait_for("Settings to close", lambda: d.find_all("settings") == [], timeout=60)
    d.click(d.find("open-settings"))
    named = d.text(d.find("settings-model"))
    check("tiny-clip" in named, f"Settings names the new model ({named!r})")
    xdotool("key", "Escape")
    wait_for("Settings to close", lambda: d.find_all("settings") == [], timeout=10)

    # The earlier steps' filters go; tiny-clip's weights are random, so its matches may all
    # wait behind "Show the closest anyway".
    if d.find_all("filters-clear"):
        d.click(d.find("filters-clear"))
    def answered():
        got = search(d, "red circle", allow_empty=True)
        weaker = d.find_all("show-closest") or d.find_all("show-more")
        if not got and weaker:
            d.click(weaker[0])
            time.sleep(0.6)
            got = results(d)
        return got
    try:
        found = wait_for("a search with tiny-clip", answered, timeout=60)
    except Exception:
        screenshot(shots, "change-model-search")
        raise
    check(len(found) > 0, f"a search answers with tiny-clip ({len(found)} photos)")


def first_index(d, app, work, library):
    """A new user's first index answers a search from the batches it has committed, while the
    rest is still to do: the window is closed, its library removed, and a fresh one indexes a
    folder of 600 pictures; once some are in, indexing is paused (so the job is caught midway
    whatever the machine's speed) and a search must find the photos already indexed."""
    print("11. a first index answers from its first batches", flush=True)
    d.quit()
    wait_for("the window to close and let the library go", lambda: _lock_free(library), timeout=30)
    shutil.rmtree(library)
    first = work / "first"
    draw_folder(first, [("red", "star"), ("blue", "circle"), ("yellow", "square")], 200)
    d.start(app, "a new library")
    wait_for("the window to be ready", lambda: d.js("return document.body.dataset.ready === '1'"))
    check(d.find_all("root") == [], "the library is new")
    d.type(d.find("folder-path-input"), str(first))
    d.click(d.find("folder-path-add"))
    answer_add_folder(True)

    def partly_done():
        t = d.js("const e = document.querySelector('[data-testid=progress-text]');"
                 "return e ? e.textContent : '';") or ""
        m = re.search(r"([\d,]+) of ([\d,]+) photos in this run", t)
        if not m:
            return None
        done, total = (int(g.replace(",", "")) for g in m.groups())
        return (done, total) if done > 0 else None
    done, total = wait_for("the first photos to be indexed", partly_done, timeout=120, every=0.05)
    d.click(d.find("pause"))
    wait_for("indexing to pause", lambda: d.js(
        "return document.querySelector('[data-testid=progress]').dataset.paused === '1';"),
        timeout=30)
    done, total = wait_for("the paused count", partly_done, timeout=10)
    check(done < total == 600, f"paused midway through the first index ({done} of {total})")
    # Nothing typed: the listing is exactly what the first index has committed.
    search(d, " ", allow_empty=True)

    seen = []

    def listing_is_the_done():
        # A batch on its way when the pause came may still land: compared with the count now.
        now, _ = partly_done()
        summary = d.text(d.find("result-summary"))
        seen[:] = [(now, summary)]
        return (now, summary) if summary.startswith(f"{now} photos") else None
    try:
        done, listed = wait_for("the listing of what is indexed", listing_is_the_done, timeout=30)
    except Failure as e:
        raise Failure(f"{e}; last seen (done, summary): {seen}") from e
    check(done < total, f"the window lists what the first index has done ({listed!r}, {done} of {total})")
    # Words: the batches committed so far answer (which classes they hold depends on the order
    # the files are read in, so each is asked).
    answered = []
    for colour, shape in [("red", "star"), ("blue", "circle"), ("yellow", "square")]:
        found = search(d, f"{colour} {shape}", allow_empty=True)
        if found:
            answered.append((f"{colour}-{shape}", [p for p, _ in found]))
    check(answered and all(kind in paths[0] and len(paths) <= done for kind, paths in answered),
          "a search during the first index answers from what is indexed "
          f"({[(k, len(p), Path(p[0]).name) for k, p in answered]})")
    check(d.js("return document.querySelector('[data-testid=progress]').dataset.paused === '1';"),
          "and indexing is still paused")
    d.click(d.find("resume"))
    wait_for("the first index to finish", lambda: d.js(
        "const p = document.querySelector('[data-testid=progress]');"
        "return !!p && p.dataset.running === '0' && p.dataset.paused === '0';"), timeout=240)
    counts = wait_for("all 600 indexed", lambda: (lambda t: t if "600 indexed" in t else None)(
        d.text(d.find("status-counts"))), timeout=60)
    check("600 photos" in counts, f"then the first index completes ({counts!r})")


def _lock_free(library):
    """Whether no process holds the library's writer lock (the window has exited)."""
    try:
        with open(library / "writer.lock", "a") as f:
            fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
            fcntl.flock(f, fcntl.LOCK_UN)
        return True
    except BlockingIOError:
        return False
def duplicates_step(d, photos, data_home, shots):
    """9c: the Duplicates view on real copies, and the move of the copies to the Trash."""
    print("9c. duplicates: copies grouped, the keeper kept, the others moved to the Trash", flush=True)
    folder = photos / "Copies"
    folder.mkdir()
    original = folder / "original.png"

    def picture(path, background, dx=0):
        subprocess.run(
            ["convert", "-size", "300x240", f"gradient:{background}",
             "-fill", "rgb(200,40,120)", "-draw", f"circle {120 + dx},110 {170 + dx},110",
             "-fill", "rgb(40,60,200)", "-draw", f"rectangle {180 + dx},140 {250 + dx},200",
             str(path)], check=True)

    picture(original, "rgb(90,140,90)-rgb(200,220,150)")
    copies = [folder / "original-small.jpg", folder / "original-resaved.jpg"]
    subprocess.run(["convert", str(original), "-resize", "50%", "-quality", "90", str(copies[0])], check=True)
    subprocess.run(["convert", str(original), "-quality", "55", str(copies[1])], check=True)
    # The same subject, not copies: moved within the frame, and on another background.
    distinct = [folder / "moved.png", folder / "other-background.png"]
    picture(distinct[0], "rgb(90,140,90)-rgb(200,220,150)", dx=-60)
    picture(distinct[1], "rgb(210,180,90)-rgb(120,70,40)")
    everything = [original, *copies, *distinct]

    # The watcher indexes the new folder inside the library's folder; shown alone by its row.
    def counted():
        rows = d.js_async("""
            const done = arguments[arguments.length - 1];
            window.__TAURI_INTERNALS__.invoke('folders', {root: arguments[0]})
                .then((r) => done(r), (e) => done([]));
        """, str(photos.resolve()))
        n = [r["photos"] for r in rows if r["path"] == str(folder.resolve())]
        return n and n[0] == len(everything)
    wait_for("the copies to be indexed", counted, timeout=120)
    root = [e for e in d.find_all("root") if d.attr(e, "data-path") == str(photos.resolve())][0]
    toggle = d.find_all("root-subfolders-toggle", within=root)[0]
    if d.attr(toggle, "aria-expanded") == "true":
        d.click(toggle)  # read again: the folder is new
    d.click(toggle)
    row = wait_for("the Copies subfolder", lambda: [
        e for e in d.find_all("subfolder") if d.attr(e, "data-path") == str(folder.resolve())], timeout=20)
    d.click(row[0])
    shown = wait_for("the folder's photos", lambda: (lambda r: r if len(r) == len(everything)
                     and all("/Copies/" in p for p, _ in r) else None)(results(d)), timeout=30)
    check(True, f"the folder of copies lists its {len(shown)} photos")

    d.click(d.find("open-duplicates"))
    d.find("duplicates")
    d.click(d.find("duplicates-find"))
    wait_for("the search for duplicates to end", lambda: d.find_all("duplicates-group")
             or d.find_all("duplicates-none") or d.find_all("duplicates-error"), timeout=120)
    groups = d.find_all("duplicates-group")
    check(len(groups) == 1, f"one group of copies ({len(groups)}; "
          f"{d.find_all('duplicates-error') and d.text(d.find('duplicates-error'))})")
    members = [(d.attr(m, "data-path"), d.attr(m, "data-keep"))
               for m in d.find_all("duplicates-member", within=groups[0])]
    names = sorted(Path(p).name for p, _ in members)
    check(names == sorted(p.name for p in [original, *copies]),
          f"the picture and its two copies, not the pictures of the same subject ({names})")
    kept = [Path(p).name for p, k in members if k == "true"]
    keep_text = d.text(d.find("duplicates-keep"))
    check(kept == ["original.png"] and "Keep" in keep_text and "without loss" in keep_text,
          f"the lossless original is kept, with why ({kept}, {keep_text!r})")
    small = [m for m in d.find_all("duplicates-member", within=groups[0])
             if d.attr(m, "data-path").endswith("original-small.jpg")][0]
    d.click(d.find_all("duplicates-compare-open", within=small)[0])
    compared = d.text(d.find("duplicates-compare"))
    check("300 × 240" in compared and "150 × 120" in compared and "PNG" in compared
          and str(copies[0].resolve()) in compared,
          "Compare shows the keeper and a copy side by side (dimensions, format, path)")
    screenshot(shots, "duplicates")
    d.click(d.find("duplicates-compare-close"))

    move = d.find("duplicates-move-all")
    check(d.text(move) == "Move 2 others to Trash…", f"the move button counts ({d.text(move)!r})")
    d.click(move)
    confirm = d.text(d.find("duplicates-confirm"))
    check("system Trash" in confirm and "restore" in confirm,
          f"the confirmation says where they go ({confirm!r})")
    check(all(p.exists() for p in everything), "nothing moved before the yes")
    d.click(d.find("duplicates-confirm-move"))
    notice = wait_for("the move's answer", lambda: d.find_all("duplicates-notice")
                      and d.text(d.find("duplicates-notice")), timeout=60)
    check(notice == "Moved 2 photos to the Trash.", f"the view says what moved ({notice!r})")
    trash_files = data_home / "Trash" / "files"
    trash_info = data_home / "Trash" / "info"
    in_trash = sorted(p.name for p in trash_files.iterdir()) if trash_files.is_dir() else []
    check(in_trash == sorted(p.name for p in copies), f"the copies are in the Trash ({in_trash})")
    infos = sorted(p.name for p in trash_info.iterdir()) if trash_info.is_dir() else []
    check(infos == sorted(f"{p.name}.trashinfo" for p in copies), f"each with its .trashinfo ({infos})")
    info = (trash_info / f"{copies[1].name}.trashinfo").read_text()
    check(info.startswith("[Trash Info]") and f"Path={copies[1].resolve()}" in info,
          "the .trashinfo says where it came from")
    check(not any(p.exists() for p in copies), "the copies left their folder")
    check(all(p.exists() for p in [original, *distinct]), "the keeper and the other pictures stay on disk")
    check(d.find_all("duplicates-none") != [], "no duplicates are left to show")
    d.click(d.find("duplicates-close"))
    after = wait_for("the copies to leave the grid", lambda: (lambda r: r if len(r) == 3 else None)(
        results(d)), timeout=30)
    check(sorted(Path(p).name for p, _ in after) == sorted(p.name for p in [original, *distinct]),
          "the grid no longer shows the trashed copies")


def tag_by_hand_and_copy_image(d, shots):
    """9b. Two photos (Ctrl+click) tagged "holiday" from the selection bar: the tag panel
    counts 2 and its filter lists exactly them; the tag taken off one (its context menu's
    "Tag…") leaves 1. "Copy image" in the context menu puts the picture on the X clipboard,
    at the photo's size."""
    print("9b. tagging photos by hand, and Copy image", flush=True)
    cells = d.find_all("result")
    paths = sorted(d.attr(c, "data-path") for c in cells[:2])
    d.click(cells[0])
    xdotool("mousemove", *screen_point(d, cells[1]))
    xdotool("keydown", "ctrl")
    xdotool("click", 1)
    xdotool("keyup", "ctrl")
    bar = d.find("selection-bar", timeout=10)
    check("2 selected" in d.text(bar), f"two photos selected ({d.text(bar)!r})")
    d.click(d.find("selection-tag"))
    d.type(d.find("tag-input", timeout=10), "Holiday\ue007")
    said = wait_for("tagging to answer", lambda: d.find_all("tag-notice")
                    and d.text(d.find("tag-notice")), timeout=20)
    check(said == "Tagged 2 photos “holiday”.", f"the popover says what it did ({said!r})")

    def holiday():
        """The tag panel's "holiday" entry and its count, or None."""
        for e in d.find_all("tag-filter"):
            if d.attr(e, "data-tag") == "holiday":
                return e, d.text(e).split()[-1]
        return None
    wait_for("the tag panel to count 2 holiday photos", lambda: (holiday() or (0, 0))[1] == "2",
             timeout=20)
    screenshot(shots, "tag-selection")
    xdotool("key", "Escape")
    wait_for("the popover to close", lambda: d.find_all("tag-popover") == [], timeout=10)
    d.click(holiday()[0])

    def tagged(n):
        got = sorted(p for p, _ in results(d))
        return got if len(got) == n else None
    shown = wait_for("the holiday filter", lambda: tagged(2), timeout=30)
    check(shown == paths, f"the tag filter lists exactly the two tagged photos ({shown})")

    # Off one of them, through its own menu ("Tag…" on that photo alone).
    one = d.find_all("result")[0]
    gone = d.attr(one, "data-path")
    d.click(one)
    xdotool("mousemove", *screen_point(d, one))
    xdotool("click", 3)
    d.click(d.find("menu-tag", timeout=10))
    pop = d.find("tag-popover", timeout=10)
    chips = [c for c in d.find_all("tag-present", within=pop) if d.attr(c, "data-tag") == "holiday"]
    check(len(chips) == 1, "the popover lists the photo's holiday tag")
    d.click(d.find_all("tag-remove", within=chips[0])[0])
    said = wait_for("untagging to answer", lambda: d.find_all("tag-notice")
                    and d.text(d.find("tag-notice")), timeout=20)
    check(said == "Took “holiday” off 1 photo.", f"the popover says so ({said!r})")
    wait_for("the tag panel to count 1", lambda: (holiday() or (0, 0))[1] == "1", timeout=20)
    left = wait_for("the filter to follow", lambda: tagged(1), timeout=30)
    check(left == [p for p in paths if p != gone], f"the filter lists the other one only ({left})")
    # The photo left the filtered results; the popover still speaks of it, without the tag.
    kept = d.find_all("tag-popover")
    check(kept and d.attr(kept[0], "aria-label") == "Tag this photo"
          and not d.find_all("tag-present", within=kept[0]),
          "the popover still shows the photo, now without the tag")
    xdotool("key", "Escape")
    wait_for("the popover to close", lambda: d.find_all("tag-popover") == [], timeout=10)

    # The filter off again, nothing selected.
    d.click(holiday()[0])
    xdotool("key", "Escape")

    # Copy image: the picture itself on the clipboard, as a program pasting it reads it. A
    # drawn square, under the clipboard's size cap (the grid step's 8000 px panorama is not).
    def a_square():
        try:
            for e in d.find_all("result"):
                path = d.attr(e, "data-path") or ""
                if "red-square" in path:
                    return e, path
        except Failure as err:
            # The grid was drawn again between finding its cells and reading one (the filter
            # has just gone off): look again.
            if "stale element reference" not in str(err):
                raise
        return None
    cell, path = wait_for("a red square in the grid", a_square, timeout=30)
    xdotool("mousemove", *screen_point(d, cell))
    xdotool("click", 3)
    d.click(d.find("menu-copy-image", timeout=10))
    said = wait_for("the menu's answer", lambda: d.find_all("action-notice")
                    and d.text(d.find("action-notice")), timeout=20)
    check(said.strip() == "Image copied.", f"Copy image says so ({said!r})")
    want = subprocess.run(["identify", "-format", "%w %h", path], capture_output=True,
                          text=True, check=True).stdout.split()
    got = wait_for("a picture on the clipboard", lambda: (lambda c: c if c["size"] else None)(
        clipboard_image()), timeout=20)
    check("image/png" in got["targets"] and got["size"] == [int(x) for x in want],
          f"the clipboard holds the {want[0]}x{want[1]} picture ({got})")
    xdotool("key", "Escape")


class DriverLost(Exception):
    """The WebDriver connection broke (not a failed check): the run may be retried."""


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--app", default=str(ROOT / "target/debug/glimpse-app"))
    ap.add_argument("--screenshots")
    ap.add_argument("--keep", action="store_true", help="keep the work folder")
    ap.add_argument("--attempts", type=int, default=3,
                    help="runs to try when the WebDriver connection (not a check) breaks")
    args = ap.parse_args()
    for attempt in range(1, args.attempts + 1):
        try:
            sys.exit(attempt_run(args))
        except DriverLost as e:
            print(f"attempt {attempt}: the WebDriver connection broke ({e}); "
                  f"{'retrying from the start' if attempt < args.attempts else 'giving up'}",
                  file=sys.stderr, flush=True)
    sys.exit(1)


def attempt_run(args):
    work = Path(tempfile.mkdtemp(prefix="glimpse-e2e-"))
    procs = []
    ok = False
    lost = None
    try:
        run(args, work, procs)
        ok = True
    except Failure as e:
        print(f"FAILED: {e}", file=sys.stderr, flush=True)
    except (ConnectionError, http.client.HTTPException, urllib.error.URLError) as e:
        lost = e
    finally:
        if not ok:
            for p in procs:
                if isinstance(p, subprocess.Popen):
                    state = "running" if p.poll() is None else f"exited with {p.returncode}"
                    print(f"  process {p.args[0]}: {state}", file=sys.stderr, flush=True)
        for p in reversed(procs):
            if isinstance(p, Driver):
                p.quit()
            else:
                p.send_signal(signal.SIGTERM)
                try:
                    p.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    p.kill()
        logf = work / "app-driver.log"
        if not ok and logf.exists():
            print("--- app and driver log (last 80 lines) ---", file=sys.stderr)
            print("\n".join(logf.read_text(errors="replace").splitlines()[-80:]),
                  file=sys.stderr)
        if args.keep or not ok:
            print(f"work folder kept: {work}", file=sys.stderr)
        else:
            shutil.rmtree(work, ignore_errors=True)
    if lost is not None:
        raise DriverLost(lost)
    return 0 if ok else 1


if __name__ == "__main__":
    main()
