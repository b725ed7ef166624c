# The Test account as a deploy target. The provider acts in that account by
# assuming the administrator role AWS Organizations makes in every member
# account; the roles are made in 222222222222 and nowhere else.
provider "bokbasen" {
  alias  = "test"
  region = "eu-north-1"

  assume_role {
    role_arn = "arn:aws:iam::222222222222:role/OrganizationAccountAccessRole"
  }
}

resource "bokbasen_deploy_target" "test" {
  provider = bokbasen.test

  environment = "test"
  kinds       = ["fargate", "lambda", "static_site"]

  # Only bokbasen's pipeline roles (/bokbasen/*-pipeline) in the tooling
  # account may deploy here...
  pipeline_account_ids = ["123456789012"]
  # ...and the CI role that runs Terraform for them creates their projects here.
  provisioner_arns = ["arn:aws:iam::123456789012:role/ci-terraform"]

  # The tooling account's artifact store (bokbasen_artifact_store): deploys
  # read the artifacts and decrypt them with its key.
  artifact_bucket  = "bokbasen-pipeline-artifacts"
  artifact_key_arn = "arn:aws:kms:eu-north-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab"

  # The DevOps team reads, and only reads.
  devops_read_only  = true
  devops_principals = ["arn:aws:iam::123456789012:role/devops"]

  tags = {
    environment = "test"
  }
}

# The deploy_role_arn of the test environment in bokbasen_service_pipeline.
output "deployer_role_arn" {
  value = bokbasen_deploy_target.test.deployer_role_arn
}
