# An ECS Fargate service: the build pushes an image to ECR and the ECS deploy action rolls it out.
# Releases go Test -> Stage -> Production, each in its own account through the
# deploy role there, with manual approval before Stage and Production.
#
# One apply builds the organisation's whole side of it: the artifact store
# (bucket and KMS key) in the tooling account, a deploy target in each
# environment account, and the pipeline.
#
#   terraform apply -var endpoint_url=http://127.0.0.1:5000   # a local AWS emulator
#   terraform apply                                           # AWS: the caller in the tooling account,
#                                                             # OrganizationAccountAccessRole in the others
#   terraform apply -var tooling_profile=tooling -var test_profile=test \
#     -var stage_profile=stage -var production_profile=production \
#     -var provisioner_arn=arn:aws:iam::TOOLING:role/ci-terraform -var artifact_bucket=UNIQUE-NAME \
#     -var connection_arn=arn:aws:codestar-connections:...

terraform {
  required_version = ">= 1.0"

  required_providers {
    bokbasen = {
      source = "bokbasen/bokbasen"
    }
  }
}

variable "endpoint_url" {
  description = "One endpoint URL for every AWS service, e.g. a local emulator; null for AWS itself."
  type        = string
  default     = null
}

variable "region" {
  description = "The region of the pipeline and the deploy targets."
  type        = string
  default     = "eu-north-1"
}

variable "name" {
  description = "The service's name."
  type        = string
  default     = "ebook-api"
}

variable "force_destroy" {
  description = "Let destroy delete the ECR repository while it still holds images."
  type        = bool
  default     = false
}

variable "branch" {
  description = "The branch whose pushes are released."
  type        = string
  default     = "main"
}

variable "environment_accounts" {
  description = "The Test, Stage and Production account IDs, reached through OrganizationAccountAccessRole (ignored for an environment given a profile)."
  type        = object({ test = string, stage = string, production = string })
  default     = { test = "222222222222", stage = "333333333333", production = "444444444444" }
}

variable "tooling_profile" {
  description = "AWS profile of the tooling account; null: the standard credential chain."
  type        = string
  default     = null
}

variable "test_profile" {
  description = "AWS profile of the Test account; null: OrganizationAccountAccessRole, assumed from the tooling account."
  type        = string
  default     = null
}

variable "stage_profile" {
  description = "AWS profile of the Stage account; null: OrganizationAccountAccessRole, assumed from the tooling account."
  type        = string
  default     = null
}

variable "production_profile" {
  description = "AWS profile of the Production account; null: OrganizationAccountAccessRole, assumed from the tooling account."
  type        = string
  default     = null
}

# The deploy targets trust whoever runs this to manage the environments'
# projects through their deployer roles. By default that is the caller's own
# ARN, right for an IAM user or role. A session of an assumed role (CI through
# an OIDC or SSO role, an SSO profile) has an ARN the deploy target refuses,
# `arn:aws:sts::...:assumed-role/NAME/SESSION`: set this to the role's ARN,
# `arn:aws:iam::TOOLING:role/PATH/NAME`.
variable "provisioner_arn" {
  description = "Who runs Terraform for the pipelines (an IAM user or role ARN); null: the caller."
  type        = string
  default     = null
}

variable "artifact_bucket" {
  description = "The artifact bucket (S3 names are global: choose your own in AWS)."
  type        = string
  default     = "bokbasen-pipeline-artifacts"
}

variable "connection_arn" {
  description = "The CodeStar connection to the repository host, in the tooling account; null: an example ARN there."
  type        = string
  default     = null
}

# The Test environment's migrations reach its database in private subnets.
variable "test_network" {
  description = "The VPC the Test environment's steps run in (example IDs: give your own, or null for none)."
  type        = object({ vpc_id = string, subnet_ids = list(string), security_group_ids = list(string) })
  default = {
    vpc_id             = "vpc-0a1b2c3d4e5f60718"
    subnet_ids         = ["subnet-0a1b2c3d4e5f60718", "subnet-1a2b3c4d5e6f70819"]
    security_group_ids = ["sg-0a1b2c3d4e5f60718"]
  }
}

