output "invoke_url" {
  description = "URL clients POST to: https://<api id>.execute-api.<region>.amazonaws.com/<stage>/invoke."
  value       = "${aws_api_gateway_stage.this.invoke_url}/invoke"
}

output "rest_api_id" {
  description = "Id of the REST API."
  value       = aws_api_gateway_rest_api.this.id
}

output "execution_arn" {
  description = "Execution ARN of the REST API (prefix of the ARNs IAM policies grant execute-api:Invoke on)."
  value       = aws_api_gateway_rest_api.this.execution_arn
}

output "invoke_execution_arn" {
  description = "Execution ARN of POST /invoke on this stage: the Resource to grant execute-api:Invoke on for IAM callers."
  value       = "${aws_api_gateway_rest_api.this.execution_arn}/${aws_api_gateway_stage.this.stage_name}/POST/invoke"
}

output "stage_name" {
  description = "Name of the stage."
  value       = aws_api_gateway_stage.this.stage_name
}

output "stage_arn" {
  description = "ARN of the stage (for a WAF web ACL association, for example)."
  value       = aws_api_gateway_stage.this.arn
}

output "usage_plan_ids" {
  description = "Usage plan id by tier name."
  value       = { for tier, plan in aws_api_gateway_usage_plan.this : tier => plan.id }
}

output "api_key_ids" {
  description = "API key id by user. The token gate sees API-key callers as apikey:<id>; register them under those principals."
  value       = { for user, key in aws_api_gateway_api_key.this : user => key.id }
}

output "api_key_principals" {
  description = "Token gate principal by user (apikey:<api key id>), ready for the gate's callers map."
  value       = { for user, key in aws_api_gateway_api_key.this : user => "apikey:${key.id}" }
}

output "api_key_values" {
  description = "API key value by user (secret: hand each to its user over a secure channel)."
  value       = { for user, key in aws_api_gateway_api_key.this : user => key.value }
  sensitive   = true
}

output "access_log_group_name" {
  description = "Name of the access log group (one JSON line per request)."
  value       = aws_cloudwatch_log_group.access.name
}

output "execution_log_group_name" {
  description = "Name of the execution log group, or null when execution logging is OFF."
  value       = one(aws_cloudwatch_log_group.execution[*].name)
}

output "account_cloudwatch_role_arn" {
  description = "ARN of the account-level API Gateway CloudWatch role, or null when manage_account_cloudwatch_role is false."
  value       = one(aws_iam_role.apigateway_cloudwatch[*].arn)
}
