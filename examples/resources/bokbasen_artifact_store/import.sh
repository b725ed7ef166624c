# An artifact store is imported by its bucket name. Only a store bokbasen made
# (bucket and key tagged bokbasen:artifact-store, the key's alias alias/bokbasen/<bucket>)
# can be imported; the environment accounts are read back from the bucket policy.
terraform import bokbasen_artifact_store.artifacts bokbasen-pipeline-artifacts
