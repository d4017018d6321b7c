locals {
  # Alarm subjects keyed by something known at plan time: the canonical principal of an IAM
  # caller, or the name of an API-key caller (whose key id is only known after apply).
  alarm_subjects = merge(
    {
      for principal, caller in local.registered_callers : principal => {
        principal = principal
        tier      = caller.tier
        # arn:aws:iam::123456789012:role/App -> 123456789012-role-App, apikey:abc -> apikey-abc:
        # account, kind and name together are unique, so alarm names cannot collide.
        label = replace(replace(principal, "/^arn:[^:]+:iam::/", ""), "/[:/]/", "-")
      } if var.caller_alarms.enabled && caller.alarms
    },
    {
      for name, caller in var.api_key_callers : "apikey-name:${name}" => {
        principal = "apikey:${caller.api_key_id}"
        tier      = caller.tier
        label     = "apikey-${name}"
      } if var.caller_alarms.enabled && caller.alarms
    },
  )

  caller_alarm_specs = {
    for pair in setproduct(keys(local.alarm_subjects), var.caller_alarms.thresholds_percent) :
    "${pair[0]}@${pair[1]}" => merge(local.alarm_subjects[pair[0]], { threshold = pair[1] })
  }
}

# One alarm per registered caller and threshold, on the gate's per-caller metric: the highest
# used/limit percentage over the caller's limited windows, published after every request.
resource "aws_cloudwatch_metric_alarm" "caller_budget" {
  for_each = local.caller_alarm_specs

  alarm_name        = "${var.name}-budget-${each.value.threshold}pct-${each.value.label}"
  alarm_description = "Caller ${each.value.principal} (tier ${each.value.tier}) has used at least ${each.value.threshold}% of a token-gate budget window."

  namespace   = var.metrics_namespace
  metric_name = "CallerBudgetUsedPercent"
  dimensions = {
    Principal = each.value.principal
  }
  statistic           = "Maximum"
  comparison_operator = "GreaterThanOrEqualToThreshold"
  threshold           = each.value.threshold
  period              = var.caller_alarms.period_seconds
  evaluation_periods  = var.caller_alarms.evaluation_periods

  # The gate publishes the metric only when the caller makes a request, so a quiet period means
  # no new spend, not an unknown state. notBreaching keeps idle callers out of ALARM (breaching
  # would lock them) and out of INSUFFICIENT_DATA (missing), and lets the alarm return to OK
  # once the caller goes quiet. Use "ignore" to hold the last state until the next request.
  treat_missing_data = var.caller_alarms.treat_missing_data

  alarm_actions = [var.caller_alarms.sns_topic_arn]
  ok_actions    = [var.caller_alarms.sns_topic_arn]

  lifecycle {
    # An alarm on a metric nobody publishes stays OK forever: a lockout that silently never fires.
    precondition {
      condition     = local.caller_metrics_enabled
      error_message = "caller_alarms.enabled needs the per-caller metric: leave caller_metrics_enabled null or set it to true."
    }
  }

  tags = var.tags
}
