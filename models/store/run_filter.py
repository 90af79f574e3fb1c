"""The `GET /runs?filter=` language, parsed into a small tree; errors carry their position.

    expr       := term ("or" term)*
    term       := factor ("and" factor)*
    factor     := "not" factor | "(" expr ")" | comparison
    comparison := field op value | field ["not"] "in" "(" value ("," value)* ")"
    field      := spec.<dotted path> | summary.<key> | status | backend | experiment | id | seed
                  | epochs_done | objective   (each holds numbers, text or booleans)
    op         := "=" | "!=" | "<" | "<=" | ">" | ">="
    value      := number | 'text' | "text" | true | false | null

Keywords are case-insensitive. Example:
`(spec.regularization.dropout in (0.3, 0.6) or spec.regularization.batchnorm = true)
 and summary.test_acc > 0.9 and status = 'succeeded'`
"""

import math
import re
from dataclasses import dataclass
from typing import Literal

from models.metric_names import SUMMARY_METRICS
from models.spec.paths import LeafKind, spec_path_kind
from models.store.tables import MAX_INT, MIN_INT, UNSTORABLE_TEXT

Scalar = float | int | str | bool | None
Op = Literal["=", "!=", "<", "<=", ">", ">="]
COLUMNS: dict[str, LeafKind] = {
    "status": "text",
    "backend": "text",
    "experiment": "number",
    "id": "number",
    "seed": "number",
    "epochs_done": "number",
    "objective": "number",
}
INTEGER_COLUMNS = frozenset({"experiment", "id", "seed", "epochs_done"})
MAX_FILTER_LENGTH = 2000
# Parentheses and `not`s open at once: each level nests the SQL once more, and SQLite's parser
# overflows past about 32 levels of parentheses (Python's stack past about 300 here).
MAX_DEPTH = 20
_TOKEN = re.compile(
    r"""\s*(?:
    (?P<number>-?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?)
  | '(?P<squote>[^']*)' | "(?P<dquote>[^"]*)"
  | (?P<op><=|>=|!=|=|<|>)
  | (?P<punct>[(),])
  | (?P<word>[A-Za-z_][A-Za-z0-9_.]*)
)""",
    re.VERBOSE,
)


class FilterError(ValueError):
    """A filter that does not parse, with the 0-based character position of the problem."""

    def __init__(self, message: str, position: int) -> None:
        super().__init__(f"{message} (at position {position})")
        self.message = message
        self.position = position


@dataclass(frozen=True)
class Field:
    """Where the value lives (spec, summary or a run column), its path there, and its kind."""

    source: Literal["spec", "summary", "column"]
    path: str
    kind: LeafKind

    @property
    def integer(self) -> bool:
        """Whether the field is an INTEGER column, whose values must fit one."""
        return self.source == "column" and self.path in INTEGER_COLUMNS


@dataclass(frozen=True)
class Comparison:
    field: Field
    op: Op
    value: Scalar


@dataclass(frozen=True)
class In:
    field: Field
    values: tuple[Scalar, ...]
    negated: bool


@dataclass(frozen=True)
class Not:
    operand: "Node"


@dataclass(frozen=True)
class BoolOp:
    op: Literal["and", "or"]
    operands: tuple["Node", ...]


Node = Comparison | In | Not | BoolOp


@dataclass(frozen=True)
class _Token:
    kind: str
    text: str
    position: int


def _tokenize(text: str) -> list[_Token]:
    tokens, position = [], 0
    while position < len(text):
        if text[position:].strip() == "":
            break
        match = _TOKEN.match(text, position)
        if match is None or match.lastgroup is None:
            start = len(text) - len(text[position:].lstrip())
            raise FilterError(f"unexpected character {text[start]!r}", start)
        quoted = match.lastgroup in ("squote", "dquote")
        start = match.start(match.lastgroup) - quoted  # a text starts at its opening quote
        kind = "text" if quoted else match.lastgroup
        tokens.append(_Token(kind, match.group(match.lastgroup), start))
        position = match.end()
    tokens.append(_Token("end", "", len(text)))
    return tokens


def parse_field(text: str, position: int = 0) -> Field:
    """A field name: `spec.<path>`, `summary.<key>` or a run column."""
    head, _, rest = text.partition(".")
    if head == "spec" and rest:
        try:
            return Field("spec", rest, spec_path_kind(rest))
        except ValueError as exc:
            raise FilterError(str(exc), position) from None
    if head == "summary" and rest in SUMMARY_METRICS:
        return Field("summary", rest, "number")
    if head == "summary":
        known = ", ".join(SUMMARY_METRICS)
        raise FilterError(f"unknown summary key {rest!r}; known: {known}", position)
    if text in COLUMNS:
        return Field("column", text, COLUMNS[text])
    raise FilterError(
        f"unknown field {text!r}; use spec.<path>, summary.<key> or one of {', '.join(COLUMNS)}",
        position,
    )


