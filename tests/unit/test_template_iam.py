"""Least privilege in template.yaml: each function may do what its code does, nothing more.

What the code does is read from the code (its AST, nothing is imported or run): for each function of
the template, every unit (a top-level function, class or constant) its app.py reaches in the
`orchestrator` package, following references from module to module. In what it reaches:

- `<...>.engine.<method>` is a Step Functions call, whose action `orchestrator.engine.IAM_ACTIONS`
  names; the template grants the function exactly those Step Functions actions;
- `deps.store` and `deps.planner` read the secret the bundle resolves for them (the Supabase key, the
  OpenAI key): the function has that secret's read policy, and no function has it without;
- boto3, botocore, Powertools' parameters or `orchestrator.secrets` used directly (not behind the
  Dependencies bundle, which is not followed: what it gives is counted where a use case asks for it)
  is allowed only in the modules `DIRECT_AWS_POLICIES` names, with the policy that grants it.
"""

from __future__ import annotations

import ast
import textwrap
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import yaml
from orchestrator.engine import IAM_ACTIONS, Engine

from devstack.template import PROJECT_ROOT, TEMPLATE_PATH, _CfnLoader

PACKAGE_ROOT = PROJECT_ROOT / "layers" / "common" / "orchestrator"

# Not followed: the bundle builds the adapters; their use is counted where a use case asks for one.
BUNDLE_MODULE = "orchestrator.dependencies"
# What an adapter the use cases read needs in IAM: the read policy of the secret the bundle resolves
# to build it (orchestrator/dependencies.py, template.yaml's *SecretReadPolicy).
ADAPTER_POLICIES = {"store": "StoreSecretReadPolicy", "planner": "PlannerSecretReadPolicy"}
# Modules that reach AWS themselves, and the policy that lets them.
DIRECT_AWS_POLICIES = {"orchestrator.idempotency": "IdempotencyTablePolicy"}
DIRECT_AWS_MODULES = ("boto3", "botocore", "aws_lambda_powertools.utilities.parameters")
DIRECT_AWS_UNITS = {("orchestrator.secrets", "resolve_secret")}
# SAM policy templates the template uses, and the Step Functions actions each grants.
SAM_POLICY_TEMPLATES = {"StepFunctionsExecutionPolicy": {"states:StartExecution"}}

Unit = tuple[str, str]  # (module, top-level name)


# --- what the code does ----------------------------------------------------------------------------


@dataclass
class Module:
    name: str
    units: dict[str, ast.AST]  # top-level def, class or assigned name -> its node
    local: dict[str, Unit | str]  # imported name -> the unit it is, or the module it is (a str)
    external: dict[str, str]  # imported name -> what it is outside the package (dotted)


@dataclass
class Reach:
    """What a function's code reaches."""

    units: set[Unit] = field(default_factory=set)
    engine_methods: set[str] = field(default_factory=set)
    engine_escapes: list[str] = field(default_factory=list)  # `.engine` used other than `.engine.<method>`
    adapters: set[str] = field(default_factory=set)  # deps.<adapter> read
    direct_aws: dict[str, set[str]] = field(default_factory=dict)  # module -> what it uses directly

    def step_functions_actions(self) -> set[str]:
        unknown = self.engine_methods - IAM_ACTIONS.keys()
        assert not unknown, f"engine methods without an IAM action in engine.IAM_ACTIONS: {sorted(unknown)}"
        return {IAM_ACTIONS[method] for method in self.engine_methods}


def _module_name(path: Path, package_root: Path) -> str:
    parts = [package_root.name, *path.relative_to(package_root).with_suffix("").parts]
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _absolute(module: str, node: ast.ImportFrom, is_package: bool) -> str:
    if not node.level:
        return node.module or ""
    base = module.split(".") if is_package else module.split(".")[:-1]
    base = base[: len(base) - (node.level - 1)]
    return ".".join([*base, node.module] if node.module else base)


