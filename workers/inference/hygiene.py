"""Clean a customer message before scoring: HTML, quoted earlier mail, signatures and disclaimers go."""

from __future__ import annotations

import html
import re
from html.parser import HTMLParser

# Blocks whose text is never the customer's own words in this message.
_DROP_TAGS = {"script", "style", "head", "blockquote"}
_BREAK_TAGS = {"br", "p", "div", "li", "tr", "h1", "h2", "h3", "h4", "h5", "h6", "table", "ul", "ol"}
_LOOKS_LIKE_HTML = re.compile(r"<\s*(html|body|div|p|br|span|table|blockquote|a|b|i|strong|em)\b", re.I)

# A line that opens a quoted earlier message; everything from it on is history, not this message.
_QUOTE_HEADERS = [
    re.compile(r"^\s*On\b.{0,300}\bwrote:\s*$", re.I | re.S),
    re.compile(r"^\s*-{2,}\s*(Original|Forwarded) Message\s*-{2,}", re.I),
    re.compile(r"^\s*_{10,}\s*$"),
    re.compile(r"^\s*From:\s.+$", re.I),
    re.compile(r"^\s*Le\b.{0,300}\ba écrit\s*:\s*$", re.I),
    re.compile(r"^\s*Am\b.{0,300}\bschrieb\b.{0,100}:\s*$", re.I),
    re.compile(r"^\s*El\b.{0,300}\bescribió:\s*$", re.I),
]
_SIGNATURE_DELIMITER = re.compile(r"^--\s?$")
_MOBILE_FOOTER = re.compile(
    r"^\s*(Sent from my \w+|Get Outlook for \w+|Sent from (Mail|Yahoo Mail|Gmail))", re.I
)
_SIGN_OFF = re.compile(
    r"^\s*(best( regards| wishes)?|kind regards|warm regards|regards|thanks( again| in advance)?|"
    r"thank you|many thanks|cheers|sincerely|yours( sincerely| truly)?|br|thx)\s*[,.!]?\s*$",
    re.I,
)
_DISCLAIMER = re.compile(
    r"(this (e-?mail|message|communication)( and any (files|attachments)[^.]*)? (is|are|may be|contains?)"
    r"[^.]{0,80}confidential|if you are not the intended recipient|confidentiality notice|"
    r"^\s*disclaimer\b|please consider the environment before printing)",
    re.I | re.M,
)
# A sign-off only ends the message when little follows it (a name, a title, a phone number).
_MAX_LINES_AFTER_SIGN_OFF = 5


class _TextExtractor(HTMLParser):
    """Collect visible text, turning block tags into line breaks and skipping quoted blocks."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self._skip_depth = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in _DROP_TAGS:
            self._skip_depth += 1
        elif tag in _BREAK_TAGS:
            self.parts.append("\n")

    def handle_endtag(self, tag: str) -> None:
        if tag in _DROP_TAGS:
            self._skip_depth = max(0, self._skip_depth - 1)
        elif tag in _BREAK_TAGS:
            self.parts.append("\n")

    def handle_data(self, data: str) -> None:
        if not self._skip_depth:
            self.parts.append(data)


def strip_html(text: str) -> str:
    """Return the visible text of an HTML body (plain text passes through, entities decoded)."""
    if not _LOOKS_LIKE_HTML.search(text):
        return html.unescape(text)
    extractor = _TextExtractor()
    extractor.feed(text)
    extractor.close()
    return "".join(extractor.parts)


def strip_quoted(lines: list[str]) -> list[str]:
    """Drop `>`-quoted lines and everything after a reply header such as "On ... wrote:"."""
    kept: list[str] = []
    for index, line in enumerate(lines):
        # Reply headers often wrap onto two lines; test the pair as well.
        pair = f"{line} {lines[index + 1]}" if index + 1 < len(lines) else line
        if any(p.match(line) for p in _QUOTE_HEADERS) or (
            _QUOTE_HEADERS[0].match(pair) and not line.strip().endswith(".")
        ):
            break
        if line.lstrip().startswith(">"):
            continue
        kept.append(line)
    return kept


def strip_signature(lines: list[str]) -> list[str]:
    """Cut a signature: the `-- ` delimiter, mobile footers, or a closing sign-off near the end."""
    for index, line in enumerate(lines):
        if _SIGNATURE_DELIMITER.match(line) or _MOBILE_FOOTER.match(line):
            return lines[:index]
    non_empty = [i for i, line in enumerate(lines) if line.strip()]
    for index in non_empty:
        after = [i for i in non_empty if i > index]
        if (
            _SIGN_OFF.match(lines[index])
            and len(after) <= _MAX_LINES_AFTER_SIGN_OFF
            and index != non_empty[0]
        ):
            return lines[:index]
    return lines


def strip_disclaimers(text: str) -> str:
    """Drop every paragraph that reads like a legal e-mail disclaimer."""
    paragraphs = re.split(r"\n\s*\n", text)
    return "\n\n".join(p for p in paragraphs if not _DISCLAIMER.search(p))


def clean_message(text: str) -> str:
    """Return the customer's own words of one message, ready to score."""
    visible = strip_html(text).replace("\r\n", "\n").replace("\r", "\n").replace("\xa0", " ")
    lines = strip_signature(strip_quoted(visible.split("\n")))
    cleaned = strip_disclaimers("\n".join(lines))
    cleaned = re.sub(r"[ \t]+", " ", cleaned)
    cleaned = re.sub(r"\n\s*\n+", "\n\n", cleaned).strip()
    # A message that was nothing but quote or signature still has to be scored on something.
    return cleaned or re.sub(r"\s+", " ", visible).strip()
