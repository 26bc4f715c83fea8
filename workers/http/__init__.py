"""HTTP plumbing shared by the cloud client, the model handles and the emulator: retry policy, redaction,
URL rules, JSON type names."""
