# A Lambda function: the build writes function.zip; a deploy step in each account updates the code.
# Releases go Test -> Stage -> Production, each in its own account through the
# deploy role there, with manual approval before Stage and Production.
#
#   terraform apply
#   terraform apply -var endpoint_url=http://127.0.0.1:5000   # a local AWS emulator

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

variable "name" {
  description = "The service's name."
  type        = string
  default     = "isbn-lookup"
}

variable "branch" {
  description = "The branch whose pushes are released."
  type        = string
  default     = "main"
}

provider "bokbasen" {
  region       = "eu-north-1"
  endpoint_url = var.endpoint_url

  default_tags {
    tags = { managed-by = "terraform" }
  }
}

resource "bokbasen_service_pipeline" "service" {
  name            = var.name
  kind            = "lambda"
  artifact_bucket = "bokbasen-pipeline-artifacts"

  source {
    connection_arn = "arn:aws:codestar-connections:eu-north-1:123456789012:connection/0a1b2c3d"
    repository     = "bokbasen/${var.name}"
    branch         = var.branch
  }

  build {
    secrets = { SONAR_TOKEN = "/config/${var.name}_build/sonar-token" }
  }

  environment {
    name            = "test"
    account_id      = "222222222222"
    deploy_role_arn = "arn:aws:iam::222222222222:role/bokbasen/bokbasen-deployer-test"
    approval        = false
    migrate         = true
    smoke_test      = { runscope_trigger_parameter = "/config/${var.name}_test/runscope-trigger" }
    target          = { function = "isbn-lookup-test" }
  }

  environment {
    name            = "stage"
    account_id      = "333333333333"
    deploy_role_arn = "arn:aws:iam::333333333333:role/bokbasen/bokbasen-deployer-stage"
    approval        = true
    migrate         = true
    smoke_test      = { runscope_trigger_parameter = "/config/${var.name}_stage/runscope-trigger" }
    verification    = ["./gradlew verificationTest"]
    target          = { function = "isbn-lookup-stage" }
  }

  environment {
    name            = "production"
    account_id      = "444444444444"
    deploy_role_arn = "arn:aws:iam::444444444444:role/bokbasen/bokbasen-deployer-production"
    approval        = true
    migrate         = true
    smoke_test      = { runscope_trigger_parameter = "/config/${var.name}_production/runscope-trigger" }
    target          = { function = "isbn-lookup-production" }
  }

  approval_topic_arn = "arn:aws:sns:eu-north-1:123456789012:releases"

  flyway {
    locations = ["filesystem:db/migration"]
  }

  tags = { team = "catalogue" }
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
