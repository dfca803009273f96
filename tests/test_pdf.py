"""PDF input: page ranges, rendering, and clear errors for damaged, encrypted and empty PDFs.

The test PDFs are made here: Pillow writes the multi-page one; the encrypted (RC4-40, standard security
handler revision 2, written by hand from the PDF reference's algorithms) and the zero-page ones are assembled
byte by byte, so no PDF library is needed to produce them.
"""

import struct
from hashlib import md5

import pytest
from PIL import Image

from engine.preprocess.inputs import expand_inputs
from engine.preprocess.pdf import InputError, parse_page_ranges, pdf_page_count, render_pdf_pages


def make_pdf(objects: list[bytes], trailer: bytes = b"") -> bytes:
    """A PDF file from object bodies (object k+1 = objects[k]) with a correct xref table."""
    out = bytearray(b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n")
    offsets = []
    for k, body in enumerate(objects, 1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % k + body + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n \n" % off for off in offsets)
    out += b"trailer\n<< /Size %d /Root 1 0 R " % (len(objects) + 1) + trailer + b" >>\nstartxref\n%d\n%%%%EOF\n" % xref
    return bytes(out)


def rc4(key: bytes, data: bytes) -> bytes:
    s = list(range(256))
    j = 0
    for i in range(256):
        j = (j + s[i] + key[i % len(key)]) % 256
        s[i], s[j] = s[j], s[i]
    i = j = 0
    out = bytearray()
    for b in data:
        i = (i + 1) % 256
        j = (j + s[i]) % 256
        s[i], s[j] = s[j], s[i]
        out.append(b ^ s[(s[i] + s[j]) % 256])
    return bytes(out)


PAD = bytes.fromhex("28BF4E5E4E758A4164004E56FFFA01082E2E00B6D0683E802F0CA9FE6453697A")


def encrypted_pdf(user_password: str, owner_password: str) -> bytes:
    """One 200x100 pt page with a black square (20..80, 20..80 pt), RC4-40 encrypted (R2)."""
    def padded(pw):
        return (pw.encode("latin-1") + PAD)[:32]

    perms, file_id = -44, b"0123456789abcdef"
    owner = rc4(md5(padded(owner_password)).digest()[:5], padded(user_password))  # algorithm 3
    key = md5(padded(user_password) + owner + struct.pack("<i", perms) + file_id).digest()[:5]  # algorithm 2
    user = rc4(key, PAD)  # algorithm 4

    def obj_key(num):
        return md5(key + num.to_bytes(3, "little") + (0).to_bytes(2, "little")).digest()[:10]

    content = rc4(obj_key(4), b"0 0 0 rg 20 20 60 60 re f")
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 200 100] /Contents 4 0 R >>",
        b"<< /Length %d >>\nstream\n" % len(content) + content + b"\nendstream",
        b"<< /Filter /Standard /V 1 /R 2 /O <" + owner.hex().encode() + b"> /U <" + user.hex().encode()
        + b"> /P %d >>" % perms,
    ]
    hex_id = file_id.hex().encode()
    return make_pdf(objects, b"/Encrypt 5 0 R /ID [<" + hex_id + b"> <" + hex_id + b">]")


@pytest.fixture
def pdf(tmp_path):
    pages = [Image.new("RGB", (300 + 10 * i, 400), (255, 255 - 40 * i, 255)) for i in range(4)]
    path = tmp_path / "report.pdf"
    pages[0].save(path, save_all=True, append_images=pages[1:], resolution=72)
    return path


def test_page_ranges():
    assert parse_page_ranges("1-3,5", 6) == [0, 1, 2, 4]
    assert parse_page_ranges(None, 3) == [0, 1, 2]
    assert parse_page_ranges("", 2) == [0, 1]
    assert parse_page_ranges(" all ", 2) == [0, 1]
    assert parse_page_ranges("2-", 4) == [1, 2, 3]
    assert parse_page_ranges("-2", 4) == [0, 1]
    assert parse_page_ranges("3, 1-2 ,3", 4) == [2, 0, 1]
    assert parse_page_ranges("4-4", 4) == [3]


@pytest.mark.parametrize("spec, message", [
    ("1,9", "page 9 does not exist: the PDF has 4 pages"),
    ("2-7", "page 7 does not exist: the PDF has 4 pages"),
    ("0", "page 0 does not exist: pages are numbered from 1"),
    ("a-b", "cannot read 'a-b'"),
    ("1-2-3", "cannot read '1-2-3'"),
    ("-", "cannot read '-'"),
    ("1,,2", "empty entry"),
    ("3-1", "runs backwards; use 1-3"),
    ("1.5", "cannot read"),
])
def test_bad_page_ranges(spec, message):
    with pytest.raises(InputError, match=message) as info:
        parse_page_ranges(spec, 4)
    assert isinstance(info.value, ValueError)


def test_one_page_document_message():
    with pytest.raises(InputError, match="the PDF has 1 page; choose pages from 1 to 1"):
        parse_page_ranges("2", 1)


