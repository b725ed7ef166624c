"""moto, plus the operations the bokbasen tests need that moto lacks.

The harness (tests/harness/local_aws.rs) runs this file with the moto
virtualenv's Python in place of `moto_server`, with the same arguments:

    .tools/moto/bin/python tests/local-aws/moto_extensions.py -H 127.0.0.1 -p PORT

It adds the operations below to moto's own classes, then hands over to
moto's server `main`. Everything else is moto as pinned in requirements.txt.

Added:

- CodeBuild `UpdateProject`. moto 5.2.5 has CreateProject and
  BatchGetProjects but no UpdateProject (its server answers HTTP 500), and
  `bokbasen_service_pipeline` updates its projects in place. As in AWS:
  `name` is required; each other field given replaces that field of the
  project (description, source, secondarySources, sourceVersion, artifacts,
  secondaryArtifacts, cache, environment, serviceRole, timeoutInMinutes,
  queuedTimeoutInMinutes, encryptionKey, tags, vpcConfig, badgeEnabled,
  logsConfig, concurrentBuildLimit); `lastModified` is set; the answer is
  `{"project": ...}` as BatchGetProjects shows it. An unknown project is
  ResourceNotFoundException (HTTP 400, AWS JSON error shape). Given fields
  are checked with moto's own CreateProject checks, so an update accepts
  what a create accepts.

Corrected (moto has the operation, but answers differently from AWS):

- CodeBuild CreateProject and UpdateProject: a `source` or `artifacts` of
  type `CODEPIPELINE` needs no `location`. moto 5.2.5 refuses one without
  ("Project source location is required"); AWS does not, and the pipeline
  supplies the source and takes the artifacts. Such a source or artifacts is
  stored and answered as given, without a location, as in AWS. Every other
  case, including a `CODEPIPELINE` one that does give a location, still goes
  through moto's own check unchanged.
- CodeBuild BatchGetProjects: the answer also has `projectsNotFound`, the
  names (or ARNs) asked for that match no project, in the order asked
  (empty when all were found), as in AWS. moto 5.2.5 leaves it out.

Test facilities (not AWS; served on moto's own port under `/_bokbasen/`,
which no AWS API uses and no S3 bucket can be named, since bucket names
start with a letter or digit). They wrap moto's server application as a WSGI
middleware, so every request passes them before moto sees it:

- Call counting. Every AWS request is counted under `service:Operation`,
  e.g. `iam:GetRole`, `codepipeline:CreatePipeline`. The service is the
  signing name in the SigV4 credential scope
  (`Credential=AKID/20261128/eu-north-1/iam/aws4_request` in the
  Authorization header, or `X-Amz-Credential` in a presigned URL; `unsigned`
  without either). The operation is what follows the `.` of `X-Amz-Target`
  (JSON protocols: `CodePipeline_20150709.CreatePipeline`), else the
  `Action` parameter of a form-encoded body or of the query string (query
  protocols: IAM, STS), else `METHOD /path` (REST protocols, which name the
  operation nowhere). A body read for this is handed on to moto unchanged.
  Requests to `/_bokbasen/` and `/moto-api/` are not counted.
  `GET /_bokbasen/calls` answers the counts as JSON,
  `{"iam:GetRole": 2, ...}`; `POST /_bokbasen/calls/reset` or
  `DELETE /_bokbasen/calls` sets them back to none. The benchmark of AWS
  calls per resource operation reads them.
- Fault injection. `POST /_bokbasen/faults` with JSON
  `{"operation": "codepipeline:CreatePipeline", "status": 400,
  "code": "ValidationException", "message": "...", "times": 1}` makes the
  next `times` requests counted under that name (every one, when `times` is
  left out) answer that error without reaching moto, in the error shape of
  the request's protocol, so the SDKs read it as a service error with that
  code: with `X-Amz-Target`, the AWS JSON shape (`{"__type": code,
  "message": message}`, header `x-amzn-ErrorType`); otherwise the query
  shape (`<ErrorResponse><Error><Type>Sender</Type><Code>` ... as IAM and STS
  answer). Faulted requests are still counted. When several faults match,
  the earliest given answers. `GET /_bokbasen/faults` lists the faults left,
  `DELETE /_bokbasen/faults` removes them all. Tests use them to prove a
  half-failed apply leaves no orphans.

Project rule: where moto lacks an operation we need, the harness may extend
it here; the product never bends to the emulator. When moto gains an
operation, remove it from this file: the launcher refuses to start while
both exist, so a moto upgrade cannot silently keep a stale copy. Likewise,
when moto answers as AWS does, remove the correction: the launcher refuses
to start once moto's own check accepts a `CODEPIPELINE` source or artifacts
without a location, or once moto's CodeBuild code mentions
`projectsNotFound`. The test facilities are installed by wrapping the
application that moto's server `main` hands to werkzeug's `run_simple`; the
launcher refuses to start if `main` no longer does so.
"""

