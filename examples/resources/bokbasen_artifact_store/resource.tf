# The tooling account's artifact store: the bucket the pipelines keep their
# artifacts in and the KMS key they encrypt them with, readable by the
# bokbasen roles of the environment accounts.
provider "bokbasen" {
  region = "eu-north-1"
}

resource "bokbasen_artifact_store" "artifacts" {
  bucket = "bokbasen-pipeline-artifacts"

  # Test and Stage; Production is added when it gets its first pipeline.
  environment_account_ids = ["222222222222", "333333333333"]

  tags = {
    team = "platform"
  }
}

# The artifact_key_arn of every bokbasen_service_pipeline.
output "artifact_key_arn" {
  value = bokbasen_artifact_store.artifacts.key_arn
}
