# One usage plan per tier (quota and per-key throttle) and one API key per user, attached to
# the plan of its tier. A key belongs to exactly one plan for this stage.

resource "aws_api_gateway_usage_plan" "this" {
  for_each = var.tiers

  name        = "${var.name}-${each.key}"
  description = coalesce(each.value.description, "${each.key} tier of ${var.name}")

  api_stages {
    api_id = aws_api_gateway_rest_api.this.id
    stage  = aws_api_gateway_stage.this.stage_name
  }

  quota_settings {
    limit  = each.value.quota.limit
    period = each.value.quota.period
    offset = each.value.quota.offset
  }

  throttle_settings {
    rate_limit  = each.value.throttle.rate_limit
    burst_limit = each.value.throttle.burst_limit
  }

  tags = merge(var.tags, { UsagePlanTier = each.key })
}

resource "aws_api_gateway_api_key" "this" {
  for_each = var.api_keys

  name        = "${var.name}-${each.key}"
  description = coalesce(each.value.description, "${each.key} (${each.value.tier} tier) of ${var.name}")
  enabled     = each.value.enabled
  customer_id = each.value.customer_id

  tags = merge(var.tags, { UsagePlanTier = each.value.tier })

  lifecycle {
    # Variable validation cannot read another variable before Terraform 1.9; this check
    # runs at plan time with the same effect.
    precondition {
      condition     = contains(keys(var.tiers), each.value.tier)
      error_message = "api_keys[\"${each.key}\"].tier is \"${each.value.tier}\", which is not a key of var.tiers (${join(", ", sort(keys(var.tiers)))}). Use one of those or add the tier."
    }
  }
}

resource "aws_api_gateway_usage_plan_key" "this" {
  for_each = var.api_keys

  key_id        = aws_api_gateway_api_key.this[each.key].id
  key_type      = "API_KEY"
  usage_plan_id = aws_api_gateway_usage_plan.this[each.value.tier].id

  lifecycle {
    precondition {
      condition     = contains(keys(var.tiers), each.value.tier)
      error_message = "api_keys[\"${each.key}\"].tier is \"${each.value.tier}\", which is not a key of var.tiers (${join(", ", sort(keys(var.tiers)))}). Use one of those or add the tier."
    }
  }
}
