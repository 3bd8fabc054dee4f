"""sensor_msgs/Image <-> numpy, for the encodings smplr needs (cv_bridge's role; DESIGN §3.1).

cv_bridge is not available from any registry here, so the node converts images itself. The
conversion is split in two so that it can be tested without messages:

* :func:`buffer_to_rgb` checks a raw buffer description (encoding, size, step, data) and returns an
  (H, W, 3) uint8 RGB array, or raises :class:`ImageConversionError` with a message that says what
  is wrong and what the node accepts.
* :func:`image_msg_to_rgb` / :func:`rgb_to_image_msg` wrap it for ``sensor_msgs/Image``.
"""
from __future__ import annotations

from typing import NamedTuple

import cv2
import numpy as np


class ImageConversionError(ValueError):
    """The image cannot be turned into an RGB array; the message says why."""


class ColourEncoding(NamedTuple):
    channels: int        # bytes per pixel (all supported encodings are 8 bits per channel)
    to_rgb: int | None   # OpenCV colour conversion code to RGB (None = already RGB: plain copy)


# The colour encodings the front-end can use (REP 104 / sensor_msgs image_encodings names).
# Conversions go through OpenCV (or one copy for RGB): numpy channel indexing (``a[:, :, [2, 1,
# 0]]``) is ~100x slower, about 2 ms of the node's frame time at 640x480.
COLOUR_ENCODINGS: dict[str, ColourEncoding] = {
    "rgb8": ColourEncoding(3, None),
    "bgr8": ColourEncoding(3, cv2.COLOR_BGR2RGB),
    "rgba8": ColourEncoding(4, cv2.COLOR_RGBA2RGB),
    "bgra8": ColourEncoding(4, cv2.COLOR_BGRA2RGB),
    "mono8": ColourEncoding(1, cv2.COLOR_GRAY2RGB),
    "8UC3": ColourEncoding(3, None),  # untyped 3-channel: read as RGB
    "8UC1": ColourEncoding(1, cv2.COLOR_GRAY2RGB),
}
# Packed 4:2:2 YUV: 2 bytes per pixel; the name says where Y, U and V sit in each 4-byte pair.
YUV422_ENCODINGS = {"yuv422": "UYVY", "uyvy": "UYVY", "yuv422_yuy2": "YUYV", "yuyv": "YUYV"}

# Encodings that are images but not colour pictures of people: rejected with a specific reason.
NON_COLOUR_ENCODINGS = ("16UC1", "16SC1", "32FC1", "32SC1", "64FC1", "mono16", "rgb16", "bgr16",
                        "rgba16", "bgra16", "bayer_rggb8", "bayer_bggr8", "bayer_gbrg8",
                        "bayer_grbg8", "8UC2", "8UC4", "16UC3", "32FC3")

SUPPORTED = tuple(COLOUR_ENCODINGS) + tuple(YUV422_ENCODINGS)


def bytes_per_pixel(encoding: str) -> int:
    """Bytes per pixel of a supported encoding; raises ImageConversionError otherwise."""
    if encoding in COLOUR_ENCODINGS:
        return COLOUR_ENCODINGS[encoding].channels
    if encoding in YUV422_ENCODINGS:
        return 2
    if encoding in NON_COLOUR_ENCODINGS:
        raise ImageConversionError(
            f"encoding '{encoding}' is not a colour image (depth, 16-bit or raw Bayer data); "
            f"publish one of {', '.join(SUPPORTED)}")
    raise ImageConversionError(
        f"unsupported image encoding '{encoding}'; publish one of {', '.join(SUPPORTED)}")


def buffer_to_rgb(data, height: int, width: int, step: int, encoding: str) -> np.ndarray:
    """A raw image buffer -> (height, width, 3) uint8 RGB (a new, contiguous array).

    ``data`` is any bytes-like object (bytes, array.array, numpy uint8); rows are ``step`` bytes
    apart (step may exceed width * bytes_per_pixel: row padding is dropped).
    """
    bpp = bytes_per_pixel(encoding)
    if height <= 0 or width <= 0:
        raise ImageConversionError(f"empty image: {width}x{height} pixels")
    row_bytes = width * bpp
    if step < row_bytes:
        raise ImageConversionError(
            f"step {step} is smaller than width x bytes per pixel = {width} x {bpp} = {row_bytes} "
            f"for '{encoding}'")
    buf = np.frombuffer(memoryview(data).cast("B"), dtype=np.uint8)
    if buf.size == 0:
        raise ImageConversionError(f"image data is empty (header says {width}x{height} {encoding})")
    if buf.size != step * height:
        kind = "truncated" if buf.size < step * height else "too long"
        raise ImageConversionError(
            f"image data {kind}: {buf.size} bytes, expected step x height = {step} x {height} = "
            f"{step * height}")
    pixels = buf.reshape(height, step)[:, :row_bytes]
    if encoding in YUV422_ENCODINGS:
        return _yuv422_to_rgb(pixels.reshape(height, width, 2), YUV422_ENCODINGS[encoding])
    layout = COLOUR_ENCODINGS[encoding]
    if layout.to_rgb is None:
        return pixels.reshape(height, width, 3).copy()
    # OpenCV reads the row-strided view directly (rows ``step`` bytes apart) and writes a new array.
    pixels = pixels.reshape(height, width) if layout.channels == 1 else \
        pixels.reshape(height, width, layout.channels)
    return cv2.cvtColor(pixels, layout.to_rgb)


def _yuv422_to_rgb(pairs: np.ndarray, order: str) -> np.ndarray:
    """(H, W, 2) packed 4:2:2 bytes -> (H, W, 3) RGB via OpenCV (BT.601, as cv_bridge does)."""
    if pairs.shape[1] % 2:
        raise ImageConversionError(f"packed YUV 4:2:2 needs an even width, got {pairs.shape[1]}")
    code = cv2.COLOR_YUV2RGB_UYVY if order == "UYVY" else cv2.COLOR_YUV2RGB_YUYV
    return cv2.cvtColor(np.ascontiguousarray(pairs), code)


def image_msg_to_rgb(msg) -> np.ndarray:
    """sensor_msgs/Image -> (H, W, 3) uint8 RGB; raises ImageConversionError with the reason."""
    return buffer_to_rgb(msg.data, int(msg.height), int(msg.width), int(msg.step), msg.encoding)


def rgb_to_image_msg(rgb: np.ndarray, header=None, encoding: str = "rgb8"):
    """(H, W, 3) uint8 RGB (or BGR when ``encoding='bgr8'``) -> sensor_msgs/Image."""
    from sensor_msgs.msg import Image

    if rgb.dtype != np.uint8 or rgb.ndim != 3 or rgb.shape[2] != 3:
        raise ImageConversionError(f"expected an (H, W, 3) uint8 array, got {rgb.shape} {rgb.dtype}")
    if encoding not in ("rgb8", "bgr8"):
        raise ImageConversionError(f"rgb_to_image_msg writes rgb8 or bgr8, not '{encoding}'")
    msg = Image()
    if header is not None:
        msg.header = header
    msg.height, msg.width = int(rgb.shape[0]), int(rgb.shape[1])
    msg.encoding = encoding
    msg.is_bigendian = 0
    msg.step = msg.width * 3
    msg.data = np.ascontiguousarray(rgb).tobytes()
    return msg
