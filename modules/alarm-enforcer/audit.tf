# The daily lock audit and the alarms that make lock trouble loud.
#
# An EventBridge schedule invokes the enforcer with a "Scheduled Event"; the handler tells it
# from SNS deliveries and compares the ledger's locks, the token gate's lock marks and IAM's
# attachments of the deny policy. It changes nothing and publishes the count as LockDrift;
# `bedrock-guard locks --audit --fix` repairs. LockIncomplete counts locks IAM could not take
# (deny policy missing, managed-policy quota reached): the gate refuses those callers, but their
# direct Bedrock calls are not denied until someone fixes IAM.

resource "aws_cloudwatch_event_rule" "audit" {
  name                = "${var.name}-lock-audit"
  description         = "Runs ${local.function_name}'s lock audit (LockDrift metric)."
  schedule_expression = var.lock_audit_schedule
  tags                = var.tags
}

resource "aws_cloudwatch_event_target" "audit" {
  rule      = aws_cloudwatch_event_rule.audit.name
  target_id = "lock-audit"
  arn       = aws_lambda_function.this.arn
}

resource "aws_lambda_permission" "audit" {
  statement_id   = "AllowLockAuditSchedule"
  action         = "lambda:InvokeFunction"
  function_name  = aws_lambda_function.this.function_name
  principal      = "events.amazonaws.com"
  source_arn     = aws_cloudwatch_event_rule.audit.arn
  source_account = local.account_id
}

# Powertools publishes the enforcer's metrics with the dimension service = service_name.
resource "aws_cloudwatch_metric_alarm" "lock_drift" {
  alarm_name          = "${var.name}-lock-drift"
  alarm_description   = "IAM's deny-policy attachments, the lock ledger or the gate's lock marks disagree for at least one principal. List them with `bedrock-guard locks --audit`; repair with --fix."
  namespace           = var.metrics_namespace
  metric_name         = "LockDrift"
  dimensions          = { service = var.service_name }
  statistic           = "Maximum"
  period              = 86400
  evaluation_periods  = 1
  threshold           = 0
  comparison_operator = "GreaterThanThreshold"
  treat_missing_data  = "missing"
  alarm_actions       = var.health_alarm_actions
  ok_actions          = var.health_alarm_actions
  tags                = var.tags
}

resource "aws_cloudwatch_metric_alarm" "lock_incomplete" {
  alarm_name          = "${var.name}-lock-incomplete"
  alarm_description   = "A lock was recorded (the token gate refuses the caller) but IAM did not take the deny policy: it is missing or the principal's managed-policy quota is full. The enforcer's log names the principal and the fix; then run `bedrock-guard locks --audit --fix`."
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