def parse_module(name: str, source: str, known: set[str], is_package: bool = False) -> Module:
    tree = ast.parse(source)
    units: dict[str, ast.AST] = {}
    for node in tree.body:
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            units[node.name] = node
        elif isinstance(node, ast.Assign | ast.AnnAssign):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            for target in targets:
                if isinstance(target, ast.Name):
                    units[target.id] = node
    local: dict[str, Unit | str] = {}
    external: dict[str, str] = {}
    for imported in ast.walk(tree):  # lazy imports inside functions too
        if isinstance(imported, ast.ImportFrom):
            source_module = _absolute(name, imported, is_package)
            for alias in imported.names:
                as_name = alias.asname or alias.name
                dotted = f"{source_module}.{alias.name}"
                if dotted in known:
                    local[as_name] = dotted
                elif source_module in known:
                    local[as_name] = (source_module, alias.name)
                else:
                    external[as_name] = dotted
        elif isinstance(imported, ast.Import):
            for alias in imported.names:
                if alias.name in known and alias.asname:
                    local[alias.asname] = alias.name
                elif alias.name not in known:
                    external[alias.asname or alias.name.split(".")[0]] = alias.name
    return Module(name, units, local, external)


def load_package(package_root: Path) -> dict[str, Module]:
    paths = {_module_name(path, package_root): path for path in sorted(package_root.rglob("*.py"))}
    known = set(paths)
    return {
        name: parse_module(name, path.read_text(), known, is_package=path.name == "__init__.py")
        for name, path in paths.items()
    }


class Walker:
    """Follows references from unit to unit through the package; collects what `Reach` holds."""

    def __init__(self, modules: dict[str, Module]) -> None:
        self.modules = modules

    def resolve(self, module: str, name: str, seen: frozenset[Unit] = frozenset()) -> Unit | None:
        """The unit `name` of `module` is, following re-exports (None: not the package's code)."""
        found = self.modules.get(module)
        if found is None or (module, name) in seen:
            return None
        if name in found.units:
            return (module, name)
        imported = found.local.get(name)
        if isinstance(imported, tuple):
            return self.resolve(*imported, seen=seen | {(module, name)})
        return None

    def _resolve_name(self, module: Module, name: str) -> Unit | None:
        if name in module.units:  # the handler module's own units are scanned with it
            return (module.name, name) if module.name in self.modules else None
        imported = module.local.get(name)
        return self.resolve(*imported) if isinstance(imported, tuple) else None

    def reach(self, root: Module, root_tree: ast.AST) -> Reach:
        reach = Reach()
        pending: list[tuple[Module, ast.AST, str]] = [(root, root_tree, root.name)]
        while pending:
            module, node, where = pending.pop()
            for unit in self._scan(module, node, where, reach):
                if unit in reach.units or unit[0] == BUNDLE_MODULE:
                    continue
                reach.units.add(unit)
                if unit in DIRECT_AWS_UNITS:
                    reach.direct_aws.setdefault(module.name, set()).add(".".join(unit))
                    continue
                owner = self.modules[unit[0]]
                pending.append((owner, owner.units[unit[1]], ".".join(unit)))
        return reach

    def _scan(self, module: Module, tree: ast.AST, where: str, reach: Reach) -> list[Unit]:
        referenced: list[Unit] = []
        called_on_engine: set[int] = set()
        for node in ast.walk(tree):
            if isinstance(node, ast.Attribute):
                if isinstance(node.value, ast.Attribute) and node.value.attr == "engine":
                    reach.engine_methods.add(node.attr)
                    called_on_engine.add(id(node.value))
                if isinstance(node.value, ast.Name):
                    target = module.local.get(node.value.id)
                    if isinstance(target, str):  # module.attribute
                        unit = self.resolve(target, node.attr)
                        if unit is not None:
                            referenced.append(unit)
                    if node.value.id == "deps" and node.attr in ADAPTER_POLICIES:
                        reach.adapters.add(node.attr)
            elif isinstance(node, ast.Name):
                unit = self._resolve_name(module, node.id)
                if unit is not None:
                    referenced.append(unit)
                elif node.id in module.external and module.external[node.id].startswith(DIRECT_AWS_MODULES):
                    reach.direct_aws.setdefault(module.name, set()).add(module.external[node.id])
            elif isinstance(node, ast.Import | ast.ImportFrom):
                names = [a.name for a in node.names] if isinstance(node, ast.Import) else []
                if isinstance(node, ast.ImportFrom):
                    names = [f"{node.module}.{a.name}" for a in node.names]
                for dotted in names:
                    if dotted.startswith(DIRECT_AWS_MODULES):
                        reach.direct_aws.setdefault(module.name, set()).add(dotted)
        for node in ast.walk(tree):
            if isinstance(node, ast.Attribute) and node.attr == "engine" and id(node) not in called_on_engine:
                reach.engine_escapes.append(f"{where}, line {node.lineno}")
        return referenced


