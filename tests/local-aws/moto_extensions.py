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

Project rule: where moto lacks an operation we need, the harness may extend
it here; the product never bends to the emulator. When moto gains an
operation, remove it from this file: the launcher refuses to start while
both exist, so a moto upgrade cannot silently keep a stale copy. Likewise,
when moto answers as AWS does, remove the correction: the launcher refuses
to start once moto's own check accepts a `CODEPIPELINE` source or artifacts
without a location, or once moto's CodeBuild code mentions
`projectsNotFound`.
"""

import inspect
import sys
from typing import Any

from moto.codebuild import responses as codebuild_responses
from moto.codebuild.exceptions import InvalidInputException, ResourceNotFoundException
from moto.codebuild import models as codebuild_models
from moto.codebuild.models import CodeBuildBackend
from moto.core.responses import ActionResult
from moto.core.utils import unix_time
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

if __name__ == "__main__":
    moto_server_main(sys.argv[1:])
