"""Where the tools put their text inside image files, read without decoding any pixels.

- PNG: tEXt / zTXt / iTXt chunks, walked chunk by chunk (pixel data skipped), wherever they
  sit in the file; XMP in its `XML:com.adobe.xmp` iTXt chunk.
- JPEG, WebP, HEIF, AVIF (and PNG eXIf): EXIF UserComment (AUTOMATIC1111: "UNICODE" + UTF-16,
  also "ASCII" and unprefixed forms; Fooocus: in IFD0), MakerNote, ImageDescription, and
  ComfyUI's `prompt:`/`workflow:` texts in Model/Make; the JPEG COM comment; XMP packets.

Each field comes back as text under a name (`parameters`, `exif:UserComment`, `xmp:description`…)
with bounded sizes; nothing is interpreted here.
"""

from __future__ import annotations

import re
import struct
import zlib
from pathlib import Path
from typing import BinaryIO, Optional

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
MAX_CHUNK = 16 * 2**20  # Pillow's own cap on text chunks
MAX_TOTAL_TEXT = 32 * 2**20
MAX_FIELD = 4 * 2**20
EXIF_IFD = 0x8769
EXIF_TAGS = {  # tag -> field name; looked up in IFD0 and the Exif IFD
    0x9286: "exif:UserComment",
    0x927C: "exif:MakerNote",
    0x010E: "exif:ImageDescription",
    0x010F: "exif:Make",
    0x0110: "exif:Model",
    0x0131: "exif:Software",
    0x9C9C: "exif:XPComment",
    0x9C9B: "exif:XPTitle",
    0x9C9E: "exif:XPKeywords",
}
XP_TAGS = {0x9C9C, 0x9C9B, 0x9C9E}  # Windows' UTF-16LE fields
USER_COMMENT_CODES = {
    b"ASCII\x00\x00\x00": "ascii",
    b"UNICODE\x00": "utf-16",
    b"JIS\x00\x00\x00\x00\x00": "shift_jis",
    b"\x00" * 8: "undefined",
}
XMP_KEY = "XML:com.adobe.xmp"
XMP_FIELDS = {"description": "xmp:description", "title": "xmp:title", "subject": "xmp:subject",
              "UserComment": "xmp:UserComment", "hierarchicalSubject": "xmp:hierarchicalSubject",
              "Rating": "xmp:Rating", "Label": "xmp:Label"}
# IPTC-IIM datasets photo tools still write into JPEG and TIFF: keywords, caption, object name.
IPTC_FIELDS = {(2, 25): "iptc:Keywords", (2, 120): "iptc:Caption", (2, 5): "iptc:ObjectName"}


def _bounded(text: str) -> str:
    return text[:MAX_FIELD]


# -- PNG ---------------------------------------------------------------------------------------


def _inflate(data: bytes) -> Optional[bytes]:
    inflater = zlib.decompressobj()
    try:
        out = inflater.decompress(data, MAX_CHUNK)
    except zlib.error:
        return None
    return None if inflater.unconsumed_tail else out  # larger than the cap: a zip bomb, dropped


def _png_text(kind: bytes, data: bytes) -> Optional[tuple[str, str]]:
    key, sep, rest = data.partition(b"\x00")
    if not sep or not key:
        return None
    name = key.decode("latin-1")
    if kind == b"tEXt":
        return name, rest.decode("latin-1")
    if kind == b"zTXt":
        text = _inflate(rest[1:]) if rest[:1] == b"\x00" else None
        return None if text is None else (name, text.decode("latin-1"))
    # iTXt: flag, method, language\0, translated keyword\0, text (UTF-8)
    if len(rest) < 2:
        return None
    compressed, method, tail = rest[0], rest[1], rest[2:]
    parts = tail.split(b"\x00", 2)
    if len(parts) != 3:
        return None
    text_bytes = parts[2]
    if compressed:
        if method != 0 or (text_bytes := _inflate(text_bytes)) is None:  # type: ignore[assignment]
            return None
    return name, text_bytes.decode("utf-8", "replace")


