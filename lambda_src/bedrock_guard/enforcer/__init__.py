"""The alarm enforcer: alarm messages, verification, the lock ledger, IAM locking."""
