# The four layers and the enforcer, wired to each other. This file is the same in every
# environment (a test keeps environments/*/main.tf identical); what differs between them lives
# in variables.tf defaults and the tfvars.
#
#   usage_plan (API keys, quotas) -> token_gate (token and dollar budgets) -> Bedrock
#   aip_tenant profiles           -> token_gate model aliases
#   token_gate caller alarms, aip_tenant token alarms -> alarm_enforcer topic -> deny policy
#   budget (Bedrock spend)        -> optional budget action applying its own copy of the deny policy
#   aip_tenant invocation log     -> usage_meter (direct callers) -> gate's table, enforcer's deny policy

data "aws_caller_identity" "current" {}

locals {
  name = "bedrock-guard-${var.environment}"

  # Every alarm that may lock someone starts with this prefix: the enforcer's topic and key
  # accept alarms of this account whose names start with it, and nothing else.
  alarm_name_prefix = "${local.name}-"

  # The principal running Terraform must never lock itself out of the next apply.
  protected_principals = distinct(concat(var.protected_principals, [data.aws_caller_identity.current.arn]))
}

module "token_gate" {
  source = "../../modules/token-gate"

  name                      = "${local.name}-gate"
  table_deletion_protection = var.table_deletion_protection
  default_tier              = var.default_tier
  callers                   = var.callers

  # API-key users of the usage plan, registered under the key ids the plan creates.
  api_key_callers = {
    for user, spec in var.api_key_users : user => {
      api_key_id  = module.usage_plan.api_key_ids[user]
      tier        = spec.tier
      tenant      = spec.tenant
      cost_center = spec.cost_center
      application = spec.application
      environment = var.environment
      alarms      = spec.alarms
    }
  }

  # Plain model ids from the tfvars, plus one alias per tenant profile.
  model_aliases = merge(var.model_aliases, module.aip_tenant.model_aliases)

  caller_alarms = {
    enabled            = var.caller_alarms_enabled
    thresholds_percent = var.caller_alarm_thresholds_percent
    sns_topic_arn      = module.alarm_enforcer.sns_topic_arn
  }

  # The dashboard shows the enforcer's lock events, each tenant profile's Bedrock metrics and,
  # where the usage meter runs, direct use and its top callers (null without the meter).
  dashboard = {
    enforcer_service_name      = module.alarm_enforcer.service_name
    enforcer_metrics_namespace = module.alarm_enforcer.metrics_namespace
    enforcer_function_name     = module.alarm_enforcer.function_name
    bedrock_model_ids          = values(module.aip_tenant.metric_model_ids)
    meter_service_name         = one(module.usage_meter[*].service_name)
    meter_metrics_namespace    = one(module.usage_meter[*].metrics_namespace)
    invocation_log_group_name  = one(module.usage_meter[*].invocation_log_group_name)
  }

  log_retention_days             = var.log_retention_days
  reserved_concurrent_executions = var.gate_reserved_concurrency
  permissions_boundary           = var.permissions_boundary
}

module "usage_plan" {
  source = "../../modules/usage-plan"

  name                           = "${local.name}-api"
  function_invoke_arn            = module.token_gate.invoke_arn
  function_name                  = module.token_gate.function_name
  iam_authorization              = var.iam_authorization
  api_keys                       = { for user, spec in var.api_key_users : user => { tier = spec.tier } }
  log_retention_days             = var.log_retention_days
  manage_account_cloudwatch_role = var.manage_api_gateway_account_role
  permissions_boundary           = var.permissions_boundary
}

module "aip_tenant" {
  source = "../../modules/aip-tenant"

  name              = "${local.name}-tenants"
  tenants           = var.tenants
  alarm_topic_arn   = module.alarm_enforcer.sns_topic_arn
  alarm_name_prefix = local.alarm_name_prefix
  principal_tag_key = module.alarm_enforcer.principal_tag_key

  budget_settings = {
    subscriber_email_addresses = var.budget_emails
  }

  invocation_logging = {
    enabled           = var.invocation_logging_enabled
    retention_in_days = var.log_retention_days
  }

  activate_cost_allocation_tags = var.activate_cost_allocation_tags
  permissions_boundary          = var.permissions_boundary
}

module "alarm_enforcer" {
  source = "../../modules/alarm-enforcer"

  name                 = "${local.name}-enforcer"
  ledger_table_name    = module.token_gate.table_name
  alarm_name_prefix    = local.alarm_name_prefix
  protected_principals = local.protected_principals
  release_on_ok        = var.release_on_ok
  dry_run              = var.enforcer_dry_run
  operator_emails      = var.operator_emails
  log_retention_days   = var.log_retention_days
  permissions_boundary = var.permissions_boundary
}

module "budget" {
  source = "../../modules/budget"

  name                       = "${local.name}-spend"
  service_budget_limit_usd   = var.monthly_budget_usd
  subscriber_email_addresses = var.budget_emails

  # The native second channel: at the threshold AWS Budgets itself attaches a deny policy to
  # the listed principals. It is the budget module's own copy of the enforcer's document, not
  # the enforcer's policy, so an alarm's OK (or the enforcer's audit) can never detach what
  # Budgets attached, and Budgets never undoes an alarm's lock.
  budget_action = var.budget_action == null ? null : {
    policy_json    = module.alarm_enforcer.deny_policy_json
    users          = var.budget_action.users
    roles          = var.budget_action.roles
    groups         = var.budget_action.groups
    threshold      = var.budget_action.threshold_percent
    approval_model = var.budget_action.approval_model
  }

  permissions_boundary = var.permissions_boundary
}

# Every Bedrock call of the account and Region, gate or direct, counted against the caller's one
# budget: the meter reads aip_tenant's invocation log and uses the gate's accounting and the
# enforcer's locking, with their values. It needs invocation logging: with logging off and the
# meter on, the plan fails and says so (the log group name is null).
module "usage_meter" {
  source = "../../modules/usage-meter"
  count  = var.usage_meter_enabled ? 1 : 0

  name                      = "${local.name}-meter"
  invocation_log_group_name = module.aip_tenant.invocation_log_group_name

  table_name         = module.token_gate.table_name
  tier_limits_json   = module.token_gate.tier_limits_json
  default_tier       = var.default_tier
  model_aliases_json = module.token_gate.model_aliases_json
  pricing_json       = module.token_gate.pricing_json
  gate_role_arn      = module.token_gate.role_arn

  deny_policy_arn         = module.alarm_enforcer.deny_policy_arn
  protected_principals    = module.alarm_enforcer.protected_principals
  allowed_principal_paths = module.alarm_enforcer.allowed_principal_paths
  dry_run                 = module.alarm_enforcer.dry_run
  health_alarm_actions    = module.alarm_enforcer.health_alarm_actions

  log_retention_days   = var.log_retention_days
  permissions_boundary = var.permissions_boundary
}
