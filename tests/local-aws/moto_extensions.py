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
- CodeBuild CreateProject: the project keeps the `encryptionKey` given (the
  KMS key of its output artifacts), as AWS stores and answers it (CodeBuild
  API reference, CreateProject: encryptionKey). moto 5.2.5 drops it and
  answers `alias/aws/s3` whatever was asked, which would hide a project
  writing artifacts other accounts cannot decrypt.
- CodeBuild BatchGetProjects: the answer also has `projectsNotFound`, the
  names (or ARNs) asked for that match no project, in the order asked
  (empty when all were found), as in AWS. moto 5.2.5 leaves it out.
- S3 GetBucketVersioning: the answer's root element is
  `<VersioningConfiguration>` (S3 API reference, GetBucketVersioning,
  "Response Syntax"). moto 5.2.5's serializer names it
  `<GetBucketVersioningResponse>`, which botocore ignores and the AWS SDK for
  Rust refuses.
- S3 CreateBucket: the `Tags` of its `CreateBucketConfiguration` are the new
  bucket's tags, as GetBucketTagging answers them (S3 API reference,
  CreateBucketConfiguration; S3 user guide, "Creating general purpose buckets
  with tags"); a duplicate key or one starting with `aws:` is `InvalidTag`, as
  for PutBucketTagging. moto 5.2.5 reads only the `LocationConstraint`
  (`_get_location_constraint` in moto/s3/responses.py) and drops them. Here
  they are stored as PutBucketTagging stores them, on a bucket the request
  made (not on one that existed, which us-east-1 answers with success).
- S3 DeleteBucket: the bucket's tags go with it (S3 API reference,
  DeleteBucket), so a bucket made later under the name has only its own.
  moto 5.2.5 keeps tags by the bucket's ARN and leaves them, so the next
  bucket of the name in the account had the deleted one's; here they are
  removed with the bucket.
- S3 bucket policies when not enforcing: moto checks a bucket policy's
  statements on every object request before anything else, without the
  request's context, and passes a condition whose key is absent, so a
  `Deny` conditioned on `aws:SecureTransport` "false" (the artifact store's
  `TlsOnly`) refuses every object request, even with authorization off.
  Here bucket policies are evaluated only as part of the authorization below,
  with the request's context; not enforcing, nothing is checked.

Corrected when enforcing (moto checks IAM authorization once
`POST /moto-api/reset-auth` with body `0` has switched it on; the harness's
`LocalAws::start_enforcing`). Each says what AWS does; until switched on
nothing below runs and moto checks nothing:

- The resource of a request. AWS authorizes a request against the ARN of
  the resource it acts on, with the caller's account and the credential
  scope's region (Service Authorization Reference, "Actions, resources, and
  condition keys" for IAM, CodeBuild, CodePipeline, ECR, Systems Manager and
  STS). moto passes "*" for these services, so a statement naming a resource
  never matches. Computed here: IAM role calls (CreateRole with its Path;
  the others with the role's ARN, path included, or `role/NAME` when it does
  not exist), CodeBuild Create/Update/DeleteProject and BatchGetProjects,
  CodePipeline Create/Get/Update/DeletePipeline and the tag calls
  (resourceArn), ECR repository calls and tag calls, SSM Put/Get/Delete
  parameter(s), GetParametersByPath (the path's ARN) and the tag calls of a
  Parameter, STS AssumeRole (the role). A request naming several resources
  (BatchGetProjects, GetParameters, DeleteParameters) needs every one
  allowed. Any other request (KMS, DescribeParameters, ListRoles, ...) is
  checked on its action only: any statement's Resource matches it. S3 keeps
  moto's bucket/key ARNs.
- S3 action names. AWS authorizes an S3 request by IAM's action (S3 API
  reference, each operation's "Permissions"; Service Authorization Reference
  for Amazon S3); moto by its own operation names (`ACTION_MAP` in
  moto/s3/responses.py), some of which IAM does not have, and it misses some
  subresources, which then fall to the bucket's default action. Here:
  HeadBucket is s3:ListBucket (moto: s3:HeadBucket); Get/Put/
  DeletePublicAccessBlock are s3:GetBucketPublicAccessBlock /
  s3:PutBucketPublicAccessBlock (moto: ListBucket, CreateBucket and
  DeleteBucket, as it looks for a `public_access_block` subresource);
  Get/Put/DeleteBucketEncryption are s3:GetEncryptionConfiguration /
  s3:PutEncryptionConfiguration (moto: ListBucket, CreateBucket,
  DeleteBucket). DeleteObjects has no action of its own: each key needs
  s3:DeleteObject, or s3:DeleteObjectVersion when given with a VersionId, and
  a key refused is an `AccessDenied` error in the answer's `Errors`, not a
  refused request (moto checks s3:DeleteObject once, on the bucket, and then
  each key against the bucket policy alone). The other operations the
  provider and a release make are named as IAM names them by moto already
  (CreateBucket, DeleteBucket, ListBucket, ListBucketVersions,
  ListAllMyBuckets, Get/Put/DeleteBucketPolicy, Get/PutBucketVersioning,
  Get/PutBucketTagging, GetBucketLocation, Get/Put/DeleteObject,
  GetObjectVersion; HeadObject is s3:GetObject). A CreateBucket carrying
  `Tags` in its CreateBucketConfiguration needs s3:TagResource on the bucket
  as well as s3:CreateBucket (S3 API reference, CreateBucketConfiguration;
  S3 user guide, "Creating general purpose buckets with tags"); moto checks
  only s3:CreateBucket. The launcher refuses to
  start once moto names one of the corrected requests as IAM does.
