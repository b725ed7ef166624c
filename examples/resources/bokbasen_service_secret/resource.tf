# The database password of ebook-api in Test, next to its configuration:
# /config/ebook-api_test/spring.datasource.password, a SecureString.
# Terraform manages that it exists; its value never enters plan or state.
resource "bokbasen_service_secret" "ebook_api_db_password" {
  service     = "ebook-api"
  environment = "test"
  key         = "spring.datasource.password"
  description = "Password of the ebook_api database user"

  tags = {
    team = "ebooks"
  }
}

# Set or rotate the value without Terraform (read from stdin, never an argument):
#   printf %s "$PASSWORD" | bokbasen secret set ebook-api test spring.datasource.password
#
# Or, on Terraform 1.11 and later, from an ephemeral variable through the
# write-only argument (bump value_wo_version to write a new value):
#
#   variable "runscope_trigger" {
#     type      = string
#     ephemeral = true
#   }
#
#   resource "bokbasen_service_secret" "runscope_trigger" {
#     service          = "ebook-api"
#     environment      = "test"
#     key              = "runscope-trigger"
#     value_wo         = var.runscope_trigger
#     value_wo_version = 1
#   }

output "secret_parameter" {
  value = bokbasen_service_secret.ebook_api_db_password.name
}
