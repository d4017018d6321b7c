output "invoke_url" {
  description = "POST here with an x-api-key header (and SigV4 when iam_authorization is on)."
  value       = module.usage_plan.invoke_url
}

output "api_key_ids" {
  description = "API key id per api_key_users entry (the values: terraform output -json api_key_values)."
  value       = module.usage_plan.api_key_ids
}

output "api_key_values" {
  description = "API key values per user, for handing out."
  value       = module.usage_plan.api_key_values
  sensitive   = true
}

output "table_name" {
  description = "Usage, registry and lock ledger table (bedrock-guard --table-name)."
  value       = module.token_gate.table_name
}

output "gate_function_name" {
  description = "The token gate Lambda."
  value       = module.token_gate.function_name
}

output "model_aliases_json" {
  description = "The gate's model allowlist, tenant profiles included."
  value       = module.token_gate.model_aliases_json
}

output "enforcer_topic_arn" {
  description = "Topic that lockout alarms notify; point your own alarms here to have them lock principals."
  value       = module.alarm_enforcer.sns_topic_arn
}

output "deny_policy_arn" {
  description = "The managed policy the enforcer (and the budget action) attaches to lock a principal."
  value       = module.alarm_enforcer.deny_policy_arn
}

output "enforcer_function_name" {
  description = "The alarm enforcer Lambda."
  value       = module.alarm_enforcer.function_name
}

output "enforcer_dlq_url" {
  description = "Dead-letter queue of alarm messages the enforcer could not process."
  value       = module.alarm_enforcer.dlq_url
}

output "tenant_profile_arns" {
  description = "Application inference profile ARN per tenant."
  value       = module.aip_tenant.profile_arns
}

output "budget_topic_arn" {
  description = "Topic the Bedrock spend budget notifies."
  value       = module.budget.sns_topic_arn
}

output "tier_limits_json" {
  description = "Limits per tier as the gate reads them (bedrock-guard usage)."
  value       = module.token_gate.tier_limits_json
}

output "default_tier" {
  description = "Tier of unregistered callers, or none (bedrock-guard usage)."
  value       = var.default_tier
}

output "bedrock_service_names" {
  description = "Cost Explorer service names of Bedrock spend (bedrock-guard report)."
  value       = module.budget.bedrock_service_names
}

output "dashboard_url" {
  description = "The gate's CloudWatch dashboard."
  value       = module.token_gate.dashboard_url
}

output "usage_meter_function_name" {
  description = "The usage meter Lambda, or null when usage_meter_enabled is false."
  value       = one(module.usage_meter[*].function_name)
}
