"""Files as cameras and phones leave them, made in the tests: DNG raw files (a Bayer mosaic in a
SubIFD, with or without an embedded JPEG preview, as cameras and converters write them), short
videos (PyAV), and XMP sidecars as Lightroom and darktable write them."""

from __future__ import annotations

import io
import struct
from fractions import Fraction
from pathlib import Path
from typing import Optional, Sequence

import numpy as np
from PIL import Image

# TIFF field types
BYTE, ASCII, SHORT, LONG, RATIONAL, SRATIONAL = 1, 2, 3, 4, 5, 10


def _entry_bytes(kind: int, values) -> bytes:
    if kind == ASCII:
        return values.encode("ascii") + b"\0"
    if kind == BYTE:
        return bytes(values)
    if kind == SHORT:
        return struct.pack(f"<{len(values)}H", *values)
    if kind == LONG:
        return struct.pack(f"<{len(values)}I", *values)
    if kind in (RATIONAL, SRATIONAL):
        out = b""
        for value in values:
            fraction = Fraction(value).limit_denominator(10000)
            out += struct.pack("<ii" if kind == SRATIONAL else "<II", fraction.numerator, fraction.denominator)
        return out
    raise ValueError(kind)


def _count(kind: int, values) -> int:
    return len(values) + 1 if kind == ASCII else len(values)


class _Tiff:
    """A little-endian TIFF laid out by hand: IFDs whose tags point at data blocks."""

    def __init__(self) -> None:
        self.data = bytearray(b"II*\0\0\0\0\0")

    def block(self, payload: bytes) -> int:
        if len(self.data) % 2:
            self.data += b"\0"
        offset = len(self.data)
        self.data += payload
        return offset

    def ifd(self, tags: dict[int, tuple[int, object]]) -> int:
        """Write an IFD (tags sorted), its out-of-line values after it; returns its offset."""
        if len(self.data) % 2:
            self.data += b"\0"
        start = len(self.data)
        entries = sorted(tags.items())
        size = 2 + 12 * len(entries) + 4
        extra = bytearray()
        table = struct.pack("<H", len(entries))
        for tag, (kind, values) in entries:
            raw = _entry_bytes(kind, values)
            if len(raw) <= 4:
                table += struct.pack("<HHI", tag, kind, _count(kind, values)) + raw.ljust(4, b"\0")
            else:
                if len(extra) % 2:
                    extra += b"\0"
                table += struct.pack("<HHII", tag, kind, _count(kind, values), start + size + len(extra))
                extra += raw
        table += struct.pack("<I", 0)
        self.data += table + extra
        return start

    def set_first(self, offset: int) -> None:
        self.data[4:8] = struct.pack("<I", offset)


def make_dng(path: Path, picture: Image.Image, preview: Optional[int] = 1024, make: str = "Latent",
             model: str = "Test Camera", taken: str = "2024:05:17 09:30:00", orientation: int = 1) -> Path:
    """A DNG of `picture`: its pixels as an RGGB Bayer mosaic (16-bit, in a SubIFD) and, unless
    `preview` is None, an embedded JPEG preview of that longer side in IFD0, as cameras write."""
    rgb = np.asarray(picture.convert("RGB"), dtype=np.uint16) * 257
    height, width = rgb.shape[:2]
    height -= height % 2
    width -= width % 2
    mosaic = np.empty((height, width), dtype=np.uint16)
    mosaic[0::2, 0::2] = rgb[0:height:2, 0:width:2, 0]
    mosaic[0::2, 1::2] = rgb[0:height:2, 1:width:2, 1]
    mosaic[1::2, 0::2] = rgb[1:height:2, 0:width:2, 1]
    mosaic[1::2, 1::2] = rgb[1:height:2, 1:width:2, 2]
    tiff = _Tiff()
    raw_offset = tiff.block(mosaic.astype("<u2").tobytes())
    raw_ifd = tiff.ifd({
        254: (LONG, [0]), 256: (LONG, [width]), 257: (LONG, [height]), 258: (SHORT, [16]),
        259: (SHORT, [1]), 262: (SHORT, [32803]), 273: (LONG, [raw_offset]), 277: (SHORT, [1]),
        278: (LONG, [height]), 279: (LONG, [mosaic.nbytes]), 284: (SHORT, [1]),
        33421: (SHORT, [2, 2]), 33422: (BYTE, [0, 1, 1, 2]), 50714: (LONG, [0]), 50717: (LONG, [65535]),
    })
    exif_ifd = tiff.ifd({36867: (ASCII, taken)})
    common = {
        271: (ASCII, make), 272: (ASCII, model), 274: (SHORT, [orientation]), 306: (ASCII, taken),
        330: (LONG, [raw_ifd]), 34665: (LONG, [exif_ifd]),
        50706: (BYTE, [1, 4, 0, 0]), 50708: (ASCII, f"{make} {model}"),
        50721: (SRATIONAL, [1, 0, 0, 0, 1, 0, 0, 0, 1]), 50778: (SHORT, [21]),
    }
    if preview is not None:
        shown = picture.convert("RGB").copy()
        shown.thumbnail((preview, preview))
        buffer = io.BytesIO()
        shown.save(buffer, "JPEG", quality=90)
        jpeg = buffer.getvalue()
        jpeg_offset = tiff.block(jpeg)
        first = tiff.ifd({
            **common, 254: (LONG, [1]), 256: (LONG, [shown.width]), 257: (LONG, [shown.height]),
            258: (SHORT, [8, 8, 8]), 259: (SHORT, [7]), 262: (SHORT, [6]), 273: (LONG, [jpeg_offset]),
            277: (SHORT, [3]), 278: (LONG, [shown.height]), 279: (LONG, [len(jpeg)]), 284: (SHORT, [1]),
        })
    else:
        thumb = picture.convert("RGB").resize((16, 16))
        thumb_offset = tiff.block(thumb.tobytes())
        first = tiff.ifd({
            **common, 254: (LONG, [1]), 256: (LONG, [16]), 257: (LONG, [16]), 258: (SHORT, [8, 8, 8]),
            259: (SHORT, [1]), 262: (SHORT, [2]), 273: (LONG, [thumb_offset]), 277: (SHORT, [3]),
            278: (LONG, [16]), 279: (LONG, [16 * 16 * 3]), 284: (SHORT, [1]),
        })
    tiff.set_first(first)
    path = Path(path)
    path.write_bytes(bytes(tiff.data))
    return path