import inspect
import io
import json
import re
import sys
import threading
import uuid
from collections import Counter
from http import HTTPStatus
from typing import Any, Callable, Iterable
from urllib.parse import parse_qs
from xml.sax.saxutils import escape as xml_escape

from moto.codebuild import responses as codebuild_responses
from moto.codebuild.exceptions import InvalidInputException, ResourceNotFoundException
from moto.codebuild import models as codebuild_models
from moto.codebuild.models import CodeBuildBackend
from moto.core.responses import ActionResult
from moto.core.utils import unix_time
from moto import server as moto_server
from moto.server import main as moto_server_main
from moto.utilities.utils import get_partition

# UpdateProject fields stored under the same key in moto's project metadata.
_REPLACEABLE = [
    "description",
    "source",
    "secondarySources",
    "sourceVersion",
    "artifacts",
    "secondaryArtifacts",
    "cache",
    "environment",
    "serviceRole",
    "timeoutInMinutes",
    "queuedTimeoutInMinutes",
    "encryptionKey",
    "tags",
    "vpcConfig",
    "logsConfig",
    "concurrentBuildLimit",
]


def _backend_update_project(self: CodeBuildBackend, project_name: str, changes: dict[str, Any]) -> dict[str, Any]:
    project = self.codebuild_projects.get(project_name)
    if project is None:
        arn = f"arn:{get_partition(self.region_name)}:codebuild:{self.region_name}:{self.account_id}:project/{project_name}"
        raise ResourceNotFoundException(f"Project cannot be found: {arn}")
    metadata = project.project_metadata
    for field, value in changes.items():
        if field == "badgeEnabled":
            metadata["badge"] = {"badgeEnabled": value}
        else:
            metadata[field] = value
    # moto keeps these on the project too (StartBuild reads service_role).
    if "serviceRole" in changes:
        project.service_role = changes["serviceRole"]
    if "tags" in changes:
        project.tags = changes["tags"]
    now = unix_time()
    metadata["lastModified"] = now  # the AWS field
    metadata["lastModifiedDate"] = now  # moto's own record of it (not serialized)
    return metadata


def _response_update_project(self: codebuild_responses.CodeBuildResponse) -> ActionResult:
    name = self._get_param("name")
    if not name:
        raise InvalidInputException("Project name is required")
    codebuild_responses._validate_required_params_project_name(name)
    changes = {field: self._get_param(field) for field in _REPLACEABLE + ["badgeEnabled"]}
    changes = {field: value for field, value in changes.items() if value is not None}
    if "source" in changes:
        codebuild_responses._validate_required_params_source(changes["source"])
    if "serviceRole" in changes:
        codebuild_responses._validate_required_params_service_role(
            self.current_account, self.region, changes["serviceRole"]
        )
    if "artifacts" in changes:
        codebuild_responses._validate_required_params_artifacts(changes["artifacts"])
    if "environment" in changes:
        codebuild_responses._validate_required_params_environment(changes["environment"])
    project = self.codebuild_backend.update_project(name, changes)
    return ActionResult({"project": project})


# moto's own checks, kept for every case the corrections below do not cover.
_moto_validate_source = codebuild_responses._validate_required_params_source
_moto_validate_artifacts = codebuild_responses._validate_required_params_artifacts


def _without_location(value: dict[str, Any]) -> bool:
    return value.get("type") == "CODEPIPELINE" and "location" not in value


def _validate_source(source: dict[str, Any]) -> None:
    if not _without_location(source):
        _moto_validate_source(source)


def _validate_artifacts(artifacts: dict[str, Any]) -> None:
    if not _without_location(artifacts):
        _moto_validate_artifacts(artifacts)


def _response_batch_get_projects(self: codebuild_responses.CodeBuildResponse) -> ActionResult:
    names = self._get_param("names")
    projects = self.codebuild_backend.batch_get_projects(names)
    found = {project["name"] for project in projects} | {project["arn"] for project in projects}
    return ActionResult({"projects": projects, "projectsNotFound": [name for name in names if name not in found]})


def _moto_refuses(check: Any, value: dict[str, Any]) -> bool:
    try:
        check(value)
    except InvalidInputException:
        return True
    return False


