"""Reads the SAM template: the local stack routes and invokes exactly what `template.yaml` declares."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

PROJECT_ROOT = Path(__file__).resolve().parent.parent
TEMPLATE_PATH = PROJECT_ROOT / "template.yaml"
LOCAL_ACCOUNT = "123456789012"
LOCAL_REGION = "us-east-1"


class _CfnLoader(yaml.SafeLoader):
    """YAML loader that keeps CloudFormation's short-form tags (!Ref, !GetAtt, …) as plain data."""


def _tag(loader: yaml.SafeLoader, tag_suffix: str, node: yaml.Node) -> dict[str, Any]:
    name = "Ref" if tag_suffix == "Ref" else f"Fn::{tag_suffix}"
    if isinstance(node, yaml.ScalarNode):
        value: Any = loader.construct_scalar(node)
        if tag_suffix == "GetAtt" and isinstance(value, str):
            value = value.split(".", 1)
    elif isinstance(node, yaml.SequenceNode):
        value = loader.construct_sequence(node, deep=True)
    else:
        value = loader.construct_mapping(node, deep=True)  # type: ignore[arg-type]
    return {name: value}


_CfnLoader.add_multi_constructor("!", _tag)


def function_arn(logical_id: str) -> str:
    """The local ARN of the template's function `logical_id`."""
    return f"arn:aws:lambda:{LOCAL_REGION}:{LOCAL_ACCOUNT}:function:{logical_id}"


@dataclass(frozen=True)
class Route:
    method: str
    path: str  # API Gateway syntax, e.g. /api/workflows/{id}
    authorizer: str | None = None  # the HttpApi authorizer guarding the route (None: open)

    @property
    def route_key(self) -> str:
        return f"{self.method} {self.path}"

    def match(self, method: str, path: str) -> dict[str, str] | None:
        if method.upper() != self.method and self.method != "ANY":
            return None
        pattern = re.sub(r"\\\{(\w+)\\\}", r"(?P<\1>[^/]+)", re.escape(self.path))
        found = re.fullmatch(pattern, path)
        return found.groupdict() if found else None


@dataclass
class FunctionSpec:
    logical_id: str
    code_uri: Path
    handler: str
    routes: list[Route] = field(default_factory=list)

    @property
    def arn(self) -> str:
        return function_arn(self.logical_id)


@dataclass(frozen=True)
class AuthorizerSpec:
    """A JWT authorizer of the HttpApi (`Auth.Authorizers.<name>`), values as written in the template."""

    name: str
    identity_source: str  # e.g. $request.header.Authorization
    issuer: Any  # a string or a {"Ref": parameter}
    audience: list[Any]

    @property
    def header(self) -> str:
        """The request header holding the token (the only identity source JWT authorizers take)."""
        prefix = "$request.header."
        if not self.identity_source.startswith(prefix):
            raise ValueError(f"authorizer {self.name}: unsupported identity source {self.identity_source}")
        return self.identity_source[len(prefix) :]


@dataclass
class StateMachineSpec:
    logical_id: str
    definition_path: Path
    substitutions: dict[str, Any]


@dataclass
class Template:
    functions: dict[str, FunctionSpec]
    state_machine: StateMachineSpec
    parameters: dict[str, Any]
    authorizers: dict[str, AuthorizerSpec] = field(default_factory=dict)
    # Every resource as written (short-form tags as {"Ref": ...} data): what the local stack reads
    # beyond functions and the state machine (event rules, schedules, tables).
    resources: dict[str, Any] = field(default_factory=dict)
    # Globals.Function.Environment.Variables as written: what every function reads.
    global_environment: dict[str, Any] = field(default_factory=dict)

    def routes(self) -> list[tuple[Route, FunctionSpec]]:
        return [(route, fn) for fn in self.functions.values() for route in fn.routes]

    def parameter_default(self, name: str) -> Any:
        return self.parameters.get(name, {}).get("Default")

    def global_variable(self, name: str) -> str | None:
        """A variable every function gets (Globals), with a `!Ref` resolved to its parameter's default;
        None when the template does not set it."""
        value = self.resolve(self.global_environment.get(name))
        return None if value is None else str(value)

    def resolve(self, value: Any) -> Any:
        """A property value with `!Ref parameter` replaced by the parameter's default."""
        if isinstance(value, dict) and set(value) == {"Ref"}:
            return self.parameter_default(value["Ref"])
        return value

    def state_machine_definition(self, overrides: dict[str, Any] | None = None) -> dict[str, Any]:
        """The definition with its DefinitionSubstitutions filled as CloudFormation would, for local ARNs."""
        values: dict[str, Any] = {}
        for key, value in self.state_machine.substitutions.items():
            if isinstance(value, dict) and "Fn::GetAtt" in value:
                values[key] = self.functions[value["Fn::GetAtt"][0]].arn
            elif isinstance(value, dict) and "Ref" in value:
                values[key] = self.parameter_default(value["Ref"])
            else:
                values[key] = value
        values.update(overrides or {})
        text = self.state_machine.definition_path.read_text()

        def substitute(match: re.Match[str]) -> str:
            name = match.group(1)
            if name not in values:
                raise KeyError(f"the state machine uses ${{{name}}} but template.yaml does not substitute it")
            return str(values[name])

        definition: dict[str, Any] = json.loads(re.sub(r"\$\{(\w+)\}", substitute, text))
        return definition


