# Who does the provider act as? Reads bokbasen_caller_identity, against AWS or
# a local emulator, directly or through an assumed role:
#
#   terraform apply
#   terraform apply -var endpoint_url=http://127.0.0.1:5000
#   terraform apply -var role_arn=arn:aws:iam::222222222222:role/OrganizationAccountAccessRole

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
  description = "AWS region."
  type        = string
  default     = "eu-north-1"
}

variable "role_arn" {
  description = "IAM role to assume, e.g. OrganizationAccountAccessRole in an environment account; null to act as the caller."
  type        = string
  default     = null
}

provider "bokbasen" {
  region       = var.region
  endpoint_url = var.endpoint_url

  # Only when a role is given; the session name defaults to bokbasen-terraform.
  dynamic "assume_role" {
    for_each = var.role_arn == null ? [] : [var.role_arn]
    content {
      role_arn = assume_role.value
    }
  }
}

data "bokbasen_caller_identity" "current" {}

output "account_id" {
  description = "The AWS account the provider acts in."
  value       = data.bokbasen_caller_identity.current.account_id
}

output "arn" {
  description = "ARN of the caller (the assumed role with role_arn)."
  value       = data.bokbasen_caller_identity.current.arn
}

output "user_id" {
  description = "Unique identifier of the caller."
  value       = data.bokbasen_caller_identity.current.user_id
}
