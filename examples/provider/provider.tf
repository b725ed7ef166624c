# Deploy into the Test account: credentials come from the standard AWS chain
# (environment, profile, SSO, instance role) and the provider assumes the
# deploy role there for every AWS call.
provider "bokbasen" {
  region = "eu-north-1"

  assume_role {
    role_arn     = "arn:aws:iam::222222222222:role/bokbasen-deploy"
    session_name = "bokbasen-ci"
  }

  default_tags {
    tags = {
      managed-by = "terraform"
      team       = "books"
    }
  }

  # Against a local AWS emulator instead of AWS:
  # endpoint_url = "http://127.0.0.1:5000"
}
