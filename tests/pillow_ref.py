#!/usr/bin/python3
"""Edge-case images and Pillow's reading of them, for test_image's Pillow comparison.

Usage: pillow_ref.py DIR
Writes edge-case images into DIR (files already there, e.g. the YCCK JPEG the C test writes with
libjpeg, are kept), then for every image NAME in DIR:
  NAME.rgb   "W H\\n" + Pillow's convert("RGB") pixels, or
  NAME.err   Pillow's error message when Pillow refuses the file;
  NAME.crop  "224 224\\n" + the 8-bit pixels of CLIPImageProcessor's resize (shortest edge 224,
             long edge int(224 * long / short), bicubic) and center crop ((size - 224) // 2).
Images are random but seeded, so a failure reproduces.
"""
import os
import random
import struct
import sys

from PIL import Image

rng = random.Random(1313)


def rand_rgb(w, h, mode="RGB"):
    im = Image.new(mode, (w, h))
    n = len(mode)
    im.frombytes(bytes(rng.randrange(256) for _ in range(w * h * n)))
    return im


def bmp(w, h, bpp, comp, pixels, palette=b"", masks=b"", ncolors=0, topdown=False):
    """A BMP with a 40-byte header (+ 12 bytes of masks when given), palette entries as BGRX."""
    off = 14 + 40 + len(masks) + len(palette)
    info = struct.pack("<IiiHHIIiiII", 40, w, -h if topdown else h, 1, bpp, comp, len(pixels), 2835, 2835,
                       ncolors, 0)
    head = b"BM" + struct.pack("<IHHI", off + len(pixels), 0, 0, off)
    return head + info + masks + palette + pixels


def rows16(w, h, fn):
    """16-bit rows, bottom-up, each padded to 4 bytes."""
    out = b""
    for y in range(h):
        row = b"".join(struct.pack("<H", fn(x, y)) for x in range(w))
        out += row + b"\0" * (-len(row) % 4)
    return out


def rle_bmp(name, bpp, w, h, stream, colors):
    pal = b"".join(bytes((rng.randrange(256), rng.randrange(256), rng.randrange(256), 0)) for _ in range(colors))
    comp = 1 if bpp == 8 else 2
    with open(name, "wb") as f:
        f.write(bmp(w, h, bpp, comp, stream, pal, ncolors=colors))


def gif_frame_past_screen(name, w, h, sw, sh, left, top, transparent=None):
    """A GIF whose only frame (w x h at left, top) extends past a sw x sh logical screen: Pillow writes
    it on a w x h screen at 0,0; the screen and the frame position are then patched."""
    im = Image.new("P", (w, h))
    im.putpalette(bytes(rng.randrange(256) for _ in range(3 * 256)))
    im.frombytes(bytes(rng.randrange(256) for _ in range(w * h)))
    kw = {"transparency": transparent} if transparent is not None else {}
    im.save(name, **kw)
    b = bytearray(open(name, "rb").read())
    b[6:10] = struct.pack("<HH", sw, sh)
    at = 13 + ((3 << ((b[10] & 7) + 1)) if b[10] & 0x80 else 0)
    while b[at] == 0x21:  # extensions: label, then sub-blocks up to a 0 length
        at += 2
        while b[at]:
            at += b[at] + 1
        at += 1
    assert b[at] == 0x2C, "image descriptor not found"
    b[at + 1:at + 5] = struct.pack("<HH", left, top)
    open(name, "wb").write(b)


