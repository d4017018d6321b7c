output "sns_topic_arn" {
  description = "ARN of the topic CloudWatch alarms should notify (alarm_actions, and ok_actions for release on OK)."
  value       = aws_sns_topic.this.arn
}

output "sns_topic_name" {
  description = "Name of the alarm topic."
  value       = aws_sns_topic.this.name
}

output "deny_policy_arn" {
  description = "ARN of the managed policy that denies Bedrock inference. Only the enforcer attaches it (its audit detaches any attachment the ledger does not hold): give an AWS Budgets action a policy of its own, from deny_policy_json."
  value       = aws_iam_policy.deny.arn
}

output "deny_policy_name" {
  description = "Name of the deny policy."
  value       = aws_iam_policy.deny.name
}

output "deny_policy_id" {
  description = "Stable policy id of the deny policy (IAM's PolicyId)."
  value       = aws_iam_policy.deny.policy_id
}

output "deny_policy_json" {
  description = "The deny policy document, for a caller that needs its own copy: an AWS Budgets action must get its own policy from it, so that the enforcer never detaches what Budgets attached."
  value       = data.aws_iam_policy_document.deny.json
}

output "function_name" {
  description = "Name of the enforcer function."
  value       = aws_lambda_function.this.function_name
}

output "function_arn" {
  description = "ARN of the enforcer function."
  value       = aws_lambda_function.this.arn
}

output "role_arn" {
  description = "ARN of the enforcer's role."
  value       = aws_iam_role.this.arn
}

output "role_name" {
  description = "Name of the enforcer's role."
  value       = aws_iam_role.this.name
}

output "log_group_name" {
  description = "Log group of the enforcer function."
  value       = aws_cloudwatch_log_group.this.name
}

output "dlq_arn" {
  description = "ARN of the dead-letter queue holding alarm events the enforcer could not handle."
  value       = aws_sqs_queue.dlq.arn
}

output "dlq_url" {
  description = "URL of the dead-letter queue."
  value       = aws_sqs_queue.dlq.id
}

output "ledger_table_name" {
  description = "Name of the lock ledger table (the given one, or the one the module created)."
  value       = local.ledger_table_name
}

output "ledger_table_arn" {
  description = "ARN of the lock ledger table."
  value       = local.ledger_table_arn
}

output "kms_key_arn" {
  description = "ARN of the KMS key encrypting the topic, queue, logs, environment and created ledger."
  value       = local.kms_key_arn
}

output "kms_key_policy_json" {
  description = "Key policy the module gives its own key; a key passed as kms_key_arn needs the same service statements."
  value       = data.aws_iam_policy_document.kms.json
}

output "principal_tag_key" {
  description = "Alarm tag key whose value lists the principals to lock (comma-separated ARNs), for alarms without a principal dimension: pass it to aip-tenant."
  value       = var.principal_tag_key
}

output "service_name" {
  description = "Powertools service name of the enforcer's metrics and logs: pass it to the token gate's dashboard."
  value       = var.service_name
}

output "metrics_namespace" {
  description = "Namespace of the enforcer's metrics: pass it to the token gate's dashboard."
  value       = var.metrics_namespace
}

output "lock_audit_rule_arn" {
  description = "ARN of the EventBridge rule that runs the lock audit on lock_audit_schedule."
  value       = aws_cloudwatch_event_rule.audit.arn
}

output "lock_drift_alarm_arn" {
  description = "ARN of the alarm on LockDrift: deny-policy attachments, locks and gate lock marks disagree."
  value       = aws_cloudwatch_metric_alarm.lock_drift.arn
}

output "lock_incomplete_alarm_arn" {
  description = "ARN of the alarm on LockIncomplete: a recorded lock IAM did not take (deny policy missing, or policy quota full)."
  value       = aws_cloudwatch_metric_alarm.lock_incomplete.arn
}

output "health_alarm_actions" {
  description = "health_alarm_actions as given: pass it to the usage meter, whose LockIncomplete alarm needs the same people."
  value       = var.health_alarm_actions
}

output "protected_principals" {
  description = "protected_principals as given: pass it to the usage meter, which locks through the same path."
  value       = var.protected_principals
}

output "allowed_principal_paths" {
  description = "allowed_principal_paths as given: pass it to the usage meter, which locks through the same path."
  value       = var.allowed_principal_paths
}

output "dry_run" {
  description = "dry_run as given: pass it to the usage meter, so that both lock or neither does."
  value       = var.dry_run
}
