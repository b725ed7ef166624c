# One environment's configuration of a service in SSM Parameter Store, where
# Spring reads it (`/config/<service>_<env>/<key>`), and the secrets beside
# it. Secret values never pass through Terraform: each secret is created
# empty-handed and set with `bokbasen secret set SERVICE ENV KEY`.
#
# Use it with a provider that acts in the environment's account:
#   module "config_test" {
#     source    = ".../modules/service-config"
#     providers = { bokbasen = bokbasen.test }
#     ...
#   }
terraform {
  required_version = ">= 1.0"

  required_providers {
    bokbasen = {
      source = "bokbasen/bokbasen"
    }
  }
}

variable "service" {
  description = "The service's name, as in its pipeline."
  type        = string
}

variable "environment" {
  description = "The environment (Spring profile), e.g. test."
  type        = string
}

variable "values" {
  description = "Key -> value, keys flat with dots (spring.datasource.url)."
  type        = map(string)
}

variable "secrets" {
  description = "Keys of the service's secrets in this environment; their values are set with `bokbasen secret set`."
  type        = list(string)
  default     = []
}

variable "kms_key_id" {
  description = "KMS key that encrypts the secrets."
  type        = string
  default     = "alias/aws/ssm"
}

variable "tags" {
  description = "Tags of every parameter."
  type        = map(string)
  default     = {}
}

resource "bokbasen_service_config" "this" {
  service     = var.service
  environment = var.environment
  values      = var.values
  tags        = var.tags
}

resource "bokbasen_service_secret" "this" {
  for_each = toset(var.secrets)

  service     = var.service
  environment = var.environment
  key         = each.value
  kms_key_id  = var.kms_key_id
  description = "Set with: bokbasen secret set ${var.service} ${var.environment} ${each.value}"
  tags        = var.tags
}

output "path" {
  description = "The SSM path of the configuration, e.g. /config/ebook-api_test."
  value       = bokbasen_service_config.this.path
}

output "spring_config_import" {
  description = "The line for the service's application.properties."
  value       = bokbasen_service_config.this.spring_config_import
}

output "secret_names" {
  description = "SSM parameter names of the secrets, by key."
  value       = { for key, secret in bokbasen_service_secret.this : key => secret.name }
}
