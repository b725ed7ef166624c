# Configuration is imported by `service/environment` (default prefix `/config`
# and separator `_`); every String parameter under the path is read back.
terraform import bokbasen_service_config.ebook_api_test ebook-api/test
