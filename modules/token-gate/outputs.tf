output "function_name" {
  description = "Name of the token gate Lambda function."
  value       = aws_lambda_function.this.function_name
}

output "function_arn" {
  description = "ARN of the token gate Lambda function."
  value       = aws_lambda_function.this.arn
}

output "invoke_arn" {
  description = "Invoke ARN of the function, for an API Gateway Lambda proxy integration's uri."
  value       = aws_lambda_function.this.invoke_arn
}

output "role_arn" {
  description = "ARN of the function's execution role."
  value       = aws_iam_role.this.arn
}

output "role_name" {
  description = "Name of the function's execution role."
  value       = aws_iam_role.this.name
}

output "table_name" {
  description = "Name of the DynamoDB table (caller registry, usage counters, lock ledger): pass it to the alarm enforcer as its ledger."
  value       = aws_dynamodb_table.this.name
}

output "table_arn" {
  description = "ARN of the DynamoDB table."
  value       = aws_dynamodb_table.this.arn
}

output "log_group_name" {
  description = "Name of the function's CloudWatch log group (also where its EMF metrics are written)."
  value       = aws_cloudwatch_log_group.this.name
}

output "model_aliases_json" {
  description = "MODEL_ALIASES_JSON as passed to the function: the model allowlist."
  value       = local.model_aliases_json
}

output "tier_limits_json" {
  description = "TIER_LIMITS_JSON as passed to the function: limits per tier, null meaning no limit."
  value       = local.tier_limits_json
}

output "registered_principals" {
  description = "Map of each key of callers to the canonical principal its registry item is stored under."
  value       = local.caller_canonical
}

output "alarm_arns" {
  description = "ARNs of the per-caller budget alarms, by alarm name (empty unless caller_alarms.enabled)."
  value       = { for key, alarm in aws_cloudwatch_metric_alarm.caller_budget : alarm.alarm_name => alarm.arn }
}

output "dashboard_name" {
  description = "Name of the CloudWatch dashboard, or null when dashboard.enabled is false."
  value       = one(aws_cloudwatch_dashboard.this[*].dashboard_name)
}

output "dashboard_url" {
  description = "Console URL of the dashboard, or null when it is disabled or the partition has no public console."
  value = (
    var.dashboard.enabled && contains(keys(local.console_hosts), local.partition)
    ? "https://${local.console_hosts[local.partition]}/cloudwatch/home?region=${local.region}#dashboards/dashboard/${one(aws_cloudwatch_dashboard.this[*].dashboard_name)}"
    : null
  )
}

output "pricing_json" {
  description = "PRICING_JSON as passed to the function, or null for the built-in prices: pass it to the usage meter, which prices direct calls the same way."
  value       = var.pricing_json
}
