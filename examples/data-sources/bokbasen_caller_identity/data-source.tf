# The account, ARN and user ID the provider acts as; with assume_role in the
# provider block, the assumed role in the target account.
data "bokbasen_caller_identity" "current" {}

output "deploy_account_id" {
  value = data.bokbasen_caller_identity.current.account_id
}
