"""HTTP plumbing shared by the cloud client, the model handles and the emulator: bounded exchanges,
retry policy, redaction and escaping, URL rules, JSON type names."""
