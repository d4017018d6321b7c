# AWS Budgets on Bedrock spend: an account-wide monthly budget on the Bedrock service names and
# any number of monthly budgets on one cost allocation tag each, all notifying a topic the
# module creates (or one passed in) and email addresses. Split by concern: sns.tf (topic, key,
# policies), action.tf (optional budget action and its role).

data "aws_partition" "current" {}

data "aws_region" "current" {}

data "aws_caller_identity" "current" {}

locals {
  partition       = data.aws_partition.current.partition
  region          = data.aws_region.current.region
  caller_account  = data.aws_caller_identity.current.account_id
  account_id      = coalesce(var.account_id, local.caller_account)
  budgets_arn_all = "arn:${local.partition}:budgets::${local.account_id}:*"

  # First-party and Marketplace-billed Bedrock spend: Budgets ORs the values of one filter.
  bedrock_service_names = distinct(concat(var.service_names, var.marketplace_service_names))

  topic_name = "${var.name}-budget-alerts"
  topic_arn  = "arn:${local.partition}:sns:${local.region}:${local.caller_account}:${local.topic_name}"
  # The topic every notification goes to: created here, passed in, or none (email only).
  notify_topic_arn  = var.create_sns_topic ? local.topic_arn : var.sns_topic_arn
  notify_topic_arns = local.notify_topic_arn == null ? [] : [local.notify_topic_arn]
  has_subscriber    = length(local.notify_topic_arns) + length(var.subscriber_email_addresses) > 0

  # Budgets' TagKeyValue filter value for a user-defined tag is "user:<key>$<value>".
  tag_budgets = {
    for key, budget in var.tag_budgets : key => merge(budget, {
      name          = "${var.name}-${key}"
      filter_value  = format("user:%s$%s", budget.tag_key, budget.tag_value)
      notifications = budget.notifications != null ? budget.notifications : var.notifications
    })
  }
}

resource "aws_budgets_budget" "this" {
  count = var.create_service_budget ? 1 : 0

  name         = "${var.name}-bedrock"
  account_id   = local.account_id
  budget_type  = "COST"
  time_unit    = "MONTHLY"
  limit_amount = tostring(var.service_budget_limit_usd)
  limit_unit   = "USD"

  cost_filter {
    name   = "Service"
    values = local.bedrock_service_names
  }

  cost_types {
    include_credit = var.include_credits
  }

  dynamic "notification" {
    for_each = var.notifications

    content {
      notification_type          = notification.value.notification_type
      threshold                  = notification.value.threshold
      threshold_type             = notification.value.threshold_type
      comparison_operator        = notification.value.comparison_operator
      subscriber_sns_topic_arns  = local.notify_topic_arns
      subscriber_email_addresses = var.subscriber_email_addresses
    }
  }

  tags = var.tags

  # Budgets checks nothing when a notification is created: the topic policy must exist first
  # or the earliest alerts are dropped.
  depends_on = [aws_sns_topic_policy.this]

  lifecycle {
    precondition {
      condition     = var.service_budget_limit_usd != null
      error_message = "Set service_budget_limit_usd (monthly USD) or set create_service_budget = false."
    }

    precondition {
      condition     = local.has_subscriber || length(var.notifications) == 0
      error_message = "Notifications need a subscriber: keep create_sns_topic = true, pass sns_topic_arn, or give subscriber_email_addresses."
    }
  }
}

resource "aws_budgets_budget" "tag" {
  for_each = local.tag_budgets

  name         = each.value.name
  account_id   = local.account_id
  budget_type  = "COST"
  time_unit    = "MONTHLY"
  limit_amount = tostring(each.value.limit_usd)
  limit_unit   = "USD"

  cost_filter {
    name   = "TagKeyValue"
    values = [each.value.filter_value]
  }

  # Filters of different names are ANDed: the tag's spend on Bedrock only.
  dynamic "cost_filter" {
    for_each = each.value.restrict_to_services ? [local.bedrock_service_names] : []

    content {
      name   = "Service"
      values = cost_filter.value
    }
  }

  cost_types {
    include_credit = var.include_credits
  }

  dynamic "notification" {
    for_each = each.value.notifications

    content {
      notification_type          = notification.value.notification_type
      threshold                  = notification.value.threshold
      threshold_type             = notification.value.threshold_type
      comparison_operator        = notification.value.comparison_operator
      subscriber_sns_topic_arns  = local.notify_topic_arns
      subscriber_email_addresses = var.subscriber_email_addresses
    }
  }

  tags = var.tags

  depends_on = [aws_sns_topic_policy.this]

  lifecycle {
    precondition {
      condition     = local.has_subscriber || length(each.value.notifications) == 0
      error_message = "Notifications need a subscriber: keep create_sns_topic = true, pass sns_topic_arn, or give subscriber_email_addresses."
    }
  }
}