def _extend(cls: type, name: str, function: Any) -> None:
    if hasattr(cls, name):
        sys.exit(f"moto now has {cls.__name__}.{name}: remove it from {__file__}")
    setattr(cls, name, function)


def _correct(owner: Any, name: str, function: Any, still_wrong: bool) -> None:
    if not still_wrong:
        sys.exit(f"moto's {name} now answers as AWS does: remove its correction from {__file__}")
    setattr(owner, name, function)


_extend(CodeBuildBackend, "update_project", _backend_update_project)
_extend(codebuild_responses.CodeBuildResponse, "update_project", _response_update_project)
# CreateProject looks its checks up in moto's module when called, and so does
# _response_update_project above, so both use the corrected ones.
_correct(
    codebuild_responses,
    "_validate_required_params_source",
    _validate_source,
    _moto_refuses(_moto_validate_source, {"type": "CODEPIPELINE"}),
)
_correct(
    codebuild_responses,
    "_validate_required_params_artifacts",
    _validate_artifacts,
    _moto_refuses(_moto_validate_artifacts, {"type": "CODEPIPELINE"}),
)
_correct(
    codebuild_responses.CodeBuildResponse,
    "batch_get_projects",
    _response_batch_get_projects,
    "projectsNotFound" not in inspect.getsource(codebuild_responses) + inspect.getsource(codebuild_models),
)


# --- Test facilities: call counting and fault injection -------------------

_PREFIX = "/_bokbasen/"
_NOT_COUNTED = (_PREFIX, "/moto-api/")
_CREDENTIAL = re.compile(r"Credential=([^,\s]+)")

StartResponse = Callable[..., Any]
Wsgi = Callable[[dict[str, Any], StartResponse], Iterable[bytes]]


def _respond(
    start_response: StartResponse, status: int, body: bytes, headers: list[tuple[str, str]] | None = None
) -> list[bytes]:
    try:
        phrase = HTTPStatus(status).phrase
    except ValueError:
        phrase = "Error"
    headers = list(headers or [])
    headers.append(("Content-Length", str(len(body))))
    start_response(f"{status} {phrase}", headers)
    return [body]


def _respond_json(start_response: StartResponse, status: int, value: Any) -> list[bytes]:
    body = json.dumps(value, sort_keys=True).encode("utf-8")
    return _respond(start_response, status, body, [("Content-Type", "application/json")])


def _read_body(environ: dict[str, Any]) -> bytes:
    """The request body, put back for whoever reads it next (moto)."""
    stream = environ.get("wsgi.input")
    if stream is None:
        return b""
    if environ.get("wsgi.input_terminated"):
        body = stream.read()  # chunked: werkzeug ends the stream itself
    else:
        try:
            length = int(environ.get("CONTENT_LENGTH") or 0)
        except ValueError:
            length = 0
        body = stream.read(length) if length > 0 else b""
    environ["wsgi.input"] = io.BytesIO(body)
    return body


def _service(environ: dict[str, Any]) -> str:
    match = _CREDENTIAL.search(environ.get("HTTP_AUTHORIZATION", ""))
    scope = match.group(1) if match else None
    if scope is None:
        presigned = parse_qs(environ.get("QUERY_STRING", "")).get("X-Amz-Credential")
        scope = presigned[0] if presigned else None
    if scope is None:
        return "unsigned"
    # AKID/date/region/service/aws4_request (SigV4a leaves out the region).
    parts = scope.split("/")
    return parts[-2].lower() if len(parts) >= 4 else "unsigned"


def _operation(environ: dict[str, Any]) -> str:
    target = environ.get("HTTP_X_AMZ_TARGET")
    if target:
        return target.split(".", 1)[-1]
    if environ.get("CONTENT_TYPE", "").startswith("application/x-www-form-urlencoded"):
        action = parse_qs(_read_body(environ).decode("utf-8", "replace")).get("Action")
        if action:
            return action[0]
    action = parse_qs(environ.get("QUERY_STRING", "")).get("Action")
    if action:
        return action[0]
    return f"{environ.get('REQUEST_METHOD', 'GET')} {environ.get('PATH_INFO', '/')}"


