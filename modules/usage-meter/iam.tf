# The meter's role. In IAM it has exactly the enforcer's locking permissions: look a principal up,
# attach and detach one policy (the enforcer's deny policy, by an iam:PolicyARN condition) on
# users and roles under the allowed paths, and the same explicit denies for service-linked,
# reserved and protected principals. In DynamoDB it reads the one table and writes only USAGE#
# and LOCK# items. No iam:Put*Policy, no iam:PassRole, no CloudWatch API (metrics are EMF log
# records); tests/terraform/test_meter_least_privilege.py proves it from this file.

data "aws_iam_policy_document" "assume_role" {
  statement {
    sid     = "LambdaAssumesRoleForThisAccountOnly"
    effect  = "Allow"
    actions = ["sts:AssumeRole"]

    principals {
      type        = "Service"
      identifiers = ["lambda.amazonaws.com"]
    }

    condition {
      test     = "StringEquals"
      variable = "aws:SourceAccount"
      values   = [local.account_id]
    }
  }
}

resource "aws_iam_role" "this" {
  name                 = local.function_name
  description          = "Runs ${local.function_name}: meters Bedrock invocations; attaches and detaches only the enforcer's deny policy."
  assume_role_policy   = data.aws_iam_policy_document.assume_role.json
  permissions_boundary = var.permissions_boundary
  tags                 = var.tags
}

