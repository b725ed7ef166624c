# A pipeline is imported by its name; the rest of the configuration is read
# back from the pipeline and its CodeBuild projects.
terraform import bokbasen_service_pipeline.ebook_api ebook-api
