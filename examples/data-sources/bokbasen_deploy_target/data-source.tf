# Look up the deployer role of the Test account for a pipeline's test
# environment (the provider acts in that account).
data "bokbasen_deploy_target" "test" {
  provider    = bokbasen.test
  environment = "test"
}

output "test_deploy_role_arn" {
  value = data.bokbasen_deploy_target.test.deployer_role_arn
}
