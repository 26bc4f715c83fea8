"""HTTP plumbing shared by the cloud client and the model handles: retry policy and redaction."""
