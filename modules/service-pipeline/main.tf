# One service's release pipeline from its spec: the `service.yml` that
# `bokbasen new` writes and `bokbasen graph` draws. The spec's fields are
# bokbasen_service_pipeline's arguments, one for one, so the picture and the
# pipeline come from the same document.
terraform {
  required_version = ">= 1.0"

  required_providers {
    bokbasen = {
      source = "bokbasen/bokbasen"
    }
  }
}

variable "spec" {
  description = "The service's pipeline spec, e.g. yamldecode(file(\"service.yml\")). Every field is required; `bokbasen graph` checks the same document."
  type        = any
}

resource "bokbasen_service_pipeline" "this" {
  name            = var.spec.name
  kind            = var.spec.kind
  artifact_bucket = var.spec.artifact_bucket

  # Absent from a service.yml written before the key existed.
  artifact_key_arn = try(var.spec.artifact_key_arn, null)

  source {
    connection_arn = var.spec.source.connection_arn
    repository     = var.spec.source.repository
    branch         = var.spec.source.branch
  }

  build {
    image        = var.spec.build.image
    compute_type = var.spec.build.compute_type
    buildspec    = var.spec.build.buildspec
    environment  = var.spec.build.environment
    secrets      = var.spec.build.secrets
    cache        = var.spec.build.cache
  }

  dynamic "environment" {
    for_each = var.spec.environments

    content {
      name            = environment.value.name
      account_id      = environment.value.account_id
      deploy_role_arn = environment.value.deploy_role_arn
      approval        = environment.value.approval
      migrate         = environment.value.migrate
      smoke_test      = environment.value.smoke_test
      verification    = environment.value.verification
      target          = environment.value.target
    }
  }

  approval_topic_arn = var.spec.approval_topic_arn

  dynamic "flyway" {
    for_each = var.spec.flyway == null ? [] : [var.spec.flyway]

    content {
      locations = flyway.value.locations
      image     = try(flyway.value.image, null)
    }
  }

  tags = var.spec.tags
}

output "arn" {
  description = "ARN of the CodePipeline pipeline."
  value       = bokbasen_service_pipeline.this.arn
}

output "stages" {
  description = "The pipeline's stages and their actions, in order."
  value       = bokbasen_service_pipeline.this.stages
}

output "codebuild_projects" {
  description = "CodeBuild project names by purpose."
  value       = bokbasen_service_pipeline.this.codebuild_projects
}

output "ecr_repository_url" {
  description = "The service's ECR repository (container kinds); empty otherwise."
  value       = bokbasen_service_pipeline.this.ecr_repository_url
}

output "role_arns" {
  description = "The IAM roles the pipeline acts through."
  value       = bokbasen_service_pipeline.this.role_arns
}
