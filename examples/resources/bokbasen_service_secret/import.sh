# A secret is imported by `service/environment/key`; its metadata is read
# back, its value is not.
terraform import bokbasen_service_secret.ebook_api_db_password ebook-api/test/spring.datasource.password
