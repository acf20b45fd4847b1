"""Error pages parsed into a small tree with html.parser, so that tests assert about the
document a browser builds, not about substrings."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from html.parser import HTMLParser
from typing import Any

__all__ = ["REQUEST_ID", "Node", "parse_page", "problem_script"]

VOID = {"meta", "link", "br", "img", "input", "hr", "source", "wbr", "area", "base", "col"}
REQUEST_ID = "req-1234abcd"
"""The request id the page tests send."""


@dataclass
class Node:
    tag: str
    attrs: dict[str, str | None]
    parent: Node | None = None
    children: list[Node | str] = field(default_factory=list)

    def iter(self) -> Any:
        yield self
        for child in self.children:
            if isinstance(child, Node):
                yield from child.iter()

    def find_all(self, tag: str, **attrs: str) -> list[Node]:
        return [
            node
            for node in self.iter()
            if node.tag == tag and all(node.attrs.get(k) == v for k, v in attrs.items())
        ]

    def find(self, tag: str, **attrs: str) -> Node:
        found = self.find_all(tag, **attrs)
        assert len(found) == 1, f"expected one <{tag} {attrs}>, found {len(found)}"
        return found[0]

    def by_id(self, element_id: str) -> Node | None:
        found = [node for node in self.iter() if node.attrs.get("id") == element_id]
        assert len(found) <= 1, f"duplicate id {element_id}"
        return found[0] if found else None

    def text(self) -> str:
        return "".join(c if isinstance(c, str) else c.text() for c in self.children)

    def ancestors(self) -> list[str]:
        tags, node = [], self.parent
        while node is not None:
            tags.append(node.tag)
            node = node.parent
        return tags


class _TreeBuilder(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.root = Node("#document", {})
        self.current = self.root
        self.doctype: str | None = None

    def handle_decl(self, decl: str) -> None:
        self.doctype = decl

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        node = Node(tag, dict(attrs), self.current)
        self.current.children.append(node)
        if tag not in VOID:
            self.current = node

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.current.children.append(Node(tag, dict(attrs), self.current))

    def handle_endtag(self, tag: str) -> None:
        assert self.current.tag == tag, f"</{tag}> closes <{self.current.tag}>"
        assert self.current.parent is not None
        self.current = self.current.parent

    def handle_data(self, data: str) -> None:
        self.current.children.append(data)


def parse_page(body: bytes) -> Node:
    """The page as a tree; asserts it is well nested and has the doctype."""
    builder = _TreeBuilder()
    builder.feed(body.decode("utf-8"))
    builder.close()
    assert builder.current is builder.root, "unclosed elements"
    assert builder.doctype is not None
    assert builder.doctype.lower() == "doctype html"
    return builder.root


def problem_script(page: Node) -> dict[str, Any]:
    script = page.find("script", type="application/problem+json")
    data: dict[str, Any] = json.loads(script.text())
    return data
