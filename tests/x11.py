"""What a window manager sends when the title bar's close button is clicked, for GUI tests.

The X11 close request is a ``WM_PROTOCOLS`` client message carrying
``WM_DELETE_WINDOW``. Qt turns it into a *spontaneous* close event, the one on
which napari asks "Close window?" (``QWidget.close()`` and ``QWindow.close()``
send a plain one). Sent with libX11 through ctypes (libX11 comes with Qt's xcb
platform), to the display the tests run on (Xvfb).
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os

_CLIENT_MESSAGE = 33
_NO_EVENT_MASK = 0


class _ClientMessage(ctypes.Structure):
    _fields_ = [
        ("type", ctypes.c_int),
        ("serial", ctypes.c_ulong),
        ("send_event", ctypes.c_int),
        ("display", ctypes.c_void_p),
        ("window", ctypes.c_ulong),
        ("message_type", ctypes.c_ulong),
        ("format", ctypes.c_int),
        ("data", ctypes.c_long * 5),
    ]


class _XEvent(ctypes.Union):
    _fields_ = [("client", _ClientMessage), ("pad", ctypes.c_long * 24)]


def available() -> bool:
    return bool(os.environ.get("DISPLAY")) and ctypes.util.find_library("X11") is not None


def request_close(window_id: int) -> None:
    """Ask the X window ``window_id`` to close, as a window manager does."""
    xlib = ctypes.CDLL(ctypes.util.find_library("X11"))
    xlib.XOpenDisplay.restype = ctypes.c_void_p
    xlib.XOpenDisplay.argtypes = [ctypes.c_char_p]
    xlib.XInternAtom.restype = ctypes.c_ulong
    xlib.XInternAtom.argtypes = [ctypes.c_void_p, ctypes.c_char_p, ctypes.c_int]
    xlib.XSendEvent.argtypes = [
        ctypes.c_void_p,
        ctypes.c_ulong,
        ctypes.c_int,
        ctypes.c_long,
        ctypes.POINTER(_XEvent),
    ]
    xlib.XFlush.argtypes = [ctypes.c_void_p]
    xlib.XCloseDisplay.argtypes = [ctypes.c_void_p]
    display = xlib.XOpenDisplay(None)
    if not display:
        raise RuntimeError(f"cannot open X display {os.environ.get('DISPLAY')!r}")
    try:
        event = _XEvent()
        event.client.type = _CLIENT_MESSAGE
        event.client.window = window_id
        event.client.message_type = xlib.XInternAtom(display, b"WM_PROTOCOLS", False)
        event.client.format = 32
        event.client.data[0] = xlib.XInternAtom(display, b"WM_DELETE_WINDOW", False)
        event.client.data[1] = 0  # CurrentTime
        if not xlib.XSendEvent(display, window_id, False, _NO_EVENT_MASK, ctypes.byref(event)):
            raise RuntimeError("XSendEvent failed")
        xlib.XFlush(display)
    finally:
        xlib.XCloseDisplay(display)
