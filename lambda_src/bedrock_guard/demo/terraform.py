"""A Terraform configuration as the demo reads it: modules, their values, resources and data.

:class:`Terraform` loads a root folder (``environments/dev``) with python-hcl2, takes its input
values from a tfvars file and the variables' defaults, and evaluates, on demand, the same
expressions ``terraform plan`` would: locals, module arguments and outputs, resource arguments
for each ``for_each`` key, dynamic blocks. What Terraform only knows after apply (ARNs, ids,
the caller identity) comes from a :class:`Resolver`, which the demo backs with the resources it
creates on the local endpoint; without one such values raise :class:`~.hcl_eval.Unknown`.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any, Final, Protocol

import hcl2
from hcl2.rules.base import AttributeRule, BlockRule, BodyRule
from hcl2.rules.expressions import ExprTermRule
from hcl2.rules.literal_rules import IdentifierRule
from hcl2.utils import SerializationOptions

from bedrock_guard.demo.hcl_eval import (
    EvalError,
    Evaluator,
    ExpressionError,
    Lazy,
    Unknown,
    Unsupported,
    iterate,
)
from bedrock_guard.demo.hcl_functions import template_text
from bedrock_guard.demo.tf_policy import render_policy_document
from bedrock_guard.demo.tf_types import convert, parse_type

_LABEL_OPTIONS: Final = SerializationOptions(with_comments=False, strip_string_quotes=True)
MODULE_META_ARGUMENTS: Final = frozenset(
    {"source", "version", "providers", "count", "for_each", "depends_on"}
)
RESOURCE_META_ARGUMENTS: Final = frozenset(
    {"count", "for_each", "depends_on", "provider", "lifecycle"}
)

Key = str | int | None


class ConfigError(Exception):
    """The configuration cannot be read as the demo needs it; the message says where."""


@dataclass(frozen=True, slots=True)
class Expr:
    """An unevaluated expression and the file it is written in."""

    node: Any
    source: str


@dataclass(frozen=True, slots=True)
class Block:
    """A nested block: its type, labels and body."""

    type: str
    labels: tuple[str, ...]
    body: Body


@dataclass(frozen=True, slots=True)
class Body:
    """The arguments and nested blocks of a block (or of a file)."""

    attributes: dict[str, Expr]
    blocks: tuple[Block, ...]
    source: str

    def first(self, block_type: str) -> Body | None:
        """The body of the first nested block of ``block_type``, if any."""
        return next((b.body for b in self.blocks if b.type == block_type), None)


def parse_body(rule: BodyRule, source: str) -> Body:
    """A python-hcl2 body rule as a :class:`Body`."""
    attributes: dict[str, Expr] = {}
    blocks: list[Block] = []
    for child in rule.children:
        if isinstance(child, AttributeRule):
            attributes[str(child.identifier.serialize())] = Expr(child.expression, source)
        elif isinstance(child, BlockRule):
            labels = tuple(str(label.serialize(_LABEL_OPTIONS)) for label in child.labels)
            blocks.append(Block(labels[0], labels[1:], parse_body(child.body, source)))
    return Body(attributes, tuple(blocks), source)


def parse_file(path: Path, source: str) -> Body:
    """Parse one ``.tf`` or ``.tfvars`` file (raises :class:`ConfigError` with the file)."""
    try:
        tree = hcl2.parses(path.read_text(encoding="utf-8"))
    except Exception as error:
        raise ConfigError(f"{source}: cannot parse: {error}") from error
    return parse_body(tree.body, source)


@dataclass
class ModuleFiles:
    """Everything the ``.tf`` files of one folder declare."""

    path: Path
    variables: dict[str, Body] = field(default_factory=dict)
    locals: dict[str, Expr] = field(default_factory=dict)
    outputs: dict[str, Body] = field(default_factory=dict)
    calls: dict[str, Body] = field(default_factory=dict)
    resources: dict[tuple[str, str], Body] = field(default_factory=dict)
    data: dict[tuple[str, str], Body] = field(default_factory=dict)

    def add(self, body: Body) -> None:
        for block in body.blocks:
            labels = block.labels
            if block.type == "variable":
                self.variables[labels[0]] = block.body
            elif block.type == "output":
                self.outputs[labels[0]] = block.body
            elif block.type == "module":
                self.calls[labels[0]] = block.body
            elif block.type == "resource":
                self.resources[(labels[0], labels[1])] = block.body
            elif block.type == "data":
                self.data[(labels[0], labels[1])] = block.body
            elif block.type == "locals":
                self.locals.update(block.body.attributes)


class Resolver(Protocol):
    """Values known only after apply: resource attributes and data sources."""

    def resource_attribute(self, address: str, attribute: str) -> Any:
        """The attribute of a resource instance, or raise :class:`~.hcl_eval.Unknown`."""
        ...

    def data_attribute(self, address: str, attribute: str) -> Any:
        """The attribute of a data source, or raise :class:`~.hcl_eval.Unknown`."""
        ...


class NoResolver:
    """Plan time without an account: nothing computed is known."""

    def resource_attribute(self, address: str, attribute: str) -> Any:
        raise Unknown(f"{address}.{attribute} is known only after apply")

    def data_attribute(self, address: str, attribute: str) -> Any:
        raise Unknown(f"{address}.{attribute} is read from AWS")


class PlanResolver:
    """What ``terraform plan`` shows for values known only after apply: a placeholder that
    evaluates as text. For questions whose answer does not depend on those values, such as
    which instances a ``for_each`` makes; never for values that are used."""

    def resource_attribute(self, address: str, attribute: str) -> Any:
        return f"(known after apply: {address}.{attribute})"

    def data_attribute(self, address: str, attribute: str) -> Any:
        return f"(known after apply: {address}.{attribute})"


def address_of(prefix: str, kind: str, name: str, key: Key = None) -> str:
    """``module.x.aws_y.z["k"]`` style addresses, as Terraform prints them."""
    base = f"{prefix}{kind}.{name}"
    if key is None:
        return base
    return f'{base}["{key}"]' if isinstance(key, str) else f"{base}[{key}]"


class Terraform:
    """A root configuration with its input values, evaluated on demand."""

    def __init__(
        self,
        root: Path,
        *,
        tfvars: Path | None = None,
        display_root: Path | None = None,
        resolver: Resolver | None = None,
        parsed: dict[Path, ModuleFiles] | None = None,
    ) -> None:
        self.display_root = (display_root or root).resolve()
        self.resolver: Resolver = resolver or NoResolver()
        self._files: dict[Path, ModuleFiles] = parsed if parsed is not None else {}
        self.tfvars_path = tfvars
        self._root_path = root
        inputs: dict[str, Callable[[], Any]] = {}
        sources: dict[str, str] = {}
        self._written: dict[str, Expr] = {}
        if tfvars is not None:
            source = self.display(tfvars)
            self._written = parse_file(tfvars, source).attributes
            for name, expr in self._written.items():
                inputs[name] = partial(_constant, expr)
                sources[name] = source
        self.root = ModuleInstance(self, self.files(root), "", inputs, sources)

    def planned(self) -> Terraform:
        """The same configuration and inputs evaluated afresh with :class:`PlanResolver`
        (nothing evaluated here leaks into this one's values; the parsed files are shared)."""
        return Terraform(
            self._root_path,
            tfvars=self.tfvars_path,
            display_root=self.display_root,
            resolver=PlanResolver(),
            parsed=self._files,
        )

    def written(self, name: str) -> Any:
        """The root input ``name`` as the tfvars file writes it, before optional attributes
        are filled in (``None`` when the file does not set it): tells a value written there
        from a default."""
        expr = self._written.get(name)
        return None if expr is None else _constant(expr)

    def display(self, path: Path) -> str:
        """A path as messages show it: relative to the repository when inside it."""
        return os.path.relpath(path.resolve(), self.display_root)

    def files(self, path: Path) -> ModuleFiles:
        """The declarations of one folder, parsed once."""
        path = path.resolve()
        if path not in self._files:
            if not path.is_dir():
                raise ConfigError(f"{self.display(path)}: no such module folder")
            module = ModuleFiles(path)
            for file in sorted(path.glob("*.tf")):
                module.add(parse_file(file, self.display(file)))
            self._files[path] = module
        return self._files[path]


def _constant(expr: Expr) -> Any:
    """A value that may not reference anything: tfvars values and variable defaults."""
    return Evaluator({}, expr.source).evaluate(expr.node)


class _Namespace(Lazy):
    """``var``, ``local``: one name deep, each name resolved by the instance."""

    def __init__(self, label: str, lookup: Callable[[str], Any]) -> None:
        self.label = label
        self.lookup = lookup

    def attr(self, name: str) -> Any:
        return self.lookup(name)

    def __repr__(self) -> str:
        return self.label


class ModuleInstance:
    """One module in the configuration tree, with its input values."""

    def __init__(
        self,
        terraform: Terraform,
        files: ModuleFiles,
        prefix: str,
        inputs: Mapping[str, Callable[[], Any]],
        input_sources: Mapping[str, str],
    ) -> None:
        self.terraform = terraform
        self.files = files
        self.prefix = prefix  # "" or "module.x." (address prefix)
        self._inputs = inputs
        self._input_sources = input_sources
        self._vars: dict[str, Any] = {}
        self._locals: dict[str, Any] = {}
        self._children: dict[str, ModuleInstance] = {}
        self._busy: set[str] = set()
        self.symbols: dict[str, Any] = {
            "var": _Namespace("var", self.var),
            "local": _Namespace("local", self.local),
            "module": _Namespace("module", self._module_outputs),
            "data": _Namespace("data", self._data_type),
            "path": {
                "module": terraform.display(files.path),
                "root": terraform.display(terraform.root.files.path)
                if prefix
                else terraform.display(files.path),
                "cwd": ".",
            },
            "terraform": {"workspace": "default"},
        }

    @property
    def path(self) -> Path:
        return self.files.path

    @property
    def label(self) -> str:
        """The module's address for messages (``root`` or ``module.x``)."""
        return self.prefix.rstrip(".") or "root"

    # Values --------------------------------------------------------------------------------

    def evaluate(self, expr: Expr, extra: Mapping[str, Any] | None = None) -> Any:
        """The value of an expression of this module (``extra``: each, iterators)."""
        symbols = {**self.symbols, **(extra or {})}
        return Evaluator(symbols, expr.source, fallback=self._resource_type).evaluate(expr.node)

    def var(self, name: str) -> Any:
        """``var.<name>``: the input value or the default, converted to the declared type."""
        if name not in self._vars:
            self._vars[name] = self._guarded(f"var.{name}", partial(self._variable, name))
        return self._vars[name]

    def var_source(self, name: str) -> str:
        """Where ``var.<name>`` comes from, in words."""
        if name in self._input_sources:
            return self._input_sources[name]
        declaration = self.files.variables.get(name)
        if declaration is None:
            return "undeclared"
        return f"default in {declaration.source}"

    def local(self, name: str) -> Any:
        """``local.<name>``."""
        if name not in self._locals:
            expr = self.files.locals.get(name)
            if expr is None:
                raise ExpressionError(f"local.{name} is not declared in {self.label}")
            self._locals[name] = self._guarded(f"local.{name}", partial(self.evaluate, expr))
        return self._locals[name]

    def output(self, name: str) -> Any:
        """``module.<this>.<name>``: the output's value."""
        body = self.files.outputs.get(name)
        if body is None or "value" not in body.attributes:
            raise ExpressionError(f"output {name!r} is not declared in {self.label}")
        return self.evaluate(body.attributes["value"])

    def child(self, name: str) -> ModuleInstance:
        """The instance of ``module "<name>"`` with its arguments as input values."""
        if name not in self._children:
            call = self.files.calls.get(name)
            if call is None or "source" not in call.attributes:
                raise ExpressionError(f"module {name!r} is not declared in {self.label}")
            source = _constant(call.attributes["source"])
            if not isinstance(source, str) or not source.startswith("."):
                raise Unsupported(f"module {name!r}: only local sources are read, not {source!r}")
            arguments = {
                arg: expr
                for arg, expr in call.attributes.items()
                if arg not in MODULE_META_ARGUMENTS
            }
            self._children[name] = ModuleInstance(
                self.terraform,
                self.terraform.files(self.path / source),
                f"{self.prefix}module.{name}.",
                {arg: partial(self.evaluate, expr) for arg, expr in arguments.items()},
                {
                    arg: f"module.{name} argument in {expr.source}"
                    for arg, expr in arguments.items()
                },
            )
        return self._children[name]

    def _variable(self, name: str) -> Any:
        declaration = self.files.variables.get(name)
        if declaration is None:
            raise ExpressionError(f"var.{name} is not declared in {self.label}")
        attributes = declaration.attributes
        if name in self._inputs:
            value = self._inputs[name]()
        elif "default" in attributes:
            value = _constant(attributes["default"])
        else:
            raise ExpressionError(f"var.{name} is required and has no value")
        nullable = _constant(attributes["nullable"]) if "nullable" in attributes else True
        if value is None and nullable is False and "default" in attributes:
            value = _constant(attributes["default"])
        if "type" in attributes:
            source = declaration.source
            spec = parse_type(attributes["type"].node)
            value = convert(value, spec, lambda node: _constant(Expr(node, source)), f"var.{name}")
        return value

    def _guarded(self, label: str, compute: Callable[[], Any]) -> Any:
        if label in self._busy:
            raise ExpressionError(f"{label} refers to itself")
        self._busy.add(label)
        try:
            return compute()
        finally:
            self._busy.discard(label)

    # References ----------------------------------------------------------------------------

    def _module_outputs(self, name: str) -> Any:
        return _Namespace(f"module.{name}", self.child(name).output)

    def _data_type(self, kind: str) -> Any:
        return _Namespace(f"data.{kind}", partial(_DataSource, self, kind))

    def _resource_type(self, kind: str) -> Any:
        if not any(resource_type == kind for resource_type, _ in self.files.resources):
            raise Unsupported(f"unknown name {kind!r} in {self.label}")
        return _Namespace(kind, partial(_ResourceRef, self, kind))

    def resource(self, kind: str, name: str) -> ResourceSet:
        """The instances of ``resource "<kind>" "<name>"`` (one per for_each key)."""
        body = self.files.resources.get((kind, name))
        if body is None:
            raise ConfigError(f"{self.label} declares no resource {kind}.{name}")
        return ResourceSet(self, kind, name, body)

    def data_view(self, kind: str, name: str) -> BlockView:
        """The body of ``data "<kind>" "<name>"`` for reading its arguments and blocks."""
        body = self.files.data.get((kind, name))
        if body is None:
            raise ConfigError(f"{self.label} declares no data source {kind}.{name}")
        return BlockView(self, body, {})

    def data_attribute(self, kind: str, name: str, attribute: str) -> Any:
        """``data.<kind>.<name>.<attribute>``: rendered here or asked of the resolver."""
        if kind == "aws_iam_policy_document" and attribute == "json":
            return render_policy_document(self.data_view(kind, name))
        return self.terraform.resolver.data_attribute(
            address_of(self.prefix + "data.", kind, name), attribute
        )


class _DataSource(Lazy):
    def __init__(self, module: ModuleInstance, kind: str, name: str) -> None:
        self.module, self.kind, self.name = module, kind, name

    def attr(self, name: str) -> Any:
        return self.module.data_attribute(self.kind, self.name, name)

    def __repr__(self) -> str:
        return f"data.{self.kind}.{self.name}"


class ResourceSet:
    """A resource block and its instances."""

    def __init__(self, module: ModuleInstance, kind: str, name: str, body: Body) -> None:
        self.module, self.kind, self.name, self.body = module, kind, name, body

    @property
    def address(self) -> str:
        return address_of(self.module.prefix, self.kind, self.name)

    @property
    def repeated(self) -> bool:
        return "for_each" in self.body.attributes or "count" in self.body.attributes

    def instances(self) -> dict[Key, ResourceInstance]:
        """Every instance by key: for_each keys, count indexes, or ``None`` for a single one."""
        attributes = self.body.attributes
        if "for_each" in attributes:
            collection = self.module.evaluate(attributes["for_each"])
            if isinstance(collection, list):  # a set: each.key is each.value
                pairs = [(template_text(value), value) for value in collection]
            else:
                pairs = list(iterate(collection))
            return {
                key: ResourceInstance(self, key, {"each": {"key": key, "value": value}})
                for key, value in pairs
            }
        if "count" in attributes:
            count = self.module.evaluate(attributes["count"])
            return {i: ResourceInstance(self, i, {"count": {"index": i}}) for i in range(count)}
        return {None: ResourceInstance(self, None, {})}

    def instance(self, key: Key) -> ResourceInstance:
        instances = self.instances()
        if key not in instances:
            raise ExpressionError(f"{self.address} has no instance {key!r}")
        return instances[key]


class BlockView:
    """A body with the symbols to evaluate it by (``each``, dynamic-block iterators)."""

    def __init__(self, module: ModuleInstance, body: Body, symbols: Mapping[str, Any]) -> None:
        self.module, self.body, self.symbols = module, body, symbols

    def has(self, name: str) -> bool:
        return name in self.body.attributes

    def get(self, name: str, default: Any = None) -> Any:
        """An argument's value (``default`` when it is not written)."""
        expr = self.body.attributes.get(name)
        return default if expr is None else self.module.evaluate(expr, self.symbols)

    def blocks(self, block_type: str) -> Iterator[BlockView]:
        """Nested blocks of a type, with ``dynamic`` blocks expanded."""
        for block in self.body.blocks:
            if block.type == block_type:
                yield BlockView(self.module, block.body, self.symbols)
            elif block.type == "dynamic" and block.labels[:1] == (block_type,):
                yield from self._dynamic(block, block_type)

    def _dynamic(self, block: Block, block_type: str) -> Iterator[BlockView]:
        content = block.body.first("content")
        if content is None or "for_each" not in block.body.attributes:
            raise ConfigError(f"{block.body.source}: dynamic {block_type!r} without content")
        iterator = block_type
        if "iterator" in block.body.attributes:
            node = block.body.attributes["iterator"].node
            node = node.expression if isinstance(node, ExprTermRule) else node
            if not isinstance(node, IdentifierRule):
                raise Unsupported("dynamic block iterator must be a name")
            iterator = str(node.serialize())
        collection = self.module.evaluate(block.body.attributes["for_each"], self.symbols)
        for key, value in iterate(collection):
            yield BlockView(
                self.module, content, {**self.symbols, iterator: {"key": key, "value": value}}
            )


class ResourceInstance(BlockView):
    """One instance of a resource: its arguments evaluated with its ``each`` or ``count``."""

    def __init__(self, resources: ResourceSet, key: Key, symbols: Mapping[str, Any]) -> None:
        super().__init__(resources.module, resources.body, symbols)
        self.resources = resources
        self.key = key

    @property
    def address(self) -> str:
        r = self.resources
        return address_of(r.module.prefix, r.kind, r.name, self.key)

    def attribute(self, name: str) -> Any:
        """An attribute as a reference reads it: the argument if written, else computed."""
        if name in self.body.attributes and name not in RESOURCE_META_ARGUMENTS:
            return self.get(name)
        return self.module.terraform.resolver.resource_attribute(self.address, name)


class _ResourceRef(Lazy):
    """``aws_x.name``: the single instance, or the instances by key."""

    def __init__(self, module: ModuleInstance, kind: str, name: str) -> None:
        self.resources = module.resource(kind, name)

    def attr(self, name: str) -> Any:
        if self.resources.repeated:
            raise ExpressionError(f"{self.resources.address} has several instances: index it")
        return self.resources.instance(None).attribute(name)

    def index(self, key: Any) -> Any:
        key = key if isinstance(key, int) else template_text(key)
        return _InstanceRef(self.resources.instance(key))

    def materialize(self) -> Any:
        instances = self.resources.instances()
        if not self.resources.repeated:
            raise Unsupported(f"{self.resources.address} as a whole object")
        return {key: _InstanceRef(instance) for key, instance in instances.items()}

    def __repr__(self) -> str:
        return self.resources.address


class _InstanceRef(Lazy):
    def __init__(self, instance: ResourceInstance) -> None:
        self.instance = instance

    def attr(self, name: str) -> Any:
        return self.instance.attribute(name)

    def __repr__(self) -> str:
        return self.instance.address


def evaluation_error(error: EvalError) -> ConfigError:
    """A configuration error carrying an evaluation failure's location and reason."""
    return ConfigError(f"cannot evaluate {error.describe()}")