def generate(d):
    os.chdir(d)
    # thin strips: the resize window of the crop must give Pillow's pixels
    rand_rgb(3, 1000).save("strip_3x1000.png")
    rand_rgb(1000, 2).save("strip_1000x2.png")
    rand_rgb(1, 700).save("strip_1x700.png")
    # CMYK JPEG: Pillow writes an Adobe marker; a copy without it (APP14 removed) must read the same
    rand_rgb(37, 29, "CMYK").save("cmyk_adobe.jpg", quality=95)
    b = open("cmyk_adobe.jpg", "rb").read()
    at = 2
    out = b[:2]
    while True:
        marker, length = b[at:at + 2], struct.unpack(">H", b[at + 2:at + 4])[0]
        if marker != b"\xff\xee":
            out += b[at:at + 2 + length]
        at += 2 + length
        if marker == b"\xff\xda":
            out += b[at:]
            break
    assert b"Adobe" not in out[:200]
    open("cmyk_no_adobe.jpg", "wb").write(out)
    # GIF frame past the logical screen, with and without an offset and a transparent index
    gif_frame_past_screen("gif_past_screen.gif", 30, 20, 10, 8, 0, 0)
    gif_frame_past_screen("gif_past_screen_offset.gif", 12, 9, 16, 16, 7, 11, transparent=3)
    # 16-bit BMPs: 5-5-5 (no bitfields) and 5-6-5 (bitfields), every 5/6-bit level present
    w, h = 64, 5
    with open("bmp16_555.bmp", "wb") as f:
        f.write(bmp(w, h, 16, 0, rows16(w, h, lambda x, y: (x % 32) << 10 | ((x + y) % 32) << 5 | (31 - x % 32))))
    with open("bmp16_565.bmp", "wb") as f:
        f.write(bmp(w, h, 16, 3, rows16(w, h, lambda x, y: (x % 32) << 11 | ((x + 7 * y) % 64) << 5 | (31 - x % 32)),
                    masks=struct.pack("<III", 0xF800, 0x07E0, 0x001F)))
    # 8-bit palette BMP with 4 palette entries and indices past them (Pillow's grey ramp)
    pal = b"".join(bytes((rng.randrange(256), rng.randrange(256), rng.randrange(256), 0)) for _ in range(4))
    with open("bmp8_short_palette.bmp", "wb") as f:
        f.write(bmp(8, 2, 8, 0, bytes([0, 1, 2, 3, 4, 9, 200, 255] * 2), pal, ncolors=4))
    # RLE8: encoded runs (one running past the row's end), absolute runs (odd: padded), end of line,
    # end of bitmap
    s = bytes([3, 5, 0, 3, 7, 8, 9, 0, 2, 1, 0, 0])          # row 0: 5 5 5 7 8 9 1 1, then EOL
    s += bytes([12, 4, 0, 0])                                  # row 1: 8 x 4 (run clipped), EOL
    s += bytes([0, 4, 1, 2, 3, 4, 2, 6, 0, 0])                 # row 2: 1 2 3 4 6 6 + EOL pad
    s += bytes([8, 9, 0, 1])                                   # row 3, then end of bitmap
    rle_bmp("rle8.bmp", 8, 8, 4, s, 16)
    rle_bmp("rle8_truncated.bmp", 8, 8, 4, s[:-6], 16)         # ends after 3 rows: Pillow refuses
    # RLE4: two-colour encoded runs (odd lengths too), even and odd absolute runs
    s = bytes([5, 0x12, 0, 4, 0x34, 0x56, 0, 0])               # row 0: 1 2 1 2 1 3 4 5 6 .. EOL
    s += bytes([10, 0x78, 0, 0])                               # row 1: 7 8 7 8 ... EOL
    s += bytes([0, 3, 0x9A, 0xB0, 2, 0xCD, 0, 0])              # row 2: odd absolute run, then 2
    s += bytes([0, 6, 0x12, 0x34, 0x56, 0, 4, 0xEF, 0, 1])     # row 3: absolute 6, run 4, EOB
    rle_bmp("rle4.bmp", 4, 10, 4, s, 16)
    rle_bmp("rle4_topdown.bmp", 4, 10, 4, s, 16)
    b = bytearray(open("rle4_topdown.bmp", "rb").read())
    b[22:26] = struct.pack("<i", -4)
    open("rle4_topdown.bmp", "wb").write(b)


def reference(d):
    for name in sorted(os.listdir(d)):
        if name.endswith((".rgb", ".err", ".crop")):
            continue
        p = os.path.join(d, name)
        try:
            im = Image.open(p)
            im = im.convert("RGB")
        except Exception as e:  # Pillow refuses it: so must we
            open(p + ".err", "w").write(str(e))
            continue
        with open(p + ".rgb", "wb") as f:
            f.write(b"%d %d\n" % im.size + im.tobytes())
        w, h = im.size
        if w <= h:
            size = (224, int(224 * h / w))
        else:
            size = (int(224 * w / h), 224)
        r = im.resize(size, Image.BICUBIC)
        left, top = (size[0] - 224) // 2, (size[1] - 224) // 2
        c = r.crop((left, top, left + 224, top + 224))
        with open(p + ".crop", "wb") as f:
            f.write(b"224 224\n" + c.tobytes())


if __name__ == "__main__":
    generate(sys.argv[1])
    reference(sys.argv[1])