def reach_of(app_path: Path, modules: dict[str, Module]) -> Reach:
    """What a function's handler module (its app.py) reaches in the package."""
    source = app_path.read_text()
    app = parse_module("app", source, set(modules))
    return Walker(modules).reach(app, ast.parse(source))


# --- what the template grants ----------------------------------------------------------------------


@dataclass
class Grants:
    actions: set[str] = field(default_factory=set)
    policies: set[str] = field(default_factory=set)  # the template's managed policies (!Ref)


def grants_of(properties: dict[str, Any], resources: dict[str, Any]) -> Grants:
    granted = Grants()

    def statements(document: dict[str, Any]) -> None:
        for statement in document.get("Statement", []):
            listed = statement["Action"]
            granted.actions.update({listed} if isinstance(listed, str) else listed)

    def policy(entry: Any) -> None:
        if isinstance(entry, dict) and "Fn::If" in entry:  # granted when its condition holds
            for branch in entry["Fn::If"][1:]:
                policy(branch)
        elif isinstance(entry, dict) and "Ref" in entry:
            if entry["Ref"] == "AWS::NoValue":
                return
            resource = resources[entry["Ref"]]
            assert resource["Type"] == "AWS::IAM::ManagedPolicy", entry
            granted.policies.add(entry["Ref"])
            statements(resource["Properties"]["PolicyDocument"])
        elif isinstance(entry, dict) and "Statement" in entry:
            statements(entry)
        elif isinstance(entry, dict) and len(entry) == 1 and next(iter(entry)) in SAM_POLICY_TEMPLATES:
            granted.actions |= SAM_POLICY_TEMPLATES[next(iter(entry))]
        else:
            raise AssertionError(f"a policy this test cannot read (teach it what it grants): {entry!r}")

    for entry in properties.get("Policies", []):
        policy(entry)
    return granted


def step_functions(actions: set[str]) -> set[str]:
    return {action for action in actions if action.startswith("states:")}


# --- the template against the code -----------------------------------------------------------------


@pytest.fixture(scope="module")
def resources() -> dict[str, Any]:
    doc: dict[str, Any] = yaml.load(TEMPLATE_PATH.read_text(), Loader=_CfnLoader)
    return dict(doc["Resources"])


@pytest.fixture(scope="module")
def functions(resources: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {
        name: resource["Properties"]
        for name, resource in resources.items()
        if resource["Type"] == "AWS::Serverless::Function"
    }


@pytest.fixture(scope="module")
def reaches(functions: dict[str, dict[str, Any]]) -> dict[str, Reach]:
    modules = load_package(PACKAGE_ROOT)
    found: dict[str, Reach] = {}
    for name, properties in functions.items():
        module_file = properties["Handler"].rpartition(".")[0].replace(".", "/")
        found[name] = reach_of(PROJECT_ROOT / properties["CodeUri"] / f"{module_file}.py", modules)
    return found


def test_every_engine_method_has_its_iam_action() -> None:
    methods = {name for name in vars(Engine) if not name.startswith("_")}
    assert methods == set(IAM_ACTIONS)
    assert all(action.startswith("states:") for action in IAM_ACTIONS.values())


def test_the_derivation_follows_each_handler_into_the_use_cases(reaches: dict[str, Reach]) -> None:
    # A derivation that reached nothing would find nothing to grant, and agree with an empty template.
    assert ("orchestrator.services.workflows", "start_workflow") in reaches["StartFunction"].units
    assert ("orchestrator.services.payment", "submit_payment") in reaches["StepPaymentFunction"].units
    assert all(not reach.engine_escapes for reach in reaches.values()), {
        name: reach.engine_escapes for name, reach in reaches.items() if reach.engine_escapes
    }


def test_step_functions_actions_are_exactly_what_each_function_calls(
    functions: dict[str, dict[str, Any]], resources: dict[str, Any], reaches: dict[str, Reach]
) -> None:
    for name, properties in functions.items():
        granted = step_functions(grants_of(properties, resources).actions)
        assert granted == reaches[name].step_functions_actions(), name


def test_secret_read_policies_are_exactly_where_the_code_reads_the_adapter(
    functions: dict[str, dict[str, Any]], resources: dict[str, Any], reaches: dict[str, Reach]
) -> None:
    for name, properties in functions.items():
        policies = grants_of(properties, resources).policies
        wanted = {ADAPTER_POLICIES[adapter] for adapter in reaches[name].adapters}
        assert policies & set(ADAPTER_POLICIES.values()) == wanted, name


def test_direct_aws_use_is_only_where_a_policy_grants_it(
    functions: dict[str, dict[str, Any]], resources: dict[str, Any], reaches: dict[str, Reach]
) -> None:
    for name, properties in functions.items():
        direct = reaches[name].direct_aws
        assert set(direct) <= set(DIRECT_AWS_POLICIES), f"{name} reaches AWS directly in {direct}"
        wanted = {DIRECT_AWS_POLICIES[module] for module in direct}
        policies = grants_of(properties, resources).policies
        assert policies & set(DIRECT_AWS_POLICIES.values()) == wanted, name
        variables = (properties.get("Environment") or {}).get("Variables") or {}
        uses_idempotency = "IdempotencyTablePolicy" in wanted
        assert ("IDEMPOTENCY_TABLE" in variables) == uses_idempotency, name
        inline = [p for p in properties.get("Policies", []) if isinstance(p, dict) and "Statement" in p]
        assert not any(a.startswith("dynamodb:") for a in grants_of({"Policies": inline}, {}).actions), name


# --- the derivation notices a change in the code ---------------------------------------------------


def _tree(root: Path, files: dict[str, str]) -> None:
    for relative, source in files.items():
        path = root / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(source))


