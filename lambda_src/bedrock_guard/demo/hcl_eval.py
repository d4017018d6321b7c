"""Evaluate Terraform expressions from python-hcl2's rule tree, for the demo to read its settings.

The subset is what the repository's own configuration uses: literals, string templates, tuples
and objects, references (resolved through the symbols the caller gives: ``var``, ``local``,
``module``, ``each``, resources, for-expression symbols), operators, conditionals, for
expressions and the functions of :mod:`.hcl_functions`. Three kinds of failure are kept apart:

* :class:`ExpressionError`: the expression fails as it would in Terraform (what ``can()`` and
  ``try()`` catch);
* :class:`Unsupported`: a construct this evaluator does not implement;
* :class:`Unknown`: a value Terraform itself only knows after apply, with no local stand-in.

Each names the file and the expression, so the demo can say where a value could not come from.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from typing import Any, Final

from hcl2.rules.abstract import LarkToken
from hcl2.rules.containers import (
    ObjectElemKeyExpressionRule,
    ObjectElemKeyRule,
    ObjectRule,
    TupleRule,
)
from hcl2.rules.expressions import BinaryOpRule, ConditionalRule, ExprTermRule, UnaryOpRule
from hcl2.rules.for_expressions import ForObjectExprRule, ForTupleExprRule
from hcl2.rules.functions import FunctionCallRule
from hcl2.rules.indexing import GetAttrExprTermRule, IndexExprTermRule
from hcl2.rules.literal_rules import FloatLitRule, IdentifierRule, IntLitRule, LiteralValueRule
from hcl2.rules.strings import (
    HeredocTemplateRule,
    InterpolationRule,
    StringRule,
)
from hcl2.utils import SerializationOptions, process_escape_sequences

from bedrock_guard.demo.hcl_functions import FUNCTIONS, normal_number, template_text

_VALUE_OPTIONS: Final = SerializationOptions(
    with_comments=False, strip_string_quotes=True, preserve_heredocs=False
)
_LAZY_FUNCTIONS: Final = frozenset({"can", "try"})


class EvalError(Exception):
    """An expression the demo could not evaluate: the file, the expression, and why."""

    def __init__(self, reason: str, *, source: str = "", expression: str = "") -> None:
        self.reason = reason
        self.source = source
        self.expression = expression
        super().__init__(self.describe())

    def describe(self) -> str:
        where = f"{self.source}: " if self.source else ""
        what = f"{self.expression}: " if self.expression else ""
        return f"{where}{what}{self.reason}"

    def located(self, source: str, expression: str) -> EvalError:
        """The same error, placed in the outermost expression that was being evaluated."""
        if not self.source:
            self.source = source
        if not self.expression:
            self.expression = expression
        self.args = (self.describe(),)
        return self


class ExpressionError(EvalError):
    """The expression fails as it would in Terraform (caught by ``can`` and ``try``)."""


class Unsupported(EvalError):
    """A construct the demo's evaluator does not implement."""


class Unknown(EvalError):
    """A value known only after apply, and no local stand-in supplied it."""


class Lazy:
    """A value resolved on access (``var``, ``local``, a resource): override what applies."""

    def attr(self, name: str) -> Any:
        raise ExpressionError(f"{self!r} has no attribute {name!r}")

    def index(self, key: Any) -> Any:
        raise ExpressionError(f"{self!r} cannot be indexed")

    def materialize(self) -> Any:
        """The whole value, for iteration and functions."""
        raise Unsupported(f"{self!r} cannot be used as a whole value")


class Pending(Lazy):
    """An element of an object or tuple whose value was :class:`Unknown` when evaluated.

    Terraform keeps unknown values inside known objects; so does the demo: reading the other
    attributes works, and using this one evaluates it again (the resources it refers to may
    exist by then) or raises the original error.
    """

    def __init__(self, error: Unknown, compute: Callable[[], Any]) -> None:
        self.error = error
        self._compute = compute
        self._value: Any = None
        self._known = False

    def value(self) -> Any:
        if not self._known:
            try:
                self._value = self._compute()
            except Unknown as error:
                self.error = error
                raise
            self._known = True
        return self._value

    def attr(self, name: str) -> Any:
        return get_attr(self.value(), name)

    def index(self, key: Any) -> Any:
        return get_index(self.value(), key)

    def materialize(self) -> Any:
        return self.value()

    def __repr__(self) -> str:
        return f"(known after apply: {self.error.reason})"


