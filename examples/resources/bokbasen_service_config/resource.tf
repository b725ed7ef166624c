# The Test configuration of ebook-api, where Spring reads it without settings:
# /config/ebook-api_test/spring.datasource.url, /config/ebook-api_test/catalogue.page-size, ...
resource "bokbasen_service_config" "ebook_api_test" {
  service     = "ebook-api"
  environment = "test"

  values = {
    "spring.datasource.url"      = "jdbc:postgresql://ebooks.test.internal:5432/ebooks"
    "spring.datasource.username" = "ebook_api"
    "catalogue.page-size"        = "50"
    "feature/new-checkout"       = "true"
  }

  tags = {
    team = "ebooks"
  }
}

# The line for the service's application.properties:
#   spring.config.import=aws-parameterstore:/config/ebook-api_test/
output "spring_config_import" {
  value = bokbasen_service_config.ebook_api_test.spring_config_import
}
