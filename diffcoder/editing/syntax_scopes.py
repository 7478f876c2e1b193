"""Scope structure of a parsed file from the `.scm` queries: definitions, statements, namespaces.

Answers the structural questions region choice asks: what encloses a row, which statements are
top-level, which statements form a blank-line-separated group.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from tree_sitter import Node, QueryCursor, Tree

from diffcoder.editing.indentation import indentation
from diffcoder.editing.languages import scope_query
from diffcoder.editing.parsing import ByteIndex
from diffcoder.editing.positions import LineIndex

# Lines directly above a definition that belong to it: doc comments, decorators, attributes.
_ATTACHED_PREFIXES: dict[str, tuple[str, ...]] = {
    "python": ("#", "@"),
    "rust": ("//", "/*", "*", "#[", "#!["),
    "java": ("//", "/*", "*", "@"),
    "javascript": ("//", "/*", "*", "@"),
    "typescript": ("//", "/*", "*", "@"),
    "tsx": ("//", "/*", "*", "@"),
}
# C, C++ and Go: `#` starts a preprocessor line there, never a comment.
_C_LIKE_PREFIXES = ("//", "/*", "*")

DEFINITION_KINDS = ("method", "function", "class", "variable")


@dataclass(frozen=True)
class Definition:
    """A named scope from the query: rows span its wrappers and attached comment lines."""

    kind: str
    name: str | None
    node: Node
    first_row: int
    last_row: int
    extent: Node  # `node` with its wrappers (decorators, `export`, the declaration it is in)


@dataclass
class SyntaxScopes:
    index: ByteIndex  # rows of nodes, by the text's line index
    language: str
    definitions: list[Definition] = field(default_factory=list)
    statements: list[Node] = field(default_factory=list)
    namespaces: list[Node] = field(default_factory=list)
    import_rows: set[int] = field(default_factory=set)
    statement_set: set[Node] = field(default_factory=set)

    @property
    def lines(self) -> list[str]:
        return self.index.lines.lines

    def rows(self, node: Node) -> tuple[int, int]:
        return self.index.node_rows(node)

    def blank(self, row: int) -> bool:
        return not self.lines[row].strip()

    def attached_first_row(self, row: int) -> int:
        """First row of the comment/decorator lines glued above `row` (no blank line between)."""
        prefixes = _ATTACHED_PREFIXES.get(self.language, _C_LIKE_PREFIXES)
        header = self.lines[row]
        indent = len(indentation(header))
        while row > 0:
            above = self.lines[row - 1]
            above_indent = len(indentation(above))
            # " * " continuation lines of a block comment sit one column right of the definition.
            if not above.strip().startswith(prefixes) or above_indent > indent + 1:
                break
            row -= 1
        return row

    def enclosing(self, first: int, last: int) -> list[Definition]:
        """Function/method/class definitions around rows first..last, innermost first."""
        found = [
            d
            for d in self.definitions
            if d.kind != "variable" and d.first_row <= first and last <= d.last_row
        ]
        return sorted(found, key=lambda d: (d.last_row - d.first_row, d.node.end_byte))

    def at_cursor(self, row: int, byte: int) -> list[Definition]:
        """`enclosing(row, row)`, the definitions that hold the cursor's column first: several
        can share a line (`function a() {} function b() {}`), and the column tells them apart."""
        found = self.enclosing(row, row)
        holding = [d for d in found if self._holds(d, byte)]

        def rank(d: Definition) -> tuple[int, bool, int]:
            inside = d.node.start_byte <= byte <= d.node.end_byte
            return d.last_row - d.first_row, not inside, d.node.end_byte - d.node.start_byte

        return sorted(holding, key=rank) + [d for d in found if d not in holding]

    def _holds(self, d: Definition, byte: int) -> bool:
        """The cursor is in the definition's code, or in the blank (or `;`) stretches of the
        lines it begins and ends that no other code shares."""
        start, end = d.extent.start_byte, d.extent.end_byte
        low, high = d.node.start_byte, d.node.end_byte
        row = self.index.row_of_byte(start)
        if not self._row_bytes(row)[: start - self.index.row_bytes[row]].strip():
            low = self.index.row_bytes[d.first_row]
        row = self.index.row_of_byte(max(end - 1, 0))
        if not self._row_bytes(row)[end - self.index.row_bytes[row] :].strip(b" \t\r\n;"):
            high = self._row_end_byte(d.last_row)
        return low <= byte <= high

    def _row_bytes(self, row: int) -> bytes:
        return self.lines[row].encode("utf-8", "surrogatepass")

    def _row_end_byte(self, row: int) -> int:
        return self.index.row_bytes[row] + len(self._row_bytes(row))

    def outermost_statements(self, container: Node | None) -> list[Node]:
        """Statements directly inside `container` (the file when None), minus its header row."""
        result: list[Node] = []
        end = -1
        for node in self.statements:
            if container is not None:
                inside = (
                    container.start_byte <= node.start_byte <= node.end_byte <= container.end_byte
                )
                if not inside or node == container:
                    continue
                if self.rows(node)[0] == self.rows(container)[0]:
                    continue
            if node.start_byte >= end:
                result.append(node)
                end = node.end_byte
        return result

    def group_around(self, statements: list[Node], row: int) -> tuple[int, int] | None:
        """Rows of the blank-line-separated run of statements holding `row`, or the nearest run."""
        groups: list[list[int]] = []
        for node in statements:
            first, last = self.rows(node)
            if groups and not any(self.blank(r) for r in range(groups[-1][1] + 1, first)):
                groups[-1][1] = max(groups[-1][1], last)
            else:
                groups.append([first, last])
        if not groups:
            return None
        # Ties go to the group above: a cursor after a block usually means "continue it".
        first, last = min(groups, key=lambda g: (max(g[0] - row, row - g[1], 0), g[0]))
        return self.attached_first_row(first), last

    def top_level(self, row: int) -> tuple[list[Node], Node | None]:
        """Top-level statements around `row` and the one holding it, seen through namespaces."""
        container: Node | None = None
        while True:
            statements = self.outermost_statements(container)
            holder = next((s for s in statements if self.holds(s, row)), None)
            if holder is None:
                return statements, None
            inner = [
                n
                for n in self.namespaces
                if holder.start_byte <= n.start_byte
                and n.end_byte <= holder.end_byte
                and self.rows(n)[0] < row < self.rows(n)[1]
            ]
            if not inner:
                return statements, holder
            container = min(inner, key=lambda n: n.end_byte - n.start_byte)

    def innermost_statement(self, row: int) -> Node | None:
        holders = [s for s in self.statements if self.holds(s, row)]
        return min(holders, key=lambda n: n.end_byte - n.start_byte, default=None)

    def holds(self, node: Node, row: int) -> bool:
        first, last = self.rows(node)
        return first <= row <= last


def _plain_name(name: str) -> str:
    """`Foo<T>` → `Foo`, `ns::Type::method` → `method`: the word an instruction would use."""
    return name.split("<", 1)[0].split("::")[-1].strip()


def collect_scopes(
    tree: Tree, language: str, text: str, *, index: ByteIndex | None = None
) -> SyntaxScopes:
    """Run the language's scope query once and sort its captures; `index` is `text`'s, if built."""
    scopes = SyntaxScopes(index=index or ByteIndex(LineIndex(text)), language=language)
    query = scope_query(language)
    if query is None:
        return scopes
    kinds: dict[Node, str] = {}
    names: dict[Node, str] = {}
    wrappers: set[Node] = set()
    statements: set[Node] = set()
    for _, captures in QueryCursor(query).matches(tree.root_node):
        name_nodes = captures.get("name") or []
        for kind in DEFINITION_KINDS:
            for node in captures.get(kind, ()):
                # A node caught by several patterns keeps the most specific kind (method first).
                known = kinds.get(node)
                if known is None or DEFINITION_KINDS.index(kind) < DEFINITION_KINDS.index(known):
                    kinds[node] = kind
                if name_nodes and node not in names and name_nodes[0].text is not None:
                    names[node] = _plain_name(name_nodes[0].text.decode("utf-8", "replace"))
        wrappers.update(captures.get("wrapper", ()))
        scopes.namespaces.extend(captures.get("namespace", ()))
        scopes.import_rows.update(scopes.rows(node)[0] for node in captures.get("import", ()))
        statements.update(captures.get("statement", ()))
    for node, kind in kinds.items():
        extent = node
        while extent.parent is not None and extent.parent in wrappers:
            extent = extent.parent
        first, last = scopes.rows(extent)
        if kind != "variable":
            first = scopes.attached_first_row(first)
        scopes.definitions.append(Definition(kind, names.get(node), node, first, last, extent))
    if tree.root_node.is_error:
        # Recovery wrapped the file in one ERROR node; its children are the top-level code.
        statements.update(tree.root_node.named_children)
    scopes.statements = sorted(statements, key=lambda n: (n.start_byte, -n.end_byte))
    scopes.statement_set = statements
    return scopes