def resolved(value: Any) -> Any:
    """``value`` itself, unless it is :class:`Pending`: then its value, or its error."""
    while isinstance(value, Pending):
        value = value.value()
    return value


def expression_text(node: Any) -> str:
    """Source-like text of an expression node, for messages."""
    try:
        text = node.serialize()
    except Exception:  # serialisation is only for the message; never hide the real error
        return f"<{type(node).__name__}>"
    if isinstance(text, str):
        return text[2:-1] if text.startswith("${") and text.endswith("}") else text
    return repr(text)


def plain(value: Any) -> Any:
    """``value`` with every :class:`Lazy` inside it resolved."""
    if isinstance(value, Lazy):
        return plain(value.materialize())
    if isinstance(value, dict):
        return {key: plain(inner) for key, inner in value.items()}
    if isinstance(value, list):
        return [plain(inner) for inner in value]
    return value


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _equal(left: Any, right: Any) -> bool:
    if isinstance(left, bool) != isinstance(right, bool):
        return False
    return bool(left == right)


def _arithmetic(operator: str, left: Any, right: Any) -> Any:
    if not (_is_number(left) and _is_number(right)):
        raise ExpressionError(f"operator {operator} needs numbers, got {left!r} and {right!r}")
    if operator in {"/", "%"} and right == 0:
        raise ExpressionError("division by zero")
    results: dict[str, Callable[[], Any]] = {
        "+": lambda: left + right,
        "-": lambda: left - right,
        "*": lambda: left * right,
        "/": lambda: left / right,
        "%": lambda: left % right,
        "<": lambda: left < right,
        ">": lambda: left > right,
        "<=": lambda: left <= right,
        ">=": lambda: left >= right,
    }
    return normal_number(results[operator]())


def get_attr(value: Any, name: str) -> Any:
    """``value.name`` with Terraform's rules for objects, maps and lazy values."""
    if isinstance(value, Lazy):
        return value.attr(name)
    if isinstance(value, dict):
        if name not in value:
            raise ExpressionError(f"no attribute {name!r} (has {', '.join(sorted(value))})")
        return value[name]
    if value is None:
        raise ExpressionError(f"cannot read attribute {name!r} of null")
    raise ExpressionError(f"cannot read attribute {name!r} of a {type(value).__name__}")


def get_index(value: Any, key: Any) -> Any:
    """``value[key]`` for lists (whole-number index) and maps (string key)."""
    if isinstance(value, Lazy):
        return value.index(key)
    if isinstance(value, list):
        if not _is_number(key) or int(key) != key or not 0 <= int(key) < len(value):
            raise ExpressionError(f"index {key!r} out of range for a list of {len(value)}")
        return value[int(key)]
    if isinstance(value, dict):
        text = template_text(key)
        if text not in value:
            raise ExpressionError(f"no element {text!r} (has {', '.join(sorted(value))})")
        return value[text]
    raise ExpressionError(f"cannot index a {type(value).__name__}")


def iterate(collection: Any) -> Iterator[tuple[Any, Any]]:
    """(key, value) pairs as a for expression sees them: maps in key order, lists by index."""
    if isinstance(collection, Lazy):
        collection = collection.materialize()
    if isinstance(collection, dict):
        yield from sorted(collection.items())
    elif isinstance(collection, list):
        yield from enumerate(collection)
    else:
        raise ExpressionError(f"cannot iterate over a {type(collection).__name__}")


