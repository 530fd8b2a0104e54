"""The template's functions, loaded in-process, and the Lambda Invoke API that serves them.

moto's Step Functions interpreter calls Lambda with boto3; with `AWS_ENDPOINT_URL_LAMBDA` pointing
here, its `lambda:invoke` tasks reach the same handlers the HTTP API uses.
"""

from __future__ import annotations

import importlib.util
import json
import logging
import sys
import threading
import traceback
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from types import ModuleType
from typing import TYPE_CHECKING, Any

from werkzeug.routing import Map, Rule
from werkzeug.wrappers import Request, Response

from devstack.serving import json_response
from devstack.template import FunctionSpec, Template, function_arn

if TYPE_CHECKING:
    from orchestrator.dependencies import Dependencies

log = logging.getLogger(__name__)


@dataclass
class LambdaContext:
    """The attributes of the Lambda runtime's context object that handlers and Powertools read."""

    function_name: str
    aws_request_id: str
    memory_limit_in_mb: int = 512
    function_version: str = "$LATEST"

    @property
    def invoked_function_arn(self) -> str:
        return function_arn(self.function_name)

    def get_remaining_time_in_millis(self) -> int:
        return 30_000


class FunctionError(Exception):
    """A handler raised: reported as Lambda does (errorType = the exception's class name)."""

    def __init__(self, error_type: str, message: str, stack: list[str]) -> None:
        super().__init__(message)
        self.error_type = error_type
        self.message = message
        self.stack = stack

    def payload(self) -> dict[str, Any]:
        return {"errorType": self.error_type, "errorMessage": self.message, "stackTrace": self.stack}


class FunctionRegistry:
    def __init__(self, template: Template) -> None:
        self.template = template
        self._modules: dict[str, ModuleType] = {}
        self._lock = threading.Lock()
        # The one `dependency_overrides` every function's app reads (loaded now or later): an entry
        # `get_dependencies -> provider` gives all of them the provider's bundle (LocalStack.overrides).
        self.dependency_overrides: dict[Callable[..., Any], Callable[..., Any]] = {}

    def names(self) -> list[str]:
        return sorted(self.template.functions)

    def spec(self, name: str) -> FunctionSpec:
        # Accept the logical id, or an ARN / qualified name as boto3 sends it.
        short = name.rsplit(":function:", 1)[-1].split(":", 1)[0]
        if short not in self.template.functions:
            raise KeyError(short)
        return self.template.functions[short]

    def load(self, spec: FunctionSpec) -> ModuleType:
        """The function's handler module, imported once."""
        return self._module(spec)

    def _module(self, spec: FunctionSpec) -> ModuleType:
        with self._lock:
            if spec.logical_id not in self._modules:
                module_file, _, _ = spec.handler.rpartition(".")
                path = spec.code_uri / f"{module_file.replace('.', '/')}.py"
                module_name = f"lambda_{spec.logical_id}"
                loader_spec = importlib.util.spec_from_file_location(module_name, path)
                if loader_spec is None or loader_spec.loader is None:
                    raise FileNotFoundError(f"cannot load {path}")
                module = importlib.util.module_from_spec(loader_spec)
                sys.modules[module_name] = module
                loader_spec.loader.exec_module(module)
                app = getattr(module, "app", None)  # a Powertools resolver or a TaskApp
                if app is not None and hasattr(app, "dependency_overrides"):
                    app.dependency_overrides = self.dependency_overrides
                self._modules[spec.logical_id] = module
            return self._modules[spec.logical_id]

    def dependencies(self) -> Dependencies:
        """The bundle the functions get now (an override's, else the process's)."""
        from orchestrator.dependencies import dependencies_of

        return dependencies_of(self)

    def invoke(self, name: str, event: Any) -> Any:
        spec = self.spec(name)
        handler = getattr(self._module(spec), spec.handler.rpartition(".")[2])
        context = LambdaContext(function_name=spec.logical_id, aws_request_id=str(uuid.uuid4()))
        try:
            return handler(event, context)
        except Exception as exc:
            from orchestrator.errors import OrchestratorError

            # Lambda's runtime logs an unhandled exception; a domain error is a task's way to report
            # an outcome to the state machine (the workflow records it), not a fault of the code.
            if not isinstance(exc, OrchestratorError):
                log.error("%s raised", spec.logical_id, exc_info=exc)
            stack = traceback.format_exception(exc)[-5:]
            raise FunctionError(type(exc).__name__, str(exc), stack) from exc


class LambdaInvokeApp:
    """`POST /2015-03-31/functions/{name}/invocations`, as boto3's Lambda client calls it."""

    def __init__(self, registry: FunctionRegistry) -> None:
        self.registry = registry
        self.url_map = Map(
            [Rule("/2015-03-31/functions/<name>/invocations", methods=["POST"], endpoint="invoke")]
        )

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Any:
        request = Request(environ)
        adapter = self.url_map.bind_to_environ(environ)
        try:
            _, args = adapter.match()
        except Exception:
            response = json_response({"Type": "User", "message": "Unknown operation"}, 404)
            return response(environ, start_response)
        response = self._invoke(args["name"], request)
        return response(environ, start_response)

    def _invoke(self, name: str, request: Request) -> Response:
        try:
            self.registry.spec(name)
        except KeyError:
            return json_response(
                {"Type": "User", "message": f"Function not found: {name}"},
                404,
                {"x-amzn-ErrorType": "ResourceNotFoundException"},
            )
        raw = request.get_data(as_text=True)
        try:
            event = json.loads(raw) if raw else {}
        except json.JSONDecodeError:
            return json_response(
                {"Type": "User", "message": "Could not parse request body into json"},
                400,
                {"x-amzn-ErrorType": "InvalidRequestContentException"},
            )
        try:
            result = self.registry.invoke(name, event)
        except FunctionError as exc:
            return json_response(exc.payload(), 200, {"X-Amz-Function-Error": "Unhandled"})
        return json_response(result, 200, {"X-Amz-Executed-Version": "$LATEST"})
