output "service_budget_id" {
  description = "Id (account:name) of the account-wide Bedrock budget, or null when create_service_budget is false."
  value       = one(aws_budgets_budget.this[*].id)
}

output "service_budget_arn" {
  description = "ARN of the account-wide Bedrock budget, or null."
  value       = one(aws_budgets_budget.this[*].arn)
}

output "service_budget_name" {
  description = "Name of the account-wide Bedrock budget, or null."
  value       = one(aws_budgets_budget.this[*].name)
}

output "tag_budget_ids" {
  description = "Tag budget key => budget id (account:name)."
  value       = { for key, budget in aws_budgets_budget.tag : key => budget.id }
}

output "tag_budget_arns" {
  description = "Tag budget key => budget ARN."
  value       = { for key, budget in aws_budgets_budget.tag : key => budget.arn }
}

output "tag_budget_names" {
  description = "Tag budget key => budget name."
  value       = { for key, budget in aws_budgets_budget.tag : key => budget.name }
}

output "bedrock_service_names" {
  description = "The Cost Explorer service names the Bedrock filters match (service_names plus marketplace_service_names)."
  value       = local.bedrock_service_names
}

output "sns_topic_arn" {
  description = "ARN of the topic the notifications go to (the one created here or the one passed in), or null for email only."
  value       = local.notify_topic_arn
}

output "kms_key_arn" {
  description = "ARN of the KMS key encrypting the created topic, or null when the topic is passed in."
  value       = one(aws_kms_key.this[*].arn)
}

output "budget_action_id" {
  description = "Id of the budget action (the UUID Budgets assigns), or null when budget_action is null."
  value       = one(aws_budgets_budget_action.this[*].action_id)
}

output "budget_action_arn" {
  description = "ARN of the budget action, or null."
  value       = one(aws_budgets_budget_action.this[*].arn)
}

output "budget_action_policy_arn" {
  description = "ARN of the policy the budget action applies (budget_action.policy_arn, or the copy made from policy_json), or null."
  value       = local.action_policy_arn
}

output "budget_action_execution_role_arn" {
  description = "ARN of the role Budgets assumes to apply and reverse the action, or null."
  value       = one(aws_iam_role.budget_action[*].arn)
}