locals {
  # What AWS Organizations makes in every member account.
  account_access_role = "OrganizationAccountAccessRole"
  tags                = { managed-by = "terraform" }
}

provider "bokbasen" {
  region       = var.region
  endpoint_url = var.endpoint_url
  profile      = var.tooling_profile

  default_tags {
    tags = local.tags
  }
}

provider "bokbasen" {
  alias        = "test"
  region       = var.region
  endpoint_url = var.endpoint_url
  profile      = var.test_profile == null ? var.tooling_profile : var.test_profile

  dynamic "assume_role" {
    for_each = var.test_profile == null ? ["arn:aws:iam::${var.environment_accounts.test}:role/${local.account_access_role}"] : []
    content {
      role_arn = assume_role.value
    }
  }

  default_tags {
    tags = local.tags
  }
}

provider "bokbasen" {
  alias        = "stage"
  region       = var.region
  endpoint_url = var.endpoint_url
  profile      = var.stage_profile == null ? var.tooling_profile : var.stage_profile

  dynamic "assume_role" {
    for_each = var.stage_profile == null ? ["arn:aws:iam::${var.environment_accounts.stage}:role/${local.account_access_role}"] : []
    content {
      role_arn = assume_role.value
    }
  }

  default_tags {
    tags = local.tags
  }
}

provider "bokbasen" {
  alias        = "production"
  region       = var.region
  endpoint_url = var.endpoint_url
  profile      = var.production_profile == null ? var.tooling_profile : var.production_profile

  dynamic "assume_role" {
    for_each = var.production_profile == null ? ["arn:aws:iam::${var.environment_accounts.production}:role/${local.account_access_role}"] : []
    content {
      role_arn = assume_role.value
    }
  }

  default_tags {
    tags = local.tags
  }
}

# Who and where each provider is: the tooling account and the caller, and
# the account each environment's provider acts in.
data "bokbasen_caller_identity" "tooling" {}

data "bokbasen_caller_identity" "test" {
  provider = bokbasen.test
}

data "bokbasen_caller_identity" "stage" {
  provider = bokbasen.stage
}

data "bokbasen_caller_identity" "production" {
  provider = bokbasen.production
}

locals {
  tooling_account = data.bokbasen_caller_identity.tooling.account_id
  provisioner_arn = coalesce(var.provisioner_arn, data.bokbasen_caller_identity.tooling.arn)
  connection_arn  = coalesce(var.connection_arn, "arn:aws:codestar-connections:${var.region}:${local.tooling_account}:connection/0a1b2c3d")
}

# The tooling account's artifact bucket and its KMS key, readable by the
# environment accounts' bokbasen roles. force_destroy: the example's destroy
# takes the artifacts with it; keep it false where artifacts matter.
resource "bokbasen_artifact_store" "artifacts" {
  bucket = var.artifact_bucket
  environment_account_ids = [
    data.bokbasen_caller_identity.test.account_id,
    data.bokbasen_caller_identity.stage.account_id,
    data.bokbasen_caller_identity.production.account_id,
  ]
  force_destroy = true
}

# A deploy target in each environment account: the deployer role the
# pipeline acts through there, trusted by the tooling account's bokbasen
# pipeline roles and by the provisioner.
resource "bokbasen_deploy_target" "test" {
  provider = bokbasen.test

  environment          = "test"
  kinds                = ["fargate"]
  pipeline_account_ids = [local.tooling_account]
  provisioner_arns     = [local.provisioner_arn]
  artifact_bucket      = bokbasen_artifact_store.artifacts.id
  artifact_key_arn     = bokbasen_artifact_store.artifacts.key_arn
}

resource "bokbasen_deploy_target" "stage" {
  provider = bokbasen.stage

  environment          = "stage"
  kinds                = ["fargate"]
  pipeline_account_ids = [local.tooling_account]
  provisioner_arns     = [local.provisioner_arn]
  artifact_bucket      = bokbasen_artifact_store.artifacts.id
  artifact_key_arn     = bokbasen_artifact_store.artifacts.key_arn
}

