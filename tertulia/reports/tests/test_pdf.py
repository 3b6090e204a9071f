"""The PDF: its text read back with pdftotext (Spanish and English, hostile post text harmless),
page 1 rasterised with pdftoppm and looked at with Pillow (the brand's colour in the header
band, not a blank page), and the URL fetcher that lets WeasyPrint read nothing from outside."""

from __future__ import annotations

import io
import subprocess
import threading
from http.server import BaseHTTPRequestHandler, HTTPServer

import pytest
from PIL import Image

from tertulia.core.services import Ctx
from tertulia.core.tests.web_helpers import XSS
from tertulia.reports import branding, services
from tertulia.reports.render import _fetcher, render_pdf

from .test_engine import PERIOD_END, build_world

PRIMARY = (0xC0, 0x1F, 0x6E)


def _pdftotext(pdf: bytes) -> str:
    out = subprocess.run(["pdftotext", "-raw", "-enc", "UTF-8", "-", "-"], input=pdf, capture_output=True,
                         check=True, timeout=30)
    return out.stdout.decode()


def _page_one_png(pdf: bytes) -> Image.Image:
    out = subprocess.run(["pdftoppm", "-png", "-r", "50", "-f", "1", "-l", "1", "-"], input=pdf,
                         capture_output=True, check=True, timeout=30)
    return Image.open(io.BytesIO(out.stdout)).convert("RGB")


def _logo_png() -> io.BytesIO:
    out = io.BytesIO()
    Image.new("RGB", (1200, 300), (20, 160, 90)).save(out, format="PNG")
    out.seek(0)
    return out


@pytest.fixture
def branded(brand_a, settings, tmp_path):
    settings.MEDIA_ROOT = str(tmp_path)
    brand, people = brand_a
    world = build_world(brand, people["owner"])
    ctx = Ctx(people["owner"])
    from tertulia.core.services import do_update_brand

    do_update_brand(ctx, brand, primary_color="#c01f6e", accent_color="#1f6ec0")
    branding.do_set_brand_logo(ctx, brand, branding.process_logo(_logo_png()))
    brand.refresh_from_db()
    return world


def test_spanish_pdf_text_and_page_one(branded):
    """One render (PDFs are slow): its text, then its first page as an image."""
    spanish_pdf = render_pdf(services.build_report(branded["brand"], "weekly", PERIOD_END), branded["brand"])
    _check_spanish_text(spanish_pdf)
    _check_page_one(spanish_pdf)


def _check_spanish_text(spanish_pdf):
    assert spanish_pdf.startswith(b"%PDF-")
    text = _pdftotext(spanish_pdf)
    flat = " ".join(text.replace("\xa0", " ").split())
    assert "Informe semanal: Alpha Brand" in flat
    assert "23 de marzo de 2026 – 29 de marzo de 2026" in flat  # Spanish month names
    assert "La semana en cifras" in flat and "Resumen ejecutivo" in flat
    assert "1 234" in flat  # followers, grouped the Spanish way (Django: a non-breaking space)
    assert "8 234" in flat and "3,0 %" in flat  # impressions; engagement rate 79 / 2634 = 3.0 %
    assert "Página 1 /" in flat  # page numbers
    # The hostile post: its markup is printed as text, nothing after "</style>" was swallowed,
    # the right-to-left override does not flip what follows it, and the 12k-character text is
    # cut in the table.
    assert XSS in flat and "gnp.exe larga" in flat and "exe.png" not in flat and "agral" not in flat
    assert flat.count("larga") < 60


def test_pdf_in_english(branded):
    data = services.build_report(branded["brand"], "weekly", PERIOD_END, language="en")
    flat = " ".join(_pdftotext(render_pdf(data, branded["brand"])).split())
    assert "Weekly report: Alpha Brand" in flat
    assert "March 23, 2026 – March 29, 2026" in flat
    assert "8,234" in flat and "Page 1 /" in flat


def _check_page_one(spanish_pdf):
    page = _page_one_png(spanish_pdf)
    width, height = page.size
    assert width > 300 and height > 400  # A4 at 50 dpi is 413 × 585
    band = page.crop((0, 0, width, height // 8))
    colours = band.getcolors(width * height)

    def near(rgb, target, tol=12):
        return all(abs(a - b) <= tol for a, b in zip(rgb, target))

    primary = sum(n for n, rgb in colours if near(rgb, PRIMARY))
    assert primary > band.size[0] * band.size[1] * 0.3  # the header band is the brand's primary colour
    logo = sum(n for n, rgb in colours if near(rgb, (20, 160, 90), 20))
    assert logo > 50  # the logo is drawn on the band
    body = page.crop((0, height // 4, width, height))
    inked = sum(n for n, rgb in body.getcolors(width * height) if sum(rgb) < 600)
    assert inked > 1000  # text and charts on the page: not blank


class _Recorder(BaseHTTPRequestHandler):
    hits: list = []

    def do_GET(self):  # noqa: N802
        _Recorder.hits.append(self.path)
        self.send_response(200)
        self.send_header("Content-Type", "image/png")
        self.end_headers()

    def log_message(self, *args):
        pass


def test_weasyprint_fetches_nothing_but_data_uris():
    from weasyprint import HTML

    server = HTTPServer(("127.0.0.1", 0), _Recorder)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        url = f"http://127.0.0.1:{server.server_port}"
        html = (f'<link rel="stylesheet" href="{url}/style.css"><p>hola</p><img src="{url}/pixel.png">'
                f'<img src="file:///etc/hostname"><div style="background: url({url}/bg.png)">x</div>')
        pdf = HTML(string=html, url_fetcher=_fetcher()).write_pdf()
    finally:
        server.shutdown()
    assert pdf.startswith(b"%PDF-")
    assert _Recorder.hits == []
    with pytest.raises(ValueError):
        _fetcher()("file:///etc/passwd")
    assert _fetcher()("data:text/plain,hola") is not None
