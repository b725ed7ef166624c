# An artifact store is imported by its bucket name: a bucket encrypted with a
# live KMS key (SSE-KMS), unmarked or marked bokbasen:owner =
# bokbasen_artifact_store/<bucket>; another resource's is refused. The next
# apply marks it and names its key alias/bokbasen/<bucket>; the environment
# accounts are read back from the bucket policy.
terraform import bokbasen_artifact_store.artifacts bokbasen-pipeline-artifacts