def png_text_chunks(stream: BinaryIO) -> dict[str, str]:
    """Every text chunk of a PNG stream (first of each key wins, as in Pillow), pixels skipped."""
    if stream.read(8) != PNG_SIGNATURE:
        return {}
    chunks: dict[str, str] = {}
    total = 0
    while True:
        head = stream.read(8)
        if len(head) < 8:
            break
        length, kind = struct.unpack(">I4s", head)
        if kind == b"IEND":
            break
        if kind in (b"tEXt", b"zTXt", b"iTXt") and length <= MAX_CHUNK and total + length <= MAX_TOTAL_TEXT:
            data = stream.read(length)
            stream.seek(4, 1)  # CRC
            if len(data) < length:
                break
            total += length
            found = _png_text(kind, data)
            if found is not None and found[0] not in chunks:
                chunks[found[0]] = _bounded(found[1])
        else:
            stream.seek(length + 4, 1)
    return chunks


# -- EXIF --------------------------------------------------------------------------------------


def _utf16(data: bytes) -> str:
    """UTF-16 of unknown byte order: a BOM decides, else where the zero bytes of ASCII text sit."""
    if data[:2] in (b"\xfe\xff", b"\xff\xfe"):
        return data.decode("utf-16", "replace")
    even_zeros = data[0::2].count(0)
    odd_zeros = data[1::2].count(0)
    return data.decode("utf-16-le" if odd_zeros > even_zeros else "utf-16-be", "replace")


def decode_user_comment(value: object) -> str:
    """EXIF UserComment: an 8-byte character-code prefix, then the text (A1111: "UNICODE" + UTF-16)."""
    if isinstance(value, str):
        return value.strip("\x00")
    if not isinstance(value, (bytes, bytearray)):
        return ""
    data = bytes(value)
    code = USER_COMMENT_CODES.get(data[:8])
    body = data[8:] if code else data
    if code == "utf-16":
        text = _utf16(body)
    elif code == "shift_jis":
        text = body.decode("shift_jis", "replace")
    else:
        try:
            text = body.decode("utf-8")
        except UnicodeDecodeError:
            text = _utf16(body) if body.count(0) > len(body) // 4 else body.decode("latin-1")
    return text.strip("\x00").strip()


def _exif_value(tag: int, value: object) -> str:
    if tag == 0x9286:
        return decode_user_comment(value)
    if tag in XP_TAGS:
        if isinstance(value, tuple):  # some Pillow versions give the bytes as a tuple of ints
            value = bytes(v for v in value if isinstance(v, int) and 0 <= v < 256)
        return bytes(value).decode("utf-16-le", "replace").strip("\x00") if isinstance(value, (bytes, bytearray)) else ""
    if isinstance(value, (bytes, bytearray)):
        text = decode_user_comment(value)  # MakerNote and friends: treated like a comment
        return text if text.isprintable() or "\n" in text else ""
    return value.strip("\x00").strip() if isinstance(value, str) else ""


def exif_fields(exif: object) -> dict[str, str]:
    """Text fields of a Pillow Exif object (IFD0 first, then the Exif IFD)."""
    fields: dict[str, str] = {}
    ifds = [exif]
    try:
        ifds.append(exif.get_ifd(EXIF_IFD))  # type: ignore[attr-defined]
    except (KeyError, ValueError, TypeError, OSError, SyntaxError, struct.error):
        pass
    for ifd in ifds:
        for tag, name in EXIF_TAGS.items():
            try:
                value = ifd.get(tag)  # type: ignore[attr-defined]
            except (ValueError, TypeError, OSError, SyntaxError, struct.error):
                continue
            text = _exif_value(tag, value) if value is not None else ""
            if text and name not in fields:
                fields[name] = _bounded(text)
    return fields


# -- XMP ---------------------------------------------------------------------------------------

XMP_ELEMENT = re.compile(
    r"<(?:[\w.-]+:)?(description|title|subject|UserComment|hierarchicalSubject|Rating|Label)\b[^>]*>(.*?)"
    r"</(?:[\w.-]+:)?\1\s*>", re.S
)
XMP_ATTRIBUTE = re.compile(r"\b(?:[\w.-]+:)?(description|title|UserComment|Rating|Label)=\"([^\"]*)\"")
XML_TAG = re.compile(r"<[^>]+>")
XML_CHAR_REF = re.compile(r"&#([xX][0-9a-fA-F]{1,6}|\d{1,7});")
XML_ENTITIES = {"&lt;": "<", "&gt;": ">", "&quot;": '"', "&apos;": "'", "&amp;": "&"}


def _char_reference(match: "re.Match[str]") -> str:
    ref = match.group(1)
    code = int(ref[1:], 16) if ref[0] in "xX" else int(ref)
    return chr(code) if 0 < code < 0x110000 else ""


