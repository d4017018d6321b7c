# The enforcer's role: it may attach and detach one policy (the deny policy) on users and roles
# under the allowed paths, and nothing else in IAM (besides reading who has that policy, for the
# daily audit). No iam:Put*Policy, no iam:PassRole, no
# policy versions, no wildcard IAM actions; tests/terraform/test_enforcer_least_privilege.py
# proves it from this file. It reads alarms to confirm every notification with CloudWatch, so
# publishing to the topic alone cannot make it lock or release anyone.

data "aws_iam_policy_document" "assume_role" {
  statement {
    sid     = "LambdaAssumesRole"
    effect  = "Allow"
    actions = ["sts:AssumeRole"]

    principals {
      type        = "Service"
      identifiers = ["lambda.amazonaws.com"]
    }
  }
}

resource "aws_iam_role" "this" {
  name                 = local.function_name
  description          = "Runs ${local.function_name}: attaches and detaches only ${local.deny_policy}."
  assume_role_policy   = data.aws_iam_policy_document.assume_role.json
  permissions_boundary = var.permissions_boundary
  tags                 = var.tags
}

data "aws_iam_policy_document" "enforcer" {
  #checkov:skip=CKV_AWS_356:Only cloudwatch:DescribeAlarms (read-only) is restrictable among the "*" statements, and it returns composite alarms only when allowed on "*"; see the statement's comment.
  statement {
    sid       = "AttachDetachDenyPolicyOnUsers"
    effect    = "Allow"
    actions   = ["iam:AttachUserPolicy", "iam:DetachUserPolicy"]
    resources = local.lockable_user_arns

    condition {
      test     = "ArnEquals"
      variable = "iam:PolicyARN"
      values   = [aws_iam_policy.deny.arn]
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
      values   = [aws_iam_policy.deny.arn]
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

  statement {
    sid       = "ReadAlarmTags"
    effect    = "Allow"
    actions   = ["cloudwatch:ListTagsForResource"]
    resources = ["${local.alarm_arn_prefix}*"]
  }

  # Each notification is checked against the alarm itself (exists, notifies this topic, is in
  # the notified state since the notified time) and principals come from its own dimensions.
  # DescribeAlarms accepts alarm ARNs as resources, but it returns composite alarms only to a
  # caller allowed it on "*" (CloudWatch API reference, DescribeAlarms), and composite alarms
  # naming principals in tags must work. The action is read-only; the function itself ignores
  # alarms outside alarm_name_prefix (ALARM_NAME_PREFIX) before describing anything.
  statement {
    sid       = "ConfirmNotificationsWithCloudWatch"
    effect    = "Allow"
    actions   = ["cloudwatch:DescribeAlarms"]
    resources = ["*"]
  }

  statement {
    sid    = "WriteLockLedger"
    effect = "Allow"
    # TransactWriteItems is authorised per item: its Puts and Updates need PutItem, UpdateItem.
    actions   = ["dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:UpdateItem"]
    resources = [local.ledger_table_arn]

    condition {
      test     = "ForAllValues:StringLike"
      variable = "dynamodb:LeadingKeys"
      values   = local.ledger_partition_patterns
    }
  }

  # Every change of a lock is written, in the same transaction, on the caller's month usage
  # items too (locked_by, the copy the token gate reads per request; core/lock_marks.py).
  # Those items are the gate's: the enforcer may only add or remove that mark and keep the
  # month's TTL, never touch the counters.
  statement {
    sid       = "WriteGateLockMarks"
    effect    = "Allow"
    actions   = ["dynamodb:UpdateItem"]
    resources = [local.ledger_table_arn]

    condition {
      test     = "ForAllValues:StringLike"
      variable = "dynamodb:LeadingKeys"
      values   = local.usage_partition_patterns
    }

    condition {
      test     = "ForAllValues:StringEquals"
      variable = "dynamodb:Attributes"
      values   = local.lock_mark_attributes
    }
  }

  # The daily lock audit (enforcer/drift.py) compares the locks, the gate's marks and IAM's
  # attachments of the deny policy: one filtered Scan (reads only; Scan takes no LeadingKeys
  # condition), and the policy's own entities. GetPolicy tells a deleted deny policy apart
  # from one attached to nobody.
  statement {
    sid       = "AuditLockLedger"
    effect    = "Allow"
    actions   = ["dynamodb:Scan"]
    resources = [local.ledger_table_arn]
  }

  statement {
    sid       = "AuditDenyPolicyAttachments"
    effect    = "Allow"
    actions   = ["iam:GetPolicy", "iam:ListEntitiesForPolicy"]
    resources = [aws_iam_policy.deny.arn]
  }

  statement {
    sid       = "SendFailedEventsToDeadLetterQueue"
    effect    = "Allow"
    actions   = ["sqs:SendMessage"]
    resources = [aws_sqs_queue.dlq.arn]
  }

  # The queue, the environment and the module's ledger table are encrypted with these keys.
  statement {
    sid       = "UseEncryptionKeys"
    effect    = "Allow"
    actions   = ["kms:Decrypt", "kms:DescribeKey", "kms:Encrypt", "kms:GenerateDataKey"]
    resources = compact([local.kms_key_arn, var.ledger_kms_key_arn])
  }

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
}

resource "aws_iam_role_policy" "this" {
  name   = "enforcer"
  role   = aws_iam_role.this.id
  policy = data.aws_iam_policy_document.enforcer.json
}
