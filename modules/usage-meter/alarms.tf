# The meter locks through the enforcer's lock code, which counts LockIncomplete when IAM does not
# take the deny policy (deny policy missing, managed-policy quota full): the gate refuses that
# caller, but its direct Bedrock calls are not denied until someone fixes IAM. Powertools
# publishes the count under this function's service name, which the enforcer's own alarm does
# not watch, so the meter has the same alarm for its service.
#
# The name starts like every other "${var.name}-" resource, so it may carry the environments'
# alarm_name_prefix; it still never drives a lock: it notifies health_alarm_actions (never the
# enforcer's topic) and names no principal (no principal dimension or tag).
resource "aws_cloudwatch_metric_alarm" "lock_incomplete" {
  alarm_name          = "${var.name}-lock-incomplete"
  alarm_description   = "The usage meter recorded a window lock (the token gate refuses the caller) but IAM did not take the deny policy: it is missing or the principal's managed-policy quota is full. The meter's log names the principal and the fix; then run `bedrock-guard locks --audit --fix`."
  namespace           = var.metrics_namespace
  metric_name         = "LockIncomplete"
  dimensions          = { service = var.service_name }
  statistic           = "Sum"
  period              = 300
  evaluation_periods  = 1
  threshold           = 0
  comparison_operator = "GreaterThanThreshold"
  treat_missing_data  = "notBreaching"
  alarm_actions       = var.health_alarm_actions
  ok_actions          = var.health_alarm_actions
  tags                = var.tags
}