SYNTHETIC = {
    "orchestrator/__init__.py": "",
    "orchestrator/services/__init__.py": "",
    "orchestrator/dependencies.py": """
        class Dependencies:
            @property
            def engine(self): return None  # the bundle: not followed
        """,
    "orchestrator/services/tokens.py": """
        def succeed(deps, token):
            deps.engine.send_task_success(token, {})
        """,
    "orchestrator/services/steps.py": """
        from orchestrator.services.tokens import succeed

        def unused(deps):
            deps.engine.describe_execution("arn")  # never reached from the handler

        def finish(deps, token):
            succeed(deps, token)
        """,
    "functions/step/app.py": """
        from orchestrator.dependencies import Dependencies
        from orchestrator.services import steps

        def lambda_handler(event, context):
            steps.finish(Dependencies(), event["token"])
        """,
}
ONLY_SUCCESS = {"Policies": [{"Statement": [{"Effect": "Allow", "Action": "states:SendTaskSuccess"}]}]}


def test_the_derivation_sees_a_new_engine_call_the_template_does_not_grant(tmp_path: Path) -> None:
    _tree(tmp_path, SYNTHETIC)
    app = tmp_path / "functions" / "step" / "app.py"
    before = reach_of(app, load_package(tmp_path / "orchestrator"))
    assert before.step_functions_actions() == {"states:SendTaskSuccess"}
    assert step_functions(grants_of(ONLY_SUCCESS, {}).actions) == before.step_functions_actions()

    # A use case the handler reaches (two modules away) now also starts an execution.
    _tree(
        tmp_path,
        {
            "orchestrator/services/tokens.py": """
                def succeed(deps, token):
                    deps.engine.send_task_success(token, {})
                    _restart(deps)

                def _restart(deps):
                    deps.engine.start_execution("wf-1", {})
                """
        },
    )
    after = reach_of(app, load_package(tmp_path / "orchestrator"))
    assert after.step_functions_actions() == {"states:SendTaskSuccess", "states:StartExecution"}
    assert step_functions(grants_of(ONLY_SUCCESS, {}).actions) != after.step_functions_actions()


def test_the_derivation_refuses_an_engine_it_cannot_follow_and_a_direct_client(tmp_path: Path) -> None:
    _tree(tmp_path, SYNTHETIC)
    _tree(
        tmp_path,
        {
            "orchestrator/services/tokens.py": """
                def succeed(deps, token):
                    engine = deps.engine  # whatever it calls is out of sight
                    engine.send_task_failure(token, "E", "c")
                    import boto3
                    boto3.client("stepfunctions").stop_execution(executionArn="arn")
                """
        },
    )
    reach = reach_of(tmp_path / "functions" / "step" / "app.py", load_package(tmp_path / "orchestrator"))
    assert reach.engine_escapes == ["orchestrator.services.tokens.succeed, line 3"]
    assert reach.direct_aws == {"orchestrator.services.tokens": {"boto3"}}
