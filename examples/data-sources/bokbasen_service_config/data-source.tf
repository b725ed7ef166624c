# ebook-api's Test configuration, e.g. for a task definition in another module.
data "bokbasen_service_config" "ebook_api_test" {
  service     = "ebook-api"
  environment = "test"
}

output "database_url" {
  value = data.bokbasen_service_config.ebook_api_test.values["spring.datasource.url"]
}

# The keys of the secrets next to it; their values are never read.
output "secret_keys" {
  value = data.bokbasen_service_config.ebook_api_test.secret_keys
}