def _fault_response(environ: dict[str, Any], start_response: StartResponse, fault: dict[str, Any]) -> list[bytes]:
    request_id = str(uuid.uuid4())
    status, code, message = fault["status"], fault["code"], fault["message"]
    if environ.get("HTTP_X_AMZ_TARGET"):
        content_type = environ.get("CONTENT_TYPE", "")
        if not content_type.startswith("application/x-amz-json"):
            content_type = "application/x-amz-json-1.1"
        body = json.dumps({"__type": code, "message": message}).encode("utf-8")
        headers = [("Content-Type", content_type), ("x-amzn-ErrorType", code), ("x-amzn-RequestId", request_id)]
    else:
        kind = "Sender" if status < 500 else "Receiver"
        body = (
            f"<ErrorResponse><Error><Type>{kind}</Type><Code>{xml_escape(code)}</Code>"
            f"<Message>{xml_escape(message)}</Message></Error>"
            f"<RequestId>{request_id}</RequestId></ErrorResponse>"
        ).encode("utf-8")
        headers = [("Content-Type", "text/xml"), ("x-amzn-RequestId", request_id)]
    return _respond(start_response, status, body, headers)


def _parse_fault(raw: bytes) -> dict[str, Any]:
    try:
        given = json.loads(raw or b"{}")
    except ValueError as error:
        raise ValueError(f"the body is not JSON: {error}") from None
    if not isinstance(given, dict):
        raise ValueError("the body is not a JSON object")
    operation, status, code = given.get("operation"), given.get("status"), given.get("code")
    message, times = given.get("message", ""), given.get("times")
    if not isinstance(operation, str) or ":" not in operation:
        raise ValueError('"operation" must be "service:Operation"')
    if not isinstance(status, int) or isinstance(status, bool) or not 400 <= status <= 599:
        raise ValueError('"status" must be an HTTP error status (400-599)')
    if not isinstance(code, str) or not code:
        raise ValueError('"code" must be a non-empty string')
    if not isinstance(message, str):
        raise ValueError('"message" must be a string')
    if times is not None and (not isinstance(times, int) or isinstance(times, bool) or times < 1):
        raise ValueError('"times" must be a positive integer, or left out for every matching request')
    return {"operation": operation, "status": status, "code": code, "message": message, "times": times}


class _Facilities:
    """WSGI middleware in front of moto's application: see the module docstring."""

    def __init__(self, app: Wsgi) -> None:
        self.app = app
        self.lock = threading.Lock()  # moto's server is threaded
        self.calls: Counter[str] = Counter()
        self.faults: list[dict[str, Any]] = []

    def __call__(self, environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        path = environ.get("PATH_INFO", "")
        if isinstance(path, bytes):
            path = path.decode("utf-8", "replace")
        if path.startswith(_PREFIX) or path == _PREFIX.rstrip("/"):
            return self.serve(environ, start_response, path[len(_PREFIX) :].strip("/"))
        if path.startswith(_NOT_COUNTED):
            return self.app(environ, start_response)
        name = f"{_service(environ)}:{_operation(environ)}"
        with self.lock:
            self.calls[name] += 1
            fault = next((fault for fault in self.faults if fault["operation"] == name), None)
            if fault is not None and fault["times"] is not None:
                fault["times"] -= 1
                if fault["times"] == 0:
                    self.faults.remove(fault)
            fault = dict(fault) if fault is not None else None
        if fault is not None:
            return _fault_response(environ, start_response, fault)
        return self.app(environ, start_response)

    def serve(self, environ: dict[str, Any], start_response: StartResponse, route: str) -> list[bytes]:
        method = environ.get("REQUEST_METHOD", "GET")
        with self.lock:
            if route == "calls" and method == "GET":
                return _respond_json(start_response, 200, dict(sorted(self.calls.items())))
            if (route == "calls" and method == "DELETE") or (route == "calls/reset" and method == "POST"):
                self.calls.clear()
                return _respond_json(start_response, 200, {})
            if route == "faults" and method == "GET":
                return _respond_json(start_response, 200, list(self.faults))
            if route == "faults" and method == "DELETE":
                self.faults.clear()
                return _respond_json(start_response, 200, {})
        if route == "faults" and method == "POST":
            try:
                fault = _parse_fault(_read_body(environ))
            except ValueError as error:
                return _respond_json(start_response, 400, {"error": str(error)})
            with self.lock:
                self.faults.append(fault)
            return _respond_json(start_response, 200, fault)
        return _respond_json(start_response, 404, {"error": f"no {method} {_PREFIX}{route}"})


_werkzeug_run_simple = moto_server.run_simple


def _run_simple(hostname: str, port: int, application: Wsgi, *args: Any, **kwargs: Any) -> None:
    _werkzeug_run_simple(hostname, port, _Facilities(application), *args, **kwargs)


if "run_simple(" not in inspect.getsource(moto_server.main):
    sys.exit(f"moto's server main no longer calls run_simple: install the test facilities of {__file__} anew")
moto_server.run_simple = _run_simple

if __name__ == "__main__":
    moto_server_main(sys.argv[1:])