def _xml_text(fragment: str) -> str:
    """Text inside an XMP element (rdf:Alt / rdf:Bag / rdf:li wrappers dropped), entities decoded."""
    parts = [p.strip() for p in XML_TAG.split(fragment)]
    text = " ".join(p for p in parts if p)
    text = XML_CHAR_REF.sub(_char_reference, text)
    for entity, char in XML_ENTITIES.items():
        text = text.replace(entity, char)
    return text


def xmp_fields(packet: object) -> dict[str, str]:
    """dc:description, dc:title, dc:subject, lr:hierarchicalSubject, xmp:Rating, xmp:Label and
    exif:UserComment of an XMP packet (an embedded packet or a sidecar file), as text.

    Read with patterns, not an XML parser: no entity expansion, no external references.
    """
    if isinstance(packet, (bytes, bytearray)):
        packet = bytes(packet[:MAX_FIELD]).decode("utf-8", "replace")
    if not isinstance(packet, str):
        return {}
    fields: dict[str, str] = {}
    for name, body in XMP_ELEMENT.findall(packet[:MAX_FIELD]):
        text = _xml_text(body)
        if text and XMP_FIELDS[name] not in fields:
            fields[XMP_FIELDS[name]] = text
    for name, value in XMP_ATTRIBUTE.findall(packet[:MAX_FIELD]):
        text = _xml_text(value)
        if text and XMP_FIELDS[name] not in fields:
            fields[XMP_FIELDS[name]] = text
    return fields


def iptc_fields(image) -> dict[str, str]:
    """IPTC keywords, caption and object name of a JPEG or TIFF (Pillow reads the IIM records)."""
    from PIL import IptcImagePlugin

    try:
        info = IptcImagePlugin.getiptcinfo(image) or {}
    except (OSError, SyntaxError, ValueError, IndexError, struct.error):
        return {}
    fields: dict[str, str] = {}
    for key, name in IPTC_FIELDS.items():
        value = info.get(key)
        values = value if isinstance(value, list) else [value] if value else []
        text = "\n".join(v.decode("utf-8", "replace") if isinstance(v, bytes) else str(v) for v in values).strip()
        if text:
            fields[name] = _bounded(text)
    return fields


# -- any file ----------------------------------------------------------------------------------


def read_fields(path: Path) -> tuple[str, dict[str, str]]:
    """(lower-case format name, {field: text}) of an image file; raises ValueError when unreadable."""
    from PIL import Image, UnidentifiedImageError

    from ...image_formats import register_heif

    register_heif()
    path = Path(path)
    try:
        with open(path, "rb") as stream:
            if stream.read(8) == PNG_SIGNATURE:
                stream.seek(0)
                fields = png_text_chunks(stream)
                if XMP_KEY in fields:
                    fields.update({k: v for k, v in xmp_fields(fields[XMP_KEY]).items() if k not in fields})
                stream.seek(0)
                with Image.open(stream) as image:  # header only: for the eXIf chunk
                    exif = exif_fields(image.getexif()) if "exif" in image.info else {}
                return "png", {**exif, **fields}
        with Image.open(path) as image:
            fmt = (image.format or "unknown").lower()
            fields = exif_fields(image.getexif())
            comment = image.info.get("comment")
            if isinstance(comment, (bytes, str)) and comment:
                fields["comment"] = _bounded(comment.decode("utf-8", "replace") if isinstance(comment, bytes) else comment)
            xmp = image.info.get("xmp") or image.info.get(XMP_KEY)
            if xmp:
                fields.update({k: v for k, v in xmp_fields(xmp).items() if k not in fields})
            if fmt in ("jpeg", "mpo", "tiff"):
                fields.update({k: v for k, v in iptc_fields(image).items() if k not in fields})
            return fmt, fields
    except FileNotFoundError:
        raise ValueError(f"{path.name}: file not found") from None
    except IsADirectoryError:
        raise ValueError(f"{path.name}: a folder, not an image file") from None
    except UnidentifiedImageError as exc:
        raise ValueError(f"{path.name}: not a readable image ({exc})") from exc
    except Image.DecompressionBombError as exc:
        raise ValueError(f"{path.name}: too many pixels to open ({exc})") from exc
    except (OSError, SyntaxError, struct.error, ValueError, EOFError, IndexError, TypeError, MemoryError) as exc:
        raise ValueError(f"{path.name}: not a readable image ({exc})") from exc  # what broken files raise
