# The lock ledger, created only when no table is given. In an environment the token gate's
# table is passed instead, so the gate's conditional writes see the locks the enforcer mirrors
# into each caller's month item and refuse locked callers. Same design as the gate's table: pk/sk strings, TTL
# attribute expires_at (lambda_src/bedrock_guard/core/keys.py).

resource "aws_dynamodb_table" "ledger" {
  count = local.create_ledger ? 1 : 0

  name                        = local.created_ledger
  billing_mode                = "PAY_PER_REQUEST"
  hash_key                    = "pk"
  range_key                   = "sk"
  deletion_protection_enabled = var.ledger_deletion_protection

  attribute {
    name = "pk"
    type = "S"
  }

  attribute {
    name = "sk"
    type = "S"
  }

  ttl {
    attribute_name = "expires_at"
    enabled        = true
  }

  point_in_time_recovery {
    enabled = true
  }

  server_side_encryption {
    enabled     = true
    kms_key_arn = local.kms_key_arn
  }

  tags = var.tags
}
