"""PDFs from our own HTML templates through wkhtmltopdf — the only module that imports pdfkit.

JavaScript and local file access are off: templates inline their CSS and images (data: URIs).
Debian's wkhtmltopdf (unpatched Qt) lays A4 out as a 1033 px wide viewport, so CSS lengths come out
at 0.768 of their size and it ignores --zoom; our document templates set `body { zoom: 1.3021 }`
(WebKit's CSS zoom) so that 1 CSS mm is 1 mm and 10pt is 10 pt on paper (tests measure it).
Upstream wkhtmltopdf must never see untrusted HTML; ours is rendered from autoescaped templates.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor

import pdfkit

OPTIONS = {
    "encoding": "UTF-8",
    "page-size": "A4",
    "margin-top": "18mm",
    "margin-bottom": "18mm",
    "margin-left": "20mm",
    "margin-right": "20mm",
    "disable-javascript": "",
    # wkhtmltopdf waits javascript-delay (200 ms by default) after loading even with JavaScript off:
    # 0 makes a one-page PDF take ~55 ms instead of ~250 ms (bench/documents.py)
    "javascript-delay": "0",
    "disable-local-file-access": "",
    "quiet": "",
}


# Letters: no page margins, so the DIN 5008 positions in the template are measured from the paper edge.
LETTER_OPTIONS = {
    **OPTIONS,
    "margin-top": "0",
    "margin-bottom": "0",
    "margin-left": "0",
    "margin-right": "0",
}


class PdfError(RuntimeError):
    """wkhtmltopdf is missing or failed."""


def _configuration() -> pdfkit.configuration:
    binary = shutil.which("wkhtmltopdf")
    if binary is None:
        raise PdfError("wkhtmltopdf is not installed (Debian package wkhtmltopdf)")
    return pdfkit.configuration(wkhtmltopdf=binary)


def render_pdf(html: str, *, letter: bool = False) -> bytes:
    """One HTML document → PDF bytes (letter=True: no margins, positions from the paper edge)."""
    os.environ.setdefault("XDG_RUNTIME_DIR", tempfile.gettempdir())  # silences a harmless Qt warning
    try:
        pdf: bytes = pdfkit.from_string(
            html, False, options=LETTER_OPTIONS if letter else OPTIONS, configuration=_configuration()
        )
    except OSError as exc:
        raise PdfError(str(exc)) from exc
    return pdf


def render_pdfs(documents: Sequence[str], workers: int | None = None) -> list[bytes]:
    """Several documents at once: wkhtmltopdf is a process per document, so use every core."""
    workers = workers or os.cpu_count() or 1
    with ThreadPoolExecutor(max_workers=workers) as pool:
        return list(pool.map(render_pdf, documents))


def render_each(
    documents: Sequence[str], *, letter: bool = False, workers: int | None = None
) -> list[bytes | PdfError]:
    """Like render_pdfs, but every document gets its own outcome: its PDF or its PdfError (a batch of
    letters where one fails still delivers the others)."""

    def one(html: str) -> bytes | PdfError:
        try:
            return render_pdf(html, letter=letter)
        except PdfError as error:
            return error

    if len(documents) <= 1:
        return [one(html) for html in documents]
    with ThreadPoolExecutor(max_workers=workers or os.cpu_count() or 1) as pool:
        return list(pool.map(one, documents))
