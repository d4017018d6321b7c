# Optional per-tenant monthly AWS Budgets, through modules/budget: one cost budget per tenant
# with monthly_budget_usd, filtered on the tenant's applicationId tag (which the tenant's
# profile carries). Budgets sees a tag only once it is an active cost allocation tag.

locals {
  tenant_budgets = {
    for name, tenant in var.tenants : name => {
      limit_usd            = tenant.monthly_budget_usd
      tag_key              = "applicationId"
      tag_value            = tenant.application_id
      restrict_to_services = var.budget_settings.restrict_to_bedrock
      notifications        = var.budget_settings.notifications
    } if tenant.monthly_budget_usd != null
  }
}

module "budget" {
  source = "../budget"
  count  = length(local.tenant_budgets) > 0 ? 1 : 0

  # Budgets are named <name>-tenants-<tenant>; the module's account-wide Bedrock budget is
  # left to the environment's own call of modules/budget.
  name                       = "${var.name}-tenants"
  tags                       = var.tags
  create_service_budget      = false
  tag_budgets                = local.tenant_budgets
  create_sns_topic           = var.budget_settings.sns_topic_arn == null
  sns_topic_arn              = var.budget_settings.sns_topic_arn
  subscriber_email_addresses = var.budget_settings.subscriber_email_addresses
}