def test_render_chosen_pages(pdf):
    assert pdf_page_count(pdf) == 4
    pages = list(render_pdf_pages(pdf, "2,4", dpi=144))
    assert [i for i, _ in pages] == [1, 3]
    assert pages[0][1].size == (620, 800) and pages[0][1].mode == "RGB"  # 310x400 pt at 2x
    assert pages[0][1].getpixel((300, 400)) == pytest.approx((255, 215, 255), abs=2)  # the page's colour
    assert [i for i, _ in render_pdf_pages(pdf, [0, 2], dpi=72)] == [0, 2]
    sizes = [im.size for _, im in render_pdf_pages(pdf, None, dpi=36)]
    assert sizes == [(150, 200), (155, 200), (160, 200), (165, 200)]
    with pytest.raises(InputError, match="page 5 does not exist: the PDF has 4 pages"):
        list(render_pdf_pages(pdf, [4]))
    with pytest.raises(InputError, match="page 6 does not exist"):
        list(render_pdf_pages(pdf, "6"))


def test_abandoned_iteration_closes_the_document(pdf):
    it = render_pdf_pages(pdf, None, dpi=36)
    next(it)
    it.close()  # runs the generator's finally: the document is closed
    assert pdf_page_count(pdf) == 4


def test_inputs_expand_pdf_pages(pdf):
    items = expand_inputs([pdf], pages="1-2")
    assert [(it.page, it.stem) for it in items] == [(0, "report-p001"), (1, "report-p002")]
    assert items[1].load().size == (620, 800)


def test_corrupt_and_missing_pdfs(tmp_path):
    corrupt = tmp_path / "corrupt.pdf"
    corrupt.write_bytes(b"%PDF-1.4\n garbage garbage")
    with pytest.raises(InputError, match="corrupt.pdf: not a readable PDF .*damaged or not a PDF"):
        pdf_page_count(corrupt)
    with pytest.raises(InputError, match="corrupt.pdf: not a readable PDF"):
        list(render_pdf_pages(corrupt))
    empty = tmp_path / "empty.pdf"
    empty.write_bytes(b"")
    with pytest.raises(InputError, match="empty.pdf: the file is empty"):
        pdf_page_count(empty)
    with pytest.raises(InputError, match="missing.pdf: no such file"):
        pdf_page_count(tmp_path / "missing.pdf")
    (item,) = expand_inputs([corrupt])
    assert item.error and "not a readable PDF" in item.error


def test_zero_page_pdf(tmp_path):
    path = tmp_path / "blank.pdf"
    path.write_bytes(make_pdf([b"<< /Type /Catalog /Pages 2 0 R >>", b"<< /Type /Pages /Kids [] /Count 0 >>"]))
    with pytest.raises(InputError, match="blank.pdf: the PDF has no pages"):
        pdf_page_count(path)
    with pytest.raises(InputError, match="no pages"):
        list(render_pdf_pages(path))


def test_encrypted_pdf(tmp_path):
    path = tmp_path / "locked.pdf"
    path.write_bytes(encrypted_pdf("secret", "owner"))
    with pytest.raises(InputError, match=r"locked.pdf: the PDF is encrypted \(a password is required"):
        pdf_page_count(path)
    with pytest.raises(InputError, match="encrypted"):
        list(render_pdf_pages(path))
    with pytest.raises(InputError, match="password for this encrypted PDF is wrong"):
        pdf_page_count(path, password="nope")
    # the hand-made encryption is real: with the password the page decrypts and renders its black square
    assert pdf_page_count(path, password="secret") == 1
    ((index, image),) = list(render_pdf_pages(path, password="secret", dpi=72))
    assert index == 0 and image.size == (200, 100)
    assert image.getpixel((50, 50)) == (0, 0, 0) and image.getpixel((150, 50)) == (255, 255, 255)


def test_owner_password_only_opens_without_asking(tmp_path):
    path = tmp_path / "owner-only.pdf"
    path.write_bytes(encrypted_pdf("", "owner"))  # encrypted, but the user password is empty
    ((_, image),) = list(render_pdf_pages(path, dpi=72))
    assert image.getpixel((50, 50)) == (0, 0, 0)


def test_rotated_page_renders_as_viewers_show_it(tmp_path):
    content = b"0 0 0 rg 20 20 60 60 re f"
    path = tmp_path / "rotated.pdf"
    path.write_bytes(make_pdf([
        b"<< /Type /Catalog /Pages 2 0 R >>", b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 200 100] /Rotate 90 /Contents 4 0 R >>",
        b"<< /Length %d >>\nstream\n" % len(content) + content + b"\nendstream"]))
    ((_, image),) = list(render_pdf_pages(path, dpi=72))
    assert image.size == (100, 200)  # /Rotate 90 applied: portrait
    assert image.getpixel((50, 50)) == (0, 0, 0) and image.getpixel((50, 150)) == (255, 255, 255)