class Evaluator:
    """Evaluates expression nodes of one file against a set of symbols."""

    def __init__(
        self,
        symbols: Mapping[str, Any],
        source: str,
        *,
        fallback: Callable[[str], Any] | None = None,
    ) -> None:
        self.symbols = symbols
        self.source = source
        self.fallback = fallback

    def with_symbols(self, extra: Mapping[str, Any]) -> Evaluator:
        """The same evaluator with more symbols (for-expression and dynamic-block iterators)."""
        return Evaluator({**self.symbols, **extra}, self.source, fallback=self.fallback)

    def evaluate(self, node: Any) -> Any:
        """The value of ``node``; every failure is an :class:`EvalError` naming file and text."""
        try:
            return resolved(self._eval(node))
        except EvalError as error:
            raise error.located(self.source, expression_text(node)) from None
        except (ValueError, TypeError, KeyError, IndexError) as error:
            raise ExpressionError(
                str(error), source=self.source, expression=expression_text(node)
            ) from error

    def _eval(self, node: Any) -> Any:  # noqa: PLR0911, PLR0912 (one branch per node type)
        if isinstance(node, ExprTermRule):
            return self._eval(node.expression)
        if isinstance(node, StringRule):
            return self._string(node)
        if isinstance(node, HeredocTemplateRule):
            text = node.serialize(_VALUE_OPTIONS)
            if "${" in text or "%{" in text:
                raise Unsupported("heredoc templates with interpolation")
            return text
        if isinstance(node, IntLitRule | FloatLitRule):
            return normal_number(node.serialize())
        if isinstance(node, LiteralValueRule):
            return node.serialize()
        if isinstance(node, IdentifierRule):
            return self._symbol(str(node.serialize()))
        if isinstance(node, GetAttrExprTermRule):
            return get_attr(self._eval(node.expr_term), str(node.get_attr.identifier.serialize()))
        if isinstance(node, IndexExprTermRule):
            index = node.children[1].index_expression
            return get_index(self._eval(node.children[0]), self._value(index))
        if isinstance(node, FunctionCallRule):
            return self._call(node)
        if isinstance(node, ConditionalRule):
            return self._conditional(node)
        if isinstance(node, BinaryOpRule):
            return self._binary(node)
        if isinstance(node, UnaryOpRule):
            return self._unary(node)
        if isinstance(node, TupleRule):
            return [self._element(element) for element in node.elements]
        if isinstance(node, ObjectRule):
            return {
                self._key(element.key): self._element(element.expression)
                for element in node.elements
            }
        if isinstance(node, ForTupleExprRule):
            return self._for_tuple(node)
        if isinstance(node, ForObjectExprRule):
            return self._for_object(node)
        raise Unsupported(f"{type(node).__name__} expressions are not supported by the demo")

    def _element(self, node: Any) -> Any:
        try:
            return self._eval(node)
        except Unknown as error:
            return Pending(error, lambda: self._eval(node))

    def _value(self, node: Any) -> Any:
        """A value that is about to be used (not just passed along): never pending."""
        return resolved(self._eval(node))

    def _symbol(self, name: str) -> Any:
        if name in self.symbols:
            return self.symbols[name]
        if self.fallback is not None:
            return self.fallback(name)
        raise Unsupported(f"unknown name {name!r}")

    def _string(self, node: StringRule) -> Any:
        parts = node.string_parts
        if len(parts) == 1 and isinstance(parts[0].content, InterpolationRule):
            # "${x}" alone is x itself, whatever its type.
            return self._eval(parts[0].content.expression)
        text = []
        for part in parts:
            content = part.content
            if isinstance(content, InterpolationRule):
                text.append(template_text(self._value(content.expression)))
            elif isinstance(content, LarkToken):
                raw = str(content.value)
                kind = content.lark_name()
                if kind == "STRING_CHARS":
                    text.append(process_escape_sequences(raw))
                elif kind in {"ESCAPED_INTERPOLATION", "ESCAPED_DIRECTIVE"}:
                    text.append(raw[1:])
                else:
                    raise Unsupported(f"string part {kind}")
            else:
                raise Unsupported("template directives (%{ if } / %{ for })")
        return "".join(text)

    def _key(self, key: Any) -> str:
        if isinstance(key, ObjectElemKeyExpressionRule):
            return template_text(self._value(key.expression))
        if isinstance(key, ObjectElemKeyRule):
            value = key.value
            if isinstance(value, IdentifierRule):
                return str(value.serialize())
            return template_text(self._value(value))
        raise Unsupported(f"object key {type(key).__name__}")

    def _call(self, node: FunctionCallRule) -> Any:
        name = "::".join(str(identifier.serialize()) for identifier in node.identifiers)
        arguments = node.arguments
        nodes = arguments.arguments if arguments is not None else []
        if name in _LAZY_FUNCTIONS:
            return self._lazy_call(name, nodes)
        function = FUNCTIONS.get(name)
        if function is None:
            raise Unsupported(f"function {name}() is not supported by the demo")
        values = [plain(self._eval(argument)) for argument in nodes]
        if arguments is not None and arguments.has_ellipsis:
            if not values or not isinstance(values[-1], list):
                raise ExpressionError(f"{name}(...): the last argument must be a list")
            values = [*values[:-1], *values[-1]]
        try:
            return function(*values)
        except (ValueError, TypeError, KeyError, IndexError) as error:
            raise ExpressionError(f"{name}(): {error}") from error

    def _lazy_call(self, name: str, nodes: list[Any]) -> Any:
        if name == "can":
            if len(nodes) != 1:
                raise ExpressionError("can() takes one argument")
            try:
                plain(self._eval(nodes[0]))
            except ExpressionError:
                return False
            return True
        for argument in nodes:  # try()
            try:
                return plain(self._eval(argument))
            except ExpressionError:
                continue
        raise ExpressionError("try(): no argument could be evaluated")

    def _conditional(self, node: ConditionalRule) -> Any:
        return self._eval(node.if_true if self._truth(node.condition) else node.if_false)

    def _binary(self, node: BinaryOpRule) -> Any:
        operator = str(node.binary_term.binary_operator.serialize()).strip()
        left = self._value(node.expr_term)
        if operator in {"&&", "||"}:
            if not isinstance(left, bool):
                raise ExpressionError(f"operator {operator} needs bools, got {left!r}")
            if (operator == "&&" and not left) or (operator == "||" and left):
                return left
            right = self._value(node.binary_term.expr_term)
            if not isinstance(right, bool):
                raise ExpressionError(f"operator {operator} needs bools, got {right!r}")
            return right
        right = self._value(node.binary_term.expr_term)
        if operator == "==":
            return _equal(plain(left), plain(right))
        if operator == "!=":
            return not _equal(plain(left), plain(right))
        return _arithmetic(operator, left, right)

    def _unary(self, node: UnaryOpRule) -> Any:
        operator = node.operator.strip()
        value = self._value(node.expr_term)
        if operator == "!":
            if not isinstance(value, bool):
                raise ExpressionError(f"operator ! needs a bool, got {value!r}")
            return not value
        if not _is_number(value):
            raise ExpressionError(f"operator - needs a number, got {value!r}")
        return -value

    def _iterations(self, node: ForTupleExprRule | ForObjectExprRule) -> Iterator[Evaluator]:
        """A scope per element the for expression keeps (its ``if`` clause holds)."""
        intro = node.for_intro
        first = str(intro.first_iterator.serialize())
        second = intro.second_iterator
        for key, value in iterate(self._eval(intro.iterable)):
            if second is None:
                scope = self.with_symbols({first: value})
            else:
                scope = self.with_symbols({first: key, str(second.serialize()): value})
            if node.condition is None or scope._truth(node.condition.condition_expr):
                yield scope

    def _for_tuple(self, node: ForTupleExprRule) -> list[Any]:
        return [scope._eval(node.value_expr) for scope in self._iterations(node)]

    def _for_object(self, node: ForObjectExprRule) -> dict[str, Any]:
        result: dict[str, Any] = {}
        for scope in self._iterations(node):
            key = template_text(scope._value(node.key_expr))
            value = scope._eval(node.value_expr)
            if node.ellipsis is not None:
                result.setdefault(key, []).append(value)
            elif key in result:
                raise ExpressionError(f"duplicate key {key!r} (group with ... to collect them)")
            else:
                result[key] = value
        return result

    def _truth(self, node: Any) -> bool:
        value = self._value(node)
        if not isinstance(value, bool):
            raise ExpressionError(f"condition must be a bool, got {value!r}")
        return value
