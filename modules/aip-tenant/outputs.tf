output "profiles" {
  description = "Tenant => its application inference profile: arn, id, name, the alias the token gate knows it by, the model it copies (model_source) and the base model it is priced as (pricing_model)."
  value = {
    for name, profile in aws_bedrock_inference_profile.this : name => {
      arn           = profile.arn
      id            = profile.id
      name          = profile.name
      alias         = local.aliases[name]
      model_source  = local.copy_from[name]
      pricing_model = local.pricing_models[name]
    }
  }
}

output "profile_arns" {
  description = "Tenant => application inference profile ARN (what callers pass as modelId, and what the token gate's IAM policy must allow)."
  value       = { for name, profile in aws_bedrock_inference_profile.this : name => profile.arn }
}

output "profile_ids" {
  description = "Tenant => application inference profile id (the last part of the ARN)."
  value       = { for name, profile in aws_bedrock_inference_profile.this : name => profile.id }
}

output "model_aliases" {
  description = "Alias => {target = profile ARN, pricing_model = base model id}: merge into the token gate's model_aliases (MODEL_ALIASES_JSON)."
  value       = local.model_aliases
}

output "model_aliases_json" {
  description = "model_aliases as a JSON object string, the fragment of MODEL_ALIASES_JSON these tenants add."
  value       = jsonencode(local.model_aliases)
}

output "metric_model_ids" {
  description = "Tenant => the AWS/Bedrock ModelId dimension value the tenant's alarms watch (see metric_model_id_dimension), for dashboards."
  value       = local.metric_model_ids
}

output "alarm_arns" {
  description = "\"<tenant>/input_tokens\" or \"<tenant>/output_tokens\" => ARN of the token alarm."
  value       = { for key, alarm in aws_cloudwatch_metric_alarm.tokens : key => alarm.arn }
}

output "alarm_names" {
  description = "\"<tenant>/input_tokens\" or \"<tenant>/output_tokens\" => name of the token alarm."
  value       = { for key, alarm in aws_cloudwatch_metric_alarm.tokens : key => alarm.alarm_name }
}

output "budget_names" {
  description = "Tenant => name of its monthly AWS Budgets budget (tenants with monthly_budget_usd only)."
  value       = length(module.budget) > 0 ? module.budget[0].tag_budget_names : {}
}

output "budget_sns_topic_arn" {
  description = "Topic the tenant budgets notify (created by modules/budget or budget_settings.sns_topic_arn), or null without tenant budgets."
  value       = length(module.budget) > 0 ? module.budget[0].sns_topic_arn : null
}

output "cost_allocation_tag_keys" {
  description = "The tag keys every profile carries for cost allocation (activated here when activate_cost_allocation_tags is true)."
  value       = local.cost_tag_keys
}

output "invocation_log_group_name" {
  description = "Name of the model invocation log group, or null when invocation logging is off."
  value       = one(aws_cloudwatch_log_group.invocation_logging[*].name)
}

output "invocation_log_group_arn" {
  description = "ARN of the model invocation log group, or null when invocation logging is off."
  value       = one(aws_cloudwatch_log_group.invocation_logging[*].arn)
}

output "invocation_logging_role_arn" {
  description = "ARN of the role Bedrock assumes to write invocation logs, or null when invocation logging is off."
  value       = one(aws_iam_role.invocation_logging[*].arn)
}

output "invocation_logging_kms_key_arn" {
  description = "KMS key encrypting the invocation logs (created or passed in), or null when invocation logging is off."
  value       = local.logging_enabled ? local.logging_kms_key_arn : null
}

output "query_definition_ids" {
  description = "Saved Logs Insights query name (tokens-by-caller, tokens-by-model, top-callers-this-month) => query definition id; empty when invocation logging is off."
  value       = { for key, query in aws_cloudwatch_query_definition.invocation_logging : key => query.query_definition_id }
}
