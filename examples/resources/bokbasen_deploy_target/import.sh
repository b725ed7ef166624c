# A deploy target is imported by its environment name, through the provider
# configured on the resource (acting in its account); trust, kinds and the DevOps role are read back.
terraform import bokbasen_deploy_target.test test
