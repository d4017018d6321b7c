# Per-tenant token alarms on the profile's own AWS/Bedrock metrics. They notify the alarm
# enforcer's topic on ALARM (lock) and on OK (release, when the enforcer releases on OK); the
# enforcer finds whom to lock in the principal tag, because Bedrock's metrics carry no caller.

locals {
  # The AWS/Bedrock ModelId dimension value of a tenant's profile metrics. AWS samples query
  # application inference profile metrics with the profile id (the last part of the profile
  # ARN), not the ARN and not the source model id; the README says how to check in an account.
  metric_model_ids = {
    for name, profile in aws_bedrock_inference_profile.this : name => (
      var.metric_model_id_dimension == "profile_arn" ? profile.arn : profile.id
    )
  }

  # The enforcer's prefix appears once: a module name that already starts with it (the
  # environments name this module "<prefix>tenants") is not prefixed again.
  alarm_name_stem = startswith(var.name, var.alarm_name_prefix) ? var.name : "${var.alarm_name_prefix}${var.name}"

  alarm_metrics = {
    input_tokens  = "InputTokenCount"
    output_tokens = "OutputTokenCount"
  }

  # One alarm per tenant and metric with a threshold: "<tenant>/<metric key>".
  token_alarms = merge([
    for name, tenant in var.tenants : {
      for key, metric in local.alarm_metrics : "${name}/${key}" => {
        tenant             = name
        metric_name        = metric
        suffix             = replace(key, "_", "-")
        threshold          = tenant.alarms[key]
        period_seconds     = tenant.alarms.period_seconds
        evaluation_periods = tenant.alarms.evaluation_periods
      } if tenant.alarms[key] != null
    } if tenant.alarms != null
  ]...)

  # The enforcer reads the principals from this one tag, comma-separated (docs/contracts.md).
  principal_tag_values = { for name, tenant in var.tenants : name => join(",", distinct(tenant.principals)) }
}

resource "aws_cloudwatch_metric_alarm" "tokens" {
  for_each = local.token_alarms

  alarm_name        = "${local.alarm_name_stem}-${each.value.tenant}-${each.value.suffix}"
  alarm_description = "Tenant ${each.value.tenant}: ${each.value.metric_name} of profile ${aws_bedrock_inference_profile.this[each.value.tenant].name} reached ${each.value.threshold} in ${each.value.period_seconds} s. The alarm enforcer locks the principals in the ${var.principal_tag_key} tag."

  namespace   = "AWS/Bedrock"
  metric_name = each.value.metric_name
  dimensions = {
    ModelId = local.metric_model_ids[each.value.tenant]
  }
  statistic           = "Sum"
  period              = each.value.period_seconds
  evaluation_periods  = each.value.evaluation_periods
  threshold           = each.value.threshold
  comparison_operator = "GreaterThanOrEqualToThreshold"
  # No invocations means no tokens: a quiet period is under the threshold, not unknown.
  treat_missing_data = "notBreaching"

  actions_enabled = true
  alarm_actions   = [var.alarm_topic_arn]
  ok_actions      = [var.alarm_topic_arn]

  # The principal tag comes last so that module-wide tags cannot overwrite it.
  tags = merge(var.tags, local.cost_tags[each.value.tenant], {
    (var.principal_tag_key) = local.principal_tag_values[each.value.tenant]
  })

  lifecycle {
    precondition {
      condition     = var.alarm_topic_arn != null
      error_message = "Tenant ${each.value.tenant} has alarms but alarm_topic_arn is null: pass the alarm enforcer's sns_topic_arn output."
    }

    # The enforcer refuses principals of another account; say so at plan time instead.
    precondition {
      condition     = alltrue([for principal in var.tenants[each.value.tenant].principals : split(":", principal)[4] == local.account_id])
      error_message = "Tenant ${each.value.tenant}: every principal must belong to this account (${local.account_id}); the alarm enforcer never locks principals of another account."
    }
  }
}
