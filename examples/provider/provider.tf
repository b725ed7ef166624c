# The tooling account, where the pipelines, their configuration and the
# artifact store are made: credentials come from the standard AWS chain
# (environment, profile, SSO, instance role), for an identity holding the
# policy of the permissions guide.
provider "bokbasen" {
  region = "eu-north-1"

  default_tags {
    tags = {
      managed-by = "terraform"
      team       = "books"
    }
  }

  # Against a local AWS emulator instead of AWS:
  # endpoint_url = "http://127.0.0.1:5000"
}

# The Test account, for its bokbasen_deploy_target: the provider assumes the
# administrator role AWS Organizations makes in every member account, for
# every AWS call.
provider "bokbasen" {
  alias  = "test"
  region = "eu-north-1"

  assume_role {
    role_arn     = "arn:aws:iam::222222222222:role/OrganizationAccountAccessRole"
    session_name = "bokbasen-ci"
  }
}