- Bucket policies (IAM user guide, "Policy evaluation for requests within a
  single account", "Cross-account policy evaluation logic"). moto leaves
  them out of authorization. Here an S3 request on an existing bucket (but
  CreateBucket) is also evaluated against the bucket's policy, with the same
  evaluation and request context as identity policies: an explicit Deny in
  either refuses; in the bucket owner's account either one allowing is
  enough, though a bucket policy naming only the account (its root)
  delegates to the identity policies; from another account both must allow
  (a refusal says "with an explicit deny in a resource-based policy" or
  "because no resource-based policy allows", as AWS does). S3 requests add
  s3:ResourceAccount (the bucket owner) to the context.
- Policy evaluation (IAM user guide: "Policy evaluation logic", "Cross-account
  policy evaluation logic", policy elements Action, Principal, Condition
  operators). moto's statement check treats a trust statement that does not
  name the caller, or whose condition fails, as an explicit deny; compares
  principals literally (an account root never matches a role session);
  knows only StringEquals and passes every other operator, and passes a
  condition whose key is absent. Here: an explicit Deny wins, else an Allow
  is needed; a statement applies when its Action/NotAction (case-
  insensitive, `*` and `?`), Resource/NotResource, Principal (trust and
  bucket policies only)
  and every condition match. Principals: `*`, an account id or
  `arn:aws:iam::ACCT:root` (any principal of that account, whose identity
  policy must then allow too), a role ARN (its sessions), a user ARN, a
  session ARN. Conditions: String(Not)Equals(IgnoreCase), String(Not)Like,
  Arn(Not)Equals, Arn(Not)Like (each of the six ARN parts matched on its
  own), Bool, Null, `...IfExists`, `ForAnyValue:`/`ForAllValues:`; an absent
  key makes a condition false, except negated operators, IfExists and Null;
  another operator fails closed (an Allow does not apply, a Deny does) and
  the refusal says so. Request context: aws:PrincipalArn (a session's role
  ARN with its path; a user's ARN), aws:PrincipalAccount,
  aws:RequestedRegion, aws:SecureTransport, and for AssumeRole
  sts:ExternalId when sent. aws:SecureTransport is always "true": the
  endpoint is treated as TLS. It speaks plain HTTP on the loopback only
  because it stands in for AWS's HTTPS endpoints, which the AWS SDKs and CLI
  reach over TLS (S3 user guide, "Protecting data in transit with
  encryption"); so a plain-HTTP request to AWS cannot be expressed here, and
  a policy denying aws:SecureTransport "false" never applies.
  AssumeRole: the role must exist; its trust policy must allow the caller;
  and the caller's identity policy must allow it too, unless the trust
  policy names the caller itself in the same account. GetCallerIdentity
  needs no permission (STS API reference).
- Refusals. AWS names the resource: "User: ARN is not authorized to
  perform: ACTION on resource: ARN because no identity-based policy allows
  the ACTION action" (IAM user guide, "Troubleshoot access denied error
  messages"); moto leaves the resource out. Errors have the protocol's shape:
  JSON services (X-Amz-Target) answer `{"__type": "AccessDeniedException",
  "message"}` with HTTP 400 and unknown keys `InvalidClientTokenId` 403
  (the services' "Common Errors"); IAM and STS answer
  `<ErrorResponse><Error><Type>Sender</Type><Code>AccessDenied</Code>...`
  (Smithy awsQuery protocol, operation error serialization). moto answers
  XML for JSON services and wraps query errors in an `<Errors>` element,
  which the AWS SDK for Rust cannot read, losing the message. S3 keeps
  moto's own errors ("AccessDenied", HTTP 403).

Test facilities (not AWS; served on moto's own port under `/_bokbasen/`,
which no AWS API uses and no S3 bucket can be named, since bucket names
start with a letter or digit). They wrap moto's server application as a WSGI
middleware, so every request passes them before moto sees it; requests to
`/_bokbasen/` are never counted, faulted or held:

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
- Mutating requests. One rule (`_is_mutating`) says which counted requests
  change state, for the count below and for faults and holds by position: an
  operation named by AWS (JSON and query protocols) whose name starts with a
  verb that changes state (Create, Put, Update, Modify, Delete, Attach,
  Detach, Associate, Disassociate, Tag, Untag, Set, Schedule, Cancel, Enable,
  Disable, Add, Remove, Register, Deregister, Start, Stop, Upload, Import,
  Restore, Revoke, Rotate, Reset, Change, Replicate, Retry, Rollback,
  Override, Acknowledge, Initiate, Complete, Invalidate, Label, Unlabel,
  Send, Terminate), also after `Batch` (BatchDeleteImage; BatchGetProjects is
  not); a REST request (S3, `METHOD /path`) by PUT, POST, DELETE or PATCH.
  sts:AssumeRole, KMS Encrypt/Decrypt and every Get/List/Describe are not.
  `GET /_bokbasen/calls/mutating` answers `{"mutating": N, "total": M}` since
  the last reset of the counts.
- Fault injection. `POST /_bokbasen/faults` with JSON
  `{"operation": "codepipeline:CreatePipeline", "status": 400,
  "code": "ValidationException", "message": "...", "times": 1, "skip": 0}`
  makes requests counted under that name answer that error without reaching
  moto: the first `skip` matching requests (0 when left out) go through, then
  the next `times` (every one, when `times` is left out) are faulted.
  `operation` may also be `"*"` (every counted request) or `"mutating"`
  (every mutating one), so `{"operation": "mutating", "skip": 2, "status":
  500, "code": "InternalFailure", "times": 1}` fails exactly the third
  mutating request from now on. The error has the shape of the request's
  protocol, so the SDKs read it as a service error with that code: with
  `X-Amz-Target`, the AWS JSON shape (`{"__type": code, "message": message}`,
  header `x-amzn-ErrorType`); for S3, S3's `<Error><Code>...` (S3 API
  reference, "Error responses"); otherwise the query shape
  (`<ErrorResponse><Error><Type>Sender</Type><Code>` ... as IAM and STS
  answer). Faulted requests are still counted. Every matching fault still
  skipping counts a request; of those that skip no more, the earliest given
  answers. `GET /_bokbasen/faults` lists the faults left, `DELETE
  /_bokbasen/faults` removes them all (not the storm). Tests use them to prove
  a half-failed apply leaves no orphans.
- Storms. `POST /_bokbasen/faults/storm` with JSON `{"rate": 0.3, "seed": 7,
  "modes": ["throttling", "internal", "unavailable", "reset"], "services":
  ["iam", "s3"]}` (`seed` 0, every mode and every service when left out)
  answers each counted request (of those services) with probability `rate`
  by one mode chosen uniformly, without reaching moto. The draws come from
  `random.Random(seed)` under the facilities' lock, so the same requests in
  the same order meet the same faults. Modes: `throttling`, the throttling
  error each protocol's services answer (IAM and STS `Throttling` 400, JSON
  services `ThrottlingException` 400, S3 `SlowDown` 503); `internal`,
  `InternalFailure` 500 (S3 `InternalError` 500); `unavailable`,
  `ServiceUnavailable` 503; `reset`, the TCP connection reset (RST) before
  any byte of an answer (see `_reset_connection`). Sources at `_STORM_ERRORS`.
  A request answered by a fault above is not drawn for. `GET` answers
  `{"active", "rate", "seed", "modes", "services", "requests" (drawn for),
  "injected": {mode: n}, "by_operation": {"service:Operation": {"requests",
  "injected": {mode: n}}}}`; `DELETE` stops the storm and answers its final
  report (still readable by `GET`). Starting a storm replaces the last.
- Holds. `POST /_bokbasen/holds` with JSON `{"at": N, "filter": "mutating",
  "release": "drop"}` (`filter` `"*"`, `"mutating"` or `"service:Operation"`;
  `release` `"apply"` or `"drop"`) holds the N-th matching request from now
  on that would reach moto (faults and the storm come first): its server
  thread waits, the facilities' lock not held, so every other request is
  answered meanwhile, until `POST /_bokbasen/holds/release` or 120 s. Then
  `apply` hands it to moto, which answers whoever still listens (a client
  gone is a broken pipe werkzeug ignores); `drop` resets its connection, and
  moto never sees it. `GET /_bokbasen/holds` answers `{"armed", "held",
  "operation", "seen", "at", "filter", "release", "timed_out"}`. One hold at a
  time: a new one replaces one not reached yet and is refused (409) while a
  request is held; a release before the hold is reached disarms it. Tests use
  them to kill Terraform or the provider at a chosen point.
- Credential lifetimes. `POST /_bokbasen/sts/lifetime` with JSON
  `{"seconds": N}` makes every later sts:AssumeRole answer credentials that
  expire N seconds after they are issued, as if DurationSeconds were N
  (which AWS refuses below 900); `{"seconds": null}` gives the asked
  duration again. Tests use it to watch credentials renewed before they
  expire without waiting an hour.
- Denials. `GET /_bokbasen/denials` lists every request refused when
  enforcing, oldest first: `[{"principal", "action", "resource", "reason",
  "notes"}]` (`resource` is "*" where only the action is checked);
  `DELETE /_bokbasen/denials` forgets them.

Project rule: where moto lacks an operation we need, the harness may extend
it here; the product never bends to the emulator. When moto gains an
operation, remove it from this file: the launcher refuses to start while
both exist, so a moto upgrade cannot silently keep a stale copy. Likewise,
when moto answers as AWS does, remove the correction: the launcher refuses
to start once moto's own check accepts a `CODEPIPELINE` source or artifacts
without a location, once moto's CodeBuild code mentions
`projectsNotFound`, once moto's serializer names GetBucketVersioning's root
`VersioningConfiguration`, once moto names a corrected S3 request as IAM
does, mentions s3:DeleteObjectVersion in DeleteObjects, or evaluates bucket
policies with a request context, once moto's CreateBucket reads `Tags` (its
response code or its backend's `create_bucket`), or once its DeleteBucket
touches the bucket's tags. The test facilities are installed by wrapping the
application that moto's server `main` hands to werkzeug's `run_simple`; the
launcher refuses to start if `main` no longer does so, or if werkzeug's
request handler no longer hands the application its socket
(`werkzeug.socket`) or no longer takes a ConnectionError from the application
for a dropped connection, which the `reset` mode needs.
"""

import inspect
import io
import json
import os
import random
import re
import socket
import struct
import sys
import threading
import types
import uuid
from collections import Counter
from http import HTTPStatus
from typing import Any, Callable, Iterable
from urllib.parse import parse_qs, urlparse
from xml.sax.saxutils import escape as xml_escape

import xmltodict
from werkzeug.serving import WSGIRequestHandler

from moto.codebuild import responses as codebuild_responses
from moto.codebuild.exceptions import InvalidInputException, ResourceNotFoundException
from moto.codebuild import models as codebuild_models
from moto.codebuild.models import CodeBuildBackend
from moto.codepipeline.responses import CodePipelineResponse
from moto.core.authorization import ActionAuthenticatorMixin
from moto.core.exceptions import JsonRESTError, _RESTError
from moto.core.responses import ActionResult
from moto.core.serialize import S3Serializer
from moto.core.utils import get_service_model, unix_time
from moto import server as moto_server
from moto.server import main as moto_server_main
from moto.ecr.responses import ECRResponse
from moto.iam import policy_conditions as moto_policy_conditions
from moto.iam.access_control import (
    AssumedRoleAccessKey,
    IAMPolicy,
    IAMPolicyStatement,
    IAMRequest,
    IAMRequestBase,
    PermissionResult,
    S3IAMRequest,
)
from moto.iam.exceptions import NotFoundException as IamNotFound
from moto.iam.models import iam_backends
from moto import settings as moto_settings
from moto.s3 import responses as s3_responses
from moto.s3.exceptions import DuplicateTagKeys, MalformedXML, NoSystemTags
from moto.s3.models import FakeBucket, S3Backend, s3_backends
from moto.sts.models import STSBackend
from moto.ssm.responses import SimpleSystemManagerResponse
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


_moto_create_project = codebuild_responses.CodeBuildResponse.create_project


def _response_create_project(self: codebuild_responses.CodeBuildResponse) -> ActionResult:
    answer = _moto_create_project(self)
    key = self._get_param("encryptionKey")
    if key:
        project = self.codebuild_backend.codebuild_projects[self._get_param("name")]
        project.project_metadata["encryptionKey"] = key
    return answer


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
    "create_project",
    _response_create_project,
    "encryptionKey" not in inspect.getsource(_moto_create_project),
)
_correct(
    codebuild_responses.CodeBuildResponse,
    "batch_get_projects",
    _response_batch_get_projects,
    "projectsNotFound" not in inspect.getsource(codebuild_responses) + inspect.getsource(codebuild_models),
)


# --- Enforcing IAM: corrections to moto's authorization ------------------
#
# Only in force after `POST /moto-api/reset-auth` has switched moto's
# authorization on (see the module docstring, "Corrected when enforcing").

# Sources (IAM user guide unless said):
# https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_evaluation-logic_policy-eval-denyallow.html
# https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_evaluation-logic-cross-account.html
# https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_elements_action.html (case-insensitive)
# https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_elements_principal.html
# https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_elements_condition_operators.html
# https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_condition-keys.html (aws:PrincipalArn)
# https://docs.aws.amazon.com/IAM/latest/UserGuide/troubleshoot_access-denied.html (the message)
# https://docs.aws.amazon.com/STS/latest/APIReference/API_GetCallerIdentity.html (no permission needed)
# https://docs.aws.amazon.com/systems-manager/latest/APIReference/CommonErrors.html (AccessDeniedException 400)
# https://smithy.io/2.0/aws/protocols/aws-query-protocol.html (query error shape)

# Resource ARNs as the Service Authorization Reference defines them
# (https://docs.aws.amazon.com/service-authorization/latest/reference/):
# list_awsidentityandaccessmanagementiam.html (role/${RoleNameWithPath}),
# list_awscodebuild.html (project/${ProjectName}), list_awscodepipeline.html
# (${PipelineName}), list_amazonelasticcontainerregistry.html
# (repository/${RepositoryName}), list_awssystemsmanager.html
# (parameter/${ParameterNameWithoutLeadingSlash}; DescribeParameters has no
# resource type: "*"), list_awssecuritytokenservice.html (AssumeRole: role).
_IAM_ROLE_ACTIONS = {
    "CreateRole", "GetRole", "DeleteRole", "UpdateAssumeRolePolicy", "PutRolePolicy", "GetRolePolicy",
    "DeleteRolePolicy", "ListRolePolicies", "ListAttachedRolePolicies", "AttachRolePolicy",
    "DetachRolePolicy", "TagRole", "UntagRole", "ListRoleTags",
}
_CODEBUILD_ONE = {"CreateProject", "UpdateProject", "DeleteProject"}
_CODEPIPELINE_BY_DECLARATION = {"CreatePipeline", "UpdatePipeline"}
_CODEPIPELINE_BY_NAME = {"GetPipeline", "DeletePipeline"}
_BY_RESOURCE_ARN = {"TagResource", "UntagResource", "ListTagsForResource"}
_ECR_BY_NAME = {
    "CreateRepository", "PutLifecyclePolicy", "SetRepositoryPolicy", "GetRepositoryPolicy", "DeleteRepository",
    "PutImageScanningConfiguration",
}
_SSM_ONE = {"PutParameter", "GetParameter", "DeleteParameter"}
_SSM_MANY = {"GetParameters", "DeleteParameters"}
_SSM_TAGS = {"AddTagsToResource", "ListTagsForResource", "RemoveTagsFromResource"}

# "Not known": the request's resource is not computed here, so only the
# action is checked (any statement's Resource matches).
ANY_RESOURCE = "*"


def _ssm_parameter_arn(prefix: str, name: str) -> str:
    if name.startswith("arn:"):
        return ":".join(name.split(":")[:6])  # without a :version or :label selector
    name = name.split(":", 1)[0]  # "name:3" or "name:label" selects a version of "name"
    return f"{prefix}parameter/{name.lstrip('/')}"


def _request_resources(response: Any) -> list[str]:
    """The ARNs a request acts on, as AWS authorizes it; [ANY_RESOURCE] when not computed here."""
    service, action = response.service_name, response._get_action()
    account, region = response.current_account, response.region
    partition = get_partition(region)
    param = response._get_param
    if service == "iam" and action in _IAM_ROLE_ACTIONS:
        name = param("RoleName")
        if action == "CreateRole":
            return [f"arn:{partition}:iam::{account}:role{param('Path') or '/'}{name}"]
        try:
            return [iam_backends[account][partition].get_role(name).arn]
        except IamNotFound:
            return [f"arn:{partition}:iam::{account}:role/{name}"]
    if service == "sts" and action == "AssumeRole":
        return [param("RoleArn")]
    prefix = f"arn:{partition}:{service}:{region}:{account}:"
    if service == "codebuild" and action in _CODEBUILD_ONE:
        return [f"{prefix}project/{param('name')}"]
    if service == "codebuild" and action == "BatchGetProjects":
        return [n if n.startswith("arn:") else f"{prefix}project/{n}" for n in param("names") or []]
    if service == "codepipeline" and action in _CODEPIPELINE_BY_DECLARATION:
        return [f"{prefix}{(param('pipeline') or {}).get('name')}"]
    if service == "codepipeline" and action in _CODEPIPELINE_BY_NAME:
        return [f"{prefix}{param('name')}"]
    if service in ("codepipeline", "ecr") and action in _BY_RESOURCE_ARN:
        return [param("resourceArn")]
    if service == "ecr" and action in _ECR_BY_NAME:
        return [f"{prefix}repository/{param('repositoryName')}"]
    if service == "ecr" and action == "DescribeRepositories":
        return [f"{prefix}repository/{n}" for n in param("repositoryNames") or ["*"]]
    if service == "ssm" and action in _SSM_ONE:
        return [_ssm_parameter_arn(prefix, param("Name"))]
    if service == "ssm" and action in _SSM_MANY:
        return [_ssm_parameter_arn(prefix, n) for n in param("Names") or []]
    if service == "ssm" and action == "GetParametersByPath":
        return [_ssm_parameter_arn(prefix, param("Path"))]
    if service == "ssm" and action in _SSM_TAGS and param("ResourceType") == "Parameter":
        return [_ssm_parameter_arn(prefix, param("ResourceId"))]
    return [ANY_RESOURCE]


def _glob(pattern: str, value: str, ignore_case: bool = False) -> bool:
    """IAM's wildcards: * any run of characters, ? one character; nothing else is special."""
    regex = "".join(".*" if c == "*" else "." if c == "?" else re.escape(c) for c in pattern)
    return re.fullmatch(regex, value, re.IGNORECASE | re.DOTALL if ignore_case else re.DOTALL) is not None


def _arn_like(pattern: str, value: str) -> bool:
    # Each of the six colon-delimited parts is matched on its own.
    patterns, values = pattern.split(":", 5), value.split(":", 5)
    return len(patterns) == len(values) == 6 and all(_glob(p, v) for p, v in zip(patterns, values))


def _as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


_MATCHERS: dict[str, Callable[[str, str], bool]] = {
    "StringEquals": lambda expected, actual: expected == actual,
    "StringEqualsIgnoreCase": lambda expected, actual: expected.lower() == actual.lower(),
    "StringLike": _glob,
    "ArnEquals": _arn_like,
    "ArnLike": _arn_like,
    "Bool": lambda expected, actual: str(expected).lower() == str(actual).lower(),
}
_NEGATED = {
    "StringNotEquals": "StringEquals",
    "StringNotEqualsIgnoreCase": "StringEqualsIgnoreCase",
    "StringNotLike": "StringLike",
    "ArnNotEquals": "ArnEquals",
    "ArnNotLike": "ArnLike",
}


class _Unsupported(Exception):
    pass


def _condition_holds(operator: str, key: str, expected: Any, context: dict[str, str]) -> bool:
    """One operator on one key; missing keys per the condition operators page."""
    if operator.startswith(("ForAnyValue:", "ForAllValues:")):
        qualifier, operator = operator.split(":", 1)
        if key not in context:
            return qualifier == "ForAllValues"  # holds for an absent key
    if operator == "Null":
        return (key not in context) == (str(_as_list(expected)[0]).lower() == "true")
    if_exists = operator.endswith("IfExists")
    base = operator[: -len("IfExists")] if if_exists else operator
    negated = base in _NEGATED
    matcher = _MATCHERS.get(_NEGATED.get(base, base))
    if matcher is None:
        raise _Unsupported(operator)
    if key not in context:
        return if_exists or negated
    matched = any(matcher(str(value), context[key]) for value in _as_list(expected))
    return not matched if negated else matched


def _principal_match(statement: dict[str, Any], caller: dict[str, str]) -> str | None:
    """How a statement's Principal names the caller: "specific", "account", "any", or None."""
    principal = statement.get("Principal")
    if principal == "*":
        return "any"
    if not isinstance(principal, dict):
        return None
    found = None
    for value in _as_list(principal.get("AWS", [])):
        if value == "*":
            found = found or "any"
        elif value in (caller["account"], f"arn:{caller['partition']}:iam::{caller['account']}:root"):
            found = "account" if found != "specific" else found
        elif value in (caller["principal_arn"], caller["arn"]):
            found = "specific"
    return found


def _statement_applies(
    statement: dict[str, Any], action: str, resource: str, caller: dict[str, str], trust: bool, notes: list[str]
) -> tuple[bool, str | None]:
    if "NotAction" in statement:
        if any(_glob(p, action, ignore_case=True) for p in _as_list(statement["NotAction"])):
            return False, None
    elif not any(_glob(p, action, ignore_case=True) for p in _as_list(statement.get("Action", []))):
        return False, None
    if resource != ANY_RESOURCE:
        if "NotResource" in statement:
            if any(_glob(p, resource) for p in _as_list(statement["NotResource"])):
                return False, None
        elif "Resource" in statement and not any(_glob(p, resource) for p in _as_list(statement["Resource"])):
            return False, None
    named = None
    if trust:
        named = _principal_match(statement, caller)
        if named is None:
            return False, None
    deny = statement.get("Effect") == "Deny"
    for operator, keys in (statement.get("Condition") or {}).items():
        for key, expected in keys.items():
            try:
                holds = _condition_holds(operator, key, expected, caller["context"])
            except _Unsupported:
                notes.append(f"condition operator {operator} is not evaluated by the local endpoint")
                holds = deny  # fail closed: an Allow does not apply, a Deny does
            if not holds:
                return False, None
    return True, named


def _evaluate(
    documents: list[dict[str, Any]], action: str, resource: str, caller: dict[str, str], trust: bool, notes: list[str]
) -> tuple[str | None, str | None]:
    """("Deny" | "Allow" | None, how the allowing statement named the principal)."""
    decision, named = None, None
    for document in documents:
        for statement in _as_list(document.get("Statement", [])):
            applies, how = _statement_applies(statement, action, resource, caller, trust, notes)
            if not applies:
                continue
            if statement.get("Effect") == "Deny":
                return "Deny", None
            if statement.get("Effect") == "Allow":
                decision = "Allow"
                named = how if named != "specific" else named
    return decision, named


_denials: list[dict[str, str]] = []
_denials_lock = threading.Lock()


def _caller(request: IAMRequestBase) -> dict[str, str]:
    key, partition = request._access_key, request._access_key.partition
    arn = key.arn
    if isinstance(key, AssumedRoleAccessKey):
        try:
            principal_arn = iam_backends[key.account_id][partition].get_role(key._owner_role_name).arn
        except IamNotFound:
            principal_arn = f"arn:{partition}:iam::{key.account_id}:role/{key._owner_role_name}"
    else:
        principal_arn = arn
    context = {
        "aws:PrincipalArn": principal_arn,
        "aws:PrincipalAccount": key.account_id,
        "aws:RequestedRegion": request._region,
        # The endpoint stands in for AWS's HTTPS endpoints, which the SDKs
        # reach over TLS only: see the module docstring.
        "aws:SecureTransport": "true",
    }
    if request._action == "sts:AssumeRole":
        external_id = request._data.get("ExternalId") if isinstance(request._data, dict) else None
        if isinstance(external_id, list):
            external_id = external_id[0] if external_id else None
        if external_id is not None:
            context["sts:ExternalId"] = external_id
    return {"arn": arn, "principal_arn": principal_arn, "account": key.account_id, "partition": partition, "context": context}


def _bucket_of(action: str, resource: str) -> tuple[str, bytes | None] | None:
    """(owner account, policy) of the existing bucket an S3 request acts on, else None.

    CreateBucket acts on a bucket not yet made, so no bucket policy applies to it.
    """
    if not action.lower().startswith("s3:") or action.lower() == "s3:createbucket":
        return None
    parts = resource.split(":", 5)
    if len(parts) != 6 or parts[2] != "s3" or not parts[5] or parts[5] == "*":
        return None
    name = parts[5].split("/", 1)[0]
    found = s3_backends.bucket_accounts.get(name)
    if found is None:
        return None
    partition, account = found
    bucket = s3_backends[account][partition].buckets.get(name)
    return (account, bucket.policy) if bucket is not None else None


def _decide(request: IAMRequestBase, resource: str, action: str | None = None) -> tuple[bool, str, list[str]]:
    """(allowed, why not, notes) for one resource of the request (its own action unless given)."""
    action, notes = action or request._action, []
    caller = _caller(request)
    bucket = _bucket_of(action, resource)
    if bucket is not None:
        caller["context"]["s3:ResourceAccount"] = bucket[0]
    identity = [IAMPolicy(policy)._policy_json for policy in request._access_key.collect_policies()]
    decision, _ = _evaluate(identity, action, resource, caller, False, notes)
    if decision == "Deny":
        return False, "with an explicit deny in an identity-based policy", notes
    if bucket is not None:
        owner, policy = bucket
        granted, named = (None, None)
        if policy:
            granted, named = _evaluate([json.loads(policy)], action, resource, caller, True, notes)
        if granted == "Deny":
            return False, "with an explicit deny in a resource-based policy", notes
        if owner != caller["account"]:
            # Another account's bucket: its policy and the caller's identity
            # policy must both allow.
            if granted is None:
                return False, f"because no resource-based policy allows the {action} action", notes
            if decision is None:
                return False, f"because no identity-based policy allows the {action} action", notes
            return True, "", notes
        # The caller's own account: either allows, but a bucket policy naming
        # only the account delegates to the identity policies.
        if granted == "Allow" and named in ("specific", "any"):
            return True, "", notes
    if action.lower() == "sts:assumerole":
        role = None
        parts = resource.split(":")
        if len(parts) == 6 and parts[2] == "iam":
            try:
                role = iam_backends[parts[4]][caller["partition"]].get_role_by_arn(resource)
            except IamNotFound:
                pass
        if role is None:
            return False, "because the role does not exist", notes
        trusted, named = _evaluate([json.loads(role.assume_role_policy_document)], action, resource, caller, True, notes)
        if trusted == "Deny":
            return False, "with an explicit deny in the role's trust policy", notes
        if trusted is None:
            return False, "because the role's trust policy does not allow it", notes
        # A trust policy naming the caller itself, in the caller's own account,
        # grants on its own; one naming an account delegates to that account's
        # identity policies, and another account always needs both.
        if named == "specific" and parts[4] == caller["account"]:
            return True, "", notes
    if decision == "Allow":
        return True, "", notes
    return False, f"because no identity-based policy allows the {action} action", notes


class _JsonError(JsonRESTError):
    """An error in the AWS JSON protocols' shape ({"__type", "message"})."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(code, message)
        self.code = status


class _QueryError(_RESTError):
    """An error in the query protocol's shape, as IAM and STS answer it."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(code, message)
        self.code = status
        self.description = (
            f"<ErrorResponse><Error><Type>Sender</Type><Code>{xml_escape(code)}</Code>"
            f"<Message>{xml_escape(message)}</Message></Error>"
            f"<RequestId>{uuid.uuid4()}</RequestId></ErrorResponse>"
        )


def _refuse(request: IAMRequestBase, status: int, code: str, message: str) -> None:
    if request._headers.get("X-Amz-Target"):
        raise _JsonError(status, code, message)
    raise _QueryError(status, code, message)


def _authorize(request: IAMRequestBase, resource: str, action: str | None = None) -> str | None:
    """None when allowed; else the refusal's message, the denial recorded."""
    action = action or request._action
    allowed, why, notes = _decide(request, resource, action)
    if allowed:
        return None
    principal = request._access_key.arn
    with _denials_lock:
        _denials.append({"principal": principal, "action": action, "resource": resource, "reason": why, "notes": notes})
    on = f" on resource: {resource}" if resource != ANY_RESOURCE else ""
    message = f"User: {principal} is not authorized to perform: {action}{on} {why}"
    if notes:
        message += f" ({'; '.join(notes)})"
    return message


def _check_action_permitted(self: IAMRequestBase, resource: Any) -> None:
    if self._action == "sts:GetCallerIdentity":
        return  # needs no permission, and an explicit deny does not stop it (STS API reference)
    resources = resource if isinstance(resource, list) else [resource]
    for each in resources or [ANY_RESOURCE]:
        message = _authorize(self, each)
        if message is None:
            continue
        if isinstance(self, S3IAMRequest):
            self._raise_access_denied()  # S3's own error, as moto has it
        if self._headers.get("X-Amz-Target"):
            _refuse(self, 400, "AccessDeniedException", message)
        _refuse(self, 403, "AccessDenied", message)


_moto_invalid_access_key = IAMRequest._raise_invalid_access_key
_moto_signature_does_not_match = IAMRequest._raise_signature_does_not_match


def _raise_invalid_access_key(self: IAMRequest, reason: str) -> None:
    if self._service == "ec2":
        _moto_invalid_access_key(self, reason)
    _refuse(self, 403, "InvalidClientTokenId", "The security token included in the request is invalid.")


def _raise_signature_does_not_match(self: IAMRequest) -> None:
    if self._service == "ec2":
        _moto_signature_does_not_match(self)
    _refuse(
        self, 403, "SignatureDoesNotMatch", "The request signature we calculated does not match the signature you provided."
    )


_moto_authorize_normal_action = ActionAuthenticatorMixin._authenticate_and_authorize_normal_action


def _authorize_normal_action(self: Any, resource: str = "*") -> None:
    if ActionAuthenticatorMixin.request_count < moto_settings.INITIAL_NO_AUTH_ACTION_COUNT:
        return _moto_authorize_normal_action(self, resource)
    try:
        resources = _request_resources(self)
    except Exception:  # a malformed request: moto answers it after the check
        resources = [ANY_RESOURCE]
    self._authenticate_and_authorize_action(IAMRequest, resources)


def _moto_statement_permits(statement: dict[str, Any], principal: str | None = None, resource: str = "*") -> bool:
    result = IAMPolicyStatement(statement).is_action_permitted("sts:AssumeRole", resource, principal, {})
    return result == PermissionResult.PERMITTED


_ROOT_TRUST = {"Effect": "Allow", "Action": "sts:AssumeRole", "Principal": {"AWS": "arn:aws:iam::111122223333:root"}}
_correct(
    ActionAuthenticatorMixin,
    "_authenticate_and_authorize_normal_action",
    _authorize_normal_action,
    # moto computes no resource for these services' requests.
    not any(
        hasattr(cls, "_determine_resource")
        for cls in (codebuild_responses.CodeBuildResponse, CodePipelineResponse, ECRResponse, SimpleSystemManagerResponse)
    ),
)
_correct(
    IAMRequestBase,
    "check_action_permitted",
    _check_action_permitted,
    # moto compares a trust policy's principals with the caller literally,
    # and has no ArnLike.
    not _moto_statement_permits(_ROOT_TRUST, "arn:aws:sts::111122223333:assumed-role/r/s")
    or "ArnLike" not in moto_policy_conditions.CONDITION_OPERATIONS,
)
_correct(IAMRequest, "_raise_invalid_access_key", _raise_invalid_access_key, "InvalidClientTokenIdError()" in inspect.getsource(IAMRequest._raise_invalid_access_key))
_correct(IAMRequest, "_raise_signature_does_not_match", _raise_signature_does_not_match, "SignatureDoesNotMatchError()" in inspect.getsource(IAMRequest._raise_signature_does_not_match))


# --- S3: IAM's action names, DeleteObjects per object, bucket policies ----
#
# Sources: Amazon S3 API reference, each operation's "Permissions"
# (HeadBucket: s3:ListBucket; Get/Put/DeletePublicAccessBlock:
# s3:GetBucketPublicAccessBlock / s3:PutBucketPublicAccessBlock;
# Get/Put/DeleteBucketEncryption: s3:GetEncryptionConfiguration /
# s3:PutEncryptionConfiguration; DeleteObjects: s3:DeleteObject per key, and
# s3:DeleteObjectVersion for a key given with a VersionId; GetBucketVersioning's
# response root <VersioningConfiguration>); Service Authorization Reference,
# list_amazons3.html (the action names, s3:ResourceAccount); IAM user guide,
# "Cross-account policy evaluation logic" and "Policy evaluation for requests
# within a single account"; S3 user guide, "Protecting data in transit with
# encryption" (S3 answers HTTP and HTTPS, the SDKs use HTTPS;
# aws:SecureTransport tells them apart).

# Bucket requests moto names by something other than IAM's action, by
# (method, subresource in the query; None for the bare bucket).
_S3_BUCKET_ACTIONS = {
    ("HEAD", None): "s3:ListBucket",
    ("GET", "publicAccessBlock"): "s3:GetBucketPublicAccessBlock",
    ("PUT", "publicAccessBlock"): "s3:PutBucketPublicAccessBlock",
    ("DELETE", "publicAccessBlock"): "s3:PutBucketPublicAccessBlock",
    ("GET", "encryption"): "s3:GetEncryptionConfiguration",
    ("PUT", "encryption"): "s3:PutEncryptionConfiguration",
    ("DELETE", "encryption"): "s3:PutEncryptionConfiguration",
}


def _enforcing() -> bool:
    return ActionAuthenticatorMixin.request_count >= moto_settings.INITIAL_NO_AUTH_ACTION_COUNT


def _moto_s3_action(method: str, subresource: str | None) -> str:
    """The action moto authorizes a bucket request by."""

    probe = types.SimpleNamespace(data={})
    query = {subresource: [""]} if subresource else {}
    s3_responses.S3Response._set_action(probe, "BUCKET", method, query)  # type: ignore[arg-type]
    return f"s3:{probe.data['Action']}"


def _s3_bucket_action(response: Any) -> str | None:
    """IAM's action for a bucket request moto misnames, else None (moto's name is IAM's)."""
    query = parse_qs(urlparse(response.uri).query, keep_blank_values=True)
    for (method, subresource), action in _S3_BUCKET_ACTIONS.items():
        if response.method == method and (subresource is None or subresource in query):
            return action
    return None


def _s3_request(response: Any) -> S3IAMRequest:
    """The request as moto's authorization sees it (its signature and keys checked when made)."""
    path = response.raw_path
    query = urlparse(response.uri).query
    if query:
        path += "?" + query
    return S3IAMRequest(
        account_id=response.current_account,
        method=response.method,
        path=path,
        data=response.data,
        body=response.raw_body,
        headers=response.headers,
        action=response._get_action(),
    )


_moto_authorize_s3_action = ActionAuthenticatorMixin._authenticate_and_authorize_s3_action


def _authorize_s3_action(self: Any, bucket_name: str | None = None, key_name: str | None = None) -> None:
    if not _enforcing():
        return _moto_authorize_s3_action(self, bucket_name, key_name)
    if bucket_name and not key_name and self.method == "POST" and self.is_delete_keys():
        # DeleteObjects has no action of its own: each key is authorized in
        # _response_delete_objects. Here the caller is only authenticated.
        _s3_request(self).check_signature()
        return None
    action = None if key_name else _s3_bucket_action(self)
    if action is None:
        _moto_authorize_s3_action(self, bucket_name, key_name)
        if bucket_name and not key_name and _creates_bucket(self) and _creation_tags(self.body):
            # A bucket created with tags: s3:TagResource on it too (see _creation_tags).
            request = _s3_request(self)
            resource = f"arn:{get_partition(self.region)}:s3:::{bucket_name}"
            if _authorize(request, resource, "s3:TagResource") is not None:
                request._raise_access_denied()  # S3's own error, as moto has it
        return None
    # moto reads the action from its request data, which also picks the
    # answer's serializer: IAM's name only for the check.
    moto_action = self.data.get("Action")
    self.data["Action"] = action.split(":", 1)[1]
    try:
        return _moto_authorize_s3_action(self, bucket_name, key_name)
    finally:
        self.data["Action"] = moto_action


_moto_delete_objects = s3_responses.S3Response._bucket_response_delete_keys


def _response_delete_objects(self: Any, bucket_name: str, authenticated: bool = True) -> Any:
    if not _enforcing() or not authenticated:
        return _moto_delete_objects(self, bucket_name, authenticated)
    objects = xmltodict.parse(self.body, strip_whitespace=False)["Delete"].get("Object", [])
    objects = _as_list(objects)
    if not objects:
        raise MalformedXML()
    request = _s3_request(self)
    partition = get_partition(self.region)
    allowed, errors = [], []
    for obj in objects:
        action = "s3:DeleteObjectVersion" if obj.get("VersionId") else "s3:DeleteObject"
        if _authorize(request, f"arn:{partition}:s3:::{bucket_name}/{obj['Key']}", action) is None:
            allowed.append(obj)
        else:
            errors.append({"Key": obj["Key"], "VersionId": obj.get("VersionId"), "Code": "AccessDenied", "Message": "Access Denied"})
    bypass = self.headers.get("x-amz-bypass-governance-retention", "").lower() == "true"
    deleted, locked = self.backend.delete_objects(bucket_name, allowed, bypass) if allowed else ([], [])
    for key in locked:
        errors.append({"Key": key, "Code": "AccessDenied", "Message": "Access Denied because object protected by object lock."})
    self.data["Action"] = "DeleteObjects"
    return self.serialized(
        ActionResult(
            {
                "Deleted": [
                    {"Key": k, "VersionId": v or None, "DeleteMarkerVersionId": dv or None, "DeleteMarker": True if dv else None}
                    for k, v, dv in deleted
                ],
                "Errors": errors,
            }
        )
    )


def _bucket_permission(self: FakeBucket, action: str, resource: str) -> Any:
    # Bucket policies are part of the request's authorization when enforcing
    # (_decide), with the request's context; until then nothing is checked.
    return PermissionResult.NEUTRAL


def _response_get_bucket_versioning(self: Any) -> Any:
    versioning = self.backend.get_bucket_versioning(self.bucket_name)
    status = f"<Status>{xml_escape(versioning)}</Status>" if versioning else ""
    body = (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        f'<VersioningConfiguration xmlns="http://s3.amazonaws.com/doc/2006-03-01/">{status}</VersioningConfiguration>'
    )
    return 200, {**self.response_headers, "Content-Type": "application/xml"}, body


# --- S3: a bucket created with tags; a deleted bucket's tags --------------
#
# Sources: Amazon S3 API reference, CreateBucketConfiguration
# (https://docs.aws.amazon.com/AmazonS3/latest/API/API_CreateBucketConfiguration.html),
# "Tags": the tags applied to the general purpose bucket being created, which
# then needs the s3:TagResource permission besides s3:CreateBucket; Amazon S3
# user guide, "Creating general purpose buckets with tags"
# (https://docs.aws.amazon.com/AmazonS3/latest/userguide/bucket-create-tag.html):
# both permissions. The tags are the bucket's tag set, as GetBucketTagging
# answers it and PutBucketTagging would set it, checked as PutBucketTagging
# checks them (S3 API reference, PutBucketTagging: InvalidTag for a duplicate
# key or a key starting with `aws:`). S3 API reference, DeleteBucket: the bucket
# is deleted; a bucket made later under the name is a new bucket, and its tag
# set is only what its own creation and tagging give it.


def _creates_bucket(response: Any) -> bool:
    """Whether an S3 bucket request is CreateBucket: PUT on the bucket, no subresource."""
    query = parse_qs(urlparse(response.uri).query, keep_blank_values=True)
    return response.method == "PUT" and not set(query) - {"x-id"}


def _creation_tags(body: Any) -> list[dict[str, Any]]:
    """The `Tags` of a CreateBucket body's CreateBucketConfiguration, as given
    (empty when none, or when the body is not such XML: moto answers that)."""
    try:
        configuration = xmltodict.parse(body)["CreateBucketConfiguration"]
        tags = (configuration.get("Tags") or {}).get("Tag") or []
    except Exception:
        return []
    return [tag for tag in _as_list(tags) if isinstance(tag, dict)]


_moto_bucket_response_put = s3_responses.S3Response._bucket_response_put


def _response_bucket_put(self: Any, request: Any, bucket_name: str, querystring: dict[str, Any]) -> Any:
    given = _creation_tags(self.body) if _creates_bucket(self) else []
    tags: dict[str, str] = {}
    for tag in given:
        key, value = tag.get("Key") or "", tag.get("Value") or ""
        if key in tags:
            raise DuplicateTagKeys()
        if key.startswith("aws:"):
            raise NoSystemTags()
        tags[key] = value
    existed = bucket_name in s3_backends.bucket_accounts
    answer = _moto_bucket_response_put(self, request, bucket_name, querystring)
    # Only a bucket this request made gets them (moto answers us-east-1's
    # CreateBucket of one's own bucket with success and changes nothing).
    if tags and not existed:
        self.backend.put_bucket_tagging(bucket_name, tags)
    return answer


def _moto_reads_creation_tags() -> bool:
    """Whether moto's CreateBucket reads `Tags` itself."""
    read = inspect.getsource(s3_responses.S3Response._get_location_constraint) + inspect.getsource(
        _moto_bucket_response_put
    )
    return re.search(r"""\[["']Tags["']\]|get\(["']Tags["']""", read) is not None or (
        "tags" in inspect.signature(S3Backend.create_bucket).parameters
    )


_moto_delete_bucket = S3Backend.delete_bucket


def _backend_delete_bucket(self: S3Backend, bucket_name: str) -> Any:
    removed = _moto_delete_bucket(self, bucket_name)
    if removed is not None:
        # moto keeps tags by the bucket's ARN, which the next bucket of the name shares.
        self.tagger.delete_all_tags_for_resource(removed.arn)
    return removed


def _moto_versioning_root() -> str:
    model = get_service_model("s3").operation_model("GetBucketVersioning")
    body = S3Serializer(model).serialize({"Status": "Enabled"})["body"]
    return re.search(r"<(\w+)[ >]", body.split("?>", 1)[-1]).group(1)  # type: ignore[union-attr]


for (_method, _subresource), _action in _S3_BUCKET_ACTIONS.items():
    if _moto_s3_action(_method, _subresource) == _action:
        sys.exit(
            f"moto now authorizes S3 {_method} ?{_subresource or ''} as {_action}: "
            f"remove it from _S3_BUCKET_ACTIONS in {__file__}"
        )
_correct(ActionAuthenticatorMixin, "_authenticate_and_authorize_s3_action", _authorize_s3_action, True)
_correct(
    s3_responses.S3Response,
    "_bucket_response_delete_keys",
    _response_delete_objects,
    # moto checks every key as s3:DeleteObject, against the bucket policy only.
    "DeleteObjectVersion" not in inspect.getsource(_moto_delete_objects),
)
_correct(
    FakeBucket,
    "get_permission",
    _bucket_permission,
    # moto evaluates a bucket policy with no request context.
    list(inspect.signature(FakeBucket.get_permission).parameters) == ["self", "action", "resource"],
)
_correct(
    s3_responses.S3Response,
    "get_bucket_versioning",
    _response_get_bucket_versioning,
    _moto_versioning_root() != "VersioningConfiguration",
)
_correct(s3_responses.S3Response, "_bucket_response_put", _response_bucket_put, not _moto_reads_creation_tags())
_correct(
    S3Backend,
    "delete_bucket",
    _backend_delete_bucket,
    # moto deletes the bucket and leaves its tags to the tagger, by ARN.
    "tagger" not in inspect.getsource(_moto_delete_bucket),
)

# --- Test facilities: call counting, faults, storms and holds --------------

_PREFIX = "/_bokbasen/"
_NOT_COUNTED = (_PREFIX, "/moto-api/")
_CREDENTIAL = re.compile(r"Credential=([^,\s]+)")

StartResponse = Callable[..., Any]
Wsgi = Callable[[dict[str, Any], StartResponse], Iterable[bytes]]

# Which requests change state ("mutating"), the one rule faults, holds and
# `/_bokbasen/calls/mutating` share. An operation named by AWS (JSON and query
# protocols) is mutating when its name starts with one of these verbs followed
# by the next word (or nothing), optionally after `Batch` (BatchDeleteImage,
# BatchDeleteBuilds; BatchGetProjects is not). The verbs are those AWS APIs use
# for calls that create, change or remove something, or start or stop work.
# Left out on purpose: Get, List, Describe, Head, Batch Get, and calls that
# change no resource: sts:AssumeRole and GetCallerIdentity (credentials only),
# KMS Encrypt/Decrypt/GenerateDataKey (cryptography only), Simulate*, Poll*.
_MUTATING_VERBS = (
    "Create", "Put", "Update", "Modify", "Delete", "Attach", "Detach", "Associate", "Disassociate",
    "Tag", "Untag", "Set", "Schedule", "Cancel", "Enable", "Disable", "Add", "Remove", "Register",
    "Deregister", "Start", "Stop", "Upload", "Import", "Restore", "Revoke", "Rotate", "Reset", "Change",
    "Replicate", "Retry", "Rollback", "Override", "Acknowledge", "Initiate", "Complete", "Invalidate",
    "Label", "Unlabel", "Send", "Terminate",
)  # fmt: skip
_MUTATING_OPERATION = re.compile(r"^(?:Batch)?(?:" + "|".join(_MUTATING_VERBS) + r")(?=[A-Z0-9]|$)")
# REST protocols (S3) name no operation: the method tells (RFC 9110 9.2.1: GET
# and HEAD are safe; S3 creates, changes and deletes by PUT, POST and DELETE).
_MUTATING_METHODS = frozenset({"PUT", "POST", "DELETE", "PATCH"})


def _is_mutating(name: str) -> bool:
    """Whether `service:Operation` (as counted) changes state: see above."""
    operation = name.split(":", 1)[-1]
    if " " in operation:  # REST: "METHOD /path"
        return operation.split(" ", 1)[0].upper() in _MUTATING_METHODS
    return _MUTATING_OPERATION.match(operation) is not None


# What a fault or hold applies to: "*" (every counted request), "mutating"
# (_is_mutating) or one "service:Operation".
_ANY, _MUTATING = "*", "mutating"


def _matches(request_filter: str, name: str) -> bool:
    if request_filter == _ANY:
        return True
    if request_filter == _MUTATING:
        return _is_mutating(name)
    return request_filter == name


def _check_filter(value: Any, field: str) -> str:
    if not isinstance(value, str) or not (value in (_ANY, _MUTATING) or ":" in value):
        raise ValueError(f'"{field}" must be "*", "mutating" or "service:Operation"')
    return value


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


def _read_json(environ: dict[str, Any]) -> dict[str, Any]:
    try:
        given = json.loads(_read_body(environ) or b"{}")
    except ValueError as error:
        raise ValueError(f"the body is not JSON: {error}") from None
    if not isinstance(given, dict):
        raise ValueError("the body is not a JSON object")
    return given


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


def _protocol(environ: dict[str, Any], name: str) -> str:
    """The request's AWS protocol, which decides the shape of its errors."""
    if environ.get("HTTP_X_AMZ_TARGET"):
        return "json"  # awsJson1_0/1_1: CodeBuild, CodePipeline, ECR, SSM, KMS
    service, operation = name.split(":", 1)
    if " " not in operation:
        return "query"  # named by Action: IAM, STS
    return "s3" if service == "s3" else "rest-json"


def _error_response(
    environ: dict[str, Any], start_response: StartResponse, name: str, status: int, code: str, message: str
) -> list[bytes]:
    """An AWS error in the shape of the request's protocol, so the SDKs read
    it as that service's error with that code."""
    request_id = str(uuid.uuid4())
    protocol = _protocol(environ, name)
    if protocol in ("json", "rest-json"):
        # Smithy awsJson1_x / restJson1 error serialization: `__type` and the
        # x-amzn-ErrorType header.
        content_type = environ.get("CONTENT_TYPE", "")
        if protocol == "rest-json":
            content_type = "application/json"
        elif not content_type.startswith("application/x-amz-json"):
            content_type = "application/x-amz-json-1.1"
        body = json.dumps({"__type": code, "message": message}).encode("utf-8")
        headers = [("Content-Type", content_type), ("x-amzn-ErrorType", code), ("x-amzn-RequestId", request_id)]
    elif protocol == "s3":
        # S3 API reference, "Error responses" (REST error responses): a bare
        # <Error> root, as the SDKs' S3 parsers expect (no <ErrorResponse>).
        body = (
            '<?xml version="1.0" encoding="UTF-8"?>\n'
            f"<Error><Code>{xml_escape(code)}</Code><Message>{xml_escape(message)}</Message>"
            f"<RequestId>{request_id}</RequestId></Error>"
        ).encode("utf-8")
        headers = [("Content-Type", "application/xml"), ("x-amz-request-id", request_id)]
    else:
        # Smithy awsQuery protocol, operation error serialization.
        kind = "Sender" if status < 500 else "Receiver"
        body = (
            f"<ErrorResponse><Error><Type>{kind}</Type><Code>{xml_escape(code)}</Code>"
            f"<Message>{xml_escape(message)}</Message></Error>"
            f"<RequestId>{request_id}</RequestId></ErrorResponse>"
        ).encode("utf-8")
        headers = [("Content-Type", "text/xml"), ("x-amzn-RequestId", request_id)]
    return _respond(start_response, status, body, headers)


def _reset_connection(environ: dict[str, Any]) -> list[bytes]:
    """Resets the request's TCP connection (RST, no response byte) and ends
    the request without writing.

    Closing a TCP socket whose SO_LINGER is on with a zero timeout aborts the
    connection: the kernel sends RST instead of FIN (socket(7), SO_LINGER;
    tcp(7)). But werkzeug's handler owns the socket and its buffered reader,
    and Python only really closes a socket once those let go of it; a plain
    shutdown() sends FIN, which clients see as a clean close ("Remote end
    closed connection without response"), not a reset. So the connection's
    file descriptor is replaced in place (dup2) by one end of a socketpair
    whose other end is closed: dup2 closes the last descriptor of the TCP
    socket (so the RST goes out now), and whatever werkzeug does with its
    socket afterwards reads end-of-file or fails with a broken pipe, both of
    which it takes for a client that went away, writing nothing. Raising
    ConnectionResetError then makes werkzeug's run_wsgi call
    `connection_dropped` instead of answering 500.
    """
    connection = environ.get("werkzeug.socket")
    if not isinstance(connection, socket.socket):
        raise RuntimeError("werkzeug no longer hands the request's socket to the application (werkzeug.socket)")
    connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    spare, gone = socket.socketpair()
    gone.close()
    try:
        os.dup2(spare.fileno(), connection.fileno())
    finally:
        spare.close()
    raise ConnectionResetError("bokbasen test facilities: connection reset on purpose")


def _parse_fault(given: dict[str, Any]) -> dict[str, Any]:
    operation, status, code = given.get("operation"), given.get("status"), given.get("code")
    message, times, skip = given.get("message", ""), given.get("times"), given.get("skip", 0)
    _check_filter(operation, "operation")
    if not isinstance(status, int) or isinstance(status, bool) or not 400 <= status <= 599:
        raise ValueError('"status" must be an HTTP error status (400-599)')
    if not isinstance(code, str) or not code:
        raise ValueError('"code" must be a non-empty string')
    if not isinstance(message, str):
        raise ValueError('"message" must be a string')
    if times is not None and (not isinstance(times, int) or isinstance(times, bool) or times < 1):
        raise ValueError('"times" must be a positive integer, or left out for every matching request')
    if not isinstance(skip, int) or isinstance(skip, bool) or skip < 0:
        raise ValueError('"skip" must be a non-negative integer')
    return {"operation": operation, "status": status, "code": code, "message": message, "times": times, "skip": skip}


# --- Storms ------------------------------------------------------------------
#
# The error each mode answers, by protocol: (HTTP status, code, message).
# Sources:
# - Throttling. IAM and STS (query protocol) answer `Throttling`, HTTP 400,
#   "Rate exceeded" (AWS re:Post knowledge center, "How can I resolve API
#   throttling or 'Rate exceeded' errors for IAM and AWS STS?",
#   https://repost.aws/knowledge-center/iam-sts-throttling-error). The JSON
#   services answer `ThrottlingException`, HTTP 400 (e.g. Systems Manager and
#   CodeBuild API references, "Common Errors"). S3 answers `SlowDown`, HTTP
#   503, "Please reduce your request rate." (S3 API reference, "Error
#   responses", list of error codes). All three are in the throttling codes
#   the AWS SDK for Rust retries as throttling (smithy-lang/smithy-rs,
#   aws/rust-runtime/aws-runtime/src/retries/classifiers.rs,
#   `THROTTLING_ERRORS`; botocore's standard retry mode has the same codes).
# - Internal. `InternalFailure`, HTTP 500, "The request processing has failed
#   because of an unknown error, exception or failure" is the common error of
#   every query and JSON service (IAM, SSM, CodeBuild ... API references,
#   "Common Errors"); S3 answers `InternalError`, HTTP 500 (S3 API reference,
#   "Error responses"; S3 user guide, "Amazon S3 error best practices").
# - Unavailable. `ServiceUnavailable`, HTTP 503 ("Common Errors"; S3 "Error
#   responses": "Reduce your request rate", 503 ServiceUnavailable).
_STORM_MODES = ("throttling", "internal", "unavailable", "reset")
_STORM_ERRORS: dict[str, dict[str, tuple[int, str, str]]] = {
    "throttling": {
        "query": (400, "Throttling", "Rate exceeded"),
        "json": (400, "ThrottlingException", "Rate exceeded"),
        "rest-json": (400, "ThrottlingException", "Rate exceeded"),
        "s3": (503, "SlowDown", "Please reduce your request rate."),
    },
    "internal": {
        "query": (500, "InternalFailure", "The request processing has failed because of an unknown error."),
        "json": (500, "InternalFailure", "The request processing has failed because of an unknown error."),
        "rest-json": (500, "InternalFailure", "The request processing has failed because of an unknown error."),
        "s3": (500, "InternalError", "We encountered an internal error. Please try again."),
    },
    "unavailable": {
        protocol: (503, "ServiceUnavailable", "Service is unable to handle request.")
        for protocol in ("query", "json", "rest-json", "s3")
    },
}


class _Storm:
    """Faults at a rate: see the module docstring. Drawn under the
    facilities' lock, so one seed gives one sequence for one request order."""

    def __init__(self, given: dict[str, Any]) -> None:
        rate, seed = given.get("rate"), given.get("seed", 0)
        modes, services = given.get("modes", list(_STORM_MODES)), given.get("services")
        if not isinstance(rate, (int, float)) or isinstance(rate, bool) or not 0 <= rate <= 1:
            raise ValueError('"rate" must be a number from 0 to 1')
        if not isinstance(seed, int) or isinstance(seed, bool):
            raise ValueError('"seed" must be an integer')
        if not isinstance(modes, list) or not modes or any(mode not in _STORM_MODES for mode in modes):
            raise ValueError(f'"modes" must be a non-empty list of {list(_STORM_MODES)}')
        if services is not None and (
            not isinstance(services, list) or not all(isinstance(service, str) for service in services)
        ):
            raise ValueError('"services" must be a list of service names (SigV4 signing names), or left out')
        self.rate, self.seed, self.modes, self.services = float(rate), seed, list(modes), services
        self.random = random.Random(seed)
        self.active = True
        self.requests = 0
        self.injected: Counter[str] = Counter()
        self.by_operation: dict[str, dict[str, Any]] = {}

    def draw(self, service: str, name: str) -> str | None:
        """The mode this request is answered by, or None to let it through."""
        if not self.active or (self.services is not None and service not in self.services):
            return None
        self.requests += 1
        entry = self.by_operation.setdefault(
            name, {"requests": 0, "injected": {mode: 0 for mode in _STORM_MODES}}
        )
        entry["requests"] += 1
        if self.random.random() >= self.rate:
            return None
        mode = self.random.choice(self.modes)
        self.injected[mode] += 1
        entry["injected"][mode] += 1
        return mode

    def report(self) -> dict[str, Any]:
        return {
            "active": self.active,
            "rate": self.rate,
            "seed": self.seed,
            "modes": self.modes,
            "services": self.services,
            "requests": self.requests,
            "injected": {mode: self.injected[mode] for mode in _STORM_MODES},
            "by_operation": json.loads(json.dumps(self.by_operation)),  # a copy, taken under the lock
        }


# --- Holds -------------------------------------------------------------------

# How long a held request waits for its release before going on as told: long
# enough for a test to kill Terraform and look, short enough that a test that
# forgets to release does not keep a server thread for ever.
_HOLD_TIMEOUT_SECONDS = 120.0


class _Hold:
    def __init__(self, given: dict[str, Any]) -> None:
        at, request_filter, release = given.get("at"), given.get("filter", _MUTATING), given.get("release")
        if not isinstance(at, int) or isinstance(at, bool) or at < 1:
            raise ValueError('"at" must be a positive integer (1: the next matching request)')
        _check_filter(request_filter, "filter")
        if release not in ("apply", "drop"):
            raise ValueError('"release" must be "apply" (go on to moto) or "drop" (reset the connection)')
        self.at, self.filter, self.release = at, request_filter, release
        self.seen = 0
        self.operation: str | None = None
        self.held = False
        self.done = False
        self.timed_out = False
        self.released = threading.Event()

    def state(self) -> dict[str, Any]:
        return {
            "armed": not self.done and not self.held,
            "held": self.held,
            "operation": self.operation,
            "seen": self.seen,
            "at": self.at,
            "filter": self.filter,
            "release": self.release,
            "timed_out": self.timed_out,
        }


# Credential lifetimes (a test facility, see the module docstring): the
# duration every sts:AssumeRole is answered with, when set.
_credential_lifetime: dict[str, int | None] = {"seconds": None}
_moto_assume_role = STSBackend.assume_role


def _backend_assume_role(self: STSBackend, *args: Any, **kwargs: Any) -> Any:
    seconds = _credential_lifetime["seconds"]
    if seconds is not None:
        kwargs["duration"] = seconds
    return _moto_assume_role(self, *args, **kwargs)


STSBackend.assume_role = _backend_assume_role  # type: ignore[method-assign]


class _Facilities:
    """WSGI middleware in front of moto's application: see the module docstring."""

    def __init__(self, app: Wsgi) -> None:
        self.app = app
        # moto's server is threaded. Never held while a request waits (holds).
        self.lock = threading.Lock()
        self.calls: Counter[str] = Counter()
        self.faults: list[dict[str, Any]] = []
        self.storm: _Storm | None = None
        self.hold: _Hold | None = None

    def __call__(self, environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        path = environ.get("PATH_INFO", "")
        if isinstance(path, bytes):
            path = path.decode("utf-8", "replace")
        if path.startswith(_PREFIX) or path == _PREFIX.rstrip("/"):
            return self.serve(environ, start_response, path[len(_PREFIX) :].strip("/"))
        if path.startswith(_NOT_COUNTED):
            return self.app(environ, start_response)
        service = _service(environ)
        name = f"{service}:{_operation(environ)}"
        storm_mode, hold = None, None
        with self.lock:
            self.calls[name] += 1
            fault = self.take_fault(name)
            if fault is None and self.storm is not None:
                storm_mode = self.storm.draw(service, name)
            if fault is None and storm_mode is None:
                hold = self.reach_hold(name)
        if fault is not None:
            return _error_response(environ, start_response, name, fault["status"], fault["code"], fault["message"])
        if storm_mode == "reset":
            return _reset_connection(environ)
        if storm_mode is not None:
            status, code, message = _STORM_ERRORS[storm_mode][_protocol(environ, name)]
            return _error_response(environ, start_response, name, status, code, message)
        if hold is not None:
            # Outside the lock: every other request goes on meanwhile.
            released = hold.released.wait(_HOLD_TIMEOUT_SECONDS)
            with self.lock:
                hold.held, hold.done, hold.timed_out = False, True, not released
            if hold.release == "drop":
                return _reset_connection(environ)
            # "apply": moto answers whoever still listens; werkzeug takes a
            # broken pipe for a client that went away.
        return self.app(environ, start_response)

    def take_fault(self, name: str) -> dict[str, Any] | None:
        """The fault that answers this request, if any (under the lock).

        Every matching fault still skipping counts the request; the earliest
        given that skips no more answers it."""
        chosen = None
        for fault in self.faults:
            if not _matches(fault["operation"], name):
                continue
            if fault["skip"] > 0:
                fault["skip"] -= 1
            elif chosen is None:
                chosen = fault
        if chosen is not None and chosen["times"] is not None:
            chosen["times"] -= 1
            if chosen["times"] == 0:
                self.faults.remove(chosen)
        return dict(chosen) if chosen is not None else None

    def reach_hold(self, name: str) -> _Hold | None:
        """The hold this request is held by, if it is the one (under the lock)."""
        hold = self.hold
        if hold is None or hold.done or hold.held or not _matches(hold.filter, name):
            return None
        hold.seen += 1
        if hold.seen < hold.at:
            return None
        hold.held, hold.operation = True, name
        return hold

    def serve(self, environ: dict[str, Any], start_response: StartResponse, route: str) -> list[bytes]:
        method = environ.get("REQUEST_METHOD", "GET")
        try:
            answer = self.route(environ, method, route)
        except ValueError as error:
            return _respond_json(start_response, 400, {"error": str(error)})
        if answer is None:
            return _respond_json(start_response, 404, {"error": f"no {method} {_PREFIX}{route}"})
        status, value = answer
        return _respond_json(start_response, status, value)

    def route(self, environ: dict[str, Any], method: str, route: str) -> tuple[int, Any] | None:
        # Bodies are read before taking the lock: a slow client must not stop the endpoint.
        posted = ("faults", "faults/storm", "holds", "sts/lifetime")
        given = _read_json(environ) if method == "POST" and route in posted else {}
        with self.lock:
            if route == "calls" and method == "GET":
                return 200, dict(sorted(self.calls.items()))
            if route == "calls/mutating" and method == "GET":
                mutating = sum(count for name, count in self.calls.items() if _is_mutating(name))
                return 200, {"mutating": mutating, "total": sum(self.calls.values())}
            if (route == "calls" and method == "DELETE") or (route == "calls/reset" and method == "POST"):
                self.calls.clear()
                return 200, {}
            if route == "faults" and method == "GET":
                return 200, [dict(fault) for fault in self.faults]
            if route == "faults" and method == "DELETE":
                self.faults.clear()
                return 200, {}
            if route == "faults" and method == "POST":
                fault = _parse_fault(given)
                self.faults.append(fault)
                return 200, dict(fault)
            if route == "faults/storm" and method == "POST":
                self.storm = _Storm(given)
                return 200, self.storm.report()
            if route == "faults/storm" and method in ("GET", "DELETE"):
                if self.storm is None:
                    return 404, {"error": "no storm was started"}
                if method == "DELETE":
                    self.storm.active = False
                return 200, self.storm.report()
            if route == "holds" and method == "GET":
                if self.hold is None:
                    return 200, {"armed": False, "held": False, "operation": None, "seen": 0}
                return 200, self.hold.state()
            if route == "holds" and method == "POST":
                if self.hold is not None and self.hold.held:
                    return 409, {"error": f"a request is held ({self.hold.operation}): release it first"}
                self.hold = _Hold(given)
                return 200, self.hold.state()
            if route == "holds/release" and method == "POST":
                hold = self.hold
                if hold is None:
                    return 200, {"released": None}
                released = hold.operation if hold.held else None
                hold.held, hold.done = False, True  # an armed hold not reached yet is disarmed
                hold.released.set()
                return 200, {"released": released}
        if route == "sts/lifetime" and method == "POST":
            seconds = given.get("seconds")
            if seconds is not None and (not isinstance(seconds, int) or seconds < 1):
                raise ValueError("seconds must be a positive whole number or null")
            _credential_lifetime["seconds"] = seconds
            return 200, dict(_credential_lifetime)
        if route == "denials" and method == "GET":
            with _denials_lock:
                return 200, list(_denials)
        if route == "denials" and method == "DELETE":
            with _denials_lock:
                _denials.clear()
            return 200, {}
        return None


_werkzeug_run_simple = moto_server.run_simple


def _run_simple(hostname: str, port: int, application: Wsgi, *args: Any, **kwargs: Any) -> None:
    _werkzeug_run_simple(hostname, port, _Facilities(application), *args, **kwargs)


if "run_simple(" not in inspect.getsource(moto_server.main):
    sys.exit(f"moto's server main no longer calls run_simple: install the test facilities of {__file__} anew")
# The `reset` mode needs werkzeug to hand the application its socket and to
# take a ConnectionError from the application for a dropped connection.
if '"werkzeug.socket"' not in inspect.getsource(WSGIRequestHandler.make_environ) or (
    "connection_dropped" not in inspect.getsource(WSGIRequestHandler.run_wsgi)
):
    sys.exit(f"werkzeug's request handler changed: check _reset_connection in {__file__}")
moto_server.run_simple = _run_simple

if __name__ == "__main__":
    moto_server_main(sys.argv[1:])
