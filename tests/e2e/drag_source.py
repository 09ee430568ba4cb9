#!/usr/bin/python3
"""A tiny GTK window that offers one file for drag and drop, as a file manager does
(text/uri-list). The end-to-end test drags from it onto Glimpse's window with xdotool, so the
drop travels the real X11 drag-and-drop path into the app.

Usage: drag_source.py FILE X Y  (window placed at X,Y; prints READY when mapped)"""
import sys
import gi

gi.require_version("Gtk", "3.0")
gi.require_version("Gdk", "3.0")
from gi.repository import Gdk, GLib, Gtk  # noqa: E402

path, x, y = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
uri = GLib.filename_to_uri(path, None)

win = Gtk.Window(title="drag source")
win.set_default_size(160, 120)
win.move(x, y)
box = Gtk.EventBox()
box.add(Gtk.Label(label="drag me"))
win.add(box)
box.drag_source_set(
    Gdk.ModifierType.BUTTON1_MASK,
    [Gtk.TargetEntry.new("text/uri-list", 0, 0)],
    Gdk.DragAction.COPY,
)


def on_get(_w, _ctx, data, _info, _time):
    data.set_uris([uri])


def on_end(*_a):
    print("DRAG-END", flush=True)


box.connect("drag-data-get", on_get)
box.connect("drag-end", on_end)
win.connect("destroy", Gtk.main_quit)
win.connect("map-event", lambda *_a: print("READY", flush=True))
win.show_all()
Gtk.main()