def _http_api_auth(resources: dict[str, Any]) -> tuple[dict[str, AuthorizerSpec], dict[str, str | None]]:
    """The JWT authorizers of the template's HttpApis, and each HttpApi's DefaultAuthorizer."""
    authorizers: dict[str, AuthorizerSpec] = {}
    defaults: dict[str, str | None] = {}
    for logical_id, resource in resources.items():
        if resource.get("Type") != "AWS::Serverless::HttpApi":
            continue
        auth = (resource.get("Properties") or {}).get("Auth") or {}
        for name, spec in (auth.get("Authorizers") or {}).items():
            jwt_config = spec.get("JwtConfiguration")
            if jwt_config is None:
                raise ValueError(f"authorizer {name}: the local stack emulates JWT authorizers only")
            authorizers[name] = AuthorizerSpec(
                name=name,
                identity_source=str(spec.get("IdentitySource", "$request.header.Authorization")),
                issuer=jwt_config.get("issuer"),
                audience=list(jwt_config.get("audience") or []),
            )
        defaults[logical_id] = auth.get("DefaultAuthorizer")
    return authorizers, defaults


def _route(event: dict[str, Any], defaults: dict[str, str | None]) -> Route:
    props = event["Properties"]
    api = props.get("ApiId")
    default = defaults.get(api["Ref"]) if isinstance(api, dict) and "Ref" in api else None
    chosen = (props.get("Auth") or {}).get("Authorizer", default)
    return Route(
        method=str(props["Method"]).upper(),
        path=str(props["Path"]),
        authorizer=None if chosen in (None, "NONE") else str(chosen),
    )


def load_template(path: Path = TEMPLATE_PATH) -> Template:
    doc = yaml.load(path.read_text(), Loader=_CfnLoader)
    root = path.parent
    functions: dict[str, FunctionSpec] = {}
    state_machine: StateMachineSpec | None = None
    resources = doc.get("Resources") or {}
    authorizers, default_authorizers = _http_api_auth(resources)
    for logical_id, resource in resources.items():
        props = resource.get("Properties") or {}
        if resource.get("Type") == "AWS::Serverless::Function":
            routes = [
                _route(ev, default_authorizers)
                for ev in (props.get("Events") or {}).values()
                if ev.get("Type") == "HttpApi"
            ]
            for route in routes:
                if route.authorizer is not None and route.authorizer not in authorizers:
                    raise ValueError(f"{route.route_key} uses the undeclared authorizer {route.authorizer}")
            functions[logical_id] = FunctionSpec(
                logical_id=logical_id,
                code_uri=root / props["CodeUri"],
                handler=props.get("Handler", "app.lambda_handler"),
                routes=routes,
            )
        elif resource.get("Type") == "AWS::Serverless::StateMachine":
            state_machine = StateMachineSpec(
                logical_id=logical_id,
                definition_path=root / props["DefinitionUri"],
                substitutions=props.get("DefinitionSubstitutions") or {},
            )
    if state_machine is None:
        raise ValueError(f"{path} declares no AWS::Serverless::StateMachine")
    return Template(
        functions=functions,
        state_machine=state_machine,
        parameters=doc.get("Parameters") or {},
        authorizers=authorizers,
        resources=resources,
        global_environment=(((doc.get("Globals") or {}).get("Function") or {}).get("Environment") or {}).get(
            "Variables"
        )
        or {},
    )