class _Parser:
    def __init__(self, text: str) -> None:
        self.tokens = _tokenize(text)
        self.index = 0
        self.depth = 0

    @property
    def token(self) -> _Token:
        return self.tokens[self.index]

    def keyword(self, word: str) -> bool:
        if self.token.kind == "word" and self.token.text.lower() == word:
            self.index += 1
            return True
        return False

    def expect(self, text: str) -> None:
        if self.token.text != text or self.token.kind not in ("punct", "op"):
            found = self.token.text or "the end"
            raise FilterError(f"expected {text!r}, found {found!r}", self.token.position)
        self.index += 1

    def expression(self) -> Node:
        operands = [self.term()]
        while self.keyword("or"):
            operands.append(self.term())
        return operands[0] if len(operands) == 1 else BoolOp("or", tuple(operands))

    def term(self) -> Node:
        operands = [self.factor()]
        while self.keyword("and"):
            operands.append(self.factor())
        return operands[0] if len(operands) == 1 else BoolOp("and", tuple(operands))

    def factor(self) -> Node:
        opening = self.token
        negated = self.keyword("not")
        if not negated and not (opening.kind == "punct" and opening.text == "("):
            return self.comparison()
        self.depth += 1
        if self.depth > MAX_DEPTH:
            message = f"nested deeper than {MAX_DEPTH} levels of parentheses and `not`"
            raise FilterError(message, opening.position)
        if negated:
            node: Node = Not(self.factor())
        else:
            self.index += 1
            node = self.expression()
            self.expect(")")
        self.depth -= 1
        return node

    def comparison(self) -> Node:
        token = self.token
        if token.kind != "word" or token.text.lower() in ("and", "or", "not", "in"):
            found = token.text or "the end"
            raise FilterError(f"expected a field, found {found!r}", token.position)
        self.index += 1
        field = parse_field(token.text, token.position)
        negated = self.keyword("not")
        if self.keyword("in"):
            self.expect("(")
            values = [self.value(field)]
            while self.token.text == "," and self.token.kind == "punct":
                self.index += 1
                values.append(self.value(field))
            self.expect(")")
            return In(field, tuple(values), negated)
        if negated or self.token.kind != "op":
            raise FilterError(f"expected an operator after {token.text!r}", self.token.position)
        op = self.token.text
        self.index += 1
        value_token = self.token
        value = self.value(field)
        if value is None and op not in ("=", "!="):
            raise FilterError("null compares only with = or !=", value_token.position)
        return Comparison(field, op, value)  # type: ignore[arg-type]

    def value(self, field: Field) -> Scalar:
        """A literal of the field's kind (or null)."""
        token = self.token
        value = self.literal()
        kinds: dict[LeafKind, tuple[type, ...]] = {
            "number": (int, float),
            "text": (str,),
            "bool": (bool,),
        }
        fits = isinstance(value, kinds[field.kind]) and not (
            field.kind == "number" and isinstance(value, bool)
        )
        if value is not None and not fits:
            raise FilterError(f"{token.text!r} is not a {field.kind} value", token.position)
        in_range = isinstance(value, int) and MIN_INT <= value <= MAX_INT
        if field.integer and value is not None and not in_range:
            message = f"{field.path} holds integers from {MIN_INT} to {MAX_INT}"
            raise FilterError(message, token.position)
        return value

    def literal(self) -> Scalar:
        token = self.token
        self.index += 1
        if token.kind == "number":
            number = float(token.text)
            if not math.isfinite(number):
                raise FilterError("number out of range", token.position)
            return int(token.text) if re.fullmatch(r"-?\d+", token.text) else number
        if token.kind == "text":
            if UNSTORABLE_TEXT.search(token.text):
                raise FilterError("text with a NUL character", token.position)
            return token.text
        words: dict[str, Scalar] = {"true": True, "false": False, "null": None}
        if token.kind == "word" and token.text.lower() in words:
            return words[token.text.lower()]
        raise FilterError(f"expected a value, found {token.text or 'the end'!r}", token.position)


def parse_filter(text: str) -> Node:
    """Parse a filter expression; FilterError says what is wrong and where."""
    if len(text) > MAX_FILTER_LENGTH:
        raise FilterError(f"filter longer than {MAX_FILTER_LENGTH} characters", MAX_FILTER_LENGTH)
    parser = _Parser(text)
    node = parser.expression()
    if parser.token.kind != "end":
        raise FilterError(f"unexpected {parser.token.text!r}", parser.token.position)
    return node


@dataclass(frozen=True)
class Order:
    """Sort runs by one field; runs without a value come last either way."""

    field: Field
    descending: bool


def parse_order(text: str) -> Order:
    """`<field> [asc|desc]`, e.g. `summary.test_acc desc`; ascending by default."""
    name, _, direction = text.strip().partition(" ")
    direction = direction.strip().lower() or "asc"
    if direction not in ("asc", "desc"):
        raise FilterError(f"order: {direction!r} is neither asc nor desc", len(name) + 1)
    return Order(parse_field(name, 0), direction == "desc")
