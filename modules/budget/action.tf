# Optional native budget action: at a threshold Budgets itself attaches a deny policy to given
# IAM users, roles and groups. Its execution role can attach and detach that one policy on those
# principals and nothing else (the iam:PolicyARN condition), which a test proves.

locals {
  create_action = var.budget_action != null

  # policy_json: the module owns a copy, so the alarm enforcer's releases never detach it.
  create_action_policy = local.create_action && try(var.budget_action.policy_json != null, false)
  action_policy_arn = (
    local.create_action_policy ? one(aws_iam_policy.budget_action[*].arn) : try(var.budget_action.policy_arn, null)
  )

  action_budget_name = try(
    var.budget_action.budget_key == null
    ? one(aws_budgets_budget.this[*].name)
    : aws_budgets_budget.tag[var.budget_action.budget_key].name,
    null
  )

  # Budgets takes names (optionally path/name); IAM authorises on the ARN, which carries the path.
  action_principal_arns = {
    for kind, names in {
      user  = try(var.budget_action.users, [])
      role  = try(var.budget_action.roles, [])
      group = try(var.budget_action.groups, [])
      } : kind => flatten([
        for principal in names : concat(
          ["arn:${local.partition}:iam::${local.caller_account}:${kind}/${principal}"],
          strcontains(principal, "/") ? [] : ["arn:${local.partition}:iam::${local.caller_account}:${kind}/*/${principal}"],
        )
    ])
  }
  action_iam_actions = {
    user  = ["iam:AttachUserPolicy", "iam:DetachUserPolicy"]
    role  = ["iam:AttachRolePolicy", "iam:DetachRolePolicy"]
    group = ["iam:AttachGroupPolicy", "iam:DetachGroupPolicy"]
  }
}

resource "aws_iam_policy" "budget_action" {
  count = local.create_action_policy ? 1 : 0

  name        = "${var.name}-budget-action-deny"
  description = "Applied by the ${var.name} budget action when Bedrock spend crosses its threshold."
  policy      = var.budget_action.policy_json
  tags        = var.tags
}

data "aws_iam_policy_document" "budget_action_assume" {
  statement {
    sid     = "BudgetsOfThisAccountAssume"
    effect  = "Allow"
    actions = ["sts:AssumeRole"]

    principals {
      type        = "Service"
      identifiers = ["budgets.amazonaws.com"]
    }

    condition {
      test     = "StringEquals"
      variable = "aws:SourceAccount"
      values   = [local.caller_account]
    }

    condition {
      test     = "ArnLike"
      variable = "aws:SourceArn"
      values   = ["arn:${local.partition}:budgets::${local.caller_account}:budget/*"]
    }
  }
}

# Of the IAM, SCP, EC2/RDS and SSM permissions Budgets actions can use, only the IAM policy ones,
# per principal type, on the given principals, for the one policy.
data "aws_iam_policy_document" "budget_action" {
  dynamic "statement" {
    for_each = { for kind, arns in local.action_principal_arns : kind => arns if length(arns) > 0 }

    content {
      sid       = "ApplyDenyPolicyTo${title(statement.key)}s"
      effect    = "Allow"
      actions   = local.action_iam_actions[statement.key]
      resources = statement.value

      condition {
        test     = "ArnEquals"
        variable = "iam:PolicyARN"
        values   = [local.action_policy_arn]
      }
    }
  }
}

resource "aws_iam_role" "budget_action" {
  count = local.create_action ? 1 : 0

  name                 = "${var.name}-budget-action"
  description          = "Assumed by AWS Budgets to attach and detach the deny policy of the ${var.name} budget action."
  assume_role_policy   = data.aws_iam_policy_document.budget_action_assume.json
  permissions_boundary = var.permissions_boundary
  tags                 = var.tags

  lifecycle {
    precondition {
      condition     = local.account_id == local.caller_account
      error_message = "A budget action's role must be in the budget's account: with account_id set to another account, leave budget_action null."
    }
  }
}

resource "aws_iam_role_policy" "budget_action" {
  count = local.create_action ? 1 : 0

  name   = "apply-deny-policy"
  role   = aws_iam_role.budget_action[0].id
  policy = data.aws_iam_policy_document.budget_action.json
}

resource "aws_budgets_budget_action" "this" {
  count = local.create_action ? 1 : 0

  account_id         = local.account_id
  budget_name        = local.action_budget_name
  action_type        = "APPLY_IAM_POLICY"
  approval_model     = var.budget_action.approval_model
  notification_type  = var.budget_action.notification_type
  execution_role_arn = aws_iam_role.budget_action[0].arn

  action_threshold {
    action_threshold_type  = var.budget_action.threshold_type
    action_threshold_value = var.budget_action.threshold
  }

  definition {
    iam_action_definition {
      policy_arn = local.action_policy_arn
      users      = length(var.budget_action.users) > 0 ? var.budget_action.users : null
      roles      = length(var.budget_action.roles) > 0 ? var.budget_action.roles : null
      groups     = length(var.budget_action.groups) > 0 ? var.budget_action.groups : null
    }
  }

  dynamic "subscriber" {
    for_each = local.notify_topic_arns

    content {
      address           = subscriber.value
      subscription_type = "SNS"
    }
  }

  dynamic "subscriber" {
    for_each = var.subscriber_email_addresses

    content {
      address           = subscriber.value
      subscription_type = "EMAIL"
    }
  }

  tags = var.tags

  # The role must be able to act the moment Budgets first evaluates the threshold.
  depends_on = [aws_iam_role_policy.budget_action, aws_sns_topic_policy.this]

  lifecycle {
    precondition {
      condition     = local.action_budget_name != null
      error_message = "budget_action.budget_key must name a key of tag_budgets, or be null with create_service_budget = true."
    }

    precondition {
      condition     = local.has_subscriber
      error_message = "A budget action needs a subscriber: keep create_sns_topic = true, pass sns_topic_arn, or give subscriber_email_addresses."
    }
  }
}
