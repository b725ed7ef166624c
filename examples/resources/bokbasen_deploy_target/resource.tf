# The Test account as a deploy target. The provider acts in that account by
# assuming a role there; the roles are made in 222222222222 and nowhere else.
provider "bokbasen" {
  alias  = "test"
  region = "eu-north-1"

  assume_role {
    role_arn = "arn:aws:iam::222222222222:role/bokbasen-bootstrap"
  }
}

resource "bokbasen_deploy_target" "test" {
  provider = bokbasen.test

  environment = "test"
  kinds       = ["fargate", "lambda", "static_site"]

  # Only these pipelines may deploy here...
  pipeline_role_arns = [
    "arn:aws:iam::123456789012:role/bokbasen/ebook-api-pipeline",
    "arn:aws:iam::123456789012:role/bokbasen/isbn-lookup-pipeline",
  ]
  # ...and the CI role that runs Terraform for them creates their projects here.
  provisioner_arns = ["arn:aws:iam::123456789012:role/ci-terraform"]
  artifact_bucket  = "bokbasen-pipeline-artifacts"

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
