"""Reading a received error body: RFC 9457 problem details (JSON, XML) or the Twitter envelope.

Shared by :mod:`gatewayerrors.client` and the classifier's chain reading. A received body is
another system's data: bounded in size, parsed strictly, and anything unexpected ignored.
"""

from __future__ import annotations

from typing import Any

import orjson

__all__ = ["MAX_BODY", "parse_body"]

MAX_BODY = 64 * 1024  # an error body larger than this is not read as a problem
_PROBLEM_XML = "{urn:ietf:rfc:7807}"


def _int(value: object) -> int | None:
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if isinstance(value, str) and value.isdigit() and len(value) < 12:
        return int(value)
    return None


def _json_members(body: bytes) -> dict[str, Any] | None:
    try:
        document = orjson.loads(body)
    except orjson.JSONDecodeError:
        return None
    return document if isinstance(document, dict) else None


def _xml_members(body: bytes) -> dict[str, Any] | None:
    """Members of an RFC 9457 Appendix B document, or of a Twitter ``<errors>`` envelope.

    The standard library's expat (2.4.1 and later, bundled with every supported Python) refuses
    entity-expansion bombs, and ElementTree never fetches external entities.
    """
    from xml.etree import ElementTree

    if b"<!DOCTYPE" in body or b"<!ENTITY" in body:
        return None  # neither format has a DTD; refuse before parsing
    try:
        root = ElementTree.fromstring(body)
    except ElementTree.ParseError:
        return None
    if root.tag == _PROBLEM_XML + "problem":
        members: dict[str, Any] = {}
        for child in root:
            if child.tag.startswith(_PROBLEM_XML):
                items = [item.text or "" for item in child if item.tag == _PROBLEM_XML + "i"]
                name = child.tag[len(_PROBLEM_XML) :]
                members[name] = items if items else (child.text or "")
        return members
    if root.tag == "errors":
        errors = [
            {"message": error.text or "", "code": _int(error.get("code"))}
            for error in root
            if error.tag == "error"
        ]
        return {"errors": errors}
    return None


def parse_body(content_type: str | None, body: bytes | None) -> dict[str, Any] | None:
    """The members of a JSON or XML error body (by media type), or None."""
    if not body or len(body) > MAX_BODY or content_type is None:
        return None
    media = content_type.partition(";")[0].strip().lower()
    if media.endswith(("/json", "+json")):
        return _json_members(body)
    if media.endswith(("/xml", "+xml")):
        return _xml_members(body)
    return None
