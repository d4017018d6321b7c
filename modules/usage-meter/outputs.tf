output "function_name" {
  description = "Name of the usage meter function."
  value       = aws_lambda_function.this.function_name
}

output "function_arn" {
  description = "ARN of the usage meter function (the subscription filter's destination)."
  value       = aws_lambda_function.this.arn
}

output "role_arn" {
  description = "ARN of the meter's role."
  value       = aws_iam_role.this.arn
}

output "role_name" {
  description = "Name of the meter's role."
  value       = aws_iam_role.this.name
}

output "log_group_name" {
  description = "Log group of the meter function (also where its EMF metrics are written)."
  value       = aws_cloudwatch_log_group.this.name
}

output "dlq_arn" {
  description = "ARN of the dead-letter queue holding subscription and schedule events the meter could not handle."
  value       = aws_sqs_queue.dlq.arn
}

output "dlq_url" {
  description = "URL of the dead-letter queue."
  value       = aws_sqs_queue.dlq.id
}

output "subscription_filter_name" {
  description = "Name of the subscription filter on the model invocation log group."
  value       = aws_cloudwatch_log_subscription_filter.this.name
}

output "filter_pattern" {
  description = "The subscription filter's pattern: only model invocation records reach the function."
  value       = aws_cloudwatch_log_subscription_filter.this.filter_pattern
}

output "release_rule_arn" {
  description = "ARN of the EventBridge rule that runs the release of locks whose window has ended."
  value       = aws_cloudwatch_event_rule.release.arn
}

output "service_name" {
  description = "Powertools service name of the meter's metrics and logs."
  value       = var.service_name
}

output "metrics_namespace" {
  description = "Namespace of the meter's EMF metrics."
  value       = var.metrics_namespace
}

output "invocation_log_group_name" {
  description = "The model invocation log group the meter is subscribed to (for the token gate's dashboard.invocation_log_group_name)."
  value       = aws_cloudwatch_log_subscription_filter.this.log_group_name
}

output "lock_incomplete_alarm_arn" {
  description = "ARN of the alarm on the meter's LockIncomplete: a window lock IAM did not take (deny policy missing, or policy quota full)."
  value       = aws_cloudwatch_metric_alarm.lock_incomplete.arn
}