resource "bokbasen_deploy_target" "production" {
  provider = bokbasen.production

  environment          = "production"
  kinds                = ["fargate"]
  pipeline_account_ids = [local.tooling_account]
  provisioner_arns     = [local.provisioner_arn]
  artifact_bucket      = bokbasen_artifact_store.artifacts.id
  artifact_key_arn     = bokbasen_artifact_store.artifacts.key_arn
}

resource "bokbasen_service_pipeline" "service" {
  name             = var.name
  kind             = "fargate"
  artifact_bucket  = bokbasen_artifact_store.artifacts.id
  artifact_key_arn = bokbasen_artifact_store.artifacts.key_arn

  source {
    connection_arn = local.connection_arn
    repository     = "bokbasen/${var.name}"
    branch         = var.branch
  }

  build {
    environment = { JAVA_TOOL_OPTIONS = "-Xmx1g" }
    secrets     = { SONAR_TOKEN = "/config/${var.name}_build/sonar-token" }
    cache       = "local"
  }

  environment {
    name            = "test"
    account_id      = bokbasen_deploy_target.test.account_id
    deploy_role_arn = bokbasen_deploy_target.test.deployer_role_arn
    approval        = false
    migrate         = true
    network         = var.test_network
    smoke_test      = { runscope_trigger_parameter = "/config/${var.name}_test/runscope-trigger" }
    target          = { cluster = "test", service = "ebook-api" }
  }

  environment {
    name            = "stage"
    account_id      = bokbasen_deploy_target.stage.account_id
    deploy_role_arn = bokbasen_deploy_target.stage.deployer_role_arn
    approval        = true
    migrate         = true
    smoke_test      = { runscope_trigger_parameter = "/config/${var.name}_stage/runscope-trigger" }
    verification    = ["./gradlew verificationTest"]
    target          = { cluster = "stage", service = "ebook-api" }
  }

  environment {
    name            = "production"
    account_id      = bokbasen_deploy_target.production.account_id
    deploy_role_arn = bokbasen_deploy_target.production.deployer_role_arn
    approval        = true
    migrate         = true
    smoke_test      = { runscope_trigger_parameter = "/config/${var.name}_production/runscope-trigger" }
    target          = { cluster = "production", service = "ebook-api" }
  }

  approval_topic_arn = "arn:aws:sns:${var.region}:${local.tooling_account}:releases"

  flyway {
    locations = ["filesystem:db/migration"]
    # The migration image defaults to flyway/flyway:10 from Docker Hub, whose
    # anonymous pulls are rate-limited. Better: an ECR pull-through cache rule
    # for Docker Hub (in each environment account, or in one account with a
    # repository policy letting the others pull), named here; the migration
    # step's role pulls it.
    # image = "123456789012.dkr.ecr.eu-north-1.amazonaws.com/docker-hub/flyway/flyway:10"
  }

  force_destroy = var.force_destroy

  tags = { team = "ebooks" }
}

output "stages" {
  description = "The pipeline's stages and actions, in order."
  value       = bokbasen_service_pipeline.service.stages
}

output "codebuild_projects" {
  description = "CodeBuild projects by purpose."
  value       = bokbasen_service_pipeline.service.codebuild_projects
}

output "pipeline_version" {
  value = bokbasen_service_pipeline.service.pipeline_version
}

output "arn" {
  value = bokbasen_service_pipeline.service.arn
}

output "ecr_repository_url" {
  value = bokbasen_service_pipeline.service.ecr_repository_url
}

output "artifact_key_arn" {
  description = "The artifact store's KMS key."
  value       = bokbasen_artifact_store.artifacts.key_arn
}

output "deployer_role_arns" {
  description = "Each environment's deployer role."
  value = {
    test       = bokbasen_deploy_target.test.deployer_role_arn
    stage      = bokbasen_deploy_target.stage.deployer_role_arn
    production = bokbasen_deploy_target.production.deployer_role_arn
  }
}