def make_video(path: Path, scenes: Sequence[tuple[Image.Image, float]], fps: int = 10, gop: int = 10,
               codec: str = "mpeg4", rotation: int = 0) -> Path:
    """A video of still scenes [(picture, seconds)…] (all of the first picture's size), a keyframe
    every `gop` frames; `rotation` is written as the display matrix phones write."""
    import av

    path = Path(path)
    width, height = scenes[0][0].size
    with av.open(str(path), "w") as container:
        stream = container.add_stream(codec, rate=fps)
        stream.width, stream.height = width - width % 2, height - height % 2
        stream.pix_fmt = "yuv420p"
        stream.gop_size = gop
        if rotation:
            stream.set_display_rotation(rotation)
        for picture, seconds in scenes:
            pixels = np.asarray(picture.convert("RGB").resize((stream.width, stream.height)))
            for _ in range(int(round(seconds * fps))):
                for packet in stream.encode(av.VideoFrame.from_ndarray(pixels, format="rgb24")):
                    container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    return path


def iptc_jpeg(path: Path, picture: Image.Image, keywords: Sequence[str], caption: str = "") -> Path:
    """A JPEG with IPTC-IIM keywords and caption in its Photoshop (APP13) segment, as photo
    agencies' and older tools' files carry them."""
    records = b""
    for number, text in [(25, k) for k in keywords] + ([(120, caption)] if caption else []):
        data = text.encode("utf-8")
        records += b"\x1c\x02" + bytes([number]) + struct.pack(">H", len(data)) + data
    resource = b"8BIM" + struct.pack(">H", 0x0404) + b"\x00\x00" + struct.pack(">I", len(records)) + records
    if len(records) % 2:
        resource += b"\x00"
    payload = b"Photoshop 3.0\x00" + resource
    buffer = io.BytesIO()
    picture.convert("RGB").save(buffer, "JPEG", quality=90)
    jpeg = buffer.getvalue()
    segment = b"\xff\xed" + struct.pack(">H", len(payload) + 2) + payload
    Path(path).write_bytes(jpeg[:2] + segment + jpeg[2:])
    return Path(path)


def xmp_sidecar(subjects: Sequence[str] = (), rating: Optional[int] = None, label: Optional[str] = None,
                title: Optional[str] = None, description: Optional[str] = None,
                hierarchical: Sequence[str] = ()) -> str:
    """An XMP sidecar as Lightroom writes one (ratings and labels as attributes, the rest as elements)."""
    attributes = ""
    if rating is not None:
        attributes += f' xmp:Rating="{rating}"'
    if label is not None:
        attributes += f' xmp:Label="{label}"'
    body = ""
    if title:
        body += f'<dc:title><rdf:Alt><rdf:li xml:lang="x-default">{title}</rdf:li></rdf:Alt></dc:title>'
    if description:
        body += f'<dc:description><rdf:Alt><rdf:li xml:lang="x-default">{description}</rdf:li></rdf:Alt></dc:description>'
    if subjects:
        body += "<dc:subject><rdf:Bag>" + "".join(f"<rdf:li>{s}</rdf:li>" for s in subjects) + "</rdf:Bag></dc:subject>"
    if hierarchical:
        body += ("<lr:hierarchicalSubject><rdf:Bag>" + "".join(f"<rdf:li>{s}</rdf:li>" for s in hierarchical)
                 + "</rdf:Bag></lr:hierarchicalSubject>")
    return (
        '<x:xmpmeta xmlns:x="adobe:ns:meta/" x:xmptk="Adobe XMP Core 7.0">'
        '<rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">'
        '<rdf:Description rdf:about="" xmlns:xmp="http://ns.adobe.com/xap/1.0/" '
        'xmlns:dc="http://purl.org/dc/elements/1.1/" xmlns:lr="http://ns.adobe.com/lightroom/1.0/"'
        f"{attributes}>{body}</rdf:Description></rdf:RDF></x:xmpmeta>"
    )
