# One table for the caller registry, the usage counters and the lock ledger; key layout in
# lambda_src/bedrock_guard/core/keys.py. Counters are keyed by period, so no reset job exists: old
# months age out through the TTL attribute.
resource "aws_dynamodb_table" "this" {
  name                        = local.table_name
  billing_mode                = "PAY_PER_REQUEST"
  hash_key                    = "pk"
  range_key                   = "sk"
  deletion_protection_enabled = var.table_deletion_protection

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

  # KMS encryption with the AWS managed key (alias/aws/dynamodb), or the customer managed key
  # given in table_kms_key_arn: its key policy is the key owner's to write.
  server_side_encryption {
    enabled     = true
    kms_key_arn = var.table_kms_key_arn
  }

  tags = var.tags
}

# Registry items: CALLER#<principal> / PROFILE. Terraform owns these items; edits made elsewhere
# are reverted on the next apply.
locals {
  # Every attribute but pk, the same for both kinds of caller: exactly the attribute names of
  # keys.PROFILE_ATTRIBUTES, environment only when set. Keyed like the resource of that kind.
  caller_profiles = {
    for kind, callers in { caller = local.registered_callers, api_key_caller = var.api_key_callers } : kind => {
      for key, caller in callers : key => merge(
        {
          sk          = { S = "PROFILE" }
          tier        = { S = caller.tier }
          tenant      = { S = caller.tenant }
          cost_center = { S = caller.cost_center }
          application = { S = caller.application }
        },
        { for name, value in { environment = caller.environment } : name => { S = value } if value != null },
      )
    }
  }
}

# IAM callers, keyed by canonical principal.
resource "aws_dynamodb_table_item" "caller" {
  for_each = local.registered_callers

  table_name = aws_dynamodb_table.this.name
  hash_key   = aws_dynamodb_table.this.hash_key
  range_key  = aws_dynamodb_table.this.range_key

  item = jsonencode(merge(
    { pk = { S = "CALLER#${each.key}" } },
    local.caller_profiles.caller[each.key],
  ))

  lifecycle {
    precondition {
      condition     = length(each.value.source_keys) == 1
      error_message = "The callers ${join(" and ", each.value.source_keys)} are the same principal (${each.key}): register it once."
    }

    precondition {
      condition     = contains(keys(var.tiers), each.value.tier)
      error_message = "Caller ${each.key} has tier \"${each.value.tier}\", which is not one of the tiers (${join(", ", keys(var.tiers))}): add the tier or fix the caller."
    }
  }
}

# API-key callers, keyed by name because their key ids are only known after apply.
resource "aws_dynamodb_table_item" "api_key_caller" {
  for_each = var.api_key_callers

  table_name = aws_dynamodb_table.this.name
  hash_key   = aws_dynamodb_table.this.hash_key
  range_key  = aws_dynamodb_table.this.range_key

  item = jsonencode(merge(
    { pk = { S = "CALLER#apikey:${each.value.api_key_id}" } },
    local.caller_profiles.api_key_caller[each.key],
  ))

  lifecycle {
    precondition {
      condition     = contains(keys(var.tiers), each.value.tier)
      error_message = "API-key caller ${each.key} has tier \"${each.value.tier}\", which is not one of the tiers (${join(", ", keys(var.tiers))}): add the tier or fix the caller."
    }
    precondition {
      condition     = can(regex("^[A-Za-z0-9]{1,128}$", each.value.api_key_id))
      error_message = "API-key caller ${each.key} has api_key_id \"${each.value.api_key_id}\": an API Gateway key id is 1-128 letters and digits."
    }
  }
}
