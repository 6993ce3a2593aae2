"""The config's JSON schema: validation that fills in the schema's defaults (the only place a
default is written), error messages naming the key and what is allowed, and the strict YAML
reader of config files and detector cards."""
from __future__ import annotations

from pathlib import Path
from typing import Any

import jsonschema
import yaml

ROOT = Path(__file__).resolve().parents[2]
SCHEMA = ROOT / "workflow" / "schemas" / "config.schema.yaml"
DETECTOR_SCHEMA = ROOT / "workflow" / "schemas" / "detector.schema.yaml"


class ConfigError(ValueError):
    """A configuration problem, with the offending key and what is allowed."""


def _validator(schema_path: Path) -> jsonschema.Validator:
    schema = yaml.safe_load(schema_path.read_text())
    cls = jsonschema.validators.validator_for(schema)

    def set_defaults(validator, properties, instance, schema):
        for key, sub in properties.items():
            if isinstance(instance, dict) and "default" in sub:
                instance.setdefault(key, sub["default"])
        yield from cls.VALIDATORS["properties"](validator, properties, instance, schema)

    return jsonschema.validators.extend(cls, {"properties": set_defaults})(schema)


def validate(data: dict, schema_path: Path, where: str) -> None:
    """Raise ConfigError naming the key path and what is allowed; fills the schema's defaults
    into `data` (as snakemake's `validate(config, set_default=True)` does)."""
    errors = sorted(_validator(schema_path).iter_errors(data), key=lambda e: list(e.absolute_path))
    if errors:
        raise ConfigError("\n".join(_describe(e, where) for e in errors))


def _describe(error, where: str) -> str:
    path = ".".join(str(p) for p in error.absolute_path) or "(top level)"
    if error.validator == "additionalProperties":
        allowed = sorted(error.schema.get("properties", {}))
        return f"{where}: key {path!r}: {error.message}. Allowed keys: {allowed}"
    if error.validator == "enum":
        return f"{where}: key {path!r}: {_short(error.instance)} is not allowed; allowed values: {error.validator_value}"
    if error.validator == "type":
        return f"{where}: key {path!r}: {_short(error.instance)} is not of type {error.validator_value!r}"
    return f"{where}: key {path!r}: {_short(error.message, 300)}"


def _short(value: Any, limit: int = 80) -> str:
    """A value for an error message, cut to `limit` characters (a wrong file may hold anything)."""
    text = value if isinstance(value, str) and limit > 80 else repr(value)
    return text if len(text) <= limit else text[:limit] + "..."


class _StrictLoader(yaml.SafeLoader):
    """YAML's safe loader, refusing a key written twice in one mapping (plain YAML keeps the
    last one silently, so an edited copy of a key would override the intended value)."""

    def construct_mapping(self, node, deep=False):
        seen = {}
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=deep)
            if key in seen:
                raise yaml.constructor.ConstructorError(
                    None, None, f"key {key!r} appears twice (first on line {seen[key] + 1})", key_node.start_mark)
            seen[key] = key_node.start_mark.line
        return super().construct_mapping(node, deep=deep)


def read_yaml(path: str | Path, what: str = "config file") -> Any:
    """A YAML file's content, or a ConfigError in one line naming the file, the line and the
    problem (never the file's whole text: a mistyped path may point at any file)."""
    path = Path(path)
    if not path.exists():
        raise ConfigError(f"{what} {path} not found")
    try:
        text = path.read_bytes()
    except OSError as err:
        raise ConfigError(f"{path}: {err.strerror or err}; a {what} is a readable YAML file") from None
    try:
        return yaml.load(text, Loader=_StrictLoader)
    except yaml.YAMLError as err:
        mark = getattr(err, "problem_mark", None)
        problem = ": ".join(" ".join(str(part).split()) for part in (getattr(err, "context", None),
                                                                      getattr(err, "problem", None)) if part)
        if mark is None:
            raise ConfigError(f"{path}: not valid YAML for a {what} ({problem or err}). Fix its syntax.") from None
        raise ConfigError(f"{path}: YAML syntax error at line {mark.line + 1}, column {mark.column + 1}: {problem}. "
                          "Fix the syntax there.") from None



def topology_file(value: str, where: str, base: Path) -> Path:
    """The topology file named by the config's `topology` (relative to `base`), checked by
    analysis.topology (which reports the file and the key to fix)."""
    from analysis import topology

    path = Path(value)
    path = path if path.is_absolute() else base / path
    if not path.exists():
        raise ConfigError(f"{where}: key 'topology': file {path} not found; the topologies of this repository are "
                          f"{sorted(str(p.relative_to(ROOT)) for p in (ROOT / 'config' / 'topology').glob('*.yaml'))}")
    try:
        topology.load(path)
    except topology.TopologyError as error:
        raise ConfigError(f"{where}: key 'topology': {error}") from None
    return path


def detector_card(value: str, where: str, base: Path) -> dict:
    """The detector card named by the config's `detector_card` (relative to `base`), validated
    against its own schema."""
    path = Path(value)
    path = path if path.is_absolute() else base / path
    if not path.exists():
        raise ConfigError(f"{where}: key 'detector_card': file {path} not found")
    card = read_yaml(path, "detector card")
    if not isinstance(card, dict):
        raise ConfigError(f"{where}: key 'detector_card': {path} is not a detector card (a YAML mapping of "
                          "jet_radius, tracker, ecal, ...); see config/detector_cms.yaml")
    validate(card, DETECTOR_SCHEMA, str(path))
    return card