data "aws_iam_policy_document" "meter" {
  # --- IAM: the enforcer's lock path, nothing more. ---

  statement {
    sid       = "AttachDetachDenyPolicyOnUsers"
    effect    = "Allow"
    actions   = ["iam:AttachUserPolicy", "iam:DetachUserPolicy"]
    resources = local.lockable_user_arns

    condition {
      test     = "ArnEquals"
      variable = "iam:PolicyARN"
      values   = [var.deny_policy_arn]
    }
  }

  statement {
    sid       = "AttachDetachDenyPolicyOnRoles"
    effect    = "Allow"
    actions   = ["iam:AttachRolePolicy", "iam:DetachRolePolicy"]
    resources = local.lockable_role_arns

    condition {
      test     = "ArnEquals"
      variable = "iam:PolicyARN"
      values   = [var.deny_policy_arn]
    }
  }

  # Looking a principal up is what reveals its real path (a session ARN has none), so reads
  # cover the whole account; the function then refuses paths outside the allowed ones.
  statement {
    sid       = "LookUpUsers"
    effect    = "Allow"
    actions   = ["iam:GetUser"]
    resources = ["arn:${local.partition}:iam::${local.account_id}:user/*"]
  }

  statement {
    sid       = "LookUpRoles"
    effect    = "Allow"
    actions   = ["iam:GetRole"]
    resources = ["arn:${local.partition}:iam::${local.account_id}:role/*"]
  }

  # Belt and braces behind the function's own refusals. Only attaching is denied: detaching the
  # deny policy can only give access back, and a lock must always be releasable.
  statement {
    sid       = "NeverLockServiceLinkedOrReservedRoles"
    effect    = "Deny"
    actions   = ["iam:AttachRolePolicy"]
    resources = local.never_lockable_role_arns
  }

  dynamic "statement" {
    for_each = length(local.protected_iam_arns) > 0 ? [1] : []
    content {
      sid       = "NeverLockProtectedPrincipals"
      effect    = "Deny"
      actions   = ["iam:AttachUserPolicy", "iam:AttachRolePolicy"]
      resources = local.protected_iam_arns
    }
  }

  # --- DynamoDB: the one table. ---

  # Reads: the caller registry (CALLER#), a caller's lock state and the ledger (LOCK#), month
  # items, SEEN# markers and HOLD# notes (USAGE#).
  statement {
    sid       = "ReadRegistryUsageAndLocks"
    effect    = "Allow"
    actions   = ["dynamodb:GetItem", "dynamodb:Query"]
    resources = [local.table_arn]
  }

  # The daily release lists the locks: one filtered Scan (reads only; Scan takes no
  # dynamodb:LeadingKeys condition).
  statement {
    sid       = "ListLocksForWindowRelease"
    effect    = "Allow"
    actions   = ["dynamodb:Scan"]
    resources = [local.table_arn]
  }

  # TransactWriteItems has no action of its own: each item of a transaction is authorised as its
  # PutItem, UpdateItem or DeleteItem (or ConditionCheckItem), so these two statements also
  # bound every transaction. The meter's transactions and the enforcer's lock path contain no
  # ConditionCheck element, so dynamodb:ConditionCheckItem is not granted.
  #
  # Usage items: direct usage added to the day and month counters with its SEEN# marker, HOLD#
  # notes written and deleted when a gate hold is settled, and the lock mark the lock path sets
  # on the month item. Not the registry (CALLER#): the meter cannot raise anyone's tier.
  statement {
    sid       = "WriteUsageItems"
    effect    = "Allow"
    actions   = ["dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:DeleteItem"]
    resources = [local.table_arn]

    condition {
      test     = "ForAllValues:StringLike"
      variable = "dynamodb:LeadingKeys"
      values   = local.usage_partition_patterns
    }
  }

  # The lock ledger, written through the enforcer's lock path (STATE, holders, history).
  # No DeleteItem: as for the enforcer, locks are closed by update and history is kept.
  statement {
    sid       = "WriteLockLedger"
    effect    = "Allow"
    actions   = ["dynamodb:PutItem", "dynamodb:UpdateItem"]
    resources = [local.table_arn]

    condition {
      test     = "ForAllValues:StringLike"
      variable = "dynamodb:LeadingKeys"
      values   = local.ledger_partition_patterns
    }
  }

  # --- The Lambda platform: dead-letter queue, own log group, traces. ---

  statement {
    sid       = "SendFailedEventsToDeadLetterQueue"
    effect    = "Allow"
    actions   = ["sqs:SendMessage"]
    resources = [aws_sqs_queue.dlq.arn]
  }

  # Metrics travel as EMF log records: no cloudwatch:PutMetricData.
  statement {
    sid       = "WriteOwnLogs"
    effect    = "Allow"
    actions   = ["logs:CreateLogStream", "logs:PutLogEvents"]
    resources = ["${aws_cloudwatch_log_group.this.arn}:log-stream:*"]
  }

  # X-Ray's trace APIs have no resource-level permissions: "*" is the only resource they accept.
  statement {
    sid       = "WriteTraces"
    effect    = "Allow"
    actions   = ["xray:PutTelemetryRecords", "xray:PutTraceSegments"]
    resources = ["*"]
  }

  # --- Customer managed keys, only when given. ---

  dynamic "statement" {
    for_each = var.table_kms_key_arn == null ? [] : [var.table_kms_key_arn]
    content {
      sid       = "UseTableKeyThroughDynamoDB"
      effect    = "Allow"
      actions   = ["kms:Decrypt", "kms:GenerateDataKey"]
      resources = [statement.value]

      condition {
        test     = "StringEquals"
        variable = "kms:ViaService"
        values   = ["dynamodb.${local.region}.${local.dns_suffix}"]
      }
    }
  }

  dynamic "statement" {
    for_each = var.dlq_kms_key_arn == null ? [] : [var.dlq_kms_key_arn]
    content {
      sid       = "UseDeadLetterQueueKeyThroughSqs"
      effect    = "Allow"
      actions   = ["kms:Decrypt", "kms:GenerateDataKey"]
      resources = [statement.value]

      condition {
        test     = "StringEquals"
        variable = "kms:ViaService"
        values   = ["sqs.${local.region}.${local.dns_suffix}"]
      }
    }
  }

  dynamic "statement" {
    for_each = var.environment_kms_key_arn == null ? [] : [var.environment_kms_key_arn]
    content {
      sid       = "DecryptEnvironmentVariables"
      effect    = "Allow"
      actions   = ["kms:Decrypt"]
      resources = [statement.value]
    }
  }
}

resource "aws_iam_role_policy" "this" {
  name   = "meter"
  role   = aws_iam_role.this.id
  policy = data.aws_iam_policy_document.meter.json
}
